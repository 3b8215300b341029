"""Typed asyncio client for WsOne, the web-service API of a French retail loyalty / CRM platform."""

from __future__ import annotations

from wsone_async._codec import from_wire, to_wire
from wsone_async._config import RetryBudget, RetryPolicy, Timeouts
from wsone_async.errors import (
    APIConnectionError,
    APIError,
    APITimeoutError,
    AuthenticationError,
    ClientClosedError,
    ClientStateError,
    HTTPStatusError,
    OutcomeUnknownError,
    RateLimitError,
    ResponseDecodeError,
    ResponseTooLargeError,
    ServerError,
    WsOneError,
    register_error_code,
)

__version__ = "0.1.0.dev0"

__all__ = [
    "APIConnectionError",
    "APIError",
    "APITimeoutError",
    "AuthenticationError",
    "ClientClosedError",
    "ClientStateError",
    "HTTPStatusError",
    "OutcomeUnknownError",
    "RateLimitError",
    "ResponseDecodeError",
    "ResponseTooLargeError",
    "RetryBudget",
    "RetryPolicy",
    "ServerError",
    "Timeouts",
    "WsOneError",
    "__version__",
    "from_wire",
    "register_error_code",
    "to_wire",
]
