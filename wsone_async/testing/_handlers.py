"""One handler per WsOne operation: read the request dict by hand, write the answer by hand.

Deliberately independent of the client's models and codec: the simulator reads and writes
WsOne's JSON itself, so a codec bug cannot hide by being on both sides of a test.

Reading is strict about types and formats, the way a typed server is: numbers where numbers
are due (numeric text is accepted for integer codes such as ``identifierType``, as the
vendor's own example sends ``"10"``), ``dd/MM/yyyy`` dates, ``dd/MM/yyyy HH:mm:ss``
datetimes, 0/1 or boolean flags. Ids (identifier values, store ids, receipt numbers...)
may arrive as text or integers. ``null`` is the same as an absent key, and unknown keys are
ignored. A missing required field is answered with code 002, a bad value with 003; the
``infos`` text names the field, never its value (it may be personal data).
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Callable
from typing import Any, Final

import orjson

from wsone_async.testing._backend import (
    Account,
    Address,
    Advantage,
    CellPhone,
    Email,
    Entity,
    FullPerson,
    IdentifierSpec,
    Person,
    PersonOffer,
    Profile,
    Receipt,
    SearchCriteria,
    Transaction,
    WsOneBackend,
    WsOneFailure,
)
from wsone_async.testing._codes import SimulatorCode

__all__ = [
    "HANDLERS",
    "WITHOUT_ENVELOPE",
    "Fields",
    "Handler",
    "answer",
    "envelope",
    "read_new_identifier",
    "read_profile",
    "read_subscriptions",
]

_C = SimulatorCode

#: A handler: the backend and the request's JSON object -> the answer's blocks.
Handler = Callable[[WsOneBackend, dict[str, Any]], dict[str, Any]]

_SUCCESS_CODE: Final = str(_C.SUCCESS)
_SUCCESS_INFOS: Final = _C.SUCCESS.meaning
_INT_TEXT: Final = re.compile(r"[+-]?\d{1,18}")
_NUMBER_TEXT: Final = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
_DATETIME: Final = re.compile(r"(\d{2})/(\d{2})/(\d{4}) (\d{2}):(\d{2}):(\d{2})")
_BOOL_TEXT: Final = {"true": True, "false": False, "1": True, "0": False}
_INT64: Final = 2**63
_HUGE: Final = 10**300


# ------------------------------------------------------------------------ envelope


def envelope(code: SimulatorCode | str, infos: str | None = None) -> dict[str, Any]:
    """The envelope alone: ``{"responseCode": code, "infos": infos}``."""
    if infos is None:
        infos = code.meaning if isinstance(code, SimulatorCode) else "Error"
    return {"responseCode": str(code), "infos": infos}


def answer(
    handler: Handler, backend: WsOneBackend, raw: bytes, *, enveloped: bool = True
) -> dict[str, Any]:
    """Run ``handler`` on a raw request body; always returns an answer, never raises.

    The answer is the envelope followed by the handler's blocks (the blocks alone when
    ``enveloped`` is false, as the vendor's getFullPerson answers), or the envelope of a
    functional failure (a body that is not a JSON object, a bad field, a business rule).
    """
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return envelope(_C.NOT_AN_OBJECT, "The body is not valid JSON")
    if not isinstance(data, dict):
        return envelope(_C.NOT_AN_OBJECT)
    try:
        blocks = handler(backend, data)
    except WsOneFailure as failure:
        return envelope(failure.code, failure.infos)
    if not enveloped:
        return blocks
    return {"responseCode": _SUCCESS_CODE, "infos": _SUCCESS_INFOS, **blocks}


# -------------------------------------------------------------------------- reading


def _missing(path: str) -> WsOneFailure:
    return WsOneFailure(_C.MISSING_FIELD, f"Missing required field {path}")


def _invalid(path: str, expected: str) -> WsOneFailure:
    return WsOneFailure(_C.INVALID_VALUE, f"Invalid value for {path}: expected {expected}")


class Fields:
    """A JSON object of a request, with typed readers that know the field's path.

    Each reader returns None for an absent or ``null`` key (or answers 002 when the field
    is required) and answers 003 for a value of the wrong type or format. The path is
    only spelled out for an error: reading a valid request builds no path text.
    """

    __slots__ = ("_at", "_parent", "data")

    def __init__(
        self, data: dict[str, Any], path: str = "", *, parent: Fields | None = None
    ) -> None:
        self.data = data
        self._parent = parent
        self._at = path

    @property
    def path(self) -> str:
        """Where this object is in the request, such as ``PersonProfilRequest.PersonRequest``."""
        if self._parent is None:
            return self._at
        return self._parent.where(self._at)

    def where(self, key: str) -> str:
        """The path of ``key`` in the request, such as ``IdentifierRequest.identifierValue``."""
        path = self.path
        return f"{path}.{key}" if path else key

    def block(self, key: str, *, required: bool = False) -> Fields | None:
        value = self.data.get(key)
        if value is None:
            if required:
                raise _missing(self.where(key))
            return None
        if type(value) is not dict:
            raise _invalid(self.where(key), "an object")
        return Fields(value, key, parent=self)

    def need_block(self, key: str) -> Fields:
        value = self.data.get(key)
        if value is None:
            raise _missing(self.where(key))
        if type(value) is not dict:
            raise _invalid(self.where(key), "an object")
        return Fields(value, key, parent=self)

    def blocks(self, key: str) -> list[Fields]:
        value = self.data.get(key)
        if value is None:
            return []
        if type(value) is not list:
            raise _invalid(self.where(key), "a list")
        found: list[Fields] = []
        for i, item in enumerate(value):
            if type(item) is not dict:
                where = f"{self.where(key)}[{i}]"
                raise _invalid(where, "an object")
            found.append(Fields(item, f"{key}[{i}]", parent=self))
        return found

    def text(self, key: str, *, required: bool = False) -> str | None:
        value = self.data.get(key)
        if type(value) is str:
            return value
        if value is None:
            if required:
                raise _missing(self.where(key))
            return None
        if type(value) is int:  # ids travel as numbers too
            return str(value)
        raise _invalid(self.where(key), "a string")

    def need_text(self, key: str) -> str:
        value = self.data.get(key)
        if value is None:
            raise _missing(self.where(key))
        if type(value) is int:  # ids travel as numbers too
            return str(value)
        if type(value) is not str:
            raise _invalid(self.where(key), "a string")
        if not value.strip():
            raise _invalid(self.where(key), "a non-blank string")
        return value

    def integer(self, key: str, *, required: bool = False) -> int | None:
        value = self.data.get(key)
        if type(value) is int and -_INT64 <= value < _INT64:
            return value
        if value is None:
            if required:
                raise _missing(self.where(key))
            return None
        if type(value) is str and _INT_TEXT.fullmatch(value.strip()):
            return int(value)
        raise _invalid(self.where(key), "an integer")

    def need_integer(self, key: str) -> int:
        value = self.integer(key, required=True)
        if value is None:  # pragma: no cover - integer(required=True) never answers None
            raise _missing(self.where(key))
        return value

    def number(self, key: str) -> float | None:
        value = self.data.get(key)
        if value is None:
            return None
        if type(value) is float or type(value) is int:
            number = float(value) if abs(value) < _HUGE else math.inf
        elif type(value) is str and _NUMBER_TEXT.fullmatch(value.strip()):
            number = float(value)
        else:
            raise _invalid(self.where(key), "a number")
        if not math.isfinite(number):
            raise _invalid(self.where(key), "a finite number")
        return number

    def boolean(self, key: str) -> bool | None:
        value = self.data.get(key)
        if value is None or type(value) is bool:
            return value
        if type(value) is int and value in (0, 1):
            return value == 1
        if type(value) is str and value.lower() in _BOOL_TEXT:
            return _BOOL_TEXT[value.lower()]
        raise _invalid(self.where(key), "a boolean or 0/1")

    def date(self, key: str) -> dt.date | None:
        value = self.data.get(key)
        if value is None:
            return None
        # dd/MM/yyyy, read by slicing (the shape checked first, as a regex would).
        if (
            type(value) is str
            and len(value) == 10
            and value[2] == "/"
            and value[5] == "/"
            and value.isascii()
            and (value[:2] + value[3:5] + value[6:]).isdigit()
        ):
            try:
                return dt.date(int(value[6:]), int(value[3:5]), int(value[:2]))
            except ValueError:
                pass
        raise _invalid(self.where(key), "a date 'dd/MM/yyyy'")

    def datetime(self, key: str) -> dt.datetime | None:
        value = self.data.get(key)
        if value is None:
            return None
        match = _DATETIME.fullmatch(value) if type(value) is str else None
        if match is not None:
            day, month, year, hour, minute, second = (int(g) for g in match.groups())
            try:
                return dt.datetime(year, month, day, hour, minute, second)
            except ValueError:
                pass
        raise _invalid(self.where(key), "a datetime 'dd/MM/yyyy HH:mm:ss'")


# ------------------------------------------------------------- reading WsOne blocks


def _identifier(body: Fields, key: str = "IdentifierRequest") -> IdentifierSpec:
    block = body.need_block(key)
    return IdentifierSpec(block.need_integer("identifierType"), block.need_text("identifierValue"))


def read_new_identifier(block: Fields) -> IdentifierSpec:
    value = block.text("identifierValue")
    if value is not None and not value.strip():
        raise _invalid(block.where("identifierValue"), "a non-blank string")
    return IdentifierSpec(block.need_integer("identifierType"), value)


def _entity_id(body: Fields, *, required: bool = False) -> str | None:
    block = body.block("EntityRequest", required=required)
    return None if block is None else block.need_text("entityIdentifier")


def _asking_store(backend: WsOneBackend, body: Fields) -> str | None:
    # "The store asking": optional, but an unknown store is refused like any reference.
    entity_id = _entity_id(body)
    if entity_id is not None:
        backend.entity(entity_id)
    return entity_id


def _email(block: Fields | None) -> Email | None:
    if block is None:
        return None
    return Email(
        value=block.text("emailValue"),
        allow_company_solicitation=block.boolean("allowCompanySolicitation"),
        allow_trusted_solicitation=block.boolean("allowTrustedSolicitation"),
    )


def _cell_phone(block: Fields | None) -> CellPhone | None:
    if block is None:
        return None
    return CellPhone(
        dialing_code=block.text("dialingCode"),
        number=block.text("number"),
        model=block.text("model"),
        brand=block.text("brand"),
        allow_company_solicitation=block.boolean("allowCompanySolicitation"),
        allow_trusted_solicitation=block.boolean("allowTrustedSolicitation"),
    )


def _address(block: Fields | None) -> Address | None:
    if block is None:
        return None
    return Address(
        address1=block.text("address1"),
        address2=block.text("address2"),
        address3_num=block.integer("address3Num"),
        address3_type=block.integer("address3Type"),
        address3_name=block.text("address3Name"),
        address4=block.text("address4"),
        zip_code=block.text("zipCode"),
        city=block.text("city"),
        country=block.text("country"),
        allow_company_solicitation=block.boolean("allowCompanySolicitation"),
        allow_trusted_solicitation=block.boolean("allowTrustedSolicitation"),
    )


def read_profile(body: Fields, key: str = "PersonProfilRequest") -> Profile | None:
    block = body.block(key)
    if block is None:
        return None
    profile = Profile(entity_id=_entity_id(block))
    person = block.block("PersonRequest")
    if person is not None:
        profile.first_name = person.text("firstName")
        profile.last_name = person.text("lastName")
        profile.birth_date = person.date("birthDate")
        profile.title = person.integer("title")
    contacts = block.block("ContactsRequest")
    if contacts is not None:
        profile.email = _email(contacts.block("EmailRequest"))
        profile.cell_phone = _cell_phone(contacts.block("CellPhoneRequest"))
        profile.address = _address(contacts.block("AddressRequest"))
    return profile


def read_subscriptions(body: Fields) -> list[tuple[int, bool | None]]:
    return [
        (s.need_integer("id"), s.boolean("activate")) for s in body.blocks("SubscriptionRequest")
    ]


def _line_amount(line: Fields) -> float | None:
    amount = line.number("amount")
    if amount is not None:
        return amount
    quantity, unit_price = line.number("quantity"), line.number("unitPrice")
    if quantity is None or unit_price is None:
        return None
    amount = quantity * unit_price
    if not math.isfinite(amount):
        raise _invalid(line.where("unitPrice"), "a line amount that is a finite number")
    return amount


def _receipt(body: Fields, *, with_lines: bool = True) -> Receipt:
    block = body.need_block("ReceiptRequest")
    lines = [_line_amount(line) for line in block.blocks("DetailsRequest")]
    advantages = tuple(
        Advantage(name=a.text("name"), value=a.number("value"), offer_number=a.text("offerNumber"))
        for a in block.blocks("AccountAdvantageRequest")
    )
    return Receipt(
        entity_id=_entity_id(block),
        receipt_number=block.text("receiptNumber"),
        receipt_date=block.datetime("receiptDate"),
        amount=block.number("amount"),
        line_amounts=tuple(a for a in lines if a is not None) if with_lines else (),
        advantages=advantages,
    )


def _criteria(body: Fields) -> SearchCriteria:
    person = body.block("PersonRequest")
    contacts = body.block("ContactsRequest")
    email = contacts.block("EmailRequest") if contacts is not None else None
    phone = contacts.block("CellPhoneRequest") if contacts is not None else None
    return SearchCriteria(
        last_name=person.text("lastName") if person else None,
        first_name=person.text("firstName") if person else None,
        birth_date=person.date("birthDate") if person else None,
        title=person.integer("title") if person else None,
        email=email.text("emailValue") if email else None,
        phone=phone.text("number") if phone else None,
    )


# -------------------------------------------------------------------------- writing


def _date(value: dt.date) -> str:
    return f"{value.day:02d}/{value.month:02d}/{value.year:04d}"


def _datetime(value: dt.datetime) -> str:
    return (
        f"{value.day:02d}/{value.month:02d}/{value.year:04d} "
        f"{value.hour:02d}:{value.minute:02d}:{value.second:02d}"
    )


def _timestamp(value: dt.datetime) -> str:
    return (
        f"{value.year:04d}-{value.month:02d}-{value.day:02d} "
        f"{value.hour:02d}:{value.minute:02d}:{value.second:02d}.{value.microsecond // 1000:03d}"
    )


def _flag(value: bool | None) -> int | None:
    return None if value is None else int(value)


def _compact(block: dict[str, Any]) -> dict[str, Any]:
    # Absent values are left out, as WsOne leaves out what it does not know.
    return {k: v for k, v in block.items() if v is not None}


def _entity(entity: Entity) -> dict[str, Any]:
    return _compact(
        {
            "entityIdentifier": entity.identifier,
            "label": entity.label,
            "parentEntityIdentifier": entity.parent,
        }
    )


def _account(account: Account) -> dict[str, Any]:
    return {
        "name": account.name,
        "value": account.value,
        "unit": account.unit,
        "EntityResponse": _entity(account.entity),
    }


def _offer(offer: PersonOffer) -> dict[str, Any]:
    catalog = offer.offer
    return {
        "used": offer.used,
        "startDate": _datetime(offer.start),
        "classifications": [],
        "offerNumber": offer.offer_number,
        "immediateUse": catalog.immediate_use,
        "offerId": catalog.offer_id,
        "channelId": catalog.channel_id,
        "endDate": _datetime(offer.end),
        "sendDate": _datetime(offer.sent),
        "globalMinPrice": catalog.global_min_price,
        "offerName": catalog.name,
        "offerDescription": catalog.description,
        "offerDiscountType": catalog.discount_type,
        "offerDiscountValue": catalog.discount_value,
        "triggerOffer": catalog.trigger,
        "objApplication": catalog.obj_application,
        "typeRestrictionOffer": catalog.restriction_type,
    }


def _contacts(person: Person) -> dict[str, Any]:
    contacts: dict[str, Any] = {}
    if person.email is not None:
        email = person.email
        contacts["EmailResponse"] = _compact(
            {
                "status": 1,
                "emailValue": email.value,
                "allowCompanySolicitation": _flag(email.allow_company_solicitation),
                "allowTrustedSolicitation": _flag(email.allow_trusted_solicitation),
            }
        )
    if person.cell_phone is not None:
        phone = person.cell_phone
        contacts["CellPhoneResponse"] = _compact(
            {
                "status": 1,
                "dialingCode": phone.dialing_code,
                "number": phone.number,
                "model": phone.model,
                "brand": phone.brand,
                "allowCompanySolicitation": _flag(phone.allow_company_solicitation),
                "allowTrustedSolicitation": _flag(phone.allow_trusted_solicitation),
            }
        )
    if person.address is not None:
        address = person.address
        contacts["AddressResponse"] = _compact(
            {
                "status": 1,
                "address1": address.address1,
                "address2": address.address2,
                "address3Num": address.address3_num,
                "address3Type": address.address3_type,
                "address3Name": address.address3_name,
                "address4": address.address4,
                "zipCode": address.zip_code,
                "city": address.city,
                "country": address.country,
                "allowCompanySolicitation": _flag(address.allow_company_solicitation),
                "allowTrustedSolicitation": _flag(address.allow_trusted_solicitation),
            }
        )
    return contacts


def _person(backend: WsOneBackend, person: Person, *, lite: bool = False) -> dict[str, Any]:
    civil = _compact(
        {
            "groupeId": person.groupe_id,
            "firstName": person.first_name,
            "lastName": person.last_name,
            "birthDate": None if person.birth_date is None else _date(person.birth_date),
            "title": person.title,
        }
    )
    block: dict[str, Any] = {
        "PersonResponse": civil,
        "IdentifierResponse": [
            {
                "activationDate": _timestamp(i.activation_date),
                "identifierValue": i.value,
                "identifierType": i.type,
            }
            for i in person.identifiers
        ],
    }
    if lite:
        return block
    if person.entity_id is not None:
        block["EntityResponse"] = _entity(backend.entity(person.entity_id))
    block["SubscriptionResponse"] = [
        {
            "id": str(s.id),
            "label": s.label,
            "activate": s.active,
            "updatedAt": _datetime(s.updated_at),
        }
        for s in person.subscriptions.values()
    ]
    block["ContactsResponse"] = _contacts(person)
    block["InfoPersonResponse"] = []
    return block


def _transaction(backend: WsOneBackend, transaction: Transaction | None) -> dict[str, Any] | None:
    if transaction is None:
        return None
    receipt_date = transaction.receipt_date
    return _compact(
        {
            "transactionId": transaction.transaction_id,
            "status": str(transaction.status),
            "receiptNumber": transaction.receipt_number,
            "receiptDate": None if receipt_date is None else _datetime(receipt_date),
            "amount": transaction.amount,
            "points": transaction.points,
            "EntityResponse": _entity(transaction.entity),
            "AccountResponse": [_account(a) for a in backend.accounts(transaction.person)],
        }
    )


def _new_identifier_response(identifier_type: int, value: str) -> dict[str, Any]:
    return {"NewIdentifierResponse": {"identifierType": identifier_type, "identifierValue": value}}


# ------------------------------------------------------------------ WS Person: create


def create_person_and_identifier(backend: WsOneBackend, data: dict[str, Any]) -> dict[str, Any]:
    """createPersonAndIdentifier -> ``NewIdentifierResponse`` (the generated card)."""
    body = Fields(data)
    new = body.block("NewIdentifierRequest")
    _, card = backend.create_person_and_identifier(
        read_new_identifier(new) if new is not None else None,
        body.integer("newIdentifierType"),
        read_profile(body),
        read_subscriptions(body),
        body.text("source"),
    )
    return _new_identifier_response(card.type, card.value)


def create_person(backend: WsOneBackend, data: dict[str, Any]) -> dict[str, Any]:
    """createPerson -> ``NewIdentifierResponse: null``, as in the vendor's example."""
    body = Fields(data)
    backend.create_person(
        read_new_identifier(body.need_block("NewIdentifierRequest")),
        read_profile(body),
        read_subscriptions(body),
        body.text("source"),
    )
    return {"NewIdentifierResponse": None}


def create_identifier(backend: WsOneBackend, data: dict[str, Any]) -> dict[str, Any]:
    """createIdentifier -> ``NewIdentifierResponse: null``, as in the vendor's example.

    The card is generated all the same: getPerson on the person lists it.
    """
    body = Fields(data)
    backend.create_identifier(_identifier(body), body.integer("newIdentifierType"))
    return {"NewIdentifierResponse": None}


def associate_new_identifier(backend: WsOneBackend, data: dict[str, Any]) -> dict[str, Any]:
    """associateNewIdentifier -> ``NewIdentifierResponse`` (the identifier added)."""
    body = Fields(data)
    key = _identifier(body)
    new = read_new_identifier(body.need_block("NewIdentifierRequest"))
    added = backend.associate_new_identifier(key, new)
    return _new_identifier_response(added.type, added.value)


def associate_identifier(backend: WsOneBackend, data: dict[str, Any]) -> dict[str, Any]:
    """associateIdentifier -> envelope only."""
    body = Fields(data)
    key = _identifier(body)
    existing = _identifier(body, "AssociatedIdentifierRequest")
    backend.associate_identifier(key, existing)
    return {}


def replace_identifier(backend: WsOneBackend, data: dict[str, Any]) -> dict[str, Any]:
    """replaceIdentifier -> ``NewIdentifierResponse`` (the replacement)."""
    body = Fields(data)
    key = _identifier(body)
    new = read_new_identifier(body.need_block("NewIdentifierRequest"))
    added = backend.replace_identifier(key, new)
    return _new_identifier_response(added.type, added.value)


# ------------------------------------------------------------ WS Person: read / search


def get_person(backend: WsOneBackend, data: dict[str, Any]) -> dict[str, Any]:
    """getPerson -> ``PersonResponse`` (the full profile)."""
    body = Fields(data)
    key = _identifier(body)
    _asking_store(backend, body)
    return {"PersonResponse": _person(backend, backend.find(key))}


def _search(backend: WsOneBackend, data: dict[str, Any], *, lite: bool) -> dict[str, Any]:
    body = Fields(data)
    criteria = _criteria(body)
    _asking_store(backend, body)
    found = backend.search(criteria)
    return {"PersonResponse": [_person(backend, p, lite=lite) for p in found]}


def search_person(backend: WsOneBackend, data: dict[str, Any]) -> dict[str, Any]:
    """searchPerson -> ``PersonResponse`` list of full profiles (may be empty)."""
    return _search(backend, data, lite=False)


def search_person_lite(backend: WsOneBackend, data: dict[str, Any]) -> dict[str, Any]:
    """searchPersonLite -> ``PersonResponse`` list: civil data and identifiers only."""
    return _search(backend, data, lite=True)


def get_accounts(backend: WsOneBackend, data: dict[str, Any]) -> dict[str, Any]:
    """getAccounts -> ``AccountResponse`` list (visites, point)."""
    body = Fields(data)
    key = _identifier(body)
    _asking_store(backend, body)
    person = backend.find(key)
    return {"AccountResponse": [_account(a) for a in backend.accounts(person)]}


def get_full_person(backend: WsOneBackend, data: dict[str, Any]) -> dict[str, Any]:
    """getFullPerson -> profile, usable offers at ``date`` and accounts with their envelope.

    On success the answer has no top-level ``responseCode``/``infos``, as the vendor's
    example (only the nested ``AccountsResponse`` carries an envelope); see
    :data:`WITHOUT_ENVELOPE`.
    """
    body = Fields(data)
    key = _identifier(body)
    _asking_store(backend, body)
    when = body.datetime("date")
    body.integer("filter")  # read for its type only: its codes are not documented
    person = backend.find(key)
    accounts = [_account(a) for a in backend.accounts(person)]
    return {
        "PersonResponse": _person(backend, person),
        "OffersResponse": {
            "GetOffersResponses": [_offer(o) for o in backend.offers(person, when, usable_now=True)]
        },
        "AccountsResponse": {
            **envelope(_C.SUCCESS, f"{len(accounts)} account(s) found"),
            "AccountResponse": accounts,
        },
    }


def get_badge(backend: WsOneBackend, data: dict[str, Any]) -> dict[str, Any]:
    """getBadge -> ``BadgeResponse`` list."""
    person = backend.find(_identifier(Fields(data)))
    return {
        "BadgeResponse": [
            {"id": b.id, "label": b.label, "activationDate": _timestamp(b.activation_date)}
            for b in backend.badges(person)
        ]
    }


# ------------------------------------------------------------------ WS Person: update


def update_person(backend: WsOneBackend, data: dict[str, Any]) -> dict[str, Any]:
    """updatePerson -> envelope only."""
    body = Fields(data)
    key = _identifier(body)
    backend.update_person(key, read_profile(body), read_subscriptions(body))
    return {}


# ------------------------------------------------------------------ WS Person: offers


def _offers(backend: WsOneBackend, data: dict[str, Any], *, usable_now: bool) -> dict[str, Any]:
    body = Fields(data)
    key = _identifier(body)
    _asking_store(backend, body)
    when = body.datetime("date")
    person = backend.find(key)
    return {
        "GetOffersResponses": [
            _offer(o) for o in backend.offers(person, when, usable_now=usable_now)
        ]
    }


def get_available_offers(backend: WsOneBackend, data: dict[str, Any]) -> dict[str, Any]:
    """getAvailableOffers -> unused offers not expired at ``date`` (some may start later)."""
    return _offers(backend, data, usable_now=False)


def get_enable_offers(backend: WsOneBackend, data: dict[str, Any]) -> dict[str, Any]:
    """getEnableOffers -> unused offers valid at ``date``."""
    return _offers(backend, data, usable_now=True)


def edit_offer(backend: WsOneBackend, data: dict[str, Any]) -> dict[str, Any]:
    """editOffer -> ``GetOffersResponses`` with the offer as it is now."""
    body = Fields(data)
    key = _identifier(body)
    _asking_store(backend, body)
    number = body.need_text("offerNumber")
    used = body.boolean("used")
    offer = backend.edit_offer(key, number, used=True if used is None else used)
    return {"GetOffersResponses": [_offer(offer)]}


# ------------------------------------------------------------------- WS Person: forms


def get_form(backend: WsOneBackend, data: dict[str, Any]) -> dict[str, Any]:
    """getForm -> ``formId`` and every question with the person's answer, if any."""
    body = Fields(data)
    key = _identifier(body)
    form, answers = backend.form(key, body.need_text("formId"))
    return {
        "formId": form.form_id,
        "FormAnsweredResponse": [
            _compact({"questionId": qid, "label": label, "answer": answers.get(qid)})
            for qid, label in form.questions.items()
        ],
    }


def update_form(backend: WsOneBackend, data: dict[str, Any]) -> dict[str, Any]:
    """updateForm -> envelope only."""
    body = Fields(data)
    key = _identifier(body)
    form_id = body.need_text("formId")
    answers = [
        (a.need_text("questionId"), a.text("answer")) for a in body.blocks("FormAnsweredRequest")
    ]
    backend.update_form(key, form_id, answers)
    return {}


# ------------------------------------------------------------------ WS Person: stores


def get_entities(backend: WsOneBackend, data: dict[str, Any]) -> dict[str, Any]:
    """getEntities -> ``EntityResponse`` list (all, or those below ``EntityRequest``)."""
    under = _entity_id(Fields(data))
    return {"EntityResponse": [_entity(e) for e in backend.entities(under)]}


def get_entity_parents(backend: WsOneBackend, data: dict[str, Any]) -> dict[str, Any]:
    """getEntityParents -> ``EntityResponse`` list, nearest parent first."""
    entity_id = Fields(data).need_block("EntityRequest").need_text("entityIdentifier")
    return {"EntityResponse": [_entity(e) for e in backend.entity_parents(entity_id)]}


# ---------------------------------------------------------------------- WS Transaction


def _one(backend: WsOneBackend, transaction: Transaction | None) -> dict[str, Any]:
    return {"TransactionResponse": _transaction(backend, transaction)}


def send_transaction(backend: WsOneBackend, data: dict[str, Any]) -> dict[str, Any]:
    """sendTransaction -> the transaction, SENT."""
    body = Fields(data)
    key = _identifier(body)
    return _one(backend, backend.send_transaction(key, _receipt(body)))


def valid_transaction(backend: WsOneBackend, data: dict[str, Any]) -> dict[str, Any]:
    """validTransaction (by ``transactionId``, or by the receipt's store and number)."""
    body = Fields(data)
    key = _identifier(body)
    transaction_id = body.text("transactionId")
    entity_id = receipt_number = None
    if transaction_id is None:
        if body.block("ReceiptRequest") is None:
            raise _missing(path="transactionId")
        receipt = _receipt(body)
        entity_id, receipt_number = receipt.entity_id, receipt.receipt_number
    found = backend.valid_transaction(key, transaction_id, entity_id, receipt_number)
    return _one(backend, found)


def send_and_valid_transaction(backend: WsOneBackend, data: dict[str, Any]) -> dict[str, Any]:
    """sendAndValidTransaction -> the transaction, VALIDATED."""
    body = Fields(data)
    key = _identifier(body)
    return _one(backend, backend.send_transaction(key, _receipt(body), validate=True))


def send_and_valid_full_transaction(backend: WsOneBackend, data: dict[str, Any]) -> dict[str, Any]:
    """sendAndValidFullTransaction -> the transaction, VALIDATED, person created or updated."""
    body = Fields(data)
    key = _identifier(body) if body.block("IdentifierRequest") is not None else None
    full_block = body.block("FullPersonRequest")
    full = None
    if full_block is not None:
        new = full_block.block("NewIdentifierRequest")
        full = FullPerson(
            identifier=read_new_identifier(new) if new is not None else None,
            profile=read_profile(full_block),
            subscriptions=tuple(read_subscriptions(full_block)),
        )
    receipt = _receipt(body)
    return _one(backend, backend.send_and_valid_full(key, full, receipt))


def verify_transaction(backend: WsOneBackend, data: dict[str, Any]) -> dict[str, Any]:
    """verifyTransaction -> the transaction, or ``TransactionResponse: null`` if unknown."""
    body = Fields(data)
    key = _identifier(body)
    receipt = _receipt(body)
    found = backend.verify_transaction(key, receipt.entity_id, receipt.receipt_number)
    return _one(backend, found)


def cancel_transactions_not_validated(
    backend: WsOneBackend, data: dict[str, Any]
) -> dict[str, Any]:
    """cancelTransactionsNotValidated -> ``TransactionResponse`` list of the cancelled ones."""
    body = Fields(data)
    key = _identifier(body)
    cancelled = backend.cancel_not_validated(key, _entity_id(body))
    return {"TransactionResponse": [_transaction(backend, t) for t in cancelled]}


def send_simple_transaction(backend: WsOneBackend, data: dict[str, Any]) -> dict[str, Any]:
    """sendSimpleTransaction -> the transaction, VALIDATED (amount only, lines ignored)."""
    body = Fields(data)
    key = _identifier(body)
    receipt = _receipt(body, with_lines=False)
    return _one(backend, backend.send_transaction(key, receipt, validate=True))


def refund_transaction(backend: WsOneBackend, data: dict[str, Any]) -> dict[str, Any]:
    """refundTransaction -> the transaction, REFUNDED."""
    body = Fields(data)
    key = _identifier(body)
    receipt = _receipt(body)
    refunded = backend.refund_transaction(key, receipt.entity_id, receipt.receipt_number)
    return _one(backend, refunded)


def get_last_transaction(backend: WsOneBackend, data: dict[str, Any]) -> dict[str, Any]:
    """getLastTransaction -> the most recent transaction, or null."""
    body = Fields(data)
    key = _identifier(body)
    return _one(backend, backend.last_transaction(key, _entity_id(body)))


#: The operations whose successful answer has no top-level envelope (the vendor's example
#: of getFullPerson has none); a failure is answered with the envelope all the same.
WITHOUT_ENVELOPE: Final = frozenset({"getFullPerson"})

#: Every operation's handler, by operation name.
HANDLERS: Final[dict[str, Handler]] = {
    "createPersonAndIdentifier": create_person_and_identifier,
    "createPerson": create_person,
    "createIdentifier": create_identifier,
    "associateNewIdentifier": associate_new_identifier,
    "associateIdentifier": associate_identifier,
    "replaceIdentifier": replace_identifier,
    "getPerson": get_person,
    "searchPerson": search_person,
    "getAccounts": get_accounts,
    "getFullPerson": get_full_person,
    "searchPersonLite": search_person_lite,
    "getBadge": get_badge,
    "updatePerson": update_person,
    "getAvailableOffers": get_available_offers,
    "getEnableOffers": get_enable_offers,
    "editOffer": edit_offer,
    "getForm": get_form,
    "updateForm": update_form,
    "getEntities": get_entities,
    "getEntityParents": get_entity_parents,
    "sendTransaction": send_transaction,
    "validTransaction": valid_transaction,
    "sendAndValidTransaction": send_and_valid_transaction,
    "sendAndValidFullTransaction": send_and_valid_full_transaction,
    "verifyTransaction": verify_transaction,
    "cancelTransactionsNotValidated": cancel_transactions_not_validated,
    "sendSimpleTransaction": send_simple_transaction,
    "refundTransaction": refund_transaction,
    "getLastTransaction": get_last_transaction,
}
