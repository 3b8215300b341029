"""The simulator's records: the blocks read from requests and the state they become.

Plain data and the small rules that belong to one value (an EAN-13 check digit, how an
identifier or a search criterion is normalised); no state. Contacts (:class:`Email`,
:class:`CellPhone`, :class:`Address`) are never changed in place: an update builds a new
one (:func:`merge`), so a person and the request that set them may share one. (They are
not frozen only because a frozen dataclass costs twice as much to build, on the path of
every createPerson.)
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
from collections.abc import Mapping
from typing import Final, TypeVar

from wsone_async.testing._codes import SimulatorCode

__all__ = [
    "CARD",
    "WEB_ACCOUNT",
    "Account",
    "Address",
    "Advantage",
    "Badge",
    "CatalogOffer",
    "CellPhone",
    "Email",
    "Entity",
    "Form",
    "FullPerson",
    "Identifier",
    "IdentifierSpec",
    "Person",
    "PersonOffer",
    "Profile",
    "Receipt",
    "SearchCriteria",
    "Subscription",
    "Transaction",
    "TransactionStatus",
    "WsOneFailure",
    "digits",
    "ean13",
    "fold",
    "identifier_key",
    "is_valid_ean13",
    "merge",
]

CARD: Final = 1
#: identifierType of a web account, whose value is the customer's email.
WEB_ACCOUNT: Final = 10


class WsOneFailure(Exception):
    """A functional failure, answered with ``code`` and ``infos`` in the envelope.

    ``infos`` never holds personal data: it names fields, never their values.
    """

    def __init__(self, code: SimulatorCode, infos: str | None = None) -> None:
        self.code = code
        self.infos = infos or code.meaning
        super().__init__(f"{code}: {self.infos}")


class TransactionStatus(enum.StrEnum):
    """Lifecycle of a receipt: SENT -> VALIDATED -> REFUNDED, or SENT -> CANCELLED."""

    SENT = "SENT"
    VALIDATED = "VALIDATED"
    CANCELLED = "CANCELLED"
    REFUNDED = "REFUNDED"


# ---------------------------------------------------------------------------- helpers


def ean13(first_twelve: str) -> str:
    """Complete 12 digits with their EAN-13 check digit.

    Example:
        >>> ean13("400638133393")
        '4006381333931'
    """
    if len(first_twelve) != 12 or not first_twelve.isascii() or not first_twelve.isdigit():
        msg = "ean13() takes exactly 12 digits"
        raise ValueError(msg)
    # Digits in odd places (1st, 3rd...) weigh 1, in even places 3. Summing the ASCII
    # codes is faster than int() per digit: '0' is 48, so the codes add 48 * (6 + 18).
    total = sum(first_twelve[0::2].encode()) + 3 * sum(first_twelve[1::2].encode()) - 1152
    return first_twelve + str((10 - total % 10) % 10)


def is_valid_ean13(value: str) -> bool:
    """Whether ``value`` is 13 ASCII digits with a correct EAN-13 check digit."""
    return len(value) == 13 and value.isascii() and value.isdigit() and ean13(value[:12]) == value


def fold(text: str | None) -> str | None:
    """A text as search compares it: case-insensitive, spacing differences ignored."""
    if text is None:
        return None
    folded = " ".join(text.split()).casefold()
    return folded or None


def digits(text: str | None) -> str | None:
    """A phone number as search compares it: its digits only."""
    if text is None:
        return None
    if text.isascii() and text.isdigit():  # the usual case, such as "0612345678"
        return text
    found = "".join(ch for ch in text if ch.isdigit())
    return found or None


def identifier_key(identifier_type: int, value: str) -> tuple[int, str]:
    """The key under which an identifier is unique."""
    value = value.strip()
    # An email is the same account whatever its case.
    return (identifier_type, value.casefold() if identifier_type == WEB_ACCOUNT else value)


_Contact = TypeVar("_Contact", "Email", "CellPhone", "Address")


def merge(target: _Contact | None, update: _Contact | None) -> _Contact | None:
    """``target`` with the fields ``update`` gives (not None) replaced: a new record.

    Contacts are never changed in place, so without a target the update itself is kept.
    """
    if update is None:
        return target
    if target is None:
        return update
    names = _CONTACT_FIELDS[type(update)]
    values = {}
    for name in names:
        value = getattr(update, name)
        values[name] = getattr(target, name) if value is None else value
    return type(update)(**values)


# ------------------------------------------------------------------------- data blocks


@dataclasses.dataclass(slots=True, kw_only=True)
class Email:
    """A person's email and consents (``None``: not given)."""

    value: str | None = None
    allow_company_solicitation: bool | None = None
    allow_trusted_solicitation: bool | None = None


@dataclasses.dataclass(slots=True, kw_only=True)
class CellPhone:
    """A person's mobile phone and consents (``None``: not given)."""

    dialing_code: str | None = None
    number: str | None = None
    model: str | None = None
    brand: str | None = None
    allow_company_solicitation: bool | None = None
    allow_trusted_solicitation: bool | None = None


@dataclasses.dataclass(slots=True, kw_only=True)
class Address:
    """A person's postal address and consents (``None``: not given)."""

    address1: str | None = None
    address2: str | None = None
    address3_num: int | None = None
    address3_type: int | None = None
    address3_name: str | None = None
    address4: str | None = None
    zip_code: str | None = None
    city: str | None = None
    country: str | None = None
    allow_company_solicitation: bool | None = None
    allow_trusted_solicitation: bool | None = None


_CONTACT_FIELDS: Final[Mapping[type, tuple[str, ...]]] = {
    cls: tuple(f.name for f in dataclasses.fields(cls)) for cls in (Email, CellPhone, Address)
}


@dataclasses.dataclass(slots=True, kw_only=True)
class Profile:
    """Profile fields from a request; ``None`` fields are not given (kept on update)."""

    first_name: str | None = None
    last_name: str | None = None
    birth_date: dt.date | None = None
    title: int | None = None
    entity_id: str | None = None
    email: Email | None = None
    cell_phone: CellPhone | None = None
    address: Address | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class IdentifierSpec:
    """An identifier named in a request; ``value`` None asks for a generated one."""

    type: int
    value: str | None = None


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class SearchCriteria:
    """searchPerson's criteria; ``None`` or blank criteria are not used."""

    last_name: str | None = None
    first_name: str | None = None
    birth_date: dt.date | None = None
    title: int | None = None
    email: str | None = None
    phone: str | None = None


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Advantage:
    """An advantage spent on a receipt: points of an account, or an offer."""

    name: str | None = None
    value: float | None = None
    offer_number: str | None = None


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Receipt:
    """A receipt from a request; ``line_amounts`` make the amount when it is not given."""

    entity_id: str | None = None
    receipt_number: str | None = None
    receipt_date: dt.datetime | None = None
    amount: float | None = None
    line_amounts: tuple[float, ...] = ()
    advantages: tuple[Advantage, ...] = ()


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class FullPerson:
    """sendAndValidFullTransaction's ``FullPersonRequest``."""

    identifier: IdentifierSpec | None = None
    profile: Profile | None = None
    subscriptions: tuple[tuple[int, bool | None], ...] = ()


# ----------------------------------------------------------------------- state records


@dataclasses.dataclass(frozen=True, slots=True)
class Entity:
    """A store or a node of the retailer's network."""

    identifier: str
    label: str
    parent: str | None = None


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class CatalogOffer:
    """An offer of the catalogue; persons receive numbered copies (:class:`PersonOffer`)."""

    offer_id: str
    name: str
    description: str = ""
    channel_id: str = "8"
    global_min_price: float = 0.0
    discount_type: int = 1
    discount_value: float = 0.0
    trigger: int = 0
    obj_application: str = "ARTICLE"
    restriction_type: int = 0
    immediate_use: int = 0
    validity_days: int = 60
    welcome: bool = False
    """Given to every new person."""


@dataclasses.dataclass(frozen=True, slots=True)
class Form:
    """A form: its questions by id, in order."""

    form_id: str
    label: str
    questions: Mapping[str, str]


@dataclasses.dataclass(frozen=True, slots=True)
class Badge:
    """A badge a person earned."""

    id: str
    label: str
    activation_date: dt.datetime


@dataclasses.dataclass(frozen=True, slots=True)
class Account:
    """A balance of a person, as getAccounts answers it."""

    name: str
    value: int
    unit: str
    entity: Entity


@dataclasses.dataclass(slots=True, eq=False)
class Identifier:
    """One identifier of a person."""

    type: int
    value: str
    activation_date: dt.datetime


@dataclasses.dataclass(slots=True, eq=False)
class Subscription:
    """One subscription of a person."""

    id: int
    label: str
    active: bool
    updated_at: dt.datetime


@dataclasses.dataclass(slots=True, eq=False)
class PersonOffer:
    """A person's numbered copy of a catalogue offer."""

    offer_number: str
    offer: CatalogOffer
    start: dt.datetime
    end: dt.datetime
    sent: dt.datetime
    used: bool = False

    def valid_at(self, when: dt.datetime) -> bool:
        """Whether the offer's validity period contains ``when``."""
        return self.start <= when <= self.end


@dataclasses.dataclass(slots=True, eq=False, kw_only=True)
class Person:
    """A customer and everything attached to it."""

    seq: int
    groupe_id: str
    created_at: dt.datetime
    source: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    birth_date: dt.date | None = None
    title: int | None = None
    entity_id: str | None = None
    email: Email | None = None
    cell_phone: CellPhone | None = None
    address: Address | None = None
    identifiers: list[Identifier] = dataclasses.field(default_factory=list)
    retired: list[Identifier] = dataclasses.field(default_factory=list)
    subscriptions: dict[int, Subscription] = dataclasses.field(default_factory=dict)
    points: int = 0
    visits: int = 0
    offers: dict[str, PersonOffer] = dataclasses.field(default_factory=dict)
    badges: dict[str, Badge] = dataclasses.field(default_factory=dict)
    answers: dict[str, dict[str, str]] = dataclasses.field(default_factory=dict)
    transactions: list[Transaction] = dataclasses.field(default_factory=list)


@dataclasses.dataclass(slots=True, eq=False, kw_only=True)
class Transaction:
    """A recorded receipt and its lifecycle."""

    transaction_id: str
    person: Person
    entity: Entity
    receipt_number: str
    receipt_date: dt.datetime | None
    amount: float
    points: int
    """Points the receipt earns when validated (and takes back when refunded)."""
    points_spent: int
    offer_numbers: tuple[str, ...]
    status: TransactionStatus
    recorded_at: dt.datetime
