"""The ``wsone`` command: ``serve`` a simulator, run the ``demo``, ``import`` prospects.

Run ``wsone --help`` (or ``python -m wsone_async --help``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import csv
import getpass
import json
import os
import pathlib
import signal
import sys
import time
from collections.abc import AsyncIterator, Callable
from typing import IO, Any, Final

from wsone_async import models as m
from wsone_async._version import __version__
from wsone_async.bulk import (
    COLUMNS,
    ImportResult,
    ImportSummary,
    Outcome,
    RowError,
    aread_rows,
    prospect_from_row,
    run_import,
)
from wsone_async.client import WsOneClient
from wsone_async.errors import WsOneError

__all__ = ["main"]

#: Where ``wsone import`` reads the password when it is not prompted for.
PASSWORD_ENV: Final = "WSONE_PASSWORD"  # noqa: S105  (a variable's name, no secret)
_EXIT_USAGE: Final = 2
_EXIT_INTERRUPTED: Final = 130


def _out(text: str = "", *, stream: IO[str] | None = None) -> None:
    stream = stream or sys.stdout
    stream.write(text + "\n")
    stream.flush()


def _mask(value: str | None) -> str:
    """A customer identifier made fit for a terminal: its last 4 characters only."""
    if not value:
        return "-"
    return "•" * 4 + value[-4:]


# --------------------------------------------------------------------------- progress


class _Progress:
    """A progress bar with rate and ETA on a terminal; plain lines otherwise."""

    def __init__(self, total: int | None, stream: IO[str], *, every: float = 2.0) -> None:
        self.total = total
        self.stream = stream
        self.tty = stream.isatty()
        self.counts = dict.fromkeys(("created", "existing", "failed", "unknown", "resumed"), 0)
        self.done = 0
        self._started = time.monotonic()
        self._last = 0.0
        self._every = every if not self.tty else 0.2
        # Plain lines also come every 5% of the rows, so a log shows steady progress.
        self._step = max(1, total // 20) if total and not self.tty else None

    def add(self, result: ImportResult) -> None:
        self.done += 1
        self.counts["resumed" if result.resumed else result.outcome.value] += 1
        now = time.monotonic()
        stepped = self._step is not None and self.done % self._step == 0
        if stepped or now - self._last >= self._every or self.done == self.total:
            self._last = now
            self.show()

    def line(self) -> str:
        elapsed = max(time.monotonic() - self._started, 1e-9)
        rate = self.done / elapsed
        counts = ", ".join(f"{name} {count}" for name, count in self.counts.items() if count)
        if self.total:
            share = self.done / self.total
            left = (self.total - self.done) / rate if rate > 0 else 0.0
            bar = "#" * int(share * 20) + "." * (20 - int(share * 20))
            return (
                f"[{bar}] {self.done}/{self.total} {share:4.0%} {rate:6.0f} rows/s "
                f"ETA {left:4.0f}s  {counts}"
            )
        return f"{self.done} rows {rate:6.0f} rows/s  {counts}"

    def show(self) -> None:
        if self.tty:
            self.stream.write("\r" + self.line())
        else:
            self.stream.write(self.line() + "\n")
        self.stream.flush()

    def finish(self) -> None:
        if self.tty:
            self.stream.write("\n")
            self.stream.flush()


# ----------------------------------------------------------------------------- import


def _import_parser(sub: Any) -> None:
    parser = sub.add_parser(
        "import",
        help="import prospects from a CSV or JSON Lines file",
        description=(
            "Import prospects from FILE (CSV with a header, or .jsonl), each person created "
            f"once. The password comes from ${PASSWORD_ENV}, or is prompted for."
        ),
    )
    parser.add_argument("file", help="the prospects file (.csv, or .jsonl/.ndjson)")
    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument("--base-url", help="the WsOne root URL, such as https://loyalty.example.fr")
    target.add_argument(
        "--simulate", action="store_true", help="import into an embedded simulator instead"
    )
    parser.add_argument("--user", help="the API user (with --base-url)")
    parser.add_argument("--concurrency", type=int, default=16, help="records in progress at once")
    parser.add_argument("--rate", type=float, default=None, help="max requests per second")
    parser.add_argument(
        "--dedupe",
        choices=("identifier", "search", "none"),
        default="identifier",
        help="search before creating: by identifier (getPerson), by data (searchPerson), or not",
    )
    parser.add_argument("--journal", help="journal file: rerun with the same file to resume")
    parser.add_argument(
        "--failures", help="write failed and unknown rows, with reasons, to this CSV"
    )
    parser.add_argument("--summary-json", help="write the summary as JSON to this file")
    parser.add_argument("--source", help="the requests' 'source' field, such as CONTEST-2026")


def _count_rows(path: str) -> int:
    # For the progress bar's total only: count lines, without parsing (a quoted CSV field
    # holding a line break makes it an estimate, which is fine for an ETA).
    with open(path, "rb") as file:
        lines = sum(1 for line in file if line.strip())
    return lines if path.lower().endswith((".jsonl", ".ndjson")) else max(lines - 1, 0)


class _Failures:
    """The failures file: the failed and unknown rows, with their line and reason."""

    def __init__(self, path: str | None) -> None:
        self._file = open(path, "w", encoding="utf-8", newline="") if path else None  # noqa: SIM115
        self._writer = (
            csv.DictWriter(
                self._file,
                fieldnames=["line", "outcome", "field", "reason", *COLUMNS],
                extrasaction="ignore",
            )
            if self._file
            else None
        )
        if self._writer is not None:
            self._writer.writeheader()
        self.written = 0

    def add(self, line: int, row: dict[str, Any], result: ImportResult) -> None:
        if self._writer is None:
            return
        error = result.error
        field = error.field if isinstance(error, RowError) else ""
        reason = (
            error.problem if isinstance(error, RowError) else str(error or result.outcome.value)
        )
        self._writer.writerow(
            {
                **{k: v for k, v in row.items() if k in COLUMNS},
                "line": line,
                "outcome": result.outcome.value,
                "field": field,
                "reason": reason,
            }
        )
        self.written += 1

    def close(self) -> None:
        if self._file is not None:
            self._file.close()


def _password(args: argparse.Namespace) -> str:
    password = os.environ.get(PASSWORD_ENV)
    if password:
        return password
    if not sys.stdin.isatty():
        msg = f"no password: set ${PASSWORD_ENV} (it is never taken from the command line)"
        raise SystemExit(msg)
    return getpass.getpass(f"WsOne password for {args.user}: ")


@contextlib.asynccontextmanager
async def _target(args: argparse.Namespace) -> AsyncIterator[WsOneClient]:
    if args.simulate:
        from wsone_async.testing import WsOneSimulator

        async with (
            WsOneSimulator() as sim,
            WsOneClient(sim.url, username=sim.username, password=sim.password) as client,
        ):
            _out(f"importing into an embedded WsOne simulator at {sim.url}", stream=sys.stderr)
            yield client
        return
    if not args.user:
        msg = "wsone import: --user is required with --base-url"
        raise SystemExit(msg)
    async with WsOneClient(args.base_url, username=args.user, password=_password(args)) as client:
        yield client


async def _run_import(args: argparse.Namespace) -> int:
    total = await asyncio.to_thread(_count_rows, args.file)
    progress = _Progress(total, sys.stderr)
    failures = _Failures(args.failures)
    pending: dict[int, tuple[int, dict[str, Any]]] = {}

    async def rows() -> AsyncIterator[tuple[int, dict[str, Any]]]:
        index = 0
        async for line, row in aread_rows(args.file):
            pending[index] = (line, row)
            index += 1
            yield line, row

    def to_request(item: tuple[int, dict[str, Any]]) -> m.CreatePersonRequest:
        line, row = item
        try:
            return prospect_from_row(row, source=args.source)
        except RowError as exc:
            raise RowError(exc.field, exc.problem, line=line) from None

    def on_result(result: ImportResult) -> None:
        line, row = pending.pop(result.index)
        progress.add(result)
        if result.outcome in (Outcome.FAILED, Outcome.UNKNOWN):
            failures.add(line, row, result)

    dedupe: Any = False if args.dedupe == "none" else args.dedupe
    interrupted = False
    summary: ImportSummary | None = None
    started = time.monotonic()
    try:
        async with _target(args) as client:
            task = asyncio.ensure_future(
                run_import(
                    client,
                    rows(),
                    to_request=to_request,
                    on_result=on_result,
                    concurrency=args.concurrency,
                    rate_limit=args.rate,
                    dedupe=dedupe,
                    journal=args.journal,
                )
            )
            loop = asyncio.get_running_loop()
            with contextlib.suppress(NotImplementedError):
                # Ctrl-C stops the import cleanly: workers cancelled, the journal closed
                # with everything that settled, the summary written.
                loop.add_signal_handler(signal.SIGINT, task.cancel)
            try:
                summary = await task
            except asyncio.CancelledError:
                if not task.cancelled():
                    raise  # this command itself was cancelled, not the import by Ctrl-C
                interrupted = True
            finally:
                with contextlib.suppress(NotImplementedError):
                    loop.remove_signal_handler(signal.SIGINT)
    finally:
        progress.finish()
        failures.close()
    counts = summary.counts if summary is not None else dict(progress.counts)
    seconds = summary.seconds if summary is not None else time.monotonic() - started
    all_settled = summary is not None and summary.all_settled
    report = {
        "file": args.file,
        "rows": total,
        **counts,
        "seconds": round(seconds, 3),
        "rows_per_second": round(progress.done / seconds, 1) if seconds else None,
        "interrupted": interrupted,
        "all_settled": all_settled and not interrupted,
        "journal": args.journal,
        "failures_file": args.failures,
    }
    if args.summary_json:
        text = json.dumps(report, indent=2) + "\n"
        await asyncio.to_thread(pathlib.Path(args.summary_json).write_text, text, "utf-8")
    words = ", ".join(f"{name} {counts[name]}" for name in counts)
    state = "interrupted" if interrupted else "done"
    _out(f"{state}: {progress.done} of {total} rows in {seconds:.1f}s: {words}")
    if failures.written:
        _out(f"{failures.written} failed or unknown rows written to {args.failures}")
    if interrupted:
        return _EXIT_INTERRUPTED
    return 0 if all_settled else 1


# ------------------------------------------------------------------------------- demo


def _demo_parser(sub: Any) -> None:
    parser = sub.add_parser(
        "demo",
        help="run the vendor's documented workflows against an embedded simulator",
        description=(
            "Start a WsOne simulator in this process and run the vendor's documented "
            "workflows through WsOneClient, as a user would."
        ),
    )
    parser.add_argument("--prospects", type=int, default=300, help="prospects to create")
    parser.add_argument("--concurrency", type=int, default=32, help="requests in flight at once")


async def _demo(args: argparse.Namespace) -> int:
    # The steps live in their own module (wsone_async._demo), imported only when asked for.
    from wsone_async._demo import run_demo

    return await run_demo(prospects=args.prospects, concurrency=args.concurrency)


# ------------------------------------------------------------------------------- main


def build_parser() -> argparse.ArgumentParser:
    """The ``wsone`` command line."""
    parser = argparse.ArgumentParser(prog="wsone", description="WsOne from the command line.")
    parser.add_argument("--version", action="version", version=f"wsone_async {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser(
        "serve",
        help="serve an embedded WsOne simulator until Ctrl-C (see 'wsone serve --help')",
        add_help=False,
    )
    _demo_parser(sub)
    _import_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the ``wsone`` command; returns its exit status.

    Args:
        argv: the arguments (default: ``sys.argv[1:]``).
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["serve"]:
        from wsone_async.testing._serve import main as serve

        return serve(argv[1:])
    parser = build_parser()
    args = parser.parse_args(argv)
    runners: dict[str, Callable[[argparse.Namespace], Any]] = {
        "demo": _demo,
        "import": _run_import,
    }
    try:
        return int(asyncio.run(runners[args.command](args)))
    except KeyboardInterrupt:
        return _EXIT_INTERRUPTED
    except (OSError, WsOneError) as exc:
        _out(f"wsone {args.command}: {exc}", stream=sys.stderr)
        return 1
