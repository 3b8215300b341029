"""The ``wsone`` command: ``serve`` a simulator, run the ``demo``, ``import`` prospects.

Run ``wsone --help`` (or ``python -m wsone_async --help``).
"""

from __future__ import annotations

import argparse
import asyncio
import codecs
import collections
import contextlib
import csv
import json
import os
import pathlib
import signal
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator
from typing import IO, Any, Final, NoReturn

from wsone_async import _probe
from wsone_async import models as m
from wsone_async._config import PASSWORD_ENV
from wsone_async._console import (
    MAX_CONCURRENCY,
    UsageError,
    add_insecure_http,
    concurrency,
    interruptible,
    option_words,
    password,
    pool_size,
    positive_int,
    say,
)
from wsone_async._version import __version__
from wsone_async.bulk import (
    COLUMNS,
    REASON_COLUMNS,
    Dialect,
    ImportResult,
    ImportSummary,
    InputError,
    JournalInUseError,
    Outcome,
    ProspectFile,
    RowError,
    WsOneUnavailableError,
    aread,
    check_connection,
    in_shard,
    open_prospects,
    prospect_from_row,
    run_import,
)
from wsone_async.client import WsOneClient
from wsone_async.errors import (
    SUCCESS,
    APIError,
    AuthenticationError,
    NotFoundError,
    WsOneError,
    _shown_code,
)

__all__ = ["main"]

_EXIT_USAGE: Final = 2
_EXIT_INTERRUPTED: Final = 130
_STOP_SIGNALS: Final = (signal.SIGINT, signal.SIGTERM)


# --------------------------------------------------------------------------- progress


class _Progress:
    """A progress bar with rate and ETA on a terminal; plain lines otherwise.

    The rate and the ETA count only the rows this run works on: rows an earlier run
    settled (resumed from the journal) and other shards' rows pass in no time.
    """

    def __init__(
        self,
        total: int | None,
        stream: IO[str],
        *,
        every: float = 5.0,
        share: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.total = total
        self.stream = stream
        self.tty = stream.isatty()
        self.counts = dict.fromkeys(("created", "existing", "failed", "unknown", "resumed"), 0)
        self.done = 0
        self.skipped = 0
        self._share = share
        self._clock = clock
        self._started = clock()
        self._last = self._started
        # A log gets a line every few seconds at most; a terminal redraws its bar.
        self._every = every if not self.tty else 0.2

    def skip(self) -> None:
        """Count a row of another shard (read, not this run's work)."""
        self.skipped += 1

    def add(self, result: ImportResult) -> None:
        self.done += 1
        self.counts["resumed" if result.resumed else result.outcome.value] += 1
        now = self._clock()
        if now - self._last >= self._every:
            self._last = now
            self.show()

    def line(self) -> str:
        elapsed = max(self._clock() - self._started, 1e-9)
        worked = self.done - self.counts["resumed"]
        rate = worked / elapsed
        counts = ", ".join(f"{name} {count}" for name, count in self.counts.items() if count)
        position = self.done + self.skipped
        if self.total:
            share = min(position / self.total, 1.0)
            left = (self.total - position) * self._share
            eta = f"ETA {max(left, 0) / rate:4.0f}s" if rate > 0 else "ETA    ?"
            bar = "#" * int(share * 20) + "." * (20 - int(share * 20))
            return (
                f"[{bar}] {position}/{self.total} {share:4.0%} {rate:6.0f} rows/s {eta}  {counts}"
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

#: ``wsone import``'s exit statuses: ``--help`` shows this table, and the README too.
EXIT_STATUSES: Final = (
    (0, "every row ended created or existing (in this run or an earlier one)"),
    (1, "some rows failed or stayed unknown (see --failures)"),
    (2, "usage or input error: a bad option, a missing file, no identifier column, "
        "a journal in use, a journal or --failures file that cannot be written (a full "
        "disk)"),
    (3, "WsOne refused the credentials (HTTP 401 or 403)"),
    (4, "WsOne unreachable or unavailable, or no WsOne API at --base-url"),
    (130, "interrupted (Ctrl-C or SIGTERM): rerun with the same --journal to resume"),
)  # fmt: skip
_EXIT_ROWS: Final = 1
_EXIT_CREDENTIALS: Final = 3
_EXIT_UNAVAILABLE: Final = 4


class _Exit(Exception):
    """Ends ``wsone import`` with one line on stderr and a specific exit status."""

    def __init__(self, status: int, message: str) -> None:
        self.status = status
        super().__init__(message)


class _HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Defaults shown (those that are values, not "none"), the epilog's table as written."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        if action.default not in (None, False, [], argparse.SUPPRESS) and "default" not in text:
            text += " (default: %(default)s)"
        return text


class _OneLineErrors(argparse.ArgumentParser):
    """A bad option gets one line, not the usage block above it: in a job runner's log
    the reason is the line that matters, and ``--help`` is one command away."""

    def error(self, message: str) -> NoReturn:
        self.exit(_EXIT_USAGE, f"{self.prog}: {message} (see '{self.prog} --help')\n")


def _positive_float(text: str) -> float:
    try:
        number = float(text)
    except ValueError:
        number = 0.0
    if not 0 < number < float("inf"):
        msg = f"must be a positive number, not {text!r}"
        raise argparse.ArgumentTypeError(msg)
    return number


def _shard(text: str) -> tuple[int, int]:
    number, _, count = text.partition("/")
    try:
        shard = int(number), int(count)
    except ValueError:
        shard = (-1, 0)
    if not 0 <= shard[0] < shard[1]:
        msg = f"must be K/N with 0 <= K < N, such as 0/4 (shards count from 0), not {text!r}"
        raise argparse.ArgumentTypeError(msg)
    return shard


def _response_code(text: str) -> str:
    code = _shown_code(text.strip())  # what a code looks like, as the library shows one
    if code is None:
        msg = (
            "must be a responseCode, such as 101 (up to 16 letters, digits, '-', '_' or '.'), "
            f"not {text!r}"
        )
        raise argparse.ArgumentTypeError(msg)
    if code == SUCCESS:
        msg = f"{code} is WsOne's success code, not a refusal: name the code of 'not found'"
        raise argparse.ArgumentTypeError(msg)
    return code


def _column_map(text: str) -> tuple[str, str]:
    source, equals, column = text.rpartition("=")
    if not equals or not source.strip():
        msg = f"must be SOURCE=COLUMN, such as 'Courriel=identifier_value', not {text!r}"
        raise argparse.ArgumentTypeError(msg)
    if column.strip() not in COLUMNS:
        msg = f"{column.strip()!r} is not a documented column; use one of: {', '.join(COLUMNS)}"
        raise argparse.ArgumentTypeError(msg)
    return source.strip(), column.strip()


_DELIMITER_NAMES: Final = {",": ",", ";": ";", "tab": "\t", "\t": "\t", "\\t": "\t"}


def _delimiter(text: str) -> str:
    if text.lower() not in _DELIMITER_NAMES:
        msg = f"must be ',', ';' or 'tab', not {text!r}"
        raise argparse.ArgumentTypeError(msg)
    return _DELIMITER_NAMES[text.lower()]


def _encoding(text: str) -> str:
    try:
        name = codecs.lookup(text).name
    except LookupError:
        name = ""
    # Lines are split on the byte of '\n': only encodings that keep ASCII as it is fit.
    if not name or "\n,;".encode(name, "ignore") != b"\n,;" or name.startswith("utf-16"):
        msg = f"must be an encoding that keeps ASCII, such as utf-8 or cp1252, not {text!r}"
        raise argparse.ArgumentTypeError(msg)
    return name


def _import_parser(sub: Any) -> None:
    statuses = "\n".join(f"  {status:>3}  {meaning}" for status, meaning in EXIT_STATUSES)
    parser = sub.add_parser(
        "import",
        help="import prospects from a CSV or JSON Lines file",
        formatter_class=_HelpFormatter,
        description=(
            "Import prospects from FILE (CSV with a header, or .jsonl), each person created\n"
            f"once. The password comes from ${PASSWORD_ENV}, or is prompted for. The file's\n"
            "encoding (UTF-8 with or without BOM, else cp1252) and delimiter (, ; or tab)\n"
            "are detected; unknown columns are ignored with a warning."
        ),
        epilog=f"exit statuses:\n{statuses}",
    )
    parser.__class__ = _OneLineErrors  # the subparsers' class is shared by every command
    parser.add_argument("file", help="the prospects file (.csv, or .jsonl/.ndjson)")
    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument("--base-url", help="the WsOne root URL, such as https://loyalty.example.fr")
    target.add_argument(
        "--simulate", action="store_true", help="import into an embedded simulator instead"
    )
    parser.add_argument("--user", help="the API user (with --base-url)")
    add_insecure_http(parser)
    parser.add_argument(
        "--concurrency",
        type=concurrency,
        default=16,
        help=f"records in progress at once, at most {MAX_CONCURRENCY}",
    )
    parser.add_argument(
        "--rate", type=_positive_float, default=None, help="max requests per second"
    )
    parser.add_argument(
        "--dedupe",
        choices=("identifier", "search", "none"),
        default="identifier",
        help="search before creating: by identifier (getPerson), by data (searchPerson), or not",
    )
    parser.add_argument("--journal", help="journal file: rerun with the same file to resume")
    parser.add_argument(
        "--failures",
        help="write the failed and unknown rows to this file, as the input is written "
        "(encoding, delimiter), with reason columns that a re-import ignores",
    )
    parser.add_argument("--summary-json", help="write the summary as JSON to this file")
    parser.add_argument("--source", help="the requests' 'source' field, such as CONTEST-2026")
    parser.add_argument(
        "--encoding",
        type=_encoding,
        default=None,
        help="the file's encoding, such as cp1252 (default: detected; a line it cannot "
        "decode is a bad row)",
    )
    parser.add_argument(
        "--delimiter",
        type=_delimiter,
        default=None,
        help="the CSV delimiter: ',', ';' or 'tab' (default: detected from the header)",
    )
    parser.add_argument(
        "--map",
        type=_column_map,
        action="append",
        default=[],
        metavar="SOURCE=COLUMN",
        help="read the file's column SOURCE as COLUMN, such as 'Courriel=identifier_value' "
        "(repeatable)",
    )
    parser.add_argument(
        "--not-found-code",
        type=_response_code,
        action="append",
        default=[],
        metavar="CODE",
        help="a responseCode your WsOne answers for a person it does not know, such as 101 "
        "(repeatable): with it, a creation whose outcome is unknown and that a lookup does "
        "not find is sent again; without it, that row ends unknown (the vendor documents "
        "no such code)",
    )
    parser.add_argument(
        "--strict-columns",
        action="store_true",
        help="refuse a file with unknown columns instead of ignoring them",
    )
    parser.add_argument(
        "--shard",
        type=_shard,
        default=None,
        metavar="K/N",
        help="import only shard K of N (K from 0), split on the identifier: N imports "
        "of one file, each with its own --journal, create each person exactly once. A row "
        "that fails goes by its identifier as typed (none: shard 0), so its --failures "
        "file, fixed, imports with the same K/N; after changing an identifier there, "
        "import that file with every K (or no --shard)",
    )


class _FailuresInUseError(OSError):
    """Another import is writing the failures file."""


def _claim(path: str) -> int:
    """The failures file, opened for writing, locked, and only then emptied.

    Opened with "w", the file of an import still running (the same command started twice)
    was emptied under it: that import went on writing past a hole of NUL bytes, and said
    it wrote rows that were gone. The lock (``flock``, as for the journal) dies with its
    process; where ``fcntl`` does not exist (Windows) the file is emptied unlocked.
    """
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o666)
    try:
        if sys.platform != "win32":
            import fcntl

            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                msg = "in use by another import: give this import its own --failures file"
                raise _FailuresInUseError(msg) from None
        os.ftruncate(fd, 0)
    except BaseException:
        os.close(fd)
        raise
    return fd


def _refusal_code(error: BaseException | None) -> str | None:
    """The code of a lasting refusal (not "not found", not throttling) in ``error``'s causes
    and contexts: for a row left unknown, what the lookup that was to settle it answered."""
    pending, seen = [error], set()
    while pending:
        current = pending.pop(0)
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        if (
            isinstance(current, APIError)
            and not isinstance(current, NotFoundError)
            and not current.retryable  # a throttling code says "later", not "not found"
        ):
            return _shown_code(current.code)
        pending += [current.__cause__, current.__context__]
    return None


class _Failures:
    """The failures file, written as the input is: its columns first, then the reasons.

    A user corrects the rows (in Excel, say) and imports the file again: the reason
    columns (:data:`~wsone_async.bulk.REASON_COLUMNS`) are recognised and ignored.
    """

    def __init__(self, path: str | None, dialect: Dialect) -> None:
        self.path = path
        #: Why the file could not be completed at the end (a full disk at the last flush).
        self.unwritten: str | None = None
        #: The responseCodes that settling lookups answered for the rows left unknown.
        self.lookup_codes: collections.Counter[str] = collections.Counter()
        self.written = 0
        #: The input lines of the rows written with a character the file's encoding cannot
        #: hold (a UTF-8 line in a cp1252 file): written as "?", to be fixed by hand.
        self.replaced: list[int] = []
        self.encoding = dialect.encoding
        self._json = dialect.kind == "jsonl"
        self._file: IO[str] | None = None
        self._writer: Any = None
        if path is None:
            return
        encoding = "utf-8-sig" if dialect.bom else dialect.encoding
        self._file = open(  # noqa: SIM115  (closed by close())
            _claim(path), "w", encoding=encoding, errors="replace", newline=""
        )
        if self._json:
            return
        # The input's own reason columns (a failures file imported again) are replaced.
        self._keep = [
            i
            for i, name in enumerate(dialect.header)
            if name.strip().casefold() not in REASON_COLUMNS
        ]
        self._writer = csv.writer(self._file, delimiter=dialect.delimiter)
        self._writer.writerow([*(dialect.header[i] for i in self._keep), *REASON_COLUMNS])

    def add(self, line: int, raw: Any, result: ImportResult) -> None:
        error = result.error
        if result.outcome is Outcome.UNKNOWN:
            code = _refusal_code(error)
            if code is not None:
                self.lookup_codes[code] += 1
        if self._file is None:
            return
        field = error.field if isinstance(error, RowError) else ""
        reason = (
            error.problem if isinstance(error, RowError) else str(error or result.outcome.value)
        )
        reasons = [str(line), result.outcome.value, field, reason]
        try:
            if self._json:
                record = {k: v for k, v in (raw or {}).items() if k not in REASON_COLUMNS}
                record.update(zip(REASON_COLUMNS, reasons, strict=True))
                self._file.write(json.dumps(record, ensure_ascii=False) + "\n")
            else:
                cells = [raw[i] if i < len(raw) else "" for i in self._keep]
                self._writer.writerow([*cells, *reasons])
                try:
                    "".join(cells).encode(self.encoding)
                except UnicodeEncodeError:
                    self.replaced.append(line)
        except OSError as exc:
            # A write error names no file: the import's message must name this one, not
            # the journal or the input.
            exc.filename = exc.filename or f"--failures {self.path}"
            raise
        self.written += 1

    def hint(self) -> str | None:
        """What to try when rows stayed unknown because a lookup's code was not "not found"."""
        if not self.lookup_codes:
            return None
        (code, count), *_ = self.lookup_codes.most_common(1)
        return (
            f"{count} unknown row(s): the lookup that could tell answered responseCode "
            f"{code!r}; if your WsOne means 'person not found' by it, rerun with "
            f"--not-found-code {code} (rows it does not find are then sent again)"
        )

    def close(self) -> None:
        if self._file is not None:
            try:
                self._file.close()
            except OSError as exc:  # its last flush: said after the summary
                self.unwritten = f"--failures {self.path}: {exc.strerror or exc}"


@contextlib.asynccontextmanager
async def _target(
    args: argparse.Namespace, signals: _StopSignals
) -> AsyncIterator[tuple[WsOneClient, str]]:
    if args.simulate:
        from wsone_async.testing import SIMULATOR_ERROR_CLASSES, WsOneSimulator

        async with (
            WsOneSimulator() as sim,
            WsOneClient(
                sim.url,
                username=sim.username,
                password=sim.password,
                max_connections=pool_size(args.concurrency),
                codes={**SIMULATOR_ERROR_CLASSES, **_not_found(args)},
            ) as client,
        ):
            yield client, f"an embedded WsOne simulator at {sim.url}"
        return
    try:
        secret = password(args.user, prompting=signals.blocking)
    except UsageError as exc:
        raise _Exit(_EXIT_USAGE, str(exc)) from None
    try:
        client = WsOneClient(
            args.base_url,
            username=args.user,
            password=secret,
            allow_insecure_http=args.allow_insecure_http,
            max_connections=pool_size(args.concurrency),
            codes=_not_found(args) or None,
        )
    except ValueError as exc:
        # The library names its keyword; a user of the command needs the option's name.
        raise _Exit(_EXIT_USAGE, f"--base-url / --user: {option_words(str(exc))}") from None
    async with client:
        yield client, f"{args.base_url.rstrip('/')} as {args.user}"


def _not_found(args: argparse.Namespace) -> dict[str, type[APIError]]:
    """The --not-found-code options, as the client's ``codes=``."""
    return dict.fromkeys(args.not_found_code, NotFoundError)


def _mapping(pairs: list[tuple[str, str]]) -> dict[str, str]:
    """The --map options as a dict, refusing one source mapped twice (the last one won,
    and the first column then seemed missing)."""
    mapping: dict[str, str] = {}
    seen: dict[str, str] = {}
    for source, column in pairs:
        folded = source.casefold()
        if folded in seen and mapping[seen[folded]] != column:
            msg = f"--map names {source!r} twice, as {mapping[seen[folded]]} and as {column}"
            raise _Exit(_EXIT_USAGE, msg)
        seen[folded] = source
        mapping[source] = column
    return mapping


def _same_file(one: str, other: str) -> bool:
    try:
        return os.path.samefile(one, other)
    except OSError:  # one of them does not exist yet
        return os.path.realpath(one) == os.path.realpath(other)


def _check_outputs(args: argparse.Namespace) -> None:
    """Refuse an output that is the input or another output: it would be overwritten."""
    seen = [("the input file", args.file)]
    for option in ("failures", "journal", "summary_json"):
        path = getattr(args, option)
        if path is None:
            continue
        name = "--" + option.replace("_", "-")
        for other_name, other in seen:
            if _same_file(path, other):
                msg = f"{name} {path} is also {other_name}: give it a file of its own"
                raise _Exit(_EXIT_USAGE, msg)
        seen.append((name, path))
    if args.summary_json is not None:
        # Checked now: written at the end, it failed after the whole import, with exit 1.
        folder = os.path.dirname(os.path.abspath(args.summary_json))
        if os.path.isdir(args.summary_json) or not os.path.isdir(folder):
            why = "a directory" if os.path.isdir(args.summary_json) else "no such directory"
            raise _Exit(_EXIT_USAGE, f"--summary-json {args.summary_json}: {why}")


def _open_source(args: argparse.Namespace) -> ProspectFile | None:
    if os.path.isdir(args.file):
        raise _Exit(_EXIT_USAGE, f"{args.file}: a directory, not a file")
    if os.path.exists(args.file) and not os.path.isfile(args.file):
        # Such as /dev/stdin: the file is read more than once (its size, then its rows).
        msg = f"{args.file}: not a regular file; save the rows to a file and import that"
        raise _Exit(_EXIT_USAGE, msg)
    if not os.path.isfile(args.file):
        raise _Exit(_EXIT_USAGE, f"{args.file}: no such file")
    _check_outputs(args)
    if os.path.getsize(args.file) == 0:
        return None  # not even a header: no rows, said as for a file with a header only
    try:
        return open_prospects(
            args.file,
            encoding=args.encoding,
            delimiter=args.delimiter,
            mapping=_mapping(args.map),
            strict_columns=args.strict_columns,
        )
    except InputError as exc:
        raise _Exit(_EXIT_USAGE, f"{args.file}: {exc}; nothing was imported") from None
    except OSError as exc:
        raise _Exit(_EXIT_USAGE, f"{args.file}: {exc.strerror or exc}") from None


class _StopSignals:
    """Ctrl-C and SIGTERM (a job runner's stop, a Kubernetes eviction), from the command's
    first line to its summary: each cancels what runs at that moment, the command itself
    until the import starts, then the import (its workers cancelled, the journal closed
    with everything that settled). Either way the summary is written and the exit status is
    130. Installed first thing: a SIGTERM while the file was read or WsOne checked ended the
    process on the spot, without a word. A signal while the command already stops is only
    noted. (Not available on Windows, nor outside the main thread: there the default
    actions stay.)
    """

    def __init__(self) -> None:
        self.received = False
        self._target: asyncio.Future[Any] | None = None
        self._installed = False

    def aim(self, target: asyncio.Future[Any] | None) -> None:
        """Cancel ``target`` on a signal from now on (None: only note the signal)."""
        self._target = target

    def _stop(self) -> None:
        self.received = True
        # Once: a second signal (an impatient Ctrl-C) while the target stops would cancel
        # its cleanup, or the summary, and end the command on a CancelledError traceback.
        target, self._target = self._target, None
        if target is not None:
            target.cancel()

    def _install(self) -> None:
        loop = asyncio.get_running_loop()
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            for stop_signal in _STOP_SIGNALS:
                loop.add_signal_handler(stop_signal, self._stop)
            self._installed = True

    def _remove(self) -> None:
        loop = asyncio.get_running_loop()
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            for stop_signal in _STOP_SIGNALS:
                loop.remove_signal_handler(stop_signal)

    def __enter__(self) -> _StopSignals:
        self._target = asyncio.current_task()
        self._install()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._remove()

    @contextlib.contextmanager
    def blocking(self) -> Iterator[None]:
        """For a call that blocks the event loop (the password prompt), whose handlers
        then cannot run: a signal raises KeyboardInterrupt in the call itself instead."""
        removed = self._installed
        if removed:
            self._remove()  # else the loop would also see the signal once the call returns
        try:
            with interruptible():
                yield
        except KeyboardInterrupt:
            self.received = True
            self._target = None  # stopping already, as after _stop
            raise
        finally:
            if removed:
                self._install()


async def _run_import(args: argparse.Namespace) -> int:
    with _StopSignals() as signals:
        try:
            return await _import(args, signals)
        except _Exit as stop:
            say(f"wsone import: {stop}", stream=sys.stderr)
            return stop.status


async def _import(args: argparse.Namespace, signals: _StopSignals) -> int:
    if args.base_url and not args.user:
        raise _Exit(_EXIT_USAGE, "--user is required with --base-url")
    err = sys.stderr
    shard: tuple[int, int] | None = args.shard
    progress = _Progress(None, err, share=1 / shard[1] if shard else 1.0)
    pending: dict[int, tuple[int, Any]] = {}
    source: ProspectFile | None = None
    failures: _Failures | None = None
    total: int | None = None
    interrupted = False
    stopped: _Exit | None = None
    summary: ImportSummary | None = None
    started = time.monotonic()
    try:
        source = await asyncio.to_thread(_open_source, args)
        if source is None:
            say(f"{args.file} is empty: nothing to import")
            return 0
        dialect = source.dialect
        say(f"reading {args.file}: {dialect.describe()}", stream=err)
        if dialect.unknown:
            say(
                f"warning: ignoring the unknown columns {', '.join(map(repr, dialect.unknown))} "
                "(--map SOURCE=COLUMN imports one, --strict-columns refuses them)",
                stream=err,
            )
        total = progress.total = await asyncio.to_thread(source.count)
        if total == 0:
            say(f"{args.file} has no rows: nothing to import")
            return 0
        try:
            failures = _Failures(args.failures, dialect)
        except _FailuresInUseError as exc:
            raise _Exit(_EXIT_USAGE, f"--failures {args.failures}: {exc}") from None
        except OSError as exc:
            msg = f"--failures {args.failures}: {exc.strerror or exc}"
            raise _Exit(_EXIT_USAGE, msg) from None
        summary, stopped, interrupted = await _run_rows(
            args, source, failures, progress, pending, signals, total
        )
    except (asyncio.CancelledError, KeyboardInterrupt) as exc:
        if not signals.received:
            raise  # this command itself was cancelled, not by Ctrl-C or SIGTERM
        task = asyncio.current_task()
        if isinstance(exc, asyncio.CancelledError) and task is not None:
            task.uncancel()
        interrupted = True
        say("interrupted before the first row: nothing was imported", stream=err)
    finally:
        progress.finish()
        if failures is not None:
            failures.close()
    return await _finish(
        args, source, failures, progress, total, summary, stopped, interrupted, started
    )


async def _run_rows(
    args: argparse.Namespace,
    source: ProspectFile,
    failures: _Failures,
    progress: _Progress,
    pending: dict[int, tuple[int, Any]],
    signals: _StopSignals,
    total: int,
) -> tuple[ImportSummary | None, _Exit | None, bool]:
    """Check WsOne, then import the rows: ``(summary, stopped, interrupted)``."""
    shard: tuple[int, int] | None = args.shard

    async def records() -> AsyncIterator[m.CreatePersonRequest | RowError]:
        # Rows become requests here, so that another shard's rows are dropped before
        # they are handed over. The split is on the identifier as typed, for a row that
        # fails too (never its position): fixed, it comes back to the same shard.
        index = 0
        async for line, row, raw in aread(source.rows()):
            if shard is not None and not in_shard(source.shard_key(row, raw), shard):
                progress.skip()
                continue
            record: m.CreatePersonRequest | RowError
            try:
                record = prospect_from_row(row, source=args.source)
            except RowError as exc:
                record = RowError(exc.field, exc.problem, line=line)
            pending[index] = (line, raw)
            index += 1
            yield record

    def to_request(record: m.CreatePersonRequest | RowError) -> m.CreatePersonRequest:
        if isinstance(record, RowError):
            raise record
        return record

    def on_result(result: ImportResult) -> None:
        line, raw = pending.pop(result.index)
        progress.add(result)
        if result.outcome in (Outcome.FAILED, Outcome.UNKNOWN):
            failures.add(line, raw, result)

    dedupe: Any = False if args.dedupe == "none" else args.dedupe
    summary: ImportSummary | None = None
    stopped: _Exit | None = None
    interrupted = False
    async with _target(args, signals) as (client, where):
        part = f" (shard {shard[0]}/{shard[1]})" if shard else ""
        say(f"importing {total} rows{part} into {where}", stream=sys.stderr)
        try:
            await check_connection(client)
        except AuthenticationError as exc:
            msg = f"WsOne refused the credentials ({exc}); nothing was imported"
            raise _Exit(_EXIT_CREDENTIALS, msg) from None
        except WsOneUnavailableError as exc:
            raise _Exit(_EXIT_UNAVAILABLE, f"{exc}; nothing was imported") from None
        task = asyncio.ensure_future(
            run_import(
                client,
                records(),
                to_request=to_request,
                on_result=on_result,
                concurrency=args.concurrency,
                rate_limit=args.rate,
                dedupe=dedupe,
                journal=args.journal,
            )
        )
        signals.aim(task)  # no await since the check: no signal went astray in between
        try:
            summary = await task
        except asyncio.CancelledError:
            if not task.cancelled():
                raise  # this command itself was cancelled, not the import by a signal
            interrupted = True
        except JournalInUseError as exc:
            raise _Exit(_EXIT_USAGE, str(exc)) from None
        except OSError as exc:
            # The journal or the file could not be read or written: nothing is lost
            # (the journal holds what settled), and it is the user's to fix.
            name = exc.filename or args.journal or args.file
            raise _Exit(_EXIT_USAGE, f"{name}: {exc.strerror or exc}") from None
        except AuthenticationError as exc:
            stopped = _Exit(
                _EXIT_CREDENTIALS,
                f"WsOne refused the credentials ({exc}): import stopped at once",
            )
        except WsOneUnavailableError as exc:
            stopped = _Exit(_EXIT_UNAVAILABLE, str(exc))
        finally:
            signals.aim(None)  # the import is over: a late signal stops nothing more
    return summary, stopped, interrupted


async def _finish(
    args: argparse.Namespace,
    source: ProspectFile | None,
    failures: _Failures | None,
    progress: _Progress,
    total: int | None,
    summary: ImportSummary | None,
    stopped: _Exit | None,
    interrupted: bool,
    started: float,
) -> int:
    """The summary, on screen and in --summary-json, of an import however it ended;
    returns the exit status. An import stopped before it began has no rows counted yet,
    maybe not even a file read."""
    err = sys.stderr
    shard: tuple[int, int] | None = args.shard
    dialect = source.dialect if source is not None else None
    if summary is not None:
        total = progress.done + progress.skipped  # every record, as the import read them
    counts = summary.counts if summary is not None else dict(progress.counts)
    seconds = summary.seconds if summary is not None else time.monotonic() - started
    all_settled = summary is not None and summary.all_settled
    worked = progress.done - counts["resumed"]
    if interrupted:
        status = _EXIT_INTERRUPTED
    elif stopped is not None:
        status = stopped.status
    else:
        status = 0 if all_settled else _EXIT_ROWS
    if failures is not None and failures.unwritten is not None and status in (0, _EXIT_ROWS):
        # As when the journal cannot be written: 0 or 1 would tell a job runner that the
        # failures file lists the rows to fix, and it may not.
        status = _EXIT_USAGE
    report = {
        "file": args.file,
        "rows": total,
        **counts,
        "other_shards": progress.skipped,
        "seconds": round(seconds, 3),
        "rows_per_second": round(worked / seconds, 1) if seconds else None,
        "interrupted": interrupted,
        "stopped": str(stopped) if stopped is not None else None,
        "all_settled": all_settled and not interrupted,
        "exit_status": status,
        "encoding": None if dialect is None else "utf-8-sig" if dialect.bom else dialect.encoding,
        "delimiter": None if dialect is None else dialect.delimiter,
        "shard": f"{shard[0]}/{shard[1]}" if shard else None,
        "journal": args.journal,
        "failures_file": args.failures,
    }
    unwritten: str | None = None
    if args.summary_json:
        text = json.dumps(report, indent=2) + "\n"
        try:
            await asyncio.to_thread(pathlib.Path(args.summary_json).write_text, text, "utf-8")
        except OSError as exc:
            # Said after the summary on screen; exit 0 would tell a job runner it is there.
            unwritten = f"--summary-json {args.summary_json}: {exc.strerror or exc}"
            status = status or _EXIT_USAGE
    if source is not None and source.fallback_lines:
        first = source.fallback_lines[0]
        say(
            f"note: {len(source.fallback_lines)} line(s) were not {source.dialect.encoding} and "
            f"were read as {source.other_encoding} (the first: line {first}); check their "
            "accents",
            stream=err,
        )
    words = ", ".join(f"{name} {counts[name]}" for name in counts)
    state = "interrupted" if interrupted else "stopped" if stopped is not None else "done"
    in_file = "?" if total is None else total  # stopped before the rows were counted
    of_rows = f"{progress.done} of {in_file} rows"
    if shard is not None:
        of_rows = f"{progress.done} rows of shard {shard[0]}/{shard[1]} ({in_file} in the file)"
    say(f"{state}: {of_rows} in {seconds:.1f}s: {words}")
    if shard is not None and progress.done == 0 and stopped is None and not interrupted:
        say(f"no rows of {args.file} fall in shard {shard[0]}/{shard[1]}")
    hint = failures.hint() if failures is not None else None
    if hint is not None:
        say(f"hint: {hint}", stream=err)
    if failures is not None and failures.unwritten is not None:
        say(f"wsone import: {failures.unwritten}", stream=err)
    elif failures is not None and failures.written:
        say(f"{failures.written} failed or unknown rows written to {args.failures}")
    if failures is not None and failures.replaced:
        lines = ", ".join(map(str, failures.replaced[:5])) + (
            ", ..." if len(failures.replaced) > 5 else ""
        )
        say(
            f"warning: {len(failures.replaced)} row(s) of {args.failures} hold characters "
            f"{failures.encoding} cannot write, written as '?' (input lines {lines}): fix "
            "them before importing that file again",
            stream=err,
        )
    if stopped is not None:
        say(f"wsone import: {stopped}", stream=err)
    if interrupted or stopped is not None:
        if args.journal:
            hint = f"the journal {args.journal} lists what settled; it is skipped"
        else:
            hint = "without --journal every row is looked up again first, none created twice"
        say(f"to resume, run the same command again ({hint})", stream=err)
    if unwritten is not None:
        say(f"wsone import: {unwritten}", stream=err)
    return status


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
    parser.__class__ = _OneLineErrors  # the subparsers' class is shared by every command
    parser.add_argument(
        "--prospects", type=positive_int, default=300, help="prospects to create (at least 5)"
    )
    parser.add_argument(
        "--concurrency",
        type=concurrency,
        default=32,
        help=f"records in progress at once, at most {MAX_CONCURRENCY}",
    )


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
    _probe.add_parser(sub)
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
        "probe": _probe.run,
    }
    try:
        return int(asyncio.run(runners[args.command](args)))
    except KeyboardInterrupt:
        return _EXIT_INTERRUPTED
    except (OSError, WsOneError) as exc:
        say(f"wsone {args.command}: {exc}", stream=sys.stderr)
        return 1
