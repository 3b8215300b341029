"""The 29 operations through WsOneClient against the simulator: each call's effect on the state.

Every scenario below calls the typed methods of a real :class:`WsOneClient` over a real
socket to a fresh :class:`WsOneSimulator`, and checks what changed (balances, identifiers,
offers, answers, receipts), through the client and through the simulator's backend.

The client is a :class:`RecordingClient`: it records the name of every typed method that
returned an answer. ``test_the_scenarios_call_all_29_operations`` runs every scenario again
and checks that, together, they called all the operations of
:data:`wsone_async.operations.OPERATIONS`, so the claim "every operation is covered" fails
as soon as an operation is added or a scenario stops calling one.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from typing import Any, Self, TypeVar

import pytest

from tests._support.builders import card_key, enrol, profile, store, web_key
from wsone_async import APIError, WsOneClient, register_error_code
from wsone_async.errors import unregister_error_code
from wsone_async.models import (
    AccountAdvantageRequest,
    AssociatedIdentifierRequest,
    AssociateIdentifierRequest,
    AssociateNewIdentifierRequest,
    CancelTransactionsNotValidatedRequest,
    CellPhoneRequest,
    ContactsRequest,
    CreateIdentifierRequest,
    CreatePersonRequest,
    DetailsRequest,
    EditOfferRequest,
    EmailRequest,
    FormAnsweredRequest,
    FullPersonRequest,
    GetAccountsRequest,
    GetAvailableOffersRequest,
    GetBadgeRequest,
    GetEnableOffersRequest,
    GetEntitiesRequest,
    GetEntityParentsRequest,
    GetFormRequest,
    GetFullPersonRequest,
    GetLastTransactionRequest,
    GetPersonRequest,
    IdentifierRequest,
    IdentifierType,
    NewIdentifierRequest,
    PersonProfilRequest,
    PersonProfilResponse,
    PersonRequest,
    ReceiptRequest,
    RefundTransactionRequest,
    ReplaceIdentifierRequest,
    SearchPersonLiteRequest,
    SearchPersonRequest,
    SendAndValidFullTransactionRequest,
    SendAndValidTransactionRequest,
    SendSimpleTransactionRequest,
    SendTransactionRequest,
    SubscriptionRequest,
    UpdateFormRequest,
    UpdatePersonRequest,
    ValidTransactionRequest,
    VerifyTransactionRequest,
)
from wsone_async.operations import OPERATIONS
from wsone_async.testing import Person, TransactionStatus, WsOneSimulator, is_valid_ean13

CARD = IdentifierType.CARD
WEB = IdentifierType.WEB_ACCOUNT
LILLE, ROUBAIX, MARSEILLE = "123456", "111111", "666666"
PRINTED_CARD = "4006381333931"  # a valid EAN-13 nobody was given

# --------------------------------------------------------------------- the recording client

_F = TypeVar("_F", bound=Callable[..., Coroutine[Any, Any, Any]])


def _recording(name: str, method: _F) -> _F:
    @functools.wraps(method)
    async def recorded(self: RecordingClient, request: Any) -> Any:
        response = await method(self, request)
        self.called.add(name)  # only once the call returned an answer
        return response

    return recorded  # type: ignore[return-value]


class RecordingClient(WsOneClient):
    """A WsOneClient that records the names of the typed methods that returned an answer.

    Views made by ``with_options`` (as the client's own settling reads) are plain clients,
    so only the calls a test makes itself are recorded.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.called: set[str] = set()

    async def __aenter__(self) -> Self:
        await super().__aenter__()
        return self


for _op in OPERATIONS:
    setattr(
        RecordingClient,
        _op.method_name,
        _recording(_op.method_name, getattr(WsOneClient, _op.method_name)),
    )


def _open(sim: WsOneSimulator) -> RecordingClient:
    return RecordingClient(sim.url, username=sim.username, password=sim.password)


@pytest.fixture
async def client(sim: WsOneSimulator) -> AsyncIterator[RecordingClient]:
    async with _open(sim) as recording:
        yield recording


Scenario = Callable[[RecordingClient, WsOneSimulator], Awaitable[None]]
SCENARIOS: list[Scenario] = []


def scenario(test: Scenario) -> Scenario:
    """Register a test among the scenarios the coverage test runs again."""
    SCENARIOS.append(test)
    return test


# -------------------------------------------------------------------------------- helpers


def now() -> dt.datetime:
    return dt.datetime.now().replace(microsecond=0)


def receipt(number: str, amount: float | None, *, at: str = LILLE, **extra: Any) -> ReceiptRequest:
    return ReceiptRequest(
        receipt_number=number,
        receipt_date=now(),
        amount=amount,
        entity_request=store(at),
        **extra,
    )


def identity(number: str, at: str = LILLE) -> ReceiptRequest:
    """A receipt's identity alone: its store and number."""
    return ReceiptRequest(receipt_number=number, entity_request=store(at))


async def balances(client: WsOneClient, key: IdentifierRequest) -> tuple[Any, Any]:
    """The (points, visits) balances, as getAccounts answers them."""
    answer = await client.get_accounts(GetAccountsRequest(identifier_request=key))
    found = {a.name: a.value for a in answer.account_response or ()}
    return found["point"], found["visites"]


def holder(sim: WsOneSimulator, key: IdentifierRequest) -> Person:
    person = sim.backend.person_by_identifier(int(key.identifier_type), key.identifier_value)
    assert person is not None
    return person


def civil(found: PersonProfilResponse | None) -> tuple[Any, ...]:
    assert found is not None and found.person_response is not None
    person = found.person_response
    return person.groupe_id, person.first_name, person.last_name, person.birth_date


async def code_of(call: Awaitable[Any]) -> str:
    """The responseCode of a call that must be refused with an APIError."""
    with pytest.raises(APIError) as refused:
        await call
    return refused.value.code


# ------------------------------------------------------------------ persons, identifiers


class DuplicateIdentifierError(APIError):
    """The simulator's "102": the identifier already belongs to someone."""


@scenario
async def test_create_person_then_a_duplicate_is_refused_with_102(
    client: RecordingClient, sim: WsOneSimulator
) -> None:
    request = CreatePersonRequest(
        new_identifier_request=NewIdentifierRequest(
            identifier_type=WEB, identifier_value="jean@example.fr"
        ),
        person_profil_request=profile(email="jean@example.fr"),
        subscription_request=[SubscriptionRequest(id=30, activate=True)],
        source="WEB",
    )
    created = await client.create_person(request)
    assert created.response_code == "000"
    assert sim.backend.persons_count() == 1
    person = holder(sim, web_key("jean@example.fr"))
    assert (person.last_name, person.source) == ("DUPOND", "WEB")

    found = await client.get_person(GetPersonRequest(identifier_request=web_key("JEAN@example.fr")))
    assert civil(found.person_response) == (person.groupe_id, "JEAN", "DUPOND", dt.date(1990, 1, 1))
    assert found.person_response is not None
    subscriptions = found.person_response.subscription_response or ()
    assert [(s.id, s.label, s.activate) for s in subscriptions] == [("30", "WALLET", True)]

    with pytest.raises(APIError) as duplicate:
        await client.create_person(request)
    assert type(duplicate.value) is APIError
    assert (duplicate.value.code, duplicate.value.operation) == ("102", "createPerson")
    # Web accounts compare case-insensitively: still the same identifier.
    upper = CreatePersonRequest(
        new_identifier_request=NewIdentifierRequest(
            identifier_type=WEB, identifier_value="JEAN@EXAMPLE.FR"
        )
    )
    register_error_code("102", DuplicateIdentifierError)
    try:
        with pytest.raises(DuplicateIdentifierError) as mapped:
            await client.create_person(upper)
        assert mapped.value.code == "102"
    finally:
        unregister_error_code("102")
    with pytest.raises(APIError) as unmapped:
        await client.create_person(upper)
    assert type(unmapped.value) is APIError
    assert sim.backend.persons_count() == 1
    assert sim.backend.shared_identifiers() == []


@scenario
async def test_create_person_and_identifier_generates_a_card(
    client: RecordingClient, sim: WsOneSimulator
) -> None:
    assert sim.backend.persons_count() == 0
    key = await enrol(client, "paul@example.fr", first="PAUL")
    assert is_valid_ean13(key.identifier_value)
    person = holder(sim, key)
    assert sim.backend.identifiers_of(person) == [
        (10, "paul@example.fr"),
        (1, key.identifier_value),
    ]
    assert holder(sim, web_key("paul@example.fr")) is person
    assert sim.backend.persons_count() == 1
    # The card finds the person, with both identifiers.
    found = await client.get_person(GetPersonRequest(identifier_request=key))
    assert civil(found.person_response)[:2] == (person.groupe_id, "PAUL")
    assert found.person_response is not None
    identifiers = found.person_response.identifier_response or ()
    assert [(i.identifier_type, i.identifier_value) for i in identifiers] == [
        (WEB, "paul@example.fr"),
        (CARD, key.identifier_value),
    ]
    # A second enrolment generates another card.
    other = await enrol(client, "paula@example.fr")
    assert other.identifier_value != key.identifier_value
    assert is_valid_ean13(other.identifier_value)
    assert sim.backend.persons_count() == 2


@scenario
async def test_create_identifier_gives_a_web_account_a_valid_ean13_card(
    client: RecordingClient, sim: WsOneSimulator
) -> None:
    await client.create_person(
        CreatePersonRequest(
            new_identifier_request=NewIdentifierRequest(
                identifier_type=WEB, identifier_value="marie@example.fr"
            ),
            person_profil_request=profile(first="MARIE"),
        )
    )
    person = holder(sim, web_key("marie@example.fr"))
    assert sim.backend.identifiers_of(person) == [(10, "marie@example.fr")]

    answer = await client.create_identifier(
        CreateIdentifierRequest(
            identifier_request=web_key("marie@example.fr"), new_identifier_type=CARD
        )
    )
    # As the vendor's example: the answer does not show the card; getPerson lists it.
    assert answer.new_identifier_response is None
    web_account, (card_type, value) = sim.backend.identifiers_of(person)
    assert web_account == (10, "marie@example.fr")
    assert card_type == CARD and is_valid_ean13(value)
    by_card = await client.get_person(GetPersonRequest(identifier_request=card_key(value)))
    assert civil(by_card.person_response)[:2] == (person.groupe_id, "MARIE")
    # Only cards can be generated: a refused call changes nothing.
    refused = client.create_identifier(
        CreateIdentifierRequest(
            identifier_request=web_key("marie@example.fr"), new_identifier_type=WEB
        )
    )
    assert await code_of(refused) == "103"
    assert len(sim.backend.identifiers_of(person)) == 2


@scenario
async def test_associate_and_replace_identifiers_change_the_persons_identifiers(
    client: RecordingClient, sim: WsOneSimulator
) -> None:
    key = await enrol(client, "anne@example.fr")
    other = await enrol(client, "bob@example.fr")
    person = holder(sim, key)
    original = sim.backend.identifiers_of(person)

    # associateNewIdentifier: a second web account, then a generated card.
    added = await client.associate_new_identifier(
        AssociateNewIdentifierRequest(
            identifier_request=key,
            new_identifier_request=NewIdentifierRequest(
                identifier_type=WEB, identifier_value="anne.pro@example.fr"
            ),
        )
    )
    assert added.new_identifier_response is not None
    assert added.new_identifier_response.identifier_value == "anne.pro@example.fr"
    generated = await client.associate_new_identifier(
        AssociateNewIdentifierRequest(
            identifier_request=key,
            new_identifier_request=NewIdentifierRequest(identifier_type=CARD),
        )
    )
    assert generated.new_identifier_response is not None
    second_card = generated.new_identifier_response.identifier_value
    assert second_card is not None and is_valid_ean13(second_card)
    assert sim.backend.identifiers_of(person) == [
        *original,
        (10, "anne.pro@example.fr"),
        (1, second_card),
    ]

    # associateIdentifier: a pre-printed card; once hers, nobody else can have it.
    await client.associate_identifier(
        AssociateIdentifierRequest(
            identifier_request=key,
            associated_identifier_request=AssociatedIdentifierRequest(
                identifier_type=CARD, identifier_value=PRINTED_CARD
            ),
        )
    )
    assert (1, PRINTED_CARD) in sim.backend.identifiers_of(person)
    assert holder(sim, card_key(PRINTED_CARD)) is person
    taken = client.associate_identifier(
        AssociateIdentifierRequest(
            identifier_request=other,
            associated_identifier_request=AssociatedIdentifierRequest(
                identifier_type=CARD, identifier_value=PRINTED_CARD
            ),
        )
    )
    assert await code_of(taken) == "102"
    assert (1, PRINTED_CARD) not in sim.backend.identifiers_of(holder(sim, other))

    # replaceIdentifier: the lost card is retired and a new one generated.
    before = sim.backend.identifiers_of(person)
    replaced = await client.replace_identifier(
        ReplaceIdentifierRequest(
            identifier_request=key,
            new_identifier_request=NewIdentifierRequest(identifier_type=CARD),
        )
    )
    assert replaced.new_identifier_response is not None
    replacement = replaced.new_identifier_response.identifier_value
    assert replacement is not None and is_valid_ean13(replacement)
    after = sim.backend.identifiers_of(person)
    assert (1, key.identifier_value) not in after
    assert after == [i for i in before if i != (1, key.identifier_value)] + [(1, replacement)]
    assert sim.backend.person_by_identifier(1, key.identifier_value) is None
    assert await code_of(client.get_person(GetPersonRequest(identifier_request=key))) == "101"
    found = await client.get_person(GetPersonRequest(identifier_request=card_key(replacement)))
    assert civil(found.person_response)[0] == person.groupe_id
    assert sim.backend.shared_identifiers() == []
    assert sim.backend.persons_count() == 2


@scenario
async def test_update_person_changes_what_get_person_returns(
    client: RecordingClient, sim: WsOneSimulator
) -> None:
    key = await enrol(client, "luc@example.fr", last="MARTIN", first="LUC")
    before = await client.get_person(GetPersonRequest(identifier_request=key))
    groupe_id = civil(before.person_response)[0]
    assert civil(before.person_response) == (groupe_id, "LUC", "MARTIN", dt.date(1990, 1, 1))

    await client.update_person(
        UpdatePersonRequest(
            identifier_request=key,
            person_profil_request=PersonProfilRequest(
                person_request=PersonRequest(last_name="LEGRAND", birth_date=dt.date(1985, 6, 15)),
                contacts_request=ContactsRequest(
                    cell_phone_request=CellPhoneRequest(dialing_code="33", number="0612345678")
                ),
                entity_request=store(MARSEILLE),
            ),
            subscription_request=[SubscriptionRequest(id=1, activate=True)],
        )
    )
    after = await client.get_person(GetPersonRequest(identifier_request=key))
    # Changed fields change; fields not given (the first name, the email) stay.
    assert civil(after.person_response) == (groupe_id, "LUC", "LEGRAND", dt.date(1985, 6, 15))
    found = after.person_response
    assert found is not None and found.contacts_response is not None
    phone = found.contacts_response.cell_phone_response
    assert phone is not None and (phone.dialing_code, phone.number) == ("33", "0612345678")
    email = found.contacts_response.email_response
    assert email is not None and email.email_value == "luc@example.fr"
    assert found.entity_response is not None
    assert found.entity_response.entity_identifier == MARSEILLE
    assert [s.label for s in found.subscription_response or ()] == ["NEWSLETTER"]
    person = holder(sim, key)
    assert (person.last_name, person.entity_id) == ("LEGRAND", MARSEILLE)


@scenario
async def test_search_person_and_search_person_lite_find_by_last_name_and_email(
    client: RecordingClient, sim: WsOneSimulator
) -> None:
    await enrol(client, "s1@example.fr", last="Martin", first="ALICE")
    await enrol(client, "s2@example.fr", last="MARTIN", first="BRUNO")
    await enrol(client, "s3@example.fr", last="MARTINEZ", first="CLARA")

    by_name = await client.search_person(
        SearchPersonRequest(person_request=PersonRequest(last_name="martin"))
    )
    assert [civil(p)[1] for p in by_name.person_response or ()] == ["ALICE", "BRUNO"]
    full = (by_name.person_response or ())[0]
    assert full.contacts_response is not None  # the full profile
    assert full.contacts_response.email_response is not None

    by_email = await client.search_person(
        SearchPersonRequest(
            contacts_request=ContactsRequest(
                email_request=EmailRequest(email_value="S3@example.fr")
            )
        )
    )
    assert [civil(p)[1] for p in by_email.person_response or ()] == ["CLARA"]

    lite = await client.search_person_lite(
        SearchPersonLiteRequest(
            person_request=PersonRequest(last_name="MARTIN", first_name="bruno"),
            entity_request=store(LILLE),
        )
    )
    assert len(lite.person_response or ()) == 1
    light = (lite.person_response or ())[0]
    assert civil(light)[1:3] == ("BRUNO", "MARTIN")
    assert light.contacts_response is None  # civil data and identifiers only
    identifiers = light.identifier_response or ()
    assert [i.identifier_type for i in identifiers] == [WEB, CARD]
    assert identifiers[0].identifier_value == "s2@example.fr"
    lite_by_email = await client.search_person_lite(
        SearchPersonLiteRequest(
            contacts_request=ContactsRequest(
                email_request=EmailRequest(email_value="s1@example.fr")
            )
        )
    )
    assert [civil(p)[1] for p in lite_by_email.person_response or ()] == ["ALICE"]

    # The search follows updates: ALICE renamed is found under her new name only.
    await client.update_person(
        UpdatePersonRequest(
            identifier_request=web_key("s1@example.fr"),
            person_profil_request=PersonProfilRequest(
                person_request=PersonRequest(last_name="DURAND")
            ),
        )
    )
    again = await client.search_person(
        SearchPersonRequest(person_request=PersonRequest(last_name="MARTIN"))
    )
    assert [civil(p)[1] for p in again.person_response or ()] == ["BRUNO"]
    renamed = await client.search_person_lite(
        SearchPersonLiteRequest(person_request=PersonRequest(last_name="durand"))
    )
    assert [civil(p)[1] for p in renamed.person_response or ()] == ["ALICE"]
    nothing = client.search_person(SearchPersonRequest(person_request=PersonRequest()))
    assert await code_of(nothing) == "104"


# -------------------------------------------------------------------- offers and badges


@scenario
async def test_get_full_person_returns_accounts_and_offers_and_edit_offer_uses_one(
    client: RecordingClient, sim: WsOneSimulator
) -> None:
    key = await enrol(client, "offers@example.fr")
    full = await client.get_full_person(
        GetFullPersonRequest(identifier_request=key, entity_request=store(LILLE), filter=0)
    )
    person = holder(sim, key)
    assert civil(full.person_response)[0] == person.groupe_id
    assert full.accounts_response is not None
    assert full.accounts_response.response_code == "000"
    accounts = {a.name: (a.value, a.unit) for a in full.accounts_response.account_response or ()}
    assert accounts == {"visites": (0, "visites"), "point": (0, "pts")}
    assert full.offers_response is not None
    offers = full.offers_response.get_offers_responses or ()
    assert [(o.offer_name, o.used) for o in offers] == [("BIENVENUE_BA_CAISSE_2025", False)]
    number = offers[0].offer_number
    assert number is not None and number in person.offers

    enabled = await client.get_enable_offers(GetEnableOffersRequest(identifier_request=key))
    assert [o.offer_number for o in enabled.get_offers_responses or ()] == [number]
    # Before its first day, the offer is available (not expired) but not usable yet.
    yesterday = now() - dt.timedelta(days=1)
    available = await client.get_available_offers(
        GetAvailableOffersRequest(identifier_request=key, date=yesterday)
    )
    assert [o.offer_number for o in available.get_offers_responses or ()] == [number]
    not_yet = await client.get_enable_offers(
        GetEnableOffersRequest(identifier_request=key, date=yesterday)
    )
    assert not_yet.get_offers_responses == ()
    expired = await client.get_available_offers(
        GetAvailableOffersRequest(identifier_request=key, date=now() + dt.timedelta(days=90))
    )
    assert expired.get_offers_responses == ()

    edited = await client.edit_offer(
        EditOfferRequest(
            identifier_request=key, entity_request=store(LILLE), offer_number=number, used=True
        )
    )
    assert [(o.offer_number, o.used) for o in edited.get_offers_responses or ()] == [(number, True)]
    assert person.offers[number].used is True
    after = await client.get_full_person(GetFullPersonRequest(identifier_request=key))
    assert after.offers_response is not None
    assert after.offers_response.get_offers_responses == ()
    enabled = await client.get_enable_offers(GetEnableOffersRequest(identifier_request=key))
    assert enabled.get_offers_responses == ()
    available = await client.get_available_offers(GetAvailableOffersRequest(identifier_request=key))
    assert available.get_offers_responses == ()
    used_twice = client.edit_offer(
        EditOfferRequest(identifier_request=key, offer_number=number, used=True)
    )
    assert await code_of(used_twice) == "302"
    # Given back, it is usable again.
    await client.edit_offer(
        EditOfferRequest(identifier_request=key, offer_number=number, used=False)
    )
    assert person.offers[number].used is False
    back = await client.get_enable_offers(GetEnableOffersRequest(identifier_request=key))
    assert [o.offer_number for o in back.get_offers_responses or ()] == [number]


@scenario
async def test_get_badge_follows_enrolment_and_first_purchase(
    client: RecordingClient, sim: WsOneSimulator
) -> None:
    key = await enrol(client, "badges@example.fr")
    badges = await client.get_badge(GetBadgeRequest(identifier_request=key))
    assert [(b.id, b.label) for b in badges.badge_response or ()] == [("1", "BIENVENUE")]
    first = (badges.badge_response or ())[0]
    assert first.activation_date is not None
    await client.send_and_valid_transaction(
        SendAndValidTransactionRequest(identifier_request=key, receipt_request=receipt("B1", 12.0))
    )
    badges = await client.get_badge(GetBadgeRequest(identifier_request=key))
    assert [b.label for b in badges.badge_response or ()] == ["BIENVENUE", "PREMIER_ACHAT"]
    assert set(holder(sim, key).badges) == {"1", "2"}


# --------------------------------------------------------------------------- forms, stores


@scenario
async def test_update_form_then_get_form_round_trips_the_answers(
    client: RecordingClient, sim: WsOneSimulator
) -> None:
    key = await enrol(client, "form@example.fr")
    blank = await client.get_form(GetFormRequest(identifier_request=key, form_id="100"))
    assert blank.form_id == "100"
    questions = blank.form_answered_response or ()
    assert [(q.question_id, q.answer) for q in questions] == [("1", None), ("2", None), ("3", None)]
    assert all(q.label for q in questions)

    await client.update_form(
        UpdateFormRequest(
            identifier_request=key,
            form_id="100",
            form_answered_request=[
                FormAnsweredRequest(question_id="1", answer="2"),
                FormAnsweredRequest(question_id="3", answer="Jardinage, cuisine"),
            ],
        )
    )
    answered = await client.get_form(GetFormRequest(identifier_request=key, form_id="100"))
    assert [(q.question_id, q.answer) for q in answered.form_answered_response or ()] == [
        ("1", "2"),
        ("2", None),
        ("3", "Jardinage, cuisine"),
    ]
    assert holder(sim, key).answers == {"100": {"1": "2", "3": "Jardinage, cuisine"}}

    # An empty answer removes it; an unknown question refuses the whole update.
    await client.update_form(
        UpdateFormRequest(
            identifier_request=key,
            form_id="100",
            form_answered_request=[
                FormAnsweredRequest(question_id="1", answer=""),
                FormAnsweredRequest(question_id="2", answer="Un chat"),
            ],
        )
    )
    bad = client.update_form(
        UpdateFormRequest(
            identifier_request=key,
            form_id="100",
            form_answered_request=[
                FormAnsweredRequest(question_id="3", answer="Autre"),
                FormAnsweredRequest(question_id="99", answer="?"),
            ],
        )
    )
    assert await code_of(bad) == "502"
    final = await client.get_form(GetFormRequest(identifier_request=key, form_id="100"))
    assert [(q.question_id, q.answer) for q in final.form_answered_response or ()] == [
        ("1", None),
        ("2", "Un chat"),
        ("3", "Jardinage, cuisine"),
    ]
    unknown = client.get_form(GetFormRequest(identifier_request=key, form_id="999"))
    assert await code_of(unknown) == "501"


@scenario
async def test_get_entities_and_get_entity_parents_walk_the_store_tree(
    client: RecordingClient, sim: WsOneSimulator
) -> None:
    everything = await client.get_entities(GetEntitiesRequest())
    entities = everything.entity_response or ()
    by_id = {e.entity_identifier: e for e in entities}
    assert len(by_id) == len(entities) == 9
    roots = [e.entity_identifier for e in entities if e.parent_entity_identifier is None]
    assert roots == ["000001"]
    assert entities[0].entity_identifier == "000001"
    # Parents come before their children.
    seen: set[str | None] = set()
    for entity in entities:
        assert entity.parent_entity_identifier is None or entity.parent_entity_identifier in seen
        seen.add(entity.entity_identifier)

    north = await client.get_entities(GetEntitiesRequest(entity_request=store("100001")))
    assert [(e.entity_identifier, e.label) for e in north.entity_response or ()] == [
        (LILLE, "MAGASIN LILLE"),
        (ROUBAIX, "MAGASIN ROUBAIX"),
    ]

    # From every store, getEntityParents climbs the parents getEntities gave, to the root.
    leaves = [
        e
        for e in entities
        if not any(c.parent_entity_identifier == e.entity_identifier for c in entities)
    ]
    assert len(leaves) == 5
    for leaf in leaves:
        assert leaf.entity_identifier is not None
        parents = await client.get_entity_parents(
            GetEntityParentsRequest(entity_request=store(leaf.entity_identifier))
        )
        chain = [p.entity_identifier for p in parents.entity_response or ()]
        expected = []
        current = leaf
        while current.parent_entity_identifier is not None:
            expected.append(current.parent_entity_identifier)
            current = by_id[current.parent_entity_identifier]
        assert chain == expected
        assert chain[-1] == "000001"
    lille = await client.get_entity_parents(GetEntityParentsRequest(entity_request=store(LILLE)))
    assert [p.entity_identifier for p in lille.entity_response or ()] == ["100001", "000001"]
    root = await client.get_entity_parents(GetEntityParentsRequest(entity_request=store("000001")))
    assert root.entity_response == ()

    # A store added to the simulator shows up under its region.
    sim.backend.add_entity("333333", "MAGASIN LENS", "100001")
    north = await client.get_entities(GetEntitiesRequest(entity_request=store("100001")))
    assert [e.entity_identifier for e in north.entity_response or ()] == [LILLE, ROUBAIX, "333333"]
    unknown = client.get_entity_parents(GetEntityParentsRequest(entity_request=store("424242")))
    assert await code_of(unknown) == "201"


# --------------------------------------------------------------------------- transactions


@scenario
async def test_send_valid_verify_refund_move_the_balance(
    client: RecordingClient, sim: WsOneSimulator
) -> None:
    key = await enrol(client, "receipts@example.fr")
    assert await balances(client, key) == (0, 0)
    unknown = await client.verify_transaction(
        VerifyTransactionRequest(identifier_request=key, receipt_request=identity("T1"))
    )
    assert unknown.transaction_response is None

    sent = await client.send_transaction(
        SendTransactionRequest(
            identifier_request=key,
            receipt_request=receipt(
                "T1",
                None,  # the amount is the sum of the lines
                details_request=[
                    DetailsRequest(line_number=1, label="Pain", quantity=2, unit_price=1.45),
                    DetailsRequest(line_number=2, label="Vin", amount=40.0),
                ],
            ),
        )
    )
    transaction = sent.transaction_response
    assert transaction is not None and transaction.transaction_id is not None
    assert (transaction.status, transaction.amount, transaction.points) == ("SENT", 42.9, 42)
    assert await balances(client, key) == (0, 0)  # nothing until validated
    recorded = sim.backend.transaction_by_receipt(LILLE, "T1")
    assert recorded is not None and recorded.status is TransactionStatus.SENT

    verified = await client.verify_transaction(
        VerifyTransactionRequest(identifier_request=key, receipt_request=identity("T1"))
    )
    assert verified.transaction_response is not None
    assert verified.transaction_response.transaction_id == transaction.transaction_id
    assert verified.transaction_response.status == "SENT"

    valid = await client.valid_transaction(
        ValidTransactionRequest(identifier_request=key, transaction_id=transaction.transaction_id)
    )
    assert valid.transaction_response is not None
    assert valid.transaction_response.status == "VALIDATED"
    after = {a.name: a.value for a in valid.transaction_response.account_response or ()}
    assert after == {"visites": 1, "point": 42}
    assert await balances(client, key) == (42, 1)
    assert sim.backend.points_total() == 42
    again = client.valid_transaction(
        ValidTransactionRequest(identifier_request=key, transaction_id=transaction.transaction_id)
    )
    assert await code_of(again) == "403"
    assert await balances(client, key) == (42, 1)
    verified = await client.verify_transaction(
        VerifyTransactionRequest(identifier_request=key, receipt_request=identity("T1"))
    )
    assert verified.transaction_response is not None
    assert verified.transaction_response.status == "VALIDATED"

    refunded = await client.refund_transaction(
        RefundTransactionRequest(identifier_request=key, receipt_request=identity("T1"))
    )
    assert refunded.transaction_response is not None
    assert (refunded.transaction_response.status, refunded.transaction_response.points) == (
        "REFUNDED",
        42,
    )
    assert await balances(client, key) == (0, 0)
    assert sim.backend.points_total() == 0
    twice = client.refund_transaction(
        RefundTransactionRequest(identifier_request=key, receipt_request=identity("T1"))
    )
    assert await code_of(twice) == "406"
    assert await balances(client, key) == (0, 0)
    verified = await client.verify_transaction(
        VerifyTransactionRequest(identifier_request=key, receipt_request=identity("T1"))
    )
    assert verified.transaction_response is not None
    assert verified.transaction_response.status == "REFUNDED"
    assert sim.backend.transactions_count("REFUNDED") == 1


@scenario
async def test_send_and_valid_transaction_credits_once_and_spends_points_and_offers(
    client: RecordingClient, sim: WsOneSimulator
) -> None:
    key = await enrol(client, "spend@example.fr")
    person = holder(sim, key)
    (offer,) = person.offers.values()
    request = SendAndValidTransactionRequest(
        identifier_request=key, receipt_request=receipt("V1", 55.5)
    )
    done = await client.send_and_valid_transaction(request)
    assert done.transaction_response is not None
    assert (done.transaction_response.status, done.transaction_response.points) == (
        "VALIDATED",
        55,
    )
    assert await balances(client, key) == (55, 1)
    # The same receipt again is refused: the points are credited once.
    assert await code_of(client.send_and_valid_transaction(request)) == "402"
    assert await balances(client, key) == (55, 1)
    assert sim.backend.transactions_count() == 1

    # A receipt spending 20 points and the welcome offer.
    spending = SendAndValidTransactionRequest(
        identifier_request=key,
        receipt_request=receipt(
            "V2",
            31.0,
            account_advantage_request=[
                AccountAdvantageRequest(name="point", value=20),
                AccountAdvantageRequest(offer_number=offer.offer_number),
            ],
        ),
    )
    await client.send_and_valid_transaction(spending)
    assert await balances(client, key) == (55 + 31 - 20, 2)
    assert offer.used is True
    # Spending more points than held is refused and changes nothing.
    greedy = SendAndValidTransactionRequest(
        identifier_request=key,
        receipt_request=receipt(
            "V3", 1.0, account_advantage_request=[AccountAdvantageRequest(name="point", value=1000)]
        ),
    )
    assert await code_of(client.send_and_valid_transaction(greedy)) == "407"
    assert await balances(client, key) == (66, 2)
    assert sim.backend.transaction_by_receipt(LILLE, "V3") is None
    # Refunding V2 gives back the points spent and the offer.
    await client.refund_transaction(
        RefundTransactionRequest(identifier_request=key, receipt_request=identity("V2"))
    )
    assert await balances(client, key) == (55, 1)
    assert offer.used is False


@scenario
async def test_cancel_transactions_not_validated_cancels_only_sent_receipts(
    client: RecordingClient, sim: WsOneSimulator
) -> None:
    key = await enrol(client, "cancel@example.fr")
    for number, at in (("C1", LILLE), ("C2", MARSEILLE), ("C3", LILLE)):
        await client.send_transaction(
            SendTransactionRequest(
                identifier_request=key, receipt_request=receipt(number, 10.0, at=at)
            )
        )
    await client.valid_transaction(
        ValidTransactionRequest(identifier_request=key, receipt_request=identity("C3"))
    )
    assert await balances(client, key) == (10, 1)

    only_lille = await client.cancel_transactions_not_validated(
        CancelTransactionsNotValidatedRequest(identifier_request=key, entity_request=store(LILLE))
    )
    assert [(t.receipt_number, t.status) for t in only_lille.transaction_response or ()] == [
        ("C1", "CANCELLED")
    ]

    def status(number: str, at: str) -> TransactionStatus:
        found = sim.backend.transaction_by_receipt(at, number)
        assert found is not None
        return found.status

    assert [status("C1", LILLE), status("C2", MARSEILLE), status("C3", LILLE)] == [
        TransactionStatus.CANCELLED,
        TransactionStatus.SENT,
        TransactionStatus.VALIDATED,
    ]
    cancelled = client.valid_transaction(
        ValidTransactionRequest(identifier_request=key, receipt_request=identity("C1"))
    )
    assert await code_of(cancelled) == "404"
    everywhere = await client.cancel_transactions_not_validated(
        CancelTransactionsNotValidatedRequest(identifier_request=key)
    )
    assert [t.receipt_number for t in everywhere.transaction_response or ()] == ["C2"]
    assert status("C2", MARSEILLE) is TransactionStatus.CANCELLED
    nothing_left = await client.cancel_transactions_not_validated(
        CancelTransactionsNotValidatedRequest(identifier_request=key)
    )
    assert nothing_left.transaction_response == ()
    assert await balances(client, key) == (10, 1)  # the validated receipt is untouched
    # A cancelled receipt's identity may be sent again.
    resent = await client.send_simple_transaction(
        SendSimpleTransactionRequest(identifier_request=key, receipt_request=receipt("C1", 7.0))
    )
    assert resent.transaction_response is not None
    assert resent.transaction_response.status == "VALIDATED"
    assert await balances(client, key) == (17, 2)
    assert sim.backend.transactions_count("CANCELLED") == 2


@scenario
async def test_send_simple_transaction_and_get_last_transaction(
    client: RecordingClient, sim: WsOneSimulator
) -> None:
    key = await enrol(client, "simple@example.fr")
    none_yet = await client.get_last_transaction(GetLastTransactionRequest(identifier_request=key))
    assert none_yet.transaction_response is None

    simple = await client.send_simple_transaction(
        SendSimpleTransactionRequest(
            identifier_request=key,
            receipt_request=receipt(
                "S1",
                19.99,
                # Ignored by sendSimpleTransaction: the amount alone counts.
                details_request=[DetailsRequest(line_number=1, amount=500.0)],
            ),
        )
    )
    assert simple.transaction_response is not None
    assert (
        simple.transaction_response.status,
        simple.transaction_response.amount,
        simple.transaction_response.points,
    ) == ("VALIDATED", 19.99, 19)
    assert await balances(client, key) == (19, 1)

    await client.send_transaction(
        SendTransactionRequest(
            identifier_request=key, receipt_request=receipt("S2", 5.0, at=MARSEILLE)
        )
    )
    last = await client.get_last_transaction(GetLastTransactionRequest(identifier_request=key))
    assert last.transaction_response is not None
    assert (last.transaction_response.receipt_number, last.transaction_response.status) == (
        "S2",
        "SENT",
    )
    assert last.transaction_response.entity_response is not None
    assert last.transaction_response.entity_response.entity_identifier == MARSEILLE
    in_lille = await client.get_last_transaction(
        GetLastTransactionRequest(identifier_request=key, entity_request=store(LILLE))
    )
    assert in_lille.transaction_response is not None
    assert in_lille.transaction_response.receipt_number == "S1"
    in_roubaix = await client.get_last_transaction(
        GetLastTransactionRequest(identifier_request=key, entity_request=store(ROUBAIX))
    )
    assert in_roubaix.transaction_response is None
    assert sim.backend.points_total() == 19


@scenario
async def test_send_and_valid_full_transaction_creates_the_person_then_updates_it(
    client: RecordingClient, sim: WsOneSimulator
) -> None:
    assert sim.backend.persons_count() == 0
    key = web_key("till@example.fr")
    answer = await client.send_and_valid_full_transaction(
        SendAndValidFullTransactionRequest(
            identifier_request=key,
            full_person_request=FullPersonRequest(
                new_identifier_request=NewIdentifierRequest(identifier_type=CARD),
                person_profil_request=profile(last="CAISSE", first="ZOE", email="till@example.fr"),
                subscription_request=[SubscriptionRequest(id=2, activate=True)],
            ),
            receipt_request=receipt("F1", 30.0),
        )
    )
    assert answer.transaction_response is not None
    assert answer.transaction_response.status == "VALIDATED"
    assert sim.backend.persons_count() == 1
    person = holder(sim, key)
    identifiers = sim.backend.identifiers_of(person)
    assert [kind for kind, _ in identifiers] == [10, 1]
    generated = identifiers[1][1]
    assert is_valid_ean13(generated)
    assert (person.first_name, person.last_name, person.points, person.visits) == (
        "ZOE",
        "CAISSE",
        30,
        1,
    )
    assert await balances(client, card_key(generated)) == (30, 1)
    found = await client.get_person(GetPersonRequest(identifier_request=card_key(generated)))
    assert civil(found.person_response)[1:3] == ("ZOE", "CAISSE")

    # The same customer at the till again: updated and credited, not created twice.
    await client.send_and_valid_full_transaction(
        SendAndValidFullTransactionRequest(
            identifier_request=card_key(generated),
            full_person_request=FullPersonRequest(
                person_profil_request=PersonProfilRequest(
                    person_request=PersonRequest(last_name="CAISSE-DURAND")
                )
            ),
            receipt_request=receipt("F2", 12.5),
        )
    )
    assert sim.backend.persons_count() == 1
    assert (person.last_name, person.points, person.visits) == ("CAISSE-DURAND", 42, 2)
    assert await balances(client, key) == (42, 2)
    # Refused (duplicate receipt): no person, no points, nothing.
    refused = client.send_and_valid_full_transaction(
        SendAndValidFullTransactionRequest(
            identifier_request=web_key("other@example.fr"), receipt_request=receipt("F2", 1.0)
        )
    )
    assert await code_of(refused) == "402"
    assert sim.backend.persons_count() == 1
    assert sim.backend.points_total() == 42


# ----------------------------------------------------------------------------- coverage


async def test_the_scenarios_call_all_29_operations() -> None:
    """Every operation is called, through its typed method, by at least one scenario."""
    names = {op.method_name for op in OPERATIONS}
    assert len(OPERATIONS) == len(names) == 29
    assert all(callable(getattr(WsOneClient, name, None)) for name in names)
    assert len(SCENARIOS) == len({s.__name__ for s in SCENARIOS})
    called: set[str] = set()
    for test in SCENARIOS:
        async with WsOneSimulator() as sim, _open(sim) as client:
            await test(client, sim)
        called |= client.called
    assert sorted(names - called) == []
    assert called <= names


async def test_the_recording_client_records_only_answered_calls(sim: WsOneSimulator) -> None:
    """The recorder itself can tell a call that was answered from one that failed."""
    async with _open(sim) as client:
        assert client.called == set()
        nobody = client.get_person(GetPersonRequest(identifier_request=card_key(PRINTED_CARD)))
        assert await code_of(nobody) == "101"
        assert client.called == set()
        await client.get_entities(GetEntitiesRequest())
        assert client.called == {"get_entities"}
