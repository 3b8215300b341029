"""The receipts: recorded, validated, cancelled, refunded, and the points they move.

A receipt is identified by its store and number; validating it credits one point per
whole euro (nothing for a negative amount) and one visit, and spends the points and offers
listed in its advantages; a refund reverses all of that, so a balance may go negative when
the points were spent meanwhile. A cancelled receipt's identity may be sent again (it then
designates the new receipt). Every method checks before it changes anything.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import itertools
import math
from collections import Counter
from collections.abc import Callable
from typing import Final

from wsone_async.testing._codes import SimulatorCode
from wsone_async.testing._records import (
    Entity,
    Person,
    Receipt,
    Transaction,
    TransactionStatus,
    WsOneFailure,
)

__all__ = ["Draft", "Ledger"]

_C = SimulatorCode
_POINT_ACCOUNTS: Final = frozenset({"point", "points"})
# Amounts and points beyond this are refused: no till sells a trillion euros.
_MAX_AMOUNT: Final = 1e12
_FIRST_TRANSACTION_ID: Final = 5_000_001


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Draft:
    """A receipt checked against the rules but not recorded yet."""

    entity: Entity
    receipt_number: str
    receipt_date: dt.datetime | None
    amount: float
    points: int
    points_spent: int
    offer_numbers: tuple[str, ...]


class Ledger:
    """Every transaction, by id and by receipt identity, with counts by status.

    Args:
        entity: the store ``entity_id`` (unknown -> 201), from the backend's network.
    """

    def __init__(self, entity: Callable[[str], Entity]) -> None:
        self._entity = entity
        self._transactions: dict[str, Transaction] = {}
        self._receipts: dict[tuple[str, str], Transaction] = {}
        self._status_counts: Counter[TransactionStatus] = Counter()
        self._seq = itertools.count(_FIRST_TRANSACTION_ID)

    def __len__(self) -> int:
        return len(self._transactions)

    def count(self, status: TransactionStatus) -> int:
        """Number of transactions with ``status``."""
        return self._status_counts[status]

    def get(self, transaction_id: str) -> Transaction | None:
        """The transaction with this id, or None."""
        return self._transactions.get(transaction_id)

    def by_receipt(self, entity_id: str, receipt_number: str) -> Transaction | None:
        """The latest transaction recorded for this store and receipt number, or None."""
        return self._receipts.get((entity_id, receipt_number.strip()))

    def find_receipt(self, entity_id: str | None, receipt_number: str | None) -> Transaction | None:
        """Like :meth:`by_receipt`, for a request: both are required, the store must exist."""
        if entity_id is None or receipt_number is None:
            raise WsOneFailure(
                _C.MISSING_FIELD,
                "ReceiptRequest.EntityRequest and ReceiptRequest.receiptNumber are required",
            )
        self._entity(entity_id)
        return self.by_receipt(entity_id, receipt_number)

    @staticmethod
    def owned(transaction: Transaction | None, person: Person) -> Transaction:
        """``transaction`` if it is ``person``'s; otherwise 401."""
        if transaction is None or transaction.person is not person:
            raise WsOneFailure(_C.TRANSACTION_NOT_FOUND)
        return transaction

    def draft(self, person: Person | None, receipt: Receipt) -> Draft:
        """Check a receipt against the rules (``person`` None: a person yet to create)."""
        if receipt.entity_id is None:
            raise WsOneFailure(_C.MISSING_FIELD, "ReceiptRequest.EntityRequest is required")
        if receipt.receipt_number is None or not receipt.receipt_number.strip():
            raise WsOneFailure(_C.MISSING_FIELD, "ReceiptRequest.receiptNumber is required")
        entity = self._entity(receipt.entity_id)
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
        return Draft(
            entity=entity,
            receipt_number=number,
            receipt_date=receipt.receipt_date,
            amount=amount,
            points=max(0, math.floor(amount)),
            points_spent=spent,
            offer_numbers=tuple(offer_numbers),
        )

    @staticmethod
    def check_validation(
        person: Person | None,
        points_spent: int,
        offer_numbers: tuple[str, ...],
        amount: float,
        moment: dt.datetime,
    ) -> None:
        """Refuse a validation the person's balance or offers cannot pay for at ``moment``."""
        balance = person.points if person is not None else 0
        if points_spent > balance:
            raise WsOneFailure(_C.NOT_ENOUGH_POINTS)
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

    def check_transaction(self, transaction: Transaction, moment: dt.datetime) -> None:
        """Refuse validating a recorded transaction (see :meth:`check_validation`)."""
        if transaction.status is TransactionStatus.CANCELLED:
            raise WsOneFailure(_C.TRANSACTION_CANCELLED)
        if transaction.status is not TransactionStatus.SENT:
            raise WsOneFailure(_C.TRANSACTION_ALREADY_VALIDATED)
        self.check_validation(
            transaction.person,
            transaction.points_spent,
            transaction.offer_numbers,
            transaction.amount,
            transaction.receipt_date or moment,
        )

    def record(self, person: Person, draft: Draft, now: dt.datetime) -> Transaction:
        """Record a checked receipt, SENT."""
        transaction = Transaction(
            transaction_id=str(next(self._seq)),
            person=person,
            entity=draft.entity,
            receipt_number=draft.receipt_number,
            receipt_date=draft.receipt_date,
            amount=draft.amount,
            points=draft.points,
            points_spent=draft.points_spent,
            offer_numbers=draft.offer_numbers,
            status=TransactionStatus.SENT,
            recorded_at=now,
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

    def validate(self, transaction: Transaction) -> None:
        """Credit and spend what the receipt says (checked beforehand), VALIDATED."""
        person = transaction.person
        person.points += transaction.points - transaction.points_spent
        person.visits += 1
        for number in transaction.offer_numbers:
            person.offers[number].used = True
        self._set_status(transaction, TransactionStatus.VALIDATED)

    def cancel_sent(self, person: Person, entity_id: str | None) -> list[Transaction]:
        """Cancel the person's SENT receipts (of one store, when given)."""
        cancelled = [
            t
            for t in person.transactions
            if t.status is TransactionStatus.SENT
            and (entity_id is None or t.entity.identifier == entity_id)
        ]
        for transaction in cancelled:
            self._set_status(transaction, TransactionStatus.CANCELLED)
        return cancelled

    def refund(self, transaction: Transaction) -> None:
        """Reverse a VALIDATED receipt (points, visit, offers), REFUNDED."""
        if transaction.status is TransactionStatus.CANCELLED:
            raise WsOneFailure(_C.TRANSACTION_CANCELLED)
        if transaction.status is TransactionStatus.SENT:
            raise WsOneFailure(_C.TRANSACTION_NOT_VALIDATED)
        if transaction.status is TransactionStatus.REFUNDED:
            raise WsOneFailure(_C.TRANSACTION_ALREADY_REFUNDED)
        person = transaction.person
        person.points -= transaction.points - transaction.points_spent
        person.visits -= 1
        for number in transaction.offer_numbers:
            person.offers[number].used = False
        self._set_status(transaction, TransactionStatus.REFUNDED)
