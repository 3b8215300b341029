"""Settings of a client, as plain immutable data: time limits and retry policy.

Behaviour lives elsewhere (``_transport`` applies the time limits, ``_retry`` runs the
policy); these classes only describe it, so a setting can be checked, shared and printed.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Callable
from typing import Any, Final

import attrs

__all__ = [
    "BASE_URL_ENV",
    "NOT_PASSED",
    "PASSWORD_ENV",
    "USER_ENV",
    "NotPassed",
    "RetryBudget",
    "RetryPolicy",
    "Timeouts",
]

#: The environment variables naming a WsOne and its credentials (``WsOneClient.from_env``,
#: and the password of ``wsone import`` and ``wsone probe``).
BASE_URL_ENV: Final = "WSONE_BASE_URL"
USER_ENV: Final = "WSONE_USER"
PASSWORD_ENV: Final = "WSONE_PASSWORD"  # noqa: S105  (a variable's name, no secret)


class NotPassed(enum.Enum):
    """Type of :data:`NOT_PASSED`, the marker of an argument the caller left out."""

    NOT_PASSED = enum.auto()

    def __repr__(self) -> str:
        return "NOT_PASSED"


#: Default of arguments where ``None`` has a meaning of its own, so leaving an argument out
#: can never be mistaken for ``None`` (``timeout=None`` must never mean "wait forever").
NOT_PASSED: Final = NotPassed.NOT_PASSED


def _positive(instance: Any, attribute: attrs.Attribute[Any], value: float | None) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int | float):
        msg = f"{attribute.name} must be a number of seconds, got {type(value).__name__}"
        raise TypeError(msg)
    if not (value > 0 and math.isfinite(value)):
        msg = f"{attribute.name} must be a positive, finite number of seconds, got {value!r}"
        raise ValueError(msg)


def _positive_required(instance: Any, attribute: attrs.Attribute[Any], value: object) -> None:
    if value is None:
        msg = f"{attribute.name} cannot be None"
        raise ValueError(msg)
    _positive(instance, attribute, value)  # type: ignore[arg-type]


def _budget(instance: Any, attribute: attrs.Attribute[Any], value: object) -> None:
    if value is not None and not isinstance(value, RetryBudget):
        msg = f"budget must be a RetryBudget or None, got {type(value).__name__}"
        raise TypeError(msg)


def _non_negative_int(instance: Any, attribute: attrs.Attribute[Any], value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        msg = f"{attribute.name} must be an int, got {type(value).__name__}"
        raise TypeError(msg)
    if value < 0:
        msg = f"{attribute.name} must be >= 0, got {value}"
        raise ValueError(msg)


@attrs.frozen(kw_only=True)
class Timeouts:
    """Time limits of a call, in seconds.

    Every call is bounded: ``attempt`` caps each attempt and cannot be ``None``, so no call
    can wait forever. ``None`` for ``connect``, ``read`` or ``total`` lifts only that limit.

    Example:
        >>> Timeouts(attempt=10.0, total=25.0)
        Timeouts(connect=5.0, read=30.0, attempt=10.0, total=25.0)
    """

    #: Getting a connection: waiting for a free one in the pool, then TCP and TLS set-up.
    #: A call that fails here never reached WsOne, so even a write may be retried.
    connect: float | None = attrs.field(default=5.0, validator=_positive)
    #: The longest silence allowed while waiting for or reading the answer.
    read: float | None = attrs.field(default=30.0, validator=_positive)
    #: One attempt, from asking for a connection to the end of the body. The library's own
    #: timer (``asyncio.timeout``), so a cancel stays a cancel and no limit is rounded up.
    attempt: float = attrs.field(default=30.0, validator=_positive_required)
    #: The whole call: every attempt and every wait between them (the deadline).
    total: float | None = attrs.field(default=60.0, validator=_positive)

    @classmethod
    def coerce(cls, value: Timeouts | float | NotPassed | None) -> Timeouts:
        """Turn a ``timeout=`` argument into :class:`Timeouts`.

        A number is the per-attempt limit (and the deadline stays the default's).
        ``None`` is refused, because it would read as "no limit".
        """
        if value is NOT_PASSED:
            return cls()
        if value is None:
            msg = (
                "timeout=None is refused: a WsOne call must never wait forever; "
                "pass Timeouts(...) or a number of seconds per attempt"
            )
            raise ValueError(msg)
        if isinstance(value, Timeouts):
            return value
        if isinstance(value, int | float) and not isinstance(value, bool):
            total = cls().total
            return cls(attempt=value, total=max(total, value) if total is not None else None)
        msg = f"timeout must be Timeouts or a number of seconds, got {type(value).__name__}"
        raise TypeError(msg)


@attrs.frozen(kw_only=True)
class RetryBudget:
    """A client-wide token bucket that caps retries during an outage.

    Each retry spends tokens (more after a timeout, which ties up a connection longer);
    each success gives one back. With the bucket empty, failures are raised at once
    instead of retried, so an outage cannot turn into a retry storm. The idea is
    botocore's retry quota; the default numbers are its numbers.
    """

    #: Tokens in a full bucket.
    capacity: int = attrs.field(default=500, validator=_non_negative_int)
    #: Tokens a retry costs.
    retry_cost: int = attrs.field(default=5, validator=_non_negative_int)
    #: Tokens a retry after a timeout costs.
    timeout_retry_cost: int = attrs.field(default=10, validator=_non_negative_int)
    #: Tokens a successful call gives back (never above ``capacity``).
    success_refund: int = attrs.field(default=1, validator=_non_negative_int)


@attrs.frozen(kw_only=True)
class RetryPolicy:
    """How a client retries: how often, how long it waits, and what it spends.

    Which failures are retried depends on the operation, not on this policy: a read is
    retried after any transient failure, a write only when the request provably never
    reached WsOne or WsOne explicitly refused it (429, or 503 with ``Retry-After``). See the
    README's retry rules.

    Example:
        >>> RetryPolicy(max_retries=0).max_retries  # exactly one attempt
        0
    """

    #: Retries after the first attempt; 0 means exactly one attempt.
    max_retries: int = attrs.field(default=2, validator=_non_negative_int)
    #: Upper bound of the first backoff; it doubles at each retry (full jitter).
    initial_delay: float = attrs.field(default=0.5, validator=_positive_required)
    #: Upper bound of any backoff.
    max_delay: float = attrs.field(default=8.0, validator=_positive_required)
    #: The longest ``Retry-After`` honoured; with a longer one the 429's
    #: :class:`RateLimitError` (or the 503's :class:`ServerError`) is raised at once, with
    #: ``.retry_after``, so a consumer can requeue the work.
    max_retry_after: float = attrs.field(default=60.0, validator=_positive_required)
    #: Pick each backoff uniformly between 0 and its upper bound ("full jitter"), so clients
    #: that failed together do not retry together. False waits the upper bound itself.
    jitter: bool = attrs.field(default=True, validator=attrs.validators.instance_of(bool))
    #: The retry budget. The bucket is the client's, built from the policy it was created
    #: with and shared by its ``with_options`` views; a view's policy can only opt out of it
    #: (``budget=None``), not bring a bucket of its own.
    budget: RetryBudget | None = attrs.field(default=RetryBudget(), validator=_budget)
    #: After an ambiguous write failure, settle the outcome with a read (getPerson on the new
    #: identifier, verifyTransaction on the receipt: see ``wsone_async.settlement``) before
    #: deciding to send it again.
    reconcile_writes: bool = attrs.field(
        default=False, validator=attrs.validators.instance_of(bool)
    )

    def backoff_cap(self, retry_number: int) -> float:
        """Upper bound of the wait before retry ``retry_number`` (1 for the first retry)."""
        exponent = min(retry_number - 1, 62)
        return float(min(self.max_delay, self.initial_delay * (2**exponent)))

    def backoff(self, retry_number: int, random: Callable[[], float]) -> float:
        """The wait before retry ``retry_number``: its cap, or up to it with ``jitter``.

        Args:
            retry_number: 1 for the first retry.
            random: a uniform random number in [0, 1).
        """
        cap = self.backoff_cap(retry_number)
        return random() * cap if self.jitter else cap
