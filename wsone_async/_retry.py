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

A fresh ``AsyncRetrying`` is built for each call that needs one, and only after its first
attempt failed, so a successful call never pays tenacity's set-up cost (nor its import).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Final, TypeVar

from wsone_async._config import RetryBudget, RetryPolicy
from wsone_async.errors import (
    APIConnectionError,
    APIError,
    APITimeoutError,
    HTTPStatusError,
    ResponseDecodeError,
    ResponseTooLargeError,
    ServerError,
)

if TYPE_CHECKING:
    from tenacity import RetryCallState

__all__ = [
    "BudgetState",
    "is_ambiguous",
    "is_refusal",
    "is_retryable",
    "is_throttle",
    "retry_after_failure",
]

logger = logging.getLogger("wsone_async")

T = TypeVar("T")

_SERVICE_UNAVAILABLE: Final = 503
_REQUEST_TIMEOUT: Final = 408
_TOO_MANY_REQUESTS: Final = 429


class BudgetState:
    """The tokens left in a client's retry budget (shared by its ``with_options`` views)."""

    __slots__ = ("_config", "tokens")

    def __init__(self, config: RetryBudget) -> None:
        self._config = config
        self.tokens = config.capacity

    def spend(self, error: BaseException) -> bool:
        """Take the cost of one retry after ``error``; False when the budget cannot pay."""
        cost = (
            self._config.timeout_retry_cost
            if isinstance(error, APITimeoutError)
            else self._config.retry_cost
        )
        if cost > self.tokens:
            return False
        self.tokens -= cost
        return True

    def refund(self) -> None:
        """Give tokens back after a success, up to the capacity."""
        if self.tokens < self._config.capacity:
            self.tokens = min(self._config.capacity, self.tokens + self._config.success_refund)


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
    assert state.outcome is not None
    error = state.outcome.exception()
    assert error is not None
    return error


class _Wait:
    """The wait before the next retry: ``Retry-After`` if given, else jittered backoff."""

    def __init__(self, policy: RetryPolicy, random: Callable[[], float]) -> None:
        self._policy = policy
        self._random = random

    def __call__(self, retry_state: RetryCallState) -> float:
        error = _failure(retry_state)
        if isinstance(error, HTTPStatusError) and error.retry_after is not None:
            return error.retry_after  # at most max_retry_after: is_retryable checked it
        cap = self._policy.backoff_cap(retry_state.attempt_number)
        return self._random() * cap if self._policy.jitter else cap


class _StopAtDeadlineOrBudget:
    """Stops when the next wait would pass the deadline or the budget cannot pay a retry.

    tenacity computes the wait before the stop, and this stop comes after the attempt
    count, so tokens are spent only on retries that do happen.
    """

    def __init__(
        self, deadline: float | None, clock: Callable[[], float], budget: BudgetState | None
    ) -> None:
        self._deadline = deadline
        self._clock = clock
        self._budget = budget

    def __call__(self, retry_state: RetryCallState) -> bool:
        deadline = self._deadline
        if deadline is not None and self._clock() + retry_state.upcoming_sleep >= deadline:
            return True
        return self._budget is not None and not self._budget.spend(_failure(retry_state))


async def retry_after_failure(
    first_error: BaseException,
    attempt: Callable[[int], Awaitable[T]],
    *,
    operation: str,
    write: bool,
    policy: RetryPolicy,
    budget: BudgetState | None,
    deadline: float | None,
    clock: Callable[[], float],
    sleep: Callable[[float], Awaitable[None]],
    random: Callable[[], float],
) -> T:
    """Retry a call whose first attempt failed with ``first_error``.

    Args:
        first_error: the first attempt's failure; raised again if it is not retryable.
        attempt: runs attempt number ``n`` (2 for the first retry) and returns its result.
        operation: the operation's name, for logs.
        write: whether the operation is a write (see the module's rules).
        policy: the retry policy.
        budget: the client's retry budget, or None.
        deadline: the ``clock()`` time after which no retry starts, or None.
        clock: monotonic clock, in seconds.
        sleep: the coroutine that waits between attempts (injected by tests).
        random: a uniform random number in [0, 1), for the jitter.

    Returns:
        The result of the first retry that succeeds.

    Raises:
        The last failure, when no retry is left or it is not retryable.
    """
    number = 0

    async def replay_then_attempt() -> T:
        # tenacity's attempt 1 is the attempt that already failed: replaying its failure
        # lets the backoff, the stop and the logs see the true history.
        nonlocal number
        number += 1
        if number == 1:
            raise first_error
        return await attempt(number)

    def log_retry(state: RetryCallState) -> None:
        logger.info(
            "retrying %s (attempt %d of %d) in %.2fs after %s",
            operation,
            state.attempt_number + 1,
            policy.max_retries + 1,
            state.upcoming_sleep,
            describe(_failure(state)),
        )

    # Imported here, on the first retry: a call that succeeds never needs tenacity.
    from tenacity import AsyncRetrying, retry_if_exception, stop_after_attempt

    attempts = stop_after_attempt(policy.max_retries + 1)
    deadline_or_budget = _StopAtDeadlineOrBudget(deadline, clock, budget)

    def stop(state: RetryCallState) -> bool:
        return attempts(state) or deadline_or_budget(state)

    retrying = AsyncRetrying(
        retry=retry_if_exception(lambda exc: is_retryable(exc, write=write, policy=policy)),
        stop=stop,
        wait=_Wait(policy, random),
        sleep=sleep,
        before_sleep=log_retry,
        reraise=True,
    )
    return await retrying(replay_then_attempt)
