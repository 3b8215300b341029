"""Requests the tests send, built the same way everywhere."""

from __future__ import annotations

import copy
import datetime as dt
from collections.abc import Generator
from typing import Any

from tests._support.data import example
from wsone_async import WsOneClient
from wsone_async.models import (
    ContactsRequest,
    CreatePersonAndIdentifierRequest,
    CreatePersonRequest,
    EmailRequest,
    EntityRequest,
    GetPersonRequest,
    IdentifierRequest,
    IdentifierType,
    NewIdentifierRequest,
    PersonProfilRequest,
    PersonRequest,
    ReceiptRequest,
    SendTransactionRequest,
    Title,
)

LILLE = "123456"  # a store of the simulator's default tree
CARD_NUMBER = "1234567891011"


def card_key(number: str = CARD_NUMBER) -> IdentifierRequest:
    return IdentifierRequest(identifier_type=IdentifierType.CARD, identifier_value=number)


def web_key(email: str) -> IdentifierRequest:
    return IdentifierRequest(identifier_type=IdentifierType.WEB_ACCOUNT, identifier_value=email)


def store(entity_id: str = LILLE) -> EntityRequest:
    return EntityRequest(entity_identifier=entity_id)


def read_request(number: str = CARD_NUMBER) -> GetPersonRequest:
    """A getPerson by card: the read the client tests send."""
    return GetPersonRequest(identifier_request=card_key(number))


def write_request(
    email: str | None = "jean@example.fr", profile: PersonProfilRequest | None = None
) -> CreatePersonRequest:
    """A createPerson for a web account: the write the client tests send."""
    return CreatePersonRequest(
        new_identifier_request=NewIdentifierRequest(
            identifier_type=IdentifierType.WEB_ACCOUNT, identifier_value=email
        ),
        person_profil_request=profile,
    )


def send_request() -> SendTransactionRequest:
    """A sendTransaction of receipt T-42 by card: the transaction the client tests send."""
    return SendTransactionRequest(
        identifier_request=card_key("2000000000015"),
        receipt_request=ReceiptRequest(
            receipt_number="T-42", amount=30.0, entity_request=store("1")
        ),
    )


def profile(
    *, last: str = "DUPOND", first: str = "JEAN", email: str | None = None, home: str = LILLE
) -> PersonProfilRequest:
    """A valid profile, with an email contact when ``email`` is given."""
    contacts = None
    if email is not None:
        contacts = ContactsRequest(
            email_request=EmailRequest(
                email_value=email, allow_company_solicitation=True, allow_trusted_solicitation=False
            )
        )
    return PersonProfilRequest(
        person_request=PersonRequest(
            first_name=first, last_name=last, birth_date=dt.date(1990, 1, 1), title=Title.MR
        ),
        contacts_request=contacts,
        entity_request=store(home),
    )


async def enrol(client: WsOneClient, email: str, **person: str) -> IdentifierRequest:
    """Create a person with a web account and a generated card; returns the card's key."""
    answer = await client.create_person_and_identifier(
        CreatePersonAndIdentifierRequest(
            new_identifier_request=NewIdentifierRequest(
                identifier_type=IdentifierType.WEB_ACCOUNT, identifier_value=email
            ),
            person_profil_request=profile(email=email, **person),
            new_identifier_type=IdentifierType.CARD,
            source="TEST",
        )
    )
    new = answer.new_identifier_response
    assert new is not None and new.identifier_value is not None
    return card_key(new.identifier_value)


def a_receipt(number: str, amount: float, **extra: Any) -> ReceiptRequest:
    """A receipt of the Lille store, dated now (offers are checked at the receipt's date)."""
    return ReceiptRequest(
        receipt_number=number,
        receipt_date=dt.datetime.now().replace(microsecond=0),
        amount=amount,
        entity_request=store(),
        **extra,
    )


def full_person_answer(offers: int) -> dict[str, Any]:
    """The vendor's getFullPerson answer with ``offers`` offers (its one offer, renumbered)."""
    body = example("getFullPerson_response")
    template = body["OffersResponse"]["GetOffersResponses"][0]
    items = []
    for i in range(offers):
        offer = copy.deepcopy(template)
        offer["offerId"] = str(57384 + i)
        items.append(offer)
    body["OffersResponse"]["GetOffersResponses"] = items
    return body


def run_steps(steps: Generator[None, None, Any]) -> tuple[Any, int]:
    """Run a generator of steps (the codec's decoding or parsing in steps) to its end: its
    value, and how many times it yielded."""
    count = 0
    while True:
        try:
            next(steps)
        except StopIteration as done:
            return done.value, count
        count += 1
