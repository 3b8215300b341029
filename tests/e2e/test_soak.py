"""Soak: a consumer-like mix of operations through one long-lived client, under random faults.

Workers share one ``WsOneClient`` (and a ``reconcile_writes`` view of it) and run, with
bounded concurrency, what a loyalty back office does all day: enrolments on the web and at
the till, lookups, receipts sent and validated in one or two steps, refunds, offers used and
given back, profile updates, and checks of receipts whose outcome was unknown. The simulator
injects every kind of fault at a low, seeded rate. Afterwards:

* every call started is accounted for: it answered or raised a ``WsOneError``, and nothing
  else escaped;
* WsOne holds no duplicate customer and no receipt credited twice, every write that
  answered is there (no record lost), and no write the client reported refused is there;
* after ``aclose()`` no connection to the simulator is left open, and no task is left over;
* memory attributable to ``wsone_async`` and ``aiohttp`` does not grow from one late phase
  to the next (``tracemalloc``).

The simulator runs in a child process (:class:`~wsone_async.testing.SimulatorProcess`), as
WsOne would, so that what this process holds is the client's alone. In the same process,
tracemalloc charges part of the simulator's (legitimately growing) state to aiohttp: CPython
recycles the dicts aiohttp frees per request (its ``**kwargs``) into the backend's new
records, and a recycled block keeps the traceback of its first allocation. The state is
checked from outside: the backend's counts (``GET /_control/state``, ``sharedIdentifiers``
included) and, with the faults removed, a read of every record the soak wrote.

The soak is counted in calls, not seconds, so that a slow machine makes it longer, never
different: ``WSONE_SOAK_CALLS`` sets the number of calls (2,500 by default, about 10 s on the
project's machine; it is marked ``slow`` and CI runs it with ``-m slow``); with
``WSONE_SOAK_REPORT=path.json`` a JSON summary is written for the README's figures. Each fault
kind is injected once at the start, then at random, so every kind fires in any run.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import gc
import json
import logging
import os
import random
import time
import tracemalloc
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, Final, TypeVar

import aiohttp
import psutil
import pytest

from tests._support.clients import simulator_client
from wsone_async import (
    APIError,
    OutcomeUnknownError,
    RetryPolicy,
    Timeouts,
    WsOneClient,
    WsOneError,
)
from wsone_async.models import (
    ContactsRequest,
    CreatePersonAndIdentifierRequest,
    CreatePersonRequest,
    EditOfferRequest,
    EmailRequest,
    EntityRequest,
    GetAccountsRequest,
    GetBadgeRequest,
    GetEnableOffersRequest,
    GetFullPersonRequest,
    GetLastTransactionRequest,
    GetPersonRequest,
    IdentifierRequest,
    IdentifierType,
    NewIdentifierRequest,
    PersonProfilRequest,
    PersonRequest,
    ReceiptRequest,
    RefundTransactionRequest,
    SearchPersonRequest,
    SendAndValidTransactionRequest,
    SendTransactionRequest,
    UpdatePersonRequest,
    ValidTransactionRequest,
    VerifyTransactionRequest,
)
from wsone_async.testing import WEB_ACCOUNT, SimulatorProcess, TransactionStatus

pytestmark = [pytest.mark.soak, pytest.mark.slow]

T = TypeVar("T")

SHORT_CALLS: Final = 2500
CALLS: Final = int(os.environ.get("WSONE_SOAK_CALLS") or SHORT_CALLS)
REPORT: Final = os.environ.get("WSONE_SOAK_REPORT")
SEED: Final = 20_240_917
CONCURRENCY: Final = 16
SEEDED_CUSTOMERS: Final = 24
STORES: Final = ("123456", "111111", "666666", "222222", "999999")
FIRST_NAMES: Final = ("JEAN", "MARIE", "LUC", "ANNE", "PAUL", "CLAIRE")
STATUSES: Final = tuple(str(status) for status in TransactionStatus)

ATTEMPT_LIMIT: Final = 0.5
# Every fault kind, each on a few requests in a thousand (about 6% of requests in all).
FAULT_RATE: Final = 0.004
FAULT_RULES: Final[tuple[tuple[str, dict[str, Any]], ...]] = (
    ("latency", {"delay": ATTEMPT_LIMIT + 0.1}),  # beyond the attempt limit: a timeout
    ("latency", {"delay": 0.02}),  # slow, within the limit
    ("status", {"status": 429}),
    ("status", {"status": 429, "retry_after": 0.02}),
    ("status", {"status": 429, "retry_after": 120}),  # beyond max_retry_after: at once
    ("status", {"status": 500}),
    ("status", {"status": 502}),
    ("status", {"status": 503, "retry_after": 0.02}),
    ("status", {"status": 504}),
    ("status", {"status": 504, "process": True}),  # a gateway gave up after WsOne worked
    ("drop_before", {}),
    ("drop_after", {}),
    ("html", {}),
    ("garbage", {}),
    ("response_code", {"response_code": "101"}),
)

# The memory bound of a late phase, from the calls it made: MEMORY_SLACK plus
# MEMORY_PER_CALL bytes per call. Nothing the client holds grows with the number of calls
# when nothing leaks: the pool keeps a bounded number of connections, every cache and free
# list is bounded, and gc runs before each snapshot, taken with every worker idle. Measured,
# a late phase grows by -18 to +12 KiB (1,000 calls per late phase in the short form,
# 10,000 in a 60 s run), mostly as the pool holds a few connections more or fewer. A leak of
# one small object per call (a 48-byte str, a dict entry, a retained request, response or
# exception) crosses the bound in both late phases, in the short form already. Some costs
# come once, possibly late: the codec builds each model's decoder on first use (a rare
# answer, an empty list or a null block), and coverage's tracer (on in every run, see
# addopts) enlarges its stack, by ~10 KiB charged to the calling line, the first time a
# rare path (settling a write) calls deeper than before. So the test fails when both late
# phases grow beyond their bound, as a leak makes them, not when one does.
MEMORY_SLACK: Final = 24 * 1024
MEMORY_PER_CALL: Final = 8
MEMORY_FILTERS: Final = (
    tracemalloc.Filter(True, f"*{os.sep}wsone_async{os.sep}*"),
    tracemalloc.Filter(True, f"*{os.sep}aiohttp{os.sep}*"),
)

Key = tuple[int, str]
ReceiptId = tuple[str, str]  # (store, receipt number)


def _key(key: Key) -> IdentifierRequest:
    return IdentifierRequest(identifier_type=IdentifierType(key[0]), identifier_value=key[1])


def _receipt_ref(receipt: ReceiptId) -> ReceiptRequest:
    return ReceiptRequest(
        receipt_number=receipt[1], entity_request=EntityRequest(entity_identifier=receipt[0])
    )


def _profile(email: str, rng: random.Random) -> PersonProfilRequest:
    return PersonProfilRequest(
        person_request=PersonRequest(first_name=rng.choice(FIRST_NAMES), last_name="SOAK"),
        contacts_request=ContactsRequest(email_request=EmailRequest(email_value=email)),
    )


@dataclasses.dataclass
class Expected:
    """What WsOne should hold after a write, and whether the client answered or refused it."""

    state: str
    """``"present"``/``"absent"`` for a person, a ``TransactionStatus`` value for a receipt."""
    answered: bool
    """True when the state follows from an answer (a mismatch is a lost record), False when
    it follows from a refusal the client reported (a mismatch is a phantom write)."""


@dataclasses.dataclass
class Soak:
    """The workers' shared client, ledger and counters."""

    client: WsOneClient
    reconciling: WsOneClient
    started: Counter[str] = dataclasses.field(default_factory=Counter)
    answered: Counter[str] = dataclasses.field(default_factory=Counter)
    failed: defaultdict[str, Counter[str]] = dataclasses.field(
        default_factory=lambda: defaultdict(Counter)
    )
    escaped: list[str] = dataclasses.field(default_factory=list)
    customers: list[Key] = dataclasses.field(default_factory=list)
    web_enrolments: dict[str, Expected | None] = dataclasses.field(default_factory=dict)
    till_enrolments: dict[str, Expected | None] = dataclasses.field(default_factory=dict)
    receipts: dict[ReceiptId, Expected | None] = dataclasses.field(default_factory=dict)
    owners: dict[ReceiptId, Key] = dataclasses.field(default_factory=dict)
    refundable: list[ReceiptId] = dataclasses.field(default_factory=list)
    unknown: list[ReceiptId] = dataclasses.field(default_factory=list)
    sequence: int = 0
    phase_calls: int = 0
    """The number of calls started at which the current phase ends."""

    @property
    def calls(self) -> int:
        return sum(self.started.values())

    def next_number(self) -> int:
        self.sequence += 1
        return self.sequence

    async def call(self, name: str, call: Awaitable[T]) -> tuple[T | None, BaseException | None]:
        """Run one client call and account for it: answered, a WsOneError, or escaped."""
        self.started[name] += 1
        try:
            result = await call
        except WsOneError as error:
            self.failed[name][type(error).__name__] += 1
            return None, error
        except Exception as error:
            self.escaped.append(f"{name}: {type(error).__name__}: {error}")
            return None, error
        self.answered[name] += 1
        return result, None

    @staticmethod
    def expect(
        error: BaseException | None, *, reconciled: bool, then: str, otherwise: str
    ) -> Expected | None:
        # An answer means applied. A refusal means not applied, except an unknown outcome,
        # and except with reconcile_writes: a write settled "not applied" while a timed-out
        # original was still on its way can land after all (WsOne's uniqueness rules then
        # refuse the repeat, so it still lands once).
        if error is None:
            return Expected(then, answered=True)
        if (
            isinstance(error, OutcomeUnknownError)
            or reconciled
            or not isinstance(error, WsOneError)
        ):
            return None
        return Expected(otherwise, answered=False)

    def pick_client(self, rng: random.Random) -> tuple[WsOneClient, bool]:
        reconciled = rng.random() < 0.5
        return (self.reconciling if reconciled else self.client), reconciled

    # -------------------------------------------------------------------- scenarios

    async def enrol_on_the_web(self, rng: random.Random) -> None:
        email = f"web{self.next_number():06d}@soak.example.fr"
        client, reconciled = self.pick_client(rng)
        request = CreatePersonRequest(
            new_identifier_request=NewIdentifierRequest(
                identifier_type=IdentifierType.WEB_ACCOUNT, identifier_value=email
            ),
            person_profil_request=_profile(email, rng),
            source="SOAK-WEB",
        )
        _, error = await self.call("createPerson", client.create_person(request))
        self.web_enrolments[email] = self.expect(
            error, reconciled=reconciled, then="present", otherwise="absent"
        )
        if error is None:
            self.customers.append((WEB_ACCOUNT, email))

    async def enrol_at_the_till(self, rng: random.Random) -> None:
        # A generated card only: nothing but the client's care keeps a repeat from creating
        # a second customer, which the contact email (unique per enrolment) would reveal.
        email = f"till{self.next_number():06d}@soak.example.fr"
        request = CreatePersonAndIdentifierRequest(
            person_profil_request=_profile(email, rng),
            new_identifier_type=IdentifierType.CARD,
            source="SOAK-TILL",
        )
        _, error = await self.call(
            "createPersonAndIdentifier", self.client.create_person_and_identifier(request)
        )
        self.till_enrolments[email] = self.expect(
            error, reconciled=False, then="present", otherwise="absent"
        )

    async def look_up(self, rng: random.Random) -> None:
        customer = rng.choice(self.customers)
        key = _key(customer)
        choice = rng.randrange(6)
        client = self.client
        if choice == 0:
            await self.call(
                "getPerson", client.get_person(GetPersonRequest(identifier_request=key))
            )
        elif choice == 1:
            await self.call(
                "getFullPerson",
                client.get_full_person(GetFullPersonRequest(identifier_request=key)),
            )
        elif choice == 2:
            await self.call(
                "getAccounts", client.get_accounts(GetAccountsRequest(identifier_request=key))
            )
        elif choice == 3:
            await self.call("getBadge", client.get_badge(GetBadgeRequest(identifier_request=key)))
        elif choice == 4:
            await self.call(
                "getLastTransaction",
                client.get_last_transaction(GetLastTransactionRequest(identifier_request=key)),
            )
        else:
            criteria = ContactsRequest(email_request=EmailRequest(email_value=customer[1]))
            await self.call(
                "searchPerson", client.search_person(SearchPersonRequest(contacts_request=criteria))
            )

    def new_receipt(self, rng: random.Random) -> tuple[ReceiptId, Key, ReceiptRequest]:
        receipt: ReceiptId = (rng.choice(STORES), f"SOAK-{self.next_number():07d}")
        customer = rng.choice(self.customers)
        self.owners[receipt] = customer
        request = ReceiptRequest(
            receipt_number=receipt[1],
            receipt_date=dt.datetime.now().replace(microsecond=0),
            amount=float(rng.randrange(1, 200)) + rng.choice((0.0, 0.5, 0.99)),
            entity_request=EntityRequest(entity_identifier=receipt[0]),
        )
        return receipt, customer, request

    def settle_receipt(self, receipt: ReceiptId, expected: Expected | None) -> None:
        self.receipts[receipt] = expected
        if expected is None:
            self.unknown.append(receipt)
        elif expected.state == TransactionStatus.VALIDATED:
            self.refundable.append(receipt)

    async def receipt_in_one_step(self, rng: random.Random) -> None:
        receipt, customer, request = self.new_receipt(rng)
        client, reconciled = self.pick_client(rng)
        _, error = await self.call(
            "sendAndValidTransaction",
            client.send_and_valid_transaction(
                SendAndValidTransactionRequest(
                    identifier_request=_key(customer), receipt_request=request
                )
            ),
        )
        self.settle_receipt(
            receipt,
            self.expect(
                error, reconciled=reconciled, then=TransactionStatus.VALIDATED, otherwise="absent"
            ),
        )

    async def receipt_in_two_steps(self, rng: random.Random) -> None:
        receipt, customer, request = self.new_receipt(rng)
        client, reconciled = self.pick_client(rng)
        _, error = await self.call(
            "sendTransaction",
            client.send_transaction(
                SendTransactionRequest(identifier_request=_key(customer), receipt_request=request)
            ),
        )
        sent = self.expect(
            error, reconciled=reconciled, then=TransactionStatus.SENT, otherwise="absent"
        )
        if error is not None:
            self.settle_receipt(receipt, sent)
            return
        _, error = await self.call(
            "validTransaction",
            self.client.valid_transaction(
                ValidTransactionRequest(
                    identifier_request=_key(customer), receipt_request=_receipt_ref(receipt)
                )
            ),
        )
        self.settle_receipt(
            receipt,
            self.expect(
                error,
                reconciled=False,
                then=TransactionStatus.VALIDATED,
                otherwise=TransactionStatus.SENT,
            ),
        )

    async def refund(self, rng: random.Random) -> None:
        if not self.refundable:
            return
        receipt = self.refundable.pop(rng.randrange(len(self.refundable)))
        _, error = await self.call(
            "refundTransaction",
            self.client.refund_transaction(
                RefundTransactionRequest(
                    identifier_request=_key(self.owners[receipt]),
                    receipt_request=_receipt_ref(receipt),
                )
            ),
        )
        expected = self.expect(
            error,
            reconciled=False,
            then=TransactionStatus.REFUNDED,
            otherwise=TransactionStatus.VALIDATED,
        )
        self.settle_receipt(receipt, expected)

    async def use_an_offer(self, rng: random.Random) -> None:
        key = _key(rng.choice(self.customers))
        store = EntityRequest(entity_identifier=rng.choice(STORES))
        offers, _ = await self.call(
            "getEnableOffers",
            self.client.get_enable_offers(
                GetEnableOffersRequest(identifier_request=key, entity_request=store)
            ),
        )
        if offers is None or not offers.get_offers_responses:
            return
        number = offers.get_offers_responses[0].offer_number
        del offers  # nothing the client allocated is kept past the scenario
        for used in (True, False):
            _, error = await self.call(
                "editOffer",
                self.client.edit_offer(
                    EditOfferRequest(
                        identifier_request=key, entity_request=store, offer_number=number, used=used
                    )
                ),
            )
            if error is not None:
                return

    async def update_profile(self, rng: random.Random) -> None:
        request = UpdatePersonRequest(
            identifier_request=_key(rng.choice(self.customers)),
            person_profil_request=PersonProfilRequest(
                person_request=PersonRequest(first_name=rng.choice(FIRST_NAMES))
            ),
        )
        await self.call("updatePerson", self.client.update_person(request))

    async def verify_unknown_receipt(self, rng: random.Random) -> None:
        # What a consumer does before sending a receipt again (README): ask verifyTransaction.
        if not self.unknown:
            return
        receipt = rng.choice(self.unknown)
        await self.call(
            "verifyTransaction",
            self.client.verify_transaction(
                VerifyTransactionRequest(
                    identifier_request=_key(self.owners[receipt]),
                    receipt_request=_receipt_ref(receipt),
                )
            ),
        )

    # ------------------------------------------------------------------------ workers

    async def worker(self, index: int, barrier: asyncio.Barrier, phases: int) -> None:
        rng = random.Random(SEED * 100 + index)
        scenarios: list[Callable[[random.Random], Awaitable[None]]] = [
            self.enrol_on_the_web,
            self.enrol_at_the_till,
            self.look_up,
            self.receipt_in_one_step,
            self.receipt_in_two_steps,
            self.refund,
            self.use_an_offer,
            self.update_profile,
            self.verify_unknown_receipt,
        ]
        weights = [8, 4, 30, 22, 8, 8, 8, 6, 6]
        for _ in range(phases):
            await barrier.wait()  # the phase starts
            while self.calls < self.phase_calls:
                (scenario,) = rng.choices(scenarios, weights)
                try:
                    await scenario(rng)
                except Exception as error:
                    self.escaped.append(f"{scenario.__name__}: {type(error).__name__}: {error}")
            await barrier.wait()  # every worker is idle: the phase is over


# ----------------------------------------------------------------- checks of the end


@dataclasses.dataclass
class Audit:
    """What WsOne holds of the soak's writes, read back with the faults removed."""

    persons: int = 0
    """Persons found for the soak's enrolments."""
    duplicate_customers: int = 0
    """Persons beyond the first found for one enrolment's (unique) email."""
    statuses: Counter[str] = dataclasses.field(default_factory=Counter)
    """The soak's receipts by status (``"absent"``: never recorded)."""
    validated_points: int = 0
    """Points of the soak's receipts that are VALIDATED."""
    lost: list[str] = dataclasses.field(default_factory=list)
    phantoms: list[str] = dataclasses.field(default_factory=list)

    def compare(self, what: str, expected: Expected | None, found: str) -> None:
        if expected is not None and expected.state != found:
            line = f"{what}: expected {expected.state}, found {found}"
            (self.lost if expected.answered else self.phantoms).append(line)


async def _audit(client: WsOneClient, soak: Soak) -> Audit:
    """Read back every record the soak wrote, with a client that sees no fault."""
    audit = Audit()
    gate = asyncio.Semaphore(CONCURRENCY)

    async def persons_with(email: str) -> int:
        criteria = ContactsRequest(email_request=EmailRequest(email_value=email))
        answer = await client.search_person(SearchPersonRequest(contacts_request=criteria))
        return len(answer.person_response or ())

    async def enrolment(email: str, expected: Expected | None, *, web: bool) -> None:
        async with gate:
            # Each enrolment's email is unique and is the person's contact email: a second
            # person found with it is a customer created twice.
            count = await persons_with(email)
            if web:
                try:
                    key = _key((WEB_ACCOUNT, email))
                    found = await client.get_person(GetPersonRequest(identifier_request=key))
                    assert found.person_response is not None
                except APIError as error:
                    assert error.code == "101", error  # the simulator's "person not found"
                    assert count == 0
        audit.persons += count
        audit.duplicate_customers += max(0, count - 1)
        audit.compare(email, expected, "present" if count else "absent")

    async def receipt(receipt_id: ReceiptId, expected: Expected | None) -> None:
        async with gate:
            answer = await client.verify_transaction(
                VerifyTransactionRequest(
                    identifier_request=_key(soak.owners[receipt_id]),
                    receipt_request=_receipt_ref(receipt_id),
                )
            )
        recorded = answer.transaction_response
        status = "absent" if recorded is None else str(recorded.status)
        audit.statuses[status] += 1
        if recorded is not None and status == TransactionStatus.VALIDATED:
            audit.validated_points += int(recorded.points or 0)
        audit.compare("/".join(receipt_id), expected, status)

    await asyncio.gather(
        *(enrolment(e, x, web=True) for e, x in soak.web_enrolments.items()),
        *(enrolment(e, x, web=False) for e, x in soak.till_enrolments.items()),
        *(receipt(r, x) for r, x in soak.receipts.items()),
    )
    return audit


async def _control(sim: SimulatorProcess, method: str, path: str, body: Any = None) -> Any:
    """Call one of the simulator's control endpoints (never faulted)."""
    headers = {"Authorization": aiohttp.encode_basic_auth(sim.username, sim.password)}
    async with (
        aiohttp.ClientSession(headers=headers) as http,
        http.request(method, f"{sim.url}/_control/{path}", json=body) as answer,
    ):
        assert answer.status in (200, 201), await answer.text()
        return await answer.json()


def _connections_to(port: int) -> list[Any]:
    """This process's TCP sockets connected to ``port`` (the client's side of them)."""
    return [
        conn
        for conn in psutil.Process().net_connections(kind="tcp")
        if conn.raddr and conn.raddr.port == port
    ]


def _memory(snapshot: tracemalloc.Snapshot) -> tracemalloc.Snapshot:
    return snapshot.filter_traces(MEMORY_FILTERS)


def _growth(new: tracemalloc.Snapshot, old: tracemalloc.Snapshot) -> tuple[int, list[str]]:
    stats = new.compare_to(old, "filename")
    top = [str(stat) for stat in stats[:5]]
    return sum(stat.size_diff for stat in stats), top


def _write_report(path: Path, summary: dict[str, Any]) -> None:
    path.write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")


# ------------------------------------------------------------------------------ test


async def _seed(sim: SimulatorProcess, soak: Soak) -> None:
    emails = [f"client{index:03d}@soak.example.fr" for index in range(SEEDED_CUSTOMERS)]
    persons = [
        {
            "identifiers": [{"identifierType": WEB_ACCOUNT, "identifierValue": email}],
            "PersonProfilRequest": {"PersonRequest": {"firstName": "SEED", "lastName": "SOAK"}},
            "offers": ["57384", "57385"],
        }
        for email in emails
    ]
    created = await _control(sim, "POST", "seed", {"persons": persons})
    assert len(created["persons"]) == SEEDED_CUSTOMERS
    soak.customers.extend((WEB_ACCOUNT, email) for email in emails)
    # Each kind once on the first requests (rules are consulted in order and exhaust), so
    # that every kind fires whatever the run's length; then all of them at random.
    for kind, options in FAULT_RULES:
        await _control(
            sim, "POST", "faults", {"operation": "*", "kind": kind, "times": 1, **options}
        )
    for kind, options in FAULT_RULES:
        await _control(
            sim, "POST", "faults", {"operation": "*", "kind": kind, "rate": FAULT_RATE, **options}
        )


@pytest.mark.timeout(600)
async def test_soak(caplog: pytest.LogCaptureFixture) -> None:
    # Retry lines are INFO: keep them out of the log capture, which would hold every record.
    caplog.set_level(logging.WARNING, logger="wsone_async")
    # A warm-up (the pool fills up, caches and free lists reach their size), then two equal
    # late phases, whose memory growths are compared.
    phases = (CALLS // 5, CALLS * 2 // 5, CALLS * 2 // 5)
    async with SimulatorProcess(seed=SEED) as sim:
        port = int(sim.url.rsplit(":", 1)[1])
        fast_retries = {"initial_delay": 0.01, "max_delay": 0.1}
        client = simulator_client(
            sim,
            timeout=Timeouts(connect=2.0, attempt=ATTEMPT_LIMIT, total=5.0),
            retry=RetryPolicy(**fast_retries),
        )
        soak = Soak(
            client, client.with_options(retry=RetryPolicy(reconcile_writes=True, **fast_retries))
        )
        await _seed(sim, soak)
        snapshots: list[tracemalloc.Snapshot] = []
        calls_at: list[int] = []
        tracemalloc.start()
        began = time.monotonic()
        try:
            async with client:
                barrier = asyncio.Barrier(CONCURRENCY + 1)
                workers = [
                    asyncio.create_task(soak.worker(i, barrier, len(phases)))
                    for i in range(CONCURRENCY)
                ]
                for length in phases:
                    soak.phase_calls = soak.calls + length
                    await barrier.wait()  # go
                    await barrier.wait()  # every worker idle
                    gc.collect()
                    snapshots.append(_memory(tracemalloc.take_snapshot()))
                    calls_at.append(soak.calls)
                await asyncio.gather(*workers)
        finally:
            tracemalloc.stop()
        duration = time.monotonic() - began
        assert client.closed
        left_open = _connections_to(port)
        leftover_tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]

        after_soak = await _control(sim, "GET", "state")
        await _control(sim, "DELETE", "faults")
        async with simulator_client(sim) as reader:
            audit = await _audit(reader, soak)
        state = await _control(sim, "GET", "state")

    outcomes: Counter[str] = Counter(answered=sum(soak.answered.values()))
    for errors in soak.failed.values():
        outcomes.update(errors)
    recorded = sum(n for status, n in audit.statuses.items() if status != "absent")
    duplicate_receipts = sum(state["transactions"].values()) - recorded
    # Memory: each late phase against the snapshot before it.
    growth_first, _ = _growth(snapshots[1], snapshots[0])
    growth_last, top = _growth(snapshots[2], snapshots[1])
    calls_first, calls_last = calls_at[1] - calls_at[0], calls_at[2] - calls_at[1]
    bound_first = MEMORY_SLACK + MEMORY_PER_CALL * calls_first
    bound_last = MEMORY_SLACK + MEMORY_PER_CALL * calls_last
    if REPORT:  # written first, so that a failing run leaves its figures too
        _write_report(
            Path(REPORT),
            {
                "soak_calls": CALLS,
                "duration_seconds": round(duration, 1),
                "concurrency": CONCURRENCY,
                "seed": SEED,
                "operations": soak.calls,
                "operations_by_kind": dict(sorted(soak.started.items())),
                "outcomes": dict(sorted(outcomes.items())),
                "escaped": len(soak.escaped),
                "requests_received": sum(after_soak["requests"].values()),
                "faults_injected": dict(sorted(after_soak["faultsInjected"].items())),
                "faults_injected_total": sum(after_soak["faultsInjected"].values()),
                "persons": state["persons"],
                "transactions": state["transactions"],
                "duplicates_found": (
                    state["sharedIdentifiers"] + audit.duplicate_customers + duplicate_receipts
                ),
                "records_lost": len(audit.lost),
                "phantom_writes": len(audit.phantoms),
                "calls_per_phase": [calls_at[0], calls_first, calls_last],
                "memory_growth_bytes": [growth_first, growth_last],
                "max_memory_growth_bytes": max(growth_first, growth_last),
                "memory_bound_bytes": [bound_first, bound_last],
            },
        )

    # Every call is accounted for: an answer or a WsOneError, nothing else.
    assert soak.escaped == []
    for name, count in soak.started.items():
        assert count == soak.answered[name] + sum(soak.failed[name].values()), name
    assert sum(outcomes.values()) == soak.calls
    # Faults did happen, of every kind, and the client got through most of them.
    assert set(after_soak["faultsInjected"]) == {kind for kind, _ in FAULT_RULES}
    assert outcomes["answered"] > soak.calls / 2

    # WsOne's state agrees with what the client reported: no customer created twice, and
    # nobody WsOne holds that the soak's enrolments do not account for...
    assert state["sharedIdentifiers"] == 0
    assert audit.duplicate_customers == 0
    assert state["persons"] == SEEDED_CUSTOMERS + audit.persons
    # ... no receipt recorded or credited twice: WsOne's receipts are the soak's, and its
    # points and visits are those of the soak's validated receipts (refunded ones gave
    # theirs back; the seeded customers started with none) ...
    assert state["transactions"] == {s: audit.statuses[s] for s in STATUSES}
    assert duplicate_receipts == 0
    assert state["pointsTotal"] == audit.validated_points
    assert state["visitsTotal"] == audit.statuses[TransactionStatus.VALIDATED]
    # ... every write that answered is there, and none the client reported refused.
    assert audit.lost == []
    assert audit.phantoms == []

    # Nothing left behind.
    assert left_open == [], left_open
    assert leftover_tasks == [], leftover_tasks

    # No growing memory: a leak grows both late phases beyond their bound.
    assert growth_first < bound_first or growth_last < bound_last, (
        f"both late phases grew: {growth_first} B in {calls_first} calls, then "
        f"{growth_last} B in {calls_last} calls; top of the last: {top}"
    )
