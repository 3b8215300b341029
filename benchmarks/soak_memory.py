"""Memory soak: does the client's RSS stop growing under faults? (Not run in CI.)

Workers share one ``WsOneClient`` and run reads and writes for ``--seconds`` against the
simulator in a child process (so this process holds the client's memory alone), which
injects faults of every kind at random. Every ``--every`` seconds it samples this process's
RSS, Python's own allocations (``sys.getallocatedblocks``, and ``tracemalloc`` with
``--tracemalloc``), the live objects the garbage collector tracks and glibc's heap in use
(``mallinfo2``: what C code and large Python objects hold), then prints the curve
and the growth per call in each quarter of the run: if the last quarters grow by much less
than the first, RSS plateaus.

    .venv/bin/python benchmarks/soak_memory.py --seconds 600           # the README's figure
    .venv/bin/python benchmarks/soak_memory.py --seconds 120 --no-faults

The figures depend on the machine and its load: they are indicative.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ctypes
import gc
import itertools
import json
import random
import sys
import time
import tracemalloc
from typing import Any

import psutil

from wsone_async import RetryPolicy, Timeouts, WsOneClient, WsOneError
from wsone_async.models import (
    CreatePersonRequest,
    GetEntitiesRequest,
    GetPersonRequest,
    IdentifierRequest,
    IdentifierType,
    NewIdentifierRequest,
    PersonProfilRequest,
    PersonRequest,
)
from wsone_async.testing import SIMULATOR_ERROR_CLASSES, SimulatorProcess

FAULTS = [
    "read:latency=0.2,rate=0.01",
    "*:status=429,rate=0.01,retry_after=0.01",
    "*:status=500,rate=0.01",
    "*:status=503,rate=0.01",
    "*:drop_before,rate=0.01",
    "*:drop_after,rate=0.01",
    "*:html,rate=0.01",
    "*:garbage,rate=0.01",
    "*:response_code=999,rate=0.01",
]


def _rss() -> int:
    return int(psutil.Process().memory_info().rss)


def _trim() -> None:
    """Give glibc's free heap memory back to the system (``malloc_trim(0)``)."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)


class _MallInfo2(ctypes.Structure):
    _fields_ = [
        (name, ctypes.c_size_t)
        for name in (
            "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks",
            "uordblks", "fordblks", "keepcost",
        )
    ]  # fmt: skip


def _malloc() -> dict[str, int]:
    """glibc's heap: bytes in use and free (Python's small objects live elsewhere, in
    pymalloc's arenas), so C-level growth can be told from fragmentation; {} elsewhere."""
    try:
        libc = ctypes.CDLL("libc.so.6")
        mallinfo2 = libc.mallinfo2
    except (OSError, AttributeError):
        return {}
    mallinfo2.restype = _MallInfo2
    info = mallinfo2()
    return {"malloc_in_use": int(info.uordblks), "malloc_free": int(info.fordblks)}


async def _worker(
    client: WsOneClient, stop: float, counts: dict[str, int], numbers: itertools.count[int]
) -> None:
    rng = random.Random(next(numbers))
    while time.monotonic() < stop:
        n = next(numbers)
        try:
            kind = rng.random()
            if kind < 0.5:
                await client.get_person(
                    GetPersonRequest(
                        identifier_request=IdentifierRequest(
                            identifier_type=IdentifierType.WEB_ACCOUNT,
                            identifier_value=f"soak{n % 500}@example.fr",
                        )
                    )
                )
            elif kind < 0.8:
                await client.create_person(
                    CreatePersonRequest(
                        new_identifier_request=NewIdentifierRequest(
                            identifier_type=IdentifierType.WEB_ACCOUNT,
                            identifier_value=f"soak{n}@example.fr",
                        ),
                        person_profil_request=PersonProfilRequest(
                            person_request=PersonRequest(first_name="JEAN", last_name="SOAK")
                        ),
                        source="SOAK",
                    )
                )
            else:
                await client.get_entities(GetEntitiesRequest())
            counts["ok"] += 1
        except WsOneError:
            counts["error"] += 1
        counts["calls"] += 1


async def soak(args: argparse.Namespace) -> dict[str, Any]:
    if args.tracemalloc:
        tracemalloc.start()
    faults = [] if args.no_faults else FAULTS
    samples: list[dict[str, Any]] = []
    counts = {"calls": 0, "ok": 0, "error": 0}
    async with (
        SimulatorProcess(seed=args.seed, faults=faults) as sim,
        WsOneClient(
            sim.url,
            username=sim.username,
            password=sim.password,
            timeout=Timeouts(connect=1, read=0.1, attempt=0.1, total=0.5),
            retry=RetryPolicy(initial_delay=0.01, max_delay=0.05, reconcile_writes=True),
            codes=SIMULATOR_ERROR_CLASSES,  # so that settling can tell "not applied"
            telemetry=not args.no_telemetry,
        ) as client,
    ):
        start = time.monotonic()
        stop = start + args.seconds
        numbers = itertools.count()
        tasks = [
            asyncio.create_task(_worker(client, stop, counts, numbers)) for _ in range(args.workers)
        ]
        while time.monotonic() < stop:
            await asyncio.sleep(min(args.every, max(0.0, stop - time.monotonic())))
            gc.collect()
            if args.trim:
                _trim()
            sample = {
                "seconds": round(time.monotonic() - start, 1),
                "calls": counts["calls"],
                "rss": _rss(),
                "python_blocks": sys.getallocatedblocks(),
                "gc_objects": len(gc.get_objects()),
                **_malloc(),
            }
            if args.tracemalloc:
                sample["traced"] = tracemalloc.get_traced_memory()[0]
            samples.append(sample)
            print(json.dumps(sample), flush=True)
        await asyncio.gather(*tasks)
    return {"counts": counts, "samples": samples, "faults": faults}


def _quarters(samples: list[dict[str, Any]]) -> list[str]:
    # The first sample is the warm-up (pools, caches, the interpreter's arenas): growth is
    # measured from it, quarter by quarter of the remaining run.
    if len(samples) < 5:
        return ["too few samples for quarters"]
    lines = []
    bounds = [round(i * (len(samples) - 1) / 4) for i in range(5)]
    for first, last in itertools.pairwise(bounds):
        a, b = samples[first], samples[last]
        calls = max(1, b["calls"] - a["calls"])
        grown = b["rss"] - a["rss"]
        lines.append(
            f"{a['seconds']:>6.0f}-{b['seconds']:<6.0f}s  {calls:>8} calls  "
            f"RSS {grown / 1024:>+9.0f} KiB ({grown / calls:+.1f} B/call)"
            f"  python blocks {b['python_blocks'] - a['python_blocks']:+d}"
            f"  gc objects {b['gc_objects'] - a['gc_objects']:+d}"
            + (
                f"  malloc in use {(b['malloc_in_use'] - a['malloc_in_use']) / 1024:+.0f} KiB"
                if "malloc_in_use" in a
                else ""
            )
        )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--seconds", type=float, default=600.0)
    parser.add_argument("--every", type=float, default=10.0, help="seconds between samples")
    parser.add_argument("--workers", type=int, default=16)
    parser.add_argument("--seed", type=int, default=20241129)
    parser.add_argument("--no-faults", action="store_true")
    parser.add_argument("--tracemalloc", action="store_true")
    parser.add_argument("--no-telemetry", action="store_true", help="telemetry=False")
    parser.add_argument(
        "--trim", action="store_true", help="malloc_trim(0) before each sample (glibc)"
    )
    parser.add_argument("--json", help="write the samples to this file")
    args = parser.parse_args()
    result = asyncio.run(soak(args))
    counts = result["counts"]
    print(f"calls {counts['calls']}, ok {counts['ok']}, typed errors {counts['error']}")
    for line in _quarters(result["samples"]):
        print(line)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as out:
            json.dump(result, out, indent=1)


if __name__ == "__main__":
    main()
