"""Fixtures every test folder uses; each folder's own conftest.py holds the rest."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests._support.mocks import FakeClock
from wsone_async import _drift


@pytest.fixture
def clock() -> FakeClock:
    """A fake clock whose ``sleep`` records the waits and returns at once."""
    return FakeClock()


@pytest.fixture
def fresh_drift_log() -> Iterator[None]:
    """Drift is logged once per process: forget what was logged, before and after."""
    _drift._forget_logged()
    yield
    _drift._forget_logged()
