"""The simulator's in-memory WsOne: persons, identifiers, offers, forms, stores, receipts.

Pure Python and synchronous: no HTTP here (``_handlers`` parses requests and writes
answers). Every operation checks everything before it changes anything, so a refused call
leaves the state as it was, and since it never awaits, concurrent requests cannot interleave
inside one operation. Functional failures raise :class:`WsOneFailure` with one of the
simulator's codes (:class:`~wsone_async.testing.SimulatorCode`).

:class:`WsOneBackend` holds the persons, the network of stores, the offer catalogue and
the forms, and delegates by concern: who holds which identifier to
:class:`~wsone_async.testing._identities.Identities`, searchPerson's index to
:class:`~wsone_async.testing._search.SearchIndex` (refreshed in one place,
:meth:`WsOneBackend._changed`), receipts and points to
:class:`~wsone_async.testing._ledger.Ledger`. Every lookup goes through an index, so a
request costs the same with ten persons or a million.

Business rules (the simulator's reading of WsOne's workflows), besides those of identities
and receipts (see their modules): a new person receives the catalogue's welcome offers and
the ``BIENVENUE`` badge; a first validated receipt earns ``PREMIER_ACHAT``, ten visits
``FIDELE_10_VISITES``.
"""

from __future__ import annotations

import datetime as dt
import functools
import itertools
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any, Final

from wsone_async.testing._codes import SimulatorCode
from wsone_async.testing._identities import Identities, new_number
from wsone_async.testing._ledger import Ledger
from wsone_async.testing._records import (
    CARD,
    WEB_ACCOUNT,
    Account,
    Address,
    Advantage,
    Badge,
    CatalogOffer,
    CellPhone,
    Email,
    Entity,
    Form,
    FullPerson,
    Identifier,
    IdentifierSpec,
    Person,
    PersonOffer,
    Profile,
    Receipt,
    SearchCriteria,
    Subscription,
    Transaction,
    TransactionStatus,
    WsOneFailure,
    ean13,
    identifier_key,
    is_valid_ean13,
    merge,
)
from wsone_async.testing._search import SearchIndex

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

_C = SimulatorCode

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

_FIRST_GROUPE_ID: Final = 1_000_001
_OFFER_PREFIX: Final = "2558"
_PROFILE_FIELDS: Final = ("first_name", "last_name", "birth_date", "title", "entity_id")


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
        self._identities = Identities()
        self._search = SearchIndex()
        self._ledger = Ledger(self.entity)
        self._entities: dict[str, Entity] = {}
        self._children: dict[str, list[str]] = {}
        self._catalog: dict[str, CatalogOffer] = {}
        self._welcome: list[CatalogOffer] = []
        self._forms: dict[str, Form] = {}
        self._person_seq = itertools.count(_FIRST_GROUPE_ID)
        self._offer_seq = itertools.count(1)
        self._offer_owner: dict[str, Person] = {}
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

    @property
    def search_index(self) -> SearchIndex:
        """searchPerson's index (its ``examined`` count tells what searches cost)."""
        return self._search

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
        self._welcome = [o for o in self._catalog.values() if o.welcome]
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

    def grant_offer(
        self, person: Person, offer_id: str, *, now: dt.datetime | None = None
    ) -> PersonOffer:
        """Give ``person`` a numbered copy of catalogue offer ``offer_id``."""
        return self._grant(person, self._catalog_offer(offer_id), now or self._clock())

    def _grant(self, person: Person, offer: CatalogOffer, now: dt.datetime) -> PersonOffer:
        now = now.replace(microsecond=0)
        start, end = self._validity(now.replace(hour=0, minute=0, second=0), offer.validity_days)
        number = new_number(_OFFER_PREFIX, self._offer_seq, self._offer_owner.__contains__)
        copy = PersonOffer(number, offer, start, end, now)
        person.offers[number] = copy
        self._offer_owner[number] = person
        return copy

    @staticmethod
    @functools.lru_cache(maxsize=64)
    def _validity(start: dt.datetime, days: int) -> tuple[dt.datetime, dt.datetime]:
        # From midnight for ``days`` days; the same for every offer granted that day.
        return start, start + dt.timedelta(days=days, seconds=-1)

    # ----------------------------------------------------------------- inspection

    def persons_count(self) -> int:
        """Number of persons."""
        return len(self._persons)

    def identifiers_count(self) -> int:
        """Number of active identifiers (retired ones excluded)."""
        return len(self._identities)

    def persons(self) -> Iterator[Person]:
        """Every person, oldest first."""
        return iter(self._persons.values())

    def person(self, groupe_id: str) -> Person | None:
        """The person with this ``groupeId``, or None."""
        return self._persons.get(groupe_id)

    def person_by_identifier(self, identifier_type: int, value: str) -> Person | None:
        """The person holding identifier ``(identifier_type, value)``, or None."""
        return self._identities.holder(IdentifierSpec(identifier_type, value))

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
            for key in {identifier_key(i.type, i.value) for i in person.identifiers}:
                counts[key] += 1
        return dict(counts)

    def shared_identifiers(self) -> list[tuple[int, str]]:
        """Identifiers held by more than one person: always empty unless a rule broke."""
        return [key for key, n in self.persons_per_identifier().items() if n > 1]

    def transactions_count(self, status: TransactionStatus | str | None = None) -> int:
        """Number of transactions, or of those with ``status``."""
        if status is None:
            return len(self._ledger)
        return self._ledger.count(TransactionStatus(status))

    def transaction(self, transaction_id: str) -> Transaction | None:
        """The transaction with this id, or None."""
        return self._ledger.get(transaction_id)

    def transaction_by_receipt(self, entity_id: str, receipt_number: str) -> Transaction | None:
        """The latest transaction recorded for this store and receipt number, or None."""
        return self._ledger.by_receipt(entity_id, receipt_number)

    def points_total(self) -> int:
        """Sum of every person's points balance."""
        return sum(p.points for p in self._persons.values())

    def state(self) -> dict[str, Any]:
        """Counts of everything, as ``GET /_control/state`` reports them."""
        return {
            "persons": len(self._persons),
            "identifiers": len(self._identities),
            "retiredIdentifiers": self._identities.retired_count,
            "sharedIdentifiers": len(self.shared_identifiers()),
            "transactions": {str(s): self._ledger.count(s) for s in TransactionStatus},
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
        return self._identities.find(spec)

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

    # ------------------------------------------------------------------ profile

    def _check_profile(self, profile: Profile | None, now: dt.datetime) -> None:
        if profile is None:
            return
        if profile.entity_id is not None:
            self.entity(profile.entity_id)
        if profile.birth_date is not None and profile.birth_date > now.date():
            raise WsOneFailure(_C.INVALID_VALUE, "birthDate is in the future")

    def _changed(self, person: Person) -> None:
        # The one place that keeps the indexes in step after a person changed.
        self._search.update(person)

    def _apply_profile(
        self,
        person: Person,
        profile: Profile | None,
        subscriptions: Iterable[tuple[int, bool | None]],
        now: dt.datetime,
    ) -> None:
        if profile is not None:
            for name in _PROFILE_FIELDS:
                value = getattr(profile, name)
                if value is not None:
                    setattr(person, name, value)
            if profile.email is not None:
                person.email = merge(person.email, profile.email)
            if profile.cell_phone is not None:
                person.cell_phone = merge(person.cell_phone, profile.cell_phone)
            if profile.address is not None:
                person.address = merge(person.address, profile.address)
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
        now = self._clock()
        self._check_profile(profile, now)
        self._identities.check_new_all(specs)
        seq = next(self._person_seq)
        person = Person(seq=seq, groupe_id=str(seq), created_at=now, source=source)
        self._persons[person.groupe_id] = person
        for spec in specs:
            self._identities.attach(person, spec, now)
        self._apply_profile(person, profile, subscriptions, now)
        self._changed(person)
        badge_id, label = _BADGE_WELCOME
        person.badges[badge_id] = Badge(badge_id, label, now)
        for offer in self._welcome:
            self._grant(person, offer, now)
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

    def _attach(self, person: Person, spec: IdentifierSpec) -> Identifier:
        identifier = self._identities.attach(person, spec, self._clock())
        if spec.type == WEB_ACCOUNT:
            self._changed(person)  # a web account's email is a search key
        return identifier

    def create_identifier(self, key: IdentifierSpec, new_identifier_type: int | None) -> Identifier:
        """createIdentifier: generate a card for an existing person."""
        person = self.find(key)
        spec = IdentifierSpec(CARD if new_identifier_type is None else new_identifier_type)
        self._identities.check_new(spec)
        return self._attach(person, spec)

    def associate_new_identifier(self, key: IdentifierSpec, new: IdentifierSpec) -> Identifier:
        """associateNewIdentifier: add an identifier (generated when it has no value)."""
        person = self.find(key)
        self._identities.check_new(new)
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
        self._identities.check_new(existing, owner=person)
        if self._identities.holder(existing) is not person:
            self._attach(person, existing)

    def replace_identifier(self, key: IdentifierSpec, new: IdentifierSpec) -> Identifier:
        """replaceIdentifier: retire identifier ``key``, attach ``new`` (generated if no value)."""
        person = self.find(key)
        # The old identifier is still held, so replacing it by itself is a duplicate too.
        self._identities.check_new(new)
        self._identities.retire(person, key)
        identifier = self._identities.attach(person, new, self._clock())
        self._changed(person)
        return identifier

    def update_person(
        self,
        key: IdentifierSpec,
        profile: Profile | None,
        subscriptions: Iterable[tuple[int, bool | None]] = (),
    ) -> Person:
        """updatePerson: change the given profile fields and subscriptions."""
        person = self.find(key)
        now = self._clock()
        self._check_profile(profile, now)
        self._apply_profile(person, profile, subscriptions, now)
        self._changed(person)
        return person

    def search(self, criteria: SearchCriteria) -> list[Person]:
        """Persons matching every given criterion, oldest first; none given -> 104.

        Names and emails compare case-insensitively, phones by their digits. Emails match a
        person's contact email and its web accounts. Costs the size of the smallest index
        entry among the criteria, never a scan of all persons.
        """
        return self._search.search(criteria, self.max_search_results)

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

    def _validate(self, transaction: Transaction) -> None:
        # Checked beforehand by the ledger's check_validation.
        self._ledger.validate(transaction)
        person = transaction.person
        self._award(person, _BADGE_FIRST_PURCHASE)
        if person.visits >= _LOYAL_VISITS:
            self._award(person, _BADGE_LOYAL)

    def send_transaction(
        self, key: IdentifierSpec, receipt: Receipt, *, validate: bool = False
    ) -> Transaction:
        """sendTransaction (SENT), or with ``validate`` sendAndValid/sendSimple (VALIDATED)."""
        person = self.find(key)
        draft = self._ledger.draft(person, receipt)
        now = self._clock()
        if validate:
            self._ledger.check_validation(
                person,
                draft.points_spent,
                draft.offer_numbers,
                draft.amount,
                draft.receipt_date or now,
            )
        transaction = self._ledger.record(person, draft, now)
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
        now = self._clock()
        person = self._identities.holder(key) if key is not None else None
        if person is None and full.identifier is not None:
            person = self._identities.holder(full.identifier)
        self._check_profile(full.profile, now)
        specs: list[IdentifierSpec] = []
        if person is None:
            specs = [s for s in (key, full.identifier) if s is not None]
            if len(specs) > 1 and specs[0] == specs[1]:
                specs.pop()
            if not specs:
                raise WsOneFailure(_C.MISSING_FIELD, "IdentifierRequest is required")
            self._identities.check_new_all(specs)
        draft = self._ledger.draft(person, receipt)
        self._ledger.check_validation(
            person, draft.points_spent, draft.offer_numbers, draft.amount, draft.receipt_date or now
        )
        if person is None:
            person = self._create(full.profile, specs, list(full.subscriptions), None)
        else:
            self._apply_profile(person, full.profile, full.subscriptions, now)
            self._changed(person)
        transaction = self._ledger.record(person, draft, now)
        self._validate(transaction)
        return transaction

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
            found = self._ledger.get(transaction_id.strip())
        else:
            found = self._ledger.find_receipt(entity_id, receipt_number)
        transaction = self._ledger.owned(found, person)
        self._ledger.check_transaction(transaction, self._clock())
        self._validate(transaction)
        return transaction

    def verify_transaction(
        self, key: IdentifierSpec, entity_id: str | None, receipt_number: str | None
    ) -> Transaction | None:
        """verifyTransaction: the person's receipt with this identity, or None."""
        person = self.find(key)
        found = self._ledger.find_receipt(entity_id, receipt_number)
        return found if found is not None and found.person is person else None

    def cancel_not_validated(
        self, key: IdentifierSpec, entity_id: str | None = None
    ) -> list[Transaction]:
        """cancelTransactionsNotValidated: cancel the person's SENT receipts (of one store)."""
        person = self.find(key)
        if entity_id is not None:
            self.entity(entity_id)
        return self._ledger.cancel_sent(person, entity_id)

    def refund_transaction(
        self, key: IdentifierSpec, entity_id: str | None, receipt_number: str | None
    ) -> Transaction:
        """refundTransaction: reverse a VALIDATED receipt (points, visit, offers)."""
        person = self.find(key)
        transaction = self._ledger.owned(
            self._ledger.find_receipt(entity_id, receipt_number), person
        )
        self._ledger.refund(transaction)
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
