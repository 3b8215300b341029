"""One HTTP attempt: the only aiohttp user outside ``testing/``.

The transport owns (or borrows) the ``aiohttp.ClientSession``, posts JSON with the Basic
``Authorization`` header built once, applies the attempt's time limits, and turns every
aiohttp and asyncio failure into a :mod:`wsone_async.errors` error, here and nowhere else,
always chained with ``raise ... from``. Each connection error says whether the request may
have reached WsOne (``request_sent``): the retry rules for writes depend on it.

Then it decodes the answer in a fixed order: the HTTP status first, then the JSON, then
the envelope's ``responseCode`` (``"000"`` or absent is a success), then the model.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import logging
import math
import ssl
from collections.abc import Iterable
from typing import Any, Final, TypeVar

import aiohttp
import multidict
import yarl

from wsone_async._codec import decode_json, from_wire, redact_wire
from wsone_async._redact import REDACTED
from wsone_async.errors import (
    APIConnectionError,
    APITimeoutError,
    AuthenticationError,
    ClientStateError,
    HTTPStatusError,
    RateLimitError,
    ResponseDecodeError,
    ResponseTooLargeError,
    ServerError,
    error_class_for,
)
from wsone_async.models import Model

__all__ = [
    "SUCCESS",
    "ClientSession",
    "Reply",
    "TraceConfig",
    "Transport",
    "decode_reply",
    "parse_retry_after",
]

# The aiohttp types a client's caller may hand over, re-exported so that no other module
# of the package needs to import aiohttp.
ClientSession = aiohttp.ClientSession
TraceConfig = aiohttp.TraceConfig

logger = logging.getLogger("wsone_async")

M = TypeVar("M", bound=Model)

#: The ``responseCode`` of a success.
SUCCESS: Final = "000"
_HTTP_OK_FIRST, _HTTP_OK_LAST = 200, 299


class Reply:
    """What one attempt got back: status, ``Retry-After`` header and body."""

    __slots__ = ("body", "retry_after", "status")

    def __init__(self, status: int, retry_after: str | None, body: bytes) -> None:
        self.status = status
        self.retry_after = retry_after
        self.body = body


class Transport:
    """The HTTP side of a client: its session, its headers and its failure translation."""

    def __init__(
        self,
        *,
        base_url: str,
        username: str,
        password: str,
        session: aiohttp.ClientSession | None,
        max_connections: int,
        ssl_context: ssl.SSLContext | None,
        trace_configs: Iterable[aiohttp.TraceConfig] | None,
        max_response_size: int,
        user_agent: str,
    ) -> None:
        # Built once: aiohttp 3.14 deprecates BasicAuth objects and auth=.
        self._headers: Final = {
            "Authorization": aiohttp.encode_basic_auth(username, password),
            "Content-Type": "application/json",
            "Accept": "application/json",
            "User-Agent": user_agent,
        }
        self._session = session
        self.owns_session: Final = session is None
        self._max_connections = max_connections
        self._ssl: ssl.SSLContext | bool = ssl_context if ssl_context is not None else True
        self._trace_configs = list(trace_configs or ())
        self._max_response_size = max_response_size
        self._base = yarl.URL(base_url.rstrip("/"))

    def url(self, path: str) -> yarl.URL:
        """The absolute URL of ``path`` (such as ``/rest/2.0/personWebService/getPerson``)."""
        return self._base.with_path(self._base.path.rstrip("/") + path)

    @property
    def session(self) -> aiohttp.ClientSession | None:
        """The session in use, if any yet."""
        return self._session

    def open(self) -> None:
        """Create the session this transport owns; call it inside the running event loop."""
        if self._session is None:
            connector = aiohttp.TCPConnector(limit=self._max_connections, ssl=self._ssl)
            self._session = aiohttp.ClientSession(
                connector=connector,
                trace_configs=self._trace_configs or None,
                # Cookies could pin a session to one WsOne node; the API is stateless.
                cookie_jar=aiohttp.DummyCookieJar(),
                raise_for_status=False,
            )

    async def close(self) -> None:
        """Close the session if this transport created it; a borrowed one stays open."""
        if self.owns_session and self._session is not None and not self._session.closed:
            await self._session.close()

    def timeout(self, *, attempt: float, connect: float | None, read: float | None) -> Any:
        """The aiohttp time limits of one attempt.

        A read limit at or above the attempt's is not armed: it could never fire first, and
        aiohttp pays for it on every chunk received (about 6% of throughput here).
        """
        return aiohttp.ClientTimeout(
            total=attempt,
            connect=None if connect is None else min(connect, attempt),
            sock_read=read if read is not None and read < attempt else None,
        )

    async def post(self, url: yarl.URL, body: bytes, limits: Any) -> Reply:
        """Send one attempt; every failure leaves as a wsone_async error.

        ``limits`` comes from :meth:`timeout`.
        """
        session = self._session
        assert session is not None, "open() first"
        if session.closed:
            # A borrowed session its owner closed: aiohttp would raise a bare RuntimeError.
            msg = "the aiohttp session given to WsOneClient was closed by its owner"
            raise ClientStateError(msg)
        try:
            async with session.post(
                url,
                data=body,
                headers=self._headers,
                timeout=limits,
                allow_redirects=False,  # a redirected POST may turn into a GET
            ) as response:
                length = response.content_length
                if length is not None and length <= self._max_response_size:
                    reply_body = await response.read()
                else:
                    reply_body = await self._read_capped(response, length)
                status = response.status
                # Only an error answer can ask for a delay; skip the lookup otherwise.
                retry_after = response.headers.get("Retry-After") if status >= 300 else None
                return Reply(status, retry_after, reply_body)
        except aiohttp.ClientResponseError as exc:
            # A malformed answer. aiohttp's error carries our request headers, which hold
            # the Authorization header: scrubbed before it is chained.
            _scrub_request_info(exc)
            msg = f"WsOne's answer could not be read ({type(exc).__name__})"
            raise APIConnectionError(msg, request_sent=True) from exc
        except aiohttp.ConnectionTimeoutError as exc:
            # No connection in time (pool full or host slow): nothing was sent.
            msg = "no connection to WsOne within the connect timeout"
            raise APITimeoutError(msg, request_sent=False) from exc
        except (aiohttp.ServerTimeoutError, TimeoutError) as exc:
            # The attempt's total or read limit expired with the request possibly received.
            msg = "WsOne did not answer within the time limit"
            raise APITimeoutError(msg, request_sent=True) from exc
        except aiohttp.ClientConnectorError as exc:
            # Refused, unreachable, DNS or TLS set-up failure: before any byte was sent.
            msg = f"cannot connect to WsOne ({type(exc).__name__})"
            raise APIConnectionError(msg, request_sent=False) from exc
        except ResponseTooLargeError:
            raise
        except (aiohttp.ClientError, OSError) as exc:
            # Reset, disconnect, truncated or malformed answer: after the request was sent.
            msg = f"the connection to WsOne failed after sending ({type(exc).__name__})"
            raise APIConnectionError(msg, request_sent=True) from exc

    async def _read_capped(self, response: aiohttp.ClientResponse, length: int | None) -> bytes:
        # A body over the cap is refused before it is held in memory: from its announced
        # length, or chunk by chunk when it has none.
        cap = self._max_response_size
        if length is not None:
            raise _too_large(cap)
        chunks, size = [], 0
        async for chunk in response.content.iter_any():
            size += len(chunk)
            if size > cap:
                raise _too_large(cap)
            chunks.append(chunk)
        return b"".join(chunks)


def _scrub_request_info(error: aiohttp.ClientResponseError) -> None:
    info = error.request_info
    if info is not None and "Authorization" in info.headers:
        headers = multidict.CIMultiDict(info.headers)
        headers["Authorization"] = REDACTED
        error.request_info = aiohttp.RequestInfo(
            info.url, info.method, multidict.CIMultiDictProxy(headers), info.real_url
        )


def _too_large(cap: int) -> ResponseTooLargeError:
    return ResponseTooLargeError(f"the response body is larger than {cap} bytes")


def parse_retry_after(value: str | None, *, now: dt.datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header: delay-seconds or an HTTP date."""
    if value is None:
        return None
    text = value.strip()
    try:
        # ASCII only: str.isdigit() and float() also take digits of other scripts ("²").
        seconds = float(text) if text.isascii() else math.nan
    except ValueError:
        pass
    else:
        return seconds if math.isfinite(seconds) and seconds >= 0 else None
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    now = now or dt.datetime.now(dt.UTC)
    return max(0.0, (when - now).total_seconds())


_AUTH_STATUSES: Final = frozenset({401, 403})


def decode_reply(reply: Reply, response_type: type[M], *, operation: str) -> M:
    """Turn a reply into the response model, or raise the error it stands for."""
    status = reply.status
    if not _HTTP_OK_FIRST <= status <= _HTTP_OK_LAST:
        raise _status_error(status, reply.retry_after, operation)
    data = decode_json(reply.body, operation=operation)
    if logger.isEnabledFor(logging.DEBUG):
        logger.debug("%s answer: %s", operation, redact_wire(data, response_type))
    if type(data) is not dict:
        msg = f"the answer is a JSON {type(data).__name__}, not an object"
        raise ResponseDecodeError(msg, path="$", operation=operation)
    code = data.get("responseCode")
    if code is not None and code != SUCCESS:
        if isinstance(code, bool) or not isinstance(code, str | int):
            msg = "the answer's responseCode is neither a string nor a number"
            raise ResponseDecodeError(msg, path="$.responseCode", operation=operation)
        code_text = str(code)
        infos = data.get("infos")
        raise error_class_for(code_text)(
            code_text, infos if isinstance(infos, str) else None, operation=operation
        )
    try:
        return from_wire(response_type, data)
    except ResponseDecodeError as exc:
        # Re-raised with the operation's name; the path stays.
        raise ResponseDecodeError(str(exc), path=exc.path, operation=operation) from exc


def _status_error(status: int, retry_after_header: str | None, operation: str) -> HTTPStatusError:
    retry_after = parse_retry_after(retry_after_header)
    if status in _AUTH_STATUSES:
        return AuthenticationError(status, operation=operation)
    if status == 429:
        return RateLimitError(status, operation=operation, retry_after=retry_after)
    if status >= 500:
        return ServerError(status, operation=operation, retry_after=retry_after)
    return HTTPStatusError(status, operation=operation, retry_after=retry_after)
