"""The vendor's examples are the contract: they decode to Python types and encode back key for key."""

from __future__ import annotations

import datetime as dt

import pytest

from tests._support.data import example
from wsone_async import from_wire, to_wire
from wsone_async.models import (
    CreateIdentifierRequest,
    CreateIdentifierResponse,
    CreatePersonRequest,
    CreatePersonResponse,
    GetFullPersonRequest,
    GetFullPersonResponse,
    IdentifierType,
    Model,
    Title,
)

EXAMPLES = [
    ("createPerson_request", CreatePersonRequest),
    ("createPerson_response", CreatePersonResponse),
    ("createIdentifier_request", CreateIdentifierRequest),
    ("createIdentifier_response", CreateIdentifierResponse),
    ("getFullPerson_request", GetFullPersonRequest),
    ("getFullPerson_response", GetFullPersonResponse),
]


@pytest.mark.parametrize(("name", "cls"), EXAMPLES)
def test_vendor_example_round_trips_key_for_key(name: str, cls: type[Model]) -> None:
    body = example(name)
    assert to_wire(from_wire(cls, body)) == body


def test_create_person_example_decodes_to_python_types() -> None:
    request = from_wire(CreatePersonRequest, example("createPerson_request"))
    assert request.new_identifier_request is not None
    assert request.new_identifier_request.identifier_type is IdentifierType.CARD
    profile = request.person_profil_request
    assert profile is not None and profile.person_request is not None
    assert profile.person_request.birth_date == dt.date(2000, 1, 1)
    assert profile.person_request.title is Title.MR
    assert profile.contacts_request is not None
    address = profile.contacts_request.address_request
    assert address is not None
    assert address.allow_company_solicitation is True
    assert address.allow_trusted_solicitation is False
    assert address.address3_num == 13
    assert address.zip_code == "59000"
    assert request.subscription_request is not None
    assert [s.id for s in request.subscription_request] == [1, 2]
    assert all(s.activate is True for s in request.subscription_request)
    assert request.source == "API-DOG"


def test_create_identifier_accepts_text_identifier_type_and_keeps_its_spelling() -> None:
    body = example("createIdentifier_request")
    assert body["IdentifierRequest"]["identifierType"] == "10"
    request = from_wire(CreateIdentifierRequest, body)
    assert request.identifier_request is not None
    assert request.identifier_request.identifier_type is IdentifierType.WEB_ACCOUNT
    assert request.new_identifier_type is IdentifierType.CARD
    assert to_wire(request)["IdentifierRequest"]["identifierType"] == "10"


def test_a_changed_field_is_written_canonically_despite_the_original_spelling() -> None:
    import attrs

    request = from_wire(CreateIdentifierRequest, example("createIdentifier_request"))
    assert request.identifier_request is not None
    changed = attrs.evolve(request.identifier_request, identifier_type=IdentifierType.CARD)
    assert to_wire(changed)["identifierType"] == 1


def test_get_full_person_request_date_is_a_datetime() -> None:
    request = from_wire(GetFullPersonRequest, example("getFullPerson_request"))
    assert request.date == dt.datetime(2025, 9, 26, 12, 0, 0)
    assert request.filter == 0


def test_get_full_person_response_decodes_without_envelope() -> None:
    response = from_wire(GetFullPersonResponse, example("getFullPerson_response"))
    assert response.response_code is None
    person = response.person_response
    assert person is not None and person.person_response is not None
    assert person.person_response.groupe_id == "1559379"
    assert person.person_response.birth_date == dt.date(2000, 1, 1)
    assert person.person_response.title is Title.MR
    assert person.identifier_response is not None
    identifier = person.identifier_response[0]
    assert identifier.activation_date == dt.datetime(2025, 9, 24, 11, 20)
    assert identifier.identifier_type is IdentifierType.CARD
    assert person.subscription_response is not None
    subscription = person.subscription_response[0]
    assert (subscription.id, subscription.label, subscription.activate) == ("30", "WALLET", True)
    assert subscription.updated_at is None
    assert subscription.wire_extra == {"updatedAt": None}  # the explicit null is kept
    assert person.contacts_response is not None
    email = person.contacts_response.email_response
    assert email is not None and email.allow_company_solicitation is True
    assert person.info_person_response == ()
    assert response.offers_response is not None
    assert response.offers_response.get_offers_responses is not None
    offer = response.offers_response.get_offers_responses[0]
    assert offer.start_date == dt.datetime(2025, 9, 24, 0, 0, 0)
    assert offer.end_date == dt.datetime(2025, 11, 23, 23, 59, 59)
    assert offer.global_min_price == 30.0
    assert offer.used is False
    assert offer.offer_description == "5€ de réduction dès 30€"
    accounts = response.accounts_response
    assert accounts is not None
    assert accounts.response_code == "000"  # nested envelopes stay available
    assert accounts.account_response is not None
    assert [(a.name, a.value, a.unit) for a in accounts.account_response] == [
        ("visites", 1, "visites"),
        ("point", 17, "pts"),
    ]


def test_response_envelope_with_null_block_round_trips() -> None:
    response = from_wire(CreatePersonResponse, example("createPerson_response"))
    assert response.response_code == "000"
    assert response.new_identifier_response is None
    assert to_wire(response)["NewIdentifierResponse"] is None


def test_unknown_keys_are_kept_and_reachable() -> None:
    body = example("getFullPerson_response")
    body["PersonResponse"]["PersonResponse"]["loyaltyTier"] = {"level": "GOLD"}
    body["brandNewTopLevel"] = [1, 2]
    response = from_wire(GetFullPersonResponse, body)
    assert response.wire_extra["brandNewTopLevel"] == [1, 2]
    assert response.person_response is not None
    assert response.person_response.person_response is not None
    assert response.person_response.person_response.wire_extra["loyaltyTier"] == {"level": "GOLD"}
    assert to_wire(response) == body


def test_ids_accepted_as_text_or_number() -> None:
    from wsone_async.models import SubscriptionRequest, SubscriptionResponse

    assert from_wire(SubscriptionRequest, {"id": "7"}).id == 7
    assert from_wire(SubscriptionResponse, {"id": 30}).id == "30"
    assert to_wire(from_wire(SubscriptionResponse, {"id": 30})) == {"id": 30}
