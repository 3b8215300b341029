"""The path of one call, top to bottom: encode, attempt, classify, settle or retry, decode.

``WsOneClient.call`` is defined here (``WsOneClient`` inherits :class:`CallPipeline`), so the
whole life of a call reads in this one module, in the order it happens::

    call(operation, request) -> _run
      | check the request, encode it once, open the call's record (_CallState)
      | OBSERVER: call_started
      v
    attempt 1 --- inlined: no tenacity, no extra coroutine; most calls end here ----> answer
      | a WsOneError (every foreign failure was translated by _transport)               ^
      v                                                                                 |
    _recover: loop                                                                      |
      | _step(error): the rules of _retry                                               |
      |   RAISE  -- refused, not retryable, or an ambiguous write nobody can settle -> error
      |             (an ambiguous write becomes OutcomeUnknownError)                    |
      |   SETTLE -- an ambiguous write with a settler and reconcile_writes:             |
      |             _settle: the settler's lookup, a read on a view of this client      |
      |               applied      -> the answer, rebuilt; CallResult.settled is True ->|
      |               not applied  -> safe to send again: go on as RETRY               |
      |               cannot tell  -> OutcomeUnknownError                              |
      |   RETRY  -- _before_retry:                                                      |
      |               tenacity (RetryEngine): stop (attempts, deadline) -> error       |
      |                 raised; otherwise the wait (Retry-After or jittered backoff)   |
      |               the budget pays a token, or the error is raised with a note      |
      |               then the wait                                                     |
      |             attempt n (_attempt) -> an answer, or back to _step ---------------->
      v
    OBSERVER: call_ended; a success releases tokens back to the budget

An answer is decoded where it arrives, at once; a large one (``decode_in_steps_above``) in
steps with turns of the event loop between them, or in the decoding thread
(``decode_in_thread_above``): :func:`_decode_large`, at the end of this module.

Each attempt is bounded by :mod:`wsone_async._transport` (``asyncio.timeout``), which also
turns aiohttp's failures into :mod:`wsone_async.errors` errors; the rules (which failure is
retried, which is ambiguous) are in :mod:`wsone_async._retry`; the settlers (which lookup
tells whether a write was applied) are data, in :mod:`wsone_async.settlement`.

The ``OBSERVER`` marks are the one place where a call starts and ends, each attempt starts
and ends and each settling lookup starts and ends: a :class:`CallObserver` (tracing,
metrics) hooks there. The ``on_attempt`` hook of the client is fed from the same place.

This module sits at layer 5, beside :mod:`wsone_async.client`.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import copy
import enum
import logging
import os
import random as random_module
import sys
import threading
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Generic, NoReturn, Protocol, Self, TypeVar

import attrs

from wsone_async._codec import dumps, redact_wire, to_wire
from wsone_async._config import RetryPolicy, Timeouts
from wsone_async._drift import DriftMonitor
from wsone_async._retry import BudgetState, RetryEngine, describe, is_ambiguous, is_retryable
from wsone_async._transport import (
    SUCCESS,
    Limits,
    Reply,
    Transport,
    decode_reply,
    decode_reply_in_steps,
)
from wsone_async.errors import (
    APIError,
    APITimeoutError,
    ClientClosedError,
    ClientStateError,
    OutcomeUnknownError,
    WsOneError,
)
from wsone_async.models import Model
from wsone_async.operations import Operation
from wsone_async.settlement import CannotSettle, Settled, Settler

__all__ = ["AttemptInfo", "CallObserver", "CallPipeline", "CallResult"]

logger = logging.getLogger("wsone_async")

Req = TypeVar("Req", bound=Model)
Resp = TypeVar("Resp", bound=Model)
T = TypeVar("T")


# ------------------------------------------------------------------ what a call returns


@attrs.frozen
class CallResult(Generic[T]):
    """An operation's answer with what it took to get it (``call_with_metadata``)."""

    value: T
    """The response model, as the plain call returns it."""
    operation: str
    """The operation's name, such as ``"createPerson"``."""
    attempts: int
    """Requests of the operation sent (settling lookups are not counted)."""
    settled: bool
    """True when an ambiguous write was found applied by a lookup: ``value`` was rebuilt
    from that lookup, not sent by WsOne in answer to the write."""
    duration: float
    """Seconds the call took, by the client's clock."""


@attrs.frozen
class AttemptInfo:
    """What an ``on_attempt`` hook learns about one attempt, for metrics and tracing."""

    operation: str
    """The operation's name, such as ``"createPerson"``."""
    attempt: int
    """1 for the first attempt, 2 for the first retry, and so on."""
    duration: float
    """Seconds the attempt took, by the client's clock."""
    error: WsOneError | None
    """The attempt's failure, or None when it succeeded."""


# ------------------------------------------------------------------- what a call holds


@attrs.define(slots=True, eq=False)
class _CallState:
    """One call's record, from its start to its end: what every step reads and updates."""

    operation: Operation[Any, Any]
    request: Any
    body: bytes
    url: Any
    deadline: float | None
    """The ``clock()`` time after which no attempt or lookup starts, or None."""
    started: float
    attempts: int = 0
    """Requests of the operation sent so far."""
    settled: bool = False
    """A lookup said the write was applied; the answer is rebuilt."""
    not_applied: WsOneError | None = None
    """The last failure a lookup said was not applied: the write may be sent again."""
    engine: RetryEngine | None = None
    """tenacity's loop, from the first retry on."""
    observed: Any = None
    """The observer's own record of this call (its spans, say), if it keeps one."""


class CallObserver(Protocol):
    """Sees a call's steps: where tracing and metrics hook (all methods are synchronous)."""

    def call_started(self, state: _CallState) -> None: ...
    def attempt_started(self, state: _CallState) -> None: ...
    def attempt_ended(self, state: _CallState, error: BaseException | None) -> None: ...
    def settle_started(self, state: _CallState, settler: Settler) -> None: ...
    def settle_ended(
        self, state: _CallState, settled: Settled | None, error: BaseException | None
    ) -> None: ...
    def call_ended(self, state: _CallState, error: BaseException | None) -> None: ...


@attrs.frozen
class _Hooks:
    """What tests replace: the wait between attempts, the clock, the jitter's randomness."""

    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    clock: Callable[[], float] = time.monotonic
    random: Callable[[], float] = random_module.random
    observer: CallObserver | None = None


class _Shared:
    """What a client and its ``with_options`` views share: transport, budget, life cycle."""

    __slots__ = (
        "base_url",
        "budget",
        "closed",
        "decode_above",
        "drift",
        "loop",
        "thread_above",
        "transport",
        "urls",
        "username",
    )

    def __init__(
        self,
        transport: Transport,
        budget: BudgetState | None,
        base_url: str,
        username: str,
        urls: Mapping[str, Any],
        drift: DriftMonitor,
        *,
        decode_in_thread_above: int | None = None,
        decode_in_steps_above: int | None = None,
    ) -> None:
        self.transport = transport
        # Bodies longer than ``thread_above`` are decoded in the decoding thread, others
        # longer than the steps' threshold in steps on the loop: ``decode_above`` is the
        # smaller, so that a call pays one int comparison (None, "never", becomes a length
        # no body can have).
        self.thread_above = (
            sys.maxsize if decode_in_thread_above is None else decode_in_thread_above
        )
        steps_above = sys.maxsize if decode_in_steps_above is None else decode_in_steps_above
        self.decode_above = min(self.thread_above, steps_above)
        self.budget = budget
        self.base_url = base_url
        self.username = username
        self.urls = urls
        self.drift = drift
        self.loop: asyncio.AbstractEventLoop | None = None
        self.closed = False


@attrs.frozen
class _Settings:
    """A client's (or a view's) settings, checked once, at construction."""

    timeouts: Timeouts
    policy: RetryPolicy
    on_attempt: Callable[[AttemptInfo], None] | None
    settlers: Mapping[str, Settler]
    error_class: Callable[[str], type[APIError]]
    hooks: _Hooks
    limits: Limits
    """The limits of any attempt with the whole per-attempt limit ahead."""
    first_limits: Limits
    """The limits of the first attempt: the smaller of ``attempt`` and ``total``."""

    @classmethod
    def build(
        cls,
        transport: Transport,
        *,
        timeouts: Timeouts,
        policy: RetryPolicy,
        on_attempt: Callable[[AttemptInfo], None] | None,
        settlers: Mapping[str, Settler],
        error_class: Callable[[str], type[APIError]],
        hooks: _Hooks,
        once: bool = False,
    ) -> _Settings:
        """``once``: the settings serve a single call (their limits' timers are not kept)."""
        limits = transport.limits(
            attempt=timeouts.attempt, connect=timeouts.connect, read=timeouts.read, once=once
        )
        first = limits
        if timeouts.total is not None and timeouts.total <= timeouts.attempt:
            first = transport.limits(
                attempt=timeouts.total,
                connect=timeouts.connect,
                read=timeouts.read,
                name="total",
                once=once,
            )
        return cls(
            timeouts, policy, on_attempt, settlers, error_class, hooks, limits, first_limits=first
        )

    def rebuilt(self, transport: Transport, **changes: Any) -> _Settings:
        """These settings with ``changes`` (arguments of :meth:`build`), limits recomputed."""
        current = {
            "timeouts": self.timeouts,
            "policy": self.policy,
            "on_attempt": self.on_attempt,
            "settlers": self.settlers,
            "error_class": self.error_class,
            "hooks": self.hooks,
        }
        return _Settings.build(transport, **{**current, **changes})


class _Step(enum.Enum):
    """What to do after a failed attempt."""

    RAISE = "raise"
    SETTLE = "settle"
    RETRY = "retry"


# ------------------------------------------------------------------------ the pipeline


class CallPipeline:
    """The calls of :class:`~wsone_async.client.WsOneClient` (its base class)."""

    _shared: _Shared
    _settings: _Settings
    _is_view: bool

    def _bind(self, shared: _Shared, settings: _Settings, *, is_view: bool) -> None:
        """The one place a client or a view gets its state (``__init__``, ``with_options``)."""
        self._shared = shared
        self._settings = settings
        self._is_view = is_view

    def _derive(self, **changes: Any) -> Self:
        """A view of this client with some settings changed: same class, same shared state.

        ``changes`` are arguments of :meth:`_Settings.build` (``timeouts``, ``policy``...).
        """
        view = copy.copy(self)  # type(self), with a subclass's own attributes
        view._bind(
            self._shared,
            self._settings.rebuilt(self._shared.transport, **changes),
            is_view=True,
        )
        return view

    def _ready(self) -> Transport:
        """The transport, once the client is known usable in the running loop."""
        shared = self._shared
        if shared.closed:
            msg = "this WsOneClient is closed; create a new client"
            raise ClientClosedError(msg)
        loop = asyncio.get_running_loop()
        if shared.loop is not loop:
            if shared.loop is not None:
                msg = (
                    "this WsOneClient was opened in another event loop; aiohttp sessions "
                    "cannot cross loops: create one client per event loop"
                )
                raise ClientStateError(msg)
            # The session is created here, inside the running loop, never at import time.
            shared.loop = loop
            shared.transport.open()
        return shared.transport

    # -------------------------------------------------------------- the entry points

    def call(self, operation: Operation[Req, Resp], request: Req) -> Awaitable[Resp]:
        """Run ``operation`` with ``request``; the typed methods all come here.

        (A plain function returning the call's coroutine: no extra frame on every call.)

        Args:
            operation: an entry of :data:`wsone_async.operations.OPERATIONS`.
            request: an instance of the operation's request model.

        Returns:
            The operation's response model, once awaited.
        """
        return self._run(operation, request, False)

    def call_with_metadata(
        self, operation: Operation[Req, Resp], request: Req
    ) -> Awaitable[CallResult[Resp]]:
        """Run ``operation`` like :meth:`call`, and say what it took.

        Example:
            >>> from wsone_async import operations as ops
            >>> async def enrol(client, request):
            ...     result = await client.call_with_metadata(ops.CREATE_PERSON, request)
            ...     return result.value, result.attempts, result.settled
        """
        return self._run(operation, request, True)

    async def _run(self, operation: Operation[Any, Any], request: Any, metadata: bool) -> Any:
        shared = self._shared
        if shared.closed or shared.loop is not asyncio.get_running_loop():
            transport = self._ready()  # refuses, or opens the session on the first call
        else:
            transport = shared.transport
        if request.__class__ is not operation.request_type:
            msg = (
                f"{operation.name} takes a {operation.request_type.__name__}, "
                f"got {type(request).__name__}"
            )
            raise TypeError(msg)
        settings = self._settings
        body = dumps(request)
        debug = logger.isEnabledFor(logging.DEBUG)  # asked once a call: a Python call each
        if debug:
            logger.debug(
                "%s request: %s", operation.name, redact_wire(to_wire(request), type(request))
            )
        hooks = settings.hooks
        started = hooks.clock()
        observer = hooks.observer
        state: _CallState | None = None
        if observer is None and settings.on_attempt is None:
            # Attempt 1, inlined: every frame between the caller and aiohttp is walked
            # again at each resumption, which measurably costs throughput. The call's
            # record is built only if the attempt fails: a success does not read it.
            try:
                reply = await transport.post(
                    shared.urls[operation.name], body, settings.first_limits, operation.name
                )
                if len(reply.body) > shared.decode_above:
                    response = await _decode_large(reply, operation, settings, shared)
                else:
                    response = decode_reply(
                        reply,
                        operation.response_type,
                        operation=operation.name,
                        write=operation.is_write,
                        error_class=settings.error_class,
                        debug=debug,
                    )
            except WsOneError as error:
                state = self._state(operation, request, body, started)
                state.attempts = 1
                response = await self._recover(transport, state, error)
        else:
            state = self._state(operation, request, body, started)
            if observer is not None:
                observer.call_started(state)  # OBSERVER: the call starts
            try:
                try:
                    response = await self._attempt(transport, state)
                except WsOneError as error:
                    response = await self._recover(transport, state, error)
            except BaseException as failure:
                if observer is not None:
                    observer.call_ended(state, failure)  # OBSERVER: the call ends, failed
                raise
        settled = state is not None and state.settled
        if shared.drift.enabled and not settled:
            # Answers that differ from the models: one identity check per block when not.
            shared.drift.notice(operation.name, response)
        budget = shared.budget
        if (
            budget is not None
            and budget.tokens < budget.capacity  # full, the common case: nothing to give back
            and settings.policy.budget is not None
        ):
            budget.release()
        if observer is not None and state is not None:  # (an observer has the record)
            observer.call_ended(state, None)  # OBSERVER: the call ends, answered
        if metadata:
            return CallResult(
                response,
                operation.name,
                1 if state is None else state.attempts,
                settled,
                hooks.clock() - started,
            )
        return response

    def _state(
        self, operation: Operation[Any, Any], request: Any, body: bytes, started: float
    ) -> _CallState:
        """The record of a call started at ``started`` (by the client's clock)."""
        total = self._settings.timeouts.total
        return _CallState(
            operation,
            request,
            body,
            self._shared.urls[operation.name],
            None if total is None else started + total,
            started,
        )

    # ---------------------------------------------------------------------- one attempt

    async def _attempt(self, transport: Transport, state: _CallState) -> Any:
        """Send one attempt of the call within what is left of its deadline; decode it."""
        settings = self._settings
        if self._shared.closed:
            # Closed while this call waited to retry: refuse like any call after aclose().
            msg = "this WsOneClient was closed while the call waited to retry"
            raise ClientClosedError(msg)
        state.attempts += 1
        number = state.attempts
        operation = state.operation
        hooks = settings.hooks
        limits = settings.first_limits if number == 1 else settings.limits
        if state.deadline is not None:
            remaining = state.deadline - hooks.clock()
            if remaining <= 0:
                msg = f"{operation.name}: the call's total limit passed before attempt {number}"
                raise APITimeoutError(msg, request_sent=False, limit="total")
            if remaining < limits.seconds:
                timeouts = settings.timeouts
                limits = transport.limits(
                    attempt=remaining,
                    connect=timeouts.connect,
                    read=timeouts.read,
                    name="total",
                    once=True,
                )
        observer = hooks.observer
        watched = observer is not None or settings.on_attempt is not None
        started = hooks.clock() if watched else 0.0
        if observer is not None:
            observer.attempt_started(state)  # OBSERVER: an attempt starts
        try:
            reply = await transport.post(state.url, state.body, limits, operation.name)
            if len(reply.body) > self._shared.decode_above:
                response = await _decode_large(reply, operation, settings, self._shared)
            else:
                response = decode_reply(
                    reply,
                    operation.response_type,
                    operation=operation.name,
                    write=operation.is_write,
                    error_class=settings.error_class,
                )
        except BaseException as failure:
            # A cancel (or a bug) ends the attempt too: its span must not stay open.
            if watched:
                self._attempt_ended(state, started, failure)
            raise
        if watched:
            self._attempt_ended(state, started, None)
        return response

    def _attempt_ended(
        self, state: _CallState, started: float, error: BaseException | None
    ) -> None:
        settings = self._settings
        observer = settings.hooks.observer
        if observer is not None:
            observer.attempt_ended(state, error)  # OBSERVER: an attempt ends
        hook = settings.on_attempt
        if hook is None or not (error is None or isinstance(error, WsOneError)):
            # on_attempt hears of attempts that got an answer or a WsOne error; one cut
            # short by a cancel is the caller's, not WsOne's.
            return
        info = AttemptInfo(
            state.operation.name, state.attempts, settings.hooks.clock() - started, error
        )
        try:
            hook(info)
        except Exception:
            # A metrics hook must not turn a call's outcome into its own failure.
            logger.exception("on_attempt hook failed for %s", state.operation.name)

    # --------------------------------------------------------- after a failed attempt

    async def _recover(self, transport: Transport, state: _CallState, error: WsOneError) -> Any:
        """Classify each failure; settle, retry or raise, until an answer or a final error."""
        while True:
            step = self._step(state, error)
            if step is _Step.SETTLE:
                settled = await self._settle(state, error)
                if settled.applied:
                    return self._settled_answer(state, error, settled)
                state.not_applied = error  # proven not applied: safe to send again
                step = _Step.RETRY if self._settings.policy.max_retries > 0 else _Step.RAISE
            if step is _Step.RAISE:
                _raise_final(state, error)
            await self._before_retry(state, error)
            try:
                return await self._attempt(transport, state)
            except WsOneError as failure:
                error = failure

    def _step(self, state: _CallState, error: WsOneError) -> _Step:
        """What the rules say about ``error``: raise it, settle it, or retry."""
        settings = self._settings
        policy = settings.policy
        write = state.operation.is_write
        if write and is_ambiguous(error):
            if policy.reconcile_writes and state.operation.name in settings.settlers:
                return _Step.SETTLE
            return _Step.RAISE
        if policy.max_retries > 0 and is_retryable(error, write=write, policy=policy):
            return _Step.RETRY
        return _Step.RAISE

    async def _before_retry(self, state: _CallState, error: WsOneError) -> None:
        """Wait for the next attempt; raise the final error when there is none.

        tenacity says whether an attempt may start and when; the budget then pays for it.
        """
        settings = self._settings
        hooks = settings.hooks
        if state.engine is None:
            state.engine = await RetryEngine.start(
                policy=settings.policy,
                deadline=state.deadline,
                clock=hooks.clock,
                sleep=hooks.sleep,
                random=hooks.random,
            )
        wait = await state.engine.next_wait(error)
        if wait is None:
            _raise_final(state, error)  # out of attempts, or of time
        budget = self._shared.budget if settings.policy.budget is not None else None
        if budget is not None and not budget.acquire(error):
            budget.warn(hooks.clock())
            error.add_note(budget.note())
            _raise_final(state, error)
        logger.info(
            "retrying %s (attempt %d of %d) in %.2fs after %s",
            state.operation.name,
            state.attempts + 1,
            settings.policy.max_retries + 1,
            wait,
            describe(error),
        )
        await state.engine.sleep(wait)

    # ----------------------------------------------------------------------- settling

    async def _settle(self, state: _CallState, error: WsOneError | None) -> Settled:
        """Ask the operation's settler whether the write was applied.

        Raises:
            OutcomeUnknownError: when the settler cannot tell, or no time is left to ask.
        """
        settings = self._settings
        operation = state.operation
        settler = settings.settlers[operation.name]
        why = describe(error) if error is not None else "asked by the caller"
        timeouts = settings.timeouts
        if state.deadline is not None:
            # The lookup belongs to the call: it gets what is left of the call's deadline.
            left = state.deadline - settings.hooks.clock()
            if left <= 0:
                reason = f"{why}; no time left to ask {settler.lookup}"
                raise OutcomeUnknownError(operation.name, state.request, reason=reason) from error
            timeouts = attrs.evolve(timeouts, attempt=min(timeouts.attempt, left), total=left)
        # The lookup is a read, retried as reads are, on this client's session and budget.
        # (A WsOneClient, since WsOneClient is the only class built on this pipeline.)
        reader: Any = self._derive(
            timeouts=timeouts,
            policy=attrs.evolve(settings.policy, reconcile_writes=False),
            once=True,  # with what is left of this call's deadline: its limits are its own
        )
        observer = settings.hooks.observer
        if observer is not None:
            observer.settle_started(state, settler)  # OBSERVER: a settling lookup starts
        try:
            settled = await settler(reader, state.request)
        except BaseException as failure:
            if observer is not None:
                observer.settle_ended(state, None, failure)  # OBSERVER: the lookup ends
            if isinstance(failure, CannotSettle):
                reason = f"{why}; {failure}"
            elif isinstance(failure, WsOneError):
                reason = f"{why}; {settler.lookup} could not tell: {describe(failure)}"
            else:
                raise
            raise OutcomeUnknownError(operation.name, state.request, reason=reason) from (
                error or failure
            )
        if observer is not None:
            observer.settle_ended(state, settled, None)  # OBSERVER: the lookup ends
        logger.info(
            "%s failed ambiguously (%s); %s says it was %s",
            operation.name,
            why,
            settler.lookup,
            "applied" if settled.applied else "not applied",
        )
        return settled

    def _settled_answer(self, state: _CallState, error: WsOneError, settled: Settled) -> Any:
        """The write's answer, rebuilt from the lookup that found it applied."""
        state.settled = True
        settler = self._settings.settlers[state.operation.name]
        infos = f"applied: settled by {settler.lookup} after {type(error).__name__}"
        # Every response model is a ResponseEnvelope; the table types it only as a Model.
        build: Any = state.operation.response_type
        return build(response_code=SUCCESS, infos=infos, **settled.fields)

    async def settle(self, operation: Operation[Any, Any], request: Any) -> Settled:
        """Ask whether ``request`` (a write of ``operation``) was applied, as the client does.

        The same code the client runs after an ambiguous failure with ``reconcile_writes``:
        the operation's settler (see :mod:`wsone_async.settlement`), its lookup a read on
        this client's session, within this client's time limits. The check is charged to
        the retry budget as one retry, since it stands for one (the bulk importer's rounds).

        Returns:
            The settler's :class:`~wsone_async.settlement.Settled`.

        Raises:
            OutcomeUnknownError: when the settler cannot tell, or the budget is spent.
            ValueError: when the operation has no settler.
        """
        self._ready()
        settings = self._settings
        if operation.name not in settings.settlers:
            msg = f"{operation.name} has no settler"
            raise ValueError(msg)
        started = settings.hooks.clock()
        state = self._state(operation, request, b"", started)
        budget = self._shared.budget if settings.policy.budget is not None else None
        if budget is not None and not budget.acquire(None):
            budget.warn(started)
            unknown = OutcomeUnknownError(operation.name, request, reason="not checked")
            unknown.add_note(budget.note())
            raise unknown
        return await self._settle(state, None)


def _raise_final(state: _CallState, error: WsOneError) -> NoReturn:
    """Raise what the caller sees after the last failure."""
    if error is state.not_applied:
        raise error  # settled as not applied: the caller may send it again later
    if state.operation.is_write and is_ambiguous(error):
        raise OutcomeUnknownError(
            state.operation.name, state.request, reason=describe(error)
        ) from error
    raise error


# ------------------------------------------------------------ decoding a large answer


async def _decode_large(
    reply: Reply, operation: Operation[Any, Any], settings: _Settings, shared: _Shared
) -> Any:
    """A large answer, decoded in the decoding thread, or in steps on the event loop.

    In steps, the loop runs its other callbacks between two steps (slices of the body's
    parse, then of its long lists of blocks; see ``decode_in_steps_above``), so other
    requests wait one step, not the whole answer.
    """
    if len(reply.body) > shared.thread_above:
        return await _decode_in_thread(reply, operation, settings)
    steps = decode_reply_in_steps(
        reply,
        operation.response_type,
        operation=operation.name,
        write=operation.is_write,
        error_class=settings.error_class,
    )
    while True:
        # A turn of the loop for the other callbacks before each step, the first included:
        # the callback that read the body (joining its chunks) is then not also the one
        # that parses it.
        await asyncio.sleep(0)
        try:
            next(steps)
        except StopIteration as done:
            return done.value


# ------------------------------------------------------------ decoding off the event loop

# One thread decodes the large answers of every client of the process. One, because the
# GIL lets one thread run Python at a time anyway: a second decoding thread would not
# decode faster, it would only make the event loop's thread wait longer for its turn. A
# thread running Python gives the GIL up every sys.getswitchinterval() (5 ms), so the loop
# keeps running while a large answer is decoded; one C call (orjson's parse of the whole
# body) keeps it until it returns, about 6 ms for 2.2 MB.
_decoder: concurrent.futures.ThreadPoolExecutor | None = None
_decoder_pid = 0
_decoder_lock = threading.Lock()


def _decoding_thread() -> concurrent.futures.ThreadPoolExecutor:
    global _decoder, _decoder_pid  # one lazily created executor per process
    with _decoder_lock:
        # After a fork the child inherits the executor but not its thread: a new one then.
        if _decoder is None or _decoder_pid != os.getpid():
            _decoder = concurrent.futures.ThreadPoolExecutor(
                max_workers=1, thread_name_prefix="wsone_async-decode"
            )
            _decoder_pid = os.getpid()
        return _decoder


def _decode_in_thread(
    reply: Reply, operation: Operation[Any, Any], settings: _Settings
) -> asyncio.Future[Any]:
    """The decoded answer, decoded in the decoding thread (awaited, it gives the answer).

    A cancelled call drops its decode: not started yet, it never runs; already running,
    its result or error is discarded (asyncio does not copy it into a cancelled future),
    so nothing is raised or logged later.
    """
    future = _decoding_thread().submit(
        decode_reply,
        reply,
        operation.response_type,
        operation=operation.name,
        write=operation.is_write,
        error_class=settings.error_class,
    )
    return asyncio.wrap_future(future)
