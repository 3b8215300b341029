r"""Throughput of WsOneClient.create_person against raw aiohttp, on the same local server.

Run: ``python benchmarks/client.py``.

The server (``_answer_server.py``) runs in a separate process and answers every POST with
the vendor's createPerson answer. The baseline posts the pre-serialized createPerson
example with a bare ``aiohttp.ClientSession`` and reads the body; ``WsOneClient`` encodes
the model, posts it with its time limits and retry machinery armed, decodes the answer,
checks its ``responseCode`` and builds the response model. A third side is the client a
team writes without a library (the issue's own reference point): it builds the request as
a dict literal on each call, serializes it and parses the answer with orjson, and checks
``responseCode``; no models, no time limit of its own, no retry, no size cap. The sides run
at concurrency 1 and 64 in rounds whose order is reversed each round (ABC, CBA), within one
run; the median of the rounds' ratios to raw aiohttp is printed with their spread (min to
max).

The client is built with ``telemetry=False``: the client as users get it without the
``otel`` extra (the same code path as with ``opentelemetry-api`` not installed), whatever
this virtual environment has installed.

``--parts`` splits the gap at concurrency 64: it times the client process's CPU per request
(``time.process_time``, so the server's share and the machine's other work weigh less) for
raw aiohttp, the hand-written client, ``WsOneClient``, ``WsOneClient`` with the request's
encoding replaced by bytes
made once, and with its answer's decoding also replaced by a model made once (both swapped
in the client's private call path, for this measure only), in paired rounds whose order
flips each round; it prints each side's median and spread.

The machine's load moves rates; instruction counts do not. ``--side ours|handwritten|raw
--calls N``
runs one side alone for ``N`` calls (at ``--concurrency``, 64 by default), to be run under
``valgrind --tool=callgrind``: the difference of the totals of two values of ``N``, divided
by the difference of ``N``, is the instructions one call costs::

    for n in 300 1300; do PYTHONHASHSEED=0 valgrind --tool=callgrind \
        --callgrind-out-file=/tmp/cg.$n python benchmarks/client.py --side ours --calls $n \
        --concurrency 1; done

At concurrency 1 each call runs the same steps, so the count barely moves from run to run;
at 64 it moves with how many answers each turn of the loop finds ready. The cyclic garbage
collector still moves it by about 5,000 instructions a call from one run to the next;
``--no-gc`` turns it off for the run, which brings that to about 1,000: use it to compare
two versions of the call path (the count is then that of the path without collections).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import pathlib
import statistics
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, NamedTuple

import aiohttp
import orjson

from wsone_async import WsOneClient, from_wire
from wsone_async.models import CreatePersonRequest

HERE = pathlib.Path(__file__).resolve().parent
EXAMPLE = (HERE.parent / "tests" / "data" / "createPerson_request.json").read_bytes()
PATH = "/rest/2.0/personWebService/createPerson"
ROUNDS = 11
REQUESTS = {1: 1000, 64: 3000}


async def _drive(call: Callable[[], Awaitable[object]], concurrency: int, total: int) -> float:
    """Requests per second for ``total`` calls made by ``concurrency`` workers."""
    remaining = total

    async def worker() -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            await call()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return total / (time.perf_counter() - started)


class Sides(NamedTuple):
    """The sides, ready to call: raw aiohttp, a hand-written JSON client and ``WsOneClient``
    (and its request)."""

    raw: Callable[[], Awaitable[None]]
    handwritten: Callable[[], Awaitable[None]]
    ours: Callable[[], Awaitable[None]]
    client: WsOneClient
    request: CreatePersonRequest


def handwritten_request(flags: tuple[int, int] = (1, 0)) -> dict[str, Any]:
    """The createPerson example as a hand-written client builds it: a dict literal a call."""
    company, trusted = flags
    return {
        "NewIdentifierRequest": {"identifierType": 1, "identifierValue": "1110987654321"},
        "PersonProfilRequest": {
            "ContactsRequest": {
                "AddressRequest": {
                    "allowCompanySolicitation": company,
                    "allowTrustedSolicitation": trusted,
                    "address1": "ADDR 2",
                    "address2": "ADDR 3",
                    "address3Name": "DE LA LIBERTE",
                    "address3Num": 13,
                    "address3Type": 5,
                    "address4": "ADDR 4",
                    "city": "LILLE",
                    "country": "FRANCE",
                    "zipCode": "59000",
                },
                "EmailRequest": {
                    "allowCompanySolicitation": company,
                    "allowTrustedSolicitation": trusted,
                    "emailValue": "email-test@email.fr",
                },
                "CellPhoneRequest": {
                    "allowCompanySolicitation": company,
                    "allowTrustedSolicitation": trusted,
                    "model": "S24",
                    "brand": "Samsung",
                    "dialingCode": "33",
                    "number": "0612345678",
                },
            },
            "EntityRequest": {"entityIdentifier": "123456"},
            "PersonRequest": {
                "birthDate": "01/01/2000",
                "firstName": "JEAN",
                "lastName": "DUPOND",
                "title": 1,
            },
        },
        "SubscriptionRequest": [{"activate": True, "id": 1}, {"activate": True, "id": 2}],
        "source": "API-DOG",
    }


@contextlib.asynccontextmanager
async def sides(url: str) -> AsyncIterator[Sides]:
    """Both sides against ``url``, their connections and code paths warmed up."""
    request = from_wire(CreatePersonRequest, orjson.loads(EXAMPLE))
    body = orjson.dumps(orjson.loads(EXAMPLE))
    headers = {
        "Authorization": aiohttp.encode_basic_auth("bench", "bench"),
        "Content-Type": "application/json",
    }
    async with (
        aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=100)) as session,
        WsOneClient(
            url, username="bench", password="bench", max_connections=100, telemetry=False
        ) as client,
    ):

        async def raw() -> None:
            async with session.post(url + PATH, data=body, headers=headers) as response:
                await response.read()

        async def handwritten() -> None:
            # What a team writes without a library: a dict, orjson both ways, the code
            # checked; no models, no time limit of its own, no retry, no size cap.
            data = orjson.dumps(handwritten_request())
            async with session.post(url + PATH, data=data, headers=headers) as response:
                answer = orjson.loads(await response.read())
            if response.status != 200 or answer.get("responseCode") != "000":
                raise RuntimeError(answer)

        async def ours() -> None:
            await client.create_person(request)

        if orjson.loads(orjson.dumps(handwritten_request())) != orjson.loads(EXAMPLE):
            raise SystemExit("the hand-written request differs from the example")
        for call in (raw, handwritten, ours):
            await _drive(call, 64, 500)
        yield Sides(raw, handwritten, ours, client, request)


SIDES = ("raw", "handwritten", "ours")


class Result(NamedTuple):
    """One concurrency's figures: each side's median rate and its ratios to raw aiohttp."""

    rates: dict[str, float]
    ratios: dict[str, list[float]]  # per side but raw: the rounds' ratios to raw's rate


async def measure(
    url: str, side: str | None = None, calls: int = 0, concurrency: int = 64
) -> dict[int, Result]:
    results: dict[int, Result] = {}
    async with sides(url) as ready:
        calls_of = {name: getattr(ready, name) for name in SIDES}
        if side is not None:  # one side alone, for an instruction count
            await _drive(calls_of[side], concurrency, calls)
            return results
        for concurrency, total in REQUESTS.items():
            rates: dict[str, list[float]] = {name: [] for name in SIDES}
            ratios: dict[str, list[float]] = {name: [] for name in SIDES[1:]}
            for round_number in range(ROUNDS):
                # Paired rounds, the order reversed each round: the machine's drift hits
                # every side of a round alike, and the median of the rounds' ratios drops
                # the rounds where it did not.
                order = SIDES if round_number % 2 == 0 else SIDES[::-1]
                rate = {name: await _drive(calls_of[name], concurrency, total) for name in order}
                for name in SIDES:
                    rates[name].append(rate[name])
                for name in SIDES[1:]:
                    ratios[name].append(rate[name] / rate["raw"])
            results[concurrency] = Result(
                {name: statistics.median(values) for name, values in rates.items()}, ratios
            )
    return results


async def parts(url: str, rounds: int = 8, total: int = 4000) -> dict[str, list[float]]:
    """Client CPU microseconds per request of each side of ``--parts``."""
    from wsone_async import _pipeline  # the call path's names, swapped for two sides

    real_dumps, real_decode = _pipeline.dumps, _pipeline.decode_reply
    async with sides(url) as (raw, handwritten, ours, client, request):
        encoded, answer = real_dumps(request), await client.create_person(request)
        swaps = {  # side -> (encoding, decoding) in the call path
            "raw aiohttp": (real_dumps, real_decode),
            "hand-written dict + orjson": (real_dumps, real_decode),
            "WsOneClient": (real_dumps, real_decode),
            "  without encoding the request": (lambda _: encoded, real_decode),
            "  nor decoding the answer": (lambda _: encoded, lambda *_, **__: answer),
        }
        cpu: dict[str, list[float]] = {side: [] for side in swaps}
        try:
            for number in range(rounds):
                for side in list(swaps) if number % 2 == 0 else list(reversed(swaps)):
                    _pipeline.dumps, _pipeline.decode_reply = swaps[side]  # type: ignore[assignment]
                    started = time.process_time()
                    call = {"raw aiohttp": raw, "hand-written dict + orjson": handwritten}
                    await _drive(call.get(side, ours), 64, total)
                    cpu[side].append((time.process_time() - started) / total * 1e6)
        finally:  # the client closes on the real call path, whatever happened
            _pipeline.dumps, _pipeline.decode_reply = real_dumps, real_decode
    return cpu


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--side", choices=SIDES, help="run one side alone")
    parser.add_argument("--calls", type=int, default=1000, help="calls of --side")
    parser.add_argument("--concurrency", type=int, default=64, help="concurrency of --side")
    parser.add_argument(
        "--no-gc", action="store_true", help="turn the cyclic garbage collector off (for counts)"
    )
    parser.add_argument(
        "--parts", action="store_true", help="client CPU per request, encoding and decoding apart"
    )
    args = parser.parse_args()
    if args.no_gc:
        gc.disable()
    server = subprocess.Popen(
        [sys.executable, str(HERE / "_answer_server.py")], stdout=subprocess.PIPE, text=True
    )
    try:
        assert server.stdout is not None
        url = server.stdout.readline().strip()
        if args.parts:
            cpu = asyncio.run(parts(url))
        else:
            results = asyncio.run(measure(url, args.side, args.calls, args.concurrency))
    finally:
        server.terminate()
        server.wait(timeout=10)
    if args.parts:
        print("createPerson at concurrency 64: client CPU per request (median, min to max)")
        for side, values in cpu.items():
            print(
                f"  {side:32} {statistics.median(values):5.1f} us "
                f"({min(values):.1f} to {max(values):.1f})"
            )
        return 0
    if args.side is not None:
        return 0
    print("createPerson against a local aiohttp server in another process (requests/s)")
    names = {"handwritten": "hand-written dict + orjson", "ours": "WsOneClient"}
    for concurrency, (rates, ratios) in results.items():
        print(f"  concurrency {concurrency:>2}: raw aiohttp {rates['raw']:8.0f}")
        for name, label in names.items():
            values = ratios[name]
            print(
                f"    {label:27} {rates[name]:8.0f}   ratio to raw "
                f"{statistics.median(values):.2f}x ({min(values):.2f} to {max(values):.2f}; "
                f"median of {ROUNDS} rounds)"
            )
    print("  target: WsOneClient >= 0.90x raw aiohttp at concurrency 64")
    return 0


if __name__ == "__main__":
    sys.exit(main())
