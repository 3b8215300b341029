"""The client's life cycle, configuration and typed surface."""

from __future__ import annotations

import asyncio
import inspect
import sys
import typing
from collections.abc import Coroutine
from typing import Any
from unittest.mock import AsyncMock, create_autospec

import aiohttp
import pytest
from yarl import URL

from tests._support.builders import read_request
from tests._support.clients import PASSWORD, USERNAME, client_for
from tests._support.mocks import MockedWsOne, no_wait
from wsone_async import (
    AttemptInfo,
    ClientClosedError,
    ClientStateError,
    RetryPolicy,
    ServerError,
    Timeouts,
    WsOneClient,
)
from wsone_async.models import (
    SendTransactionRequest,
)
from wsone_async.operations import OPERATIONS

OK = {"responseCode": "000"}


class TestConstruction:
    @pytest.mark.parametrize(
        "base",
        ["http://127.0.0.1:8080", "http://localhost", "http://[::1]:9000/wsone", "https://x.fr"],
    )
    def test_accepted_urls(self, base: str) -> None:
        client_for(base)

    def test_plain_http_is_refused_off_loopback(self) -> None:
        with pytest.raises(ValueError, match="https"):
            client_for("http://wsone.example.fr")
        client_for("http://wsone.example.fr", allow_insecure_http=True)

    @pytest.mark.parametrize(
        "base",
        ["wsone.example.fr", "ftp://x.fr", "https://", "https://x.fr/?a=1", "https://x.fr/#f"],
    )
    def test_malformed_urls(self, base: str) -> None:
        with pytest.raises(ValueError, match="base_url"):
            client_for(base)

    def test_credentials_in_the_url_are_refused_without_repeating_them(self) -> None:
        with pytest.raises(ValueError) as info:
            client_for("https://api:hunter2@wsone.example.fr")
        assert "hunter2" not in str(info.value)

    def test_credentials_are_checked(self) -> None:
        with pytest.raises(ValueError, match="username"):
            WsOneClient("https://x.fr", username="", password="p")
        with pytest.raises(ValueError, match="':'"):
            WsOneClient("https://x.fr", username="a:b", password="p")
        with pytest.raises(ValueError, match="password"):
            WsOneClient("https://x.fr", username="a", password="")

    def test_settings_are_checked(self) -> None:
        with pytest.raises(ValueError, match="max_connections"):
            client_for(max_connections=0)
        with pytest.raises(ValueError, match="never wait forever"):
            client_for(timeout=None)  # type: ignore[arg-type]
        with pytest.raises(TypeError, match="RetryPolicy"):
            client_for(retry=3)  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="person_path"):
            client_for(person_path="rest")

    def test_max_connections_is_readable_and_shared_by_views(self) -> None:
        # The import compares its concurrency with it: more records than connections wait
        # for one, and the wait counts in the connect time limit.
        assert client_for().max_connections == 100
        client = client_for(max_connections=7)
        assert client.max_connections == 7
        assert client.with_options(timeout=Timeouts(total=5)).max_connections == 7
        with pytest.raises(AttributeError):
            client.max_connections = 8  # type: ignore[misc]

    def test_repr_shows_url_and_user_never_the_password(self) -> None:
        client = client_for()
        assert repr(client) == (
            "WsOneClient(base_url='https://wsone.example.fr', username='api', state='not opened')"
        )
        assert PASSWORD not in repr(client)


class TestPaths:
    @pytest.mark.parametrize("base", ["https://x.fr/pre/fix", "https://x.fr/pre/fix/"])
    async def test_prefix_with_or_without_slash(self, base: str, mocked: MockedWsOne) -> None:
        url = "https://x.fr/pre/fix/rest/2.0/personWebService/getPerson"
        mocked.post(url, payload=OK)
        async with client_for(base) as client:
            await client.get_person(read_request("1"))
        assert ("POST", URL(url)) in mocked.requests

    async def test_transaction_path_is_configurable(self, mocked: MockedWsOne) -> None:
        url = "https://x.fr/tx/v9/sendTransaction"
        mocked.post(url, payload=OK)
        async with client_for("https://x.fr", transaction_path="/tx/v9/") as client:
            await client.send_transaction(SendTransactionRequest())
        assert ("POST", URL(url)) in mocked.requests

    async def test_headers(self, mocked: MockedWsOne) -> None:
        url = "https://x.fr/rest/2.0/personWebService/getPerson"
        mocked.post(url, payload=OK)
        async with client_for("https://x.fr") as client:
            await client.get_person(read_request("1"))
        sent = mocked.requests[("POST", URL(url))][0].kwargs
        assert sent["headers"]["Authorization"] == aiohttp.encode_basic_auth(USERNAME, PASSWORD)
        assert sent["headers"]["Content-Type"] == "application/json"
        assert sent["data"] == (b'{"IdentifierRequest":{"identifierType":1,"identifierValue":"1"}}')
        assert sent["allow_redirects"] is False


class TestLifeCycle:
    async def test_a_closed_client_refuses_calls_and_cannot_reopen(self) -> None:
        client = client_for()
        async with client:
            pass
        assert client.closed
        with pytest.raises(ClientClosedError, match="closed"):
            await client.get_person(read_request("1"))
        with pytest.raises(ClientClosedError):
            await client.__aenter__()
        await client.aclose()  # closing twice is fine

    async def test_the_first_call_opens_it(self, mocked: MockedWsOne) -> None:
        mocked.post("https://wsone.example.fr/rest/2.0/personWebService/getPerson", payload=OK)
        client = client_for()
        assert "not opened" in repr(client)
        await client.get_person(read_request("1"))
        assert "'open'" in repr(client)
        await client.aclose()

    async def test_another_event_loop_is_refused(self) -> None:
        async with client_for() as client:
            # A second event loop, in a thread, while the first one keeps the client open.
            with pytest.raises(ClientStateError, match="another event loop"):
                await asyncio.to_thread(asyncio.run, client.get_person(read_request("1")))

    async def test_a_borrowed_session_is_not_closed(self, mocked: MockedWsOne) -> None:
        mocked.post("https://wsone.example.fr/rest/2.0/personWebService/getPerson", payload=OK)
        async with aiohttp.ClientSession() as session:
            async with client_for(session=session) as client:
                await client.get_person(read_request("1"))
            assert not session.closed

    async def test_views_share_the_session_and_only_the_client_closes_it(
        self, mocked: MockedWsOne
    ) -> None:
        client = client_for()
        async with client:
            view = client.with_options(
                timeout=Timeouts(attempt=3), retry=RetryPolicy(max_retries=0)
            )
            assert view._shared is client._shared
            await view.aclose()
            assert not client.closed
        assert view.closed
        with pytest.raises(ClientClosedError):
            await view.get_person(read_request("1"))

    async def test_an_unclosed_client_warns(self) -> None:
        client = client_for()
        await client.__aenter__()
        with pytest.warns(ResourceWarning, match="unclosed WsOneClient"):
            client.__del__()
        await client.aclose()

    async def test_request_type_is_checked(self) -> None:
        async with client_for() as client:
            with pytest.raises(TypeError, match="getPerson takes a GetPersonRequest"):
                await client.get_person(SendTransactionRequest())  # type: ignore[arg-type]


class TestHooks:
    async def test_on_attempt_sees_every_attempt(self, mocked: MockedWsOne) -> None:
        url = "https://wsone.example.fr/rest/2.0/personWebService/getPerson"
        mocked.post(url, status=503)
        mocked.post(url, payload=OK)
        seen: list[AttemptInfo] = []

        async with client_for(on_attempt=seen.append, sleep=no_wait) as client:
            await client.get_person(read_request("1"))
        assert [(i.operation, i.attempt) for i in seen] == [("getPerson", 1), ("getPerson", 2)]
        assert isinstance(seen[0].error, ServerError) and seen[1].error is None

    async def test_a_failing_hook_does_not_fail_the_call(
        self, mocked: MockedWsOne, caplog: pytest.LogCaptureFixture
    ) -> None:
        mocked.post("https://wsone.example.fr/rest/2.0/personWebService/getPerson", payload=OK)

        def broken(info: AttemptInfo) -> None:
            raise RuntimeError("metrics down")

        async with client_for(on_attempt=broken) as client:
            assert (await client.get_person(read_request("1"))).response_code == "000"
        assert "on_attempt hook failed" in caplog.text

    async def test_trace_configs_reach_the_session(self, mocked: MockedWsOne) -> None:
        mocked.post("https://wsone.example.fr/rest/2.0/personWebService/getPerson", payload=OK)
        trace = aiohttp.TraceConfig()
        async with client_for(trace_configs=[trace]) as client:
            session = client._shared.transport.session
            assert session is not None and trace in session.trace_configs


def _is_coroutine_function(function: object) -> bool:
    """What ``unittest.mock`` reads: ``inspect`` from 3.12, ``asyncio`` on 3.11."""
    if sys.version_info >= (3, 12):
        return inspect.iscoroutinefunction(function)
    return asyncio.iscoroutinefunction(function)


def test_one_typed_method_per_operation() -> None:
    assert len(OPERATIONS) == 29
    for op in OPERATIONS:
        method = getattr(WsOneClient, op.method_name)
        assert _is_coroutine_function(method), op.name
        hints = typing.get_type_hints(method)
        assert hints["request"] is op.request_type, op.name
        # A plain function returning the call's coroutine (no frame of its own).
        assert hints["return"] == Coroutine[Any, Any, op.response_type], op.name
        assert op.name in (method.__doc__ or ""), op.name


def test_mocks_of_the_client_await_the_typed_methods() -> None:
    client = client_for()
    for mock in (create_autospec(WsOneClient), AsyncMock(spec=WsOneClient)):
        for op in OPERATIONS:
            assert isinstance(getattr(mock, op.method_name), AsyncMock), op.name
    assert _is_coroutine_function(client.get_person)


async def test_a_typed_method_makes_a_task(mocked: MockedWsOne) -> None:
    mocked.post("https://wsone.example.fr/rest/2.0/personWebService/getPerson", payload=OK)
    async with client_for() as client:
        task = asyncio.create_task(client.get_person(read_request("1")))
        assert (await task).response_code == "000"


async def test_a_closed_client_refuses_when_the_call_is_awaited() -> None:
    client = client_for()
    async with client:
        pass
    call = client.get_person(read_request("1"))  # as before: nothing raised yet
    with pytest.raises(ClientClosedError, match="closed"):
        await call


def test_reads_and_writes() -> None:
    reads = {op.name for op in OPERATIONS if not op.is_write}
    assert reads == {
        "getPerson", "searchPerson", "getAccounts", "getFullPerson", "searchPersonLite",
        "getBadge", "getAvailableOffers", "getEnableOffers", "getForm", "getEntities",
        "getEntityParents", "verifyTransaction", "getLastTransaction",
    }  # fmt: skip


async def test_closing_while_a_call_waits_to_retry_refuses_the_next_attempt(
    mocked: MockedWsOne,
) -> None:
    url = "https://wsone.example.fr/rest/2.0/personWebService/getPerson"
    mocked.post(url, status=503, headers={"Retry-After": "5"})
    mocked.post(url, payload=OK)
    waiting, release = asyncio.Event(), asyncio.Event()

    async def sleep(seconds: float) -> None:
        waiting.set()
        await release.wait()

    client = client_for(sleep=sleep)
    async with client:
        call = asyncio.create_task(client.get_person(read_request("1")))
        await waiting.wait()
        await client.aclose()
        release.set()
        with pytest.raises(ClientClosedError, match="waited to retry"):
            await call
    assert len(mocked.requests[("POST", URL(url))]) == 1


async def test_a_borrowed_session_closed_by_its_owner_is_a_clear_error(
    mocked: MockedWsOne,
) -> None:
    session = aiohttp.ClientSession()
    async with client_for(session=session) as client:
        await session.close()
        with pytest.raises(ClientStateError, match="closed by its owner"):
            await client.get_person(read_request("1"))
