"""The client against a real aiohttp server on 127.0.0.1: what a mock cannot show."""

from __future__ import annotations

import asyncio
import socket

import aiohttp
import pytest

from tests._support.builders import read_request
from tests._support.clients import PASSWORD, USERNAME, client_for
from tests._support.mocks import FakeClock
from tests._support.server import body, drop_after, fake_wsone, hang, status
from wsone_async import (
    APIConnectionError,
    APIError,
    APITimeoutError,
    OutcomeUnknownError,
    ResponseTooLargeError,
    RetryPolicy,
    Timeouts,
    WsOneClient,
)
from wsone_async.models import (
    AddressRequest,
    CellPhoneRequest,
    ContactsRequest,
    CreatePersonRequest,
    EmailRequest,
    IdentifierType,
    NewIdentifierRequest,
    PersonProfilRequest,
    PersonRequest,
)


def _person_with_contacts(email: str = "marie.curie@example.fr") -> CreatePersonRequest:
    return CreatePersonRequest(
        new_identifier_request=NewIdentifierRequest(
            identifier_type=IdentifierType.WEB_ACCOUNT, identifier_value=email
        ),
        person_profil_request=PersonProfilRequest(
            person_request=PersonRequest(first_name="Marie", last_name="Sklodowska"),
            contacts_request=ContactsRequest(
                email_request=EmailRequest(email_value=email),
                cell_phone_request=CellPhoneRequest(dialing_code="33", number="0611223344"),
                address_request=AddressRequest(address1="12 rue Pierre et Marie", city="Paris"),
            ),
        ),
    )


async def test_a_write_dropped_after_processing_is_not_repeated(clock: FakeClock) -> None:
    async with fake_wsone() as fake:
        fake.script("createPerson", drop_after)
        async with client_for(fake.url, clock) as client:
            with pytest.raises(OutcomeUnknownError) as info:
                await client.create_person(_person_with_contacts())
        assert fake.processed["createPerson"] == 1
        assert info.value.request == _person_with_contacts()
        assert isinstance(info.value.__cause__, APIConnectionError)


async def test_a_read_dropped_after_processing_is_repeated(clock: FakeClock) -> None:
    async with fake_wsone() as fake:
        fake.script("getPerson", drop_after)
        async with client_for(fake.url, clock) as client:
            response = await client.get_person(read_request())
        assert response.response_code == "000"
        assert fake.processed["getPerson"] == 2


async def test_a_real_read_timeout(clock: FakeClock) -> None:
    timeouts = Timeouts(read=0.2, attempt=5.0, total=30.0)
    retry = RetryPolicy(max_retries=1)
    async with fake_wsone() as fake:
        fake.default = hang
        async with client_for(fake.url, clock, timeout=timeouts, retry=retry) as client:
            with pytest.raises(APITimeoutError) as read_error:
                await client.get_person(read_request())
            assert read_error.value.request_sent is True
            assert fake.processed["getPerson"] == 2  # retried once
            with pytest.raises(OutcomeUnknownError):
                await client.create_person(_person_with_contacts())
            assert fake.processed["createPerson"] == 1  # never repeated


async def test_a_refused_connection_is_retried_even_for_a_write(clock: FakeClock) -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    retry = RetryPolicy(max_retries=2)
    async with WsOneClient._with_hooks(
        f"http://127.0.0.1:{port}",
        username="u",
        password="p",
        retry=retry,
        sleep=clock.sleep,
        clock=clock,
    ) as client:
        with pytest.raises(APIConnectionError) as info:
            await client.create_person(_person_with_contacts())
    assert info.value.request_sent is False
    assert len(clock.sleeps) == 2


async def test_connection_limit_bounds_requests_in_flight() -> None:
    queued = 0
    all_queued = asyncio.Event()

    async def on_queued(session: object, context: object, params: object) -> None:
        nonlocal queued
        queued += 1
        if queued == 192:
            all_queued.set()

    trace = aiohttp.TraceConfig()
    trace.on_connection_queued_start.append(on_queued)
    async with fake_wsone() as fake:
        fake.default = hang
        async with client_for(fake.url, max_connections=8, trace_configs=[trace]) as client:
            calls = [asyncio.create_task(client.get_person(read_request())) for _ in range(200)]
            # Every call is now either on one of the 8 connections or queued for one.
            await all_queued.wait()
            await fake.wait_for_arrivals(8)
            assert (fake.arrived, fake.in_flight) == (8, 8)
            fake.release.set()
            results = await asyncio.gather(*calls)
        assert len(results) == 200
        assert fake.max_in_flight == 8


async def test_cancelling_20_calls_in_flight_leaves_the_client_usable() -> None:
    async with fake_wsone() as fake:
        fake.default = hang
        async with client_for(fake.url, max_connections=20) as client:
            calls = [asyncio.create_task(client.get_person(read_request())) for _ in range(20)]
            await fake.wait_for_arrivals(20)
            for call in calls:
                call.cancel()
            outcomes = await asyncio.gather(*calls, return_exceptions=True)
            assert all(isinstance(o, asyncio.CancelledError) for o in outcomes)
            fake.release.set()
            fake.default = body({"responseCode": "000"})
            responses = await asyncio.gather(
                *(client.get_person(read_request()) for _ in range(20))
            )
            assert all(r.response_code == "000" for r in responses)


async def test_a_body_over_the_cap_is_refused() -> None:
    big = {"responseCode": "000", "infos": "x" * 5000}
    async with fake_wsone() as fake:
        fake.default = body(big)
        async with client_for(fake.url, max_response_size=1000) as client:
            with pytest.raises(ResponseTooLargeError):
                await client.get_person(read_request())
            with pytest.raises(OutcomeUnknownError):
                await client.create_person(_person_with_contacts())


async def test_logs_never_carry_credentials_or_personal_data(
    clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    import base64

    caplog.set_level("DEBUG")
    request = _person_with_contacts()
    errors: list[BaseException] = []
    async with fake_wsone() as fake:
        fake.script(
            "createPerson",
            body({"responseCode": "000", "NewIdentifierResponse": None}),  # success
            status(503, {"Retry-After": "0"}),  # refused: retried, then success
            body({"responseCode": "000"}),
            body(
                {
                    "responseCode": "102",
                    "infos": "Sklodowska Marie (marie.curie@example.fr, 0611223344) exists",
                }
            ),
            drop_after,
        )
        async with client_for(fake.url, clock) as client:
            await client.create_person(request)
            await client.create_person(request)
            for _ in range(2):
                try:
                    await client.create_person(request)
                except (APIError, OutcomeUnknownError) as error:
                    errors.append(error)
    assert [type(e) for e in errors] == [APIError, OutcomeUnknownError]
    token = base64.b64encode(f"{USERNAME}:{PASSWORD}".encode()).decode()
    text = caplog.text + " ".join(f"{e} {e!r} {e.__cause__!r}" for e in errors)
    assert "createPerson request" in caplog.text  # bodies were logged, redacted
    for secret in (PASSWORD, token, "marie.curie", "0611223344", "Sklodowska", "Pierre et Marie"):
        assert secret not in text, secret
