"""``wsone demo``: the vendor's documented workflows, run through WsOneClient.

The demo is a list of named steps (:data:`STEPS`), each a small async function that calls
the client, checks what it got and returns the line to print. They run in order against a
WsOne simulator started in this process, sharing one :class:`Demo` record. A check that
fails raises :class:`DemoCheckError` (never an ``assert``, which ``python -O`` removes):
the demo stops there and :func:`run_demo` prints one line naming the step, and answers 1.

Layer 6, like the command line that calls it.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import IO, TYPE_CHECKING, Final, TypeVar

import attrs

from wsone_async import models as m
from wsone_async._console import MAX_CONCURRENCY, mask, pool_size, say
from wsone_async.bulk import ImportSummary, prospect_from_row, run_import
from wsone_async.client import WsOneClient
from wsone_async.errors import WsOneError

if TYPE_CHECKING:
    from wsone_async.testing import WsOneSimulator

__all__ = ["STEPS", "Demo", "DemoCheckError", "Step", "run_demo"]

T = TypeVar("T")

_CARDS: Final = 40
"""Prospects that join the loyalty programme with a card (and buy once)."""


class DemoCheckError(Exception):
    """A demo step got an answer other than the one the workflow promises."""


def check(condition: object, problem: str) -> None:
    """Raise :class:`DemoCheckError` with ``problem`` unless ``condition`` holds."""
    if not condition:
        raise DemoCheckError(problem)


def present(value: T | None, what: str) -> T:
    """``value``, which an answer must hold; otherwise :class:`DemoCheckError`."""
    if value is None:
        msg = f"the answer has no {what}"
        raise DemoCheckError(msg)
    return value


def _key(identifier: m.IdentifierType, value: str) -> m.IdentifierRequest:
    return m.IdentifierRequest(identifier_type=identifier, identifier_value=value)


def _points(accounts: m.GetAccountsResponse) -> float:
    return sum(
        a.value or 0 for a in accounts.account_response or () if a.name in ("point", "points")
    )


@attrs.define
class Demo:
    """What the steps share: the client, the simulator, and what earlier steps found."""

    client: WsOneClient
    simulator: WsOneSimulator
    prospects: int
    concurrency: int
    now: dt.datetime = attrs.field(factory=lambda: dt.datetime.now().replace(microsecond=0))
    store: str = ""
    rows: list[dict[str, str]] = attrs.field(factory=list)
    summary: ImportSummary | None = None
    cards: list[m.IdentifierRequest] = attrs.field(factory=list)
    credited: float = 0.0

    @property
    def store_ref(self) -> m.EntityRequest:
        """The store where the demo's customers buy."""
        return m.EntityRequest(entity_identifier=self.store)

    def card(self, index: int) -> m.IdentifierRequest:
        """The card of the ``index``-th customer who joined the programme."""
        check(len(self.cards) > index, "no customer joined the programme")
        return self.cards[index]


@attrs.frozen
class Step:
    """One step of the demo: the operations it shows, and the function that runs them."""

    name: str
    run: Callable[[Demo], Awaitable[str]]


# ---------------------------------------------------------------------------- steps


async def stores(demo: Demo) -> str:
    """Find a store and the network above it."""
    entities = await demo.client.get_entities(m.GetEntitiesRequest())
    known = [e for e in entities.entity_response or () if e.entity_identifier]
    store = next((e for e in known if e.label and e.label.startswith("MAGASIN")), None)
    store = present(store, "store (an entity labelled MAGASIN...)")
    demo.store = present(store.entity_identifier, "entityIdentifier")
    parents = await demo.client.get_entity_parents(
        m.GetEntityParentsRequest(entity_request=demo.store_ref)
    )
    chain = [e.label or "?" for e in parents.entity_response or ()]
    check(chain, f"store {demo.store} has no parent entity")
    return f"{len(known)} entities; store {store.label} sits in {' < '.join(chain)}"


async def search_first(demo: Demo) -> str:
    """Search before creating, as the vendor's workflow asks."""
    demo.rows = [
        {
            "identifier_value": f"prospect{i:05d}@example.fr",
            "email": f"prospect{i:05d}@example.fr",
            "first_name": "CAMILLE",
            "last_name": f"DEMO{i % 50:02d}",
            "birth_date": f"{1 + i % 28:02d}/{1 + i % 12:02d}/{1960 + i % 40}",
            "entity_identifier": demo.store,
            "allow_company_solicitation": "1" if i % 3 else "0",
            "subscriptions": "30",
        }
        for i in range(demo.prospects)
    ]
    found = 0
    for row in demo.rows[:5]:
        search = await demo.client.search_person(
            m.SearchPersonRequest(
                contacts_request=m.ContactsRequest(
                    email_request=m.EmailRequest(email_value=row["email"])
                )
            )
        )
        found += len(search.person_response or ())
    check(found == 0, f"{found} prospects already known to a fresh simulator")
    return f"{found} of 5 sample prospects already known"


async def create_prospects(demo: Demo) -> str:
    """Import the prospects, many at a time, each created once."""
    summary = await run_import(
        demo.client,
        demo.rows,
        to_request=lambda row: prospect_from_row(row, source="WSONE-DEMO"),
        concurrency=demo.concurrency,
    )
    demo.summary = summary
    counts = ", ".join(f"{k} {v}" for k, v in summary.counts.items() if v)
    check(summary.all_settled, f"some prospects were not created ({counts})")
    check(
        summary.counts["created"] == len(demo.rows),
        f"{summary.counts['created']} of {len(demo.rows)} prospects created",
    )
    rate = summary.total / max(summary.seconds, 1e-9)
    return f"x{len(demo.rows)}, {demo.concurrency} at a time: {counts} ({rate:.0f} rows/s)"


async def join_programme(demo: Demo) -> str:
    """Give the first prospects a card; getPerson shows it."""

    async def ask_card(email: str) -> m.IdentifierRequest:
        web = _key(m.IdentifierType.WEB_ACCOUNT, email)
        await demo.client.create_identifier(
            m.CreateIdentifierRequest(
                identifier_request=web, new_identifier_type=m.IdentifierType.CARD
            )
        )
        person = await demo.client.get_person(m.GetPersonRequest(identifier_request=web))
        profile = present(person.person_response, "PersonResponse")
        card = next(
            (
                i.identifier_value
                for i in profile.identifier_response or ()
                if i.identifier_type == m.IdentifierType.CARD and i.identifier_value
            ),
            None,
        )
        return _key(m.IdentifierType.CARD, present(card, "card among the identifiers"))

    emails = [row["identifier_value"] for row in demo.rows[:_CARDS]]
    demo.cards = list(await asyncio.gather(*(ask_card(email) for email in emails)))
    check(len(demo.cards) >= 5, f"only {len(demo.cards)} prospects; the demo needs 5")
    return (
        f"{len(demo.cards)} prospects joined the programme with a card "
        f"(such as {mask(demo.cards[0].identifier_value)})"
    )


async def full_person(demo: Demo) -> str:
    """Profile, accounts and usable offers in one call."""
    full = await demo.client.get_full_person(
        m.GetFullPersonRequest(
            identifier_request=demo.card(0),
            entity_request=demo.store_ref,
            date=demo.now,
            filter=0,
        )
    )
    present(full.person_response, "PersonResponse")
    offers = full.offers_response.get_offers_responses if full.offers_response else None
    check(offers, "a new customer has no welcome offer")
    return f"profile, accounts and {len(offers or ())} usable offer(s)"


async def receipts(demo: Demo) -> str:
    """Every customer with a card buys once: sent then validated, or both at once."""

    async def buy(index: int, card: m.IdentifierRequest) -> float:
        amount = round(20 + 3.5 * index, 2)
        receipt = m.ReceiptRequest(
            receipt_number=f"DEMO-{index:04d}",
            receipt_date=demo.now,
            amount=amount,
            entity_request=demo.store_ref,
            details_request=[
                m.DetailsRequest(
                    line_number=1,
                    product_code="3017620422003",
                    quantity=1,
                    unit_price=amount,
                    amount=amount,
                )
            ],
        )
        done: m.SendAndValidTransactionResponse | m.ValidTransactionResponse
        if index % 2:
            done = await demo.client.send_and_valid_transaction(
                m.SendAndValidTransactionRequest(identifier_request=card, receipt_request=receipt)
            )
        else:
            sent = await demo.client.send_transaction(
                m.SendTransactionRequest(identifier_request=card, receipt_request=receipt)
            )
            recorded = present(sent.transaction_response, "TransactionResponse")
            done = await demo.client.valid_transaction(
                m.ValidTransactionRequest(
                    identifier_request=card, transaction_id=recorded.transaction_id
                )
            )
        validated = present(done.transaction_response, "TransactionResponse")
        return float(validated.points or 0)

    credited = await asyncio.gather(*(buy(i, card) for i, card in enumerate(demo.cards)))
    demo.credited = sum(credited)
    check(demo.credited > 0, "no points credited")
    return f"{len(demo.cards)} receipts validated, {demo.credited:.0f} points credited"


async def verify_and_refund(demo: Demo) -> str:
    """Find a receipt by its store and number, then refund it."""
    card = demo.card(0)
    demo_0000 = m.ReceiptRequest(receipt_number="DEMO-0000", entity_request=demo.store_ref)
    verified = await demo.client.verify_transaction(
        m.VerifyTransactionRequest(identifier_request=card, receipt_request=demo_0000)
    )
    status = present(verified.transaction_response, "TransactionResponse").status
    check(status == "VALIDATED", f"receipt DEMO-0000 is {status}, not VALIDATED")

    async def points() -> float:
        return _points(
            await demo.client.get_accounts(m.GetAccountsRequest(identifier_request=card))
        )

    before = await points()
    await demo.client.refund_transaction(
        m.RefundTransactionRequest(identifier_request=card, receipt_request=demo_0000)
    )
    after = await points()
    check(after < before, f"the refund left the balance at {after:.0f} points")
    return f"DEMO-0000 recorded, status {status}; refunded: {before:.0f} -> {after:.0f} points"


async def cancel_open(demo: Demo) -> str:
    """A receipt sent but never validated is cancelled."""
    card = demo.card(1)
    await demo.client.send_transaction(
        m.SendTransactionRequest(
            identifier_request=card,
            receipt_request=m.ReceiptRequest(
                receipt_number="DEMO-OPEN",
                receipt_date=demo.now,
                amount=12.0,
                entity_request=demo.store_ref,
            ),
        )
    )
    cancelled = await demo.client.cancel_transactions_not_validated(
        m.CancelTransactionsNotValidatedRequest(identifier_request=card)
    )
    count = len(cancelled.transaction_response or ())
    check(count == 1, f"{count} receipts cancelled instead of 1")
    last = await demo.client.get_last_transaction(
        m.GetLastTransactionRequest(identifier_request=card)
    )
    status = present(last.transaction_response, "TransactionResponse").status
    check(status == "CANCELLED", f"the last receipt is {status}, not CANCELLED")
    return f"{count} receipt cancelled; getLastTransaction now says {status}"


async def update_consent(demo: Demo) -> str:
    """Find, then update: a customer withdraws an email consent."""
    card = demo.card(2)
    await demo.client.update_person(
        m.UpdatePersonRequest(
            identifier_request=card,
            person_profil_request=m.PersonProfilRequest(
                contacts_request=m.ContactsRequest(
                    email_request=m.EmailRequest(
                        email_value=demo.rows[2]["email"], allow_company_solicitation=False
                    )
                )
            ),
        )
    )
    person = await demo.client.get_person(m.GetPersonRequest(identifier_request=card))
    profile = present(person.person_response, "PersonResponse")
    contacts = present(profile.contacts_response, "ContactsResponse")
    email = present(contacts.email_response, "EmailResponse")
    consent = email.allow_company_solicitation
    check(consent is False, f"the email consent is {consent} after withdrawing it")
    return f"email consent is now {consent}"


async def use_offer(demo: Demo) -> str:
    """Use one of a customer's offers; it is no longer usable."""
    card = demo.card(3)
    available = await demo.client.get_available_offers(
        m.GetAvailableOffersRequest(
            identifier_request=card, entity_request=demo.store_ref, date=demo.now
        )
    )
    offers = available.get_offers_responses or ()
    offer = present(next(iter(offers), None), "offer for a new customer")
    await demo.client.edit_offer(
        m.EditOfferRequest(
            identifier_request=card,
            entity_request=demo.store_ref,
            offer_number=present(offer.offer_number, "offerNumber"),
            used=True,
        )
    )
    enabled = await demo.client.get_enable_offers(
        m.GetEnableOffersRequest(
            identifier_request=card, entity_request=demo.store_ref, date=demo.now
        )
    )
    usable = len(enabled.get_offers_responses or ())
    check(usable == len(offers) - 1, f"{usable} offers still usable after one was used")
    return f"{len(offers)} offer(s), {usable} still usable after one was used"


async def forms_and_badges(demo: Demo) -> str:
    """Answer a form; read the badges a customer earned."""
    card = demo.card(4)
    form = await demo.client.get_form(m.GetFormRequest(identifier_request=card, form_id="100"))
    questions = form.form_answered_response or ()
    check(questions, "form 100 has no question")
    await demo.client.update_form(
        m.UpdateFormRequest(
            identifier_request=card,
            form_id="100",
            form_answered_request=[
                m.FormAnsweredRequest(question_id=q.question_id, answer="2") for q in questions[:1]
            ],
        )
    )
    badges = await demo.client.get_badge(m.GetBadgeRequest(identifier_request=demo.card(0)))
    earned = len(badges.badge_response or ())
    check(earned, "a customer who bought has no badge")
    return f"{len(questions)} questions, one answered; getBadge: {earned} badge(s)"


#: The demo, in order: each step's name says which operations it shows.
STEPS: Final[tuple[Step, ...]] = (
    Step("getEntities, getEntityParents", stores),
    Step("searchPerson before creating", search_first),
    Step("createPerson", create_prospects),
    Step("createIdentifier, getPerson", join_programme),
    Step("getFullPerson", full_person),
    Step("sendTransaction+validTransaction and sendAndValidTransaction", receipts),
    Step("verifyTransaction, refundTransaction, getAccounts", verify_and_refund),
    Step("cancelTransactionsNotValidated, getLastTransaction", cancel_open),
    Step("updatePerson then getPerson", update_consent),
    Step("getAvailableOffers, editOffer, getEnableOffers", use_offer),
    Step("getForm, updateForm, getBadge", forms_and_badges),
)


async def run_demo(
    *,
    prospects: int = 300,
    concurrency: int = 32,
    steps: Sequence[Step] = STEPS,
    out: IO[str] | None = None,
    err: IO[str] | None = None,
) -> int:
    """Run ``steps`` against a simulator started here; returns the exit status.

    Each step's line goes to ``out`` (default: standard output). A failed check or a
    failed call stops the demo with one line on ``err`` (default: standard error) naming
    the step, and the answer 1; success answers 0.

    Example:
        >>> import asyncio, io
        >>> asyncio.run(run_demo(prospects=10, concurrency=4, out=io.StringIO()))
        0
    """
    from wsone_async.testing import SIMULATOR_ERROR_CLASSES, WsOneSimulator

    out = out or sys.stdout
    err = err or sys.stderr
    if prospects < 5 or not 1 <= concurrency <= MAX_CONCURRENCY:
        say(
            "wsone demo: --prospects must be at least 5 and --concurrency from 1 to "
            f"{MAX_CONCURRENCY}",
            err,
        )
        return 2
    started = time.monotonic()
    async with (
        WsOneSimulator() as sim,
        WsOneClient(
            sim.url,
            username=sim.username,
            password=sim.password,
            max_connections=pool_size(concurrency),
            codes=SIMULATOR_ERROR_CLASSES,
        ) as client,
    ):
        say(f"WsOne simulator started at {sim.url}; client {client!r}", out)
        demo = Demo(client, sim, prospects, concurrency)
        for number, step in enumerate(steps, 1):
            try:
                line = await step.run(demo)
            except (DemoCheckError, WsOneError) as exc:
                say(f"wsone demo: step {number} ({step.name}) failed: {exc}", err)
                return 1
            say(f"{number:>2}. {step.name}: {line}", out)
    created = demo.summary.counts["created"] if demo.summary is not None else 0
    say(
        f"demo finished in {time.monotonic() - started:.1f}s: {created} prospects created, "
        f"{len(demo.cards)} cards, {len(demo.cards)} receipts, {demo.credited:.0f} points "
        "credited; every call went through WsOneClient",
        out,
    )
    return 0
