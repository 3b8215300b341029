"""Shared fixtures: mocked HTTP (aioresponses), a clock and a sleep that never wait."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import aiohttp
import pytest
from aioresponses import aioresponses


class _NoStreamWriter:
    output_size = 0


class _MockResponse(aiohttp.ClientResponse):
    # aioresponses 0.7.9 predates aiohttp 3.14, whose ClientResponse requires a
    # stream_writer (pnuckowski/aioresponses#289); a finished request needs only its size.
    def __init__(self, method: str, url: Any, **kwargs: Any) -> None:
        kwargs.setdefault("stream_writer", _NoStreamWriter())
        super().__init__(method, url, **kwargs)


class MockedWsOne(aioresponses):  # type: ignore[misc]
    """aioresponses that builds aiohttp 3.14 responses."""

    def add(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("response_class", _MockResponse)
        super().add(*args, **kwargs)


@pytest.fixture
def mocked() -> Iterator[MockedWsOne]:
    """Intercepts every aiohttp request; none leaves the process."""
    with MockedWsOne() as mock:
        yield mock


class FakeClock:
    """A monotonic clock that only moves when the client sleeps or a test advances it."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    """A fake clock whose ``sleep`` records the waits and returns at once."""
    return FakeClock()
