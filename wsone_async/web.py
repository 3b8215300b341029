"""What a web app answers its own caller when a WsOne call fails: one table, any framework.

:func:`http_answer` turns a :class:`~wsone_async.errors.WsOneError` into an
:class:`HTTPAnswer` (a status, headers and a JSON-ready body) that an exception handler of
FastAPI, Starlette, aiohttp, Django or Flask hands on as it is. The body names the failure
in generic words and never carries personal data: not the error's message, not WsOne's
``infos`` text, not the request.

The table is :data:`HTTP_ANSWERS` (the README's "Errors" section shows its answer for
each error class, checked by a test): a name
not found (a code registered as :class:`~wsone_async.errors.NotFoundError`) is 404;
throttling and an unavailable WsOne are 503 with ``Retry-After`` when WsOne gave a delay;
a time limit is 504; an unknown outcome, an unreadable answer, a network failure and
every refusal are 502; only a misused client (a bug in the app) is 500.

The first row that matches wins, so subclasses come before their parents. WsOne's failures
are the upstream's, not the caller's: they map to 502, 503 and 504 (a gateway's statuses),
never to 401 (the caller's credentials are not at fault) nor to 500, which is kept for bugs.
Pass ``statuses=`` to give your own :class:`~wsone_async.errors.APIError` subclasses a
status of their own, such as 409 for a duplicate.

Example:
    >>> from wsone_async.errors import RateLimitError
    >>> answer = http_answer(RateLimitError(retry_after=1.5, operation="getPerson"))
    >>> answer.status, answer.headers, answer.body["error"]
    (503, {'Retry-After': '2'}, 'wsone_busy')
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, Final

import attrs

from wsone_async.errors import (
    APIConnectionError,
    APIError,
    APITimeoutError,
    ClientClosedError,
    ClientStateError,
    HTTPStatusError,
    NotFoundError,
    OutcomeUnknownError,
    RateLimitError,
    ResponseDecodeError,
    ResponseTooLargeError,
    ServerError,
    WsOneError,
    _shown_code,
)

__all__ = ["HTTP_ANSWERS", "HTTPAnswer", "HTTPRule", "http_answer"]

_SERVICE_UNAVAILABLE: Final = 503


@attrs.frozen
class HTTPRule:
    """One row of :data:`HTTP_ANSWERS`: errors of ``error_type`` (and ``status``) answer so."""

    error_type: type[WsOneError]
    """The error class the row matches (its subclasses too)."""
    status: int
    """The HTTP status to answer with."""
    error: str
    """A stable, machine-readable name of the failure for the body's ``error`` key."""
    message: str
    """A generic sentence for the body's ``message`` key, free of personal data."""
    wsone_status: int | None = None
    """When set, the row matches only an ``HTTPStatusError`` with this WsOne status."""

    def matches(self, error: WsOneError) -> bool:
        """Whether ``error`` falls under this row."""
        if not isinstance(error, self.error_type):
            return False
        return self.wsone_status is None or (
            isinstance(error, HTTPStatusError) and error.status == self.wsone_status
        )


#: The table, first match wins, each row needed (a test removes each in turn); the
#: module's docstring and the README describe it.
HTTP_ANSWERS: Final[tuple[HTTPRule, ...]] = (
    HTTPRule(NotFoundError, 404, "not_found", "Not found."),
    HTTPRule(RateLimitError, 503, "wsone_busy", "The loyalty service is busy; try again later."),
    HTTPRule(
        ServerError,
        503,
        "wsone_busy",
        "The loyalty service is unavailable; try again later.",
        wsone_status=_SERVICE_UNAVAILABLE,
    ),
    HTTPRule(ClientClosedError, 503, "shutting_down", "The service is stopping; try again."),
    HTTPRule(APITimeoutError, 504, "wsone_timeout", "The loyalty service did not answer in time."),
    HTTPRule(
        OutcomeUnknownError,
        502,
        "outcome_unknown",
        "The loyalty service failed; the change may or may not have been made.",
    ),
    HTTPRule(APIConnectionError, 502, "wsone_unreachable", "The loyalty service is unreachable."),
    HTTPRule(ServerError, 502, "wsone_failed", "The loyalty service failed."),
    HTTPRule(
        ResponseDecodeError, 502, "wsone_unreadable", "The loyalty service's answer is unreadable."
    ),
    HTTPRule(
        ResponseTooLargeError,
        502,
        "wsone_unreadable",
        "The loyalty service's answer is unreadable.",
    ),
    HTTPRule(HTTPStatusError, 502, "wsone_refused", "The loyalty service refused the request."),
    HTTPRule(APIError, 502, "wsone_refused", "The loyalty service refused the request."),
    HTTPRule(ClientStateError, 500, "client_misuse", "Internal error."),
    HTTPRule(WsOneError, 502, "wsone_failed", "The loyalty service failed."),
)


@attrs.frozen
class HTTPAnswer:
    """An HTTP answer for a failed WsOne call, for any web framework.

    Example:
        With FastAPI (see the README for the whole app)::

            @app.exception_handler(WsOneError)
            async def wsone_failed(request: Request, error: WsOneError) -> JSONResponse:
                answer = http_answer(error)
                return JSONResponse(answer.body, answer.status, answer.headers)
    """

    status: int
    """The HTTP status: 404, 502, 503, 504 (500 only for a misused client), or the one
    ``statuses=`` gave the error's class."""
    headers: dict[str, str]
    """Extra headers: ``Retry-After`` (whole seconds) when WsOne gave a delay."""
    body: dict[str, Any]
    """A JSON-ready object: ``error``, ``message``, ``retryable``, ``disposition`` and,
    when known, ``operation`` and WsOne's ``code``; never personal data."""


def http_answer(
    error: WsOneError, *, statuses: Mapping[type[APIError], int] | None = None
) -> HTTPAnswer:
    """The HTTP answer a web app gives when a WsOne call fails with ``error``.

    Args:
        error: the error the call raised.
        statuses: your own :class:`~wsone_async.errors.APIError` subclasses and the status
            each answers with (the most specific class wins), such as
            ``{DuplicatePersonError: 409}``; checked before the table.

    Returns:
        The :class:`HTTPAnswer`, per :data:`HTTP_ANSWERS`.

    Example:
        >>> from wsone_async.errors import APITimeoutError, NotFoundError
        >>> http_answer(NotFoundError("101", "Person DUPOND not found", operation="getPerson"))
        HTTPAnswer(status=404, headers={}, body={'error': 'not_found', 'message': 'Not found.', \
'retryable': False, 'disposition': 'do_not_retry', 'operation': 'getPerson', 'code': '101'})
        >>> http_answer(APITimeoutError("read timeout", request_sent=True)).status
        504
    """
    rule = _rule_for(error)
    status = rule.status
    if statuses and isinstance(error, APIError):
        for cls in type(error).__mro__:
            if isinstance(cls, type) and issubclass(cls, APIError) and cls in statuses:
                status = statuses[cls]
                break
    headers: dict[str, str] = {}
    retry_after = error.retry_after
    if retry_after is not None and status == _SERVICE_UNAVAILABLE:
        # Whole seconds, rounded up: HTTP's Retry-After has no fractions.
        headers["Retry-After"] = str(max(0, math.ceil(retry_after)))
    body: dict[str, Any] = {
        "error": rule.error,
        "message": rule.message,
        "retryable": error.retryable,
        "disposition": error.disposition.value,
    }
    operation = getattr(error, "operation", None)
    if isinstance(operation, str):
        body["operation"] = operation  # an operation's name, such as "getPerson"
    if isinstance(error, APIError):
        code = _shown_code(error.code)  # WsOne's code, never free text (it may quote a customer)
        if code is not None:
            body["code"] = code
    return HTTPAnswer(status=status, headers=headers, body=body)


def _rule_for(error: WsOneError) -> HTTPRule:
    for rule in HTTP_ANSWERS:
        if rule.matches(error):
            return rule
    return HTTP_ANSWERS[-1]  # not reached: the last row matches every WsOneError
