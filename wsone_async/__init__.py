"""Typed asyncio client for WsOne, the web-service API of a French retail loyalty / CRM platform.

Start with :class:`WsOneClient`; the request and response models are in
:mod:`wsone_async.models`, the errors in :mod:`wsone_async.errors`, and an embedded WsOne
simulator for tests in :mod:`wsone_async.testing`.
"""

from __future__ import annotations

from wsone_async._codec import from_wire, to_wire
from wsone_async._config import RetryBudget, RetryPolicy, Timeouts
from wsone_async._version import __version__
from wsone_async.client import AttemptInfo, CallResult, WsOneClient
from wsone_async.errors import (
    APIConnectionError,
    APIError,
    APITimeoutError,
    AuthenticationError,
    ClientClosedError,
    ClientStateError,
    Disposition,
    HTTPStatusError,
    NotFoundError,
    OutcomeUnknownError,
    RateLimitError,
    ResponseDecodeError,
    ResponseTooLargeError,
    ServerError,
    WsOneError,
    register_error_code,
)
from wsone_async.web import HTTPAnswer, http_answer

__all__ = [
    "APIConnectionError",
    "AttemptInfo",
    "APIError",
    "APITimeoutError",
    "AuthenticationError",
    "CallResult",
    "ClientClosedError",
    "ClientStateError",
    "Disposition",
    "HTTPAnswer",
    "HTTPStatusError",
    "NotFoundError",
    "OutcomeUnknownError",
    "RateLimitError",
    "ResponseDecodeError",
    "ResponseTooLargeError",
    "RetryBudget",
    "RetryPolicy",
    "ServerError",
    "Timeouts",
    "WsOneClient",
    "WsOneError",
    "__version__",
    "from_wire",
    "http_answer",
    "register_error_code",
    "to_wire",
]
