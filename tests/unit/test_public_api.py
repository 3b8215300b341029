"""What the package exports is deliberate: ``__all__`` is checked name by name."""

from __future__ import annotations

import re

import wsone_async
import wsone_async.errors
import wsone_async.models
import wsone_async.operations
from wsone_async.models import Model

OPERATIONS = [
    "createPersonAndIdentifier", "createPerson", "createIdentifier", "associateNewIdentifier",
    "associateIdentifier", "replaceIdentifier", "getPerson", "searchPerson", "getAccounts",
    "getFullPerson", "searchPersonLite", "getBadge", "updatePerson", "getAvailableOffers",
    "getEnableOffers", "editOffer", "getForm", "updateForm", "getEntities", "getEntityParents",
    "sendTransaction", "validTransaction", "sendAndValidTransaction",
    "sendAndValidFullTransaction", "verifyTransaction", "cancelTransactionsNotValidated",
    "sendSimpleTransaction", "refundTransaction", "getLastTransaction",
]  # fmt: skip

TOP_LEVEL = {
    "APIConnectionError", "APIError", "APITimeoutError", "AttemptInfo", "AuthenticationError",
    "CallResult", "ClientClosedError", "ClientStateError", "HTTPStatusError", "OutcomeUnknownError",
    "RateLimitError", "ResponseDecodeError", "ResponseTooLargeError", "RetryBudget",
    "RetryPolicy", "ServerError", "Timeouts", "WsOneClient", "WsOneError", "__version__", "from_wire",
    "register_error_code", "to_wire",
    "Disposition", "HTTPAnswer", "NotFoundError", "http_answer",
}  # fmt: skip

BLOCKS = {
    "AccountAdvantageRequest", "AccountResponse", "AccountsResponse", "AddressRequest",
    "AddressResponse", "AssociatedIdentifierRequest", "BadgeResponse", "CellPhoneRequest",
    "CellPhoneResponse", "ContactsRequest", "ContactsResponse", "DetailsRequest",
    "EmailRequest", "EmailResponse", "EntityRequest", "EntityResponse", "FormAnsweredRequest",
    "FormAnsweredResponse", "FullPersonRequest", "IdentifierRequest", "IdentifierResponse",
    "InfoPersonResponse", "NewIdentifierRequest", "NewIdentifierResponse", "OfferResponse",
    "OffersResponse", "PersonProfilRequest", "PersonProfilResponse", "PersonRequest",
    "PersonResponse", "ReceiptRequest", "ResponseEnvelope", "SegmentationResponse",
    "SubscriptionRequest", "SubscriptionResponse", "TransactionResponse",
}  # fmt: skip


def _pascal(operation: str) -> str:
    return operation[0].upper() + operation[1:]


def test_the_library_has_the_vendors_29_operations() -> None:
    # OPERATIONS above is spelled from the vendor's documentation; the library's table is
    # what the client, the simulator and the CLI are built from.
    assert sorted(op.name for op in wsone_async.operations.OPERATIONS) == sorted(OPERATIONS)
    assert len(set(OPERATIONS)) == 29


def test_top_level_all() -> None:
    assert set(wsone_async.__all__) == TOP_LEVEL
    for name in wsone_async.__all__:
        assert hasattr(wsone_async, name), name


def test_models_all_lists_every_block_and_every_operation_message() -> None:
    messages = {f"{_pascal(op)}{kind}" for op in OPERATIONS for kind in ("Request", "Response")}
    expected = BLOCKS | messages | {"ConsentFlag", "Timestamp", "Model", "OpenIntEnum"}
    expected |= {"IdentifierType", "Title"}
    assert set(wsone_async.models.__all__) == expected
    for name in wsone_async.models.__all__:
        assert hasattr(wsone_async.models, name), name


def test_every_operation_has_a_request_and_a_response_model() -> None:
    for op in OPERATIONS:
        for kind in ("Request", "Response"):
            cls = getattr(wsone_async.models, f"{_pascal(op)}{kind}")
            assert issubclass(cls, Model)
    assert issubclass(wsone_async.models.GetPersonResponse, wsone_async.models.ResponseEnvelope)


def test_errors_all_is_complete() -> None:
    public = {
        name
        for name, value in vars(wsone_async.errors).items()
        if not name.startswith("_") and getattr(value, "__module__", "") == "wsone_async.errors"
    }
    assert set(wsone_async.errors.__all__) == public


def test_every_model_docstring_says_documented_or_inferred() -> None:
    messages = [
        cls
        for cls in (getattr(wsone_async.models, name) for name in wsone_async.models.__all__)
        if isinstance(cls, type) and issubclass(cls, Model) and cls.__module__.endswith("_messages")
    ]
    # The filter must find the messages: were the module renamed, the check would see none.
    assert len(messages) >= 20, [cls.__module__ for cls in messages]
    for cls in messages:
        assert re.search(r"documented|inferred", cls.__doc__ or ""), cls.__name__


def test_settlement_all_is_complete() -> None:
    import wsone_async.settlement as settlement

    public = {
        name
        for name, value in vars(settlement).items()
        if not name.startswith("_")
        and (getattr(value, "__module__", "") == settlement.__name__ or name.isupper())
        and name not in ("TYPE_CHECKING", "OPERATIONS")  # imported, not defined here
    }
    assert set(settlement.__all__) == public
