"""The simulator and the client's models agree on the wire, for all 29 operations.

The simulator reads and writes JSON by hand, the client through its codec: here requests
are built with the client's models (``to_wire``) and every answer is decoded with the
client's response models (``from_wire``), so a disagreement between the two hand-written
sides fails a test.
"""

from __future__ import annotations

import datetime as dt
import json
import pathlib
import re
from collections.abc import AsyncIterator
from typing import Any, TypeVar

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests._sim import OK, SimClient
from tests.strategies import models
from wsone_async import WsOneClient, from_wire, to_wire
from wsone_async.models import (
    AccountAdvantageRequest,
    AssociatedIdentifierRequest,
    AssociateIdentifierRequest,
    AssociateIdentifierResponse,
    AssociateNewIdentifierRequest,
    AssociateNewIdentifierResponse,
    CancelTransactionsNotValidatedRequest,
    CancelTransactionsNotValidatedResponse,
    CellPhoneRequest,
    ContactsRequest,
    CreateIdentifierRequest,
    CreateIdentifierResponse,
    CreatePersonAndIdentifierRequest,
    CreatePersonAndIdentifierResponse,
    CreatePersonRequest,
    CreatePersonResponse,
    DetailsRequest,
    EditOfferRequest,
    EditOfferResponse,
    EmailRequest,
    EntityRequest,
    FormAnsweredRequest,
    FullPersonRequest,
    GetAccountsRequest,
    GetAccountsResponse,
    GetAvailableOffersRequest,
    GetAvailableOffersResponse,
    GetBadgeRequest,
    GetBadgeResponse,
    GetEnableOffersRequest,
    GetEnableOffersResponse,
    GetEntitiesRequest,
    GetEntitiesResponse,
    GetEntityParentsRequest,
    GetEntityParentsResponse,
    GetFormRequest,
    GetFormResponse,
    GetFullPersonRequest,
    GetFullPersonResponse,
    GetLastTransactionRequest,
    GetLastTransactionResponse,
    GetPersonRequest,
    GetPersonResponse,
    IdentifierRequest,
    IdentifierType,
    Model,
    NewIdentifierRequest,
    PersonProfilRequest,
    PersonRequest,
    ReceiptRequest,
    RefundTransactionRequest,
    RefundTransactionResponse,
    ReplaceIdentifierRequest,
    ReplaceIdentifierResponse,
    SearchPersonLiteRequest,
    SearchPersonLiteResponse,
    SearchPersonRequest,
    SearchPersonResponse,
    SendAndValidFullTransactionRequest,
    SendAndValidFullTransactionResponse,
    SendAndValidTransactionRequest,
    SendAndValidTransactionResponse,
    SendSimpleTransactionRequest,
    SendSimpleTransactionResponse,
    SendTransactionRequest,
    SendTransactionResponse,
    SubscriptionRequest,
    Title,
    UpdateFormRequest,
    UpdateFormResponse,
    UpdatePersonRequest,
    UpdatePersonResponse,
    ValidTransactionRequest,
    ValidTransactionResponse,
    VerifyTransactionRequest,
    VerifyTransactionResponse,
)
from wsone_async.testing import WsOneSimulator, is_valid_ean13
from wsone_async.testing._routes import ROUTES

R = TypeVar("R", bound=Model)

STORE = EntityRequest(entity_identifier="123456")
EMAIL = "jean.dupond@example.fr"


@pytest.fixture
async def client(wsone_simulator: WsOneSimulator) -> AsyncIterator[SimClient]:
    async with SimClient(wsone_simulator) as sim_client:
        yield sim_client


async def exchange(client: SimClient, operation: str, request: Model, response: type[R]) -> R:
    """Send a model, decode the answer with the client's response model."""
    answer = await client.call(operation, to_wire(request), enveloped=operation != "getFullPerson")
    return from_wire(response, answer)


async def exchange_ok(client: SimClient, operation: str, request: Model, response: type[R]) -> R:
    decoded = await exchange(client, operation, request, response)
    assert decoded.response_code == OK, decoded  # type: ignore[attr-defined]
    return decoded


def web_key(email: str = EMAIL) -> IdentifierRequest:
    return IdentifierRequest(identifier_type=IdentifierType.WEB_ACCOUNT, identifier_value=email)


def card_key(value: str) -> IdentifierRequest:
    return IdentifierRequest(identifier_type=IdentifierType.CARD, identifier_value=value)


def profile(last: str = "DUPOND", email: str = EMAIL) -> PersonProfilRequest:
    return PersonProfilRequest(
        person_request=PersonRequest(
            first_name="JEAN", last_name=last, birth_date=dt.date(2000, 1, 1), title=Title.MR
        ),
        entity_request=STORE,
        contacts_request=ContactsRequest(
            email_request=EmailRequest(
                email_value=email, allow_company_solicitation=True, allow_trusted_solicitation=False
            ),
            cell_phone_request=CellPhoneRequest(dialing_code="33", number="0612345678"),
        ),
    )


async def enrol(client: SimClient, email: str = EMAIL) -> str:
    """createPersonAndIdentifier through the models; returns the generated card."""
    request = CreatePersonAndIdentifierRequest(
        new_identifier_request=NewIdentifierRequest(
            identifier_type=IdentifierType.WEB_ACCOUNT, identifier_value=email
        ),
        person_profil_request=profile(email=email),
        subscription_request=(SubscriptionRequest(id=30, activate=True),),
        source="WEB",
        new_identifier_type=IdentifierType.CARD,
    )
    answer = await exchange_ok(
        client, "createPersonAndIdentifier", request, CreatePersonAndIdentifierResponse
    )
    created = answer.new_identifier_response
    assert created is not None and created.identifier_value is not None
    assert created.identifier_type is IdentifierType.CARD
    assert is_valid_ean13(created.identifier_value)
    return created.identifier_value


def a_receipt(number: str, amount: float, **extra: Any) -> ReceiptRequest:
    return ReceiptRequest(
        receipt_number=number,
        receipt_date=dt.datetime.now().replace(microsecond=0),
        amount=amount,
        entity_request=STORE,
        **extra,
    )


# ------------------------------------------------------------------------ WS Person


async def test_create_person_and_identifier(client: SimClient) -> None:
    card = await enrol(client)
    assert client.sim.backend.person_by_identifier(1, card) is not None
    assert client.sim.backend.person_by_identifier(10, EMAIL) is not None


async def test_create_person(client: SimClient) -> None:
    request = CreatePersonRequest(
        new_identifier_request=NewIdentifierRequest(
            identifier_type=IdentifierType.CARD, identifier_value="1110987654321"
        ),
        person_profil_request=profile(),
        subscription_request=(
            SubscriptionRequest(id=1, activate=True),
            SubscriptionRequest(id=2, activate=False),
        ),
        source="API-DOG",
    )
    answer = await exchange_ok(client, "createPerson", request, CreatePersonResponse)
    assert answer.new_identifier_response is None  # as in the vendor's example
    again = await exchange(client, "createPerson", request, CreatePersonResponse)
    assert again.response_code == "102"
    assert client.sim.backend.persons_count() == 1


async def test_create_identifier(client: SimClient) -> None:
    created = await exchange_ok(
        client,
        "createPerson",
        CreatePersonRequest(
            new_identifier_request=NewIdentifierRequest(
                identifier_type=IdentifierType.WEB_ACCOUNT, identifier_value=EMAIL
            )
        ),
        CreatePersonResponse,
    )
    assert created.response_code == OK
    request = CreateIdentifierRequest(
        identifier_request=web_key(), new_identifier_type=IdentifierType.CARD
    )
    answer = await exchange_ok(client, "createIdentifier", request, CreateIdentifierResponse)
    assert answer.new_identifier_response is None  # as in the vendor's example
    person = client.sim.backend.person_by_identifier(10, EMAIL)
    assert person is not None
    (web, (card_type, card)) = client.sim.backend.identifiers_of(person)
    assert web == (10, EMAIL)
    assert card_type == 1 and is_valid_ean13(card)
    found = await exchange_ok(
        client, "getPerson", GetPersonRequest(identifier_request=card_key(card)), GetPersonResponse
    )
    assert found.person_response is not None


async def test_create_identifier_accepts_the_vendors_text_identifier_type(
    client: SimClient,
) -> None:
    await enrol(client)
    body = {"IdentifierRequest": {"identifierType": "10", "identifierValue": EMAIL}}
    answer = from_wire(CreateIdentifierResponse, await client.ok("createIdentifier", body))
    assert answer.response_code == OK
    assert answer.new_identifier_response is None
    person = client.sim.backend.person_by_identifier(10, EMAIL)
    assert person is not None and len(client.sim.backend.identifiers_of(person)) == 3


async def test_associate_new_identifier(client: SimClient) -> None:
    card = await enrol(client)
    request = AssociateNewIdentifierRequest(
        identifier_request=card_key(card),
        new_identifier_request=NewIdentifierRequest(
            identifier_type=IdentifierType.WEB_ACCOUNT, identifier_value="second@example.fr"
        ),
    )
    answer = await exchange_ok(
        client, "associateNewIdentifier", request, AssociateNewIdentifierResponse
    )
    assert answer.new_identifier_response is not None
    assert answer.new_identifier_response.identifier_value == "second@example.fr"
    assert client.sim.backend.person_by_identifier(10, "second@example.fr") is not None


async def test_associate_identifier(client: SimClient) -> None:
    card = await enrol(client)
    request = AssociateIdentifierRequest(
        identifier_request=card_key(card),
        associated_identifier_request=AssociatedIdentifierRequest(
            identifier_type=IdentifierType.CARD, identifier_value="1234567891011"
        ),
    )
    await exchange_ok(client, "associateIdentifier", request, AssociateIdentifierResponse)
    holder = client.sim.backend.person_by_identifier(1, "1234567891011")
    assert holder is client.sim.backend.person_by_identifier(1, card)


async def test_replace_identifier(client: SimClient) -> None:
    card = await enrol(client)
    request = ReplaceIdentifierRequest(
        identifier_request=card_key(card),
        new_identifier_request=NewIdentifierRequest(identifier_type=IdentifierType.CARD),
    )
    answer = await exchange_ok(client, "replaceIdentifier", request, ReplaceIdentifierResponse)
    new = answer.new_identifier_response
    assert new is not None and new.identifier_value is not None and new.identifier_value != card
    assert is_valid_ean13(new.identifier_value)
    old = await exchange(
        client, "getPerson", GetPersonRequest(identifier_request=card_key(card)), GetPersonResponse
    )
    assert old.response_code == "101"


async def test_get_person(client: SimClient) -> None:
    card = await enrol(client)
    request = GetPersonRequest(identifier_request=card_key(card), entity_request=STORE)
    answer = await exchange_ok(client, "getPerson", request, GetPersonResponse)
    person = answer.person_response
    assert person is not None and person.person_response is not None
    civil = person.person_response
    assert (civil.first_name, civil.last_name, civil.title) == ("JEAN", "DUPOND", Title.MR)
    assert civil.birth_date == dt.date(2000, 1, 1)
    assert civil.groupe_id is not None
    assert person.identifier_response is not None
    kinds = {(i.identifier_type, i.identifier_value) for i in person.identifier_response}
    assert kinds == {(IdentifierType.CARD, card), (IdentifierType.WEB_ACCOUNT, EMAIL)}
    assert all(isinstance(i.activation_date, dt.datetime) for i in person.identifier_response)
    assert person.entity_response is not None
    assert person.entity_response.entity_identifier == "123456"
    assert person.subscription_response is not None
    (wallet,) = person.subscription_response
    assert (wallet.id, wallet.label, wallet.activate) == ("30", "WALLET", True)
    contacts = person.contacts_response
    assert contacts is not None and contacts.email_response is not None
    assert contacts.email_response.email_value == EMAIL
    assert contacts.email_response.allow_company_solicitation is True
    assert contacts.email_response.allow_trusted_solicitation is False
    assert contacts.cell_phone_response is not None
    assert contacts.cell_phone_response.number == "0612345678"
    assert person.info_person_response == ()
    assert answer.wire_extra == {}  # nothing the client's model does not know


async def test_search_person(client: SimClient) -> None:
    await enrol(client)
    await enrol(client, "other@example.fr")
    request = SearchPersonRequest(
        person_request=PersonRequest(last_name="dupond", first_name="Jean"), entity_request=STORE
    )
    answer = await exchange_ok(client, "searchPerson", request, SearchPersonResponse)
    assert answer.person_response is not None and len(answer.person_response) == 2
    by_email = SearchPersonRequest(
        contacts_request=ContactsRequest(email_request=EmailRequest(email_value=EMAIL.upper()))
    )
    answer = await exchange_ok(client, "searchPerson", by_email, SearchPersonResponse)
    assert answer.person_response is not None and len(answer.person_response) == 1
    nobody = SearchPersonRequest(person_request=PersonRequest(last_name="MARTIN"))
    answer = await exchange_ok(client, "searchPerson", nobody, SearchPersonResponse)
    assert answer.person_response == ()


async def test_search_person_lite(client: SimClient) -> None:
    card = await enrol(client)
    request = SearchPersonLiteRequest(person_request=PersonRequest(last_name="DUPOND"))
    answer = await exchange_ok(client, "searchPersonLite", request, SearchPersonLiteResponse)
    assert answer.person_response is not None
    (person,) = answer.person_response
    assert person.person_response is not None and person.person_response.last_name == "DUPOND"
    assert person.identifier_response is not None
    assert card in {i.identifier_value for i in person.identifier_response}
    assert person.contacts_response is None  # the lite answer has no contacts


async def test_get_accounts(client: SimClient) -> None:
    card = await enrol(client)
    request = GetAccountsRequest(identifier_request=card_key(card), entity_request=STORE)
    answer = await exchange_ok(client, "getAccounts", request, GetAccountsResponse)
    assert answer.account_response is not None
    balances = {(a.name, a.value, a.unit) for a in answer.account_response}
    assert balances == {("point", 0, "pts"), ("visites", 0, "visites")}
    assert all(a.entity_response is not None for a in answer.account_response)


async def test_get_full_person(client: SimClient) -> None:
    card = await enrol(client)
    request = GetFullPersonRequest(
        identifier_request=card_key(card),
        entity_request=STORE,
        date=dt.datetime.now().replace(microsecond=0),
        filter=0,
    )
    answer = await exchange(client, "getFullPerson", request, GetFullPersonResponse)
    assert answer.response_code is None  # no top-level envelope, as the vendor's example
    assert answer.person_response is not None and answer.person_response.person_response
    assert answer.offers_response is not None
    offers = answer.offers_response.get_offers_responses
    assert offers is not None and len(offers) == 1  # the welcome offer
    (welcome,) = offers
    assert welcome.offer_name == "BIENVENUE_BA_CAISSE_2025"
    assert welcome.used is False
    assert welcome.global_min_price == 30.0
    assert welcome.start_date is not None and welcome.end_date is not None
    assert welcome.start_date <= dt.datetime.now() <= welcome.end_date
    assert welcome.offer_number is not None and is_valid_ean13(welcome.offer_number)
    accounts = answer.accounts_response
    assert accounts is not None and accounts.response_code == OK
    assert accounts.account_response is not None and len(accounts.account_response) == 2


async def test_get_badge(client: SimClient) -> None:
    card = await enrol(client)
    request = GetBadgeRequest(identifier_request=card_key(card))
    answer = await exchange_ok(client, "getBadge", request, GetBadgeResponse)
    assert answer.badge_response is not None
    assert [b.label for b in answer.badge_response] == ["BIENVENUE"]
    assert isinstance(answer.badge_response[0].activation_date, dt.datetime)


async def test_update_person(client: SimClient) -> None:
    card = await enrol(client)
    request = UpdatePersonRequest(
        identifier_request=card_key(card),
        person_profil_request=PersonProfilRequest(
            person_request=PersonRequest(last_name="DURAND"),
            contacts_request=ContactsRequest(
                email_request=EmailRequest(email_value="new@example.fr")
            ),
        ),
        subscription_request=(SubscriptionRequest(id=30, activate=False),),
    )
    await exchange_ok(client, "updatePerson", request, UpdatePersonResponse)
    got = await exchange_ok(
        client, "getPerson", GetPersonRequest(identifier_request=card_key(card)), GetPersonResponse
    )
    person = got.person_response
    assert person is not None and person.person_response is not None
    assert (person.person_response.first_name, person.person_response.last_name) == (
        "JEAN",
        "DURAND",
    )
    assert person.subscription_response is not None
    assert person.subscription_response[0].activate is False
    assert person.contacts_response is not None and person.contacts_response.email_response
    assert person.contacts_response.email_response.email_value == "new@example.fr"
    assert person.contacts_response.email_response.allow_company_solicitation is True


async def test_get_available_and_enable_offers(client: SimClient) -> None:
    card = await enrol(client)
    now = dt.datetime.now().replace(microsecond=0)
    available = await exchange_ok(
        client,
        "getAvailableOffers",
        GetAvailableOffersRequest(
            identifier_request=card_key(card), entity_request=STORE, date=now
        ),
        GetAvailableOffersResponse,
    )
    assert available.get_offers_responses is not None
    assert [o.offer_id for o in available.get_offers_responses] == ["57384"]
    enabled = await exchange_ok(
        client,
        "getEnableOffers",
        GetEnableOffersRequest(identifier_request=card_key(card), entity_request=STORE, date=now),
        GetEnableOffersResponse,
    )
    assert enabled.get_offers_responses == available.get_offers_responses
    later = GetEnableOffersRequest(
        identifier_request=card_key(card), date=now + dt.timedelta(days=365)
    )
    expired = await exchange_ok(client, "getEnableOffers", later, GetEnableOffersResponse)
    assert expired.get_offers_responses == ()


async def test_edit_offer(client: SimClient) -> None:
    card = await enrol(client)
    person = client.sim.backend.person_by_identifier(1, card)
    assert person is not None
    (number,) = person.offers
    request = EditOfferRequest(
        identifier_request=card_key(card), entity_request=STORE, offer_number=number, used=True
    )
    answer = await exchange_ok(client, "editOffer", request, EditOfferResponse)
    assert answer.get_offers_responses is not None
    assert answer.get_offers_responses[0].used is True
    again = await exchange(client, "editOffer", request, EditOfferResponse)
    assert again.response_code == "302"


async def test_get_form_and_update_form(client: SimClient) -> None:
    card = await enrol(client)
    update = UpdateFormRequest(
        identifier_request=card_key(card),
        form_id="100",
        form_answered_request=(FormAnsweredRequest(question_id="2", answer="CHAT"),),
    )
    await exchange_ok(client, "updateForm", update, UpdateFormResponse)
    request = GetFormRequest(identifier_request=card_key(card), form_id="100")
    answer = await exchange_ok(client, "getForm", request, GetFormResponse)
    assert answer.form_id == "100"
    assert answer.form_answered_response is not None
    answers = {q.question_id: q.answer for q in answer.form_answered_response}
    assert answers == {"1": None, "2": "CHAT", "3": None}
    assert all(q.label for q in answer.form_answered_response)


async def test_get_entities_and_parents(client: SimClient) -> None:
    everything = await exchange_ok(client, "getEntities", GetEntitiesRequest(), GetEntitiesResponse)
    assert everything.entity_response is not None
    ids = [e.entity_identifier for e in everything.entity_response]
    assert ids[0] == "000001" and "123456" in ids and "666666" in ids
    north = await exchange_ok(
        client,
        "getEntities",
        GetEntitiesRequest(entity_request=EntityRequest(entity_identifier="100001")),
        GetEntitiesResponse,
    )
    assert north.entity_response is not None
    assert {e.entity_identifier for e in north.entity_response} == {"123456", "111111"}
    parents = await exchange_ok(
        client,
        "getEntityParents",
        GetEntityParentsRequest(entity_request=STORE),
        GetEntityParentsResponse,
    )
    assert parents.entity_response is not None
    assert [e.entity_identifier for e in parents.entity_response] == ["100001", "000001"]
    assert parents.entity_response[0].parent_entity_identifier == "000001"


# -------------------------------------------------------------------- WS Transaction


async def test_send_then_valid_transaction(client: SimClient) -> None:
    card = await enrol(client)
    sent = await exchange_ok(
        client,
        "sendTransaction",
        SendTransactionRequest(
            identifier_request=card_key(card), receipt_request=a_receipt("R1", 42.5)
        ),
        SendTransactionResponse,
    )
    transaction = sent.transaction_response
    assert transaction is not None and transaction.status == "SENT"
    assert transaction.transaction_id is not None
    assert (transaction.receipt_number, transaction.amount, transaction.points) == ("R1", 42.5, 42)
    assert transaction.entity_response is not None
    assert transaction.entity_response.entity_identifier == "123456"
    valid = await exchange_ok(
        client,
        "validTransaction",
        ValidTransactionRequest(
            identifier_request=card_key(card), transaction_id=transaction.transaction_id
        ),
        ValidTransactionResponse,
    )
    assert valid.transaction_response is not None
    assert valid.transaction_response.status == "VALIDATED"
    accounts = valid.transaction_response.account_response
    assert accounts is not None
    assert {a.name: a.value for a in accounts} == {"point": 42, "visites": 1}


async def test_send_and_valid_transaction_with_lines(client: SimClient) -> None:
    card = await enrol(client)
    receipt = ReceiptRequest(
        receipt_number="R2",
        receipt_date=dt.datetime(2025, 3, 1, 9, 0, 0),
        entity_request=STORE,
        details_request=(
            DetailsRequest(line_number=1, product_code="3017620422003", quantity=2, unit_price=3.5),
            DetailsRequest(line_number=2, label="PAIN", amount=1.2),
        ),
    )
    answer = await exchange_ok(
        client,
        "sendAndValidTransaction",
        SendAndValidTransactionRequest(identifier_request=card_key(card), receipt_request=receipt),
        SendAndValidTransactionResponse,
    )
    transaction = answer.transaction_response
    assert transaction is not None and transaction.status == "VALIDATED"
    assert transaction.amount == 8.2 and transaction.points == 8
    assert transaction.receipt_date == dt.datetime(2025, 3, 1, 9, 0, 0)


async def test_send_and_valid_full_transaction_creates_the_person(client: SimClient) -> None:
    request = SendAndValidFullTransactionRequest(
        identifier_request=web_key("till@example.fr"),
        full_person_request=FullPersonRequest(
            person_profil_request=profile(last="MARTIN", email="till@example.fr"),
            subscription_request=(SubscriptionRequest(id=1, activate=True),),
        ),
        receipt_request=a_receipt("R3", 10.0),
    )
    answer = await exchange_ok(
        client, "sendAndValidFullTransaction", request, SendAndValidFullTransactionResponse
    )
    assert answer.transaction_response is not None
    assert answer.transaction_response.status == "VALIDATED"
    person = client.sim.backend.person_by_identifier(10, "till@example.fr")
    assert person is not None and person.last_name == "MARTIN" and person.points == 10


async def test_verify_transaction(client: SimClient) -> None:
    card = await enrol(client)
    unknown = await exchange_ok(
        client,
        "verifyTransaction",
        VerifyTransactionRequest(
            identifier_request=card_key(card), receipt_request=a_receipt("R4", 5)
        ),
        VerifyTransactionResponse,
    )
    assert unknown.transaction_response is None
    await exchange_ok(
        client,
        "sendTransaction",
        SendTransactionRequest(
            identifier_request=card_key(card), receipt_request=a_receipt("R4", 5)
        ),
        SendTransactionResponse,
    )
    known = await exchange_ok(
        client,
        "verifyTransaction",
        VerifyTransactionRequest(
            identifier_request=card_key(card),
            receipt_request=ReceiptRequest(receipt_number="R4", entity_request=STORE),
        ),
        VerifyTransactionResponse,
    )
    assert known.transaction_response is not None
    assert known.transaction_response.status == "SENT"


async def test_cancel_transactions_not_validated(client: SimClient) -> None:
    card = await enrol(client)
    for number in ("R5", "R6"):
        await exchange_ok(
            client,
            "sendTransaction",
            SendTransactionRequest(
                identifier_request=card_key(card), receipt_request=a_receipt(number, 20)
            ),
            SendTransactionResponse,
        )
    answer = await exchange_ok(
        client,
        "cancelTransactionsNotValidated",
        CancelTransactionsNotValidatedRequest(
            identifier_request=card_key(card), entity_request=STORE
        ),
        CancelTransactionsNotValidatedResponse,
    )
    assert answer.transaction_response is not None
    assert sorted((t.receipt_number, t.status) for t in answer.transaction_response) == [
        ("R5", "CANCELLED"),
        ("R6", "CANCELLED"),
    ]


async def test_send_simple_transaction(client: SimClient) -> None:
    card = await enrol(client)
    answer = await exchange_ok(
        client,
        "sendSimpleTransaction",
        SendSimpleTransactionRequest(
            identifier_request=card_key(card), receipt_request=a_receipt("R7", 99.99)
        ),
        SendSimpleTransactionResponse,
    )
    assert answer.transaction_response is not None
    assert (answer.transaction_response.status, answer.transaction_response.points) == (
        "VALIDATED",
        99,
    )


async def test_refund_transaction(client: SimClient) -> None:
    card = await enrol(client)
    await exchange_ok(
        client,
        "sendSimpleTransaction",
        SendSimpleTransactionRequest(
            identifier_request=card_key(card), receipt_request=a_receipt("R8", 30)
        ),
        SendSimpleTransactionResponse,
    )
    request = RefundTransactionRequest(
        identifier_request=card_key(card),
        receipt_request=ReceiptRequest(receipt_number="R8", entity_request=STORE),
    )
    answer = await exchange_ok(client, "refundTransaction", request, RefundTransactionResponse)
    assert answer.transaction_response is not None
    assert answer.transaction_response.status == "REFUNDED"
    accounts = answer.transaction_response.account_response
    assert accounts is not None and {a.name: a.value for a in accounts}["point"] == 0


async def test_get_last_transaction(client: SimClient) -> None:
    card = await enrol(client)
    request = GetLastTransactionRequest(identifier_request=card_key(card))
    none_yet = await exchange_ok(client, "getLastTransaction", request, GetLastTransactionResponse)
    assert none_yet.transaction_response is None
    for number in ("R9", "R10"):
        await exchange_ok(
            client,
            "sendTransaction",
            SendTransactionRequest(
                identifier_request=card_key(card), receipt_request=a_receipt(number, 1)
            ),
            SendTransactionResponse,
        )
    last = await exchange_ok(client, "getLastTransaction", request, GetLastTransactionResponse)
    assert last.transaction_response is not None
    assert last.transaction_response.receipt_number == "R10"


async def test_spending_an_offer_and_points_on_a_receipt(client: SimClient) -> None:
    card = await enrol(client)
    person = client.sim.backend.person_by_identifier(1, card)
    assert person is not None
    (offer_number,) = person.offers
    await exchange_ok(
        client,
        "sendSimpleTransaction",
        SendSimpleTransactionRequest(
            identifier_request=card_key(card), receipt_request=a_receipt("A1", 50)
        ),
        SendSimpleTransactionResponse,
    )
    spend = a_receipt(
        "A2",
        35.0,
        account_advantage_request=(
            AccountAdvantageRequest(offer_number=offer_number),
            AccountAdvantageRequest(name="point", value=20),
        ),
    )
    answer = await exchange_ok(
        client,
        "sendAndValidTransaction",
        SendAndValidTransactionRequest(identifier_request=card_key(card), receipt_request=spend),
        SendAndValidTransactionResponse,
    )
    assert answer.transaction_response is not None
    accounts = answer.transaction_response.account_response
    assert accounts is not None and {a.name: a.value for a in accounts}["point"] == 50 + 35 - 20
    assert person.offers[offer_number].used is True


# ------------------------------------------------------- every operation, any request

OPERATIONS = sorted(ROUTES)


def test_every_operation_is_exchanged_with_the_models_above() -> None:
    assert len(OPERATIONS) == 29
    source = pathlib.Path(__file__).read_text(encoding="utf-8")
    missing = [op for op in OPERATIONS if not re.search(rf'client,\s*"{op}"', source)]
    assert missing == []


def _classes(operation: str) -> tuple[type[Model], type[Model]]:
    import wsone_async.models as m

    stem = operation[0].upper() + operation[1:]
    return getattr(m, f"{stem}Request"), getattr(m, f"{stem}Response")


@pytest.mark.parametrize("operation", OPERATIONS)
@settings(
    max_examples=25,
    deadline=None,
    # One simulator serves every example on purpose: state accumulates, as in real use.
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
async def test_any_valid_request_gets_an_answer_the_client_decodes(
    client: SimClient, operation: str, data: st.DataObject
) -> None:
    request_cls, response_cls = _classes(operation)
    request = data.draw(models(request_cls))
    status, body = await client.raw(operation, json.dumps(to_wire(request)).encode())
    assert status == 200
    answer = json.loads(body)
    decoded = from_wire(response_cls, answer)  # raises if the client cannot read it
    assert isinstance(decoded.response_code, str)  # type: ignore[attr-defined]
    assert client.sim.backend.shared_identifiers() == []


async def test_the_client_takes_the_vendors_shapes_from_the_simulator(
    wsone_client: WsOneClient, wsone_simulator: WsOneSimulator
) -> None:
    # getFullPerson answers without a top-level envelope, createIdentifier with a null
    # NewIdentifierResponse, as the vendor's examples: the client takes both as successes.
    await wsone_client.create_person(
        CreatePersonRequest(
            new_identifier_request=NewIdentifierRequest(
                identifier_type=IdentifierType.WEB_ACCOUNT, identifier_value=EMAIL
            ),
            person_profil_request=profile(),
        )
    )
    created = await wsone_client.create_identifier(
        CreateIdentifierRequest(
            identifier_request=web_key(), new_identifier_type=IdentifierType.CARD
        )
    )
    assert created.new_identifier_response is None
    full = await wsone_client.get_full_person(
        GetFullPersonRequest(
            identifier_request=web_key(), date=dt.datetime.now().replace(microsecond=0)
        )
    )
    assert full.response_code is None
    assert full.person_response is not None and full.person_response.person_response is not None
    assert full.person_response.person_response.last_name == "DUPOND"
    identifiers = full.person_response.identifier_response or ()
    assert [i.identifier_type for i in identifiers] == [
        IdentifierType.WEB_ACCOUNT,
        IdentifierType.CARD,
    ]
    assert wsone_simulator.stats.codes == {OK: 3}
