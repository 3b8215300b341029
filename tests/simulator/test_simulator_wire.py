"""The simulator and the client's models agree on the wire, for all 29 operations.

The simulator reads and writes JSON by hand, the client through its codec: here requests
are built with the client's models (``to_wire``) and every answer is decoded with the
client's response models (``from_wire``), so a disagreement between the two hand-written
sides fails a test: any valid request of every operation, and the shapes the vendor
documents. Each operation's successful answers are decoded by the client itself in
``tests/e2e/test_integration.py``, not again here.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import TypeVar

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests._support.builders import card_key, web_key
from tests._support.sim import OK, SimClient
from tests._support.strategies import models
from wsone_async import WsOneClient, from_wire, to_wire
from wsone_async.models import (
    CellPhoneRequest,
    ContactsRequest,
    CreateIdentifierRequest,
    CreateIdentifierResponse,
    CreatePersonAndIdentifierRequest,
    CreatePersonAndIdentifierResponse,
    CreatePersonRequest,
    CreatePersonResponse,
    EmailRequest,
    EntityRequest,
    GetFullPersonRequest,
    GetFullPersonResponse,
    GetPersonRequest,
    GetPersonResponse,
    IdentifierType,
    Model,
    NewIdentifierRequest,
    PersonProfilRequest,
    PersonRequest,
    SubscriptionRequest,
    Title,
)
from wsone_async.testing import WsOneSimulator, is_valid_ean13
from wsone_async.testing._routes import ROUTES

R = TypeVar("R", bound=Model)

STORE = EntityRequest(entity_identifier="123456")
EMAIL = "jean.dupond@example.fr"


async def exchange(client: SimClient, operation: str, request: Model, response: type[R]) -> R:
    """Send a model, decode the answer with the client's response model."""
    answer = await client.call(operation, to_wire(request), enveloped=operation != "getFullPerson")
    return from_wire(response, answer)


async def exchange_ok(client: SimClient, operation: str, request: Model, response: type[R]) -> R:
    decoded = await exchange(client, operation, request, response)
    assert decoded.response_code == OK, decoded  # type: ignore[attr-defined]
    return decoded


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


# ------------------------------------------------------------------------ WS Person


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
        identifier_request=web_key(EMAIL), new_identifier_type=IdentifierType.CARD
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


# ------------------------------------------------------- every operation, any request

OPERATIONS = sorted(ROUTES)


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
            identifier_request=web_key(EMAIL), new_identifier_type=IdentifierType.CARD
        )
    )
    assert created.new_identifier_response is None
    full = await wsone_client.get_full_person(
        GetFullPersonRequest(
            identifier_request=web_key(EMAIL), date=dt.datetime.now().replace(microsecond=0)
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
