"""The WsOne client: an async session manager with one typed method per operation.

The client owns its settings and life cycle (this module); the path of each call (attempt,
retry, settlement) is :class:`~wsone_async._pipeline.CallPipeline`, its base class.

Example:
    A client is opened once and shared; every call takes the operation's request model and
    returns its response model::

        from wsone_async import WsOneClient
        from wsone_async.models import GetPersonRequest, IdentifierRequest, IdentifierType

        async with WsOneClient(
            "https://loyalty.example.fr", username="api-user", password=secret
        ) as client:
            answer = await client.get_person(
                GetPersonRequest(
                    identifier_request=IdentifierRequest(
                        identifier_type=IdentifierType.CARD, identifier_value="1234567891011"
                    )
                )
            )
"""

from __future__ import annotations

import asyncio
import inspect
import ipaddress
import logging
import os
import ssl
import sys
import urllib.parse
import warnings
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Mapping
from types import MappingProxyType
from typing import Any, Final, Self, TypeVar

from wsone_async import _telemetry
from wsone_async import models as m
from wsone_async import operations as ops
from wsone_async._config import (
    BASE_URL_ENV,
    NOT_PASSED,
    PASSWORD_ENV,
    USER_ENV,
    NotPassed,
    RetryPolicy,
    Timeouts,
)
from wsone_async._drift import DriftMonitor
from wsone_async._pipeline import AttemptInfo, CallPipeline, CallResult, _Hooks, _Settings, _Shared
from wsone_async._retry import BudgetState
from wsone_async._transport import (
    DEFAULT_KEEPALIVE_TIMEOUT,
    ClientSession,
    TraceConfig,
    Transport,
)
from wsone_async._version import __version__
from wsone_async.errors import APIError, ClientStateError, _check_registration, error_class_for
from wsone_async.operations import Service
from wsone_async.settlement import DEFAULT_SETTLERS, Settler, find_person

__all__ = ["AttemptInfo", "CallResult", "WsOneClient", "find_person"]

logger = logging.getLogger("wsone_async")

DEFAULT_PERSON_PATH: Final = "/rest/2.0/personWebService"
DEFAULT_TRANSACTION_PATH: Final = "/rest/2.0/transactionWebService"
DEFAULT_MAX_RESPONSE_SIZE: Final = 16 * 1024 * 1024
#: Off: every answer is decoded on the event loop. Measured (benchmarks/loop_lag.py), a
#: decode in a thread keeps each callback of the loop short but does not shorten what the
#: other requests wait: under the GIL, the loop's thread gives the GIL away at each of its
#: many system calls and waits up to a switch interval to get it back while the decoding
#: thread runs (the convoy effect), and the collector's passes hold it whichever thread runs
#: them. It is worth turning on where the GIL does not bind (free-threaded builds) or where
#: the loop's own callback durations are what is watched.
DEFAULT_DECODE_IN_THREAD_ABOVE: Final[int | None] = None

#: Answers longer than this (in bytes, after decompression) are decoded in steps on the
#: event loop: parsed 64 KiB of whole blocks at a time (about 0.1 ms each), then decoded
#: in slices of 128 blocks of their long lists (about 0.3 ms each), with a turn of the loop
#: between two steps, so that one large answer (a getFullPerson with thousands of offers)
#: does not hold the loop while the other requests wait. 128 KiB is about 300 offers: below
#: it, a whole decode takes about a millisecond.
DEFAULT_DECODE_IN_STEPS_ABOVE: Final[int | None] = 131072


_Method = TypeVar("_Method", bound=Callable[..., Any])


def _coroutine_function(method: _Method) -> _Method:
    """Mark a plain method returning a coroutine as a coroutine function.

    The typed methods return :meth:`_run`'s coroutine instead of awaiting it in a coroutine
    of their own: an extra frame would be walked again at every resumption of the call.
    The mark keeps them what they were for introspection, so that
    ``unittest.mock.create_autospec(WsOneClient)`` still makes them ``AsyncMock`` objects:
    :func:`inspect.markcoroutinefunction` from Python 3.12 (what ``inspect`` and
    ``unittest.mock`` read); on 3.11 ``unittest.mock`` reads
    :func:`asyncio.iscoroutinefunction`, which honours the ``_is_coroutine`` marker.
    """
    if sys.version_info >= (3, 12):
        return inspect.markcoroutinefunction(method)
    method._is_coroutine = asyncio.coroutines._is_coroutine  # type: ignore[attr-defined]
    return method


def _is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _check_base_url(base_url: object, *, allow_insecure_http: bool) -> str:
    # Messages never repeat the URL: it might carry credentials.
    if not isinstance(base_url, str):
        msg = f"base_url must be a str, got {type(base_url).__name__}"
        raise TypeError(msg)
    parts = urllib.parse.urlsplit(base_url)
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not parts.hostname:
        msg = "base_url must be an absolute http(s) URL, such as 'https://loyalty.example.fr'"
        raise ValueError(msg)
    if parts.username is not None or parts.password is not None:
        msg = "base_url must not carry credentials: pass username= and password="
        raise ValueError(msg)
    if parts.query or parts.fragment:
        msg = "base_url must not have a query or a fragment"
        raise ValueError(msg)
    if scheme == "http" and not allow_insecure_http and not _is_loopback(parts.hostname):
        msg = (
            "plain http would send the Basic auth password in clear: use https, or pass "
            "allow_insecure_http=True for a trusted network"
        )
        raise ValueError(msg)
    return base_url.rstrip("/")


def _utf8_encodable(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _check_encodable(username: str, password: str) -> None:
    # os.environ hands over a byte that is not UTF-8 as a lone surrogate, which cannot be
    # sent. The encoder's own error quotes the value: the ValueError is raised outside its
    # handler, so that it neither chains nor keeps it as __context__.
    for name, value in (("username", username), ("password", password)):
        if not _utf8_encodable(value):
            msg = (
                f"the {name} cannot be encoded as UTF-8 (it holds a lone surrogate, as "
                "os.environ gives for a byte that is not UTF-8); set it from valid text"
            )
            raise ValueError(msg)


def _check_policy(retry: object) -> RetryPolicy:
    if isinstance(retry, NotPassed):
        return RetryPolicy()
    if not isinstance(retry, RetryPolicy):
        msg = f"retry must be a RetryPolicy, got {type(retry).__name__}"
        raise TypeError(msg)
    return retry


def _check_path(name: str, path: str) -> str:
    if not isinstance(path, str) or not path.startswith("/"):
        msg = f"{name} must be a path starting with '/', such as '/rest/2.0/personWebService'"
        raise ValueError(msg)
    return path.rstrip("/")


def _check_settlers(settlers: Mapping[str, Settler | None] | None) -> Mapping[str, Settler]:
    table = dict(DEFAULT_SETTLERS)
    for name, settler in (settlers or {}).items():
        try:
            operation = ops.by_name(name)
        except KeyError:
            msg = f"settlers: unknown WsOne operation {name!r}"
            raise ValueError(msg) from None
        if not operation.is_write:
            msg = f"settlers: {name} is a read; only writes are settled"
            raise ValueError(msg)
        if settler is None:
            table.pop(name, None)  # this write's outcome stays unknown
        elif not callable(settler) or not isinstance(getattr(settler, "lookup", None), str):
            msg = f"settlers: {name} needs a Settler (a 'lookup' name and an async __call__)"
            raise TypeError(msg)
        else:
            table[name] = settler
    return MappingProxyType(table)


def _check_codes(codes: Mapping[str, type[APIError]] | None) -> Callable[[str], type[APIError]]:
    if codes is None:
        return error_class_for  # the process-wide registry
    table = dict(codes)
    for code, cls in table.items():
        _check_registration(code, cls)

    def error_class(code: str) -> type[APIError]:
        return table.get(code, APIError)

    return error_class


class WsOneClient(CallPipeline):
    """An asyncio client for WsOne: connection pooling, Basic auth, safe retries.

    Open it once (``async with``, or let the first call open it) and share it between
    tasks: it pools up to ``max_connections`` connections. Each of WsOne's 29 operations is
    a method named as the operation in snake_case, taking the operation's request model and
    returning its response model; :meth:`call_with_metadata` also says how many attempts a
    call took and whether it was settled by a lookup.

    Retries follow the operation: reads are retried after transient failures; writes only
    when WsOne provably never received them, and otherwise raise
    :class:`~wsone_async.errors.OutcomeUnknownError` rather than risk a duplicate.

    Args:
        base_url: the retailer's WsOne root, such as ``"https://loyalty.example.fr"``; it may
            carry a path prefix. Plain ``http://`` is refused unless the host is loopback or
            ``allow_insecure_http`` is True, because Basic auth sends the password.
        username: the API user.
        password: the API password; it appears in no repr, message or log.
        timeout: :class:`Timeouts`, or a number of seconds per attempt. ``None`` is refused.
        retry: the :class:`RetryPolicy`.
        max_connections: the most connections open at once (and so requests in flight).
        session: an ``aiohttp.ClientSession`` to use instead of creating one; the client
            never closes it, and ``max_connections``, ``ssl_context``, ``trace_configs`` and
            ``keepalive_timeout`` do not apply to it.
        allow_insecure_http: allow ``http://`` to a host that is not loopback.
        person_path: the path prefix of WS Person.
        transaction_path: the path prefix of WS Transaction (not documented by the vendor).
        ssl_context: the TLS settings, such as a private CA; certificates are always
            verified by default.
        trace_configs: ``aiohttp.TraceConfig`` objects for the session the client creates.
        on_attempt: called after every attempt with an :class:`AttemptInfo`, for metrics.
        max_response_size: answers with a larger body raise ``ResponseTooLargeError``; the
            cap counts decoded bytes, so a compressed answer cannot exceed it either.
        keepalive_timeout: seconds an idle pooled connection is kept (4 by default, below
            the 5 s idle timeout of common servers and proxies, so the client drops a
            connection before the server closes it); None keeps it until the server closes
            it.
        settlers: operation name -> :class:`~wsone_async.settlement.Settler`, replacing or
            adding to :data:`~wsone_async.settlement.DEFAULT_SETTLERS` (``None`` removes
            one); used with ``RetryPolicy(reconcile_writes=True)``.
        codes: responseCode -> :class:`~wsone_async.errors.APIError` subclass, for this
            client only; by default the process-wide ``register_error_code`` registry.
        telemetry: report OpenTelemetry spans and metrics when ``opentelemetry-api`` is
            installed (``pip install wsone_async[otel]``); False turns them off.
        drift: notice answers that differ from the models (keys they do not declare,
            values of another JSON type), log the first of each once and count them in
            :attr:`drift`; False turns it off.
        decode_in_thread_above: answers with a longer body (in bytes, after
            decompression) are decoded in a worker thread instead of on the event loop, so
            that no callback of the loop runs long on a large answer (a getFullPerson with
            thousands of offers); shorter ones are decoded inline, which is cheaper. None
            (the default) decodes every answer inline: under the GIL the thread does not
            shorten what other requests wait (see the README's Performance section); 0
            sends every answer to the thread; 131072 (128 KiB: about 300 offers, about 1 ms
            to decode) keeps ordinary answers inline. It takes precedence over
            ``decode_in_steps_above``.
        decode_in_steps_above: answers with a longer body (128 KiB by default) are decoded
            on the event loop in steps, with a turn of the loop between two: the body is
            parsed 64 KiB of whole blocks at a time, then decoded 128 blocks of its long
            lists at a time (about 0.3 ms each). Other requests then wait one step, not the
            whole answer (a 5,000-offer getFullPerson held the loop 25 to 50 ms at once).
            None decodes every answer at once.

    Example:
        >>> import asyncio
        >>> async def main() -> str:
        ...     async with WsOneClient("https://loyalty.example.fr", username="u",
        ...                            password="secret") as client:
        ...         return repr(client)
        >>> asyncio.run(main())
        "WsOneClient(base_url='https://loyalty.example.fr', username='u', state='open')"
    """

    def __init__(
        self,
        base_url: str,
        *,
        username: str,
        password: str,
        timeout: Timeouts | float | NotPassed = NOT_PASSED,
        retry: RetryPolicy | NotPassed = NOT_PASSED,
        max_connections: int = 100,
        session: ClientSession | None = None,
        allow_insecure_http: bool = False,
        person_path: str = DEFAULT_PERSON_PATH,
        transaction_path: str = DEFAULT_TRANSACTION_PATH,
        ssl_context: ssl.SSLContext | None = None,
        trace_configs: Iterable[TraceConfig] | None = None,
        on_attempt: Callable[[AttemptInfo], None] | None = None,
        max_response_size: int = DEFAULT_MAX_RESPONSE_SIZE,
        keepalive_timeout: float | None = DEFAULT_KEEPALIVE_TIMEOUT,
        settlers: Mapping[str, Settler | None] | None = None,
        codes: Mapping[str, type[APIError]] | None = None,
        telemetry: bool = True,
        drift: bool = True,
        decode_in_thread_above: int | None = DEFAULT_DECODE_IN_THREAD_ABOVE,
        decode_in_steps_above: int | None = DEFAULT_DECODE_IN_STEPS_ABOVE,
    ) -> None:
        base = _check_base_url(base_url, allow_insecure_http=allow_insecure_http)
        for name, value in (("username", username), ("password", password)):
            if not isinstance(value, str) or not value:
                msg = f"{name} must be a non-empty str"
                raise ValueError(msg)
        if ":" in username:
            msg = "username cannot contain ':' (HTTP Basic auth separates it from the password)"
            raise ValueError(msg)
        _check_encodable(username, password)
        for name, number in (
            ("max_connections", max_connections),
            ("max_response_size", max_response_size),
        ):
            if isinstance(number, bool) or not isinstance(number, int) or number < 1:
                msg = f"{name} must be a positive int"
                raise ValueError(msg)
        if keepalive_timeout is not None and (
            isinstance(keepalive_timeout, bool)
            or not isinstance(keepalive_timeout, int | float)
            or not 0 < keepalive_timeout < float("inf")
        ):
            msg = "keepalive_timeout must be a positive number of seconds, or None"
            raise ValueError(msg)
        for name, size in (
            ("decode_in_thread_above", decode_in_thread_above),
            ("decode_in_steps_above", decode_in_steps_above),
        ):
            if size is not None and (
                isinstance(size, bool) or not isinstance(size, int) or size < 0
            ):
                msg = f"{name} must be a number of bytes (an int >= 0), or None"
                raise ValueError(msg)
        policy = _check_policy(retry)
        transport = Transport(
            base_url=base,
            username=username,
            password=password,
            session=session,
            max_connections=max_connections,
            ssl_context=ssl_context,
            trace_configs=trace_configs,
            max_response_size=max_response_size,
            user_agent=f"wsone_async/{__version__}",
            keepalive_timeout=keepalive_timeout,
        )
        paths = {
            Service.PERSON: _check_path("person_path", person_path),
            Service.TRANSACTION: _check_path("transaction_path", transaction_path),
        }
        urls = {op.name: transport.url(f"{paths[op.service]}/{op.name}") for op in ops.OPERATIONS}
        budget = BudgetState(policy.budget) if policy.budget is not None else None
        parts = urllib.parse.urlsplit(base)
        observer = _telemetry.observer_for(enabled=telemetry, host=parts.hostname, port=parts.port)
        self._bind(
            _Shared(
                transport,
                budget,
                base,
                username,
                urls,
                DriftMonitor(enabled=drift),
                decode_in_thread_above=decode_in_thread_above,
                decode_in_steps_above=decode_in_steps_above,
            ),
            _Settings.build(
                transport,
                timeouts=Timeouts.coerce(timeout),
                policy=policy,
                on_attempt=on_attempt,
                settlers=_check_settlers(settlers),
                error_class=_check_codes(codes),
                hooks=_Hooks(observer=observer),
            ),
            is_view=False,
        )

    @classmethod
    def _with_hooks(
        cls,
        *args: Any,
        sleep: Callable[[float], Awaitable[None]] | None = None,
        clock: Callable[[], float] | None = None,
        random: Callable[[], float] | None = None,
        observer: Any = None,
        **kwargs: Any,
    ) -> WsOneClient:
        """A client whose waits, clock, randomness or observer are replaced (tests, tracing).

        Kept out of ``__init__``: no user needs them in ``help()``.
        """
        client = cls(*args, **kwargs)
        defaults = _Hooks()
        hooks = _Hooks(
            sleep=defaults.sleep if sleep is None else sleep,
            clock=defaults.clock if clock is None else clock,
            random=defaults.random if random is None else random,
            observer=client._settings.hooks.observer if observer is None else observer,
        )
        client._bind(
            client._shared,
            client._settings.rebuilt(client._shared.transport, hooks=hooks),
            is_view=False,
        )
        return client

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **options: Any) -> WsOneClient:
        """A client for the WsOne named by ``WSONE_BASE_URL``, ``WSONE_USER``, ``WSONE_PASSWORD``.

        Args:
            environ: where to read the three variables; ``os.environ`` when None.
            **options: any other argument of :class:`WsOneClient` (``timeout=``, ...).

        Raises:
            ValueError: a variable is missing or empty; the message names every one.

        Example:
            >>> env = {"WSONE_BASE_URL": "https://loyalty.example.fr", "WSONE_USER": "u",
            ...        "WSONE_PASSWORD": "secret"}
            >>> WsOneClient.from_env(env, timeout=Timeouts(total=5))
            WsOneClient(base_url='https://loyalty.example.fr', username='u', state='not opened')
            >>> WsOneClient.from_env({"WSONE_USER": "u"})
            Traceback (most recent call last):
            ValueError: cannot create a WsOneClient ...: WSONE_BASE_URL, WSONE_PASSWORD not set
        """
        source = os.environ if environ is None else environ
        names = (BASE_URL_ENV, USER_ENV, PASSWORD_ENV)
        missing = [name for name in names if not source.get(name)]
        if missing:
            msg = f"cannot create a WsOneClient from the environment: {', '.join(missing)} not set"
            raise ValueError(msg)
        base_url, username, password = (source[name] for name in names)
        return cls(base_url, username=username, password=password, **options)

    # ------------------------------------------------------------------ life cycle

    async def __aenter__(self) -> WsOneClient:
        self._ready()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the client and the session it created (a session passed in stays open).

        Calls made afterwards raise :class:`~wsone_async.errors.ClientClosedError`; a closed
        client cannot be reopened. Closing a ``with_options`` view does nothing: close the
        client it came from.
        """
        shared = self._shared
        if self._is_view or shared.closed:
            return
        if shared.loop is not None and shared.loop is not asyncio.get_running_loop():
            msg = "close this WsOneClient in the event loop that opened it"
            raise ClientStateError(msg)
        shared.closed = True
        await shared.transport.close()

    @property
    def closed(self) -> bool:
        """Whether the client was closed."""
        return self._shared.closed

    @property
    def timeouts(self) -> Timeouts:
        """The time limits of this client (or view)."""
        return self._settings.timeouts

    @property
    def max_connections(self) -> int:
        """The most connections the client's pool opens at once (so requests in flight).

        With a ``session`` of your own, that session's connector sets the real limit.
        """
        return self._shared.transport._max_connections

    @property
    def retry_policy(self) -> RetryPolicy:
        """The retry policy of this client (or view)."""
        return self._settings.policy

    @property
    def on_attempt(self) -> Callable[[AttemptInfo], None] | None:
        """The hook called after every attempt, if any."""
        return self._settings.on_attempt

    @property
    def drift(self) -> DriftMonitor:
        """What answers differed from the models so far: ``drift.counts``, ``drift.report()``.

        Shared by the client and its views; see :class:`~wsone_async._drift.DriftMonitor`.
        """
        return self._shared.drift

    @property
    def settlers(self) -> Mapping[str, Settler]:
        """Operation name -> the settler of its ambiguous failures (read-only)."""
        return self._settings.settlers

    def __repr__(self) -> str:
        shared = self._shared
        state = "closed" if shared.closed else "open" if shared.loop is not None else "not opened"
        view = ", view=True" if self._is_view else ""
        return (
            f"{type(self).__name__}(base_url={shared.base_url!r}, "
            f"username={shared.username!r}, state={state!r}{view})"
        )

    def __del__(self) -> None:
        # Only a warning: closing needs the event loop, which may be gone by now.
        shared = getattr(self, "_shared", None)
        if shared is None or getattr(self, "_is_view", True) or shared.closed:
            return
        session = shared.transport.session
        if shared.transport.owns_session and session is not None and not session.closed:
            warnings.warn(
                f"unclosed {self!r}: use 'async with WsOneClient(...)' or 'await client.aclose()'",
                ResourceWarning,
                stacklevel=1,
                source=self,
            )

    def with_options(
        self,
        *,
        timeout: Timeouts | float | NotPassed = NOT_PASSED,
        retry: RetryPolicy | NotPassed = NOT_PASSED,
        on_attempt: Callable[[AttemptInfo], None] | NotPassed | None = NOT_PASSED,
    ) -> Self:
        """A view of this client with other time limits, retry policy or attempt hook.

        The view shares the client's session, connection pool and retry budget; closing
        the client closes it too. It is of the client's own class (a subclass stays one).

        Example:
            >>> from wsone_async import RetryPolicy
            >>> client = WsOneClient("https://loyalty.example.fr", username="u", password="p")
            >>> view = client.with_options(retry=RetryPolicy(max_retries=0))
            >>> view.closed, repr(view).endswith("view=True)")
            (False, True)
        """
        changes: dict[str, Any] = {}
        if not isinstance(timeout, NotPassed):
            changes["timeouts"] = Timeouts.coerce(timeout)
        if not isinstance(retry, NotPassed):
            changes["policy"] = _check_policy(retry)
        if not isinstance(on_attempt, NotPassed):
            changes["on_attempt"] = on_attempt
        return self._derive(**changes)

    # ------------------------------------------------------------ the 29 operations

    @_coroutine_function
    def create_person_and_identifier(
        self, request: m.CreatePersonAndIdentifierRequest
    ) -> Coroutine[Any, Any, m.CreatePersonAndIdentifierResponse]:
        """createPersonAndIdentifier (write).

        Create a customer and a loyalty card in one call (shape inferred from createPerson).
        """
        return self._run(ops.CREATE_PERSON_AND_IDENTIFIER, request, False)

    @_coroutine_function
    def create_person(
        self, request: m.CreatePersonRequest
    ) -> Coroutine[Any, Any, m.CreatePersonResponse]:
        """createPerson (write).

        Create a customer with a given identifier, without a loyalty card (documented).
        """
        return self._run(ops.CREATE_PERSON, request, False)

    @_coroutine_function
    def create_identifier(
        self, request: m.CreateIdentifierRequest
    ) -> Coroutine[Any, Any, m.CreateIdentifierResponse]:
        """createIdentifier (write).

        Generate a dematerialised card for an existing customer (documented).
        """
        return self._run(ops.CREATE_IDENTIFIER, request, False)

    @_coroutine_function
    def associate_new_identifier(
        self, request: m.AssociateNewIdentifierRequest
    ) -> Coroutine[Any, Any, m.AssociateNewIdentifierResponse]:
        """associateNewIdentifier (write).

        Add a new identifier, such as a web account, to a customer (shape inferred).
        """
        return self._run(ops.ASSOCIATE_NEW_IDENTIFIER, request, False)

    @_coroutine_function
    def associate_identifier(
        self, request: m.AssociateIdentifierRequest
    ) -> Coroutine[Any, Any, m.AssociateIdentifierResponse]:
        """associateIdentifier (write).

        Attach an identifier that already exists, such as a pre-printed card (shape inferred).
        """
        return self._run(ops.ASSOCIATE_IDENTIFIER, request, False)

    @_coroutine_function
    def replace_identifier(
        self, request: m.ReplaceIdentifierRequest
    ) -> Coroutine[Any, Any, m.ReplaceIdentifierResponse]:
        """replaceIdentifier (write).

        Replace an identifier, such as a lost card, by a new one (shape inferred).
        """
        return self._run(ops.REPLACE_IDENTIFIER, request, False)

    @_coroutine_function
    def get_person(self, request: m.GetPersonRequest) -> Coroutine[Any, Any, m.GetPersonResponse]:
        """getPerson (read): find one customer by identifier (shape inferred from the workflows)."""
        return self._run(ops.GET_PERSON, request, False)

    @_coroutine_function
    def search_person(
        self, request: m.SearchPersonRequest
    ) -> Coroutine[Any, Any, m.SearchPersonResponse]:
        """searchPerson (read).

        Search customers by personal data (shape inferred from the workflows).
        """
        return self._run(ops.SEARCH_PERSON, request, False)

    @_coroutine_function
    def get_accounts(
        self, request: m.GetAccountsRequest
    ) -> Coroutine[Any, Any, m.GetAccountsResponse]:
        """getAccounts (read): get a customer's accounts (points, visits) (shape inferred)."""
        return self._run(ops.GET_ACCOUNTS, request, False)

    @_coroutine_function
    def get_full_person(
        self, request: m.GetFullPersonRequest
    ) -> Coroutine[Any, Any, m.GetFullPersonResponse]:
        """getFullPerson (read).

        Get a customer's data, balances and usable offers in one call (documented).
        """
        return self._run(ops.GET_FULL_PERSON, request, False)

    @_coroutine_function
    def search_person_lite(
        self, request: m.SearchPersonLiteRequest
    ) -> Coroutine[Any, Any, m.SearchPersonLiteResponse]:
        """searchPersonLite (read).

        Search customers by personal data, lighter answer (shape inferred).
        """
        return self._run(ops.SEARCH_PERSON_LITE, request, False)

    @_coroutine_function
    def get_badge(self, request: m.GetBadgeRequest) -> Coroutine[Any, Any, m.GetBadgeResponse]:
        """getBadge (read): get a customer's badges (shape inferred)."""
        return self._run(ops.GET_BADGE, request, False)

    @_coroutine_function
    def update_person(
        self, request: m.UpdatePersonRequest
    ) -> Coroutine[Any, Any, m.UpdatePersonResponse]:
        """updatePerson (write).

        Update a customer found by identifier (shape inferred from the workflows).
        """
        return self._run(ops.UPDATE_PERSON, request, False)

    @_coroutine_function
    def get_available_offers(
        self, request: m.GetAvailableOffersRequest
    ) -> Coroutine[Any, Any, m.GetAvailableOffersResponse]:
        """getAvailableOffers (read): get the offers a customer can receive (shape inferred)."""
        return self._run(ops.GET_AVAILABLE_OFFERS, request, False)

    @_coroutine_function
    def get_enable_offers(
        self, request: m.GetEnableOffersRequest
    ) -> Coroutine[Any, Any, m.GetEnableOffersResponse]:
        """getEnableOffers (read): get the offers a customer can use now (shape inferred)."""
        return self._run(ops.GET_ENABLE_OFFERS, request, False)

    @_coroutine_function
    def edit_offer(self, request: m.EditOfferRequest) -> Coroutine[Any, Any, m.EditOfferResponse]:
        """editOffer (write): mark a customer's offer used or unused (shape inferred)."""
        return self._run(ops.EDIT_OFFER, request, False)

    @_coroutine_function
    def get_form(self, request: m.GetFormRequest) -> Coroutine[Any, Any, m.GetFormResponse]:
        """getForm (read): get a form with a customer's answers (shape inferred)."""
        return self._run(ops.GET_FORM, request, False)

    @_coroutine_function
    def update_form(
        self, request: m.UpdateFormRequest
    ) -> Coroutine[Any, Any, m.UpdateFormResponse]:
        """updateForm (write).

        Record a customer's answers to a form (shape inferred from ``FormAnsweredRequest``).
        """
        return self._run(ops.UPDATE_FORM, request, False)

    @_coroutine_function
    def get_entities(
        self, request: m.GetEntitiesRequest
    ) -> Coroutine[Any, Any, m.GetEntitiesResponse]:
        """getEntities (read).

        List the stores (entities), or those under one entity (shape inferred).
        """
        return self._run(ops.GET_ENTITIES, request, False)

    @_coroutine_function
    def get_entity_parents(
        self, request: m.GetEntityParentsRequest
    ) -> Coroutine[Any, Any, m.GetEntityParentsResponse]:
        """getEntityParents (read).

        List the entities above one, up to the root of the network (shape inferred).
        """
        return self._run(ops.GET_ENTITY_PARENTS, request, False)

    @_coroutine_function
    def send_transaction(
        self, request: m.SendTransactionRequest
    ) -> Coroutine[Any, Any, m.SendTransactionResponse]:
        """sendTransaction (write).

        Record a receipt for a customer, to validate later (shape inferred).
        """
        return self._run(ops.SEND_TRANSACTION, request, False)

    @_coroutine_function
    def valid_transaction(
        self, request: m.ValidTransactionRequest
    ) -> Coroutine[Any, Any, m.ValidTransactionResponse]:
        """validTransaction (write).

        Validate a sent receipt, which credits its points (shape inferred).
        """
        return self._run(ops.VALID_TRANSACTION, request, False)

    @_coroutine_function
    def send_and_valid_transaction(
        self, request: m.SendAndValidTransactionRequest
    ) -> Coroutine[Any, Any, m.SendAndValidTransactionResponse]:
        """sendAndValidTransaction (write).

        Record and validate a receipt in one call (shape inferred).
        """
        return self._run(ops.SEND_AND_VALID_TRANSACTION, request, False)

    @_coroutine_function
    def send_and_valid_full_transaction(
        self, request: m.SendAndValidFullTransactionRequest
    ) -> Coroutine[Any, Any, m.SendAndValidFullTransactionResponse]:
        """sendAndValidFullTransaction (write).

        Record and validate a receipt with the customer's profile (shape inferred).
        """
        return self._run(ops.SEND_AND_VALID_FULL_TRANSACTION, request, False)

    @_coroutine_function
    def verify_transaction(
        self, request: m.VerifyTransactionRequest
    ) -> Coroutine[Any, Any, m.VerifyTransactionResponse]:
        """verifyTransaction (read).

        Ask whether a receipt was recorded, by its store and number (shape inferred).
        """
        return self._run(ops.VERIFY_TRANSACTION, request, False)

    @_coroutine_function
    def cancel_transactions_not_validated(
        self, request: m.CancelTransactionsNotValidatedRequest
    ) -> Coroutine[Any, Any, m.CancelTransactionsNotValidatedResponse]:
        """cancelTransactionsNotValidated (write).

        Cancel a customer's receipts that were sent but never validated (shape inferred).
        """
        return self._run(ops.CANCEL_TRANSACTIONS_NOT_VALIDATED, request, False)

    @_coroutine_function
    def send_simple_transaction(
        self, request: m.SendSimpleTransactionRequest
    ) -> Coroutine[Any, Any, m.SendSimpleTransactionResponse]:
        """sendSimpleTransaction (write).

        Record and validate a receipt given by its amount only, without lines (shape inferred).
        """
        return self._run(ops.SEND_SIMPLE_TRANSACTION, request, False)

    @_coroutine_function
    def refund_transaction(
        self, request: m.RefundTransactionRequest
    ) -> Coroutine[Any, Any, m.RefundTransactionResponse]:
        """refundTransaction (write).

        Refund a validated receipt, which takes its points back (shape inferred).
        """
        return self._run(ops.REFUND_TRANSACTION, request, False)

    @_coroutine_function
    def get_last_transaction(
        self, request: m.GetLastTransactionRequest
    ) -> Coroutine[Any, Any, m.GetLastTransactionResponse]:
        """getLastTransaction (read): get a customer's most recent transaction (shape inferred)."""
        return self._run(ops.GET_LAST_TRANSACTION, request, False)
