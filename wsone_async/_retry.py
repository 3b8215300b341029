"""Retries: the policy's rules, run by tenacity (the only tenacity user).

Which failures are retried depends on the operation:

* a **read** is retried after any transient failure: connection errors, timeouts,
  disconnects, HTTP 408, 429 and 5xx, and an answer that is not a WsOne answer at all (not
  JSON, or JSON with neither a ``responseCode`` nor a block the model knows);
* a **write** is retried only when WsOne provably never received it (connection refused,
  DNS failure, no connection within the connect timeout) or deliberately refused it
  (:func:`is_refusal`: 429, and 503 *with* ``Retry-After``). Any other failure of a write
  is *ambiguous* (:func:`is_ambiguous`): it may have been applied, and the client settles
  it with a lookup (``reconcile_writes``) or raises
  :class:`~wsone_async.errors.OutcomeUnknownError` instead of risking a duplicate customer
  or points credited twice.

Why a 503 without ``Retry-After`` is ambiguous: WsOne sits behind load balancers and
proxies. Envoy-style proxies answer 503 ("upstream connect error or disconnect/reset before
headers") *after* forwarding the request, when the upstream reset before its answer: the
write may have been applied. An origin that refuses work on purpose (maintenance,
overload) says when to come back, with ``Retry-After``; that 503 is a refusal, like 429.

A ``Retry-After`` is honoured up to ``RetryPolicy.max_retry_after``; a longer one raises
at once so a consumer can requeue. Otherwise the wait is an exponential backoff with full
jitter. Retries stop at ``max_retries``, at the call's deadline, or when the client's retry
budget is spent. ``CancelledError`` is never retried: the rules only ever accept
:class:`~wsone_async.errors.WsOneError` instances.

Who decides what: the call pipeline (:mod:`wsone_async._pipeline`) classifies each
failure with the rules below and takes a token from the :class:`BudgetState` before any
retry; tenacity (:class:`RetryEngine`) decides only *when* the next attempt starts (the
wait) and *whether one may start at all* (the attempt count and the deadline), with pure
predicates whose order does not matter. A fresh ``AsyncRetrying`` is built for each call
that needs one, and only after its first attempt failed, so a successful call never pays
tenacity's set-up cost (nor its import).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Final

from wsone_async._config import RetryBudget, RetryPolicy
from wsone_async.errors import (
    APIConnectionError,
    APIError,
    APITimeoutError,
    HTTPStatusError,
    ResponseDecodeError,
    ResponseTooLargeError,
    ServerError,
    WsOneError,
)

if TYPE_CHECKING:
    from tenacity import AsyncRetrying, RetryCallState

__all__ = [
    "BudgetState",
    "is_ambiguous",
    "is_refusal",
    "is_retryable",
    "is_throttle",
    "RetryEngine",
]

logger = logging.getLogger("wsone_async")

_SERVICE_UNAVAILABLE: Final = 503
_REQUEST_TIMEOUT: Final = 408
_TOO_MANY_REQUESTS: Final = 429


class BudgetState:
    """The tokens left in a client's retry budget (shared by its ``with_options`` views).

    Explicit, as botocore's retry quota: :meth:`acquire` before each retry (once the rules
    and tenacity agreed on one), :meth:`release` after each successful call.
    """

    __slots__ = ("_config", "_warned_at", "capacity", "tokens")

    #: At most one WARNING per this many seconds (per client) says the budget is spent.
    WARN_EVERY: Final = 60.0

    def __init__(self, config: RetryBudget) -> None:
        self._config = config
        #: The most tokens the budget holds (the pipeline skips :meth:`release` when full).
        self.capacity = config.capacity
        self.tokens = config.capacity
        self._warned_at: float | None = None

    def cost(self, error: BaseException | None) -> int:
        """Tokens a retry after ``error`` costs (a timeout ties a connection up longer)."""
        if isinstance(error, APITimeoutError):
            return self._config.timeout_retry_cost
        return self._config.retry_cost

    def acquire(self, error: BaseException | None) -> bool:
        """Take the cost of one retry after ``error``; False when the budget cannot pay."""
        cost = self.cost(error)
        if cost > self.tokens:
            return False
        self.tokens -= cost
        return True

    def release(self) -> None:
        """Give tokens back after a successful call, up to the capacity."""
        if self.tokens < self._config.capacity:
            self.tokens = min(self._config.capacity, self.tokens + self._config.success_refund)

    def note(self) -> str:
        """What an error not retried for want of tokens says about it."""
        return (
            f"not retried: the client's retry budget is spent ({self.tokens} of "
            f"{self._config.capacity} tokens left); see RetryPolicy.budget"
        )

    def warn(self, now: float) -> None:
        """Log that the budget is spent: one WARNING per :attr:`WARN_EVERY` seconds."""
        if self._warned_at is None or now - self._warned_at >= self.WARN_EVERY:
            self._warned_at = now
            logger.warning(
                "the retry budget is spent: failures are raised without retrying until "
                "successes refill it (%d of %d tokens left)",
                self.tokens,
                self._config.capacity,
            )


def _retry_after_too_long(error: HTTPStatusError, policy: RetryPolicy) -> bool:
    return error.retry_after is not None and error.retry_after > policy.max_retry_after


def is_throttle(error: BaseException) -> bool:
    """Whether WsOne (or a proxy) asked to slow down: HTTP 429 or 503 (for rate gates)."""
    return isinstance(error, HTTPStatusError) and error.status in (
        _TOO_MANY_REQUESTS,
        _SERVICE_UNAVAILABLE,
    )


def is_refusal(error: BaseException) -> bool:
    """Whether WsOne deliberately refused the request: 429, or 503 with ``Retry-After``.

    A 503 without ``Retry-After`` is not one: a proxy may answer it after forwarding.
    """
    if not isinstance(error, HTTPStatusError):
        return False
    status = error.status
    return status == _TOO_MANY_REQUESTS or (
        status == _SERVICE_UNAVAILABLE and error.retry_after is not None
    )


def is_retryable(error: BaseException, *, write: bool, policy: RetryPolicy) -> bool:
    """Whether ``error`` may be retried for a read (``write=False``) or a write."""
    if isinstance(error, APIConnectionError):
        return not (write and error.request_sent)
    if isinstance(error, HTTPStatusError):
        if _retry_after_too_long(error, policy):
            return False
        if is_refusal(error):
            return True
        if write:
            return False
        return isinstance(error, ServerError) or error.status == _REQUEST_TIMEOUT
    if isinstance(error, APIError):
        return not write and type(error).retryable
    # A read answered with something that is not a WsOne answer at all (a proxy's HTML
    # page, ``{}``) is worth another try; JSON that does not fit the model would only fail
    # again.
    return not write and isinstance(error, ResponseDecodeError) and error.path is None


def is_ambiguous(error: BaseException) -> bool:
    """Whether a write that failed with ``error`` may nevertheless have been applied."""
    if isinstance(error, APIConnectionError):
        return error.request_sent
    if isinstance(error, HTTPStatusError):
        # WsOne (or a proxy) may have applied the write before failing: any 5xx that is
        # not a deliberate refusal (a 503 without Retry-After included), and 408, which is
        # not trusted to mean "never forwarded".
        if is_refusal(error):
            return False
        return error.status >= 500 or error.status == _REQUEST_TIMEOUT
    # An unreadable answer to a write (no responseCode "000" included): WsOne answered,
    # so it may well have applied it.
    return isinstance(error, ResponseDecodeError | ResponseTooLargeError)


def describe(error: BaseException) -> str:
    """A short reason for logs: the class and its message (free of personal data)."""
    return f"{type(error).__name__}: {error}"


def _failure(state: RetryCallState) -> BaseException:
    # The failures are recorded as tenacity *results* (see RetryEngine), never raised in it.
    outcome = state.outcome
    failure = outcome.result() if outcome is not None else None
    if not isinstance(failure, BaseException):
        msg = "RetryEngine records failures as results"
        raise TypeError(msg)
    return failure


class _Wait:
    """The wait before the next attempt: ``Retry-After`` if given, else jittered backoff."""

    def __init__(self, policy: RetryPolicy, random: Callable[[], float]) -> None:
        self._policy = policy
        self._random = random

    def __call__(self, retry_state: RetryCallState) -> float:
        error = _failure(retry_state)
        if isinstance(error, HTTPStatusError) and error.retry_after is not None:
            return error.retry_after  # at most max_retry_after: is_retryable checked it
        return self._policy.backoff(retry_state.attempt_number, self._random)


class _PastDeadline:
    """A stop: the next attempt would start at or after the call's deadline."""

    def __init__(self, deadline: float | None, clock: Callable[[], float]) -> None:
        self._deadline = deadline
        self._clock = clock

    def __call__(self, retry_state: RetryCallState) -> bool:
        deadline = self._deadline
        return deadline is not None and self._clock() + retry_state.upcoming_sleep >= deadline


class RetryEngine:
    """tenacity, deciding for one call when the next attempt may start, or that none will.

    tenacity's attempt 1 is the call's first attempt, which ran before tenacity was needed:
    :meth:`start` opens tenacity's state at that attempt, and each :meth:`next_wait` records
    the failure of the attempt just made (as tenacity's *result*: nothing is raised or re-run
    inside tenacity), then asks tenacity for its verdict: stop (the attempt count, or the
    deadline), or the wait before the next attempt. Whether a failure deserves a retry at
    all is not tenacity's question, nor is the budget: the pipeline asks for a verdict only
    once its own rules said "retry", and pays the budget only once tenacity said "go".
    """

    __slots__ = ("_retrying", "_state")

    def __init__(self, retrying: AsyncRetrying, state: RetryCallState) -> None:
        self._retrying = retrying
        self._state = state

    @classmethod
    async def start(
        cls,
        *,
        policy: RetryPolicy,
        deadline: float | None,
        clock: Callable[[], float],
        sleep: Callable[[float], Awaitable[None]],
        random: Callable[[], float],
    ) -> RetryEngine:
        """The engine of a call whose first attempt failed.

        Args:
            policy: the retry policy (its attempt count and backoff).
            deadline: the ``clock()`` time at or after which no attempt starts, or None.
            clock: monotonic clock, in seconds.
            sleep: the coroutine that waits between attempts (injected by tests).
            random: a uniform random number in [0, 1), for the jitter.
        """
        # Imported here, on the first retry: a call that succeeds never needs tenacity.
        from tenacity import (
            AsyncRetrying,
            DoAttempt,
            RetryCallState,
            retry_always,
            stop_after_attempt,
        )

        attempts_spent = stop_after_attempt(policy.max_retries + 1)
        past_deadline = _PastDeadline(deadline, clock)

        def stop(state: RetryCallState) -> bool:
            # Two pure predicates: which one is asked first is moot.
            return attempts_spent(state) or past_deadline(state)

        retrying = AsyncRetrying(
            retry=retry_always,  # asked only once the pipeline has decided to retry
            stop=stop,
            wait=_Wait(policy, random),
            sleep=sleep,
            retry_error_callback=lambda state: None,  # a stop is a verdict, not an error
        )
        retrying.begin()
        state = RetryCallState(retrying, fn=None, args=(), kwargs={})
        first = await retrying.iter(state)
        if not isinstance(first, DoAttempt):  # tenacity always lets attempt 1 run
            msg = "tenacity did not start at attempt 1"
            raise TypeError(msg)
        return cls(retrying, state)

    async def next_wait(self, failure: WsOneError) -> float | None:
        """Record the failure of the attempt just made: the wait before the next, or None."""
        from tenacity import DoSleep

        state = self._state
        state.set_result(failure)
        verdict = await self._retrying.iter(state)
        if not isinstance(verdict, DoSleep):
            return None  # tenacity stops
        state.prepare_for_next_attempt()
        return float(verdict)

    async def sleep(self, seconds: float) -> None:
        """Wait before the next attempt, with the call's sleep."""
        await self._retrying.sleep(seconds)  # type: ignore[misc]
