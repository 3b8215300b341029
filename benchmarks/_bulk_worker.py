"""One import in its own process, for ``benchmarks/bulk.py``: prints one JSON line.

Run by the benchmark, one fresh interpreter per import, so that the process's peak
resident set (``VmHWM``, see :func:`_peak_rss_kib`) belongs to that import alone::

    WSONE_BENCH_PASSWORD=... python benchmarks/_bulk_worker.py \\
        --url http://127.0.0.1:PORT --method dedupe-off --size 10000 --concurrency 32

Methods (all read the rows lazily from :func:`rows`, a generator: nothing is built up front):

``semaphore``
    The simplest correct hand-written loop: the README's ``asyncio.Semaphore`` around
    ``client.create_person``, one task per row, fed from the generator with at most
    ``2 * concurrency`` tasks pending (a second semaphore, released when a task ends), so
    memory stays bounded like the library's queue of ``2 * concurrency`` records. One
    request per row; a row whose request fails counts as failed, the others go on.
``dedupe-off``
    ``run_import(..., dedupe=False)``: also one request (createPerson) per row; an ambiguous
    failure is settled by a lookup only when it happens.
``dedupe-on``
    ``run_import(...)`` with the default ``dedupe=True``: getPerson before createPerson,
    two requests per row.
``semaphore-file`` and ``aread`` (with ``--file``, a CSV of the same rows)
    The semaphore loop fed by ``read_rows(file)``, and ``run_import(..., dedupe=False)``
    fed by ``aread_rows(file)`` as the README recommends: the same file, one request per
    row each.

The same ``WsOneClient`` settings (the defaults: 100 pooled connections, default time
limits and retry policy) and the same concurrency are used by every method.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import resource
import sys
import time
from collections.abc import Iterator
from typing import Any

from wsone_async import WsOneClient
from wsone_async.bulk import aread_rows, prospect_from_row, read_rows, run_import

METHODS = ("semaphore", "dedupe-off", "dedupe-on", "semaphore-file", "aread")
#: The simulator's password comes through the environment, never the command line.
# (wsone_async.testing is not imported: its server modules would inflate the RSS.)
PASSWORD_ENV = "WSONE_BENCH_PASSWORD"


def write_csv(path: str, count: int) -> None:
    """The rows of :func:`rows` as a CSV file (what ``wsone import`` reads)."""
    import csv

    with open(path, "w", encoding="utf-8", newline="") as file:
        writer = None
        for row in rows(count):
            if writer is None:
                writer = csv.DictWriter(file, fieldnames=list(row))
                writer.writeheader()
            writer.writerow(row)


def rows(count: int) -> Iterator[dict[str, Any]]:
    """``count`` distinct prospect rows, as a CSV reader would give them, made one at a time."""
    for i in range(count):
        email = f"prospect{i:07d}@example.fr"
        yield {
            "identifier_value": email,
            "title": "1",
            "first_name": "CAMILLE",
            "last_name": f"NOM{i % 997}",
            "birth_date": f"{1 + i % 28:02d}/{1 + i % 12:02d}/{1950 + i % 50}",
            "email": email,
            "phone_dialing_code": "33",
            "phone_number": f"06{i % 100_000_000:08d}",
            "address3_num": str(1 + i % 200),
            "address3_name": "DE LA LIBERTE",
            "zip_code": f"{59000 + i % 900}",
            "city": "LILLE",
            "country": "FRANCE",
            "allow_company_solicitation": "1",
            "allow_trusted_solicitation": "0",
        }


async def semaphore_import(
    client: WsOneClient, records: Iterator[dict[str, Any]], concurrency: int
) -> dict[str, int]:
    """The hand-written baseline: a semaphore around create_person, bounded pending tasks."""
    gate = asyncio.Semaphore(concurrency)
    room = asyncio.Semaphore(2 * concurrency)
    pending: set[asyncio.Task[None]] = set()
    counts = {"created": 0, "failed": 0}

    async def one(row: dict[str, Any]) -> None:
        try:
            request = prospect_from_row(row)
            async with gate:
                await client.create_person(request)
            counts["created"] += 1
        except Exception:  # one row's failure never stops the others
            counts["failed"] += 1
        finally:
            room.release()

    for row in records:
        await room.acquire()
        task = asyncio.create_task(one(row))
        pending.add(task)
        task.add_done_callback(pending.discard)
    await asyncio.gather(*pending)
    return counts


def _status_kib(field: str) -> int | None:
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith(f"{field}:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def _peak_rss_kib() -> int:
    """This process's peak RSS in KiB: ``VmHWM``, else ``ru_maxrss``.

    On Linux, ``ru_maxrss`` of ``RUSAGE_SELF`` is not reset by ``execve``: it starts at the
    RSS of the forked copy of the parent (the benchmark, which imports the simulator's
    server code), so for a small child it reports the parent's size. ``VmHWM`` is the
    high-water mark of this process image's own memory.
    """
    peak = _status_kib("VmHWM")
    # Elsewhere ru_maxrss is all there is (in KiB on Linux and BSD, in bytes on macOS).
    return peak if peak is not None else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


async def run(args: argparse.Namespace) -> dict[str, Any]:
    password = os.environ[PASSWORD_ENV]
    async with WsOneClient(args.url, username=args.username, password=password) as client:
        gc.collect()
        start_rss = _peak_rss_kib()
        records = rows(args.size)
        started, cpu_started = time.perf_counter(), time.process_time()
        if args.method == "semaphore":
            counts = await semaphore_import(client, records, args.concurrency)
        elif args.method == "semaphore-file":
            from_file = (row for _line, row in read_rows(args.file))
            counts = await semaphore_import(client, from_file, args.concurrency)
        elif args.method == "aread":
            summary = await run_import(
                client,
                (row async for _line, row in aread_rows(args.file)),
                to_request=prospect_from_row,
                concurrency=args.concurrency,
                dedupe=False,
            )
            counts = summary.counts
        else:
            summary = await run_import(
                client,
                records,
                to_request=prospect_from_row,
                concurrency=args.concurrency,
                dedupe=args.method == "dedupe-on",
            )
            counts = summary.counts
        seconds = time.perf_counter() - started
        cpu_seconds = time.process_time() - cpu_started
    return {
        "method": args.method,
        "size": args.size,
        "concurrency": args.concurrency,
        "seconds": seconds,
        "rows_per_s": args.size / seconds,
        # This process's CPU per row: what the client side costs, less sensitive than
        # rows/s to other work on the machine.
        "cpu_us_per_row": cpu_seconds / args.size * 1e6,
        "start_rss_kib": start_rss,
        "peak_rss_kib": _peak_rss_kib(),
        "ru_maxrss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
        "counts": counts,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--username", default="wsone")
    parser.add_argument("--method", choices=METHODS, required=True)
    parser.add_argument("--size", type=int, required=True)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--file", help="the CSV of the rows, for semaphore-file and aread")
    args = parser.parse_args()
    result = asyncio.run(run(args))
    sys.stdout.write(json.dumps(result) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
