"""The transport's shortcuts keep their promises.

The attempt's own time limit keeps ``asyncio.timeout``'s rules: its expiry becomes a
``TimeoutError`` and leaves the task's cancel count as it found it; a cancel of the caller's
task stays a cancel, even when the limit expires at the same time. The headers, defaults of
the session the client creates, reach the server as they do with a borrowed session.
"""

from __future__ import annotations

import asyncio
import base64
import gc
import weakref

import aiohttp
import pytest

from tests._support.builders import card_key, read_request, write_request
from tests._support.rawserver import RawServer, answer_json, reset
from wsone_async import APIConnectionError, APIError, RetryPolicy, Timeouts, WsOneClient, operations
from wsone_async._transport import _Bound, _Timers
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


def _armed(loop: asyncio.AbstractEventLoop) -> int:
    return sum(not handle.cancelled() for handle in loop._scheduled)  # type: ignore[attr-defined]


async def test_attempts_of_one_duration_share_one_loop_timer() -> None:
    loop = asyncio.get_running_loop()
    timers = _Timers(60.0, reused=True)
    before = _armed(loop)
    bounds = [_Bound(timers) for _ in range(50)]
    assert _armed(loop) == before + 1
    for bound in bounds:
        with bound:
            pass
    assert not any(bound.expired for bound in bounds)
    # A client's queue keeps its timer for the next calls; a one-off queue drops it.
    assert _armed(loop) == before + 1
    with _Bound(60.0):
        assert _armed(loop) == before + 2
    assert _armed(loop) == before + 1


async def test_the_queue_expires_what_is_due_and_spares_the_rest() -> None:
    loop = asyncio.get_running_loop()
    due = _Timers(0.0, reused=True)
    expired = asyncio.Event()

    async def attempt(timers: _Timers) -> _Bound:
        bound = _Bound(timers)
        with pytest.raises(TimeoutError), bound:
            await loop.create_future()
        expired.set()
        return bound

    slow = [asyncio.create_task(attempt(due)) for _ in range(3)]
    spared = _Timers(60.0, reused=True)
    in_time = _Bound(spared)
    with in_time:
        bounds = await asyncio.gather(*slow)
    assert expired.is_set()
    assert all(bound.expired for bound in bounds)
    assert all(task.cancelling() == 0 for task in slow)
    assert not in_time.expired


async def test_the_queue_stays_short_behind_a_slow_attempt() -> None:
    timers = _Timers(60.0, reused=True)
    slow = _Bound(timers)  # the head of the queue, still running
    for _ in range(1000):
        with _Bound(timers):
            pass
    assert len(timers._entries) < 100
    with slow:
        pass
    assert not timers._entries


async def test_views_made_for_one_call_leave_no_timer_armed_behind_them() -> None:
    # A view per request (a web handler's own timeout) and a settling lookup (a view with
    # what is left of the call's deadline): their queues' timers must not outlive them by a
    # whole attempt limit each, or the loop's timer heap grows with the request rate.
    loop = asyncio.get_running_loop()
    async with RawServer() as server:
        server.default("getPerson", answer_json({"responseCode": "000"}))
        request = GetPersonRequest(identifier_request=card_key())
        async with WsOneClient(
            server.url, username="api", password="pw", telemetry=False
        ) as client:
            await client.get_person(request)
            await client.settle(operations.CREATE_PERSON, write_request())
            before = _armed(loop)
            for n in range(20):
                view = client.with_options(timeout=Timeouts(attempt=7.0, total=9.0))
                await view.get_person(request)
                await client.settle(operations.CREATE_PERSON, write_request())
                assert _armed(loop) <= before + 1, n
    assert len(server.requests) == 42


async def test_a_closed_client_is_not_kept_alive_by_its_armed_timers() -> None:
    # A client's queues keep their timer armed for the next call; once the client is
    # closed and dropped, what stays in the loop until those timers fire holds no attempt.
    loop = asyncio.get_running_loop()
    async with RawServer() as server:
        server.default("getPerson", answer_json({"responseCode": "000"}))
        client = WsOneClient(server.url, username="api", password="pw", telemetry=False)
        async with client:
            await asyncio.gather(
                *(
                    client.get_person(GetPersonRequest(identifier_request=card_key()))
                    for _ in range(5)
                )
            )
        alive = weakref.ref(client)
        del client
        gc.collect()
        assert alive() is None
    queues = [
        handle._callback.__self__  # type: ignore[attr-defined]
        for handle in loop._scheduled  # type: ignore[attr-defined]
        if not handle.cancelled()
        and isinstance(getattr(handle._callback, "__self__", None), _Timers)
    ]
    assert queues
    assert all(not queue._entries for queue in queues)


async def test_a_call_made_while_its_task_is_being_cancelled_keeps_its_own_error() -> None:
    # Cleanup code that catches a cancel and then calls WsOne (without uncancel()): the
    # call's failure is its own, not the earlier cancel.
    async with RawServer() as server:
        server.default("getPerson", reset())
        request = GetPersonRequest(
            identifier_request=IdentifierRequest(
                identifier_type=IdentifierType.CARD, identifier_value="1234567891011"
            )
        )
        async with WsOneClient(
            server.url, username="api", password="pw", telemetry=False
        ) as client:
            waiting = asyncio.Event()

            async def cleanup() -> BaseException:
                try:
                    waiting.set()
                    await asyncio.get_running_loop().create_future()
                except asyncio.CancelledError:
                    pass
                try:
                    await client.with_options(retry=RetryPolicy(max_retries=0)).get_person(request)
                except BaseException as exc:
                    return exc
                return AssertionError("the call did not fail")

            task = asyncio.create_task(cleanup())
            await waiting.wait()
            task.cancel()
            error = await task
    assert isinstance(error, APIConnectionError), repr(error)


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


@pytest.mark.parametrize("per_request", ["same limits", "limits of its own"])
async def test_a_view_per_request_leaves_nothing_behind(per_request: str) -> None:
    # A web handler makes a view for each request, with the limits it can wait: the same
    # for every request, or what is left of the request's own budget (a float of its
    # own each time). Thousands of them must not leave timers armed in the loop, nor
    # views alive, in proportion to the requests served.
    loop = asyncio.get_running_loop()
    async with RawServer() as server:
        found = {"responseCode": "000", "PersonResponse": {"PersonResponse": {"lastName": "X"}}}
        server.default("getPerson", answer_json(found))
        async with WsOneClient(
            server.url, username="api", password="pw", telemetry=False
        ) as client:
            await client.get_person(read_request("1234567891011"))
            armed, scheduled = _armed(loop), len(loop._scheduled)  # type: ignore[attr-defined]
            views: list[weakref.ref[WsOneClient]] = []

            async def handler(n: int) -> None:
                budget = 5.0 if per_request == "same limits" else 5.0 - n * 1e-6
                view = client.with_options(timeout=Timeouts(attempt=budget, total=budget))
                views.append(weakref.ref(view))
                answer = await view.get_person(read_request(f"10{n:011d}"))
                assert answer.person_response is not None

            for batch in range(20):
                await asyncio.gather(*(handler(100 * batch + n) for n in range(100)))
            gc.collect()
            assert [view for view in views if view() is not None] == []
            # One timer for the views' shared limits; with limits of their own, at most one
            # per set of limits shared (64 at most) and none per request: past those, the
            # limits are one-off, and the loop drops the timers they cancel as it goes.
            assert _armed(loop) <= armed + (1 if per_request == "same limits" else 64)
            assert len(loop._scheduled) <= scheduled + 200  # type: ignore[attr-defined]
    assert len(server.requests) == 2001
