"""Mocked HTTP (aioresponses) and a clock whose sleeps never wait."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
from aioresponses import aioresponses
from yarl import URL


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


def count_posts(mock: MockedWsOne, url: str) -> int:
    """How many POSTs the mocked host received at ``url``."""
    return len(mock.requests.get(("POST", URL(url)), []))


async def no_wait(seconds: float) -> None:
    """Stands in for the client's waits between retries: they take no time."""


async def never_answers(url: URL, **kwargs: Any) -> None:
    """An aioresponses callback whose request is never answered: the client must give up."""
    await asyncio.Event().wait()
