"""Error classes the tests register for WsOne's codes."""

from __future__ import annotations

from wsone_async import APIError


class DuplicateError(APIError):
    """Test-only: the identifier is taken."""


class BusyError(APIError):
    """Test-only: a code a deployment knows to be transient (a read refused by it is retried)."""

    retryable = True
