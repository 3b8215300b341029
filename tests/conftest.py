"""Fixtures every test folder uses; each folder's own conftest.py holds the rest."""

from __future__ import annotations

import pytest

from tests._support.mocks import FakeClock


@pytest.fixture
def clock() -> FakeClock:
    """A fake clock whose ``sleep`` records the waits and returns at once."""
    return FakeClock()
