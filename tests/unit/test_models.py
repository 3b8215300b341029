"""Models: immutable, checked at construction, personal data out of reprs, open enums."""

from __future__ import annotations

import datetime as dt

import attrs
import pytest

from wsone_async import from_wire, to_wire
from wsone_async.models import (
    AddressRequest,
    CellPhoneRequest,
    CreatePersonRequest,
    EmailRequest,
    GetFullPersonRequest,
    IdentifierRequest,
    IdentifierType,
    NewIdentifierRequest,
    PersonProfilRequest,
    PersonRequest,
    ReceiptRequest,
    SubscriptionRequest,
    Title,
)


def _person() -> CreatePersonRequest:
    return CreatePersonRequest(
        new_identifier_request=NewIdentifierRequest(
            identifier_type=IdentifierType.WEB_ACCOUNT, identifier_value="jean.dupond@example.fr"
        ),
        person_profil_request=PersonProfilRequest(
            person_request=PersonRequest(
                first_name="Jean",
                last_name="Dupond",
                birth_date=dt.date(1980, 5, 17),
                title=Title.MR,
            ),
        ),
        subscription_request=[SubscriptionRequest(id=30, activate=True)],
    )


def test_models_are_frozen() -> None:
    request = _person()
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        request.source = "x"  # type: ignore[misc]


def test_lists_become_tuples() -> None:
    assert _person().subscription_request == (SubscriptionRequest(id=30, activate=True),)


def test_repr_hides_personal_data() -> None:
    text = repr(_person())
    for secret in ("Jean", "Dupond", "jean.dupond@example.fr", "1980", "17/05"):
        assert secret not in text
    assert "<redacted>" in text
    assert "Title.MR" in text  # what is not personal stays readable


def test_repr_hides_the_vendors_text() -> None:
    from wsone_async.models import CreatePersonResponse

    # Free text may quote any customer: no pattern can tell "DUPOND" from a word.
    response = CreatePersonResponse(response_code="101", infos="DUPOND Jean already exists")
    assert repr(response) == "CreatePersonResponse(response_code='101', infos=<redacted>)"
    assert response.infos == "DUPOND Jean already exists"


@pytest.mark.parametrize(
    ("build", "field"),
    [
        (lambda: PersonRequest(first_name=12), "PersonRequest.first_name"),
        (lambda: PersonRequest(birth_date=dt.datetime(2000, 1, 1)), "PersonRequest.birth_date"),
        (lambda: PersonRequest(birth_date=dt.date(1850, 1, 1)), "PersonRequest.birth_date"),
        (lambda: EmailRequest(email_value="not-an-email"), "EmailRequest.email_value"),
        (lambda: CellPhoneRequest(number="06-ABC"), "CellPhoneRequest.number"),
        (lambda: CellPhoneRequest(dialing_code="+3333333"), "CellPhoneRequest.dialing_code"),
        (
            lambda: AddressRequest(allow_company_solicitation=1),
            "AddressRequest.allow_company_solicitation",
        ),
        (lambda: AddressRequest(address3_num=True), "AddressRequest.address3_num"),
        (
            lambda: IdentifierRequest(identifier_type=IdentifierType.CARD, identifier_value="  "),
            "IdentifierRequest.identifier_value",
        ),
        (
            lambda: IdentifierRequest(identifier_type="1", identifier_value="x"),
            "IdentifierRequest.identifier_type",
        ),
        (
            lambda: GetFullPersonRequest(date=dt.datetime(2025, 1, 1, tzinfo=dt.UTC)),
            "GetFullPersonRequest.date",
        ),
        (lambda: ReceiptRequest(amount=float("nan")), "ReceiptRequest.amount"),
        (lambda: ReceiptRequest(details_request=["line"]), "ReceiptRequest.details_request[0]"),
        (
            lambda: CreatePersonRequest(subscription_request="30"),
            "CreatePersonRequest.subscription_request",
        ),
        (lambda: SubscriptionRequest(id=2**64), "SubscriptionRequest.id"),
    ],
)
def test_bad_values_are_refused_with_the_field_named(build: object, field: str) -> None:
    with pytest.raises(ValueError, match=field.replace("[", r"\[").replace("]", r"\]")) as info:
        build()  # type: ignore[operator]
    assert "ABC" not in str(info.value) and "not-an-email" not in str(info.value)


def test_required_fields_are_required() -> None:
    with pytest.raises(TypeError):
        IdentifierRequest(identifier_type=IdentifierType.CARD)  # type: ignore[call-arg]
    with pytest.raises(ValueError, match="identifier_value is required"):
        IdentifierRequest(identifier_type=IdentifierType.CARD, identifier_value=None)  # type: ignore[arg-type]


def test_plain_ints_become_enum_members() -> None:
    request = IdentifierRequest(identifier_type=10, identifier_value="a@b.fr")  # type: ignore[arg-type]
    assert request.identifier_type is IdentifierType.WEB_ACCOUNT


def test_open_enums_keep_unknown_codes() -> None:
    unknown = IdentifierType(42)
    assert unknown == 42 and not unknown.is_known and IdentifierType.CARD.is_known
    assert unknown.name == "UNKNOWN"
    decoded = from_wire(IdentifierRequest, {"identifierType": 42, "identifierValue": "x"})
    assert decoded.identifier_type == 42
    assert to_wire(decoded) == {"identifierType": 42, "identifierValue": "x"}
    assert IdentifierType("10") is IdentifierType.WEB_ACCOUNT


def test_wire_extra_sends_unmodelled_keys() -> None:
    block = PersonRequest(first_name="Jean", wire_extra={"middleName": "Paul"})
    assert to_wire(block) == {"firstName": "Jean", "middleName": "Paul"}
    assert "Paul" not in repr(block) and "middleName" in repr(block)
    with pytest.raises(ValueError, match="wire_extra"):
        PersonRequest(wire_extra={1: "x"})  # type: ignore[dict-item]


def test_a_key_a_server_chose_is_not_shown_as_is_in_a_repr() -> None:
    # An answer's unknown keys are the server's choice: an email address can be one. The
    # debug log of the answer hides them; the repr of the model it decodes to must too.
    block = from_wire(PersonRequest, {"middleName": "Paul", "jean@example.fr": {"tier": 1}})
    assert block.wire_extra.keys() == {"middleName", "jean@example.fr"}
    text = repr(block)
    assert "middleName" in text and "jean" not in text and "@" not in text, text


def test_none_fields_are_left_out() -> None:
    assert to_wire(PersonRequest(first_name="Jean")) == {"firstName": "Jean"}


def test_models_compare_and_hash_by_value() -> None:
    assert _person() == _person()
    assert hash(SubscriptionRequest(id=1)) == hash(SubscriptionRequest(id=1))


def test_datetime_formats_on_the_wire() -> None:
    from wsone_async.models import IdentifierResponse

    request = GetFullPersonRequest(date=dt.datetime(2025, 9, 26, 12, 0, 5, 999999))
    assert to_wire(request) == {"date": "26/09/2025 12:00:05"}  # whole seconds on the wire
    stamp = IdentifierResponse(activation_date=dt.datetime(2025, 9, 24, 11, 20, 0, 123456))
    assert to_wire(stamp) == {"activationDate": "2025-09-24 11:20:00.123"}
    assert to_wire(PersonRequest(birth_date=dt.date(1905, 3, 4))) == {"birthDate": "04/03/1905"}


def test_tolerant_decoding_of_other_spellings() -> None:
    decoded = from_wire(PersonRequest, {"birthDate": "2000-01-31", "title": "1"})
    assert decoded.birth_date == dt.date(2000, 1, 31)
    assert decoded.title is Title.MR
    assert to_wire(decoded) == {"birthDate": "2000-01-31", "title": "1"}
    flags = from_wire(
        EmailRequest, {"allowCompanySolicitation": True, "allowTrustedSolicitation": "0"}
    )
    assert flags.allow_company_solicitation is True and flags.allow_trusted_solicitation is False
