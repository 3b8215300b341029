"""reconcile_writes: an ambiguous write is settled with a read before any retry."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest
from yarl import URL

from tests._support.builders import send_request, write_request
from tests._support.clients import client_for
from tests._support.mocks import FakeClock, MockedWsOne, count_posts, never_answers
from wsone_async import (
    APIConnectionError,
    NotFoundError,
    OutcomeUnknownError,
    RetryPolicy,
    WsOneClient,
)
from wsone_async.errors import register_error_code, unregister_error_code
from wsone_async.models import (
    CreatePersonAndIdentifierRequest,
    IdentifierType,
    UpdatePersonRequest,
)

BASE = "https://wsone.example.fr"
PERSON = f"{BASE}/rest/2.0/personWebService"
TRANSACTION = f"{BASE}/rest/2.0/transactionWebService"
OK = {"responseCode": "000"}
FOUND = {"responseCode": "000", "PersonResponse": {"PersonResponse": {"groupeId": "7"}}}
NOT_FOUND = {"responseCode": "101", "infos": "no such person"}
# A refusal of the lookup that says nothing of the person: a throttling or server-side code.
BUSY = {"responseCode": "950", "infos": "too many requests, try later"}
# Only a code registered as "not found" tells the settler the write was not applied.
CODES = {"101": NotFoundError}


def _reconciling(clock: FakeClock, *, codes: Any = CODES, **policy: Any) -> WsOneClient:
    retry = RetryPolicy(reconcile_writes=True, jitter=False, **policy)
    return client_for(BASE, clock, retry=retry, codes=codes)


def _bodies(mock: MockedWsOne, url: str) -> list[Any]:
    return [call.kwargs["data"] for call in mock.requests.get(("POST", URL(url)), [])]


async def test_an_applied_creation_is_reported_applied_not_repeated(
    mocked: MockedWsOne, clock: FakeClock
) -> None:
    mocked.post(f"{PERSON}/createPerson", exception=aiohttp.ServerDisconnectedError())
    mocked.post(f"{PERSON}/getPerson", payload=FOUND)
    async with _reconciling(clock) as client:
        response = await client.create_person(write_request())
    assert response.response_code == "000"
    assert response.infos is not None and "settled by getPerson" in response.infos
    assert count_posts(mocked, f"{PERSON}/createPerson") == 1
    assert _bodies(mocked, f"{PERSON}/getPerson") == [
        b'{"IdentifierRequest":{"identifierType":10,"identifierValue":"jean@example.fr"}}'
    ]


async def test_a_creation_not_applied_is_sent_again(mocked: MockedWsOne, clock: FakeClock) -> None:
    mocked.post(f"{PERSON}/createPerson", exception=aiohttp.SocketTimeoutError())
    mocked.post(f"{PERSON}/getPerson", payload=NOT_FOUND)
    mocked.post(f"{PERSON}/createPerson", payload=OK)
    async with _reconciling(clock) as client:
        response = await client.create_person(write_request())
    assert response.infos is None  # the real answer of the second attempt
    assert count_posts(mocked, f"{PERSON}/createPerson") == 2


async def test_a_not_found_code_of_the_global_registry_counts_too(
    mocked: MockedWsOne, clock: FakeClock
) -> None:
    mocked.post(f"{PERSON}/createPerson", exception=aiohttp.SocketTimeoutError())
    mocked.post(f"{PERSON}/getPerson", payload={"responseCode": "E-NF"})
    mocked.post(f"{PERSON}/createPerson", payload=OK)
    register_error_code("E-NF", NotFoundError)
    try:
        async with _reconciling(clock, codes=None) as client:
            await client.create_person(write_request())
    finally:
        unregister_error_code("E-NF")
    assert count_posts(mocked, f"{PERSON}/createPerson") == 2


@pytest.mark.parametrize("answer", [BUSY, NOT_FOUND], ids=["busy", "unregistered-101"])
async def test_a_lookup_refused_with_a_code_not_registered_not_found_cannot_tell(
    mocked: MockedWsOne, clock: FakeClock, answer: dict[str, str]
) -> None:
    # Reading it as "no such person" would send the creation again: a duplicate risk.
    mocked.post(f"{PERSON}/createPerson", exception=aiohttp.SocketTimeoutError())
    mocked.post(f"{PERSON}/getPerson", payload=answer)
    mocked.post(f"{PERSON}/createPerson", payload=OK)
    codes = CODES if answer is BUSY else {}
    async with _reconciling(clock, codes=codes) as client:
        with pytest.raises(OutcomeUnknownError, match="getPerson") as info:
            await client.create_person(write_request())
    assert f"responseCode '{answer['responseCode']}'" in info.value.reason
    assert count_posts(mocked, f"{PERSON}/createPerson") == 1
    assert count_posts(mocked, f"{PERSON}/getPerson") == 1


async def test_a_receipt_lookup_refused_with_another_code_cannot_tell(
    mocked: MockedWsOne, clock: FakeClock
) -> None:
    mocked.post(f"{TRANSACTION}/sendTransaction", status=504)
    mocked.post(f"{TRANSACTION}/verifyTransaction", payload=BUSY)
    mocked.post(f"{TRANSACTION}/sendTransaction", payload=OK)
    async with _reconciling(clock) as client:
        with pytest.raises(OutcomeUnknownError, match="verifyTransaction"):
            await client.send_transaction(send_request())
    assert count_posts(mocked, f"{TRANSACTION}/sendTransaction") == 1


async def test_a_receipt_lookup_answering_not_found_sends_it_again(
    mocked: MockedWsOne, clock: FakeClock
) -> None:
    mocked.post(f"{TRANSACTION}/sendTransaction", status=504)
    mocked.post(f"{TRANSACTION}/verifyTransaction", payload={"responseCode": "401"})
    mocked.post(f"{TRANSACTION}/sendTransaction", payload=OK)
    async with _reconciling(clock, codes={"401": NotFoundError}) as client:
        await client.send_transaction(send_request())
    assert count_posts(mocked, f"{TRANSACTION}/sendTransaction") == 2


async def test_when_never_applied_and_retries_run_out_the_failure_is_definitive(
    mocked: MockedWsOne, clock: FakeClock
) -> None:
    for _ in range(3):
        mocked.post(f"{PERSON}/createPerson", exception=aiohttp.ServerDisconnectedError())
        mocked.post(f"{PERSON}/getPerson", payload=NOT_FOUND)
    async with _reconciling(clock, max_retries=2) as client:
        with pytest.raises(APIConnectionError) as info:
            await client.create_person(write_request())
    assert not isinstance(info.value, OutcomeUnknownError)
    assert count_posts(mocked, f"{PERSON}/createPerson") == 3
    assert count_posts(mocked, f"{PERSON}/getPerson") == 3


async def test_when_the_check_fails_the_outcome_stays_unknown(
    mocked: MockedWsOne, clock: FakeClock
) -> None:
    mocked.post(f"{PERSON}/createPerson", exception=aiohttp.ServerDisconnectedError())
    for _ in range(3):
        mocked.post(f"{PERSON}/getPerson", status=503)
    async with _reconciling(clock) as client:
        with pytest.raises(OutcomeUnknownError, match="getPerson could not tell"):
            await client.create_person(write_request())
    assert count_posts(mocked, f"{PERSON}/createPerson") == 1


async def test_without_an_identifier_value_it_cannot_be_settled(
    mocked: MockedWsOne, clock: FakeClock
) -> None:
    mocked.post(f"{PERSON}/createPerson", exception=aiohttp.ServerDisconnectedError())
    async with _reconciling(clock) as client:
        with pytest.raises(OutcomeUnknownError, match="names no identifier value"):
            await client.create_person(write_request(None))
    assert count_posts(mocked, f"{PERSON}/getPerson") == 0


async def test_a_recorded_receipt_is_reported_with_its_transaction(
    mocked: MockedWsOne, clock: FakeClock
) -> None:
    recorded = {"transactionId": "T1", "status": "SENT", "receiptNumber": "T-42"}
    mocked.post(f"{TRANSACTION}/sendTransaction", status=502)
    mocked.post(
        f"{TRANSACTION}/verifyTransaction",
        payload={"responseCode": "000", "TransactionResponse": recorded},
    )
    async with _reconciling(clock) as client:
        response = await client.send_transaction(send_request())
    assert response.transaction_response is not None
    assert response.transaction_response.transaction_id == "T1"
    assert count_posts(mocked, f"{TRANSACTION}/sendTransaction") == 1
    assert _bodies(mocked, f"{TRANSACTION}/verifyTransaction") == [
        b'{"IdentifierRequest":{"identifierType":1,"identifierValue":"2000000000015"},'
        b'"ReceiptRequest":{"receiptNumber":"T-42","EntityRequest":{"entityIdentifier":"1"}}}'
    ]


async def test_an_unrecorded_receipt_is_sent_again(mocked: MockedWsOne, clock: FakeClock) -> None:
    mocked.post(f"{TRANSACTION}/sendTransaction", status=504)
    mocked.post(f"{TRANSACTION}/verifyTransaction", payload={"responseCode": "000"})
    mocked.post(f"{TRANSACTION}/sendTransaction", payload=OK)
    async with _reconciling(clock) as client:
        await client.send_transaction(send_request())
    assert count_posts(mocked, f"{TRANSACTION}/sendTransaction") == 2


async def test_a_write_with_no_settling_read_stays_unknown(
    mocked: MockedWsOne, clock: FakeClock
) -> None:
    mocked.post(f"{PERSON}/updatePerson", exception=aiohttp.ServerDisconnectedError())
    async with _reconciling(clock) as client:
        with pytest.raises(OutcomeUnknownError):
            await client.update_person(UpdatePersonRequest())


async def test_settling_is_off_by_default(mocked: MockedWsOne, clock: FakeClock) -> None:
    mocked.post(f"{PERSON}/createPerson", exception=aiohttp.ServerDisconnectedError())
    async with WsOneClient._with_hooks(
        BASE, username="a", password="b", sleep=clock.sleep
    ) as client:
        with pytest.raises(OutcomeUnknownError):
            await client.create_person(write_request())
    assert count_posts(mocked, f"{PERSON}/getPerson") == 0


async def test_settling_gets_only_what_is_left_of_the_deadline(
    mocked: MockedWsOne, clock: FakeClock
) -> None:
    from wsone_async import Timeouts

    def slow_failure(url: URL, **kwargs: Any) -> None:
        clock.now += 0.07  # the attempt used 0.07 of the call's 0.1 seconds
        raise aiohttp.ServerDisconnectedError

    mocked.post(f"{PERSON}/createPerson", callback=slow_failure)
    mocked.post(f"{PERSON}/getPerson", callback=never_answers)
    client = WsOneClient._with_hooks(
        BASE,
        username="api",
        password="pw",
        timeout=Timeouts(attempt=0.05, total=0.1),
        retry=RetryPolicy(reconcile_writes=True, max_retries=0),
        sleep=clock.sleep,
        clock=clock,
    )
    async with client:
        with pytest.raises(OutcomeUnknownError) as info:
            await client.create_person(write_request())
    # The lookup was bounded (by the event loop's real timer) to the 0.03 s left.
    assert "getPerson could not tell" in info.value.reason
    assert "total limit (0.03 s)" in info.value.reason


async def test_with_no_time_left_the_outcome_stays_unknown(
    mocked: MockedWsOne, clock: FakeClock
) -> None:
    from wsone_async import Timeouts

    def too_slow(url: URL, **kwargs: Any) -> None:
        clock.now += 11.0
        raise aiohttp.ServerDisconnectedError

    mocked.post(f"{PERSON}/createPerson", callback=too_slow)
    client = WsOneClient._with_hooks(
        BASE,
        username="api",
        password="pw",
        timeout=Timeouts(attempt=5.0, total=10.0),
        retry=RetryPolicy(reconcile_writes=True),
        sleep=clock.sleep,
        clock=clock,
    )
    async with client:
        with pytest.raises(OutcomeUnknownError, match="no time left to ask getPerson"):
            await client.create_person(write_request())
    assert count_posts(mocked, f"{PERSON}/getPerson") == 0


def _holding(*cards: str) -> dict[str, Any]:
    identifiers = [{"identifierType": 10, "identifierValue": "jean@example.fr"}]
    identifiers += [{"identifierType": 1, "identifierValue": card} for card in cards]
    return {
        "responseCode": "000",
        "PersonResponse": {"PersonResponse": {"groupeId": "7"}, "IdentifierResponse": identifiers},
    }


@pytest.mark.parametrize(
    ("cards", "told"),
    [(("2000000000015",), "2000000000015"), (("2000000000015", "2000000000022"), None)],
    ids=["one card", "two cards"],
)
async def test_a_settled_creation_hands_back_the_generated_card_only_when_it_is_clear(
    mocked: MockedWsOne, clock: FakeClock, cards: tuple[str, ...], told: str | None
) -> None:
    # Of two cards of the generated type, nothing says which this creation generated.
    mocked.post(f"{PERSON}/createPersonAndIdentifier", exception=aiohttp.ServerDisconnectedError())
    mocked.post(f"{PERSON}/getPerson", payload=_holding(*cards))
    request = CreatePersonAndIdentifierRequest(
        new_identifier_request=write_request().new_identifier_request,
        new_identifier_type=IdentifierType.CARD,
    )
    async with _reconciling(clock) as client:
        answer = await client.create_person_and_identifier(request)
    assert answer.infos is not None and "settled by getPerson" in answer.infos
    generated = answer.new_identifier_response
    assert (generated.identifier_value if generated is not None else None) == told
