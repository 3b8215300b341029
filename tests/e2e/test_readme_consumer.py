"""The README's consumer example, run as written on an in-memory queue under faults.

The handler is taken from README.md (``client`` is given to it, as the README says). A fake
queue delivers each message, hands requeued ones back (without waiting their delay), and
records how each delivery was settled. With every fault kind the simulator offers firing at
random: every delivery settles its message exactly once, every message ends acknowledged or
dead-lettered, an acknowledged receipt is in WsOne and credited once, a dead-lettered one is
not in WsOne.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest

from tests._support.mocks import no_wait
from tests._support.readme import readme_example
from wsone_async import Timeouts, WsOneClient
from wsone_async.errors import unregister_error_code
from wsone_async.models import (
    EntityRequest,
    IdentifierRequest,
    IdentifierType,
    ReceiptRequest,
    SendAndValidTransactionRequest,
)
from wsone_async.testing import CARD, FaultKind, IdentifierSpec, WsOneSimulator

CONSUMER_EXAMPLE = readme_example("An event consumer does not retry in-process")
STORE = "123456"
MAX_DELIVERIES = 60


class Message:
    """One delivery of a queued receipt; settling it twice or not at all is a bug."""

    def __init__(self, queue: FakeQueue, number: int, request: SendAndValidTransactionRequest):
        self.queue = queue
        self.number = number
        self.request = request
        self.settled: list[str] = []

    def to_request(self) -> SendAndValidTransactionRequest:
        return self.request

    async def ack(self) -> None:
        self.settled.append("ack")

    async def requeue(self, delay: float) -> None:
        assert delay >= 0
        self.settled.append("requeue")

    async def dead_letter(self, reason: str) -> None:
        assert reason.endswith("Error"), reason
        self.settled.append("dead_letter")


class FakeQueue:
    """An in-memory queue: messages go out one delivery at a time and come back if requeued."""

    def __init__(self, requests: list[SendAndValidTransactionRequest]) -> None:
        self.requests = requests
        self.pending: asyncio.Queue[int] = asyncio.Queue()
        for number in range(len(requests)):
            self.pending.put_nowait(number)
        self.deliveries: Counter[int] = Counter()
        self.final: dict[int, str] = {}
        self.settlements: Counter[str] = Counter()

    async def consume(self, handler: Any) -> None:
        while not self.pending.empty():
            number = self.pending.get_nowait()
            self.deliveries[number] += 1
            assert self.deliveries[number] <= MAX_DELIVERIES, f"message {number} never settles"
            message = Message(self, number, self.requests[number])
            await handler(message)
            assert len(message.settled) == 1, (number, message.settled)  # none lost, none twice
            outcome = message.settled[0]
            self.settlements[outcome] += 1
            if outcome == "requeue":
                self.pending.put_nowait(number)
            else:
                self.final[number] = outcome


@pytest.fixture
def registered_codes() -> Iterator[None]:
    yield
    unregister_error_code("402")  # the example registers it, for every client


def receipts(card: str, count: int) -> list[SendAndValidTransactionRequest]:
    now = dt.datetime.now().replace(microsecond=0)
    return [
        SendAndValidTransactionRequest(
            identifier_request=IdentifierRequest(
                identifier_type=IdentifierType.CARD, identifier_value=card
            ),
            receipt_request=ReceiptRequest(
                receipt_number=f"R{number:05d}",
                receipt_date=now,
                amount=float(10 + number % 7),
                entity_request=EntityRequest(entity_identifier=STORE),
            ),
        )
        for number in range(count)
    ]


def test_every_fault_kind_is_injected() -> None:
    kinds = {kind for _, kind, _ in FAULTS}
    assert kinds == {str(kind) for kind in FaultKind}


FAULTS: list[tuple[str, str, dict[str, Any]]] = [
    ("*", "latency", {"rate": 0.04, "delay": 0.4}),
    ("*", "status", {"rate": 0.04, "status": 429, "retry_after": 1}),
    ("*", "status", {"rate": 0.04, "status": 503}),
    ("*", "status", {"rate": 0.04, "status": 500}),
    ("*", "status", {"rate": 0.02, "status": 504, "process": True}),
    ("*", "drop_before", {"rate": 0.04}),
    ("*", "drop_after", {"rate": 0.04}),
    ("*", "html", {"rate": 0.04}),
    ("*", "garbage", {"rate": 0.04}),
    ("*", "response_code", {"rate": 0.03, "response_code": "999"}),
]


async def test_every_message_is_acknowledged_or_dead_lettered(registered_codes: None) -> None:
    async with WsOneSimulator(seed=13) as sim:
        person = sim.backend.add_person(identifiers=[IdentifierSpec(CARD)])
        (_, card), *_ = sim.backend.identifiers_of(person)
        for operation, kind, options in FAULTS:
            sim.faults.add(operation, kind, **options)
        async with WsOneClient._with_hooks(
            sim.url,
            username=sim.username,
            password=sim.password,
            timeout=Timeouts(connect=0.5, read=0.2, attempt=0.2, total=1),
            sleep=no_wait,
        ) as client:
            namespace: dict[str, Any] = {"__name__": "readme_consumer_example", "client": client}
            exec(compile(CONSUMER_EXAMPLE, "README.md (consumer example)", "exec"), namespace)
            queue = FakeQueue(receipts(card, 150))
            await asyncio.gather(*(queue.consume(namespace["on_receipt"]) for _ in range(8)))
        sim.faults.clear()

    assert len(queue.final) == 150  # every message settled for good
    acked = {n for n, outcome in queue.final.items() if outcome == "ack"}
    dead = {n for n, outcome in queue.final.items() if outcome == "dead_letter"}
    assert acked and dead and queue.settlements["requeue"] > 0, queue.settlements
    expected_points = 0
    for number, request in enumerate(queue.requests):
        receipt = request.receipt_request
        assert receipt is not None and receipt.receipt_number is not None
        recorded = sim.backend.transaction_by_receipt(STORE, receipt.receipt_number)
        if number in acked:
            assert recorded is not None, number  # an acknowledged receipt is in WsOne
            expected_points += recorded.points
        else:
            assert recorded is None, number  # a dead-lettered one is not
    assert person.points == expected_points  # each credited once
    assert sum(sim.stats.faults.values()) > 50, sim.stats.faults
    assert set(sim.stats.faults) == {str(kind) for kind in FaultKind}, sim.stats.faults
