"""The simulator's backend without HTTP: rules, indexes, and cost per request."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wsone_async.testing import (
    CARD,
    WEB_ACCOUNT,
    IdentifierSpec,
    Profile,
    SimulatorCode,
    WsOneBackend,
    WsOneFailure,
    ean13,
    is_valid_ean13,
)
from wsone_async.testing._backend import Email, Receipt, SearchCriteria

C = SimulatorCode


def test_ean13() -> None:
    assert ean13("400638133393") == "4006381333931"
    assert is_valid_ean13("4006381333931")
    assert not is_valid_ean13("4006381333932")
    assert not is_valid_ean13("400638133393")
    assert not is_valid_ean13("４００６３８１３３３９３１")
    with pytest.raises(ValueError, match="12 digits"):
        ean13("12345")


@given(st.from_regex(r"\A[0-9]{12}\Z"))
def test_every_ean13_made_is_valid(digits: str) -> None:
    assert is_valid_ean13(ean13(digits))


def test_failures_carry_a_code_and_leave_the_state_unchanged() -> None:
    backend = WsOneBackend()
    backend.add_person(identifiers=[IdentifierSpec(WEB_ACCOUNT, "a@example.fr")])
    before = backend.state()
    attempts = [
        lambda: backend.create_person(IdentifierSpec(WEB_ACCOUNT, "A@example.FR")),
        lambda: backend.create_person(IdentifierSpec(WEB_ACCOUNT, "not-an-email")),
        lambda: backend.create_person(IdentifierSpec(0, "x")),
        lambda: backend.create_person(IdentifierSpec(CARD)),
        lambda: backend.create_person(
            IdentifierSpec(CARD, "1"), Profile(birth_date=dt.date.today() + dt.timedelta(days=1))
        ),
        lambda: backend.create_person(IdentifierSpec(CARD, "1"), Profile(entity_id="nowhere")),
        lambda: backend.create_person_and_identifier(IdentifierSpec(WEB_ACCOUNT), CARD),
        lambda: backend.create_person_and_identifier(None, WEB_ACCOUNT),
    ]
    codes = []
    for attempt in attempts:
        with pytest.raises(WsOneFailure) as failure:
            attempt()
        codes.append(failure.value.code)
    assert codes == ["102", "003", "103", "002", "003", "201", "002", "103"]
    assert backend.state() == before


def test_create_person_and_identifier_keeps_a_card_the_customer_came_with() -> None:
    backend = WsOneBackend()
    person, card = backend.create_person_and_identifier(IdentifierSpec(CARD, "4006381333931"), CARD)
    assert card.value == "4006381333931"
    assert backend.identifiers_of(person) == [(CARD, "4006381333931")]
    person, card = backend.create_person_and_identifier(IdentifierSpec(CARD), None)
    assert is_valid_ean13(card.value)
    assert backend.identifiers_of(person.groupe_id) == [(CARD, card.value)]


def test_generated_cards_skip_numbers_already_taken() -> None:
    backend = WsOneBackend()
    taken = ean13("299000000001")
    backend.add_person(identifiers=[IdentifierSpec(CARD, taken)])
    person = backend.add_person()
    (generated,) = backend.identifiers_of(person)
    assert generated[1] != taken and is_valid_ean13(generated[1])


def test_entities_tree() -> None:
    backend = WsOneBackend()
    with pytest.raises(WsOneFailure):
        backend.add_entity("1", "X", "nowhere")
    with pytest.raises(WsOneFailure):
        backend.add_entity("123456", "MOVED", "100002")
    backend.add_entity("123456", "LILLE CENTRE", "100001")  # a new label is fine
    assert backend.entity("123456").label == "LILLE CENTRE"
    assert [e.identifier for e in backend.entities("100002")] == ["666666", "222222"]
    assert backend.entity_parents("000001") == []
    empty = WsOneBackend(seed_defaults=False)
    assert empty.entities() == []


def test_the_clock_dates_offers_and_identifiers() -> None:
    now = dt.datetime(2025, 9, 24, 11, 20, 0)
    backend = WsOneBackend(clock=lambda: now)
    person = backend.add_person(Profile(last_name="X"))
    assert person.identifiers[0].activation_date == now
    (offer,) = person.offers.values()
    assert (offer.start, offer.end) == (
        dt.datetime(2025, 9, 24),
        dt.datetime(2025, 11, 22, 23, 59, 59),
    )
    assert backend.offers(person, now + dt.timedelta(days=90), usable_now=False) == []


def test_search_caps_its_answers() -> None:
    backend = WsOneBackend(max_search_results=3)
    for _ in range(5):
        backend.add_person(Profile(last_name="MARTIN"))
    found = backend.search(SearchCriteria(last_name="martin"))
    assert [p.groupe_id for p in found] == ["1000001", "1000002", "1000003"]


def test_refund_can_leave_a_negative_balance() -> None:
    backend = WsOneBackend()
    key = IdentifierSpec(CARD, "4006381333931")
    backend.add_person(identifiers=[key])
    receipt = Receipt(entity_id="123456", receipt_number="1", amount=10)
    backend.send_transaction(key, receipt, validate=True)
    person = backend.find(key)
    person.points = 3  # as if spent elsewhere
    backend.refund_transaction(key, "123456", "1")
    assert person.points == -7
    assert backend.points_total() == -7


# ------------------------------------------------------------------ index consistency

names = st.sampled_from(["Martin", "MARTIN", "Bernard", "Petit", "Durand", "  martin "])
emails = st.sampled_from(["a@x.fr", "A@X.FR", "b@x.fr", None])


@settings(max_examples=50, deadline=None)
@given(
    people=st.lists(st.tuples(names, names, emails), min_size=1, max_size=12),
    updates=st.lists(st.tuples(st.integers(0, 11), names, emails), max_size=6),
    wanted=st.tuples(st.none() | names, st.none() | names, emails),
)
def test_search_agrees_with_a_full_scan(
    people: list[tuple[str, str, str | None]],
    updates: list[tuple[int, str, str | None]],
    wanted: tuple[str | None, str | None, str | None],
) -> None:
    backend = WsOneBackend()
    persons = [
        backend.add_person(
            Profile(last_name=last, first_name=first, email=Email(value=email) if email else None)
        )
        for last, first, email in people
    ]
    for index, last, email in updates:
        person = persons[index % len(persons)]
        (key,) = backend.identifiers_of(person)
        profile = Profile(last_name=last, email=Email(value=email) if email else None)
        backend.update_person(IdentifierSpec(*key), profile)

    def fold(text: str | None) -> str | None:
        return " ".join(text.split()).casefold() if text else None

    last, first, email = wanted
    if last is None and first is None and email is None:
        with pytest.raises(WsOneFailure) as failure:
            backend.search(SearchCriteria())
        assert failure.value.code == C.NO_CRITERIA
        return
    expected = [
        p
        for p in backend.persons()
        if (last is None or fold(p.last_name) == fold(last))
        and (first is None or fold(p.first_name) == fold(first))
        and (email is None or (p.email is not None and fold(p.email.value) == fold(email)))
    ]
    found = backend.search(SearchCriteria(last_name=last, first_name=first, email=email))
    assert found == expected


# ------------------------------------------------------------------------ cost per call


def test_a_search_examines_the_smallest_index_entry_never_every_person() -> None:
    # A bulk import searches then creates each person: with a scan per search, the cost
    # of a search would grow with the persons already there. Counted, not timed.
    backend = WsOneBackend()
    index = backend.search_index
    for i in range(2000):
        last = f"NOM{i}"
        assert backend.search(SearchCriteria(last_name=last, first_name="JEAN")) == []
        backend.create_person(
            IdentifierSpec(WEB_ACCOUNT, f"p{i}@example.fr"),
            Profile(last_name=last, first_name="JEAN", email=Email(value=f"p{i}@example.fr")),
        )
    assert backend.persons_count() == 2000
    # Each search met an empty entry (nobody had that last name yet): nobody examined.
    assert index.examined == 0
    (found,) = backend.search(SearchCriteria(last_name="nom1999", first_name="jean"))
    assert found.last_name == "NOM1999"
    assert index.examined == 1  # the one NOM1999, not the 2000 JEANs
    assert len(backend.search(SearchCriteria(first_name="JEAN"))) == 100  # capped
    assert index.examined == 1 + 2000


def test_an_update_moves_a_person_only_under_the_keys_that_changed() -> None:
    backend = WsOneBackend()
    key = IdentifierSpec(WEB_ACCOUNT, "a@example.fr")
    backend.create_person(key, Profile(last_name="MARTIN", first_name="JEAN"))
    backend.update_person(key, Profile(last_name="DURAND"))
    assert backend.search(SearchCriteria(last_name="martin")) == []
    (person,) = backend.search(SearchCriteria(last_name="durand", first_name="jean"))
    (same,) = backend.search(SearchCriteria(email="A@EXAMPLE.FR"))  # the web account
    assert person is same
    backend.replace_identifier(key, IdentifierSpec(WEB_ACCOUNT, "b@example.fr"))
    assert backend.search(SearchCriteria(email="a@example.fr")) == []
    assert backend.search(SearchCriteria(email="b@example.fr")) == [person]
