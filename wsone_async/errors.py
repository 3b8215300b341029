"""Errors raised by wsone_async.

Every error the library raises on purpose derives from :class:`WsOneError`::

    WsOneError                      every error: .disposition, .retryable, .retry_after
    ├── APIError                    a responseCode other than "000" (.code, .infos, .operation)
    │   ├── NotFoundError           ... a code registered as "not found"
    │   └── (your subclasses)       mapped with register_error_code()
    ├── APIConnectionError          the exchange failed on the network (.request_sent)
    │   └── APITimeoutError         ... because a time limit expired (also a TimeoutError)
    ├── OutcomeUnknownError         a write may or may not have been applied (.operation, .request)
    ├── HTTPStatusError             an HTTP error status (.status)
    │   ├── AuthenticationError     401 or 403
    │   ├── RateLimitError          429 (.retry_after)
    │   └── ServerError             5xx
    ├── ResponseDecodeError         a body that is not JSON or does not fit its model (.path)
    ├── ResponseTooLargeError       a body over the client's size cap
    └── ClientStateError            the client cannot be used now (also a RuntimeError)
        └── ClientClosedError       ... because it was closed

WsOne's own table of functional error codes is not public, so this module does not invent
one: every non-"000" code becomes an :class:`APIError` that keeps the code and the vendor's
text, and a deployment that knows its codes maps them to subclasses with
:func:`register_error_code`.

Every error says what its caller should do next, as data: ``error.disposition`` is a
:class:`Disposition` (one function, :func:`disposition_of`, decides it), ``error.retryable``
is True exactly when it is ``RETRY_LATER``, and ``error.retry_after`` is WsOne's
``Retry-After`` delay in seconds when it sent one (else None)::

    RETRY_LATER     send it again later (after .retry_after if set): nothing was applied
                    APIConnectionError, APITimeoutError, RateLimitError, ServerError,
                    HTTPStatusError 408/429/5xx, ResponseDecodeError of a body that is not
                    JSON at all (.path is None), ClientClosedError, and APIError classes
                    registered with ``retryable = True``
    CHECK_FIRST     a write may have been applied: check its effect, then send it again
                    OutcomeUnknownError
    DO_NOT_RETRY    it would fail the same way again: fix the request, the credentials or
                    the code; AuthenticationError, other 4xx, ResponseDecodeError of JSON
                    that does not fit (.path set), ResponseTooLargeError, ClientStateError,
                    and every other APIError (NotFoundError included)

(A write that may have reached WsOne never raises a RETRY_LATER error: the client raises
:class:`OutcomeUnknownError` for it instead.)

No message or repr of these errors contains a credential or personal data: the vendor's
``infos`` text never reaches a message (it stays on ``.infos``), and an
:class:`OutcomeUnknownError` keeps its request on ``.request``, never in its message.
"""

from __future__ import annotations

import builtins
import enum
import re
from typing import Any, ClassVar, Final

__all__ = [
    "APIConnectionError",
    "APIError",
    "APITimeoutError",
    "AuthenticationError",
    "ClientClosedError",
    "ClientStateError",
    "Disposition",
    "HTTPStatusError",
    "NotFoundError",
    "OutcomeUnknownError",
    "RateLimitError",
    "ResponseDecodeError",
    "ResponseTooLargeError",
    "ServerError",
    "WsOneError",
    "disposition_of",
    "error_class_for",
    "register_error_code",
    "unregister_error_code",
]


class WsOneError(Exception):
    """Base class of every error raised by wsone_async; ``.disposition`` says what to do."""

    #: The delay WsOne's ``Retry-After`` asked for, in seconds, when it sent one; else None.
    retry_after: float | None = None

    @property
    def disposition(self) -> Disposition:
        """What to do with this error: see :class:`Disposition` and :func:`disposition_of`."""
        return disposition_of(self)

    @property
    def retryable(self) -> bool:
        """Whether sending the same request again later may succeed and is safe as it is.

        True exactly when :attr:`disposition` is ``RETRY_LATER``. (:class:`APIError`
        subclasses set it as a class attribute instead, which this property then reads.)
        """
        return disposition_of(self) is Disposition.RETRY_LATER


# What a responseCode looks like: a short token. Anything else (a sentence a proxy or a
# faulty node put there) may quote a customer and stays out of messages.
_CODE_LIKE: Final = re.compile(r"[A-Za-z0-9_.-]{1,16}")


def _shown_code(code: str) -> str | None:
    """``code`` where a message, a span or an HTTP body may show it; None when not a code."""
    return code if _CODE_LIKE.fullmatch(code) else None


class APIError(WsOneError):
    """WsOne answered with a ``responseCode`` other than ``"000"``: a functional failure."""

    #: Whether a read that failed with this code may be retried. WsOne's codes are not
    #: documented, so no code is retryable unless a registered subclass says so.
    retryable: ClassVar[bool] = False

    code: str
    infos: str | None
    operation: str | None

    def __init__(self, code: str, infos: str | None = None, *, operation: str | None = None):
        self.code = code
        self.infos = infos
        self.operation = operation
        where = f"{operation}: " if operation else ""
        # The vendor's text stays out of the message: it may quote any customer's data,
        # not only the request's, and no pattern can tell a name from a word. So does a
        # responseCode that is not a short code: it is kept, whole, on .code only.
        shown_code = _shown_code(code)
        shown = "<not a code: see .code>" if shown_code is None else repr(shown_code)
        hint = " (WsOne's text is in .infos)" if infos else ""
        super().__init__(f"{where}WsOne responseCode {shown}{hint}")


class APIConnectionError(WsOneError):
    """The exchange with WsOne failed on the network (refused, reset, DNS, TLS, timeout)."""

    #: False only when the request provably never left this process (connection refused,
    #: DNS failure, no free connection in the pool); True when it may have been received.
    request_sent: bool

    def __init__(self, message: str, *, request_sent: bool) -> None:
        self.request_sent = request_sent
        super().__init__(message)


class APITimeoutError(APIConnectionError, builtins.TimeoutError):
    """A time limit expired before WsOne answered (also a builtin ``TimeoutError``)."""

    #: The limit that expired: ``"connect"``, ``"read"``, ``"attempt"`` or ``"total"`` (the
    #: call's deadline), or None when unknown.
    limit: str | None

    def __init__(self, message: str, *, request_sent: bool, limit: str | None = None) -> None:
        self.limit = limit
        super().__init__(message, request_sent=request_sent)


class OutcomeUnknownError(WsOneError):
    """A write failed in a way that leaves unknown whether WsOne applied it."""

    operation: str
    request: Any

    def __init__(self, operation: str, request: Any, *, reason: str) -> None:
        self.operation = operation
        self.request = request
        self.reason = reason
        super().__init__(
            f"{operation}: the outcome is unknown ({reason}); the write was not retried "
            "because it may have been applied. Check its effect (getPerson on the "
            "identifier, verifyTransaction on the receipt) before sending it again."
        )


class HTTPStatusError(WsOneError):
    """WsOne (or a proxy in front of it) answered with an HTTP error status."""

    status: int
    operation: str | None
    #: The delay the answer's ``Retry-After`` header asked for, in seconds, if any.
    retry_after: float | None

    def __init__(
        self,
        status: int,
        *,
        operation: str | None = None,
        retry_after: float | None = None,
        detail: str = "",
    ) -> None:
        self.status = status
        self.operation = operation
        self.retry_after = retry_after
        if retry_after is not None and not detail:
            detail = f"retry after {retry_after:g}s"
        where = f"{operation}: " if operation else ""
        suffix = f" ({detail})" if detail else ""
        super().__init__(f"{where}HTTP status {status}{suffix}")


class AuthenticationError(HTTPStatusError):
    """The credentials were refused (HTTP 401 or 403)."""


class RateLimitError(HTTPStatusError):
    """WsOne asked to slow down (HTTP 429); ``retry_after`` is its delay in seconds, if any."""

    def __init__(
        self,
        status: int = 429,
        *,
        operation: str | None = None,
        retry_after: float | None = None,
        detail: str = "",
    ) -> None:
        super().__init__(status, operation=operation, retry_after=retry_after, detail=detail)


class ServerError(HTTPStatusError):
    """WsOne failed on its side (HTTP 5xx)."""


class ResponseDecodeError(WsOneError):
    """A response body is not JSON or does not fit its model; ``path`` names the bad field."""

    #: The JSON path of the bad field, such as ``$.PersonResponse.title``; None when the
    #: body as a whole is not a WsOne answer: not JSON at all (an HTML error page, say), a
    #: compressed body that cannot be decompressed, or a read's JSON with neither a
    #: ``responseCode`` nor any block its model knows (``{}``, ``{"message": ...}``).
    path: str | None
    operation: str | None

    def __init__(
        self, message: str, *, path: str | None = None, operation: str | None = None
    ) -> None:
        self.path = path
        self.operation = operation
        where = f"{operation}: " if operation else ""
        super().__init__(f"{where}{message}")


class ResponseTooLargeError(WsOneError):
    """A response body is larger than the client's ``max_response_size``."""


class ClientStateError(WsOneError, RuntimeError):
    """The client cannot be used now: it is closed or bound to another event loop."""


class ClientClosedError(ClientStateError):
    """The client was closed; open a new one."""


_REGISTRY: dict[str, type[APIError]] = {}

#: The ``responseCode`` of a success.
SUCCESS: Final = "000"


def register_error_code(code: str, cls: type[APIError]) -> None:
    """Map a WsOne ``responseCode`` to an :class:`APIError` subclass, for every client.

    WsOne's code table is not public: map the codes your platform's documentation gives you.
    Registering a code again replaces the earlier class.

    Args:
        code: the ``responseCode`` string as WsOne sends it, such as ``"101"``.
        cls: a subclass of :class:`APIError`.

    Example:
        >>> class DuplicatePersonError(APIError):
        ...     '''The identifier already belongs to a person.'''
        >>> register_error_code("E_DUP", DuplicatePersonError)
        >>> error_class_for("E_DUP") is DuplicatePersonError
        True
        >>> unregister_error_code("E_DUP")
    """
    _check_registration(code, cls)
    _REGISTRY[code] = cls


def _check_registration(code: object, cls: object) -> None:
    # Checked at run time too: a wrong registration would only show on the day WsOne
    # answers with that code.
    if not isinstance(code, str) or not code:
        msg = f"code must be a non-empty str, got {type(code).__name__}"
        raise TypeError(msg)
    if not (isinstance(cls, type) and issubclass(cls, APIError)):
        msg = "cls must be a subclass of wsone_async.errors.APIError"
        raise TypeError(msg)
    if code == SUCCESS:
        # Accepted, it would never be consulted (an answer with it is a success): a
        # "not found" registered as "000" by mistake would silently settle nothing.
        msg = f"code {SUCCESS!r} means success: it cannot be registered as an error"
        raise ValueError(msg)


def unregister_error_code(code: str) -> None:
    """Forget the class mapped to ``code``; unknown codes are ignored."""
    _REGISTRY.pop(code, None)


def error_class_for(code: str) -> type[APIError]:
    """Return the class registered for ``code``, or :class:`APIError`."""
    return _REGISTRY.get(code, APIError)


class NotFoundError(APIError):
    """WsOne says that what the request names does not exist: register its codes to this."""


class Disposition(enum.Enum):
    """What a caller should do with a failed call: three answers, as ``error.disposition``."""

    #: Nothing was applied and the failure is transient: send the same request again later,
    #: after ``error.retry_after`` seconds when it is set.
    RETRY_LATER = "retry_later"
    #: A write may or may not have been applied: check its effect (``get_person``,
    #: ``verify_transaction``) before sending it again, never resend it blindly.
    CHECK_FIRST = "check_first"
    #: It would fail the same way again: fix the request, the credentials or the code.
    DO_NOT_RETRY = "do_not_retry"


_RETRY_LATER_STATUSES: Final = frozenset({408, 429})
_FIRST_SERVER_STATUS: Final = 500


def disposition_of(error: WsOneError) -> Disposition:
    """The :class:`Disposition` of ``error``: the one place that decides it.

    The table is in this module's docstring and in the README's "Errors" section.

    Example:
        A consumer's handler is three branches on one attribute::

            except WsOneError as error:
                if error.disposition is Disposition.RETRY_LATER:
                    await message.requeue(delay=error.retry_after or 30)
                elif error.disposition is Disposition.CHECK_FIRST:
                    await message.requeue(delay=60, check_first=True)
                else:
                    await message.dead_letter()

        >>> disposition_of(HTTPStatusError(404)), disposition_of(HTTPStatusError(408))
        (<Disposition.DO_NOT_RETRY: 'do_not_retry'>, <Disposition.RETRY_LATER: 'retry_later'>)
        >>> register_error_code("E_GONE", NotFoundError)
        >>> error = error_class_for("E_GONE")("E_GONE")
        >>> error.disposition, error.retryable, error.retry_after
        (<Disposition.DO_NOT_RETRY: 'do_not_retry'>, False, None)
        >>> unregister_error_code("E_GONE")
        >>> RateLimitError(retry_after=2.0).disposition
        <Disposition.RETRY_LATER: 'retry_later'>
    """
    if isinstance(error, OutcomeUnknownError):
        return Disposition.CHECK_FIRST
    if isinstance(error, APIError):
        # A registered class decides; WsOne's codes are undocumented, so none is by default.
        return Disposition.RETRY_LATER if type(error).retryable else Disposition.DO_NOT_RETRY
    if isinstance(error, APIConnectionError | ClientClosedError):
        # A write whose request may have been received raises OutcomeUnknownError instead;
        # a closed client sent nothing.
        return Disposition.RETRY_LATER
    if isinstance(error, HTTPStatusError):
        transient = (
            isinstance(error, RateLimitError | ServerError)
            or error.status in _RETRY_LATER_STATUSES
            or error.status >= _FIRST_SERVER_STATUS
        )
        return Disposition.RETRY_LATER if transient else Disposition.DO_NOT_RETRY
    if isinstance(error, ResponseDecodeError) and error.path is None:
        return Disposition.RETRY_LATER  # not JSON at all: a proxy's page, a cut answer
    return Disposition.DO_NOT_RETRY
