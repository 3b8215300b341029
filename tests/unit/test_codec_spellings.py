"""Tolerant decoding, spelling by spelling: what each kind of field accepts, and refuses.

WsOne's examples show ids as text or numbers and one identifier type as the text "10";
whatever spelling decodes is written back as it came (``wire_extra``), and whatever does not
fit is refused with the path of the field.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import attrs
import pytest

from wsone_async import ResponseDecodeError, from_wire, to_wire
from wsone_async.models import (
    AccountResponse,
    AddressRequest,
    EmailRequest,
    GetFullPersonRequest,
    IdentifierResponse,
    IdentifierType,
    Model,
    OfferResponse,
    PersonRequest,
    SubscriptionRequest,
    SubscriptionResponse,
)

# (model, wire key, attribute, body value, decoded value)
ACCEPTED: list[tuple[type[Model], str, str, Any, Any]] = [
    (SubscriptionRequest, "id", "id", "30", 30),
    (SubscriptionRequest, "id", "id", 30.0, 30),
    (SubscriptionRequest, "id", "id", "-7", -7),
    (OfferResponse, "globalMinPrice", "global_min_price", 30, 30.0),
    (OfferResponse, "globalMinPrice", "global_min_price", "30.5", 30.5),
    (AccountResponse, "value", "value", "17", 17),
    (AccountResponse, "value", "value", "17.5", 17.5),
    (AccountResponse, "value", "value", 17.5, 17.5),
    (SubscriptionRequest, "id", "id", 2**64 - 1, 2**64 - 1),  # as big as JSON parsers give
    (SubscriptionResponse, "activate", "activate", 1, True),
    (SubscriptionResponse, "activate", "activate", "False", False),
    (EmailRequest, "allowCompanySolicitation", "allow_company_solicitation", True, True),
    (EmailRequest, "allowCompanySolicitation", "allow_company_solicitation", "0", False),
    (PersonRequest, "birthDate", "birth_date", "2000-01-31", dt.date(2000, 1, 31)),
    (PersonRequest, "birthDate", "birth_date", " 31/01/2000 ", dt.date(2000, 1, 31)),
    (GetFullPersonRequest, "date", "date", "2025-09-26T12:00:00", dt.datetime(2025, 9, 26, 12)),
    (GetFullPersonRequest, "date", "date", "26/09/2025", dt.datetime(2025, 9, 26)),
    (
        IdentifierResponse,
        "activationDate",
        "activation_date",
        "24/09/2025 11:20:00",
        dt.datetime(2025, 9, 24, 11, 20),
    ),
    (
        IdentifierResponse,
        "activationDate",
        "activation_date",
        "2025-09-24T11:20:00",
        dt.datetime(2025, 9, 24, 11, 20),
    ),
    (IdentifierResponse, "identifierType", "identifier_type", "10", IdentifierType.WEB_ACCOUNT),
    (IdentifierResponse, "identifierType", "identifier_type", 99, 99),
]


@pytest.mark.parametrize(("cls", "key", "attribute", "value", "decoded"), ACCEPTED)
def test_accepted_spellings_decode_and_are_written_back_as_they_came(
    cls: type[Model], key: str, attribute: str, value: Any, decoded: Any
) -> None:
    body = {key: value}
    model = from_wire(cls, body)
    assert getattr(model, attribute) == decoded
    assert to_wire(model) == body


REFUSED: list[tuple[type[Model], str, Any]] = [
    (SubscriptionRequest, "id", "1e3"),
    (SubscriptionRequest, "id", True),
    (SubscriptionRequest, "id", "٣"),  # an Arabic-Indic digit: text, but not ASCII
    (OfferResponse, "globalMinPrice", "nan"),
    (OfferResponse, "globalMinPrice", 10**400),
    (OfferResponse, "globalMinPrice", False),
    (AccountResponse, "value", True),
    (AccountResponse, "value", "lots"),
    (SubscriptionResponse, "activate", 2),
    (SubscriptionResponse, "activate", "yes please"),
    (EmailRequest, "allowCompanySolicitation", 2),
    (PersonRequest, "birthDate", "31/02/2000"),
    (PersonRequest, "birthDate", 20000131),
    (GetFullPersonRequest, "date", "yesterday"),
    (IdentifierResponse, "activationDate", "2025-13-01 00:00:00.000"),
    (IdentifierResponse, "identifierType", "ten"),
    (AddressRequest, "address1", {"street": "x"}),
]


@pytest.mark.parametrize(("cls", "key", "value"), REFUSED)
def test_refused_spellings_name_their_path(cls: type[Model], key: str, value: Any) -> None:
    with pytest.raises(ResponseDecodeError) as info:
        from_wire(cls, {key: value})
    assert info.value.path == f"$.{key}"
    assert info.value.__context__ is None  # no hidden parsing error quoting the value


@attrs.frozen(kw_only=True, slots=False, repr=False)
class _Tagged(Model):
    """Test-only: the codec is generic, and WsOne's models have no list of plain values."""

    tags: Sequence[str] | None = None
    counts: Sequence[int] | None = None


def test_lists_of_plain_values_keep_their_spelling() -> None:
    body = {"tags": ["a", 1], "counts": [1, "2"]}
    model = from_wire(_Tagged, body)
    assert model.tags == ("a", "1")
    assert model.counts == (1, 2)
    assert to_wire(model) == body
    assert to_wire(_Tagged(tags=["x"], counts=[3])) == {"tags": ["x"], "counts": [3]}


@pytest.mark.parametrize(
    ("body", "path"),
    [
        ({"tags": ["a", {"b": 1}]}, "$.tags[1]"),
        ({"counts": "1,2"}, "$.counts"),
        ({"counts": [1, 2, "three"]}, "$.counts[2]"),
    ],
)
def test_a_bad_list_item_is_named_by_its_index(body: dict[str, Any], path: str) -> None:
    with pytest.raises(ResponseDecodeError) as info:
        from_wire(_Tagged, body)
    assert info.value.path == path


def test_the_public_functions_refuse_what_is_not_a_model() -> None:
    with pytest.raises(TypeError, match="model class"):
        from_wire(dict, {})  # type: ignore[type-var]
    with pytest.raises(TypeError, match="model"):
        to_wire({"a": 1})  # type: ignore[arg-type]


def test_several_problems_are_counted_in_the_message() -> None:
    with pytest.raises(ResponseDecodeError, match=r"and 1 more"):
        from_wire(PersonRequest, {"birthDate": "x", "title": "y"})
