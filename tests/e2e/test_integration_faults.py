"""Faults the fault matrix does not cover: other operations, ``Retry-After`` spellings.

The matrix (``test_fault_matrix.py``) asserts every fault x read / write / transaction, with
and without ``reconcile_writes``. Here: settling the operations outside it (a till's full
transaction, createPersonAndIdentifier) and ``Retry-After`` as an HTTP date or on a 503,
through a real :class:`WsOneClient` against the simulator, waits recorded and skipped.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests._support.builders import a_receipt, web_key
from tests._support.clients import simulator_client
from tests._support.mocks import FakeClock
from wsone_async import RetryPolicy, ServerError, WsOneClient
from wsone_async.models import (
    CreatePersonAndIdentifierRequest,
    FullPersonRequest,
    GetAccountsRequest,
    GetEntitiesRequest,
    IdentifierRequest,
    IdentifierType,
    NewIdentifierRequest,
    SendAndValidFullTransactionRequest,
)
from wsone_async.testing import WsOneSimulator


@pytest.fixture
async def sleepless(sim: WsOneSimulator, clock: FakeClock) -> AsyncIterator[WsOneClient]:
    """A client of the simulator whose waits are recorded in ``clock.sleeps``, not waited."""
    async with simulator_client(sim, sleep=clock.sleep) as opened:
        yield opened


def new_web_account(email: str) -> NewIdentifierRequest:
    return NewIdentifierRequest(identifier_type=IdentifierType.WEB_ACCOUNT, identifier_value=email)


async def points(client: WsOneClient, key: IdentifierRequest) -> object:
    answer = await client.get_accounts(GetAccountsRequest(identifier_request=key))
    return {a.name: a.value for a in answer.account_response or ()}["point"]


def reconciling(client: WsOneClient) -> WsOneClient:
    return client.with_options(retry=RetryPolicy(reconcile_writes=True))


async def test_with_reconcile_a_dropped_full_transaction_is_settled_and_credited_once(
    sleepless: WsOneClient, sim: WsOneSimulator
) -> None:
    # The till enrols the customer with the receipt; the answer is lost.
    sim.faults.add("sendAndValidFullTransaction", "drop_after", times=1)
    request = SendAndValidFullTransactionRequest(
        identifier_request=web_key("till@example.fr"),
        full_person_request=FullPersonRequest(
            new_identifier_request=NewIdentifierRequest(identifier_type=IdentifierType.CARD)
        ),
        receipt_request=a_receipt("R1", 42.5),
    )
    answer = await reconciling(sleepless).send_and_valid_full_transaction(request)
    assert answer.infos is not None and "settled by verifyTransaction" in answer.infos
    assert answer.transaction_response is not None
    assert answer.transaction_response.status == "VALIDATED"
    assert sim.stats.received["sendAndValidFullTransaction"] == 1
    assert sim.backend.persons_count() == 1
    assert await points(sleepless, web_key("till@example.fr")) == 42


# Settling used to send verifyTransaction without the customer named only in the full
# profile; its refusal read as "not recorded" and the applied write was sent again.
async def test_with_reconcile_a_dropped_enrolling_full_transaction_is_not_sent_again(
    sleepless: WsOneClient, sim: WsOneSimulator
) -> None:
    sim.faults.add("sendAndValidFullTransaction", "drop_after", times=1)
    request = SendAndValidFullTransactionRequest(
        full_person_request=FullPersonRequest(
            new_identifier_request=new_web_account("new@example.fr")
        ),
        receipt_request=a_receipt("R1", 42.5),
    )
    try:
        answer = await reconciling(sleepless).send_and_valid_full_transaction(request)
    finally:
        # Whatever the client says, the receipt was credited once and only once.
        assert sim.backend.persons_count() == 1
        assert sim.backend.points_total() == 42
    assert answer.infos is not None and "settled" in answer.infos
    assert sim.stats.received["sendAndValidFullTransaction"] == 1


# A settled createPersonAndIdentifier used to answer without the generated card.
async def test_with_reconcile_a_settled_create_person_and_identifier_gives_the_card(
    sleepless: WsOneClient, sim: WsOneSimulator
) -> None:
    sim.faults.add("createPersonAndIdentifier", "drop_after", times=1)
    answer = await reconciling(sleepless).create_person_and_identifier(
        CreatePersonAndIdentifierRequest(
            new_identifier_request=new_web_account("card@example.fr"),
            new_identifier_type=IdentifierType.CARD,
        )
    )
    assert answer.infos is not None and "settled by getPerson" in answer.infos
    person = sim.backend.person_by_identifier(10, "card@example.fr")
    assert person is not None and sim.backend.persons_count() == 1
    generated = sim.backend.identifiers_of(person)[1][1]
    assert answer.new_identifier_response is not None
    assert answer.new_identifier_response.identifier_value == generated


async def test_a_retry_after_given_as_an_http_date_is_honoured(
    sleepless: WsOneClient, sim: WsOneSimulator, clock: FakeClock
) -> None:
    sim.faults.add("getEntities", "status", status=429, retry_after=20, retry_after_date=True)
    answer = await sleepless.get_entities(GetEntitiesRequest())
    assert len(answer.entity_response or ()) == 9
    # An HTTP date has whole seconds: the client waits, and never longer than it was asked.
    assert len(clock.sleeps) == 1 and 0.0 < clock.sleeps[0] <= 20.0
    assert sim.stats.received["getEntities"] == 2


# The README once said RateLimitError for a 503 too; a 503 raises ServerError, as it now says.
async def test_a_503_with_a_retry_after_over_the_maximum_raises_at_once(
    sleepless: WsOneClient, sim: WsOneSimulator, clock: FakeClock
) -> None:
    sim.faults.add("getEntities", "status", status=503, retry_after=120, times=1)
    with pytest.raises(ServerError) as refused:
        await sleepless.get_entities(GetEntitiesRequest())
    assert refused.value.retry_after == 120.0
    assert clock.sleeps == []
    assert sim.stats.received["getEntities"] == 1
