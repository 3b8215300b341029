"""Retries: the policy's rules, run by tenacity (the only tenacity user).

Which failures are retried depends on the operation:

* a **read** is retried after any transient failure: connection errors, timeouts,
  disconnects, HTTP 408, 429 and 5xx, and an answer that is not JSON at all;
* a **write** is retried only when WsOne provably never received it (connection refused,
  DNS failure, no connection within the connect timeout) or explicitly refused it (429,
  503). Any other failure of a write is *ambiguous* (:func:`is_ambiguous`): it may have
  been applied, and the client raises :class:`~wsone_async.errors.OutcomeUnknownError`
  instead of risking a duplicate customer or points credited twice.

A ``Retry-After`` is honoured up to ``RetryPolicy.max_retry_after``; a longer one raises
at once so a consumer can requeue. Otherwise the wait is an exponential backoff with full
jitter. Retries stop at ``max_retries``, at the call's deadline, or when the client's retry
budget is spent. ``CancelledError`` is never retried: the rules only ever accept
:class:`~wsone_async.errors.WsOneError` instances.

A fresh ``AsyncRetrying`` is built for each call that needs one, and only after its first
attempt failed, so a successful call never pays tenacity's set-up cost.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Final, TypeVar

from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, stop_after_attempt
from tenacity.stop import stop_base

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

__all__ = ["BudgetState", "is_ambiguous", "is_retryable", "is_throttle", "retry_after_failure"]

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
    """Whether WsOne (or a proxy) asked to slow down: HTTP 429 or 503."""
    return isinstance(error, HTTPStatusError) and error.status in (
        _TOO_MANY_REQUESTS,
        _SERVICE_UNAVAILABLE,
    )


def is_retryable(error: BaseException, *, write: bool, policy: RetryPolicy) -> bool:
    """Whether ``error`` may be retried for a read (``write=False``) or a write."""
    if isinstance(error, APIConnectionError):
        return not (write and error.request_sent)
    if isinstance(error, HTTPStatusError):
        if is_throttle(error):
            return not _retry_after_too_long(error, policy)
        if write:
            return False
        return isinstance(error, ServerError) or error.status == _REQUEST_TIMEOUT
    if isinstance(error, APIError):
        return not write and type(error).retryable
    # A read answered with something that is not JSON at all (a proxy's HTML page) is
    # worth another try; JSON that does not fit the model would only fail again.
    return not write and isinstance(error, ResponseDecodeError) and error.path is None


def is_ambiguous(error: BaseException) -> bool:
    """Whether a write that failed with ``error`` may nevertheless have been applied."""
    if isinstance(error, APIConnectionError):
        return error.request_sent
    if isinstance(error, HTTPStatusError):
        # WsOne (or a proxy) may have applied the write before failing; 429 and 503 are
        # explicit refusals, 408 is not trusted to mean "never forwarded".
        return (error.status >= 500 and error.status != _SERVICE_UNAVAILABLE) or (
            error.status == _REQUEST_TIMEOUT
        )
    # An unreadable answer to a write: WsOne answered, so it may well have applied it.
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


class _StopAtDeadlineOrBudget(stop_base):
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

    retrying = AsyncRetrying(
        retry=retry_if_exception(lambda exc: is_retryable(exc, write=write, policy=policy)),
        stop=stop_after_attempt(policy.max_retries + 1)
        | _StopAtDeadlineOrBudget(deadline, clock, budget),
        wait=_Wait(policy, random),
        sleep=sleep,
        before_sleep=log_retry,
        reraise=True,
    )
    return await retrying(replay_then_attempt)
