"""Bulk import of prospects: concurrent, bounded, resumable, each record settled once.

:func:`import_prospects` turns an iterable (or async iterable) of
:class:`~wsone_async.models.CreatePersonRequest` - or of rows, with ``to_request`` - into an
async iterator of one :class:`ImportResult` per record, in completion order:

* the input is read lazily, each worker taking the next record when it is free, so memory
  does not grow with its size (a plain iterable is read on the event loop: for a file, use
  :func:`aread_rows`, which reads it in a thread);
* at most ``concurrency`` records are in progress, fewer while WsOne answers 429 or 503
  (additive increase, multiplicative decrease), and ``rate_limit`` caps requests per second;
* a person is looked up before it is created (the vendor's search-before-create), and after
  any ambiguous failure the identifier is looked up again before a retry, so each person is
  created once whatever the faults;
* with a ``journal`` file, each settled record is appended as it settles; a rerun with the
  same journal skips them, and re-checks (never blindly re-creates) the others, so a crash
  at any moment costs at most the records that were in flight;
* one record's failure never stops the others (a failure of the input or of the journal
  ends the import).

Example:
    >>> import asyncio
    >>> from wsone_async.testing import WsOneSimulator
    >>> from wsone_async import WsOneClient
    >>> from wsone_async.bulk import prospect_from_row, run_import
    >>> rows = [{"identifier_value": f"fan{i}@example.fr", "last_name": "DURAND"}
    ...         for i in range(20)]
    >>> async def main() -> dict[str, int]:
    ...     async with WsOneSimulator() as sim, WsOneClient(
    ...         sim.url, username=sim.username, password=sim.password
    ...     ) as client:
    ...         summary = await run_import(client, rows, to_request=prospect_from_row)
    ...         return summary.counts
    >>> asyncio.run(main())
    {'created': 20, 'existing': 0, 'failed': 0, 'unknown': 0, 'resumed': 0}
"""

from __future__ import annotations

import asyncio
import codecs
import collections
import contextlib
import csv
import datetime as dt
import enum
import hashlib
import itertools
import logging
import os
import random as random_module
import re
import sys
import time
import zlib
from collections.abc import (
    AsyncGenerator,
    AsyncIterable,
    Awaitable,
    Callable,
    Generator,
    Iterable,
    Iterator,
)
from typing import IO, Any, Final, Literal, TypeVar

import attrs
import orjson

from wsone_async import models as m
from wsone_async._drift import safe_key
from wsone_async._retry import describe, is_retryable, is_throttle
from wsone_async.client import AttemptInfo, WsOneClient, find_person
from wsone_async.errors import (
    APIConnectionError,
    APIError,
    AuthenticationError,
    HTTPStatusError,
    OutcomeUnknownError,
    RateLimitError,
    ResponseDecodeError,
    ServerError,
    WsOneError,
)
from wsone_async.operations import CREATE_PERSON
from wsone_async.settlement import CannotSettle

__all__ = [
    "COLUMNS",
    "COUNTS",
    "CircuitBreaker",
    "ImportResult",
    "JournalInUseError",
    "ImportSummary",
    "InputError",
    "ProspectFile",
    "Dialect",
    "REASON_COLUMNS",
    "TEXT_KEY",
    "DELIMITERS",
    "open_prospects",
    "aread",
    "check_connection",
    "in_shard",
    "prospect_key",
    "WsOneUnavailableError",
    "Outcome",
    "RowError",
    "import_prospects",
    "prospect_from_row",
    "aread_rows",
    "read_rows",
    "run_import",
]

logger = logging.getLogger("wsone_async")

R = TypeVar("R")
T = TypeVar("T")

#: The outcomes an import counts, in the order summaries show them.
COUNTS: Final = ("created", "existing", "failed", "unknown", "resumed")


class Outcome(enum.Enum):
    """How a record settled."""

    CREATED = "created"
    """The person was created by this import."""
    EXISTING = "existing"
    """The person already existed (found before creating, or created by another row)."""
    FAILED = "failed"
    """The record could not be imported; ``ImportResult.error`` says why."""
    UNKNOWN = "unknown"
    """A creation failed ambiguously and no lookup could tell whether it was applied."""


@attrs.frozen
class ImportResult:
    """The outcome of one input record."""

    index: int
    """Position of the record in the input, from 0."""
    key: str | None = attrs.field(repr=False)
    """The record's identifier as ``"<type>:<value>"``, or None when it has none (kept out
    of the repr: it is the customer's email or card number)."""
    outcome: Outcome
    """How it settled."""
    error: Exception | None = attrs.field(default=None, repr=False)
    """For FAILED and UNKNOWN: the typed error (a WsOneError, or a RowError for a bad row)."""
    resumed: bool = False
    """True when the journal says an earlier run settled it; nothing was sent this time."""

    @property
    def settled(self) -> bool:
        """Whether the person is known to exist in WsOne (created or existing)."""
        return self.outcome in (Outcome.CREATED, Outcome.EXISTING)


@attrs.frozen
class ImportSummary:
    """Counts of an import that ran to completion."""

    created: int
    """Persons created by this run."""
    existing: int
    """Persons found already there by this run."""
    failed: int
    """Records that could not be imported."""
    unknown: int
    """Records whose creation stayed ambiguous."""
    resumed: int
    """Records an earlier run settled (per the journal), skipped by this one."""
    seconds: float
    """How long the import took."""

    @property
    def total(self) -> int:
        """All records read."""
        return self.created + self.existing + self.failed + self.unknown + self.resumed

    @property
    def all_settled(self) -> bool:
        """Whether every record ended created or existing (in this run or an earlier one)."""
        return self.failed == 0 and self.unknown == 0

    @property
    def counts(self) -> dict[str, int]:
        """The counts by outcome, as a dict (keys in the order of :data:`COUNTS`)."""
        return {name: getattr(self, name) for name in COUNTS}


class RowError(ValueError):
    """A row that cannot become a request: the field and line say where."""

    def __init__(self, field: str, problem: str, *, line: int | None = None) -> None:
        self.field = field
        self.problem = problem
        self.line = line
        where = f"line {line}, " if line is not None else ""
        super().__init__(f"{where}{field}: {problem}")


# ----------------------------------------------------------------------- flow control


class _AdaptiveGate:
    """At most ``limit`` records in progress; the limit adapts to WsOne's refusals (AIMD).

    Each success adds ``1/limit`` (one more slot per window of successes); a 429 or 503
    halves it, at most once per ``cooldown`` seconds so one burst counts once.
    """

    def __init__(self, ceiling: int, clock: Callable[[], float], cooldown: float = 1.0) -> None:
        self.ceiling = ceiling
        self.limit = float(ceiling)
        self.in_use = 0
        self._clock = clock
        self._cooldown = cooldown
        self._last_cut = -float("inf")
        self._waiters: collections.deque[asyncio.Future[None]] = collections.deque()

    def _open_slots(self) -> int:
        return max(1, int(self.limit)) - self.in_use

    async def acquire(self) -> None:
        while self._open_slots() <= 0:
            waiter = asyncio.get_running_loop().create_future()
            self._waiters.append(waiter)
            try:
                await waiter
            finally:
                with contextlib.suppress(ValueError):
                    self._waiters.remove(waiter)
        self.in_use += 1

    def release(self) -> None:
        self.in_use -= 1
        self._wake()

    def _wake(self) -> None:
        slots = self._open_slots()
        while slots > 0 and self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                slots -= 1

    def on_success(self) -> None:
        if self.limit < self.ceiling:
            self.limit = min(float(self.ceiling), self.limit + 1.0 / self.limit)
            self._wake()

    def on_throttle(self) -> None:
        now = self._clock()
        if now - self._last_cut >= self._cooldown:
            self._last_cut = now
            self.limit = max(1.0, self.limit / 2)
            logger.info("WsOne asks to slow down: at most %d records in progress", int(self.limit))


class _RateLimiter:
    """Spaces requests ``1/rate`` seconds apart on average."""

    def __init__(
        self,
        rate: float,
        clock: Callable[[], float],
        sleep: Callable[[float], Awaitable[None]],
    ) -> None:
        self._interval = 1.0 / rate
        self._clock = clock
        self._sleep = sleep
        self._next = -float("inf")

    async def acquire(self) -> None:
        now = self._clock()
        start = max(now, self._next)
        self._next = start + self._interval
        if start > now:
            await self._sleep(start - now)


# --------------------------------------------------------------------------- journal


class _Settled:
    """The records an earlier run settled, by key digest, compactly: resuming a run of a
    million rows holds a million small ints, not a million strings."""

    def __init__(self) -> None:
        self._created: set[int] = set()
        self._existing: set[int] = set()

    @staticmethod
    def _number(digest: str) -> int:
        return int(digest[:16], 16)  # 64 bits of the digest: collisions are negligible

    def add(self, digest: str, outcome: Outcome) -> None:
        (self._created if outcome is Outcome.CREATED else self._existing).add(self._number(digest))

    def get(self, digest: str) -> Outcome | None:
        number = self._number(digest)
        if number in self._created:
            return Outcome.CREATED
        return Outcome.EXISTING if number in self._existing else None

    def __bool__(self) -> bool:
        return bool(self._created or self._existing)


def _digest(key: str) -> str:
    # The journal keeps a hash of each key, not the key: a customer's identifier (often an
    # email) is personal data and has no business in a progress file.
    return hashlib.sha256(key.encode()).hexdigest()[:32]


class JournalInUseError(RuntimeError):
    """Another import holds the journal: two imports on one journal would both run it all."""


def _lock(file: IO[bytes], path: str | os.PathLike[str]) -> None:
    """Hold an exclusive lock on the open journal for as long as it stays open.

    An OS lock (``flock``) dies with its process, so a crashed import leaves no stale lock
    behind. Where ``fcntl`` does not exist (Windows) no lock is taken: two imports started
    there on one journal are not refused, so do not start them.
    """
    if sys.platform == "win32":  # pragma: no cover  (no flock there: documented limitation)
        return
    import fcntl

    try:
        fcntl.flock(file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        file.close()
        msg = (
            f"the journal {os.fspath(path)!r} is in use by another import; wait for it to "
            "finish, or give this import its own journal"
        )
        raise JournalInUseError(msg) from None


class _Journal:
    """An append-only record of settled records, one JSON object per line.

    A line is preformatted bytes (only the digest changes). The lines of the records that
    settle in one event-loop iteration are handed to the OS together, in one ``write``, at
    the end of that iteration, and in any case before any of their results is yielded to
    the caller: so ``kill -9`` at any moment loses at most the records that settled in the
    iteration under way, and those are looked up again on resume, never created twice.
    This is a write to the page cache, not to the disk: fsync, which waits for the disk and
    only matters for a power cut, runs in small batches in a thread. The file is locked
    while the import runs (see :func:`_lock`).
    """

    _FSYNC_EVERY = 64
    _FSYNC_SECONDS = 1.0

    def __init__(self, file: IO[bytes], settled: _Settled, clock: Callable[[], float]):
        self._file = file
        self.settled = settled
        self._clock = clock
        self._unsynced = 0
        self._last_sync = clock()
        self._syncing: asyncio.Task[None] | None = None
        self._pending: list[bytes] = []
        self._loop = asyncio.get_running_loop()

    @classmethod
    async def open(cls, path: str | os.PathLike[str], clock: Callable[[], float]) -> _Journal:
        def load() -> tuple[IO[bytes], _Settled]:
            file = open(path, "ab")  # noqa: SIM115  (closed by close())
            _lock(file, path)  # before reading: what another import appends must not be missed
            try:
                settled, torn = _load_journal(path)
                if torn:
                    file.write(b"\n")  # the next entry must not be glued to the torn one
            except BaseException:
                file.close()
                raise
            return file, settled

        file, settled = await asyncio.to_thread(load)
        return cls(file, settled, clock)

    def record(self, digest: str, outcome: Outcome) -> None:
        pending = self._pending
        if not pending:
            self._loop.call_soon(self._flush_soon)
        pending.append(_LINES[outcome] % digest.encode())

    def _flush_soon(self) -> None:
        # A write that fails here (a full disk) is raised by the flush before the record's
        # result is handed over, which stops the import: not also logged, with its
        # traceback, as a callback's error. Its lines stay pending for that flush.
        with contextlib.suppress(OSError):
            self.flush()

    def flush(self) -> None:
        """Hand the lines of the records settled so far to the OS, in one write."""
        pending = self._pending
        if not pending or self._file.closed:
            return
        self._file.write(b"".join(pending))
        self._file.flush()
        self._unsynced += len(pending)
        pending.clear()
        due = self._clock() - self._last_sync >= self._FSYNC_SECONDS
        if (self._unsynced >= self._FSYNC_EVERY or due) and self._syncing is None:
            self._unsynced = 0
            self._last_sync = self._clock()
            self._syncing = self._loop.create_task(self._sync())

    async def _sync(self) -> None:
        try:
            await asyncio.to_thread(os.fsync, self._file.fileno())
        finally:
            self._syncing = None

    async def close(self) -> None:
        try:
            self.flush()
        finally:
            # Closed even when its last lines cannot be written: its lock is released.
            if self._syncing is not None:
                await asyncio.gather(self._syncing, return_exceptions=True)
            await asyncio.to_thread(self._close_synced)

    def _close_synced(self) -> None:
        try:
            self._file.flush()
            os.fsync(self._file.fileno())
        finally:
            self._file.close()  # closing releases the lock


#: A journal line per outcome, preformatted: only the digest changes.
_LINES: Final = {
    outcome: b'{"k": "%s", "o": "' + outcome.value.encode() + b'"}\n'
    for outcome in (Outcome.CREATED, Outcome.EXISTING)
}


_JOURNALED: Final = {outcome.value: outcome for outcome in _LINES}


def _load_journal(path: str | os.PathLike[str]) -> tuple[_Settled, bool]:
    """The settled records a journal lists, and whether its last line is torn.

    A line that cannot be read (cut by a crash, bytes that are not UTF-8, an edited line)
    is skipped with one warning: its record is looked up again, never created blindly.
    """
    settled = _Settled()
    torn = False
    unreadable = 0
    with open(path, "rb") as old:
        for line in old:
            torn = not line.endswith(b"\n")
            try:
                entry = orjson.loads(line)
                settled.add(entry["k"], _JOURNALED[entry["o"]])
            except (ValueError, KeyError, TypeError):
                if line.strip():
                    unreadable += 1
    if unreadable:
        logger.warning(
            "journal %s: %d unreadable line(s) skipped; their records will be looked up "
            "again before anything is created",
            os.fspath(path),
            unreadable,
        )
    return settled, torn


# ---------------------------------------------------------------------------- import


def prospect_key(request: m.CreatePersonRequest) -> str | None:
    """A request's identifier as ``"<type>:<value>"`` (as :attr:`ImportResult.key`), or None."""
    new = request.new_identifier_request
    if new is None or new.identifier_value is None:
        return None
    return _key(int(new.identifier_type), new.identifier_value)


def _key(kind: object, value: str) -> str:
    return f"{kind}:{value}"


_default_key = prospect_key


def in_shard(key: str | None, shard: tuple[int, int]) -> bool:
    """Whether a record belongs to shard ``K`` of ``N`` (``shard=(K, N)``, K from 0).

    The split is on the identifier: the CRC-32 of the key with surrounding blanks removed
    and letters case-folded, modulo N. It is the same in every process, on every machine
    and in every Python version (unlike ``hash()``), so N imports of one file, each with
    its own shard, take every identifier exactly once. A row that fails to parse has the
    key its identifier cells give as typed (:meth:`ProspectFile.shard_key`): fixed without
    touching them, it comes back to the same shard. A record without any identifier
    (``key`` None) belongs to shard 0, whatever file it is read from: the split never
    depends on a row's position, which differs between a file and its failures file.
    """
    number, count = shard
    if key is None:
        return number == 0
    return zlib.crc32(key.strip().casefold().encode()) % count == number


def _row_key(row: dict[str, Any]) -> str | None:
    """The key of a row as typed, whether or not it parses: for a row that parses, the same
    as :func:`prospect_key` of its request; None without an identifier value."""
    value = _text(row, "identifier_value")
    if value is None:
        return None
    try:
        kind = _identifier_type(row)
    except RowError:
        return _key(_text(row, "identifier_type"), value)
    return _key(int(kind), value)


def _check_shard(shard: object) -> tuple[int, int] | None:
    if shard is None:
        return None
    if (
        isinstance(shard, tuple)
        and len(shard) == 2
        and all(isinstance(n, int) and not isinstance(n, bool) for n in shard)
        and 0 <= shard[0] < shard[1]
    ):
        return shard[0], shard[1]
    msg = "shard must be (K, N) with 0 <= K < N, such as (0, 4)"
    raise ValueError(msg)


class WsOneUnavailableError(WsOneError):
    """WsOne could not be reached or kept failing: the import stopped before its end.

    Nothing that settled is lost: rerun with the same journal to resume.
    """


@attrs.frozen
class CircuitBreaker:
    """When an import stops sending because WsOne seems down, and when it gives up.

    The rule: the import counts the attempts that fail on the network (refused, reset,
    timeout), with HTTP 5xx or with an answer that is not JSON at all (a proxy's error
    page), in a row across all its workers; any other answer from WsOne (a success, a
    functional refusal) sets the count back to 0, and 429 leaves it as it is. When the
    count reaches ``threshold`` (by default ``max(20, 2 * concurrency)``) the circuit opens:
    no new request is sent, and every ``probe_every`` seconds one cheap read (getPerson of
    an identifier no one holds) probes WsOne. The first probe that WsOne answers closes the
    circuit and the import goes on; the records that waited lose none of their rounds. If
    WsOne is still down ``give_up_after`` seconds after the circuit opened, the import
    stops with :class:`WsOneUnavailableError`; its journal holds every settled record.
    """

    threshold: int | None = None
    """Failed attempts in a row that open the circuit; None for ``max(20, 2 * concurrency)``."""
    probe_every: float = 5.0
    """Seconds between probes while the circuit is open."""
    give_up_after: float = 60.0
    """Seconds the circuit may stay open before the import stops."""


def _systemic(error: WsOneError) -> bool:
    """Whether a failure says WsOne is down rather than something about one record."""
    if isinstance(error, APIConnectionError | ServerError):
        return True
    return isinstance(error, ResponseDecodeError) and error.path is None


#: An identifier no one holds: the preflight and the probes look it up (a cheap read).
_PROBE: Final = m.IdentifierRequest(
    identifier_type=m.IdentifierType.WEB_ACCOUNT, identifier_value="wsone-import-probe@invalid"
)


async def check_connection(client: WsOneClient, *, retries: int = 1) -> int:
    """Check that WsOne answers and takes the credentials, with one cheap read.

    The read is getPerson of an identifier no one holds (WsOne's "not found" is an answer).
    It gets ``retries`` retries, and no longer than the connect time limit plus 5 seconds.

    Returns:
        The number of attempts made.

    Raises:
        AuthenticationError: WsOne refused the credentials.
        WsOneUnavailableError: WsOne cannot be reached, fails, or no WsOne answers at the
            client's base URL (an HTTP 404, an answer that is not WsOne's JSON).
    """
    attempts = 0

    def count(info: AttemptInfo) -> None:
        nonlocal attempts
        attempts += 1

    timeouts = client.timeouts
    limit = (timeouts.connect or 5.0) + 5.0
    probe = client.with_options(
        timeout=attrs.evolve(timeouts, attempt=min(timeouts.attempt, limit), total=limit),
        retry=attrs.evolve(
            client.retry_policy, max_retries=retries, budget=None, reconcile_writes=False
        ),
        on_attempt=count,
    )
    try:
        await find_person(probe, _PROBE)
    except AuthenticationError:
        raise
    except APIError:
        pass  # WsOne answered: a refusal, whatever its code, says it is there
    except WsOneError as exc:
        tries = f"{attempts} attempt{'s' if attempts != 1 else ''}"
        if (isinstance(exc, HTTPStatusError) and exc.status == 404) or (
            isinstance(exc, ResponseDecodeError)
        ):
            msg = f"no WsOne API answers at this base URL ({describe(exc)}; {tries})"
        else:
            msg = f"WsOne is unreachable or unavailable ({describe(exc)}; {tries})"
        raise WsOneUnavailableError(msg) from exc
    return attempts


class _Stop(Exception):
    """Raised inside the import to end it with ``error``; never seen outside."""

    def __init__(self, error: WsOneError) -> None:
        self.error = error


class _Breaker:
    """The state of a :class:`CircuitBreaker` during one import."""

    def __init__(
        self,
        config: CircuitBreaker,
        threshold: int,
        probe: Callable[[], Awaitable[None]],
        clock: Callable[[], float],
        sleep: Callable[[float], Awaitable[None]],
    ) -> None:
        self._config = config
        self._threshold = threshold
        self._probe = probe
        self._clock = clock
        self._sleep = sleep
        self.failures = 0
        #: How many times the circuit opened: a record that failed while it was open
        #: does not count that round against itself.
        self.trips = 0
        self.is_open = False
        self._closed = asyncio.Event()
        self._closed.set()
        self._prober: asyncio.Task[None] | None = None
        self.error: WsOneUnavailableError | None = None

    def observe(self, error: WsOneError | None) -> None:
        if error is None or not (_systemic(error) or isinstance(error, RateLimitError)):
            self.failures = 0
        elif _systemic(error):
            self.failures += 1
            if self.failures >= self._threshold and not self.is_open and self.error is None:
                self._open(error)

    def _open(self, error: WsOneError) -> None:
        self.is_open = True
        self.trips += 1
        self._closed.clear()
        logger.warning(
            "%d requests in a row failed (last: %s): pausing the import, probing WsOne every %gs",
            self.failures,
            describe(error),
            self._config.probe_every,
        )
        self._prober = asyncio.get_running_loop().create_task(self._probe_until_back(error))

    async def _probe_until_back(self, last: WsOneError) -> None:
        opened = self._clock()
        while True:
            await self._sleep(self._config.probe_every)
            try:
                await self._probe()
            except WsOneError as exc:
                # The probe's own failure, not check_connection's wrapper around it: the
                # message said "unreachable (... unreachable or unavailable (...))".
                cause = exc.__cause__
                last = cause if isinstance(cause, WsOneError) else exc
                if self._clock() - opened >= self._config.give_up_after:
                    msg = (
                        f"WsOne stayed unreachable or failing for "
                        f"{self._clock() - opened:.0f}s ({describe(last)}): import stopped; "
                        "rerun with the same journal to resume"
                    )
                    self.error = WsOneUnavailableError(msg)
                    self.error.__cause__ = last
                    break
                continue
            logger.warning("WsOne answers again: the import goes on")
            self.failures = 0
            break
        self.is_open = False
        self._closed.set()

    async def wait(self) -> None:
        """Return when requests may be sent; raise ``_Stop`` when the breaker gave up."""
        if self.is_open:
            await self._closed.wait()
        if self.error is not None:
            raise _Stop(self.error)

    async def close(self) -> None:
        if self._prober is not None and not self._prober.done():
            self._prober.cancel()
            await asyncio.gather(self._prober, return_exceptions=True)


_END: Final = object()


class _Failure:
    """The input's own exception, passed from the reader to the workers."""

    __slots__ = ("error",)

    def __init__(self, error: Exception) -> None:
        self.error = error


class _Source:
    """The input, shared by the workers: ``next()`` gives ``(index, record)`` or None.

    A plain iterable is read by the workers themselves (``next()`` never waits, so they
    cannot collide). An async iterable is read by one reader task into a queue of
    ``size`` records, so no worker ever waits for another to finish reading: each takes a
    record that is already there, and the reader refills the queue meanwhile. The queue
    is bounded, so the input is still read no faster than records settle.
    """

    def __init__(self, records: Iterable[Any] | AsyncIterable[Any], size: int) -> None:
        self._index = 0
        self._done = False
        self._sync: Iterator[Any] | None = None
        self._queue: asyncio.Queue[Any] | None = None
        self._reader: asyncio.Task[None] | None = None
        if isinstance(records, AsyncIterable):
            self._queue = asyncio.Queue(maxsize=size)
            self._reader = asyncio.get_running_loop().create_task(self._read(records))
        else:
            self._sync = iter(records)

    async def _read(self, records: AsyncIterable[Any]) -> None:
        queue = self._queue
        assert queue is not None
        iterator = aiter(records)
        try:
            async for record in iterator:
                await queue.put(record)
            await queue.put(_END)
        except Exception as exc:  # noqa: BLE001  (handed to a worker, which raises it)
            await queue.put(_Failure(exc))
        finally:
            close = getattr(iterator, "aclose", None)
            if close is not None:
                await close()

    async def next(self) -> tuple[int, Any] | None:
        if self._done:
            return None
        if self._sync is not None:
            record = next(self._sync, _END)
        else:
            assert self._queue is not None
            record = await self._queue.get()
            if record.__class__ is _Failure:
                self._done = True
                raise record.error
        if record is _END:
            self._done = True
            if self._queue is not None:
                self._queue.put_nowait(_END)  # wakes a worker still waiting, if any
            return None
        index = self._index
        self._index += 1
        return index, record

    async def close(self) -> None:
        if self._reader is not None and not self._reader.done():
            self._reader.cancel()
        if self._reader is not None:
            await asyncio.gather(self._reader, return_exceptions=True)


class _Import:
    def __init__(
        self,
        client: WsOneClient,
        *,
        concurrency: int,
        rate_limit: float | None,
        dedupe: bool | Literal["identifier", "search"],
        journal: str | os.PathLike[str] | None,
        to_request: Callable[[Any], m.CreatePersonRequest] | None,
        max_rounds: int,
        clock: Callable[[], float],
        sleep: Callable[[float], Awaitable[None]],
        random: Callable[[], float] = random_module.random,
        shard: tuple[int, int] | None = None,
        breaker: CircuitBreaker | None = None,
        preflight: bool = False,
    ) -> None:
        if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
            msg = "concurrency must be a positive int"
            raise ValueError(msg)
        if rate_limit is not None and not rate_limit > 0:
            msg = "rate_limit must be a positive number of requests per second, or None"
            raise ValueError(msg)
        if isinstance(max_rounds, bool) or not isinstance(max_rounds, int) or max_rounds < 1:
            msg = "max_rounds must be a positive int"
            raise ValueError(msg)
        if dedupe not in (True, False, "identifier", "search"):
            msg = "dedupe must be True, False, 'identifier' or 'search'"
            raise ValueError(msg)
        self._shard = _check_shard(shard)
        self._preflight = preflight
        self._concurrency = concurrency
        self._gate = _AdaptiveGate(concurrency, clock)
        self._rate = _RateLimiter(rate_limit, clock, sleep) if rate_limit else None
        self._dedupe: str | None = "identifier" if dedupe is True else (dedupe or None)
        self._journal_path = journal
        self._journal: _Journal | None = None
        self._to_request = to_request
        self._max_rounds = max_rounds
        self._sleep = sleep
        self._random = random
        self._resumed_run = False
        self._busy_keys: dict[str, list[Any]] = {}
        #: The first refusal of the credentials: once set, nothing more is sent.
        self._refused: AuthenticationError | None = None
        self._caller = client
        self._breaker: _Breaker | None = None
        if breaker is not None:
            threshold = breaker.threshold or max(20, 2 * concurrency)
            self._breaker = _Breaker(breaker, threshold, self._probe, clock, sleep)
        outer_hook = client.on_attempt
        # A view of the caller's client: same session and pool; ambiguous creations are
        # settled by getPerson before any retry; every attempt informs the AIMD gate.
        self._client = client.with_options(
            retry=attrs.evolve(client.retry_policy, reconcile_writes=True),
            on_attempt=self._observer(outer_hook),
        )
        if CREATE_PERSON.name not in self._client.settlers:
            msg = (
                "the import settles ambiguous creations with the client's createPerson "
                "settler, and this client has none (settlers={'createPerson': None})"
            )
            raise ValueError(msg)

    def _observer(
        self, outer: Callable[[AttemptInfo], None] | None
    ) -> Callable[[AttemptInfo], None]:
        gate = self._gate
        breaker = self._breaker

        def observe(info: AttemptInfo) -> None:
            error = info.error
            if error is None:
                gate.on_success()
            elif is_throttle(error):
                gate.on_throttle()
            elif isinstance(error, AuthenticationError) and self._refused is None:
                self._refused = error
            if breaker is not None:
                breaker.observe(error)
            if outer is not None:
                outer(info)

        return observe

    async def _probe(self) -> None:
        await check_connection(self._caller, retries=0)

    async def results(
        self, records: Iterable[Any] | AsyncIterable[Any]
    ) -> AsyncGenerator[ImportResult, None]:
        if self._journal_path is not None:
            self._journal = await _Journal.open(self._journal_path, time.monotonic)
            # A rerun: whatever the journal does not list may have been in flight when the
            # last run stopped, so it is looked up before any creation.
            self._resumed_run = bool(self._journal.settled)
        if self._preflight:
            try:
                await check_connection(self._caller)
            except BaseException:
                if self._journal is not None:
                    await self._journal.close()
                raise
        outbox: asyncio.Queue[ImportResult | BaseException | object] = asyncio.Queue(
            maxsize=2 * self._concurrency
        )
        source = _Source(records, self._concurrency)
        journal = self._journal
        tasks = [asyncio.create_task(self._work(source, outbox)) for _ in range(self._concurrency)]
        running = self._concurrency
        try:
            while running:
                item = await outbox.get()
                if item is _END:
                    running -= 1
                elif isinstance(item, BaseException):
                    raise item
                else:
                    assert isinstance(item, ImportResult)
                    if journal is not None:
                        journal.flush()  # its line is on its way before the caller sees it
                    yield item
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await source.close()
            if self._breaker is not None:
                await self._breaker.close()
            if self._journal is not None:
                await self._journal.close()

    async def _work(
        self,
        source: _Source,
        outbox: asyncio.Queue[ImportResult | BaseException | object],
    ) -> None:
        # Each worker takes the next record when it is free: the input is read no faster
        # than records settle, and no producer task or hand-off queue stands in between.
        # A record's own failure is its result; what ends the import is a failure of the
        # input itself or of the journal (progress that cannot be recorded).
        try:
            while (item := await source.next()) is not None:
                index, record = item
                result = await self._one(index, record)
                if result is not None:
                    await outbox.put(result)
        except _Stop as stop:
            await outbox.put(stop.error)
        except Exception as exc:  # noqa: BLE001  (handed to the caller, who sees it raised)
            await outbox.put(exc)
        await outbox.put(_END)

    async def _one(self, index: int, record: Any) -> ImportResult | None:
        shard = self._shard
        try:
            request = self._to_request(record) if self._to_request is not None else record
        except Exception as exc:  # noqa: BLE001  (a row the mapping refuses fails alone)
            # Sharded on its identifier cells as typed: fixed, it stays in its shard.
            typed = _row_key(record) if isinstance(record, dict) else None
            if shard is not None and not in_shard(typed, shard):
                return None
            return ImportResult(index, None, Outcome.FAILED, error=exc)
        if not isinstance(request, m.CreatePersonRequest):
            if shard is not None and not in_shard(None, shard):
                return None
            msg = f"expected a CreatePersonRequest, got {type(request).__name__}"
            return ImportResult(index, None, Outcome.FAILED, error=TypeError(msg))
        key = _default_key(request)
        if shard is not None and not in_shard(key, shard):
            return None  # another shard's record
        if key is None:
            missing = RowError("identifier_value", "missing: a prospect needs an identifier")
            return ImportResult(index, None, Outcome.FAILED, error=missing)
        journal = self._journal
        digest = _digest(key) if journal is not None else ""
        if journal is not None:
            earlier = journal.settled.get(digest)
            if earlier is not None:
                return ImportResult(index, key, earlier, resumed=True)
        # Rows repeating a key settle one after the other. The entry lives while any row
        # of that key holds or awaits the lock, so a later row always finds it.
        entry = self._busy_keys.get(key)
        if entry is None:
            entry = self._busy_keys[key] = [asyncio.Lock(), 0]
        lock: asyncio.Lock = entry[0]
        entry[1] += 1
        try:
            async with lock:
                await self._gate.acquire()
                try:
                    outcome, failure = await self._settle(request)
                finally:
                    self._gate.release()
        finally:
            entry[1] -= 1
            if entry[1] == 0:
                del self._busy_keys[key]
        if journal is not None and outcome in (Outcome.CREATED, Outcome.EXISTING):
            journal.record(digest, outcome)
        return ImportResult(index, key, outcome, error=failure)

    async def _send(self, call: Callable[[], Awaitable[T]]) -> T:
        # The call is made only once the rate allows it: a coroutine made before the wait
        # would be left unawaited if the import were closed during it.
        if self._rate is not None:
            await self._rate.acquire()
        if self._breaker is not None:
            await self._breaker.wait()
        if self._refused is not None:
            # Refused credentials stay refused: each more request could lock the account.
            raise _Stop(self._refused)
        try:
            return await call()
        except AuthenticationError as exc:
            raise _Stop(exc) from None

    async def _exists(self, request: m.CreatePersonRequest, *, by_identifier: bool) -> bool:
        try:
            return await self._lookup(request, by_identifier=by_identifier)
        except APIError as exc:
            # A search before creating, not a settling: a refusal leaves the creation to
            # decide, and identifiers are unique, so a person already there is refused as
            # a duplicate, never created twice. A transient refusal (a code registered
            # retryable) is raised: the caller looks again, rather than create and, refused
            # as a duplicate, fail the row on a lookup throttled again.
            if is_retryable(exc, write=False, policy=self._client.retry_policy):
                raise
            return False

    async def _lookup(self, request: m.CreatePersonRequest, *, by_identifier: bool) -> bool:
        client = self._client
        if by_identifier or self._dedupe != "search":
            new = request.new_identifier_request
            assert new is not None
            assert new.identifier_value is not None
            identifier = m.IdentifierRequest(
                identifier_type=new.identifier_type, identifier_value=new.identifier_value
            )
            return await self._send(lambda: find_person(client, identifier)) is not None
        profile = request.person_profil_request
        criteria = m.SearchPersonRequest(
            person_request=profile.person_request if profile else None,
            contacts_request=profile.contacts_request if profile else None,
        )
        found = await self._send(lambda: client.search_person(criteria))
        return bool(found.person_response)

    async def _settle(self, request: m.CreatePersonRequest) -> tuple[Outcome, Exception | None]:
        """Look up, create, and after a failure settle before any retry: the whole loop.

        This is the import's only settle-and-retry loop, in one place so that it can be
        replaced as one piece. Round 1 is the vendor's search-before-create and the
        creation (the client settles an ambiguous one itself, with its settler). Each later
        round is a retry of the record, so it goes through the client like one: it waits
        the client's backoff, then asks :meth:`~wsone_async.client.WsOneClient.settle`
        (the client's createPerson settler, charged to its retry budget) whether the
        person is there before creating again. With the budget spent, that answer is
        "cannot tell", and no request of the record is sent again.
        """
        check = self._dedupe is not None or self._resumed_run
        by_identifier = self._resumed_run
        ambiguous = False
        last: Exception | None = None
        breaker = self._breaker
        trips = breaker.trips if breaker is not None else 0
        rounds = 0  # the rounds that count against max_rounds
        run = 0  # every round run, counted or not: a later one settles before creating
        while rounds < self._max_rounds:
            if run:
                if breaker is not None and breaker.trips != trips:
                    # The round failed while WsOne was down for every record: the breaker
                    # waited for it to come back, so that round does not count.
                    rounds -= 1
                    trips = breaker.trips
                # The client's own backoff, jittered, so workers that failed together after
                # an outage do not come back together.
                await self._sleep(self._client.retry_policy.backoff(max(rounds, 1), self._random))
            rounds += 1
            run += 1
            if run > 1:
                try:
                    settled = await self._send(lambda: self._client.settle(CREATE_PERSON, request))
                except OutcomeUnknownError as exc:
                    cause = exc.__cause__
                    if isinstance(cause, AuthenticationError):
                        raise _Stop(cause) from None
                    if isinstance(cause, CannotSettle):
                        cause = cause.__cause__
                    # Refused for good, not throttled: a throttling code (registered as
                    # retryable) means "look again later", as in the search before creating.
                    refused = isinstance(cause, APIError) and not is_retryable(
                        cause, write=False, policy=self._client.retry_policy
                    )
                    if ambiguous and last is not None:
                        # Still cannot tell. The row keeps its creation's error, which says
                        # what happened (this one reads "asked by the caller"), with this
                        # one's notes (a spent retry budget).
                        notes = getattr(last, "__notes__", [])
                        for note in getattr(exc, "__notes__", []):
                            if note not in notes:
                                last.add_note(note)
                        continue
                    if not refused:
                        # Cannot tell for now (or the budget is spent). No creation of this
                        # row may have been applied: a throttled lookup's refusal says what
                        # happened, not this "outcome unknown".
                        last = cause if isinstance(cause, APIError) else exc
                        continue
                    # No creation of this row may have been applied, and the lookup was
                    # refused with a code not known as "not found": as for the search
                    # before creating, that leaves the creation to decide (WsOne refuses a
                    # duplicate identifier). Stopping here failed every row that WsOne had
                    # refused for a while, where no "not found" code is registered.
                else:
                    if settled.applied:
                        return (Outcome.CREATED if ambiguous else Outcome.EXISTING), None
                    # Known not to be there: what follows decides the outcome.
                    ambiguous = False
            if check and (run == 1 or (self._dedupe == "search" and not by_identifier)):
                try:
                    if await self._exists(request, by_identifier=by_identifier):
                        return Outcome.EXISTING, None
                except WsOneError as exc:
                    if not is_retryable(exc, write=False, policy=self._client.retry_policy):
                        return Outcome.FAILED, exc
                    last = exc  # the lookup failed for now: the next round looks again
                    continue
            try:
                await self._send(lambda: self._client.create_person(request))
            except OutcomeUnknownError as exc:
                # Even the client's settler could not tell: the next round asks again.
                ambiguous, last = True, exc
                continue
            except APIError as exc:
                # Maybe a duplicate of another row, or of an earlier run: a lookup tells
                # (a search-before-create, not a settling: it costs no retry).
                try:
                    if await self._exists(request, by_identifier=True):
                        return Outcome.EXISTING, None
                except WsOneError as lookup_error:
                    if is_retryable(lookup_error, write=False, policy=self._client.retry_policy):
                        last = exc  # the lookup could not tell for now: the next round does
                        continue
                return Outcome.FAILED, exc
            except (RateLimitError, ServerError, APIConnectionError) as exc:
                last = exc  # transient, and not applied: the client's rules ensure it
                continue
            except WsOneError as exc:
                return Outcome.FAILED, exc
            return Outcome.CREATED, None
        return (Outcome.UNKNOWN if ambiguous else Outcome.FAILED), last


def import_prospects(
    client: WsOneClient,
    records: Iterable[R] | AsyncIterable[R],
    *,
    concurrency: int = 16,
    rate_limit: float | None = None,
    dedupe: bool | Literal["identifier", "search"] = True,
    journal: str | os.PathLike[str] | None = None,
    to_request: Callable[[R], m.CreatePersonRequest] | None = None,
    max_rounds: int = 4,
    shard: tuple[int, int] | None = None,
    breaker: CircuitBreaker | None = CircuitBreaker(),
    preflight: bool = False,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> AsyncGenerator[ImportResult, None]:
    """Import prospects; yields one :class:`ImportResult` per record, in completion order.

    Args:
        client: an open :class:`WsOneClient`; the import uses a view of it (same session).
        records: ``CreatePersonRequest`` objects, or rows turned into them by
            ``to_request``; any iterable or async iterable, read lazily.
        concurrency: the most records in progress at once (and so requests in flight).
            Keep it below the client's ``max_connections`` (100 by default): the wait for
            a pooled connection counts in the connect time limit, so records beyond the
            pool wait and may fail with a connect timeout while WsOne is fine (a warning
            is logged when it exceeds them).
        rate_limit: the most calls per second, each lookup and each creation; the client's
            retries of a call come on top, spaced by its backoff. None for no cap.
        dedupe: how to search before creating: ``True``/``"identifier"`` looks the
            identifier up with getPerson, ``"search"`` runs searchPerson on the person's
            data, ``False`` creates straight away (one request per record; WsOne refuses
            a duplicate identifier, which then counts as existing).
        journal: a file recording settled records; rerun with the same file to resume.
        to_request: turns an input row into a ``CreatePersonRequest``; a row it refuses
            (``ValueError``, such as :class:`RowError`) fails alone.
        max_rounds: lookup-and-create rounds per record before it is reported failed or
            unknown (transient failures get this many chances beyond the client's retries).
            Each round after the first is a retry: it settles with the client's createPerson
            settler (:meth:`WsOneClient.settle`), charged to the client's retry budget, and
            with the budget spent, the record's remaining rounds send nothing.
        shard: ``(K, N)`` to import only shard K (from 0) of N: the records whose
            identifier falls in it (see :func:`in_shard`); the others yield nothing. N
            processes, each with its own K and journal, import every record exactly once.
        breaker: when to pause while WsOne is down, and when to stop (see
            :class:`CircuitBreaker`); None never pauses, and records then fail one by one.
        preflight: check with one cheap read (:func:`check_connection`) that WsOne answers
            and takes the credentials before the first record.
        clock: monotonic clock (injected by tests).
        sleep: the coroutine that waits (injected by tests).

    Returns:
        An async iterator; close it early with ``contextlib.aclosing`` to stop the import
        (the journal keeps what settled).

    Raises:
        AuthenticationError: WsOne refused the credentials: the import stops at the first
            refusal, so at most ``concurrency`` requests are ever sent with them.
        WsOneUnavailableError: WsOne stayed down (see ``breaker``), or the preflight
            could not reach it.
        JournalInUseError: another import holds the journal.
    """
    job = _Import(
        client,
        concurrency=concurrency,
        rate_limit=rate_limit,
        dedupe=dedupe,
        journal=journal,
        to_request=to_request,
        max_rounds=max_rounds,
        clock=clock,
        sleep=sleep,
        shard=shard,
        breaker=breaker,
        preflight=preflight,
    )
    if concurrency > client.max_connections:
        # Not refused: a session of the caller's may pool more than the client says.
        logger.warning(
            "concurrency %d exceeds the client's max_connections %d: records beyond the "
            "pool wait for a connection, and that wait counts in the connect time limit",
            concurrency,
            client.max_connections,
        )
    return job.results(records)


async def run_import(
    client: WsOneClient,
    records: Iterable[R] | AsyncIterable[R],
    *,
    on_result: Callable[[ImportResult], None] | None = None,
    **options: Any,
) -> ImportSummary:
    """Run :func:`import_prospects` to completion and return the counts.

    Args:
        client: an open :class:`WsOneClient`.
        records: as for :func:`import_prospects`.
        on_result: called with each result as it settles (for progress or a failures file).
        **options: any keyword of :func:`import_prospects`.
    """
    started = time.monotonic()
    counts = dict.fromkeys(COUNTS, 0)
    async with contextlib.aclosing(import_prospects(client, records, **options)) as results:
        async for result in results:
            counts["resumed" if result.resumed else result.outcome.value] += 1
            if on_result is not None:
                on_result(result)
    return ImportSummary(seconds=time.monotonic() - started, **counts)


# ------------------------------------------------------------------------ input rows

#: The columns of a prospects file; all optional but ``identifier_value``.
COLUMNS: Final = (
    "identifier_type",
    "identifier_value",
    "title",
    "first_name",
    "last_name",
    "birth_date",
    "email",
    "phone_dialing_code",
    "phone_number",
    "address1",
    "address2",
    "address3_num",
    "address3_type",
    "address3_name",
    "address4",
    "zip_code",
    "city",
    "country",
    "entity_identifier",
    "allow_company_solicitation",
    "allow_trusted_solicitation",
    "subscriptions",
)
_COLUMN_SET: Final = frozenset(COLUMNS)
_TRUE: Final = frozenset({"1", "true", "yes", "y", "oui", "o", "x"})
_FALSE: Final = frozenset({"0", "false", "no", "n", "non", ""})


def _text(row: dict[str, Any], column: str) -> str | None:
    value = row.get(column)
    if value is None:
        return None
    text = (value if value.__class__ is str else str(value)).strip()
    return text or None


# The row helpers raise after their try blocks, never inside: the parsing error quotes the
# value (personal data, maybe), and even a suppressed __context__ would keep it reachable.


_WHOLE: Final = re.compile(r"[+-]?[0-9]{1,18}")
#: A number as Excel shows a long one in a "General" cell, such as ``1,23457E+12``: the
#: digits past the sixth are lost, so two cards would become one identifier.
_SCIENTIFIC: Final = re.compile(r"[0-9]+(?:[.,][0-9]*)?[eE][+-]?[0-9]+")


def _integer(row: dict[str, Any], column: str) -> int | None:
    text = _text(row, column)
    if text is None:
        return None
    if _WHOLE.fullmatch(text):
        return int(text)
    raise RowError(column, "not a whole number")


def _code(row: dict[str, Any], column: str, codes: type[m.OpenIntEnum]) -> Any:
    text = _text(row, column)
    if text is None:
        return None
    if _WHOLE.fullmatch(text):
        return codes(int(text))
    member = codes.__members__.get(text.upper())
    if member is None:
        names = ", ".join(member.name for member in codes)
        raise RowError(column, f"unknown value (use a number or {names})")
    return member


def _identifier_type(row: dict[str, Any]) -> m.IdentifierType:
    """A row's identifier type: 10 (web account) unless it names one."""
    kind: m.IdentifierType = (
        _code(row, "identifier_type", m.IdentifierType) or m.IdentifierType.WEB_ACCOUNT
    )
    return kind


def _date(row: dict[str, Any], column: str) -> dt.date | None:
    text = _text(row, column)
    if text is None:
        return None
    parsed = _parse_date(text)
    if parsed is None:
        raise RowError(column, "not a date (dd/mm/yyyy or yyyy-mm-dd)")
    return parsed


def _parse_date(text: str) -> dt.date | None:
    """``dd/mm/yyyy`` or ``yyyy-mm-dd`` (day and month may have one digit), by slicing:
    no ``strptime``, whose pattern machinery costs more than the rest of the row."""
    if "/" in text:
        parts = text.split("/")
        if len(parts) != 3:
            return None
        day, month, year = parts
    else:
        parts = text.split("-")
        if len(parts) != 3:
            return None
        year, month, day = parts
    if not (
        len(year) == 4
        and 0 < len(month) < 3
        and 0 < len(day) < 3
        and (digits := year + month + day).isdigit()
        and digits.isascii()
    ):
        return None
    try:
        return dt.date(int(year), int(month), int(day))
    except ValueError:
        return None  # such as 31/02


def _flag(row: dict[str, Any], column: str) -> bool | None:
    value = row.get(column)
    if value is None:
        return None
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return None if text == "" else False
    raise RowError(column, "not a yes/no value (1/0, true/false, yes/no)")


def _block(column: str, build: Callable[[], Any]) -> Any:
    try:
        return build()
    except ValueError as exc:
        # The model names its field and never the value; keep its words for the column.
        problem = str(exc).split(": ", 1)[-1]
    raise RowError(column, problem)


def prospect_from_row(row: dict[str, Any], *, source: str | None = None) -> m.CreatePersonRequest:
    """Turn one row of a prospects file (see :data:`COLUMNS`) into a ``CreatePersonRequest``.

    The identifier type defaults to 10 (web account, whose value is the email); the two
    consent columns apply to every contact the row gives (email, phone, address);
    ``subscriptions`` lists subscription ids separated by ``;``, each switched on.

    Raises:
        RowError: naming the column of the first bad value.
    """
    if "__error__" in row:
        column, problem = "row", str(row["__error__"])
        raise RowError(column, problem)
    if not _COLUMN_SET.issuperset(row):
        unknown = sorted(k for k in row if k not in _COLUMN_SET and k is not None)
        if unknown:
            raise RowError(unknown[0], "unknown column")
    value = _text(row, "identifier_value")
    if value is None:
        column, problem = "identifier_value", "missing: a prospect needs an identifier"
        raise RowError(column, problem)
    if _SCIENTIFIC.fullmatch(value):
        column, problem = (
            "identifier_value",
            "a number in scientific notation (such as 1,23457E+12): Excel rounded it; "
            "format the column as Text and export the file again",
        )
        raise RowError(column, problem)
    kind = _identifier_type(row)
    company, trusted = (
        _flag(row, "allow_company_solicitation"),
        _flag(row, "allow_trusted_solicitation"),
    )
    email = _text(row, "email")
    number = _text(row, "phone_number")
    address = {
        name: _text(row, name)
        for name in ("address1", "address2", "address3_name", "address4", "zip_code", "city")
    }
    address3_num, address3_type = _integer(row, "address3_num"), _integer(row, "address3_type")
    country = _text(row, "country")
    has_address = any(address.values()) or address3_num is not None or country is not None
    title = _code(row, "title", m.Title)
    birth_date = _date(row, "birth_date")
    first_name, last_name = _text(row, "first_name"), _text(row, "last_name")
    entity = _text(row, "entity_identifier")
    subscriptions = []
    for part in (_text(row, "subscriptions") or "").split(";"):
        if part.strip():
            if not _WHOLE.fullmatch(part.strip()):
                column, problem = "subscriptions", "ids must be whole numbers separated by ';'"
                raise RowError(column, problem)
            subscriptions.append(m.SubscriptionRequest(id=int(part), activate=True))
    contacts = m.ContactsRequest(
        email_request=_block(
            "email",
            lambda: m.EmailRequest(
                email_value=email,
                allow_company_solicitation=company,
                allow_trusted_solicitation=trusted,
            ),
        )
        if email
        else None,
        cell_phone_request=_block(
            "phone_number",
            lambda: m.CellPhoneRequest(
                dialing_code=_text(row, "phone_dialing_code"),
                number=number,
                allow_company_solicitation=company,
                allow_trusted_solicitation=trusted,
            ),
        )
        if number
        else None,
        address_request=_block(
            "address1",
            lambda: m.AddressRequest(
                address1=address["address1"],
                address2=address["address2"],
                address3_num=address3_num,
                address3_type=address3_type,
                address3_name=address["address3_name"],
                address4=address["address4"],
                zip_code=address["zip_code"],
                city=address["city"],
                country=country,
                allow_company_solicitation=company,
                allow_trusted_solicitation=trusted,
            ),
        )
        if has_address
        else None,
    )
    person = _block(
        "birth_date",
        lambda: m.PersonRequest(
            first_name=first_name, last_name=last_name, birth_date=birth_date, title=title
        ),
    )
    return m.CreatePersonRequest(
        new_identifier_request=_block(
            "identifier_value",
            lambda: m.NewIdentifierRequest(identifier_type=kind, identifier_value=value),
        ),
        person_profil_request=m.PersonProfilRequest(
            person_request=person,
            contacts_request=contacts if (email or number or has_address) else None,
            entity_request=m.EntityRequest(entity_identifier=entity) if entity else None,
        ),
        subscription_request=subscriptions or None,
        source=source,
    )


class InputError(ValueError):
    """The input file cannot be imported as it is (its header, its options): nothing was sent."""


#: The columns a failures file adds after the input's own: a re-import recognises and
#: ignores them, so a corrected failures file imports as it is.
REASON_COLUMNS: Final = ("wsone_line", "wsone_outcome", "wsone_field", "wsone_reason")
#: The key under which a JSON Lines failures file keeps, as typed, a line that is not a JSON
#: object or cannot be decoded (to be rewritten as the object it should be); ignored when
#: imported again.
TEXT_KEY: Final = "wsone_text"

#: The delimiters detected in a CSV header, in the order ties are settled.
DELIMITERS: Final = (",", ";", "\t")
_BOM: Final = b"\xef\xbb\xbf"
_FALLBACK: Final = "cp1252"
_SAMPLE: Final = 1 << 16


@attrs.frozen
class Dialect:
    """How a prospects file is written, as detected (or forced): its failures file is
    written the same way, so the program that made the input opens it too."""

    kind: Literal["csv", "jsonl"]
    """CSV with a header line, or JSON Lines."""
    encoding: str
    """``"utf-8"``, ``"cp1252"`` (the Windows code page of French Excel), or as forced."""
    bom: bool
    """Whether the file starts with a UTF-8 byte order mark (Excel's "CSV UTF-8")."""
    delimiter: str
    """The CSV delimiter (``","`` for JSON Lines, unused)."""
    header: tuple[str, ...] = ()
    """The CSV header as the file spells it."""
    unknown: tuple[str, ...] = ()
    """Header names neither documented nor mapped: ignored (see ``strict_columns``)."""

    def describe(self) -> str:
        """Such as ``"CSV, cp1252, ';'-separated"``."""
        encoding = "UTF-8 with BOM" if self.bom else self.encoding
        if self.kind == "jsonl":
            return f"JSON Lines, {encoding}"
        shown = "tab" if self.delimiter == "\t" else repr(self.delimiter)
        return f"CSV, {encoding}, {shown}-separated"


def _mostly_utf8(sample: bytes) -> bool:
    """Whether most lines of the sample that are not plain ASCII are UTF-8."""
    utf8 = other = 0
    lines = sample.split(b"\n")
    if len(lines) > 1 and len(sample) == _SAMPLE:
        lines.pop()  # maybe cut by the sample's end (a shorter one is the rest of the file)
    for line in lines:
        if line.isascii():
            continue
        try:
            line.decode("utf-8")
        except UnicodeDecodeError:
            other += 1
        else:
            utf8 += 1
    return utf8 >= other


_NOT_ASCII: Final = re.compile(rb"[\x80-\xff]")


def _later_sample(file: IO[bytes]) -> bytes:
    """Up to 64 KiB of ``file`` from the start of its first line that is not plain ASCII,
    read on from where ``file`` stands (its start was ASCII); b"" when there is none."""
    offset = file.tell()
    while chunk := file.read(1 << 20):
        found = _NOT_ASCII.search(chunk)
        if found is not None:
            # The line starts in this chunk, or at its start: the chunk before was ASCII,
            # so no character is cut there.
            file.seek(offset + chunk.rfind(b"\n", 0, found.start()) + 1)
            return file.read(_SAMPLE)
        offset += len(chunk)
    return b""


def _column_for(
    name: str, mapping: dict[str, str], known: dict[str, str]
) -> tuple[str | None, bool]:
    """The documented column a header name gives, and whether the name is unknown."""
    folded = name.strip().casefold()
    if folded in mapping:
        return mapping[folded], False
    if folded in known:
        return known[folded], False
    return None, bool(folded) and folded not in REASON_COLUMNS and folded != TEXT_KEY


def _csv_problem(error: csv.Error, first: int, last: int) -> str:
    """What a CSV record that cannot be parsed has, said for the person who fixes it."""
    where = f"line {first}" if first == last else f"lines {first}-{last}"
    if "end of data" in str(error):
        return f"a quote opened on line {first} is never closed ({where} to the end of the file)"
    if "expected after" in str(error):
        return (
            f"{where}: a quoted cell goes on after its closing quote (inside a quoted cell, "
            'write a quote as "")'
        )
    return f"{where}: not valid CSV ({error}); is a quote left open?"


def _line_break(row: dict[str, Any]) -> str | None:
    """The first documented column whose cell holds a line break, if any."""
    for column, cell in row.items():
        if "\n" in cell or "\r" in cell:
            return column
    return None


def _csv_records(
    lines: Iterable[str], delimiter: str, *, after_header: Callable[[], None] | None = None
) -> Generator[tuple[int, int, list[str], str | None], None, None]:
    """``(first line, last line, cells, problem)`` of each CSV record after the header.

    Read strictly: a quote left open reports its record instead of swallowing every line
    after it into one cell without a word. A record the csv module cannot read comes back
    line by line, each line cut on the delimiter as typed (its quotes kept) with the
    problem: the failures file then holds every line the reader took, one row each, for the
    user to fix and import again (it held one empty row). Blank lines are left out there.
    """
    taken: list[str] = []

    def tracked() -> Iterator[str]:
        for text in lines:
            taken.append(text)
            yield text

    reader = csv.reader(tracked(), delimiter=delimiter, strict=True)
    with contextlib.suppress(csv.Error):
        next(reader, None)  # the header, checked by open_prospects
    if after_header is not None:
        after_header()
    while True:
        first = reader.line_num + 1  # a record is reported by its first line
        taken.clear()
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            problem = _csv_problem(exc, first, reader.line_num)
            for offset, text in enumerate(taken):
                pieces = text.rstrip("\r\n").split(delimiter)
                if offset == 0:
                    yield first, first, pieces, problem
                elif "".join(pieces).strip():
                    why = f"read into the record of line {first}, which cannot be read: {problem}"
                    yield first + offset, first + offset, pieces, why
            continue
        yield first, reader.line_num, cells, None


class ProspectFile:
    """A prospects file opened for reading: its dialect detected and its header checked.

    Open it with :func:`open_prospects`; :meth:`rows` reads it lazily.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        dialect: Dialect,
        *,
        forced: bool,
        mapping: dict[str, str],
        positions: tuple[tuple[int, str], ...],
    ) -> None:
        self.path = path
        self.dialect = dialect
        self._forced = forced
        self._mapping = mapping
        self._positions = positions
        #: Without a forced encoding, the encoding some lines may be in instead.
        self.other_encoding = (
            None if forced else "utf-8" if dialect.encoding != "utf-8" else _FALLBACK
        )
        #: The lines (so far) that were not in the file's encoding and were read in the other.
        self.fallback_lines: list[int] = []

    def _lines(self, file: IO[bytes], bad: list[int]) -> Iterator[str]:
        # Without an encoding forced, a line is UTF-8 if it decodes as such, else cp1252
        # (cp1252 would read UTF-8 bytes without an error, as garbage): a file edited on
        # two machines mixes them.
        encoding, forced, fallback = self.dialect.encoding, self._forced, self.fallback_lines
        first = encoding if forced else "utf-8"
        utf8_is_other = not forced and encoding != "utf-8"
        for number, raw in enumerate(file, start=1):
            try:
                line = raw.decode(first)
            except UnicodeDecodeError:
                if not forced:
                    try:
                        line = raw.decode(_FALLBACK)  # strict: 5 bytes mean nothing in it
                    except UnicodeDecodeError:
                        pass
                    else:
                        if not utf8_is_other:
                            fallback.append(number)
                        yield line
                        continue
                bad.append(number)
                yield raw.decode(encoding, "replace")  # keeps the CSV parser in step
                continue
            if utf8_is_other and not raw.isascii():
                fallback.append(number)
            yield line

    def shard_key(self, row: dict[str, Any], raw: Any) -> str | None:
        """The key a record of :meth:`rows` is sharded on (see :func:`in_shard`).

        For a row that parses, :func:`prospect_key` of its request; for one that does not
        (even one the reader could not cut into cells), the key its identifier cells give
        as typed; None when there are none (the record then belongs to shard 0).
        """
        if "__error__" in row and self.dialect.kind == "csv" and isinstance(raw, list):
            row = {column: raw[i] for i, column in self._positions if i < len(raw)}
        return _row_key(row)

    def count(self) -> int:
        """The records :meth:`rows` gives (a progress bar's total), read quickly.

        Records are counted as :meth:`rows` reads them (a quoted cell may hold line breaks,
        rows of empty cells are skipped, a record that cannot be read counts each of its
        lines), parsed as Latin-1: every byte is a character there, and the delimiters,
        quotes and line ends of an ASCII-compatible encoding are the same.
        """
        with open(self.path, encoding="latin-1", newline="") as file:
            if self.dialect.kind == "jsonl":
                return sum(1 for line in file if line.strip())
            records = _csv_records(file, self.dialect.delimiter)
            return sum(1 for *_, cells, problem in records if problem or "".join(cells).strip())

    def rows(self) -> Generator[tuple[int, dict[str, Any], Any], None, None]:
        """``(line number, row, raw)`` for each record: ``row`` maps documented columns to
        cells, ``raw`` is the record as the file has it (the CSV cells, or the JSON object),
        for a failures file. A record that cannot be read is a row ``{"__error__": why}``."""
        bad: list[int] = []
        encoding = self.dialect.encoding
        with open(self.path, "rb") as file:
            if self.dialect.bom:
                file.read(len(_BOM))
            lines = self._lines(file, bad)
            if self.dialect.kind == "jsonl":
                yield from self._json_rows(lines, bad, encoding)
                return
            positions = self._positions
            width = len(self.dialect.header)
            records = _csv_records(lines, self.dialect.delimiter, after_header=bad.clear)
            for line, last, cells, problem in records:
                if problem is not None:
                    bad.clear()
                    yield line, {"__error__": problem}, cells
                    continue
                if bad:
                    where = ", ".join(map(str, bad))
                    verb = "lines {} are" if len(bad) > 1 else "line {} is"
                    bad.clear()
                    why = f"{verb.format(where)} not valid {encoding}"
                    yield line, {"__error__": why}, cells
                    continue
                if not cells or (not cells[0].strip() and not "".join(cells).strip()):
                    continue  # a blank line, or a row of empty cells (Excel leaves them)
                count = len(cells)
                if count > width and any(cell.strip() for cell in cells[width:]):
                    why = f"{count} cells, but the header has {width} columns"
                    yield line, {"__error__": why}, cells
                    continue
                row = {column: cells[i] for i, column in positions if i < count}
                if last != line and (broken := _line_break(row)) is not None:
                    # A record over several lines with a line break in a documented cell:
                    # most likely a quote left open, which glued the next lines to it.
                    why = (
                        f"{broken} holds a line break (lines {line}-{last} were "
                        f"read as one record): is a quote left open on line {line}?"
                    )
                    yield line, {"__error__": why}, cells
                    continue
                yield line, row, cells

    def _json_rows(
        self, lines: Iterator[str], bad: list[int], encoding: str
    ) -> Generator[tuple[int, dict[str, Any], Any], None, None]:
        mapping = self._mapping
        known = {column.casefold(): column for column in COLUMNS}
        columns: dict[str, str | None] = {}
        for number, text in enumerate(lines, start=1):
            if bad:
                bad.clear()
                # Kept as decoded, the bytes it cannot hold replaced: to be fixed by hand.
                why = f"line {number} is not valid {encoding}"
                yield number, {"__error__": why}, {TEXT_KEY: text.rstrip("\r\n")}
                continue
            if not text.strip():
                continue
            try:
                record = orjson.loads(text)
            except ValueError:
                record = None
            if not isinstance(record, dict):
                # Kept as typed, so that the failures file holds it to be rewritten.
                yield number, {"__error__": "not a JSON object"}, {TEXT_KEY: text.rstrip("\r\n")}
                continue
            row: dict[str, Any] = {}
            for key, value in record.items():
                column = columns.get(key, "")
                if column == "":
                    column, unknown = _column_for(str(key), mapping, known)
                    columns[key] = column
                    if unknown:
                        # A key may be data (an email): named by its shape, never as is.
                        logger.warning(
                            "ignoring the key %s, not a documented column", safe_key(str(key))
                        )
                if column is not None:
                    row[column] = value
            yield number, row, record


def open_prospects(
    path: str | os.PathLike[str],
    *,
    encoding: str | None = None,
    delimiter: str | None = None,
    mapping: dict[str, str] | None = None,
    strict_columns: bool = False,
) -> ProspectFile:
    """Open a prospects file: detect its encoding and delimiter and check its header.

    ``.jsonl``/``.ndjson`` files hold one JSON object per line; anything else is CSV with a
    header line. Nothing is read beyond the first 64 KiB here, unless their whole lines are
    plain ASCII: the file is then read on to its first line that is not, to tell its encoding.

    Args:
        path: the file.
        encoding: force an encoding (such as ``"cp1252"``); a line it cannot decode is a
            bad row. By default a file is UTF-8 (with or without BOM) if its first lines
            that are not plain ASCII (in its first 64 KiB, or the first such lines after)
            decode as UTF-8, else cp1252, and each line that is not valid in the first is
            read in the second.
        delimiter: force the CSV delimiter; by default the one of ``,`` ``;`` tab that the
            header holds most often.
        mapping: the file's header names to documented :data:`COLUMNS`, such as
            ``{"Courriel": "identifier_value"}`` (names compare case-insensitively).
        strict_columns: refuse unknown columns instead of ignoring them.

    Raises:
        InputError: a header without the identifier column, an unknown column with
            ``strict_columns``, a mapping to an undocumented column or from a missing one.
        OSError: the file cannot be read.
    """
    folded_map: dict[str, str] = {}
    for source, column in (mapping or {}).items():
        if column not in COLUMNS:
            msg = f"cannot map {source!r} to {column!r}: not a documented column"
            raise InputError(msg)
        folded_map[source.strip().casefold()] = column
    with open(path, "rb") as file:
        sample = file.read(_SAMPLE)
        # A start in plain ASCII tells nothing of the encoding: it is decided on the first
        # lines that are not, wherever they are (a cp1252 file whose first accent came
        # after 64 KiB was taken for UTF-8, and so was its failures file). The sample's
        # end may cut a line: read on from that line's start, so that it is judged whole.
        whole = sample.rfind(b"\n") + 1 if len(sample) == _SAMPLE else len(sample)
        later = b""
        if encoding is None and sample[:whole].isascii():
            file.seek(whole)
            later = _later_sample(file)
    if sample.startswith((b"\xff\xfe", b"\xfe\xff")):
        msg = (
            'the file is UTF-16 (Excel\'s "Unicode Text"): save it as "CSV UTF-8" or '
            '"CSV (séparateur: point-virgule)" and import that'
        )
        raise InputError(msg)
    if b"\x00" in sample:
        msg = (
            'not a text file (an Excel workbook?): save it as "CSV UTF-8" or '
            '"CSV (séparateur: point-virgule)" and import that'
        )
        raise InputError(msg)
    if b"\r" in sample.split(b"\n", 1)[0] and b"\n" not in sample.rstrip(b"\r"):
        msg = (
            'its lines end with CR alone (Excel\'s "CSV (Macintosh)"): save it as "CSV UTF-8" '
            'or "CSV (séparateur: point-virgule)" and import that'
        )
        raise InputError(msg)
    bom = sample.startswith(_BOM)
    if bom:
        sample = sample[len(_BOM) :]
    if encoding is not None:
        used, forced = codecs.lookup(encoding).name, True
    else:
        used, forced = ("utf-8" if bom or _mostly_utf8(later or sample) else _FALLBACK), False
    name = os.fspath(path).lower()
    if name.endswith((".jsonl", ".ndjson")):
        dialect = Dialect(kind="jsonl", encoding=used, bom=bom, delimiter=",")
        return ProspectFile(path, dialect, forced=forced, mapping=folded_map, positions=())
    first = sample.split(b"\n", 1)[0]
    try:
        # Read as the rows are: a UTF-8 file whose header was typed on another machine
        # may have it in cp1252, and --map must still find "Prénom".
        header_text = first.decode(used if forced else "utf-8")
    except UnicodeDecodeError:
        header_text = first.decode(used if forced else _FALLBACK, "replace")
    if delimiter is None:
        counts = [header_text.count(candidate) for candidate in DELIMITERS]
        delimiter = DELIMITERS[counts.index(max(counts))] if max(counts) else ","
    try:
        header = tuple(next(csv.reader([header_text.rstrip("\r\n")], delimiter=delimiter), []))
    except csv.Error as exc:
        msg = f"the header line is not valid CSV ({exc})"
        raise InputError(msg) from None
    known = {column.casefold(): column for column in COLUMNS}
    positions: list[tuple[int, str]] = []
    unknown: list[str] = []
    given: dict[str, str] = {}
    for index, raw_name in enumerate(header):
        found, is_unknown = _column_for(raw_name, folded_map, known)
        if is_unknown:
            unknown.append(raw_name.strip())
        if found is None:
            continue
        if found in given:
            msg = f"the columns {given[found]!r} and {raw_name.strip()!r} both give {found}"
            raise InputError(msg)
        given[found] = raw_name.strip()
        positions.append((index, found))
    folded_header = {raw_name.strip().casefold() for raw_name in header}
    missing = [source for source in folded_map if source not in folded_header]
    if missing:
        msg = f"--map names {', '.join(map(repr, missing))}, not a column of this file"
        raise InputError(msg)
    if "identifier_value" not in given:
        msg = (
            f"no identifier_value column (the file's columns: {', '.join(header) or 'none'}); "
            f"the expected columns are {', '.join(COLUMNS)}; map yours with "
            "--map 'YOUR COLUMN=identifier_value'"
        )
        raise InputError(msg)
    if unknown and strict_columns:
        msg = f"unknown columns: {', '.join(unknown)} (map them with --map SOURCE=COLUMN)"
        raise InputError(msg)
    dialect = Dialect(
        kind="csv",
        encoding=used,
        bom=bom,
        delimiter=delimiter,
        header=header,
        unknown=tuple(unknown),
    )
    return ProspectFile(
        path, dialect, forced=forced, mapping=folded_map, positions=tuple(positions)
    )


def read_rows(
    path: str | os.PathLike[str], **options: Any
) -> Generator[tuple[int, dict[str, Any]], None, None]:
    """Read a prospects file lazily: ``(line number, row)`` pairs.

    ``.jsonl``/``.ndjson`` files hold one JSON object per line; anything else is read as
    CSV with a header line, its encoding and delimiter detected (see :func:`open_prospects`,
    whose keywords ``options`` takes). Unknown columns are ignored, with one warning. A
    record that cannot be read yields a row ``{"__error__": ...}``, which
    :func:`prospect_from_row` refuses.

    Raises:
        InputError: as :func:`open_prospects`.
    """
    source = open_prospects(path, **options)
    if source.dialect.unknown:
        logger.warning("ignoring unknown columns: %s", ", ".join(source.dialect.unknown))
    for line, row, _raw in source.rows():
        yield line, row


async def aread(items: Iterator[T], *, batch: int = 256) -> AsyncGenerator[T, None]:
    """Any iterator made async: it is read in a thread, ``batch`` items at a time, so the
    event loop never waits on the disk. Closing this closes ``items`` if it can be."""
    try:
        while chunk := await asyncio.to_thread(list, itertools.islice(items, batch)):
            for item in chunk:
                yield item
    finally:
        close = getattr(items, "close", None)
        if close is not None:
            close()


async def aread_rows(
    path: str | os.PathLike[str], *, batch: int = 256, **options: Any
) -> AsyncGenerator[tuple[int, dict[str, Any]], None]:
    """:func:`read_rows` for an event loop: the file is read in a thread, ``batch`` rows
    at a time, so the loop never waits on the disk.

    Example:
        ``import_prospects(client, (row async for _line, row in aread_rows(path)), ...)``
    """
    source = await asyncio.to_thread(read_rows, path, **options)
    async for item in aread(source, batch=batch):
        yield item
