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
import collections
import contextlib
import csv
import datetime as dt
import enum
import hashlib
import itertools
import json
import logging
import os
import random as random_module
import re
import sys
import time
from collections.abc import (
    AsyncGenerator,
    AsyncIterable,
    AsyncIterator,
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
from wsone_async._retry import is_retryable, is_throttle
from wsone_async.client import AttemptInfo, WsOneClient, find_person
from wsone_async.errors import (
    APIConnectionError,
    APIError,
    OutcomeUnknownError,
    RateLimitError,
    ServerError,
    WsOneError,
)

__all__ = [
    "COLUMNS",
    "COUNTS",
    "ImportResult",
    "JournalInUseError",
    "ImportSummary",
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

    Each line is written and handed to the OS as its record settles (so ``kill -9`` loses
    nothing that settled): a write to the page cache, not to the disk. fsync, the part that
    waits for the disk and only matters for a power cut, runs in small batches in a thread.
    The file is locked while the import runs (see :func:`_lock`).
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
        self._file.write(_LINES[outcome] % digest.encode())
        self._file.flush()
        self._unsynced += 1
        due = self._clock() - self._last_sync >= self._FSYNC_SECONDS
        if (self._unsynced >= self._FSYNC_EVERY or due) and self._syncing is None:
            self._unsynced = 0
            self._last_sync = self._clock()
            self._syncing = asyncio.get_running_loop().create_task(self._sync())

    async def _sync(self) -> None:
        try:
            await asyncio.to_thread(os.fsync, self._file.fileno())
        finally:
            self._syncing = None

    async def close(self) -> None:
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


def _default_key(request: m.CreatePersonRequest) -> str | None:
    new = request.new_identifier_request
    if new is None or new.identifier_value is None:
        return None
    return f"{int(new.identifier_type)}:{new.identifier_value}"


_END: Final = object()


class _Source:
    """The input, shared by the workers: ``next()`` gives ``(index, record)`` or None."""

    def __init__(self, records: Iterable[Any] | AsyncIterable[Any]) -> None:
        self._index = 0
        self._done = False
        self._sync: Iterator[Any] | None = None
        self._async: AsyncIterator[Any] | None = None
        if isinstance(records, AsyncIterable):
            self._async = aiter(records)
        else:
            self._sync = iter(records)
        # An async generator cannot run twice at once: its readers take turns.
        self._turn = asyncio.Lock()

    async def next(self) -> tuple[int, Any] | None:
        if self._done:
            return None
        if self._sync is not None:
            record = next(self._sync, _END)
        else:
            assert self._async is not None
            async with self._turn:
                record = await anext(self._async, _END) if not self._done else _END
        if record is _END:
            self._done = True
            return None
        index = self._index
        self._index += 1
        return index, record


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
        outer_hook = client.on_attempt
        # A view of the caller's client: same session and pool; ambiguous creations are
        # settled by getPerson before any retry; every attempt informs the AIMD gate.
        self._client = client.with_options(
            retry=attrs.evolve(client.retry_policy, reconcile_writes=True),
            on_attempt=self._observer(outer_hook),
        )

    def _observer(
        self, outer: Callable[[AttemptInfo], None] | None
    ) -> Callable[[AttemptInfo], None]:
        gate = self._gate

        def observe(info: AttemptInfo) -> None:
            error = info.error
            if error is None:
                gate.on_success()
            elif is_throttle(error):
                gate.on_throttle()
            if outer is not None:
                outer(info)

        return observe

    async def results(
        self, records: Iterable[Any] | AsyncIterable[Any]
    ) -> AsyncGenerator[ImportResult, None]:
        if self._journal_path is not None:
            self._journal = await _Journal.open(self._journal_path, time.monotonic)
            # A rerun: whatever the journal does not list may have been in flight when the
            # last run stopped, so it is looked up before any creation.
            self._resumed_run = bool(self._journal.settled)
        outbox: asyncio.Queue[ImportResult | BaseException | object] = asyncio.Queue(
            maxsize=2 * self._concurrency
        )
        source = _Source(records)
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
                    yield item
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
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
                await outbox.put(await self._one(index, record))
        except Exception as exc:  # noqa: BLE001  (handed to the caller, who sees it raised)
            await outbox.put(exc)
        await outbox.put(_END)

    async def _one(self, index: int, record: Any) -> ImportResult:
        try:
            request = self._to_request(record) if self._to_request is not None else record
        except Exception as exc:  # noqa: BLE001  (a row the mapping refuses fails alone)
            return ImportResult(index, None, Outcome.FAILED, error=exc)
        if not isinstance(request, m.CreatePersonRequest):
            msg = f"expected a CreatePersonRequest, got {type(request).__name__}"
            return ImportResult(index, None, Outcome.FAILED, error=TypeError(msg))
        key = _default_key(request)
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
        return await call()

    async def _exists(self, request: m.CreatePersonRequest, *, by_identifier: bool) -> bool:
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
        try:
            found = await self._send(lambda: client.search_person(criteria))
        except APIError:
            return False
        return bool(found.person_response)

    async def _settle(self, request: m.CreatePersonRequest) -> tuple[Outcome, Exception | None]:
        """Look up, create, and after an ambiguous failure look up again: at most once each."""
        check = self._dedupe is not None or self._resumed_run
        by_identifier = self._resumed_run
        ambiguous = False
        last: Exception | None = None
        for round_number in range(self._max_rounds):
            if round_number:
                # The client's own backoff, jittered, so workers that failed together after
                # an outage do not come back together.
                cap = self._client.retry_policy.backoff_cap(round_number)
                await self._sleep(self._random() * cap)
            if check:
                try:
                    if await self._exists(request, by_identifier=by_identifier):
                        return (Outcome.CREATED if ambiguous else Outcome.EXISTING), None
                except WsOneError as exc:
                    if not is_retryable(exc, write=False, policy=self._client.retry_policy):
                        return Outcome.FAILED, exc
                    last = exc  # the lookup failed for now: the next round looks again
                    continue
            try:
                await self._send(lambda: self._client.create_person(request))
            except OutcomeUnknownError as exc:
                # Even getPerson could not tell: look the identifier up again next round.
                ambiguous, check, by_identifier, last = True, True, True, exc
                continue
            except APIError as exc:
                # Maybe a duplicate of another row, or of an earlier run: a lookup tells.
                try:
                    if await self._exists(request, by_identifier=True):
                        return Outcome.EXISTING, None
                except WsOneError:
                    pass
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
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> AsyncGenerator[ImportResult, None]:
    """Import prospects; yields one :class:`ImportResult` per record, in completion order.

    Args:
        client: an open :class:`WsOneClient`; the import uses a view of it (same session).
        records: ``CreatePersonRequest`` objects, or rows turned into them by
            ``to_request``; any iterable or async iterable, read lazily.
        concurrency: the most records in progress at once (and so requests in flight).
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
        clock: monotonic clock (injected by tests).
        sleep: the coroutine that waits (injected by tests).

    Returns:
        An async iterator; close it early with ``contextlib.aclosing`` to stop the import
        (the journal keeps what settled).
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
_TRUE: Final = frozenset({"1", "true", "yes", "y", "oui", "o", "x"})
_FALSE: Final = frozenset({"0", "false", "no", "n", "non", ""})


def _text(row: dict[str, Any], column: str) -> str | None:
    value = row.get(column)
    if value is None:
        return None
    text = str(value).strip()
    return text or None


# The row helpers raise after their try blocks, never inside: the parsing error quotes the
# value (personal data, maybe), and even a suppressed __context__ would keep it reachable.


_WHOLE: Final = re.compile(r"[+-]?[0-9]{1,18}")


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


def _date(row: dict[str, Any], column: str) -> dt.date | None:
    text = _text(row, column)
    if text is None:
        return None
    for pattern in ("%d/%m/%Y", "%Y-%m-%d"):
        parsed = _strptime(text, pattern)
        if parsed is not None:
            return parsed
    raise RowError(column, "not a date (dd/mm/yyyy or yyyy-mm-dd)")


def _strptime(text: str, pattern: str) -> dt.date | None:
    try:
        return dt.datetime.strptime(text, pattern).date()
    except ValueError:
        return None


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
    unknown = sorted(k for k in row if k not in COLUMNS and k is not None)
    if unknown:
        raise RowError(unknown[0], "unknown column")
    value = _text(row, "identifier_value")
    if value is None:
        column, problem = "identifier_value", "missing: a prospect needs an identifier"
        raise RowError(column, problem)
    kind = _code(row, "identifier_type", m.IdentifierType) or m.IdentifierType.WEB_ACCOUNT
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


def read_rows(path: str | os.PathLike[str]) -> Generator[tuple[int, dict[str, Any]], None, None]:
    """Read a prospects file lazily: ``(line number, row)`` pairs.

    ``.jsonl``/``.ndjson`` files hold one JSON object per line; anything else is read as
    CSV with a header line (comma or semicolon separated, detected from the header).
    A JSON line that does not parse yields a row ``{"__error__": ...}``.
    """
    name = os.fspath(path).lower()
    with open(path, encoding="utf-8-sig", newline="") as file:
        if name.endswith((".jsonl", ".ndjson")):
            for number, line in enumerate(file, start=1):
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                except ValueError:
                    row = None
                if not isinstance(row, dict):
                    row = {"__error__": "not a JSON object"}
                yield number, row
            return
        header = file.readline()
        delimiter = ";" if header.count(";") > header.count(",") else ","
        reader = csv.DictReader(itertools.chain([header], file), delimiter=delimiter)
        for row in reader:
            yield reader.line_num, {k: v for k, v in row.items() if k is not None}


async def aread_rows(
    path: str | os.PathLike[str], *, batch: int = 256
) -> AsyncGenerator[tuple[int, dict[str, Any]], None]:
    """:func:`read_rows` for an event loop: the file is read in a thread, ``batch`` rows
    at a time, so the loop never waits on the disk.

    Example:
        ``import_prospects(client, (row async for _line, row in aread_rows(path)), ...)``
    """
    rows = read_rows(path)
    try:
        while chunk := await asyncio.to_thread(list, itertools.islice(rows, batch)):
            for item in chunk:
                yield item
    finally:
        rows.close()
