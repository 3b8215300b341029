"""A tiny programmable WsOne stand-in on 127.0.0.1, for what a mock cannot show.

Each operation answers from a script of actions (``ok``, ``drop_after``, ``hang``, a
status, a body...), then ``ok`` once the script is used up. It counts what it processed
and what is in flight, so tests can assert what really crossed the socket.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict, deque
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestServer

OK: dict[str, Any] = {"responseCode": "000", "infos": "Request successfully processed"}

Action = Callable[[web.Request, "FakeWsOne"], Awaitable[web.StreamResponse]]


async def ok(request: web.Request, server: FakeWsOne) -> web.StreamResponse:
    return web.json_response(OK)


async def drop_after(request: web.Request, server: FakeWsOne) -> web.StreamResponse:
    # Processed (counted), then the connection is closed without an answer.
    assert request.transport is not None
    request.transport.close()
    return web.Response()


async def hang(request: web.Request, server: FakeWsOne) -> web.StreamResponse:
    await server.release.wait()
    return web.json_response(OK)


def status(code: int, headers: dict[str, str] | None = None) -> Action:
    async def answer(request: web.Request, server: FakeWsOne) -> web.StreamResponse:
        return web.Response(status=code, headers=headers)

    return answer


def body(data: Any) -> Action:
    async def answer(request: web.Request, server: FakeWsOne) -> web.StreamResponse:
        return web.json_response(data)

    return answer


class FakeWsOne:
    """Scripted answers per operation, with counts of what was processed."""

    def __init__(self) -> None:
        self.scripts: dict[str, deque[Action]] = defaultdict(deque)
        self.default: Action = ok
        self.processed: dict[str, int] = defaultdict(int)
        self.bodies: list[Any] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self.arrived = 0
        self.arrivals: dict[int, asyncio.Event] = defaultdict(asyncio.Event)
        self.release = asyncio.Event()
        self.url = ""

    def script(self, operation: str, *actions: Action) -> None:
        self.scripts[operation].extend(actions)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        operation = request.match_info["operation"]
        self.bodies.append(await request.json())
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        self.arrived += 1
        self.arrivals[self.arrived].set()
        try:
            script = self.scripts[operation]
            action = script.popleft() if script else self.default
            self.processed[operation] += 1
            return await action(request, self)
        finally:
            self.in_flight -= 1

    async def wait_for_arrivals(self, count: int) -> None:
        """Return once ``count`` requests have reached the server."""
        await self.arrivals[count].wait()


@asynccontextmanager
async def fake_wsone() -> AsyncIterator[FakeWsOne]:
    """Serve a :class:`FakeWsOne` on 127.0.0.1 for the duration of the block."""
    fake = FakeWsOne()
    app = web.Application()
    app.router.add_post("/{prefix:.*}/{operation}", fake.handle)
    async with TestServer(app, host="127.0.0.1") as server:
        fake.url = str(server.make_url("/"))
        try:
            yield fake
        finally:
            fake.release.set()  # let hanging handlers finish before the server stops
