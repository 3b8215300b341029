"""One HTTP attempt: the only aiohttp user outside ``testing/``.

The transport owns (or borrows) the ``aiohttp.ClientSession``, posts JSON with the Basic
``Authorization`` header built once, bounds the attempt, and turns every aiohttp and
asyncio failure into a :mod:`wsone_async.errors` error, here and nowhere else, always
chained with ``raise ... from``. Each connection error says whether the request may have
reached WsOne (``request_sent``): the retry rules for writes depend on it.

Time: each attempt runs inside the library's own timer (``asyncio.timeout``'s rules, not aiohttp's
``ClientTimeout(total=...)``), so a cancel of the caller's task is never turned into a
timeout, and limits are not rounded up to the next second. aiohttp keeps only the
``connect`` and ``read`` limits, which it can tell apart.

Memory: answers are read with aiohttp's decompression off and decompressed here, at most
``max_response_size`` decoded bytes, whatever ``Content-Length`` says (a gzip bomb of a few
KiB cannot become gigabytes).

Connections: a kept-alive connection that the server closed while it sat in the pool is
never used for a request (see :class:`_Connector`).

Then it decodes the answer in a fixed order: the HTTP status first, then the JSON, then
the envelope's ``responseCode``, then the model. Only ``"000"`` makes a success of a write;
a read's answer without a ``responseCode`` is accepted when it holds a block its model
knows (the vendor's own getFullPerson example has no ``responseCode``).
"""

from __future__ import annotations

import asyncio
import collections
import datetime as dt
import email.utils
import logging
import math
import select
import ssl
import zlib
from collections.abc import Generator, Iterable
from typing import Any, Final, TypeVar

import aiohttp
import multidict
import yarl
from aiohttp.client_proto import ResponseHandler
from aiohttp.client_reqrep import ClientRequest
from aiohttp.connector import Connection
from aiohttp.tracing import Trace

from wsone_async._codec import (
    decode_in_steps,
    decode_json,
    from_wire,
    parse_in_steps,
    redact_wire,
    wire_schema,
)
from wsone_async._redact import REDACTED
from wsone_async.errors import (
    SUCCESS,
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
    "DEFAULT_KEEPALIVE_TIMEOUT",
    "SUCCESS",
    "ClientSession",
    "Limits",
    "Reply",
    "TraceConfig",
    "Transport",
    "decode_reply",
    "decode_reply_in_steps",
    "parse_retry_after",
]

# The aiohttp types a client's caller may hand over, re-exported so that no other module
# of the package needs to import aiohttp.
ClientSession = aiohttp.ClientSession
TraceConfig = aiohttp.TraceConfig

logger = logging.getLogger("wsone_async")

M = TypeVar("M", bound=Model)

_HTTP_OK_FIRST, _HTTP_OK_LAST = 200, 299

#: Seconds an idle pooled connection is kept. Below the idle timeouts of common servers
#: and proxies in front of WsOne (5 s: uvicorn, Node.js, many load balancer defaults), so
#: the client drops a connection before the server does rather than racing its close.
DEFAULT_KEEPALIVE_TIMEOUT: Final = 4.0

# The encodings this module decodes itself, hence the only ones it asks for.
_ACCEPT_ENCODING: Final = "gzip, deflate"
# A gzip body may be several members end to end; more than this is an attack, not a body.
_MAX_GZIP_MEMBERS: Final = 64


class Reply:
    """What one attempt got back: status, ``Retry-After`` header and body."""

    __slots__ = ("body", "retry_after", "status")

    def __init__(self, status: int, retry_after: str | None, body: bytes) -> None:
        self.status = status
        self.retry_after = retry_after
        self.body = body


class Limits:
    """The time limits of one attempt, built once per client and per shortened attempt.

    ``seconds`` bounds the whole attempt (the library's own timer); ``name`` says which
    setting it comes from (``"attempt"``, or ``"total"`` when the call's deadline is
    nearer); ``aiohttp`` holds the connect and read limits aiohttp applies itself.
    """

    __slots__ = ("aiohttp", "name", "seconds", "timers")

    def __init__(
        self,
        seconds: float,
        name: str,
        client_timeout: aiohttp.ClientTimeout,
        *,
        reused: bool = True,
    ) -> None:
        self.seconds = seconds
        self.name = name
        self.aiohttp = client_timeout
        #: The queue of the deadlines of the attempts bounded by these limits.
        self.timers = _Timers(seconds, reused=reused)


class _Connector(aiohttp.TCPConnector):
    """A pool that never sends a request on a connection the server already closed.

    A server closes a kept-alive connection when it has been idle for its own timeout. If
    the close (FIN or RST) reached this machine while the event loop was busy, aiohttp
    still believes the connection alive and writes the request on it; the request then
    fails with no answer, and for a write that is an unknown outcome. Before reusing a
    pooled connection, this connector asks the kernel whether anything arrived on it: on
    an idle HTTP/1.1 connection nothing may, so anything (end of stream, reset, stray
    bytes) means the server is done with it, and it is dropped before a byte is sent.

    What stays ambiguous, on purpose: a close that arrives *after* the request was written.
    The client cannot tell a server that closed an idle connection from one that read the
    request and then failed, so that write keeps its unknown outcome (aiohttp itself
    resends only idempotent methods there, as RFC 9112 section 9.3.1.1 allows). The
    keep-alive timeout, shorter than the server's, keeps that window rare.
    """

    async def connect(
        self,
        req: ClientRequest,
        traces: list[Trace],
        timeout: aiohttp.ClientTimeout,  # noqa: ASYNC109 (aiohttp's signature)
    ) -> Connection:
        while True:
            connection = await super().connect(req, traces, timeout)
            protocol = connection.protocol
            if protocol is None:
                return connection
            # A connection handed out before carries what tells whether anything arrived on
            # it: a poll object holding only its socket (one system call a check), or,
            # without poll() (Windows), its descriptor for select(). It lives on the
            # connection's protocol object, so it goes with it: no lookup in a table of
            # weak references on every request.
            watch = getattr(protocol, _WATCH, None)
            if watch is None:  # a new connection: nothing to check yet
                setattr(protocol, _WATCH, _watch(_descriptor(protocol)))
                return connection
            try:
                # On an idle HTTP/1.1 connection nothing may arrive: anything (end of
                # stream, reset, stray bytes, or POLLNVAL for a descriptor that was closed)
                # means the server is done with it.
                arrived = bool(watch.poll(0))
            except (OSError, ValueError):
                arrived = True  # a socket the kernel no longer knows is not one to send on
            if not arrived:
                return connection
            logger.debug("dropped a kept-alive connection the server had closed")
            connection.close()


_WATCH: Final = "_wsone_watch"  # the attribute a connection's protocol carries its watch in
_HAS_POLL: Final = hasattr(select, "poll")
_POLL_EVENTS: Final = (select.POLLIN | select.POLLERR | select.POLLHUP) if _HAS_POLL else 0


def _descriptor(protocol: ResponseHandler) -> int:
    transport = protocol.transport
    sock = transport.get_extra_info("socket") if transport is not None else None
    return -1 if sock is None else int(sock.fileno())


class _SelectWatch:
    """A poll object's ``poll(0)`` for one descriptor, by select() (no poll() on Windows)."""

    __slots__ = ("fd",)

    def __init__(self, fd: int) -> None:
        self.fd = fd

    def poll(self, timeout: float) -> list[int]:
        if self.fd < 0:  # no socket to watch (not a TCP connection): nothing to tell
            return []
        readable, _, _ = select.select([self.fd], [], [], timeout)
        return readable


def _watch(fd: int) -> Any:
    """What tells whether anything arrived on descriptor ``fd``: its ``poll(0)`` answers."""
    if fd < 0 or not _HAS_POLL:
        return _SelectWatch(fd)
    poller = select.poll()
    poller.register(fd, _POLL_EVENTS)
    return poller


#: At most this many sets of limits of one transport share a queue with a timer kept armed.
_MAX_SHARED_LIMITS: Final = 64


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
        keepalive_timeout: float | None = DEFAULT_KEEPALIVE_TIMEOUT,
    ) -> None:
        # Built once: aiohttp 3.14 deprecates BasicAuth objects and auth=. The client
        # checked that both encode as UTF-8.
        self._headers: Final = {
            "Authorization": aiohttp.encode_basic_auth(username, password),
            "Content-Type": "application/json",
            "Accept": "application/json",
            "Accept-Encoding": _ACCEPT_ENCODING,
            "User-Agent": user_agent,
        }
        self._session = session
        self.owns_session: Final = session is None
        # A session this transport creates carries the headers as its defaults (aiohttp
        # then merges no per-request headers); a borrowed one gets them with each request.
        self._request_headers = None if session is None else self._headers
        self._max_connections = max_connections
        self._ssl: ssl.SSLContext | bool = ssl_context if ssl_context is not None else True
        self._trace_configs = list(trace_configs or ())
        self._max_response_size = max_response_size
        self._keepalive_timeout = keepalive_timeout
        self._base = yarl.URL(base_url.rstrip("/"))
        # The reusable limits handed out, by their parameters: a view made for one request
        # with the same limits as others shares their queue (see :meth:`limits`).
        self._limits: dict[tuple[float, float | None, float | None, str], Limits] = {}

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
            connector = _Connector(
                limit=self._max_connections,
                ssl=self._ssl,
                keepalive_timeout=self._keepalive_timeout,
                # aiohttp rounds limits of 5 s and more up to the next whole second.
                timeout_ceil_threshold=math.inf,
            )
            self._session = aiohttp.ClientSession(
                connector=connector,
                headers=self._headers,
                trace_configs=self._trace_configs or None,
                # Cookies could pin a session to one WsOne node; the API is stateless.
                cookie_jar=aiohttp.DummyCookieJar(),
                raise_for_status=False,
            )

    async def close(self) -> None:
        """Close the session if this transport created it; a borrowed one stays open."""
        if self.owns_session and self._session is not None and not self._session.closed:
            await self._session.close()

    def limits(
        self,
        *,
        attempt: float,
        connect: float | None,
        read: float | None,
        name: str = "attempt",
        once: bool = False,
    ) -> Limits:
        """The time limits of one attempt of at most ``attempt`` seconds.

        A read limit at or above the attempt's is not armed: it could never fire first, and
        aiohttp pays for it on every chunk received (about 6% of throughput here). ``once``
        says the limits serve a single attempt (see :class:`_Timers`). Others are shared by
        every settings (client, views) asking for the same ones: a reused queue keeps its
        timer armed after its last attempt, so one per ``with_options`` view made for a
        single request would leave a timer in the loop per request. Past
        :data:`_MAX_SHARED_LIMITS` sets of parameters, new ones serve as ``once``.
        """
        key = (attempt, connect, read, name)
        if not once:
            shared = self._limits.get(key)
            if shared is not None:
                return shared
            once = len(self._limits) >= _MAX_SHARED_LIMITS
        limits = Limits(
            attempt,
            name,
            aiohttp.ClientTimeout(
                total=None,
                connect=None if connect is None else min(connect, attempt),
                sock_read=read if read is not None and read < attempt else None,
                ceil_threshold=math.inf,
            ),
            reused=not once,
        )
        if not once:
            self._limits[key] = limits
        return limits

    async def post(self, url: yarl.URL, body: bytes, limits: Limits, operation: str) -> Reply:
        """Send one attempt of ``operation``; every failure leaves as a wsone_async error."""
        session = self._session
        if session is None or (not self.owns_session and session.closed):
            # A borrowed session its owner closed: aiohttp would raise a bare RuntimeError.
            # (A session of the transport's own closes only with the client, which refuses
            # calls from then on.)
            msg = "the aiohttp session given to WsOneClient was closed by its owner"
            raise ClientStateError(msg)
        bound = _Bound(limits.timers)
        try:
            with bound:
                # Awaited, not entered with ``async with``: the request context manager's
                # __aenter__ would be one more frame walked at every resumption of the
                # request. The ``finally`` does what its __aexit__ does.
                response = await session.post(
                    url,
                    data=body,
                    headers=self._request_headers,
                    timeout=limits.aiohttp,
                    allow_redirects=False,  # a redirected POST may turn into a GET
                    auto_decompress=False,  # decompressed below, under the size cap
                )
                try:
                    length = response.content_length
                    if length is not None and length <= self._max_response_size:
                        reply_body = await response.read()
                    else:
                        reply_body = await self._read_capped(response, length)
                    status = response.status
                    headers = response.headers
                    coding = headers.get("Content-Encoding")
                    # Only an error answer can ask for a delay; skip the lookup otherwise.
                    retry_after = headers.get("Retry-After") if status >= 300 else None
                finally:
                    response.release()
                    await response.wait_for_close()
        except aiohttp.ClientResponseError as exc:
            _raise_if_cancelled(exc, bound)
            # A malformed answer. aiohttp's error carries our request headers, which hold
            # the Authorization header: scrubbed before it is chained.
            _scrub_request_info(exc)
            msg = f"{operation}: WsOne's answer could not be read ({type(exc).__name__})"
            raise APIConnectionError(msg, request_sent=True) from exc
        except aiohttp.ConnectionTimeoutError as exc:
            _raise_if_cancelled(exc, bound)
            # No connection in time (pool full or host slow): nothing was sent.
            msg = f"{operation}: no connection to WsOne within the connect limit"
            raise APITimeoutError(msg, request_sent=False, limit="connect") from exc
        except aiohttp.ServerTimeoutError as exc:
            _raise_if_cancelled(exc, bound)
            msg = f"{operation}: WsOne went silent for longer than the read limit"
            raise APITimeoutError(msg, request_sent=True, limit="read") from exc
        except TimeoutError as exc:
            _raise_if_cancelled(exc, bound)
            # The library's own bound: the attempt's limit, or what was left of the call's.
            if bound.expired:
                which: str | None = limits.name
                msg = (
                    f"{operation}: WsOne did not answer within the {which} limit "
                    f"({limits.seconds:.3g} s)"
                )
            else:  # a timeout from below aiohttp, which named no limit
                which, msg = None, f"{operation}: WsOne did not answer in time"
            raise APITimeoutError(msg, request_sent=True, limit=which) from exc
        except aiohttp.ClientConnectorError as exc:
            _raise_if_cancelled(exc, bound)
            # Refused, unreachable, DNS or TLS set-up failure: before any byte was sent.
            msg = f"{operation}: cannot connect to WsOne ({type(exc).__name__})"
            raise APIConnectionError(msg, request_sent=False) from exc
        except ResponseTooLargeError:
            raise
        except (aiohttp.ClientError, OSError) as exc:
            _raise_if_cancelled(exc, bound)
            # Reset, disconnect, truncated or malformed answer: after the request was sent.
            msg = (
                f"{operation}: the connection to WsOne failed after sending ({type(exc).__name__})"
            )
            raise APIConnectionError(msg, request_sent=True) from exc
        if coding is not None:
            reply_body = _decompress(reply_body, coding, self._max_response_size, operation)
        return Reply(status, retry_after, reply_body)

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


class _Timers:
    """The time limits of attempts of one duration: one loop timer for all, not one each.

    An asyncio timer costs a heap insertion and a cancellation, each comparing timer handles
    in Python: on a busy client, several percent of a call. Attempts that share a duration
    end in the order they started, near enough: their deadlines, in that order, form a queue.
    One timer is armed for the oldest deadline of the queue; an attempt that ends leaves the
    queue (from its head, in the common case), and the timer, when it fires, expires the
    attempts that are due and is armed again for the next one. On a steady client it fires
    once per duration, not once per call.

    ``reused`` queues (those of a client's settings) leave their timer armed when they run
    empty, for the next call; one-off queues (an attempt shortened by the call's deadline)
    cancel it.
    """

    __slots__ = ("_entries", "_handle", "_live", "_loop", "_reused", "seconds")

    def __init__(self, seconds: float, *, reused: bool) -> None:
        self.seconds = seconds
        self._reused = reused
        self._entries: collections.deque[_Bound] = collections.deque()
        self._live = 0
        self._handle: asyncio.TimerHandle | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def add(self, bound: _Bound, loop: asyncio.AbstractEventLoop) -> float:
        """Queue ``bound``; returns its deadline on ``loop``'s clock."""
        if loop is not self._loop:
            # A client lives in one loop; a queue left by a loop that ended holds nothing
            # that can still run (an attempt closed with its loop leaves without a trace).
            for entry in self._entries:
                entry.live = False
            self._entries.clear()
            self._live = 0
            self._handle = None
            self._loop = loop
        when = loop.time() + self.seconds
        self._entries.append(bound)
        self._live += 1
        if self._handle is None:
            self._handle = loop.call_at(when, self._fire, when)
        return when

    def done(self, bound: _Bound) -> None:
        """``bound``'s attempt ended before its deadline: it leaves the queue."""
        bound.live = False
        self._live -= 1
        entries = self._entries
        if entries[0] is bound:
            entries.popleft()
            while entries and not entries[0].live:
                entries.popleft()
        elif len(entries) > 2 * self._live + 32:
            # Attempts that ended behind a slow one: dropped now and then, so the queue
            # stays as long as the attempts in flight, whatever the head does.
            self._entries = collections.deque(entry for entry in entries if entry.live)
        if self._live == 0 and not self._reused and self._handle is not None:
            self._handle.cancel()
            self._handle = None

    def _fire(self, due: float) -> None:
        self._handle = None
        loop = self._loop
        if loop is None:
            return
        # The loop runs a timer up to its clock resolution before the deadline it was armed
        # for (``asyncio.timeout`` expires then too): what is due by then expires now, or
        # the timer would be armed again for the same deadline, turn after turn.
        now = max(loop.time(), due)
        entries = self._entries
        while entries:
            head = entries[0]
            if not head.live:
                entries.popleft()
            elif head.when > now:
                self._handle = loop.call_at(head.when, self._fire, head.when)
                return
            else:
                entries.popleft()
                head.live = False
                self._live -= 1
                head.expire()


class _Bound:
    """The time limit of one attempt: ``asyncio.timeout``'s rules, for less work a call.

    When its deadline passes, it cancels the task; on the way out, the cancel it made is
    taken back (``uncancel``) and, if it is what stopped the attempt, becomes a
    :class:`TimeoutError`. A cancel of the caller's own, counted apart, stays a cancel.
    A plain ``with`` (no coroutines to enter and leave, no states to check), whose deadline
    waits in a queue of :class:`_Timers` rather than in a timer of its own.
    """

    __slots__ = ("_task", "_timers", "cancelling", "expired", "live", "when")

    def __init__(self, timers: _Timers | float) -> None:
        """Bound the current task's attempt by ``timers`` (a queue of one duration), or by a
        number of seconds, in a queue of its own."""
        loop = asyncio.get_running_loop()
        task = asyncio.current_task(loop)
        if task is None:
            msg = "a WsOne call must run inside an asyncio task"
            raise RuntimeError(msg)
        self._task = task
        #: The task's cancel count when the attempt started: a count above it on the way
        #: out is a cancel of the caller's.
        self.cancelling = task.cancelling()
        self.expired = False
        self.live = True
        if not isinstance(timers, _Timers):
            timers = _Timers(timers, reused=False)
        self._timers = timers
        self.when = timers.add(self, loop)

    def expire(self) -> None:
        """The deadline passed (called by the queue's timer)."""
        self.expired = True
        self._task.cancel()

    def __enter__(self) -> None:
        return None

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        _traceback: object,
    ) -> None:
        if self.live:
            self._timers.done(self)
        elif (
            self.expired
            and self._task.uncancel() <= self.cancelling
            and exc_type is asyncio.CancelledError
        ):
            raise TimeoutError from exc


def _raise_if_cancelled(exc: BaseException, bound: _Bound) -> None:
    # A cancel of the caller's task must leave as CancelledError, whatever a library under
    # this one made of it on the way (aiohttp's own timers once turned it into a timeout).
    # The attempt's bound has given its own cancel back by now (uncancel), so a count above
    # the one the attempt started with is the caller's; a task already being cancelled when
    # the attempt started (a call made while cleaning up) is not cancelled by its failure.
    if bound._task.cancelling() > bound.cancelling:
        raise asyncio.CancelledError from exc


def _decompress(raw: bytes, coding: str, cap: int, operation: str) -> bytes:
    """The decoded body, never more than ``cap`` bytes of it held in memory."""
    coding = coding.strip().lower()
    if coding in ("", "identity"):
        return raw
    if coding in ("gzip", "x-gzip"):
        wbits = 16 + zlib.MAX_WBITS
    elif coding == "deflate":
        # RFC 9110's deflate is zlib-wrapped; some servers send raw deflate instead.
        wbits = zlib.MAX_WBITS if raw[:1] and raw[0] & 0x0F == 8 else -zlib.MAX_WBITS
    else:
        msg = "the answer uses a Content-Encoding other than gzip or deflate, the ones asked for"
        raise ResponseDecodeError(msg, operation=operation)
    parts: list[bytes] = []
    size = 0
    data = raw
    for _ in range(_MAX_GZIP_MEMBERS):
        decompressor = zlib.decompressobj(wbits)
        try:
            part = decompressor.decompress(data, cap - size + 1)
        except zlib.error as exc:
            msg = f"the answer's {coding} body is corrupt"
            raise ResponseDecodeError(msg, operation=operation) from exc
        size += len(part)
        if size > cap:
            msg = f"{operation}: the decompressed response body is larger than {cap} bytes"
            raise ResponseTooLargeError(msg)
        parts.append(part)
        if not decompressor.eof:
            msg = f"the answer's {coding} body is cut short"
            raise ResponseDecodeError(msg, operation=operation)
        data = decompressor.unused_data
        if not data or wbits != 16 + zlib.MAX_WBITS:
            return b"".join(parts)
    msg = f"the answer's gzip body has more than {_MAX_GZIP_MEMBERS} members"
    raise ResponseDecodeError(msg, operation=operation)


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
    """Seconds to wait from a ``Retry-After`` header: delay-seconds or an HTTP date.

    Anything else, including a date no calendar can hold, reads as no ``Retry-After``.
    """
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
        if when.tzinfo is None:
            when = when.replace(tzinfo=dt.UTC)
        now = now or dt.datetime.now(dt.UTC)
        return max(0.0, (when - now).total_seconds())
    except (TypeError, ValueError, IndexError, OverflowError):
        # OverflowError: a year such as 99999999999 passes the parser, not datetime.
        return None


_AUTH_STATUSES: Final = frozenset({401, 403})

# Response model -> the wire names of the blocks it holds (PersonResponse, ...).
_BLOCKS: dict[type[Any], frozenset[str]] = {}


def _known_blocks(cls: type[Any]) -> frozenset[str]:
    try:
        return _BLOCKS[cls]
    except KeyError:
        pass
    blocks = _BLOCKS[cls] = frozenset(
        key for key, field in wire_schema(cls).items() if field.model is not None
    )
    return blocks


def decode_reply(
    reply: Reply,
    response_type: type[M],
    *,
    operation: str,
    write: bool = False,
    error_class: Any = error_class_for,
    debug: bool | None = None,
) -> M:
    """Turn a reply into the response model, or raise the error it stands for.

    An answer to a write (``write=True``) is a success only with ``responseCode`` ``"000"``:
    without one, nothing says WsOne applied it, and the :class:`ResponseDecodeError` raised
    makes the write's outcome unknown. A read's answer without ``responseCode`` is taken
    when it holds at least one block its model knows (as the vendor's getFullPerson
    example does); otherwise it is not a WsOne answer (``{}``, a proxy's
    ``{"message": ...}``) and the error has no path, so the read is retried.

    ``error_class`` maps a ``responseCode`` to its :class:`~wsone_async.errors.APIError`
    class (the global registry by default). ``debug`` says whether the answer is logged at
    DEBUG; None asks the logger.
    """
    # _check_status, written out: every answer comes this way, one Python call less.
    status = reply.status
    if not _HTTP_OK_FIRST <= status <= _HTTP_OK_LAST:
        raise _status_error(status, reply.retry_after, operation)
    data = _opened(
        decode_json(reply.body, operation=operation),
        response_type,
        operation,
        write,
        error_class,
        debug,
    )
    try:
        return from_wire(response_type, data)
    except ResponseDecodeError as exc:
        raise _named(exc, operation) from exc


def decode_reply_in_steps(
    reply: Reply,
    response_type: type[M],
    *,
    operation: str,
    write: bool = False,
    error_class: Any = error_class_for,
) -> Generator[None, None, M]:
    """:func:`decode_reply` as a generator that yields between steps of the decoding.

    The body is parsed in steps (:func:`~wsone_async._codec.parse_in_steps`), then decoded
    in steps (:func:`~wsone_async._codec.decode_in_steps`); the caller runs other work in
    between.
    """
    _check_status(reply, operation)
    data = yield from parse_in_steps(response_type, reply.body, operation=operation)
    data = _opened(data, response_type, operation, write, error_class, None)
    yield
    steps = decode_in_steps(
        response_type, data, lambda: decode_json(reply.body, operation=operation)
    )
    del data  # the steps let go of the parsed body slice by slice: nothing else may hold it
    try:
        return (yield from steps)
    except ResponseDecodeError as exc:
        raise _named(exc, operation) from exc


def _named(exc: ResponseDecodeError, operation: str) -> ResponseDecodeError:
    """The codec's refusal ``exc`` again, naming the operation; its path stays."""
    return ResponseDecodeError(str(exc), path=exc.path, operation=operation)


def _check_status(reply: Reply, operation: str) -> None:
    """Raise what the answer's HTTP status means, unless it is a success (as decode_reply)."""
    status = reply.status
    if not _HTTP_OK_FIRST <= status <= _HTTP_OK_LAST:
        raise _status_error(status, reply.retry_after, operation)


def _opened(
    data: Any,
    response_type: type[Any],
    operation: str,
    write: bool,
    error_class: Any,
    debug: bool | None,
) -> dict[str, Any]:
    """The parsed answer ``data``, once its ``responseCode`` says it is a success; logged
    at DEBUG if ``debug`` says so (None asks the logger)."""
    if debug if debug is not None else logger.isEnabledFor(logging.DEBUG):
        logger.debug("%s answer: %s", operation, redact_wire(data, response_type))
    if type(data) is not dict:
        msg = f"the answer is a JSON {type(data).__name__}, not an object"
        raise ResponseDecodeError(msg, path="$", operation=operation)
    code = data.get("responseCode")
    if code != SUCCESS:
        _check_unsuccessful(data, code, response_type, operation, write, error_class)
    return data


def _check_unsuccessful(
    data: dict[str, Any],
    code: object,
    response_type: type[Any],
    operation: str,
    write: bool,
    error_class: Any,
) -> None:
    """Raise what an answer without ``responseCode`` ``"000"`` means, unless it is a read's
    answer that names no code but holds a known block."""
    if code is None:
        if write:
            msg = "the answer to a write has no responseCode: nothing says it was applied"
            raise ResponseDecodeError(msg, path="$.responseCode", operation=operation)
        if not _known_blocks(response_type).isdisjoint(data):
            return
        msg = f"the answer has no responseCode and none of the blocks {operation} answers with"
        raise ResponseDecodeError(msg, operation=operation)
    if isinstance(code, bool) or not isinstance(code, str | int):
        msg = "the answer's responseCode is neither a string nor a number"
        raise ResponseDecodeError(msg, path="$.responseCode", operation=operation)
    code_text = str(code).strip()
    if not code_text or code_text.strip("0") == "":
        # 0, "0", " 000 ": a success spelled otherwise, or not; a write's outcome is unknown.
        msg = "the answer's responseCode is zero but not the string '000'"
        raise ResponseDecodeError(msg, path="$.responseCode", operation=operation)
    infos = data.get("infos")
    raise error_class(code_text)(
        code_text, infos if isinstance(infos, str) else None, operation=operation
    )


def _status_error(status: int, retry_after_header: str | None, operation: str) -> HTTPStatusError:
    retry_after = parse_retry_after(retry_after_header)
    if status in _AUTH_STATUSES:
        return AuthenticationError(status, operation=operation)
    if status == 429:
        return RateLimitError(status, operation=operation, retry_after=retry_after)
    if status >= 500:
        return ServerError(status, operation=operation, retry_after=retry_after)
    return HTTPStatusError(status, operation=operation, retry_after=retry_after)
