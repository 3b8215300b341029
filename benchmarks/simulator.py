"""How fast ``wsone serve`` answers createPerson, against a fixed-body aiohttp server.

Run: ``python benchmarks/simulator.py``.

Two servers run in their own processes: the simulator (``python -m
wsone_async.testing._serve``, the same code as ``wsone serve``) and ``_answer_server.py``, a
bare aiohttp server answering every POST with the vendor's createPerson answer (what no
server can beat: no parsing, no state). One load generator in this process posts the same
createPerson bodies to both (each body a new person, so the simulator does its whole work:
a duplicate would be refused early), with a bare ``aiohttp.ClientSession`` at concurrency
64. Rounds are paired in ABBA order (each side goes first in turn), so the drift of a
shared machine hits both sides of a pair alike; the script prints the median of the pairs'
ratios and their spread (lowest and highest), for throughput and for the server process's
CPU time per request (read from ``/proc``, Linux only; less sensitive to other load).

Target (issue 14): the simulator >= 0.8x the fixed-body server's throughput.
"""

from __future__ import annotations

import asyncio
import os
import pathlib
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator

import aiohttp
import orjson

HERE = pathlib.Path(__file__).resolve().parent
EXAMPLE = orjson.loads((HERE.parent / "tests" / "data" / "createPerson_request.json").read_bytes())
PATH = "/rest/2.0/personWebService/createPerson"
USER = PASSWORD = "bench"
ROUNDS = 10
REQUESTS = 3000
CONCURRENCY = 64
WARMUP = 1000


def _bodies() -> Iterator[bytes]:
    """createPerson bodies, each for a new person (a new web-account email)."""
    number = 0
    while True:
        number += 1
        body = dict(EXAMPLE)
        body["NewIdentifierRequest"] = {
            "identifierType": 10,
            "identifierValue": f"bench{number:08d}@example.fr",
        }
        yield orjson.dumps(body)


class Server:
    """A server process: its URL and the CPU time it used so far."""

    def __init__(self, name: str, command: list[str], env: dict[str, str] | None = None) -> None:
        self.name = name
        self.process = subprocess.Popen(
            command, stdout=subprocess.PIPE, text=True, env={**os.environ, **(env or {})}
        )
        if self.process.stdout is None:
            msg = f"{name}: no stdout"
            raise RuntimeError(msg)
        line = self.process.stdout.readline().strip()
        # The simulator says "WsOne simulator listening on <url> (user <user>)".
        self.url = next(word for word in line.split() if word.startswith("http://"))

    def cpu_seconds(self) -> float | None:
        try:
            fields = pathlib.Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1]
        except OSError:
            return None
        user, system = fields.split()[11:13]
        return (int(user) + int(system)) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)


async def _drive(
    session: aiohttp.ClientSession, server: Server, bodies: Iterator[bytes], total: int
) -> tuple[float, float | None]:
    """Requests per second, and the server's CPU microseconds per request."""
    headers = {
        "Authorization": aiohttp.encode_basic_auth(USER, PASSWORD),
        "Content-Type": "application/json",
    }
    url = server.url + PATH
    batch = [next(bodies) for _ in range(total)]
    remaining = iter(batch)

    async def worker() -> None:
        for body in remaining:
            async with session.post(url, data=body, headers=headers) as response:
                answer = await response.read()
                if response.status != 200 or b'"000"' not in answer:
                    msg = f"{server.name} answered {response.status} {answer[:80]!r}"
                    raise RuntimeError(msg)

    cpu_before = server.cpu_seconds()
    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
    elapsed = time.perf_counter() - started
    cpu_after = server.cpu_seconds()
    cpu = None if cpu_before is None or cpu_after is None else cpu_after - cpu_before
    return total / elapsed, None if cpu is None else cpu / total * 1e6


def _spread(values: list[float]) -> str:
    return f"median {statistics.median(values):.2f}x (range {min(values):.2f}-{max(values):.2f})"


async def measure(simulator: Server, fixed: Server) -> None:
    bodies = _bodies()
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=100)) as session:
        for server in (fixed, simulator):  # warm up connections and code paths
            await _drive(session, server, bodies, WARMUP)
        rate_ratios: list[float] = []
        cpu_ratios: list[float] = []
        rates: dict[str, list[float]] = {fixed.name: [], simulator.name: []}
        cpus: dict[str, list[float]] = {fixed.name: [], simulator.name: []}
        for round_number in range(ROUNDS):
            # ABBA: fixed first in rounds 0 and 3 of every four, the simulator in 1 and 2.
            order = (fixed, simulator) if round_number % 4 in (0, 3) else (simulator, fixed)
            seen = {}
            for server in order:
                seen[server.name] = await _drive(session, server, bodies, REQUESTS)
            (sim_rate, sim_cpu), (fixed_rate, fixed_cpu) = seen[simulator.name], seen[fixed.name]
            rates[simulator.name].append(sim_rate)
            rates[fixed.name].append(fixed_rate)
            rate_ratios.append(sim_rate / fixed_rate)
            if sim_cpu is not None and fixed_cpu is not None:
                cpus[simulator.name].append(sim_cpu)
                cpus[fixed.name].append(fixed_cpu)
                cpu_ratios.append(fixed_cpu / sim_cpu)
    print(
        f"createPerson, {REQUESTS} new persons a round, concurrency {CONCURRENCY}, {ROUNDS} rounds"
    )
    for name in (fixed.name, simulator.name):
        cpu = f"   server CPU {statistics.median(cpus[name]):6.0f} us/request" if cpus[name] else ""
        print(f"  {name:<22} {statistics.median(rates[name]):8.0f} requests/s{cpu}")
    print(f"  throughput, simulator / fixed body: {_spread(rate_ratios)}")
    if cpu_ratios:
        print(f"  CPU a request, fixed body / simulator: {_spread(cpu_ratios)}")
    print("  target: simulator >= 0.8x the fixed-body server's throughput")


def main() -> int:
    simulator = Server(
        "wsone serve",
        [
            sys.executable,
            "-m",
            "wsone_async.testing._serve",
            "--user",
            USER,
            "--password",
            PASSWORD,
        ],
    )
    try:
        fixed = Server("fixed-body aiohttp", [sys.executable, str(HERE / "_answer_server.py")])
        try:
            asyncio.run(measure(simulator, fixed))
        finally:
            fixed.stop()
    finally:
        simulator.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
