"""The transport's shortcuts keep their promises.

The attempt's own time limit keeps ``asyncio.timeout``'s rules: its expiry becomes a
``TimeoutError`` and leaves the task's cancel count as it found it; a cancel of the caller's
task stays a cancel, even when the limit expires at the same time. The headers, defaults of
the session the client creates, reach the server as they do with a borrowed session.
"""

from __future__ import annotations

import asyncio
import base64

import aiohttp
import pytest

from tests._support.rawserver import RawServer, answer_json
from wsone_async import APIError, WsOneClient
from wsone_async._transport import _Bound
from wsone_async.models import GetPersonRequest, IdentifierRequest, IdentifierType


async def test_an_expired_bound_raises_timeout_and_gives_its_cancel_back() -> None:
    never = asyncio.get_running_loop().create_future()
    bound = _Bound(0.0)
    with pytest.raises(TimeoutError), bound:
        await never
    assert bound.expired
    task = asyncio.current_task()
    assert task is not None
    assert task.cancelling() == 0


async def test_a_bound_that_does_not_expire_changes_nothing() -> None:
    bound = _Bound(60.0)
    with bound:
        await asyncio.sleep(0)
    assert not bound.expired
    # Its timer is cancelled: nothing fires later.
    assert all(handle.cancelled() for handle in asyncio.get_running_loop()._scheduled)  # type: ignore[attr-defined]


async def test_the_callers_cancel_stays_a_cancel() -> None:
    entered = asyncio.Event()

    async def attempt() -> None:
        with _Bound(60.0):
            entered.set()
            await asyncio.get_running_loop().create_future()

    task = asyncio.create_task(attempt())
    await entered.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_the_callers_cancel_wins_over_an_expiry_at_the_same_time() -> None:
    entered = asyncio.Event()
    bounds: list[_Bound] = []

    async def attempt() -> None:
        bound = _Bound(0.0)  # fires on the loop's next turn
        bounds.append(bound)
        with bound:
            entered.set()
            await asyncio.get_running_loop().create_future()

    task = asyncio.create_task(attempt())
    await entered.wait()  # the bound's timer and this wake-up are due together
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert task.cancelled()
    assert bounds[0].expired  # the bound fired too: the caller's cancel still won


async def test_an_error_raised_after_expiry_is_kept() -> None:
    task = asyncio.current_task()
    assert task is not None
    bound = _Bound(0.0)

    async def translating() -> None:
        with bound:
            try:
                await asyncio.get_running_loop().create_future()
            except asyncio.CancelledError:
                # A library below may turn the cancel into its own error.
                msg = "translated"
                raise ValueError(msg) from None

    with pytest.raises(ValueError, match="translated"):
        await translating()
    assert bound.expired
    assert task.cancelling() == 0


def test_a_bound_needs_a_task() -> None:
    async def outside_a_task() -> None:
        loop = asyncio.get_running_loop()
        # A callback of the loop runs outside any task.
        done = loop.create_future()

        def make() -> None:
            try:
                _Bound(1.0)
            except RuntimeError as exc:
                done.set_result(str(exc))
            else:
                done.set_result("no error")  # fails below, rather than hanging the test

        loop.call_soon(make)
        assert "inside an asyncio task" in await done

    asyncio.run(outside_a_task())


@pytest.mark.parametrize("borrowed", [False, True])
async def test_every_request_carries_the_clients_headers(borrowed: bool) -> None:
    async with RawServer() as server:
        server.default("getPerson", answer_json({"responseCode": "101"}))
        request = GetPersonRequest(
            identifier_request=IdentifierRequest(
                identifier_type=IdentifierType.CARD, identifier_value="1234567891011"
            )
        )
        async with (
            aiohttp.ClientSession() as session,
            WsOneClient(
                server.url,
                username="api",
                password="pw",
                session=session if borrowed else None,
                telemetry=False,
            ) as client,
        ):
            for _ in range(2):  # the second on the pooled connection
                with pytest.raises(APIError, match="101"):
                    await client.get_person(request)
    assert len(server.requests) == 2
    for seen in server.requests:
        headers = {key.lower(): value for key, value in seen.headers.items()}
        assert headers["authorization"] == "Basic " + base64.b64encode(b"api:pw").decode()
        assert headers["content-type"] == "application/json"
        assert headers["accept"] == "application/json"
        assert headers["accept-encoding"] == "gzip, deflate"
        assert headers["user-agent"].startswith("wsone_async/")
