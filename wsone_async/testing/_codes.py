"""The simulator's own functional codes: one table, code -> meaning.

WsOne's real table of ``responseCode`` values is not public. These codes are the
**simulator's**, not the vendor's: they let tests tell failures apart. A deployment that
knows the vendor's codes maps them with :func:`wsone_async.register_error_code`.
"""

from __future__ import annotations

import enum
import types
from collections.abc import Mapping
from typing import Final, Self

__all__ = ["SIMULATOR_CODES", "SimulatorCode"]


class SimulatorCode(enum.StrEnum):
    """The simulator's ``responseCode`` values, each with its meaning.

    These are the simulator's codes, not the vendor's (whose table is not public).
    Members are ``str``, so ``SimulatorCode.PERSON_NOT_FOUND == "101"``; ``meaning`` is also
    the ``infos`` text of an answer with that code when no detail is given.

    Example:
        >>> SimulatorCode.DUPLICATE_IDENTIFIER == "102", SimulatorCode("102").meaning
        (True, 'Identifier already exists')
    """

    meaning: str

    def __new__(cls, code: str, meaning: str) -> Self:
        member = str.__new__(cls, code)
        member._value_ = code
        member.meaning = meaning
        return member

    SUCCESS = "000", "Request successfully processed"
    NOT_AN_OBJECT = "001", "The body is not a JSON object"
    MISSING_FIELD = "002", "A required field is missing"
    INVALID_VALUE = "003", "A field has an invalid value or type"
    PERSON_NOT_FOUND = "101", "Person not found"
    DUPLICATE_IDENTIFIER = "102", "Identifier already exists"
    IDENTIFIER_TYPE_NOT_ALLOWED = "103", "Identifier type not allowed here"
    NO_CRITERIA = "104", "No search criteria given"
    ENTITY_NOT_FOUND = "201", "Entity unknown"
    OFFER_NOT_FOUND = "301", "Offer not found"
    OFFER_ALREADY_USED = "302", "Offer already used"
    OFFER_NOT_VALID = "303", "Offer not valid at this date"
    TRANSACTION_NOT_FOUND = "401", "Transaction not found"
    RECEIPT_ALREADY_RECORDED = "402", "Receipt already recorded"
    TRANSACTION_ALREADY_VALIDATED = "403", "Transaction already validated"
    TRANSACTION_CANCELLED = "404", "Transaction cancelled"
    TRANSACTION_NOT_VALIDATED = "405", "Transaction not validated"
    TRANSACTION_ALREADY_REFUNDED = "406", "Transaction already refunded"
    NOT_ENOUGH_POINTS = "407", "Not enough points"
    FORM_NOT_FOUND = "501", "Form not found"
    QUESTION_NOT_FOUND = "502", "Question not found in this form"
    AUTHENTICATION_FAILED = "900", "Authentication failed"


#: The simulator's functional codes (the simulator's, not the vendor's) and their meaning.
SIMULATOR_CODES: Final[Mapping[str, str]] = types.MappingProxyType(
    {str(code): code.meaning for code in SimulatorCode}
)
