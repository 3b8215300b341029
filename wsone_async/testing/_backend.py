"""The simulator's in-memory WsOne: persons, identifiers, offers, forms, stores, receipts.

Pure Python and synchronous: no HTTP here (``_handlers`` parses requests and writes
answers). Every operation checks everything before it changes anything, so a refused call
leaves the state as it was, and since it never awaits, concurrent requests cannot interleave
inside one operation. Functional failures raise :class:`WsOneFailure` with one of the
simulator's codes (:class:`~wsone_async.testing.SimulatorCode`).

Every lookup goes through an index (identifier, receipt, search criteria), so a request
costs the same with ten persons or a million.

Business rules (the simulator's reading of WsOne's workflows):

* an identifier ``(type, value)`` designates at most one person; web-account values
  (type 10, an email) compare case-insensitively; a replaced identifier is retired: it no
  longer finds its person and cannot be given to anyone again;
* generated identifiers are loyalty cards (type 1): valid, unique EAN-13 numbers;
* a new person receives the catalogue's welcome offers and the ``BIENVENUE`` badge;
* a receipt is identified by its store and number; validating it credits one point per
  whole euro (nothing for a negative amount) and one visit, and spends the points and
  offers listed in its advantages; a refund reverses all of that, so a balance may go
  negative when the points were spent meanwhile;
* a cancelled receipt's identity may be sent again (it then designates the new receipt).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import itertools
import math
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any, Final, TypeVar

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
    "WsOneBackend",
    "WsOneFailure",
    "ean13",
    "is_valid_ean13",
]

#: identifierType of a loyalty card (13 digits; the only type the simulator generates).
CARD: Final = 1
#: identifierType of a web account, whose value is the customer's email.
WEB_ACCOUNT: Final = 10

_C = SimulatorCode
_Contact = TypeVar("_Contact", "Email", "CellPhone", "Address")


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
    total = sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(first_twelve))
    return first_twelve + str((10 - total % 10) % 10)


def is_valid_ean13(value: str) -> bool:
    """Whether ``value`` is 13 ASCII digits with a correct EAN-13 check digit."""
    return len(value) == 13 and value.isascii() and value.isdigit() and ean13(value[:12]) == value


def _fold(text: str | None) -> str | None:
    # Search compares case-insensitively and ignores spacing differences.
    if text is None:
        return None
    folded = " ".join(text.split()).casefold()
    return folded or None


def _digits(text: str | None) -> str | None:
    if text is None:
        return None
    digits = "".join(ch for ch in text if ch.isdigit())
    return digits or None


def _identifier_key(identifier_type: int, value: str) -> tuple[int, str]:
    value = value.strip()
    # An email is the same account whatever its case.
    return (identifier_type, value.casefold() if identifier_type == WEB_ACCOUNT else value)


def _merge(target: _Contact | None, update: _Contact | None) -> _Contact | None:
    """``target`` with the fields ``update`` gives (not None) replaced."""
    if update is None:
        return target
    if target is None:
        return dataclasses.replace(update)
    for field in dataclasses.fields(update):
        value = getattr(update, field.name)
        if value is not None:
            setattr(target, field.name, value)
    return target


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


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class _Draft:
    # A receipt checked against the rules but not recorded yet.
    entity: Entity
    receipt_number: str
    receipt_date: dt.datetime | None
    amount: float
    points: int
    points_spent: int
    offer_numbers: tuple[str, ...]


# ---------------------------------------------------------------------- default seeds

_ROOT_ENTITY: Final = "000001"

_DEFAULT_ENTITIES: Final = (
    Entity(_ROOT_ENTITY, "RESEAU FRANCE"),
    Entity("100001", "REGION NORD", _ROOT_ENTITY),
    Entity("123456", "MAGASIN LILLE", "100001"),
    Entity("111111", "MAGASIN ROUBAIX", "100001"),
    Entity("100002", "REGION SUD", _ROOT_ENTITY),
    Entity("666666", "MAGASIN MARSEILLE", "100002"),
    Entity("222222", "MAGASIN NICE", "100002"),
    Entity("100003", "E-COMMERCE", _ROOT_ENTITY),
    Entity("999999", "SITE INTERNET", "100003"),
)

_DEFAULT_OFFERS: Final = (
    CatalogOffer(
        offer_id="57384",
        name="BIENVENUE_BA_CAISSE_2025",
        description="5€ de réduction dès 30€",
        channel_id="8",
        global_min_price=30.0,
        discount_type=1,
        discount_value=5.0,
        obj_application="ARTICLE",
        validity_days=60,
        welcome=True,
    ),
    CatalogOffer(
        offer_id="57385",
        name="ANNIVERSAIRE_2025",
        description="10% sur tout le magasin",
        channel_id="2",
        global_min_price=0.0,
        discount_type=2,
        discount_value=10.0,
        obj_application="TICKET",
        validity_days=30,
    ),
)

_DEFAULT_FORMS: Final = (
    Form(
        "100",
        "PREFERENCES",
        {"1": "Nombre d'enfants", "2": "Animal de compagnie", "3": "Centres d'intérêt"},
    ),
)

_SUBSCRIPTION_LABELS: Final[Mapping[int, str]] = {1: "NEWSLETTER", 2: "SMS", 30: "WALLET"}

_BADGE_WELCOME: Final = ("1", "BIENVENUE")
_BADGE_FIRST_PURCHASE: Final = ("2", "PREMIER_ACHAT")
_BADGE_LOYAL: Final = ("3", "FIDELE_10_VISITES")
_LOYAL_VISITS: Final = 10

_POINT_ACCOUNTS: Final = frozenset({"point", "points"})
# Amounts and points beyond this are refused: no till sells a trillion euros.
_MAX_AMOUNT: Final = 1e12

_FIRST_GROUPE_ID: Final = 1_000_001
_FIRST_TRANSACTION_ID: Final = 5_000_001
_CARD_PREFIX: Final = "2990"
_OFFER_PREFIX: Final = "2558"


def _now() -> dt.datetime:
    # Naive local time: WsOne's dates carry no time zone.
    return dt.datetime.now()


# ---------------------------------------------------------------------------- backend


class WsOneBackend:
    """The simulator's state and business rules, usable without HTTP.

    Args:
        clock: returns "now" (naive local time, like WsOne's dates); tests may fix it.
        seed_defaults: start with the default stores, offer catalogue and forms.
        max_search_results: searchPerson answers at most this many persons.

    Example:
        >>> backend = WsOneBackend()
        >>> person = backend.add_person(
        ...     Profile(last_name="DUPOND"), identifiers=[IdentifierSpec(CARD)]
        ... )
        >>> card = backend.identifiers_of(person)[0]
        >>> card[0], is_valid_ean13(card[1]), backend.persons_count()
        (1, True, 1)
    """

    def __init__(
        self,
        *,
        clock: Callable[[], dt.datetime] | None = None,
        seed_defaults: bool = True,
        max_search_results: int = 100,
    ) -> None:
        self._clock: Callable[[], dt.datetime] = clock or _now
        self.max_search_results = max_search_results
        self._seed_defaults = seed_defaults
        self.reset()

    # ------------------------------------------------------------------ state, seeds

    def reset(self) -> None:
        """Forget everything, then seed the defaults again (if the backend was made so)."""
        self._persons: dict[str, Person] = {}
        self._identifiers: dict[tuple[int, str], Person] = {}
        self._retired: set[tuple[int, str]] = set()
        self._entities: dict[str, Entity] = {}
        self._children: dict[str, list[str]] = {}
        self._catalog: dict[str, CatalogOffer] = {}
        self._forms: dict[str, Form] = {}
        self._transactions: dict[str, Transaction] = {}
        self._receipts: dict[tuple[str, str], Transaction] = {}
        self._status_counts: Counter[TransactionStatus] = Counter()
        self._person_seq = itertools.count(_FIRST_GROUPE_ID)
        self._transaction_seq = itertools.count(_FIRST_TRANSACTION_ID)
        self._card_seq = itertools.count(1)
        self._offer_seq = itertools.count(1)
        self._offer_owner: dict[str, Person] = {}
        # Search indexes: normalised criterion value -> persons having it.
        self._by_last: dict[str, set[Person]] = {}
        self._by_first: dict[str, set[Person]] = {}
        self._by_birth: dict[dt.date, set[Person]] = {}
        self._by_title: dict[int, set[Person]] = {}
        self._by_email: dict[str, set[Person]] = {}
        self._by_phone: dict[str, set[Person]] = {}
        if self._seed_defaults:
            for entity in _DEFAULT_ENTITIES:
                self.add_entity(entity.identifier, entity.label, entity.parent)
            for offer in _DEFAULT_OFFERS:
                self.add_offer(offer)
            for form in _DEFAULT_FORMS:
                self.add_form(form)

    def now(self) -> dt.datetime:
        """The backend's clock."""
        return self._clock()

    def add_entity(self, identifier: str, label: str, parent: str | None = None) -> Entity:
        """Add (or relabel) a store or network node under ``parent``."""
        if parent is not None and parent not in self._entities:
            raise WsOneFailure(_C.ENTITY_NOT_FOUND, "Parent entity unknown")
        if identifier == parent:
            raise WsOneFailure(_C.INVALID_VALUE, "An entity cannot be its own parent")
        old = self._entities.get(identifier)
        if old is not None and old.parent != parent:
            raise WsOneFailure(_C.INVALID_VALUE, "An existing entity cannot change parent")
        entity = Entity(identifier, label, parent)
        self._entities[identifier] = entity
        if old is None:
            self._children.setdefault(identifier, [])
            if parent is not None:
                self._children[parent].append(identifier)
        return entity

    def add_offer(self, offer: CatalogOffer) -> CatalogOffer:
        """Add (or replace) an offer of the catalogue."""
        self._catalog[offer.offer_id] = offer
        return offer

    def add_form(self, form: Form) -> Form:
        """Add (or replace) a form."""
        self._forms[form.form_id] = form
        return form

    def add_person(
        self,
        profile: Profile | None = None,
        *,
        identifiers: Iterable[IdentifierSpec] = (),
        subscriptions: Iterable[tuple[int, bool | None]] = (),
        source: str | None = None,
        points: int = 0,
        visits: int = 0,
        offers: Iterable[str] = (),
    ) -> Person:
        """Create a person directly (seeding), under the same rules as createPerson.

        Identifiers without a value are generated cards; with no identifier at all, the
        person gets a generated card. ``offers`` are catalogue offer ids to grant.
        """
        specs = list(identifiers) or [IdentifierSpec(CARD)]
        offer_ids = list(offers)
        for offer_id in offer_ids:
            self._catalog_offer(offer_id)
        person = self._create(profile, specs, list(subscriptions), source)
        person.points = points
        person.visits = visits
        for offer_id in offer_ids:
            self.grant_offer(person, offer_id)
        return person

    def grant_offer(self, person: Person, offer_id: str) -> PersonOffer:
        """Give ``person`` a numbered copy of catalogue offer ``offer_id``."""
        offer = self._catalog_offer(offer_id)
        now = self._clock().replace(microsecond=0)
        start = now.replace(hour=0, minute=0, second=0)
        end = start + dt.timedelta(days=offer.validity_days) - dt.timedelta(seconds=1)
        number = self._new_number(_OFFER_PREFIX, self._offer_seq, self._offer_taken)
        copy = PersonOffer(number, offer, start, end, now)
        person.offers[number] = copy
        self._offer_owner[number] = person
        return copy

    def _offer_taken(self, number: str) -> bool:
        return number in self._offer_owner

    # ----------------------------------------------------------------- inspection

    def persons_count(self) -> int:
        """Number of persons."""
        return len(self._persons)

    def identifiers_count(self) -> int:
        """Number of active identifiers (retired ones excluded)."""
        return len(self._identifiers)

    def persons(self) -> Iterator[Person]:
        """Every person, oldest first."""
        return iter(self._persons.values())

    def person(self, groupe_id: str) -> Person | None:
        """The person with this ``groupeId``, or None."""
        return self._persons.get(groupe_id)

    def person_by_identifier(self, identifier_type: int, value: str) -> Person | None:
        """The person holding identifier ``(identifier_type, value)``, or None."""
        return self._identifiers.get(_identifier_key(identifier_type, value))

    def identifiers_of(self, person: Person | str) -> list[tuple[int, str]]:
        """The active identifiers ``(type, value)`` of a person (or of its ``groupeId``)."""
        found = self._persons.get(person) if isinstance(person, str) else person
        if found is None:
            return []
        return [(i.type, i.value) for i in found.identifiers]

    def persons_per_identifier(self) -> dict[tuple[int, str], int]:
        """How many persons list each identifier, counted from the persons themselves.

        Independent of the identifier index, so it catches a broken uniqueness rule:
        every count must be 1 (see :meth:`shared_identifiers`). Costs a full scan.
        """
        counts: Counter[tuple[int, str]] = Counter()
        for person in self._persons.values():
            for key in {_identifier_key(i.type, i.value) for i in person.identifiers}:
                counts[key] += 1
        return dict(counts)

    def shared_identifiers(self) -> list[tuple[int, str]]:
        """Identifiers held by more than one person: always empty unless a rule broke."""
        return [key for key, n in self.persons_per_identifier().items() if n > 1]

    def transactions_count(self, status: TransactionStatus | str | None = None) -> int:
        """Number of transactions, or of those with ``status``."""
        if status is None:
            return len(self._transactions)
        return self._status_counts[TransactionStatus(status)]

    def transaction(self, transaction_id: str) -> Transaction | None:
        """The transaction with this id, or None."""
        return self._transactions.get(transaction_id)

    def transaction_by_receipt(self, entity_id: str, receipt_number: str) -> Transaction | None:
        """The latest transaction recorded for this store and receipt number, or None."""
        return self._receipts.get((entity_id, receipt_number.strip()))

    def points_total(self) -> int:
        """Sum of every person's points balance."""
        return sum(p.points for p in self._persons.values())

    def state(self) -> dict[str, Any]:
        """Counts of everything, as ``GET /_control/state`` reports them."""
        return {
            "persons": len(self._persons),
            "identifiers": len(self._identifiers),
            "retiredIdentifiers": len(self._retired),
            "sharedIdentifiers": len(self.shared_identifiers()),
            "transactions": {str(s): self._status_counts[s] for s in TransactionStatus},
            "pointsTotal": self.points_total(),
            "visitsTotal": sum(p.visits for p in self._persons.values()),
            "entities": len(self._entities),
            "catalogOffers": len(self._catalog),
            "forms": len(self._forms),
        }

    # ------------------------------------------------------------ shared lookups

    def entity(self, entity_id: str) -> Entity:
        """The entity ``entity_id``; unknown -> 201."""
        entity = self._entities.get(entity_id)
        if entity is None:
            raise WsOneFailure(_C.ENTITY_NOT_FOUND)
        return entity

    def find(self, spec: IdentifierSpec) -> Person:
        """The person holding identifier ``spec``; unknown -> 101."""
        person = self._lookup(spec)
        if person is None:
            raise WsOneFailure(_C.PERSON_NOT_FOUND)
        return person

    def _lookup(self, spec: IdentifierSpec) -> Person | None:
        if spec.value is None:
            return None
        return self._identifiers.get(_identifier_key(spec.type, spec.value))

    def _catalog_offer(self, offer_id: str) -> CatalogOffer:
        offer = self._catalog.get(offer_id)
        if offer is None:
            raise WsOneFailure(_C.OFFER_NOT_FOUND, "Offer unknown in the catalogue")
        return offer

    def _root(self) -> Entity:
        root = self._entities.get(_ROOT_ENTITY)
        if root is not None:
            return root
        for entity in self._entities.values():
            if entity.parent is None:
                return entity
        return Entity(_ROOT_ENTITY, "RESEAU")

    # --------------------------------------------------------------- identifiers

    def _new_number(self, prefix: str, seq: Iterator[int], taken: Callable[[str], bool]) -> str:
        width = 12 - len(prefix)
        while True:
            number = ean13(f"{prefix}{next(seq) % 10**width:0{width}d}")
            if not taken(number):
                return number

    def _card_taken(self, number: str) -> bool:
        key = (CARD, number)
        return key in self._identifiers or key in self._retired

    def _check_new_identifier(self, spec: IdentifierSpec, *, owner: Person | None = None) -> None:
        """Refuse an identifier that cannot be given (to ``owner``, when it is known)."""
        if spec.type < 1:
            raise WsOneFailure(_C.IDENTIFIER_TYPE_NOT_ALLOWED)
        if spec.value is None:
            if spec.type != CARD:
                raise WsOneFailure(
                    _C.IDENTIFIER_TYPE_NOT_ALLOWED, "Only cards (type 1) can be generated"
                )
            return
        value = spec.value.strip()
        if not value:
            raise WsOneFailure(_C.INVALID_VALUE, "identifierValue is blank")
        if spec.type == WEB_ACCOUNT and "@" not in value:
            raise WsOneFailure(_C.INVALID_VALUE, "A web account's identifierValue is an email")
        key = _identifier_key(spec.type, value)
        holder = self._identifiers.get(key)
        if key in self._retired or (holder is not None and holder is not owner):
            raise WsOneFailure(_C.DUPLICATE_IDENTIFIER)

    def _check_new_identifiers(self, specs: list[IdentifierSpec]) -> None:
        seen: set[tuple[int, str]] = set()
        for spec in specs:
            self._check_new_identifier(spec)
            if spec.value is not None:
                key = _identifier_key(spec.type, spec.value)
                if key in seen:
                    raise WsOneFailure(_C.DUPLICATE_IDENTIFIER)
                seen.add(key)

    def _attach(self, person: Person, spec: IdentifierSpec) -> Identifier:
        # Checked beforehand by _check_new_identifier.
        value = (
            spec.value.strip()
            if spec.value is not None
            else self._new_number(_CARD_PREFIX, self._card_seq, self._card_taken)
        )
        identifier = Identifier(spec.type, value, self._clock())
        person.identifiers.append(identifier)
        self._identifiers[_identifier_key(spec.type, value)] = person
        if spec.type == WEB_ACCOUNT:
            self._index(self._by_email, _fold(value), person)
        return identifier

    # ---------------------------------------------------------- search indexes

    @staticmethod
    def _index(index: dict[Any, set[Person]], key: Any, person: Person) -> None:
        if key is not None:
            index.setdefault(key, set()).add(person)

    @staticmethod
    def _unindex(index: dict[Any, set[Person]], key: Any, person: Person) -> None:
        if key is None:
            return
        holders = index.get(key)
        if holders is not None:
            holders.discard(person)
            if not holders:
                del index[key]

    def _emails(self, person: Person) -> set[str]:
        emails = {_fold(i.value) for i in person.identifiers if i.type == WEB_ACCOUNT} | {
            _fold(person.email.value if person.email else None)
        }
        return {e for e in emails if e is not None}

    def _profile_keys(self, person: Person) -> list[tuple[dict[Any, set[Person]], Any]]:
        phone = _digits(person.cell_phone.number if person.cell_phone else None)
        keys: list[tuple[dict[Any, set[Person]], Any]] = [
            (self._by_last, _fold(person.last_name)),
            (self._by_first, _fold(person.first_name)),
            (self._by_birth, person.birth_date),
            (self._by_title, person.title),
            (self._by_phone, phone),
        ]
        keys.extend((self._by_email, email) for email in self._emails(person))
        return keys

    def search(self, criteria: SearchCriteria) -> list[Person]:
        """Persons matching every given criterion, oldest first; none given -> 104.

        Names and emails compare case-insensitively, phones by their digits. Emails match a
        person's contact email and its web accounts. Costs the size of the smallest index
        entry among the criteria, never a scan of all persons.
        """
        wanted: list[tuple[dict[Any, set[Person]], Any]] = [
            (self._by_last, _fold(criteria.last_name)),
            (self._by_first, _fold(criteria.first_name)),
            (self._by_birth, criteria.birth_date),
            (self._by_title, criteria.title),
            (self._by_email, _fold(criteria.email)),
            (self._by_phone, _digits(criteria.phone)),
        ]
        sets = [index.get(key, set()) for index, key in wanted if key is not None]
        if not sets:
            raise WsOneFailure(_C.NO_CRITERIA)
        sets.sort(key=len)
        smallest, others = sets[0], sets[1:]
        found = [p for p in smallest if all(p in other for other in others)]
        found.sort(key=lambda p: p.seq)
        return found[: self.max_search_results]

    # ------------------------------------------------------------------ profile

    def _check_profile(self, profile: Profile | None) -> None:
        if profile is None:
            return
        if profile.entity_id is not None:
            self.entity(profile.entity_id)
        if profile.birth_date is not None and profile.birth_date > self._clock().date():
            raise WsOneFailure(_C.INVALID_VALUE, "birthDate is in the future")

    def _apply_profile(
        self,
        person: Person,
        profile: Profile | None,
        subscriptions: Iterable[tuple[int, bool | None]],
    ) -> None:
        keys = self._profile_keys(person)
        for index, key in keys:
            self._unindex(index, key, person)
        if profile is not None:
            for name in ("first_name", "last_name", "birth_date", "title", "entity_id"):
                value = getattr(profile, name)
                if value is not None:
                    setattr(person, name, value)
            person.email = _merge(person.email, profile.email)
            person.cell_phone = _merge(person.cell_phone, profile.cell_phone)
            person.address = _merge(person.address, profile.address)
        for index, key in self._profile_keys(person):
            self._index(index, key, person)
        now = self._clock()
        for sub_id, activate in subscriptions:
            current = person.subscriptions.get(sub_id)
            if current is None:
                label = _SUBSCRIPTION_LABELS.get(sub_id, f"SUBSCRIPTION_{sub_id}")
                active = True if activate is None else activate
                person.subscriptions[sub_id] = Subscription(sub_id, label, active, now)
            elif activate is not None and activate != current.active:
                current.active = activate
                current.updated_at = now

    def _create(
        self,
        profile: Profile | None,
        specs: list[IdentifierSpec],
        subscriptions: list[tuple[int, bool | None]],
        source: str | None,
    ) -> Person:
        """Check, then create a person with identifiers ``specs`` (generated if no value)."""
        self._check_profile(profile)
        self._check_new_identifiers(specs)
        seq = next(self._person_seq)
        person = Person(seq=seq, groupe_id=str(seq), created_at=self._clock(), source=source)
        self._persons[person.groupe_id] = person
        for spec in specs:
            self._attach(person, spec)
        self._apply_profile(person, profile, subscriptions)
        self._award(person, _BADGE_WELCOME)
        for offer in self._catalog.values():
            if offer.welcome:
                self.grant_offer(person, offer.offer_id)
        return person

    def _award(self, person: Person, badge: tuple[str, str]) -> None:
        badge_id, label = badge
        if badge_id not in person.badges:
            person.badges[badge_id] = Badge(badge_id, label, self._clock())

    # ------------------------------------------------------------ WS Person ops

    def create_person(
        self,
        identifier: IdentifierSpec,
        profile: Profile | None = None,
        subscriptions: Iterable[tuple[int, bool | None]] = (),
        source: str | None = None,
    ) -> Person:
        """createPerson: a person with a given identifier (its value is required)."""
        if identifier.value is None:
            raise WsOneFailure(_C.MISSING_FIELD, "NewIdentifierRequest.identifierValue is required")
        return self._create(profile, [identifier], list(subscriptions), source)

    def create_person_and_identifier(
        self,
        identifier: IdentifierSpec | None,
        new_identifier_type: int | None,
        profile: Profile | None = None,
        subscriptions: Iterable[tuple[int, bool | None]] = (),
        source: str | None = None,
    ) -> tuple[Person, Identifier]:
        """createPersonAndIdentifier: a person with its identifier and a generated card.

        The identifier the customer comes with (``identifier``, when it has a value) is
        attached, and a card of ``new_identifier_type`` (default 1) is generated, unless the
        customer came with an identifier of that very type. Returns the new person and
        its card.
        """
        specs: list[IdentifierSpec] = []
        generate = new_identifier_type
        if identifier is not None and identifier.value is not None:
            specs.append(identifier)
        elif identifier is not None:
            if generate is not None and generate != identifier.type:
                raise WsOneFailure(
                    _C.MISSING_FIELD, "NewIdentifierRequest.identifierValue is required"
                )
            generate = identifier.type
        if generate is None:
            generate = CARD
        came_with = next((s for s in specs if s.type == generate), None)
        if came_with is None:
            specs.append(IdentifierSpec(generate))
        person = self._create(profile, specs, list(subscriptions), source)
        card = next(i for i in person.identifiers if i.type == generate)
        return person, card

    def create_identifier(self, key: IdentifierSpec, new_identifier_type: int | None) -> Identifier:
        """createIdentifier: generate a card for an existing person."""
        person = self.find(key)
        spec = IdentifierSpec(CARD if new_identifier_type is None else new_identifier_type)
        self._check_new_identifier(spec)
        return self._attach(person, spec)

    def associate_new_identifier(self, key: IdentifierSpec, new: IdentifierSpec) -> Identifier:
        """associateNewIdentifier: add an identifier (generated when it has no value)."""
        person = self.find(key)
        self._check_new_identifier(new)
        return self._attach(person, new)

    def associate_identifier(self, key: IdentifierSpec, existing: IdentifierSpec) -> None:
        """associateIdentifier: attach an existing identifier, such as a pre-printed card.

        Attaching an identifier the person already holds changes nothing; one held by
        another person (or retired) is refused with 102.
        """
        person = self.find(key)
        if existing.value is None:
            raise WsOneFailure(
                _C.MISSING_FIELD, "AssociatedIdentifierRequest.identifierValue is required"
            )
        self._check_new_identifier(existing, owner=person)
        if self._lookup(existing) is not person:
            self._attach(person, existing)

    def replace_identifier(self, key: IdentifierSpec, new: IdentifierSpec) -> Identifier:
        """replaceIdentifier: retire identifier ``key``, attach ``new`` (generated if no value)."""
        person = self.find(key)
        # The old identifier is still held, so replacing it by itself is a duplicate too.
        self._check_new_identifier(new)
        assert key.value is not None  # find() succeeded
        old_key = _identifier_key(key.type, key.value)
        old = next(i for i in person.identifiers if _identifier_key(i.type, i.value) == old_key)
        person.identifiers.remove(old)
        person.retired.append(old)
        del self._identifiers[old_key]
        self._retired.add(old_key)
        if old.type == WEB_ACCOUNT:
            self._unindex(self._by_email, _fold(old.value), person)
            self._index_emails_again(person)
        return self._attach(person, new)

    def _index_emails_again(self, person: Person) -> None:
        for email in self._emails(person):
            self._index(self._by_email, email, person)

    def update_person(
        self,
        key: IdentifierSpec,
        profile: Profile | None,
        subscriptions: Iterable[tuple[int, bool | None]] = (),
    ) -> Person:
        """updatePerson: change the given profile fields and subscriptions."""
        person = self.find(key)
        self._check_profile(profile)
        self._apply_profile(person, profile, subscriptions)
        return person

    def accounts(self, person: Person) -> list[Account]:
        """The person's balances: visits and points, held by the network's root."""
        root = self._root()
        return [
            Account("visites", person.visits, "visites", root),
            Account("point", person.points, "pts", root),
        ]

    def badges(self, person: Person) -> list[Badge]:
        """The person's badges, oldest first."""
        return list(person.badges.values())

    def offers(
        self, person: Person, at: dt.datetime | None = None, *, usable_now: bool
    ) -> list[PersonOffer]:
        """The person's unused offers: usable at ``at``, or not expired at ``at``."""
        when = at or self._clock()
        return [
            o
            for o in person.offers.values()
            if not o.used and (o.valid_at(when) if usable_now else o.end >= when)
        ]

    def edit_offer(
        self, key: IdentifierSpec, offer_number: str, *, used: bool, at: dt.datetime | None = None
    ) -> PersonOffer:
        """editOffer: mark one of the person's offers used (302 if it is) or unused."""
        person = self.find(key)
        offer = person.offers.get(offer_number.strip())
        if offer is None:
            raise WsOneFailure(_C.OFFER_NOT_FOUND)
        if used:
            if offer.used:
                raise WsOneFailure(_C.OFFER_ALREADY_USED)
            if not offer.valid_at(at or self._clock()):
                raise WsOneFailure(_C.OFFER_NOT_VALID)
        offer.used = used
        return offer

    def form(self, key: IdentifierSpec, form_id: str) -> tuple[Form, Mapping[str, str]]:
        """getForm: the form and the person's answers by question id."""
        person = self.find(key)
        form = self._forms.get(form_id)
        if form is None:
            raise WsOneFailure(_C.FORM_NOT_FOUND)
        return form, person.answers.get(form_id, {})

    def update_form(
        self, key: IdentifierSpec, form_id: str, answers: Iterable[tuple[str, str | None]]
    ) -> None:
        """updateForm: record answers (a None or empty answer removes the answer)."""
        person = self.find(key)
        form = self._forms.get(form_id)
        if form is None:
            raise WsOneFailure(_C.FORM_NOT_FOUND)
        answers = list(answers)
        for question_id, _ in answers:
            if question_id not in form.questions:
                raise WsOneFailure(_C.QUESTION_NOT_FOUND)
        recorded = person.answers.setdefault(form_id, {})
        for question_id, answer in answers:
            if answer:
                recorded[question_id] = answer
            else:
                recorded.pop(question_id, None)

    def entities(self, under: str | None = None) -> list[Entity]:
        """getEntities: every entity, or those below ``under``, parents before children."""
        if under is None:
            starts = [e.identifier for e in self._entities.values() if e.parent is None]
        else:
            starts = list(self._children[self.entity(under).identifier])
        found: list[Entity] = []
        stack = list(reversed(starts))
        while stack:
            current = stack.pop()
            found.append(self._entities[current])
            stack.extend(reversed(self._children[current]))
        return found

    def entity_parents(self, entity_id: str) -> list[Entity]:
        """getEntityParents: the entities above ``entity_id``, nearest first."""
        entity = self.entity(entity_id)
        parents: list[Entity] = []
        while entity.parent is not None:
            entity = self._entities[entity.parent]
            parents.append(entity)
        return parents

    # ------------------------------------------------------------ WS Transaction

    def _draft(self, person: Person | None, receipt: Receipt) -> _Draft:
        """Check a receipt against the rules (``person`` None: a person yet to create)."""
        if receipt.entity_id is None:
            raise WsOneFailure(_C.MISSING_FIELD, "ReceiptRequest.EntityRequest is required")
        if receipt.receipt_number is None or not receipt.receipt_number.strip():
            raise WsOneFailure(_C.MISSING_FIELD, "ReceiptRequest.receiptNumber is required")
        entity = self.entity(receipt.entity_id)
        number = receipt.receipt_number.strip()
        previous = self._receipts.get((entity.identifier, number))
        if previous is not None and previous.status is not TransactionStatus.CANCELLED:
            raise WsOneFailure(_C.RECEIPT_ALREADY_RECORDED)
        if any(abs(a) >= _MAX_AMOUNT for a in receipt.line_amounts):
            raise WsOneFailure(_C.INVALID_VALUE, "DetailsRequest.amount is out of range")
        if receipt.amount is not None:
            amount = receipt.amount
        elif receipt.line_amounts:
            amount = round(math.fsum(receipt.line_amounts), 2)
        else:
            raise WsOneFailure(_C.MISSING_FIELD, "ReceiptRequest.amount is required")
        if not math.isfinite(amount) or abs(amount) >= _MAX_AMOUNT:
            raise WsOneFailure(_C.INVALID_VALUE, "ReceiptRequest.amount is out of range")
        spent = 0
        offer_numbers: list[str] = []
        for advantage in receipt.advantages:
            if advantage.offer_number is not None:
                number_of_offer = advantage.offer_number.strip()
                if person is None or number_of_offer not in person.offers:
                    raise WsOneFailure(_C.OFFER_NOT_FOUND)
                if number_of_offer in offer_numbers:
                    raise WsOneFailure(_C.OFFER_ALREADY_USED)
                offer_numbers.append(number_of_offer)
            elif advantage.name is not None and advantage.name.casefold() in _POINT_ACCOUNTS:
                value = advantage.value or 0.0
                if value < 0 or not float(value).is_integer() or value >= _MAX_AMOUNT:
                    raise WsOneFailure(
                        _C.INVALID_VALUE, "AccountAdvantageRequest.value must be whole points"
                    )
                spent += int(value)
            else:
                raise WsOneFailure(
                    _C.INVALID_VALUE,
                    "AccountAdvantageRequest needs an offerNumber or a points account",
                )
        return _Draft(
            entity=entity,
            receipt_number=number,
            receipt_date=receipt.receipt_date,
            amount=amount,
            points=max(0, math.floor(amount)),
            points_spent=spent,
            offer_numbers=tuple(offer_numbers),
        )

    def _check_validation(
        self,
        person: Person | None,
        points_spent: int,
        offer_numbers: tuple[str, ...],
        amount: float,
        when: dt.datetime | None,
    ) -> None:
        balance = person.points if person is not None else 0
        if points_spent > balance:
            raise WsOneFailure(_C.NOT_ENOUGH_POINTS)
        moment = when or self._clock()
        for number in offer_numbers:
            if person is None or number not in person.offers:
                raise WsOneFailure(_C.OFFER_NOT_FOUND)
            offer = person.offers[number]
            if offer.used:
                raise WsOneFailure(_C.OFFER_ALREADY_USED)
            if not offer.valid_at(moment):
                raise WsOneFailure(_C.OFFER_NOT_VALID)
            if amount < offer.offer.global_min_price:
                raise WsOneFailure(_C.OFFER_NOT_VALID, "The receipt is below the offer's minimum")

    def _record(self, person: Person, draft: _Draft) -> Transaction:
        transaction = Transaction(
            transaction_id=str(next(self._transaction_seq)),
            person=person,
            entity=draft.entity,
            receipt_number=draft.receipt_number,
            receipt_date=draft.receipt_date,
            amount=draft.amount,
            points=draft.points,
            points_spent=draft.points_spent,
            offer_numbers=draft.offer_numbers,
            status=TransactionStatus.SENT,
            recorded_at=self._clock(),
        )
        self._transactions[transaction.transaction_id] = transaction
        self._receipts[(draft.entity.identifier, draft.receipt_number)] = transaction
        self._status_counts[TransactionStatus.SENT] += 1
        person.transactions.append(transaction)
        return transaction

    def _set_status(self, transaction: Transaction, status: TransactionStatus) -> None:
        self._status_counts[transaction.status] -= 1
        self._status_counts[status] += 1
        transaction.status = status

    def _validate(self, transaction: Transaction) -> None:
        # Checked beforehand by _check_validation.
        person = transaction.person
        person.points += transaction.points - transaction.points_spent
        person.visits += 1
        for number in transaction.offer_numbers:
            person.offers[number].used = True
        self._set_status(transaction, TransactionStatus.VALIDATED)
        self._award(person, _BADGE_FIRST_PURCHASE)
        if person.visits >= _LOYAL_VISITS:
            self._award(person, _BADGE_LOYAL)

    def send_transaction(
        self, key: IdentifierSpec, receipt: Receipt, *, validate: bool = False
    ) -> Transaction:
        """sendTransaction (SENT), or with ``validate`` sendAndValid/sendSimple (VALIDATED)."""
        person = self.find(key)
        draft = self._draft(person, receipt)
        if validate:
            self._check_validation(
                person, draft.points_spent, draft.offer_numbers, draft.amount, draft.receipt_date
            )
        transaction = self._record(person, draft)
        if validate:
            self._validate(transaction)
        return transaction

    def send_and_valid_full(
        self, key: IdentifierSpec | None, full: FullPerson | None, receipt: Receipt
    ) -> Transaction:
        """sendAndValidFullTransaction: create or update the person, then record and validate.

        The person is the one holding ``key`` (or ``full.identifier``); if there is none, it
        is created with those identifiers (a card is generated for an identifier without a
        value). Nothing changes unless the whole call succeeds.
        """
        full = full or FullPerson()
        person = self._lookup(key) if key is not None else None
        if person is None and full.identifier is not None:
            person = self._lookup(full.identifier)
        self._check_profile(full.profile)
        specs: list[IdentifierSpec] = []
        if person is None:
            specs = [s for s in (key, full.identifier) if s is not None]
            if len(specs) > 1 and specs[0] == specs[1]:
                specs.pop()
            if not specs:
                raise WsOneFailure(_C.MISSING_FIELD, "IdentifierRequest is required")
            self._check_new_identifiers(specs)
        draft = self._draft(person, receipt)
        self._check_validation(
            person, draft.points_spent, draft.offer_numbers, draft.amount, draft.receipt_date
        )
        if person is None:
            person = self._create(full.profile, specs, list(full.subscriptions), None)
        else:
            self._apply_profile(person, full.profile, full.subscriptions)
        transaction = self._record(person, draft)
        self._validate(transaction)
        return transaction

    def _owned(self, transaction: Transaction | None, person: Person) -> Transaction:
        if transaction is None or transaction.person is not person:
            raise WsOneFailure(_C.TRANSACTION_NOT_FOUND)
        return transaction

    def _by_receipt(self, entity_id: str | None, receipt_number: str | None) -> Transaction | None:
        if entity_id is None or receipt_number is None:
            raise WsOneFailure(
                _C.MISSING_FIELD,
                "ReceiptRequest.EntityRequest and ReceiptRequest.receiptNumber are required",
            )
        self.entity(entity_id)
        return self._receipts.get((entity_id, receipt_number.strip()))

    def valid_transaction(
        self,
        key: IdentifierSpec,
        transaction_id: str | None = None,
        entity_id: str | None = None,
        receipt_number: str | None = None,
    ) -> Transaction:
        """validTransaction: validate a SENT receipt, by id or by store and receipt number."""
        person = self.find(key)
        if transaction_id is not None:
            found = self._transactions.get(transaction_id.strip())
        else:
            found = self._by_receipt(entity_id, receipt_number)
        transaction = self._owned(found, person)
        if transaction.status is TransactionStatus.CANCELLED:
            raise WsOneFailure(_C.TRANSACTION_CANCELLED)
        if transaction.status is not TransactionStatus.SENT:
            raise WsOneFailure(_C.TRANSACTION_ALREADY_VALIDATED)
        self._check_validation(
            person,
            transaction.points_spent,
            transaction.offer_numbers,
            transaction.amount,
            transaction.receipt_date,
        )
        self._validate(transaction)
        return transaction

    def verify_transaction(
        self, key: IdentifierSpec, entity_id: str | None, receipt_number: str | None
    ) -> Transaction | None:
        """verifyTransaction: the person's receipt with this identity, or None."""
        person = self.find(key)
        found = self._by_receipt(entity_id, receipt_number)
        return found if found is not None and found.person is person else None

    def cancel_not_validated(
        self, key: IdentifierSpec, entity_id: str | None = None
    ) -> list[Transaction]:
        """cancelTransactionsNotValidated: cancel the person's SENT receipts (of one store)."""
        person = self.find(key)
        if entity_id is not None:
            self.entity(entity_id)
        cancelled = [
            t
            for t in person.transactions
            if t.status is TransactionStatus.SENT
            and (entity_id is None or t.entity.identifier == entity_id)
        ]
        for transaction in cancelled:
            self._set_status(transaction, TransactionStatus.CANCELLED)
        return cancelled

    def refund_transaction(
        self, key: IdentifierSpec, entity_id: str | None, receipt_number: str | None
    ) -> Transaction:
        """refundTransaction: reverse a VALIDATED receipt (points, visit, offers)."""
        person = self.find(key)
        transaction = self._owned(self._by_receipt(entity_id, receipt_number), person)
        if transaction.status is TransactionStatus.CANCELLED:
            raise WsOneFailure(_C.TRANSACTION_CANCELLED)
        if transaction.status is TransactionStatus.SENT:
            raise WsOneFailure(_C.TRANSACTION_NOT_VALIDATED)
        if transaction.status is TransactionStatus.REFUNDED:
            raise WsOneFailure(_C.TRANSACTION_ALREADY_REFUNDED)
        person.points -= transaction.points - transaction.points_spent
        person.visits -= 1
        for number in transaction.offer_numbers:
            person.offers[number].used = False
        self._set_status(transaction, TransactionStatus.REFUNDED)
        return transaction

    def last_transaction(
        self, key: IdentifierSpec, entity_id: str | None = None
    ) -> Transaction | None:
        """getLastTransaction: the person's most recently recorded receipt (of one store)."""
        person = self.find(key)
        if entity_id is not None:
            self.entity(entity_id)
        for transaction in reversed(person.transactions):
            if entity_id is None or transaction.entity.identifier == entity_id:
                return transaction
        return None
