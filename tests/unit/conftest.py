"""Unit tests: no socket; HTTP is mocked with aioresponses."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests._support.mocks import MockedWsOne


@pytest.fixture
def mocked() -> Iterator[MockedWsOne]:
    """Intercepts every aiohttp request; none leaves the process."""
    with MockedWsOne() as mock:
        yield mock
