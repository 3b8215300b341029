"""The retry matrix, with mocked HTTP: each failure kind x read/write -> retried or not, and the error.

Reads are retried after any transient failure. Writes are retried only when the request
provably never reached WsOne (refused, DNS, connect/pool timeout) or WsOne refused it
(429, 503); any other failure of a write raises OutcomeUnknownError, never a silent retry.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import email.utils
from collections.abc import Callable
from typing import Any

import aiohttp
import pytest
from aiohttp.client_reqrep import ConnectionKey
from yarl import URL

from tests._support.builders import read_request, write_request
from tests._support.clients import client_for
from tests._support.mocks import FakeClock, MockedWsOne, count_posts, never_answers
from wsone_async import (
    APIConnectionError,
    APIError,
    APITimeoutError,
    AuthenticationError,
    HTTPStatusError,
    OutcomeUnknownError,
    RateLimitError,
    ResponseDecodeError,
    RetryBudget,
    RetryPolicy,
    ServerError,
    Timeouts,
    WsOneClient,
)

BASE = "https://wsone.example.fr"
READ_URL = f"{BASE}/rest/2.0/personWebService/getPerson"
WRITE_URL = f"{BASE}/rest/2.0/personWebService/createPerson"
OK = {"responseCode": "000", "infos": "Request successfully processed"}

_KEY = ConnectionKey("wsone.example.fr", 443, True, True, None, None, None)


def _refused() -> Exception:
    return aiohttp.ClientConnectorError(_KEY, ConnectionRefusedError(111, "refused"))


def _dns() -> Exception:
    return aiohttp.ClientConnectorDNSError(_KEY, OSError(-2, "Name or service not known"))


# kind -> (how to fail the mocked request, retried for a read, retried for a write,
#          error of a read that keeps failing, error of a write that fails once)
Fail = Callable[[MockedWsOne, str], None]


def exc(factory: Callable[[], Exception]) -> Fail:
    return lambda mock, url: mock.post(url, exception=factory())


def status(code: int, body: str = "", headers: dict[str, str] | None = None) -> Fail:
    return lambda mock, url: mock.post(url, status=code, body=body, headers=headers)


def payload(data: Any) -> Fail:
    return lambda mock, url: mock.post(url, payload=data)


MATRIX: dict[str, tuple[Fail, bool, bool, type[Exception], type[Exception]]] = {
    "refused": (exc(_refused), True, True, APIConnectionError, APIConnectionError),
    "dns": (exc(_dns), True, True, APIConnectionError, APIConnectionError),
    "connect timeout": (
        exc(aiohttp.ConnectionTimeoutError),
        True,
        True,
        APITimeoutError,
        APITimeoutError,
    ),
    "read timeout": (
        exc(aiohttp.SocketTimeoutError),
        True,
        False,
        APITimeoutError,
        OutcomeUnknownError,
    ),
    "total timeout": (exc(TimeoutError), True, False, APITimeoutError, OutcomeUnknownError),
    "disconnect": (
        exc(aiohttp.ServerDisconnectedError),
        True,
        False,
        APIConnectionError,
        OutcomeUnknownError,
    ),
    "reset": (
        exc(lambda: aiohttp.ClientOSError(104, "reset")),
        True,
        False,
        APIConnectionError,
        OutcomeUnknownError,
    ),
    "truncated body": (
        exc(aiohttp.ClientPayloadError),
        True,
        False,
        APIConnectionError,
        OutcomeUnknownError,
    ),
    "408": (status(408), True, False, HTTPStatusError, OutcomeUnknownError),
    "429": (status(429), True, True, RateLimitError, RateLimitError),
    "500": (status(500), True, False, ServerError, OutcomeUnknownError),
    "502": (status(502), True, False, ServerError, OutcomeUnknownError),
    # A proxy may answer 503 after forwarding: a write is retried only when the origin
    # refused it on purpose, which it says with Retry-After.
    "503": (status(503), True, False, ServerError, OutcomeUnknownError),
    "503 Retry-After": (
        status(503, headers={"Retry-After": "1"}),
        True,
        True,
        ServerError,
        ServerError,
    ),
    "504": (status(504), True, False, ServerError, OutcomeUnknownError),
    "400": (status(400), False, False, HTTPStatusError, HTTPStatusError),
    "404": (status(404), False, False, HTTPStatusError, HTTPStatusError),
    "401": (status(401), False, False, AuthenticationError, AuthenticationError),
    "403": (status(403), False, False, AuthenticationError, AuthenticationError),
    "html page": (
        status(200, "<html>maintenance</html>"),
        True,
        False,
        ResponseDecodeError,
        OutcomeUnknownError,
    ),
    "wrong shape": (
        lambda mock, url: mock.post(
            url,
            payload={
                "responseCode": "000",
                "NewIdentifierResponse" if url == WRITE_URL else "PersonResponse": [1, 2],
            },
        ),
        False,
        False,
        ResponseDecodeError,
        OutcomeUnknownError,
    ),
    "functional error": (
        payload({"responseCode": "101", "infos": "refused"}),
        False,
        False,
        APIError,
        APIError,
    ),
}


def _retrying(clock: FakeClock, **kwargs: Any) -> WsOneClient:
    kwargs.setdefault("retry", RetryPolicy(max_retries=2, jitter=False))
    return client_for(BASE, clock, **kwargs)


async def _read_or_write(client: WsOneClient, write: bool) -> Any:
    if write:
        return await client.create_person(write_request())
    return await client.get_person(read_request())


@pytest.mark.parametrize("kind", list(MATRIX))
@pytest.mark.parametrize("write", [False, True], ids=["read", "write"])
async def test_one_failure_then_success(
    kind: str, write: bool, mocked: MockedWsOne, clock: FakeClock
) -> None:
    fail, read_retried, write_retried, _, write_error = MATRIX[kind]
    url = WRITE_URL if write else READ_URL
    fail(mocked, url)
    mocked.post(url, payload=OK)
    retried = write_retried if write else read_retried
    async with _retrying(clock) as client:
        if retried:
            response = await _read_or_write(client, write)
            assert response.response_code == "000"
            assert count_posts(mocked, url) == 2
        else:
            expected = write_error if write else MATRIX[kind][3]
            with pytest.raises(expected) as info:
                await _read_or_write(client, write)
            assert count_posts(mocked, url) == 1
            if expected is OutcomeUnknownError:
                error = info.value
                assert isinstance(error, OutcomeUnknownError)
                assert error.operation == "createPerson"
                assert error.request == write_request()
                assert error.__cause__ is not None


@pytest.mark.parametrize("kind", [k for k, row in MATRIX.items() if row[1]])  # kinds a read retries
async def test_a_read_that_keeps_failing_raises_the_last_error(
    kind: str, mocked: MockedWsOne, clock: FakeClock
) -> None:
    fail, _, _, read_error, _ = MATRIX[kind]
    for _ in range(3):
        fail(mocked, READ_URL)
    async with _retrying(clock) as client:
        with pytest.raises(read_error):
            await client.get_person(read_request())
    assert count_posts(mocked, READ_URL) == 3  # max_retries=2: three attempts in all
    assert len(clock.sleeps) == 2


@pytest.mark.parametrize("kind", [k for k, row in MATRIX.items() if row[2]])
async def test_a_refused_write_that_keeps_failing_is_not_reported_unknown(
    kind: str, mocked: MockedWsOne, clock: FakeClock
) -> None:
    fail, _, _, _, write_error = MATRIX[kind]
    for _ in range(3):
        fail(mocked, WRITE_URL)
    async with _retrying(clock) as client:
        with pytest.raises(write_error) as info:
            await client.create_person(write_request())
    assert not isinstance(info.value, OutcomeUnknownError)
    assert count_posts(mocked, WRITE_URL) == 3


async def test_a_write_refused_then_ambiguous_is_unknown(
    mocked: MockedWsOne, clock: FakeClock
) -> None:
    mocked.post(WRITE_URL, status=503, headers={"Retry-After": "0"})
    mocked.post(WRITE_URL, exception=aiohttp.ServerDisconnectedError())
    mocked.post(WRITE_URL, payload=OK)
    async with _retrying(clock) as client:
        with pytest.raises(OutcomeUnknownError):
            await client.create_person(write_request())
    assert count_posts(mocked, WRITE_URL) == 2


async def test_zero_retries_means_exactly_one_attempt(
    mocked: MockedWsOne, clock: FakeClock
) -> None:
    mocked.post(READ_URL, status=503)
    mocked.post(READ_URL, payload=OK)
    async with _retrying(clock, retry=RetryPolicy(max_retries=0)) as client:
        with pytest.raises(ServerError):
            await client.get_person(read_request())
    assert count_posts(mocked, READ_URL) == 1
    assert clock.sleeps == []


async def test_backoff_is_exponential_with_full_jitter(
    mocked: MockedWsOne, clock: FakeClock
) -> None:
    for _ in range(4):
        mocked.post(READ_URL, status=502)
    policy = RetryPolicy(max_retries=3, initial_delay=0.5, max_delay=1.5)
    async with _retrying(clock, retry=policy, random=lambda: 0.5) as client:
        with pytest.raises(ServerError):
            await client.get_person(read_request())
    assert clock.sleeps == [0.25, 0.5, 0.75]  # half of 0.5, 1.0, then the 1.5 cap


class TestRetryAfter:
    async def test_seconds_are_honoured(self, mocked: MockedWsOne, clock: FakeClock) -> None:
        mocked.post(WRITE_URL, status=429, headers={"Retry-After": "7"})
        mocked.post(WRITE_URL, payload=OK)
        async with _retrying(clock) as client:
            await client.create_person(write_request())
        assert clock.sleeps == [7.0]

    async def test_http_date_is_honoured(self, mocked: MockedWsOne, clock: FakeClock) -> None:
        when = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=30)
        mocked.post(
            READ_URL, status=503, headers={"Retry-After": email.utils.format_datetime(when)}
        )
        mocked.post(READ_URL, payload=OK)
        async with _retrying(clock) as client:
            await client.get_person(read_request())
        assert len(clock.sleeps) == 1
        assert 25 <= clock.sleeps[0] <= 30

    async def test_longer_than_the_cap_raises_at_once(
        self, mocked: MockedWsOne, clock: FakeClock
    ) -> None:
        mocked.post(READ_URL, status=429, headers={"Retry-After": "3600"})
        mocked.post(READ_URL, payload=OK)
        policy = RetryPolicy(max_retries=5, max_retry_after=60)
        async with _retrying(clock, retry=policy) as client:
            with pytest.raises(RateLimitError) as info:
                await client.get_person(read_request())
        assert info.value.retry_after == 3600
        assert clock.sleeps == []
        assert count_posts(mocked, READ_URL) == 1


async def test_deadline_stops_retries(mocked: MockedWsOne, clock: FakeClock) -> None:
    for _ in range(10):
        mocked.post(READ_URL, status=503)
    policy = RetryPolicy(max_retries=9, initial_delay=1.0, max_delay=1.0, jitter=False)
    timeouts = Timeouts(attempt=5.0, total=2.5)
    async with _retrying(clock, retry=policy, timeout=timeouts) as client:
        with pytest.raises(ServerError):
            await client.get_person(read_request())
    # Waits of 1s each: after two, a third would end at 3s > 2.5s.
    assert clock.sleeps == [1.0, 1.0]
    assert count_posts(mocked, READ_URL) == 3


async def test_the_last_attempt_gets_only_what_is_left_of_the_deadline(
    mocked: MockedWsOne, clock: FakeClock
) -> None:
    mocked.post(READ_URL, status=503)
    mocked.post(READ_URL, callback=never_answers)
    # The fake clock says 0.03 of the call's 0.05 s went in the wait: the second attempt
    # is bounded (by the event loop's real timer) to the 0.02 s left, not to 30 s.
    policy = RetryPolicy(max_retries=1, initial_delay=0.03, jitter=False)
    timeouts = Timeouts(attempt=30, total=0.05)
    async with _retrying(clock, retry=policy, timeout=timeouts) as client:
        with pytest.raises(APITimeoutError) as info:
            await client.get_person(read_request())
    assert info.value.limit == "total"
    assert "getPerson" in str(info.value) and "total limit (0.02 s)" in str(info.value)
    # aiohttp's own timer is not armed: only connect and read limits are left to it.
    assert mocked.requests[("POST", URL(READ_URL))][1].kwargs["timeout"].total is None


class TestBudget:
    async def test_an_empty_budget_stops_retrying(
        self, mocked: MockedWsOne, clock: FakeClock
    ) -> None:
        for _ in range(20):
            mocked.post(READ_URL, status=503)
        budget = RetryBudget(capacity=10, retry_cost=5, success_refund=1)
        policy = RetryPolicy(max_retries=5, budget=budget, jitter=False)
        async with _retrying(clock, retry=policy) as client:
            with pytest.raises(ServerError):
                await client.get_person(read_request())
            assert count_posts(mocked, READ_URL) == 3  # two retries paid, then empty
            with pytest.raises(ServerError):
                await client.get_person(read_request())
            assert count_posts(mocked, READ_URL) == 4  # no token left: no retry at all

    async def test_successes_refill_it_and_views_share_it(
        self, mocked: MockedWsOne, clock: FakeClock
    ) -> None:
        budget = RetryBudget(capacity=5, retry_cost=5, success_refund=5)
        policy = RetryPolicy(max_retries=1, budget=budget, jitter=False)
        mocked.post(READ_URL, status=503)
        mocked.post(READ_URL, payload=OK)  # the retry spends the 5 tokens, its success refunds 5
        mocked.post(READ_URL, status=503)
        mocked.post(READ_URL, payload=OK)
        async with _retrying(clock, retry=policy) as client:
            await client.get_person(read_request())
            view = client.with_options(timeout=10)
            await view.get_person(read_request())
        assert count_posts(mocked, READ_URL) == 4

    async def test_timeouts_cost_more(self, mocked: MockedWsOne, clock: FakeClock) -> None:
        budget = RetryBudget(capacity=9, retry_cost=1, timeout_retry_cost=10)
        policy = RetryPolicy(max_retries=3, budget=budget)
        mocked.post(READ_URL, exception=aiohttp.SocketTimeoutError())
        mocked.post(READ_URL, payload=OK)
        async with _retrying(clock, retry=policy) as client:
            with pytest.raises(APITimeoutError):
                await client.get_person(read_request())
        assert count_posts(mocked, READ_URL) == 1


class TestCancellation:
    async def test_cancelled_while_waiting_to_retry(self, mocked: MockedWsOne) -> None:
        mocked.post(READ_URL, status=503)
        mocked.post(READ_URL, payload=OK)
        waiting = asyncio.Event()

        async def sleep_forever(seconds: float) -> None:
            waiting.set()
            await asyncio.Event().wait()

        async with WsOneClient._with_hooks(
            BASE, username="a", password="b", sleep=sleep_forever
        ) as client:
            task = asyncio.create_task(client.get_person(read_request()))
            await waiting.wait()
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
        assert count_posts(mocked, READ_URL) == 1

    async def test_cancelled_during_a_request_is_not_retried_or_swallowed(
        self, mocked: MockedWsOne, clock: FakeClock
    ) -> None:
        started = asyncio.Event()

        async def hang(url: URL, **kwargs: Any) -> None:
            started.set()
            await asyncio.Event().wait()

        mocked.post(READ_URL, callback=hang)
        mocked.post(READ_URL, payload=OK)
        async with _retrying(clock) as client:
            task = asyncio.create_task(client.get_person(read_request()))
            await started.wait()
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
        assert count_posts(mocked, READ_URL) == 1
        assert clock.sleeps == []


async def test_a_retryable_code_registered_by_the_user_retries_reads_only(
    mocked: MockedWsOne, clock: FakeClock
) -> None:
    from wsone_async.errors import register_error_code, unregister_error_code

    class BusyError(APIError):
        """Test-only: the platform is busy."""

        retryable = True

    register_error_code("BUSY", BusyError)
    try:
        mocked.post(READ_URL, payload={"responseCode": "BUSY"})
        mocked.post(READ_URL, payload=OK)
        mocked.post(WRITE_URL, payload={"responseCode": "BUSY"})
        async with _retrying(clock) as client:
            await client.get_person(read_request())
            with pytest.raises(BusyError):
                await client.create_person(write_request())
    finally:
        unregister_error_code("BUSY")
    assert count_posts(mocked, READ_URL) == 2
    assert count_posts(mocked, WRITE_URL) == 1


async def test_retries_are_logged_at_info(
    mocked: MockedWsOne, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    mocked.post(READ_URL, status=503)
    mocked.post(READ_URL, payload=OK)
    caplog.set_level("INFO", logger="wsone_async")
    async with _retrying(clock) as client:
        await client.get_person(read_request())
    retries = [r for r in caplog.records if r.name == "wsone_async" and r.levelname == "INFO"]
    assert len(retries) == 1
    message = retries[0].getMessage()
    assert "getPerson" in message and "attempt 2" in message and "503" in message
    assert "0.50s" in message
