"""The table of WsOne's 29 operations: name, service, read or write, request and response types.

Everything that depends on the operation reads it from here: the client's methods, the
request path, the retry rules (a read is retried after any transient failure, a write
only when WsOne provably never received it; see :mod:`wsone_async._retry`), how an
ambiguous write is settled, and the simulator's fault groups (``read``, ``write``,
``person``, ``transaction``).

Whether an operation reads or writes is written in its row (``Kind``), never inferred from
its name: the reads are the ``get*``, ``search*`` and ``verify*`` operations and
getLastTransaction today, but a new operation gets its kind from its row only.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import Any, Final, Generic, TypeVar

import attrs

from wsone_async import models as m
from wsone_async.models import Model

__all__ = [
    "OPERATIONS",
    "Kind",
    "Operation",
    "Service",
    "Settlement",
    "by_name",
    "ASSOCIATE_IDENTIFIER",
    "ASSOCIATE_NEW_IDENTIFIER",
    "CANCEL_TRANSACTIONS_NOT_VALIDATED",
    "CREATE_IDENTIFIER",
    "CREATE_PERSON",
    "CREATE_PERSON_AND_IDENTIFIER",
    "EDIT_OFFER",
    "GET_ACCOUNTS",
    "GET_AVAILABLE_OFFERS",
    "GET_BADGE",
    "GET_ENABLE_OFFERS",
    "GET_ENTITIES",
    "GET_ENTITY_PARENTS",
    "GET_FORM",
    "GET_FULL_PERSON",
    "GET_LAST_TRANSACTION",
    "GET_PERSON",
    "REFUND_TRANSACTION",
    "REPLACE_IDENTIFIER",
    "SEARCH_PERSON",
    "SEARCH_PERSON_LITE",
    "SEND_AND_VALID_FULL_TRANSACTION",
    "SEND_AND_VALID_TRANSACTION",
    "SEND_SIMPLE_TRANSACTION",
    "SEND_TRANSACTION",
    "UPDATE_FORM",
    "UPDATE_PERSON",
    "VALID_TRANSACTION",
    "VERIFY_TRANSACTION",
]

Req = TypeVar("Req", bound=Model)
Resp = TypeVar("Resp", bound=Model)


class Service(enum.Enum):
    """The WsOne web service an operation belongs to."""

    PERSON = "person"
    """WS Person: customers, identifiers, offers, forms, stores."""
    TRANSACTION = "transaction"
    """WS Transaction: receipts and points."""


class Settlement(enum.Enum):
    """How the outcome of an ambiguous write can be settled with a read."""

    NEW_IDENTIFIER = "getPerson"
    """The write creates a person with a given identifier: getPerson on it finds the person."""
    RECEIPT = "verifyTransaction"
    """The write records a receipt: verifyTransaction on its store and number finds it."""


class Kind(enum.Enum):
    """Whether an operation only reads or also changes state on WsOne's side."""

    READ = "read"
    """Safe to repeat: retried after any transient failure."""
    WRITE = "write"
    """Repeating it may duplicate its effect: retried only when provably not received."""


@attrs.frozen
class Operation(Generic[Req, Resp]):
    """One WsOne operation."""

    name: str
    """The vendor's name, such as ``"createPerson"``; also the last segment of its path."""
    service: Service
    """The web service serving it."""
    kind: Kind
    """Read or write."""
    request_type: type[Req]
    """The request model."""
    response_type: type[Resp]
    """The response model."""
    settlement: Settlement | None = None
    """For a write, how to tell after an ambiguous failure whether it was applied."""

    is_write: bool = attrs.field(
        init=False,
        repr=False,
        default=attrs.Factory(lambda self: self.kind is Kind.WRITE, takes_self=True),
    )
    """Whether the operation changes state on WsOne's side (``kind`` is ``WRITE``); a
    field, not a property, since every call reads it."""

    @property
    def method_name(self) -> str:
        """The client method's name: the snake_case of the operation's name."""
        return "".join(f"_{c.lower()}" if c.isupper() else c for c in self.name)


CREATE_PERSON_AND_IDENTIFIER: Final = Operation(
    "createPersonAndIdentifier",
    Service.PERSON,
    Kind.WRITE,
    m.CreatePersonAndIdentifierRequest,
    m.CreatePersonAndIdentifierResponse,
    Settlement.NEW_IDENTIFIER,
)
CREATE_PERSON: Final = Operation(
    "createPerson",
    Service.PERSON,
    Kind.WRITE,
    m.CreatePersonRequest,
    m.CreatePersonResponse,
    Settlement.NEW_IDENTIFIER,
)
CREATE_IDENTIFIER: Final = Operation(
    "createIdentifier",
    Service.PERSON,
    Kind.WRITE,
    m.CreateIdentifierRequest,
    m.CreateIdentifierResponse,
)
ASSOCIATE_NEW_IDENTIFIER: Final = Operation(
    "associateNewIdentifier",
    Service.PERSON,
    Kind.WRITE,
    m.AssociateNewIdentifierRequest,
    m.AssociateNewIdentifierResponse,
)
ASSOCIATE_IDENTIFIER: Final = Operation(
    "associateIdentifier",
    Service.PERSON,
    Kind.WRITE,
    m.AssociateIdentifierRequest,
    m.AssociateIdentifierResponse,
)
REPLACE_IDENTIFIER: Final = Operation(
    "replaceIdentifier",
    Service.PERSON,
    Kind.WRITE,
    m.ReplaceIdentifierRequest,
    m.ReplaceIdentifierResponse,
)
GET_PERSON: Final = Operation(
    "getPerson", Service.PERSON, Kind.READ, m.GetPersonRequest, m.GetPersonResponse
)
SEARCH_PERSON: Final = Operation(
    "searchPerson", Service.PERSON, Kind.READ, m.SearchPersonRequest, m.SearchPersonResponse
)
GET_ACCOUNTS: Final = Operation(
    "getAccounts", Service.PERSON, Kind.READ, m.GetAccountsRequest, m.GetAccountsResponse
)
GET_FULL_PERSON: Final = Operation(
    "getFullPerson", Service.PERSON, Kind.READ, m.GetFullPersonRequest, m.GetFullPersonResponse
)
SEARCH_PERSON_LITE: Final = Operation(
    "searchPersonLite",
    Service.PERSON,
    Kind.READ,
    m.SearchPersonLiteRequest,
    m.SearchPersonLiteResponse,
)
GET_BADGE: Final = Operation(
    "getBadge", Service.PERSON, Kind.READ, m.GetBadgeRequest, m.GetBadgeResponse
)
UPDATE_PERSON: Final = Operation(
    "updatePerson", Service.PERSON, Kind.WRITE, m.UpdatePersonRequest, m.UpdatePersonResponse
)
GET_AVAILABLE_OFFERS: Final = Operation(
    "getAvailableOffers",
    Service.PERSON,
    Kind.READ,
    m.GetAvailableOffersRequest,
    m.GetAvailableOffersResponse,
)
GET_ENABLE_OFFERS: Final = Operation(
    "getEnableOffers",
    Service.PERSON,
    Kind.READ,
    m.GetEnableOffersRequest,
    m.GetEnableOffersResponse,
)
EDIT_OFFER: Final = Operation(
    "editOffer", Service.PERSON, Kind.WRITE, m.EditOfferRequest, m.EditOfferResponse
)
GET_FORM: Final = Operation(
    "getForm", Service.PERSON, Kind.READ, m.GetFormRequest, m.GetFormResponse
)
UPDATE_FORM: Final = Operation(
    "updateForm", Service.PERSON, Kind.WRITE, m.UpdateFormRequest, m.UpdateFormResponse
)
GET_ENTITIES: Final = Operation(
    "getEntities", Service.PERSON, Kind.READ, m.GetEntitiesRequest, m.GetEntitiesResponse
)
GET_ENTITY_PARENTS: Final = Operation(
    "getEntityParents",
    Service.PERSON,
    Kind.READ,
    m.GetEntityParentsRequest,
    m.GetEntityParentsResponse,
)
SEND_TRANSACTION: Final = Operation(
    "sendTransaction",
    Service.TRANSACTION,
    Kind.WRITE,
    m.SendTransactionRequest,
    m.SendTransactionResponse,
    Settlement.RECEIPT,
)
VALID_TRANSACTION: Final = Operation(
    "validTransaction",
    Service.TRANSACTION,
    Kind.WRITE,
    m.ValidTransactionRequest,
    m.ValidTransactionResponse,
)
SEND_AND_VALID_TRANSACTION: Final = Operation(
    "sendAndValidTransaction",
    Service.TRANSACTION,
    Kind.WRITE,
    m.SendAndValidTransactionRequest,
    m.SendAndValidTransactionResponse,
    Settlement.RECEIPT,
)
SEND_AND_VALID_FULL_TRANSACTION: Final = Operation(
    "sendAndValidFullTransaction",
    Service.TRANSACTION,
    Kind.WRITE,
    m.SendAndValidFullTransactionRequest,
    m.SendAndValidFullTransactionResponse,
    Settlement.RECEIPT,
)
VERIFY_TRANSACTION: Final = Operation(
    "verifyTransaction",
    Service.TRANSACTION,
    Kind.READ,
    m.VerifyTransactionRequest,
    m.VerifyTransactionResponse,
)
CANCEL_TRANSACTIONS_NOT_VALIDATED: Final = Operation(
    "cancelTransactionsNotValidated",
    Service.TRANSACTION,
    Kind.WRITE,
    m.CancelTransactionsNotValidatedRequest,
    m.CancelTransactionsNotValidatedResponse,
)
SEND_SIMPLE_TRANSACTION: Final = Operation(
    "sendSimpleTransaction",
    Service.TRANSACTION,
    Kind.WRITE,
    m.SendSimpleTransactionRequest,
    m.SendSimpleTransactionResponse,
    Settlement.RECEIPT,
)
REFUND_TRANSACTION: Final = Operation(
    "refundTransaction",
    Service.TRANSACTION,
    Kind.WRITE,
    m.RefundTransactionRequest,
    m.RefundTransactionResponse,
)
GET_LAST_TRANSACTION: Final = Operation(
    "getLastTransaction",
    Service.TRANSACTION,
    Kind.READ,
    m.GetLastTransactionRequest,
    m.GetLastTransactionResponse,
)

#: Every operation, in the vendor's documentation order.
OPERATIONS: Final[tuple[Operation[Any, Any], ...]] = (
    CREATE_PERSON_AND_IDENTIFIER,
    CREATE_PERSON,
    CREATE_IDENTIFIER,
    ASSOCIATE_NEW_IDENTIFIER,
    ASSOCIATE_IDENTIFIER,
    REPLACE_IDENTIFIER,
    GET_PERSON,
    SEARCH_PERSON,
    GET_ACCOUNTS,
    GET_FULL_PERSON,
    SEARCH_PERSON_LITE,
    GET_BADGE,
    UPDATE_PERSON,
    GET_AVAILABLE_OFFERS,
    GET_ENABLE_OFFERS,
    EDIT_OFFER,
    GET_FORM,
    UPDATE_FORM,
    GET_ENTITIES,
    GET_ENTITY_PARENTS,
    SEND_TRANSACTION,
    VALID_TRANSACTION,
    SEND_AND_VALID_TRANSACTION,
    SEND_AND_VALID_FULL_TRANSACTION,
    VERIFY_TRANSACTION,
    CANCEL_TRANSACTIONS_NOT_VALIDATED,
    SEND_SIMPLE_TRANSACTION,
    REFUND_TRANSACTION,
    GET_LAST_TRANSACTION,
)

_BY_NAME: Final[Mapping[str, Operation[Any, Any]]] = {op.name: op for op in OPERATIONS}


def by_name(name: str) -> Operation[Any, Any]:
    """The operation named ``name`` (the vendor's spelling, such as ``"getPerson"``)."""
    try:
        return _BY_NAME[name]
    except KeyError:
        msg = f"unknown WsOne operation {name!r}"
        raise KeyError(msg) from None
