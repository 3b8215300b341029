"""Time limits and retry policy are checked data; None never means "wait forever"."""

from __future__ import annotations

import pytest

from wsone_async import RetryPolicy, Timeouts
from wsone_async._config import NOT_PASSED


def test_defaults_bound_every_call() -> None:
    timeouts = Timeouts()
    assert timeouts.attempt > 0 and timeouts.total is not None


def test_none_timeout_is_refused() -> None:
    with pytest.raises(ValueError, match="never wait forever"):
        Timeouts.coerce(None)
    with pytest.raises(ValueError, match="attempt cannot be None"):
        Timeouts(attempt=None)  # type: ignore[arg-type]


def test_coerce() -> None:
    assert Timeouts.coerce(NOT_PASSED) == Timeouts()
    assert Timeouts.coerce(5).attempt == 5
    assert Timeouts.coerce(120).total == 120
    custom = Timeouts(attempt=3.0)
    assert Timeouts.coerce(custom) is custom
    with pytest.raises(TypeError):
        Timeouts.coerce("5")  # type: ignore[arg-type]


@pytest.mark.parametrize("bad", [0, -1, float("inf"), float("nan")])
def test_timeouts_must_be_positive_and_finite(bad: float) -> None:
    with pytest.raises(ValueError, match="positive"):
        Timeouts(read=bad)


def test_retry_policy_checks_and_backoff() -> None:
    policy = RetryPolicy(initial_delay=0.5, max_delay=8.0)
    assert [policy.backoff_cap(n) for n in (1, 2, 3, 4, 5, 6)] == [0.5, 1.0, 2.0, 4.0, 8.0, 8.0]
    assert policy.backoff_cap(10_000) == 8.0
    with pytest.raises(ValueError, match="max_retries"):
        RetryPolicy(max_retries=-1)
    with pytest.raises(TypeError, match="max_retries"):
        RetryPolicy(max_retries=True)  # type: ignore[arg-type]


@pytest.mark.parametrize("field", ["initial_delay", "max_delay", "max_retry_after"])
def test_retry_delays_cannot_be_none(field: str) -> None:
    with pytest.raises(ValueError, match=f"{field} cannot be None"):
        RetryPolicy(**{field: None})  # type: ignore[arg-type]


def test_retry_policy_types() -> None:
    with pytest.raises(TypeError):
        RetryPolicy(jitter="yes")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="RetryBudget"):
        RetryPolicy(budget=10)  # type: ignore[arg-type]
