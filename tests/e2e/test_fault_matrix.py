"""The fault matrix, through the real socket: every fault the simulator injects x every
operation class -> the outcome the caller sees and the state WsOne is left in.

Each cell starts a fresh simulator with one seeded customer (a loyalty card), injects one
fault (``times=1``: the next attempt is healthy) into the operation under test, makes one
call through a real ``WsOneClient`` and checks:

* the outcome: the answer, or the exact error type, and how many requests of the operation
  (and of the settling read, with ``reconcile_writes``) the simulator received;
* the state, from the simulator's backend: a read changes nothing; a write is applied
  exactly once (one person, one transaction, points credited once) or not at all.

The expectations are data (:data:`EXPECTED`), defined once; :func:`matrix_markdown` renders
them for the README, and ``python -m tests.e2e.test_fault_matrix`` prints that table.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
from pathlib import Path
from typing import Any, Final

import pytest

from tests._support.builders import card_key
from tests._support.clients import simulator_client
from tests._support.mocks import no_wait
from wsone_async import (
    APIError,
    NotFoundError,
    OutcomeUnknownError,
    RateLimitError,
    RetryPolicy,
    Timeouts,
    WsOneClient,
    WsOneError,
)
from wsone_async.models import (
    CancelTransactionsNotValidatedRequest,
    CreatePersonRequest,
    EntityRequest,
    GetPersonRequest,
    IdentifierType,
    NewIdentifierRequest,
    ReceiptRequest,
    SendAndValidTransactionRequest,
    SendTransactionRequest,
)
from wsone_async.testing import (
    CARD,
    WEB_ACCOUNT,
    IdentifierSpec,
    Profile,
    TransactionStatus,
    WsOneBackend,
    WsOneSimulator,
)

README: Final = Path(__file__).resolve().parents[2] / "README.md"
START_MARKER: Final = "<!-- fault-matrix:start -->"
END_MARKER: Final = "<!-- fault-matrix:end -->"

ATTEMPT_LIMIT_MS: Final = 300
"""The client's per-attempt time limit: a latency fault beyond it becomes a timeout."""
LATENCY_MS: Final = 600
"""The latency fault's delay. Twice ATTEMPT_LIMIT_MS, so that with reconcile_writes the
settling read (sent right after the timeout) runs long before the delayed original does;
no longer, since a cell whose write lands late waits for it."""
ATTEMPT_LIMIT: Final = ATTEMPT_LIMIT_MS / 1000
LATENCY: Final = LATENCY_MS / 1000
LONG_RETRY_AFTER: Final = 2 * RetryPolicy().max_retry_after

STORE: Final = "123456"
RECEIPT_NUMBER: Final = "FM-0001"
RECEIPT_AMOUNT: Final = 42.0
RECEIPT_POINTS: Final = 42  # one point per whole euro
NEW_EMAIL: Final = "nouveau.client@example.fr"


# ----------------------------------------------------------------------------- the data


@dataclasses.dataclass(frozen=True)
class FaultSpec:
    """One row of the matrix: a fault the simulator injects, and how the README names it."""

    label: str
    kind: str
    options: dict[str, Any] = dataclasses.field(default_factory=dict)


FAULTS: Final[dict[str, FaultSpec]] = {
    "latency": FaultSpec(
        f"`latency` {LATENCY_MS} ms (attempt limit {ATTEMPT_LIMIT_MS} ms)",
        "latency",
        {"delay": LATENCY},
    ),
    "429": FaultSpec("HTTP 429", "status", {"status": 429}),
    "429-long": FaultSpec(
        "HTTP 429, `Retry-After` > `max_retry_after`",
        "status",
        {"status": 429, "retry_after": LONG_RETRY_AFTER},
    ),
    "500": FaultSpec("HTTP 500", "status", {"status": 500}),
    "502": FaultSpec("HTTP 502", "status", {"status": 502}),
    "503": FaultSpec(
        "HTTP 503 (no `Retry-After`: maybe a proxy, after forwarding)", "status", {"status": 503}
    ),
    "503-retry-after": FaultSpec(
        "HTTP 503 with `Retry-After` (WsOne refusing)",
        "status",
        {"status": 503, "retry_after": 1},
    ),
    "504": FaultSpec("HTTP 504", "status", {"status": 504}),
    "504-processed": FaultSpec(
        "HTTP 504 after processing (`process=True`)",
        "status",
        {"status": 504, "process": True},
    ),
    "drop_before": FaultSpec("`drop_before` (closed, not processed)", "drop_before"),
    "drop_after": FaultSpec("`drop_after` (processed, then closed)", "drop_after"),
    "html": FaultSpec("`html` (HTTP 200, an HTML page)", "html"),
    "garbage": FaultSpec("`garbage` (HTTP 200, JSON cut short)", "garbage"),
    "response_code": FaultSpec('`response_code` "101"', "response_code", {"response_code": "101"}),
}


@dataclasses.dataclass(frozen=True)
class Outcome:
    """What an outcome string of the matrix means, checked on every cell that names it."""

    error: type[WsOneError] | None
    """The exact error type raised, or None for an answer."""
    sent: int
    """Requests of the operation the simulator receives."""
    checks: int = 0
    """Settling reads (getPerson, verifyTransaction) the simulator receives."""


OUTCOMES: Final[dict[str, Outcome]] = {
    "retried, ok": Outcome(None, sent=2),
    "settled: applied, ok": Outcome(None, sent=1, checks=1),
    "settled: not applied, resent, ok": Outcome(None, sent=2, checks=1),
    "OutcomeUnknownError": Outcome(OutcomeUnknownError, sent=1),
    "RateLimitError at once": Outcome(RateLimitError, sent=1),
    "APIError at once": Outcome(APIError, sent=1),
}

# State strings: "unchanged" (a read), "applied" (exactly once), "not applied".
Cell = tuple[str, str]
READ_RETRIED: Final[Cell] = ("retried, ok", "unchanged")
READ_RATE_LIMITED: Final[Cell] = ("RateLimitError at once", "unchanged")
READ_REFUSED: Final[Cell] = ("APIError at once", "unchanged")
RETRIED: Final[Cell] = ("retried, ok", "applied")
UNKNOWN_APPLIED: Final[Cell] = ("OutcomeUnknownError", "applied")
UNKNOWN_NOT_APPLIED: Final[Cell] = ("OutcomeUnknownError", "not applied")
RATE_LIMITED: Final[Cell] = ("RateLimitError at once", "not applied")
REFUSED: Final[Cell] = ("APIError at once", "not applied")
SETTLED_APPLIED: Final[Cell] = ("settled: applied, ok", "applied")
SETTLED_RESENT: Final[Cell] = ("settled: not applied, resent, ok", "applied")

# The op classes, in the README's column order: (op class, reconcile_writes, header).
COLUMNS: Final = (
    ("read", False, "read (`getPerson`)"),
    ("write", False, "write (`createPerson`)"),
    ("transaction", False, "transaction (`sendAndValidTransaction`)"),
    ("write", True, "write, `reconcile_writes`"),
    ("transaction", True, "transaction, `reconcile_writes`"),
)

# fault -> one cell per column, in COLUMNS' order.
_ROWS: Final[dict[str, tuple[Cell, Cell, Cell, Cell, Cell]]] = {
    # The client gives up at the attempt limit; the simulator still runs the request when
    # the delay is over. With reconcile_writes the settling read comes first, says "not
    # applied", the write is sent again and applied; the delayed original then arrives and
    # is refused by WsOne's uniqueness rules (identifier, receipt): still exactly once.
    "latency": (READ_RETRIED, UNKNOWN_APPLIED, UNKNOWN_APPLIED, SETTLED_RESENT, SETTLED_RESENT),
    "429": (READ_RETRIED, RETRIED, RETRIED, RETRIED, RETRIED),
    "429-long": (READ_RATE_LIMITED, RATE_LIMITED, RATE_LIMITED, RATE_LIMITED, RATE_LIMITED),
    "500": (READ_RETRIED, UNKNOWN_NOT_APPLIED, UNKNOWN_NOT_APPLIED, SETTLED_RESENT, SETTLED_RESENT),
    "502": (READ_RETRIED, UNKNOWN_NOT_APPLIED, UNKNOWN_NOT_APPLIED, SETTLED_RESENT, SETTLED_RESENT),
    # Without Retry-After a 503 may come from a proxy that forwarded the write: ambiguous.
    "503": (READ_RETRIED, UNKNOWN_NOT_APPLIED, UNKNOWN_NOT_APPLIED, SETTLED_RESENT, SETTLED_RESENT),
    "503-retry-after": (READ_RETRIED, RETRIED, RETRIED, RETRIED, RETRIED),
    "504": (READ_RETRIED, UNKNOWN_NOT_APPLIED, UNKNOWN_NOT_APPLIED, SETTLED_RESENT, SETTLED_RESENT),
    "504-processed": (
        READ_RETRIED,
        UNKNOWN_APPLIED,
        UNKNOWN_APPLIED,
        SETTLED_APPLIED,
        SETTLED_APPLIED,
    ),
    # The client cannot tell a connection closed before processing from one closed after.
    "drop_before": (
        READ_RETRIED,
        UNKNOWN_NOT_APPLIED,
        UNKNOWN_NOT_APPLIED,
        SETTLED_RESENT,
        SETTLED_RESENT,
    ),
    "drop_after": (
        READ_RETRIED,
        UNKNOWN_APPLIED,
        UNKNOWN_APPLIED,
        SETTLED_APPLIED,
        SETTLED_APPLIED,
    ),
    "html": (
        READ_RETRIED,
        UNKNOWN_NOT_APPLIED,
        UNKNOWN_NOT_APPLIED,
        SETTLED_RESENT,
        SETTLED_RESENT,
    ),
    "garbage": (
        READ_RETRIED,
        UNKNOWN_NOT_APPLIED,
        UNKNOWN_NOT_APPLIED,
        SETTLED_RESENT,
        SETTLED_RESENT,
    ),
    # A functional refusal is an answer: never retried, never ambiguous.
    "response_code": (READ_REFUSED, REFUSED, REFUSED, REFUSED, REFUSED),
}

#: (fault, op class, reconcile_writes) -> (outcome, state): the matrix, cell by cell.
EXPECTED: Final[dict[tuple[str, str, bool], Cell]] = {
    (fault, op_class, reconcile): cells[index]
    for fault, cells in _ROWS.items()
    for index, (op_class, reconcile, _) in enumerate(COLUMNS)
}

OPERATIONS: Final = {
    "read": "getPerson",
    "write": "createPerson",
    "transaction": "sendAndValidTransaction",
}
CHECKS: Final = {"write": "getPerson", "transaction": "verifyTransaction"}


def _cell_text(cell: Cell) -> str:
    outcome, state = cell
    if OUTCOMES[outcome].error is None or state == "unchanged":
        return outcome
    return f"{outcome} ({state})"


def matrix_markdown() -> str:
    """The matrix as a Markdown table: rows are faults, columns are operation classes."""
    headers = ["fault", *(header for _, _, header in COLUMNS)]
    lines = [
        "| " + " | ".join(headers) + " |",
        "| " + " | ".join("---" for _ in headers) + " |",
    ]
    for fault, spec in FAULTS.items():
        cells = [_cell_text(EXPECTED[fault, op_class, rec]) for op_class, rec, _ in COLUMNS]
        lines.append("| " + " | ".join([spec.label, *cells]) + " |")
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- harness


class WatchedBackend(WsOneBackend):
    """The simulator's backend, counting the writes it runs (applied or refused).

    A latency fault lets the simulator run a request after the client gave up on it; a
    test awaits that run with :meth:`until_writes_run` instead of sleeping.
    """

    def __init__(self) -> None:
        super().__init__()
        self.writes_run = 0
        self._ran = asyncio.Event()

    def _count(self) -> None:
        self.writes_run += 1
        self._ran.set()

    def create_person(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return super().create_person(*args, **kwargs)
        finally:
            self._count()

    def send_transaction(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return super().send_transaction(*args, **kwargs)
        finally:
            self._count()

    async def until_writes_run(self, count: int) -> None:
        """Return once ``count`` writes have run (bounded: 5 s, far above LATENCY)."""
        async with asyncio.timeout(5):
            while self.writes_run < count:
                self._ran.clear()
                await self._ran.wait()


def _matrix_client(sim: WsOneSimulator, *, reconcile: bool) -> WsOneClient:
    return simulator_client(
        sim,
        timeout=Timeouts(attempt=ATTEMPT_LIMIT, total=10),
        retry=RetryPolicy(reconcile_writes=reconcile),
        sleep=no_wait,
    )


def _receipt(number: str = RECEIPT_NUMBER) -> ReceiptRequest:
    return ReceiptRequest(
        receipt_number=number,
        receipt_date=dt.datetime.now().replace(microsecond=0),
        amount=RECEIPT_AMOUNT,
        entity_request=EntityRequest(entity_identifier=STORE),
    )


def _request(op_class: str, card: str) -> Any:
    if op_class == "read":
        return GetPersonRequest(identifier_request=card_key(card))
    if op_class == "write":
        return CreatePersonRequest(
            new_identifier_request=NewIdentifierRequest(
                identifier_type=IdentifierType.WEB_ACCOUNT, identifier_value=NEW_EMAIL
            ),
            source="FAULT-MATRIX",
        )
    return SendAndValidTransactionRequest(
        identifier_request=card_key(card), receipt_request=_receipt()
    )


async def _call_operation(client: WsOneClient, op_class: str, request: Any) -> Any:
    if op_class == "read":
        return await client.get_person(request)
    if op_class == "write":
        return await client.create_person(request)
    return await client.send_and_valid_transaction(request)


def _check_state(backend: WatchedBackend, op_class: str, state: str, card: str) -> None:
    customer = backend.person_by_identifier(CARD, card)
    assert customer is not None
    assert backend.shared_identifiers() == []
    if op_class == "read":
        assert state == "unchanged"
        assert backend.persons_count() == 1
        assert backend.transactions_count() == 0
        return
    applied = {"applied": True, "not applied": False}[state]
    if op_class == "write":
        created = backend.person_by_identifier(WEB_ACCOUNT, NEW_EMAIL)
        assert (created is not None) is applied
        assert backend.persons_count() == 1 + applied  # the seeded customer, plus one
        assert backend.transactions_count() == 0
        return
    recorded = backend.transaction_by_receipt(STORE, RECEIPT_NUMBER)
    assert backend.transactions_count() == int(applied)
    assert backend.persons_count() == 1
    if applied:
        assert recorded is not None
        assert recorded.status is TransactionStatus.VALIDATED
        assert recorded.person is customer
    else:
        assert recorded is None
    assert customer.points == RECEIPT_POINTS * applied  # credited once, or not at all
    assert customer.visits == int(applied)
    assert backend.points_total() == RECEIPT_POINTS * applied


# ----------------------------------------------------------------------------- tests


@pytest.mark.parametrize(
    ("fault", "op_class", "reconcile"),
    list(EXPECTED),
    ids=[f"{f}-{op}{'-reconcile' if rec else ''}" for f, op, rec in EXPECTED],
)
async def test_fault_matrix(fault: str, op_class: str, reconcile: bool) -> None:
    outcome_name, state = EXPECTED[fault, op_class, reconcile]
    outcome = OUTCOMES[outcome_name]
    operation = OPERATIONS[op_class]
    spec = FAULTS[fault]
    backend = WatchedBackend()
    async with WsOneSimulator(backend=backend) as sim:
        customer = backend.add_person(
            Profile(last_name="MATRICE"), identifiers=[IdentifierSpec(CARD)]
        )
        ((_, card),) = backend.identifiers_of(customer)
        request = _request(op_class, card)
        injected = sim.faults.add(operation, spec.kind, times=1, **spec.options)
        async with _matrix_client(sim, reconcile=reconcile) as client:
            error: WsOneError | None = None
            response: Any = None
            try:
                response = await _call_operation(client, op_class, request)
            except WsOneError as raised:
                error = raised

            # The outcome.
            if outcome.error is None:
                assert error is None, f"expected an answer, got {error!r}"
                assert response.response_code == "000"
                settled = response.infos is not None and "settled by" in response.infos
                assert settled is (outcome_name == "settled: applied, ok")
                if op_class == "read":
                    assert response.person_response is not None
                if op_class == "transaction":
                    assert response.transaction_response is not None
                    assert response.transaction_response.status == "VALIDATED"
                    assert response.transaction_response.receipt_number == RECEIPT_NUMBER
            else:
                # The client maps the simulator's "101" to NotFoundError, an APIError.
                expected = NotFoundError if outcome.error is APIError else outcome.error
                assert type(error) is expected, f"expected {outcome.error}, got {error!r}"
                if isinstance(error, OutcomeUnknownError):
                    assert error.operation == operation
                    assert error.request == request
                    assert error.__cause__ is not None
                if isinstance(error, RateLimitError):
                    assert error.retry_after == LONG_RETRY_AFTER
                if isinstance(error, APIError):
                    assert error.code == "101"
            assert injected.injected == 1
            assert sim.stats.faults[spec.kind] == 1
            assert sim.stats.received[operation] == outcome.sent
            if op_class != "read":
                assert sim.stats.received[CHECKS[op_class]] == outcome.checks

            # The state. The simulator runs the write once for a fault that processes it
            # (latency, drop_after, process=True) and once per healthy attempt; a delayed
            # original may still be on its way, so wait for the last run first.
            if op_class != "read":
                runs = int(injected.process) + (outcome.sent - 1)
                await backend.until_writes_run(runs)
                assert backend.writes_run == runs
                assert sim.stats.processed[operation] == runs
            _check_state(backend, op_class, state, card)


def test_every_fault_kind_and_op_class_is_in_the_matrix() -> None:
    kinds = {spec.kind for spec in FAULTS.values()}
    assert kinds == {
        "latency",
        "status",
        "drop_before",
        "drop_after",
        "html",
        "garbage",
        "response_code",
    }
    statuses = {spec.options.get("status") for spec in FAULTS.values() if spec.kind == "status"}
    assert statuses == {429, 500, 502, 503, 504}
    assert len(EXPECTED) == len(FAULTS) * len(COLUMNS)
    assert {outcome for outcome, _ in EXPECTED.values()} <= set(OUTCOMES)


def test_the_readme_shows_this_matrix() -> None:
    text = README.read_text(encoding="utf-8")
    assert START_MARKER in text and END_MARKER in text, (
        f"README.md needs the output of `python -m tests.e2e.test_fault_matrix` between "
        f"{START_MARKER} and {END_MARKER}"
    )
    shown = text.split(START_MARKER, 1)[1].split(END_MARKER, 1)[0]
    assert shown.strip("\n") == matrix_markdown().strip("\n")


# Found by this suite: a cancelled receipt once passed for the new one, now fixed.
async def test_reconcile_does_not_mistake_a_cancelled_receipt_for_the_new_one() -> None:
    backend = WatchedBackend()
    async with WsOneSimulator(backend=backend) as sim:
        customer = backend.add_person(
            Profile(last_name="MATRICE"), identifiers=[IdentifierSpec(CARD)]
        )
        ((_, card),) = backend.identifiers_of(customer)
        async with _matrix_client(sim, reconcile=True) as client:
            # A receipt sent, then cancelled: WsOne lets its identity be sent again.
            await client.send_transaction(
                SendTransactionRequest(
                    identifier_request=card_key(card), receipt_request=_receipt()
                )
            )
            await client.cancel_transactions_not_validated(
                CancelTransactionsNotValidatedRequest(identifier_request=card_key(card))
            )
            sim.faults.add("sendAndValidTransaction", "drop_before", times=1)
            response = await client.send_and_valid_transaction(
                SendAndValidTransactionRequest(
                    identifier_request=card_key(card), receipt_request=_receipt()
                )
            )
        assert response.transaction_response is not None
        assert response.transaction_response.status == "VALIDATED"
        recorded = backend.transaction_by_receipt(STORE, RECEIPT_NUMBER)
        assert recorded is not None
        assert recorded.status is TransactionStatus.VALIDATED
        assert customer.points == RECEIPT_POINTS


if __name__ == "__main__":
    print(matrix_markdown(), end="")
