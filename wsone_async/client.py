"""The WsOne client: an async session manager with one typed method per operation.

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
import ipaddress
import logging
import random as random_module
import ssl
import time
import urllib.parse
import warnings
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, Final, TypeVar

import attrs

from wsone_async import models as m
from wsone_async import operations as ops
from wsone_async._codec import dumps, to_wire
from wsone_async._config import NOT_PASSED, NotPassed, RetryPolicy, Timeouts
from wsone_async._retry import (
    BudgetState,
    describe,
    is_ambiguous,
    is_retryable,
    retry_after_failure,
)
from wsone_async._transport import (
    DEFAULT_KEEPALIVE_TIMEOUT,
    SUCCESS,
    ClientSession,
    TraceConfig,
    Transport,
    decode_reply,
    log_view,
)
from wsone_async._version import __version__
from wsone_async.errors import (
    APIConnectionError,
    APIError,
    APITimeoutError,
    ClientClosedError,
    ClientStateError,
    OutcomeUnknownError,
    WsOneError,
)
from wsone_async.models import Model
from wsone_async.operations import Operation, Service, Settlement

__all__ = ["AttemptInfo", "WsOneClient", "find_person"]

logger = logging.getLogger("wsone_async")

Req = TypeVar("Req", bound=Model)
Resp = TypeVar("Resp", bound=Model)

DEFAULT_PERSON_PATH: Final = "/rest/2.0/personWebService"
DEFAULT_TRANSACTION_PATH: Final = "/rest/2.0/transactionWebService"
DEFAULT_MAX_RESPONSE_SIZE: Final = 16 * 1024 * 1024


@attrs.frozen
class AttemptInfo:
    """What an ``on_attempt`` hook learns about one attempt, for metrics and tracing."""

    operation: str
    """The operation's name, such as ``"createPerson"``."""
    attempt: int
    """1 for the first attempt, 2 for the first retry, and so on."""
    duration: float
    """Seconds the attempt took, by the client's clock."""
    error: WsOneError | None
    """The attempt's failure, or None when it succeeded."""


class _NotApplied(APIConnectionError):
    """A write that failed ambiguously, then was settled as not applied: safe to send again."""

    def __init__(self, original: WsOneError) -> None:
        self.original = original
        super().__init__(f"not applied ({describe(original)})", request_sent=False)


class _CannotSettle(Exception):
    """The request lacks what the settling read needs."""


async def find_person(
    client: WsOneClient, identifier: m.IdentifierRequest
) -> m.PersonProfilResponse | None:
    """The person holding ``identifier``, or None: getPerson, read as a yes/no question.

    WsOne's "not found" code is not documented, so a functional refusal (``APIError``) of
    this complete lookup by identifier reads as "no such person". Identifiers are unique:
    should that reading ever be wrong, a creation that follows is refused as a duplicate,
    never applied twice. Other failures (network, HTTP) are raised.
    """
    try:
        answer = await client.get_person(m.GetPersonRequest(identifier_request=identifier))
    except APIError:
        return None
    return answer.person_response


async def _person_exists(client: WsOneClient, request: Any) -> tuple[bool, dict[str, Any]]:
    new = getattr(request, "new_identifier_request", None)
    if new is None or new.identifier_value is None:
        msg = "getPerson cannot tell: the request names no identifier value"
        raise _CannotSettle(msg)
    person = await find_person(client, _identifier(new))
    if person is None:
        return False, {}
    extra: dict[str, Any] = {}
    generated_type = getattr(request, "new_identifier_type", None)
    if generated_type is not None:
        # createPersonAndIdentifier: hand back the identifier WsOne generated, as its
        # answer would have.
        for held in person.identifier_response or ():
            if (
                held.identifier_type == generated_type
                and held.identifier_value != new.identifier_value
            ):
                extra["new_identifier_response"] = m.NewIdentifierResponse(
                    identifier_type=held.identifier_type, identifier_value=held.identifier_value
                )
                break
    return True, extra


def _identifier(block: Any) -> m.IdentifierRequest:
    return m.IdentifierRequest(
        identifier_type=block.identifier_type, identifier_value=block.identifier_value
    )


async def _receipt_recorded(client: WsOneClient, request: Any) -> tuple[bool, dict[str, Any]]:
    receipt = getattr(request, "receipt_request", None)
    customer = getattr(request, "identifier_request", None)
    full = getattr(request, "full_person_request", None)
    if customer is None and full is not None:
        # sendAndValidFullTransaction may name its customer only in the full profile.
        new = full.new_identifier_request
        if new is not None and new.identifier_value is not None:
            customer = _identifier(new)
    if (
        receipt is None
        or receipt.receipt_number is None
        or receipt.entity_request is None
        or customer is None
    ):
        # An incomplete lookup could be refused for being incomplete, which would read as
        # "not recorded" and send the write again: better to leave the outcome unknown.
        msg = "verifyTransaction cannot tell: the request lacks the customer, store or number"
        raise _CannotSettle(msg)
    check = m.VerifyTransactionRequest(
        identifier_request=customer,
        receipt_request=m.ReceiptRequest(
            receipt_number=receipt.receipt_number, entity_request=receipt.entity_request
        ),
    )
    try:
        answer = await client.verify_transaction(check)
    except APIError:
        return False, {}  # as for getPerson: a refusal of a complete lookup means "not recorded"
    recorded = answer.transaction_response
    # A cancelled receipt frees its store and number for a new one, so finding it cancelled
    # says nothing of the write being settled. The status names are inferred, not
    # documented: any status that speaks of cancelling counts.
    if recorded is None or "CANCEL" in (recorded.status or "").upper():
        return False, {}
    return True, {"transaction_response": recorded}


class _Shared:
    """What a client and its ``with_options`` views share: transport, budget, life cycle."""

    __slots__ = ("base_url", "budget", "closed", "loop", "transport", "username")

    def __init__(
        self,
        transport: Transport,
        budget: BudgetState | None,
        base_url: str,
        username: str,
    ) -> None:
        self.transport = transport
        self.budget = budget
        self.base_url = base_url
        self.username = username
        self.loop: asyncio.AbstractEventLoop | None = None
        self.closed = False


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


def _check_encodable(username: str, password: str) -> None:
    # os.environ hands over a byte that is not UTF-8 as a lone surrogate, which cannot be
    # sent. The encoder's own error would quote the password: raised outside its handler,
    # so that it is neither chained nor kept as __context__.
    unencodable = None
    for name, value in (("username", username), ("password", password)):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            unencodable = name
            break
    if unencodable is not None:
        msg = (
            f"the {unencodable} cannot be encoded as UTF-8 (it holds a lone surrogate, as "
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


class WsOneClient:
    """An asyncio client for WsOne: connection pooling, Basic auth, safe retries.

    Open it once (``async with``, or let the first call open it) and share it between
    tasks: it pools up to ``max_connections`` connections. Each of WsOne's 29 operations is
    a method named as the operation in snake_case, taking the operation's request model and
    returning its response model.

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
            never closes it, and ``max_connections``, ``ssl_context`` and ``trace_configs``
            do not apply to it.
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
            it. It does not apply to a ``session`` passed in.
        sleep: the coroutine that waits between attempts; tests inject one that does not.
        clock: the monotonic clock of deadlines and ``AttemptInfo.duration``.
        random: a uniform random number in [0, 1), for the backoff's jitter.

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
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        clock: Callable[[], float] = time.monotonic,
        random: Callable[[], float] = random_module.random,
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
        if keepalive_timeout is not None and (
            isinstance(keepalive_timeout, bool)
            or not isinstance(keepalive_timeout, int | float)
            or not 0 < keepalive_timeout < float("inf")
        ):
            msg = "keepalive_timeout must be a positive number of seconds, or None"
            raise ValueError(msg)
        for name, number in (
            ("max_connections", max_connections),
            ("max_response_size", max_response_size),
        ):
            if isinstance(number, bool) or not isinstance(number, int) or number < 1:
                msg = f"{name} must be a positive int"
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
        budget = BudgetState(policy.budget) if policy.budget is not None else None
        self._shared = _Shared(transport, budget, base, username)
        self._is_view = False
        self._urls = {
            op.name: transport.url(f"{paths[op.service]}/{op.name}") for op in ops.OPERATIONS
        }
        self._on_attempt = on_attempt
        self._sleep = sleep
        self._clock = clock
        self._random = random
        self._configure(Timeouts.coerce(timeout), policy)

    def _configure(self, timeouts: Timeouts, policy: RetryPolicy) -> None:
        self._timeouts = timeouts
        self._policy = policy
        transport = self._shared.transport
        self._limits = transport.limits(
            attempt=timeouts.attempt, connect=timeouts.connect, read=timeouts.read
        )
        # The first attempt starts with the whole deadline ahead: it is bounded by the
        # smaller of the two limits, computed once here rather than on every call.
        if timeouts.total is not None and timeouts.total <= timeouts.attempt:
            self._first_limits = transport.limits(
                attempt=timeouts.total,
                connect=timeouts.connect,
                read=timeouts.read,
                name="total",
            )
        else:
            self._first_limits = self._limits

    # ------------------------------------------------------------------ life cycle

    def _ready(self) -> Transport:
        """The transport, once the client is known usable in the running loop."""
        shared = self._shared
        if shared.closed:
            msg = "this WsOneClient is closed; create a new client"
            raise ClientClosedError(msg)
        loop = asyncio.get_running_loop()
        if shared.loop is not loop:
            if shared.loop is not None:
                msg = (
                    "this WsOneClient was opened in another event loop; aiohttp sessions "
                    "cannot cross loops: create one client per event loop"
                )
                raise ClientStateError(msg)
            # The session is created here, inside the running loop, never at import time.
            shared.loop = loop
            shared.transport.open()
        return shared.transport

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
        return self._timeouts

    @property
    def retry_policy(self) -> RetryPolicy:
        """The retry policy of this client (or view)."""
        return self._policy

    @property
    def on_attempt(self) -> Callable[[AttemptInfo], None] | None:
        """The hook called after every attempt, if any."""
        return self._on_attempt

    def __repr__(self) -> str:
        shared = self._shared
        state = "closed" if shared.closed else "open" if shared.loop is not None else "not opened"
        view = ", view=True" if self._is_view else ""
        return (
            f"WsOneClient(base_url={shared.base_url!r}, username={shared.username!r}, "
            f"state={state!r}{view})"
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
    ) -> WsOneClient:
        """A view of this client with other time limits, retry policy or attempt hook.

        The view shares the client's session, connection pool and retry budget; closing
        the client closes it too.

        Example:
            >>> from wsone_async import RetryPolicy
            >>> client = WsOneClient("https://loyalty.example.fr", username="u", password="p")
            >>> view = client.with_options(retry=RetryPolicy(max_retries=0))
            >>> view.closed, repr(view).endswith("view=True)")
            (False, True)
        """
        view = object.__new__(WsOneClient)
        view.__dict__.update(self.__dict__)
        view._is_view = True
        if not isinstance(on_attempt, NotPassed):
            view._on_attempt = on_attempt
        view._configure(
            self._timeouts if isinstance(timeout, NotPassed) else Timeouts.coerce(timeout),
            self._policy if isinstance(retry, NotPassed) else _check_policy(retry),
        )
        return view

    # ------------------------------------------------------------------ calls

    async def call(self, operation: Operation[Req, Resp], request: Req) -> Resp:
        """Run ``operation`` with ``request``; the typed methods below all come here.

        Args:
            operation: an entry of :data:`wsone_async.operations.OPERATIONS`.
            request: an instance of the operation's request model.

        Returns:
            The operation's response model.
        """
        transport = self._ready()
        if request.__class__ is not operation.request_type:
            msg = (
                f"{operation.name} takes a {operation.request_type.__name__}, "
                f"got {type(request).__name__}"
            )
            raise TypeError(msg)
        body = dumps(request)
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug(
                "%s request: %s", operation.name, log_view(to_wire(request), type(request))
            )
        total = self._timeouts.total
        deadline = None if total is None else self._clock() + total
        url = self._urls[operation.name]
        try:
            if self._on_attempt is None:
                # The first attempt, inlined: every frame between the caller and aiohttp is
                # walked again at each resumption, which measurably costs throughput.
                reply = await transport.post(url, body, self._first_limits, operation.name)
                response = decode_reply(
                    reply,
                    operation.response_type,
                    operation=operation.name,
                    write=operation.is_write,
                )
            else:
                response = await self._attempt(
                    transport, operation, url, body, request, deadline, 1
                )
        except WsOneError as error:
            response = await self._recover(
                transport, operation, url, body, request, deadline, error
            )
        budget = self._shared.budget
        if budget is not None and self._policy.budget is not None:
            budget.refund()
        return response

    async def _attempt(
        self,
        transport: Transport,
        operation: Operation[Req, Resp],
        url: Any,
        body: bytes,
        request: Req,
        deadline: float | None,
        number: int,
    ) -> Resp:
        if self._shared.closed:
            # Closed while this call waited to retry: refuse like any call after aclose().
            msg = "this WsOneClient was closed while the call waited to retry"
            raise ClientClosedError(msg)
        limits = self._limits
        if deadline is not None:
            remaining = deadline - self._clock()
            if remaining <= 0:
                msg = f"{operation.name}: the call's total limit passed before attempt {number}"
                raise APITimeoutError(msg, request_sent=False, limit="total")
            if remaining < self._timeouts.attempt:
                timeouts = self._timeouts
                limits = transport.limits(
                    attempt=remaining, connect=timeouts.connect, read=timeouts.read, name="total"
                )
        hook = self._on_attempt
        started = self._clock() if hook is not None else 0.0
        try:
            reply = await transport.post(url, body, limits, operation.name)
            response = decode_reply(
                reply, operation.response_type, operation=operation.name, write=operation.is_write
            )
        except WsOneError as error:
            if hook is not None:
                self._report(hook, operation, number, started, error)
            raise
        if hook is not None:
            self._report(hook, operation, number, started, None)
        return response

    def _report(
        self,
        hook: Callable[[AttemptInfo], None],
        operation: Operation[Any, Any],
        number: int,
        started: float,
        error: WsOneError | None,
    ) -> None:
        info = AttemptInfo(operation.name, number, self._clock() - started, error)
        try:
            hook(info)
        except Exception:
            # A metrics hook must not turn a call's outcome into its own failure.
            logger.exception("on_attempt hook failed for %s", operation.name)

    async def _recover(
        self,
        transport: Transport,
        operation: Operation[Req, Resp],
        url: Any,
        body: bytes,
        request: Req,
        deadline: float | None,
        error: WsOneError,
    ) -> Resp:
        """After a failed first attempt: settle, retry if the rules allow, or raise."""
        policy = self._policy
        write = operation.is_write
        if self._settles(operation, error):
            settled = await self._settle(operation, request, error, deadline)
            if settled is not None:
                return settled
            error = _NotApplied(error)
        if policy.max_retries > 0 and is_retryable(error, write=write, policy=policy):
            budget = self._shared.budget if policy.budget is not None else None

            async def attempt(number: int) -> Resp:
                try:
                    return await self._attempt(
                        transport, operation, url, body, request, deadline, number
                    )
                except WsOneError as failure:
                    if not self._settles(operation, failure):
                        raise
                    settled = await self._settle(operation, request, failure, deadline)
                    if settled is None:
                        raise _NotApplied(failure) from failure
                    return settled

            try:
                return await retry_after_failure(
                    error,
                    attempt,
                    operation=operation.name,
                    write=write,
                    policy=policy,
                    budget=budget,
                    deadline=deadline,
                    clock=self._clock,
                    sleep=self._sleep,
                    random=self._random,
                )
            except WsOneError as final:
                error = final
        if isinstance(error, _NotApplied):
            # Settled as not applied: the caller may send it again later.
            raise error.original
        if write and is_ambiguous(error):
            raise OutcomeUnknownError(operation.name, request, reason=describe(error)) from error
        raise error

    def _settles(self, operation: Operation[Any, Any], error: WsOneError) -> bool:
        return (
            self._policy.reconcile_writes
            and operation.settlement is not None
            and is_ambiguous(error)
        )

    async def _settle(
        self,
        operation: Operation[Req, Resp],
        request: Req,
        error: WsOneError,
        deadline: float | None,
    ) -> Resp | None:
        """Tell with a read whether an ambiguous write was applied.

        Returns the write's answer, rebuilt, when it was applied, or None when it was not;
        raises OutcomeUnknownError when the read cannot tell.
        """
        settlement = operation.settlement
        assert settlement is not None
        timeouts = self._timeouts
        if deadline is not None:
            # The check belongs to the call: it gets what is left of the call's deadline.
            left = deadline - self._clock()
            if left <= 0:
                why = f"no time left to ask {settlement.value}"
                raise OutcomeUnknownError(
                    operation.name, request, reason=f"{describe(error)}; {why}"
                ) from error
            timeouts = attrs.evolve(timeouts, attempt=min(timeouts.attempt, left), total=left)
        # The check is a read, retried as reads are, with the client's session.
        checker = self.with_options(
            timeout=timeouts, retry=attrs.evolve(self._policy, reconcile_writes=False)
        )
        try:
            if settlement is Settlement.NEW_IDENTIFIER:
                applied, extra = await _person_exists(checker, request)
            else:
                applied, extra = await _receipt_recorded(checker, request)
        except _CannotSettle as missing:
            raise OutcomeUnknownError(
                operation.name, request, reason=f"{describe(error)}; {missing}"
            ) from error
        except WsOneError as check_error:
            why = f"{settlement.value} could not tell: {describe(check_error)}"
            raise OutcomeUnknownError(
                operation.name, request, reason=f"{describe(error)}; {why}"
            ) from error
        logger.info(
            "%s failed ambiguously (%s); %s says it was %s",
            operation.name,
            describe(error),
            settlement.value,
            "applied" if applied else "not applied",
        )
        if not applied:
            return None
        infos = f"applied: settled by {settlement.value} after {type(error).__name__}"
        # Every response model is a ResponseEnvelope; the table types it only as a Model.
        build: Any = operation.response_type
        response: Resp = build(response_code=SUCCESS, infos=infos, **extra)
        return response

    # ------------------------------------------------------------ the 29 operations

    async def create_person_and_identifier(
        self, request: m.CreatePersonAndIdentifierRequest
    ) -> m.CreatePersonAndIdentifierResponse:
        """createPersonAndIdentifier (write).

        Create a customer and a loyalty card in one call (shape inferred from createPerson).
        """
        return await self.call(ops.CREATE_PERSON_AND_IDENTIFIER, request)

    async def create_person(self, request: m.CreatePersonRequest) -> m.CreatePersonResponse:
        """createPerson (write).

        Create a customer with a given identifier, without a loyalty card (documented).
        """
        return await self.call(ops.CREATE_PERSON, request)

    async def create_identifier(
        self, request: m.CreateIdentifierRequest
    ) -> m.CreateIdentifierResponse:
        """createIdentifier (write).

        Generate a dematerialised card for an existing customer (documented).
        """
        return await self.call(ops.CREATE_IDENTIFIER, request)

    async def associate_new_identifier(
        self, request: m.AssociateNewIdentifierRequest
    ) -> m.AssociateNewIdentifierResponse:
        """associateNewIdentifier (write).

        Add a new identifier, such as a web account, to a customer (shape inferred).
        """
        return await self.call(ops.ASSOCIATE_NEW_IDENTIFIER, request)

    async def associate_identifier(
        self, request: m.AssociateIdentifierRequest
    ) -> m.AssociateIdentifierResponse:
        """associateIdentifier (write).

        Attach an identifier that already exists, such as a pre-printed card (shape inferred).
        """
        return await self.call(ops.ASSOCIATE_IDENTIFIER, request)

    async def replace_identifier(
        self, request: m.ReplaceIdentifierRequest
    ) -> m.ReplaceIdentifierResponse:
        """replaceIdentifier (write).

        Replace an identifier, such as a lost card, by a new one (shape inferred).
        """
        return await self.call(ops.REPLACE_IDENTIFIER, request)

    async def get_person(self, request: m.GetPersonRequest) -> m.GetPersonResponse:
        """getPerson (read): find one customer by identifier (shape inferred from the workflows)."""
        return await self.call(ops.GET_PERSON, request)

    async def search_person(self, request: m.SearchPersonRequest) -> m.SearchPersonResponse:
        """searchPerson (read).

        Search customers by personal data (shape inferred from the workflows).
        """
        return await self.call(ops.SEARCH_PERSON, request)

    async def get_accounts(self, request: m.GetAccountsRequest) -> m.GetAccountsResponse:
        """getAccounts (read): get a customer's accounts (points, visits) (shape inferred)."""
        return await self.call(ops.GET_ACCOUNTS, request)

    async def get_full_person(self, request: m.GetFullPersonRequest) -> m.GetFullPersonResponse:
        """getFullPerson (read).

        Get a customer's data, balances and usable offers in one call (documented).
        """
        return await self.call(ops.GET_FULL_PERSON, request)

    async def search_person_lite(
        self, request: m.SearchPersonLiteRequest
    ) -> m.SearchPersonLiteResponse:
        """searchPersonLite (read).

        Search customers by personal data, lighter answer (shape inferred).
        """
        return await self.call(ops.SEARCH_PERSON_LITE, request)

    async def get_badge(self, request: m.GetBadgeRequest) -> m.GetBadgeResponse:
        """getBadge (read): get a customer's badges (shape inferred)."""
        return await self.call(ops.GET_BADGE, request)

    async def update_person(self, request: m.UpdatePersonRequest) -> m.UpdatePersonResponse:
        """updatePerson (write).

        Update a customer found by identifier (shape inferred from the workflows).
        """
        return await self.call(ops.UPDATE_PERSON, request)

    async def get_available_offers(
        self, request: m.GetAvailableOffersRequest
    ) -> m.GetAvailableOffersResponse:
        """getAvailableOffers (read): get the offers a customer can receive (shape inferred)."""
        return await self.call(ops.GET_AVAILABLE_OFFERS, request)

    async def get_enable_offers(
        self, request: m.GetEnableOffersRequest
    ) -> m.GetEnableOffersResponse:
        """getEnableOffers (read): get the offers a customer can use now (shape inferred)."""
        return await self.call(ops.GET_ENABLE_OFFERS, request)

    async def edit_offer(self, request: m.EditOfferRequest) -> m.EditOfferResponse:
        """editOffer (write): mark a customer's offer used or unused (shape inferred)."""
        return await self.call(ops.EDIT_OFFER, request)

    async def get_form(self, request: m.GetFormRequest) -> m.GetFormResponse:
        """getForm (read): get a form with a customer's answers (shape inferred)."""
        return await self.call(ops.GET_FORM, request)

    async def update_form(self, request: m.UpdateFormRequest) -> m.UpdateFormResponse:
        """updateForm (write).

        Record a customer's answers to a form (shape inferred from ``FormAnsweredRequest``).
        """
        return await self.call(ops.UPDATE_FORM, request)

    async def get_entities(self, request: m.GetEntitiesRequest) -> m.GetEntitiesResponse:
        """getEntities (read).

        List the stores (entities), or those under one entity (shape inferred).
        """
        return await self.call(ops.GET_ENTITIES, request)

    async def get_entity_parents(
        self, request: m.GetEntityParentsRequest
    ) -> m.GetEntityParentsResponse:
        """getEntityParents (read).

        List the entities above one, up to the root of the network (shape inferred).
        """
        return await self.call(ops.GET_ENTITY_PARENTS, request)

    async def send_transaction(
        self, request: m.SendTransactionRequest
    ) -> m.SendTransactionResponse:
        """sendTransaction (write).

        Record a receipt for a customer, to validate later (shape inferred).
        """
        return await self.call(ops.SEND_TRANSACTION, request)

    async def valid_transaction(
        self, request: m.ValidTransactionRequest
    ) -> m.ValidTransactionResponse:
        """validTransaction (write).

        Validate a sent receipt, which credits its points (shape inferred).
        """
        return await self.call(ops.VALID_TRANSACTION, request)

    async def send_and_valid_transaction(
        self, request: m.SendAndValidTransactionRequest
    ) -> m.SendAndValidTransactionResponse:
        """sendAndValidTransaction (write).

        Record and validate a receipt in one call (shape inferred).
        """
        return await self.call(ops.SEND_AND_VALID_TRANSACTION, request)

    async def send_and_valid_full_transaction(
        self, request: m.SendAndValidFullTransactionRequest
    ) -> m.SendAndValidFullTransactionResponse:
        """sendAndValidFullTransaction (write).

        Record and validate a receipt with the customer's profile (shape inferred).
        """
        return await self.call(ops.SEND_AND_VALID_FULL_TRANSACTION, request)

    async def verify_transaction(
        self, request: m.VerifyTransactionRequest
    ) -> m.VerifyTransactionResponse:
        """verifyTransaction (read).

        Ask whether a receipt was recorded, by its store and number (shape inferred).
        """
        return await self.call(ops.VERIFY_TRANSACTION, request)

    async def cancel_transactions_not_validated(
        self, request: m.CancelTransactionsNotValidatedRequest
    ) -> m.CancelTransactionsNotValidatedResponse:
        """cancelTransactionsNotValidated (write).

        Cancel a customer's receipts that were sent but never validated (shape inferred).
        """
        return await self.call(ops.CANCEL_TRANSACTIONS_NOT_VALIDATED, request)

    async def send_simple_transaction(
        self, request: m.SendSimpleTransactionRequest
    ) -> m.SendSimpleTransactionResponse:
        """sendSimpleTransaction (write).

        Record and validate a receipt given by its amount only, without lines (shape inferred).
        """
        return await self.call(ops.SEND_SIMPLE_TRANSACTION, request)

    async def refund_transaction(
        self, request: m.RefundTransactionRequest
    ) -> m.RefundTransactionResponse:
        """refundTransaction (write).

        Refund a validated receipt, which takes its points back (shape inferred).
        """
        return await self.call(ops.REFUND_TRANSACTION, request)

    async def get_last_transaction(
        self, request: m.GetLastTransactionRequest
    ) -> m.GetLastTransactionResponse:
        """getLastTransaction (read): get a customer's most recent transaction (shape inferred)."""
        return await self.call(ops.GET_LAST_TRANSACTION, request)
