"""How long the event loop is held while one large answer is decoded among 64 calls.

Run: ``python benchmarks/loop_lag.py [--rounds N] [--offers N]`` (needs the ``bench`` extra
for the answer's builder, shared with ``codec.py``: ``pip install -e '.[bench]'``).

A server in a separate process (this script with ``--serve``, a plain aiohttp app on
127.0.0.1) answers createPerson with the vendor's answer and getFullPerson with one
prebuilt answer of 5,000 offers (2.2 MB), the same bytes every time. In each round, one
client keeps 64 createPerson calls in flight while it gets and decodes that large answer
three times, one after the other; a ticker sleeps 1 ms again and again and records how
late each sleep wakes (its *lag*: the time the loop could not run it). Its maximum and
p99 are what the other requests of a busy web app feel; a control round (the 64 calls
alone) shows how much of that the 64 calls cause by themselves: one turn of the loop
handles every answer that arrived meanwhile, so it runs long on a busy loop.

Three clients, the same but for one setting: ``decode_in_steps_above=None`` decodes each
answer at once on the event loop; the default (``decode_in_steps_above=131072``, 128 KiB)
decodes the large answer on the loop in steps (its parse in slices of 64 KiB of whole
offers, then its decoding in slices of 128 offers) with a turn of the loop between two;
``decode_in_thread_above=131072`` decodes it in the decoding thread. They run in rounds
in alternating order (ABC, then CBA), so the machine's drift hits every side alike; the
script prints the median of each side's maximum and p99 lag over the rounds, with their
spread (min to max).

The three clients are built with ``telemetry=False``: the client as users get it
without the ``otel`` extra, whatever this virtual environment has installed.

``--costs`` prints, without a server, the CPU time of the large answer's parse (orjson at
once, and in steps) and of its whole decode (at once, and in steps), with the collector
off while timed, and the number and length of the steps of each.

Lag is wall-clock time: on a machine shared with other work, the scheduler adds its own
delays to every side, so figures from a loaded machine are indicative only.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import pathlib
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Generator
from typing import NamedTuple

import orjson

HERE = pathlib.Path(__file__).resolve().parent
DATA = HERE.parent / "tests" / "data"
CONCURRENCY = 64
LARGE_CALLS = 3
TICK = 0.001
THRESHOLD = 128 * 1024  # the thread's side: answers above 128 KiB go to the thread


# ------------------------------------------------------------------------- the server


async def serve(offers: int) -> None:
    from _answer_server import answer
    from _answer_server import serve as serve_app
    from aiohttp import web
    from codec import full_person_body  # the builder codec.py measures with

    large = full_person_body(offers)

    async def full(request: web.Request) -> web.Response:
        await request.read()
        return web.Response(body=large, content_type="application/json")

    app = web.Application()
    app.router.add_post("/{tail:.*}/getFullPerson", full)
    app.router.add_post("/{tail:.*}", answer)  # createPerson: the vendor's answer
    await serve_app(app, f" {len(large)}")


# ------------------------------------------------------------------------- the client


class Holds:
    """The longest stretches of CPU time during which the event loop could not run.

    Timed in CPU time (``time.thread_time``) so that a loaded machine, which stops the
    process at random, does not count as the library's doing:

    * ``callback``: the longest callback on the loop's thread (a decode on the loop is one);
    * ``gc``: the longest pass of the garbage collector, in any thread: a pass holds the
      GIL from start to end, so it holds the loop whichever thread allocated last.

    A thread running Python hands the GIL back every ``sys.getswitchinterval()``; a C call
    holds it until it returns (orjson's parse of the whole body: timed once, ``parse``).
    """

    def __init__(self) -> None:
        self.callback = 0.0
        self.gc = 0.0
        self._gc_started = 0.0

    def reset(self) -> None:
        self.callback = self.gc = 0.0

    def install(self) -> None:
        holds = self
        cpu = time.thread_time
        run = asyncio.Handle._run

        def timed_run(handle: asyncio.Handle) -> None:
            started = cpu()
            run(handle)
            took = cpu() - started
            if took > holds.callback:
                holds.callback = took

        asyncio.Handle._run = timed_run  # type: ignore[method-assign]

        def timed_gc(phase: str, _info: dict[str, int]) -> None:
            if phase == "start":
                holds._gc_started = cpu()
            else:
                holds.gc = max(holds.gc, cpu() - holds._gc_started)

        gc.callbacks.append(timed_gc)


HOLDS = Holds()


class Round(NamedTuple):
    lag_max: float
    lag_p99: float
    callback: float
    gc: float


async def one_round(client: object, create: object, read: object | None) -> Round:
    """The lags of the ticker's sleeps during one round, and the loop's longest holds.

    With ``read`` None, the control: the 64 calls alone for 0.1 s, no large answer.
    """
    lags: list[float] = []
    done = False

    async def ticker() -> None:
        clock = time.perf_counter
        while not done:
            before = clock()
            await asyncio.sleep(TICK)
            lags.append(clock() - before - TICK)

    async def caller() -> None:
        while not done:
            await client.create_person(create)  # type: ignore[attr-defined]

    tasks = [asyncio.create_task(ticker())]
    tasks += [asyncio.create_task(caller()) for _ in range(CONCURRENCY)]
    await asyncio.sleep(0.05)  # 64 calls in flight, the pool warm
    HOLDS.reset()
    if read is None:
        await asyncio.sleep(0.1)
    for _ in range(LARGE_CALLS if read is not None else 0):
        answer = await client.get_full_person(read)  # type: ignore[attr-defined]
        del answer  # freed here, on the loop, as a caller dropping it would
    await asyncio.sleep(0.02)
    measured = Round(max(lags), p99(lags), HOLDS.callback, HOLDS.gc)
    done = True
    await asyncio.gather(*tasks)
    return measured


def p99(values: list[float]) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[98]


async def measure(url: str, rounds: int) -> dict[str, list[Round]]:
    from wsone_async import WsOneClient, from_wire
    from wsone_async.models import (
        CreatePersonRequest,
        GetFullPersonRequest,
        IdentifierRequest,
        IdentifierType,
    )

    create = from_wire(
        CreatePersonRequest, orjson.loads((DATA / "createPerson_request.json").read_bytes())
    )
    read = GetFullPersonRequest(
        identifier_request=IdentifierRequest(
            identifier_type=IdentifierType.CARD, identifier_value="1234567891011"
        )
    )
    common = {"username": "bench", "password": "bench", "telemetry": False}
    results: dict[str, list[Round]] = {"inline": [], "steps": [], "thread": [], "control": []}
    HOLDS.install()
    async with (
        WsOneClient(url, decode_in_steps_above=None, **common) as inline,  # type: ignore[arg-type]
        WsOneClient(url, **common) as steps,  # type: ignore[arg-type]
        WsOneClient(url, decode_in_thread_above=THRESHOLD, **common) as threaded,  # type: ignore[arg-type]
    ):
        sides = {"inline": inline, "steps": steps, "thread": threaded}
        for client in sides.values():  # warm up connections and code paths
            await one_round(client, create, read)
        for number in range(rounds):
            # Each side first, then last, in turn (ABC, CBA): drift hits all sides alike.
            order = list(sides) if number % 2 == 0 else list(reversed(sides))
            for name in order:
                results[name].append(await one_round(sides[name], create, read))
            # The control, between pairs: what 64 calls alone do to the ticker.
            results["control"].append(await one_round(threaded, create, None))
    return results


def spread(values: list[float]) -> str:
    ms = [v * 1000 for v in values]
    return f"{statistics.median(ms):6.1f} ms ({min(ms):.1f} to {max(ms):.1f})"


def costs(offers: int, repeat: int = 7) -> None:
    """``--costs``: the CPU time of the large answer's parse and decode, at once and in
    steps, and how long its steps are; no server, the collector off while timed."""
    from codec import full_person_body

    from wsone_async._codec import decode_in_steps, parse_in_steps
    from wsone_async._transport import Reply, decode_reply, decode_reply_in_steps
    from wsone_async.models import GetFullPersonResponse

    body = full_person_body(offers)
    reply = Reply(200, None, body)
    kind, name = GetFullPersonResponse, "getFullPerson"

    def exhaust(steps: Generator[None, None, object]) -> list[float]:
        took, cpu = [], time.thread_time
        while True:
            started = cpu()
            try:
                next(steps)
            except StopIteration:
                took.append(cpu() - started)
                return took
            took.append(cpu() - started)

    sides: dict[str, Callable[[], object]] = {
        "parse, orjson at once": lambda: orjson.loads(body),
        "parse in steps": lambda: exhaust(parse_in_steps(kind, body)),
        "parse and decode at once": lambda: decode_reply(reply, kind, operation=name),
        "parse and decode in steps": lambda: exhaust(
            decode_reply_in_steps(reply, kind, operation=name)
        ),
    }
    gc.disable()
    try:
        best = {label: min(_cpu(side) for _ in range(repeat)) for label, side in sides.items()}
        parse_steps = exhaust(parse_in_steps(kind, body))
        data = orjson.loads(body)
        decode_steps = exhaust(decode_in_steps(kind, data, lambda: orjson.loads(body)))
    finally:
        gc.enable()
    print(
        f"a getFullPerson answer of {offers} offers ({len(body) / 1e6:.1f} MB), CPU time with "
        f"the collector off (best of {repeat})"
    )
    for label, seconds in best.items():
        print(f"  {label:27} {seconds * 1000:6.1f} ms")
    for label, steps in (("parse", parse_steps), ("decode", decode_steps)):
        ms = sorted(step * 1000 for step in steps)
        print(
            f"  steps of the {label}: {len(ms)}, median {statistics.median(ms):.2f} ms, "
            f"longest {ms[-1]:.2f} ms"
        )


def _cpu(side: Callable[[], object]) -> float:
    started = time.process_time()
    side()
    return time.process_time() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--offers", type=int, default=5000)
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument(
        "--costs", action="store_true", help="CPU of the large answer's parse and decode only"
    )
    args = parser.parse_args()
    if args.costs:
        costs(args.offers)
        return 0
    if args.serve:
        asyncio.run(serve(args.offers))
        return 0
    server = subprocess.Popen(
        [sys.executable, __file__, "--serve", "--offers", str(args.offers)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        if server.stdout is None:
            return 1
        url, size = server.stdout.readline().split()
        results = asyncio.run(measure(url, args.rounds))
    finally:
        server.terminate()
        server.wait(timeout=10)
    from codec import full_person_body

    body = full_person_body(args.offers)
    parses = []
    for _ in range(5):
        started = time.thread_time()
        orjson.loads(body)
        parses.append(time.thread_time() - started)
    parse = statistics.median(parses)
    print(
        f"{CONCURRENCY} createPerson calls in flight while a getFullPerson answer of "
        f"{args.offers} offers ({int(size) / 1e6:.1f} MB) is decoded {LARGE_CALLS} times; "
        f"median of {args.rounds} paired rounds (min to max)"
    )
    for name, label in (
        ("inline", "decoded at once on the loop  (decode_in_steps_above=None)"),
        ("steps", "decoded in steps on the loop (the default: decode_in_steps_above=131072)"),
        ("thread", "decoded in a thread         (decode_in_thread_above=131072)"),
        ("control", "control: the 64 calls alone, no large answer"),
    ):
        rounds = results[name]
        print(f"  {label}")
        print(f"    longest callback on the loop (CPU)  {spread([r.callback for r in rounds])}")
        print(f"    longest GC pass, any thread (CPU)   {spread([r.gc for r in rounds])}")
        print(
            f"    1 ms ticker, wall clock: maximum lag {spread([r.lag_max for r in rounds])}"
            f"   p99 {spread([r.lag_p99 for r in rounds])}"
        )
    print(
        f"  orjson's parse of the body, one C call holding the GIL: {parse * 1000:.1f} ms CPU "
        "(median of 5); "
        f"a thread running Python yields the GIL every {sys.getswitchinterval() * 1000:g} ms"
    )
    print("  target: the ticker's maximum lag <= 10 ms while the large answer is decoded")
    return 0


if __name__ == "__main__":
    sys.exit(main())
