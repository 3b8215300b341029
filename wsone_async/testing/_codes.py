"""The simulator's own functional codes: one table, code -> meaning (and "not found").

WsOne's real table of ``responseCode`` values is not public. These codes are the
**simulator's**, not the vendor's: they let tests tell failures apart. A deployment that
knows the vendor's codes maps them with :func:`wsone_async.register_error_code`; a client
of the simulator passes ``codes=SIMULATOR_ERROR_CLASSES`` so that its "not found" answers
raise :class:`~wsone_async.errors.NotFoundError` (which the settlers of ambiguous writes
read as "not applied").
"""

from __future__ import annotations

import enum
import types
from collections.abc import Mapping
from typing import Final, Self

from wsone_async.errors import APIError, NotFoundError

__all__ = ["SIMULATOR_CODES", "SIMULATOR_ERROR_CLASSES", "SimulatorCode"]


class SimulatorCode(enum.StrEnum):
    """The simulator's ``responseCode`` values, each with its meaning.

    These are the simulator's codes, not the vendor's (whose table is not public).
    Members are ``str``, so ``SimulatorCode.PERSON_NOT_FOUND == "101"``; ``meaning`` is also
    the ``infos`` text of an answer with that code when no detail is given; ``not_found``
    says that the code answers a request naming something that does not exist.

    Example:
        >>> SimulatorCode.DUPLICATE_IDENTIFIER == "102", SimulatorCode("102").meaning
        (True, 'Identifier already exists')
        >>> SimulatorCode.PERSON_NOT_FOUND.not_found, SimulatorCode.DUPLICATE_IDENTIFIER.not_found
        (True, False)
    """

    meaning: str
    not_found: bool

    def __new__(cls, code: str, meaning: str, not_found: bool = False) -> Self:
        member = str.__new__(cls, code)
        member._value_ = code
        member.meaning = meaning
        member.not_found = not_found
        return member

    SUCCESS = "000", "Request successfully processed"
    NOT_AN_OBJECT = "001", "The body is not a JSON object"
    MISSING_FIELD = "002", "A required field is missing"
    INVALID_VALUE = "003", "A field has an invalid value or type"
    PERSON_NOT_FOUND = "101", "Person not found", True
    DUPLICATE_IDENTIFIER = "102", "Identifier already exists"
    IDENTIFIER_TYPE_NOT_ALLOWED = "103", "Identifier type not allowed here"
    NO_CRITERIA = "104", "No search criteria given"
    ENTITY_NOT_FOUND = "201", "Entity unknown", True
    OFFER_NOT_FOUND = "301", "Offer not found", True
    OFFER_ALREADY_USED = "302", "Offer already used"
    OFFER_NOT_VALID = "303", "Offer not valid at this date"
    TRANSACTION_NOT_FOUND = "401", "Transaction not found", True
    RECEIPT_ALREADY_RECORDED = "402", "Receipt already recorded"
    TRANSACTION_ALREADY_VALIDATED = "403", "Transaction already validated"
    TRANSACTION_CANCELLED = "404", "Transaction cancelled"
    TRANSACTION_NOT_VALIDATED = "405", "Transaction not validated"
    TRANSACTION_ALREADY_REFUNDED = "406", "Transaction already refunded"
    NOT_ENOUGH_POINTS = "407", "Not enough points"
    FORM_NOT_FOUND = "501", "Form not found", True
    QUESTION_NOT_FOUND = "502", "Question not found in this form", True
    AUTHENTICATION_FAILED = "900", "Authentication failed"


#: The simulator's functional codes (the simulator's, not the vendor's) and their meaning.
SIMULATOR_CODES: Final[Mapping[str, str]] = types.MappingProxyType(
    {str(code): code.meaning for code in SimulatorCode}
)

#: The simulator's "not found" codes -> :class:`~wsone_async.errors.NotFoundError`, for
#: ``WsOneClient(codes=SIMULATOR_ERROR_CLASSES)``: a client of the simulator then settles
#: an ambiguous write that its lookup does not find as "not applied". (Its other codes stay
#: plain ``APIError``.)
SIMULATOR_ERROR_CLASSES: Final[Mapping[str, type[APIError]]] = types.MappingProxyType(
    {str(code): NotFoundError for code in SimulatorCode if code.not_found}
)
