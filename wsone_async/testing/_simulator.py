"""The embedded WsOne simulator: an aiohttp server over the in-memory backend."""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import dataclasses
import ipaddress
import logging
import secrets
from collections import Counter
from collections.abc import Awaitable, Callable
from http import HTTPStatus
from types import TracebackType
from typing import Any, Final, Self

import orjson
from aiohttp import encode_basic_auth, hdrs, web

from wsone_async.testing._backend import WsOneBackend, WsOneFailure
from wsone_async.testing._codes import SimulatorCode
from wsone_async.testing._control import ControlError, add_fault, seed
from wsone_async.testing._faults import (
    DropAfter,
    DropBefore,
    Fault,
    FaultPlan,
    Garbage,
    Html,
    ResponseCode,
    Status,
)
from wsone_async.testing._handlers import answer, envelope
from wsone_async.testing._routes import (
    DEFAULT_PERSON_PATH,
    DEFAULT_TRANSACTION_PATH,
    ROUTES,
    Route,
)

__all__ = ["SimulatorStats", "WsOneSimulator"]

# Only operation names and codes are logged, never a body: bodies hold personal data.
_log = logging.getLogger("wsone_async.testing")

_CONTROL: Final = "/_control"
_SUCCESS: Final = str(SimulatorCode.SUCCESS)
_HTML_PAGE: Final = (
    "<!DOCTYPE html>\n<html><head><title>502 Bad Gateway</title></head>\n"
    "<body><h1>Bad Gateway</h1><p>The upstream server is unavailable.</p></body></html>\n"
)
# A JSON answer cut short, as a proxy that gave up mid-body leaves it.
_GARBAGE: Final = b'{"responseCode": "000", "infos": "Request successfully pro'
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclasses.dataclass(eq=False)
class SimulatorStats:
    """Counters of what the simulator saw and did, for tests to assert on."""

    received: Counter[str] = dataclasses.field(default_factory=Counter)
    """Requests received, by operation (before authentication and faults)."""
    processed: Counter[str] = dataclasses.field(default_factory=Counter)
    """Requests whose operation ran (whatever its code), by operation."""
    codes: Counter[str] = dataclasses.field(default_factory=Counter)
    """``responseCode`` of the requests processed, by code."""
    faults: Counter[str] = dataclasses.field(default_factory=Counter)
    """Faults injected, by kind (``"status"``, ``"drop_after"``...)."""
    unauthorized: int = 0
    """Requests refused with HTTP 401."""

    def reset(self) -> None:
        """Set every counter back to zero."""
        self.received.clear()
        self.processed.clear()
        self.codes.clear()
        self.faults.clear()
        self.unauthorized = 0

    def as_dict(self) -> dict[str, Any]:
        """The counters as JSON-ready data."""
        return {
            "requests": dict(self.received),
            "processed": dict(self.processed),
            "responseCodes": dict(self.codes),
            "faultsInjected": dict(self.faults),
            "unauthorized": self.unauthorized,
        }


def _json(data: Any, *, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(
        body=orjson.dumps(data), status=status, headers=headers, content_type="application/json"
    )


def _basic_credentials(header: str | None) -> tuple[bytes, bytes] | None:
    """The user and password of a ``Basic`` Authorization header, as bytes, or None."""
    if header is None:
        return None
    scheme, _, encoded = header.strip().partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True)
    except (binascii.Error, ValueError):
        return None
    login, colon, password = decoded.partition(b":")
    return (login, password) if colon else None


def _clean_path(path: str) -> str:
    path = "/" + path.strip("/")
    if path == "/":
        msg = "service paths must not be the root"
        raise ValueError(msg)
    return path


def _url_host(host: str) -> str:
    # A wildcard address is reached through the loopback; IPv6 literals need brackets.
    if host in ("", "0.0.0.0"):  # noqa: S104
        return "127.0.0.1"
    if host == "::":
        return "[::1]"
    with contextlib.suppress(ValueError):
        if ipaddress.ip_address(host).version == 6:
            return f"[{host}]"
    return host


class WsOneSimulator:
    """A faithful, stateful fake WsOne served over HTTP on the loopback, with fault injection.

    It serves the 29 operations at WsOne's paths, checks HTTP Basic credentials, keeps its
    state in :attr:`backend` and injects the faults of :attr:`faults`. Functional errors use
    the simulator's own codes (:data:`~wsone_async.testing.SIMULATOR_CODES`). Control
    endpoints under ``/_control/`` (same credentials, never faulted) drive it from another
    process: ``POST reset``, ``POST seed``, ``POST``/``GET``/``DELETE faults``, ``GET state``
    (their JSON is described in the README, section "The control endpoints").

    A request is counted in :attr:`stats`, authenticated, submitted to :attr:`faults`, then
    answered. A client that gives up during a latency fault does not stop the request:
    it is still processed afterwards, as by a real server.

    Args:
        host: address to listen on.
        port: port to listen on; 0 picks a free one (see :attr:`url`).
        username: the Basic-auth user.
        password: the Basic-auth password; a random token by default.
        seed: seed of the fault plan's random draws.
        person_path: where WS Person's operations are served.
        transaction_path: where WS Transaction's operations are served.
        backend: the state to serve; a fresh :class:`WsOneBackend` by default.

    Example:
        >>> import asyncio, aiohttp
        >>> async def main():
        ...     async with WsOneSimulator() as sim:
        ...         async with aiohttp.ClientSession(headers=sim.auth_headers) as http:
        ...             body = {"NewIdentifierRequest": {"identifierType": 10,
        ...                                              "identifierValue": "jean@example.fr"}}
        ...             async with http.post(sim.url_for("createPerson"), json=body) as r:
        ...                 created = await r.json()
        ...         return created["responseCode"], sim.backend.persons_count()
        >>> asyncio.run(main())
        ('000', 1)
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        username: str = "wsone",
        password: str | None = None,
        seed: int = 0,
        person_path: str = DEFAULT_PERSON_PATH,
        transaction_path: str = DEFAULT_TRANSACTION_PATH,
        backend: WsOneBackend | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self.username = username
        self.password = password if password is not None else secrets.token_urlsafe(18)
        self.seed = seed
        self.person_path = _clean_path(person_path)
        self.transaction_path = _clean_path(transaction_path)
        if self.person_path == self.transaction_path:
            msg = "person_path and transaction_path must differ"
            raise ValueError(msg)
        self.backend = backend if backend is not None else WsOneBackend()
        self.faults = FaultPlan(seed)
        # One counter, kept by the plan as faults fire, read through the stats.
        self.stats = SimulatorStats(faults=self.faults.injected)
        self.app = self._make_app()
        self._runner: web.AppRunner | None = None
        self._url: str | None = None
        self._closing = asyncio.Event()
        self._expected_for: tuple[str, str] | None = None
        self._expected: bytes | None = None

    # --------------------------------------------------------------------- lifecycle

    @property
    def url(self) -> str:
        """Base URL, such as ``"http://127.0.0.1:54321"`` (once started)."""
        if self._url is None:
            msg = "the simulator is not started: use 'async with' or 'await start()'"
            raise RuntimeError(msg)
        return self._url

    @property
    def auth_headers(self) -> dict[str, str]:
        """The ``Authorization`` header of the simulator's credentials."""
        return {"Authorization": encode_basic_auth(self.username, self.password)}

    @property
    def started(self) -> bool:
        """Whether the simulator is serving."""
        return self._runner is not None

    def path_for(self, operation: str) -> str:
        """The path of ``operation``, such as ``/rest/2.0/personWebService/getPerson``."""
        route = ROUTES.get(operation)
        if route is None:
            msg = f"unknown WsOne operation {operation!r}"
            raise ValueError(msg)
        prefix = self.transaction_path if route.service == "transaction" else self.person_path
        return f"{prefix}/{operation}"

    def url_for(self, operation: str) -> str:
        """The full URL of ``operation`` (once started)."""
        return self.url + self.path_for(operation)

    async def start(self) -> Self:
        """Start serving; returns the simulator itself."""
        if self._runner is not None:
            msg = "the simulator is already started"
            raise RuntimeError(msg)
        self._closing = asyncio.Event()
        # No access log: requests are counted in stats, and nothing personal gets written.
        runner = web.AppRunner(self.app, access_log=None, shutdown_timeout=5.0)
        await runner.setup()
        try:
            site = web.TCPSite(runner, self.host, self.port)
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        port = runner.addresses[0][1]
        self._runner = runner
        self._url = f"http://{_url_host(self.host)}:{port}"
        _log.debug("WsOne simulator listening on %s", self._url)
        return self

    async def close(self) -> None:
        """Stop serving and close every connection (latency faults in progress end)."""
        runner, self._runner = self._runner, None
        if runner is None:
            return
        self._closing.set()
        await runner.cleanup()
        self._url = None

    async def __aenter__(self) -> Self:
        return await self.start()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    def reset(self) -> None:
        """Back to a fresh simulator: empty seeded state, zero counters, no faults, re-seeded."""
        self.backend.reset()
        self.stats.reset()
        self.faults.clear()
        self.faults.reseed(self.seed)

    # ----------------------------------------------------------------------- routing

    def _make_app(self) -> web.Application:
        app = web.Application()
        for route in ROUTES.values():
            app.router.add_post(self.path_for(route.operation), self._operation(route))
        app.router.add_post(f"{_CONTROL}/reset", self._guarded(self._control_reset))
        app.router.add_post(f"{_CONTROL}/seed", self._guarded(self._control_seed))
        app.router.add_post(f"{_CONTROL}/faults", self._guarded(self._control_add_fault))
        app.router.add_get(f"{_CONTROL}/faults", self._guarded(self._control_faults))
        app.router.add_delete(f"{_CONTROL}/faults", self._guarded(self._control_clear_faults))
        app.router.add_get(f"{_CONTROL}/state", self._guarded(self._control_state))
        return app

    def _authorized(self, request: web.Request) -> bool:
        header = request.headers.get(hdrs.AUTHORIZATION)
        if header is None:
            return False
        # The usual spelling of the right credentials, compared as a whole in constant
        # time; any other spelling (scheme case, spaces) is decoded and compared in parts.
        expected = self._expected_header
        if expected is not None and secrets.compare_digest(
            header.encode("utf-8", "surrogateescape"), expected
        ):
            return True
        credentials = _basic_credentials(header)
        if credentials is None:
            return False
        login, password = credentials
        user_ok = secrets.compare_digest(login, self.username.encode())
        password_ok = secrets.compare_digest(password, self.password.encode())
        return user_ok and password_ok

    @property
    def _expected_header(self) -> bytes | None:
        # Recomputed when a test changes the credentials of a running simulator.
        credentials = (self.username, self.password)
        if self._expected_for != credentials:
            self._expected_for = credentials
            try:
                self._expected = encode_basic_auth(*credentials).encode()
            except ValueError:  # a user name aiohttp cannot encode (it holds a colon)
                self._expected = None
        return self._expected

    def _unauthorized(self) -> web.Response:
        self.stats.unauthorized += 1
        return _json(
            envelope(SimulatorCode.AUTHENTICATION_FAILED),
            status=401,
            headers={hdrs.WWW_AUTHENTICATE: 'Basic realm="WsOne"'},
        )

    def _operation(self, route: Route) -> Handler:
        async def handle(request: web.Request) -> web.StreamResponse:
            return await self._serve(request, route)

        return handle

    def _guarded(self, handler: Handler) -> Handler:
        async def handle(request: web.Request) -> web.StreamResponse:
            if not self._authorized(request):
                return self._unauthorized()
            return await handler(request)

        return handle

    # -------------------------------------------------------------------- operations

    def _process(self, route: Route, raw: bytes) -> dict[str, Any]:
        result = answer(route.handler, self.backend, raw, enveloped=route.enveloped)
        # An answer without an envelope (getFullPerson's) is a success.
        code = str(result.get("responseCode", _SUCCESS))
        self.stats.processed[route.operation] += 1
        self.stats.codes[code] += 1
        _log.debug("%s -> %s", route.operation, code)
        return result

    async def _serve(self, request: web.Request, route: Route) -> web.StreamResponse:
        operation = route.operation
        self.stats.received[operation] += 1
        raw = await request.read()
        if not self._authorized(request):
            return self._unauthorized()
        delay, fault = self.faults.pick(operation)
        if delay > 0:
            _log.debug("%s: latency %.3fs", operation, delay)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._closing.wait(), timeout=delay)
            if self._closing.is_set():
                return self._drop(request)
        if fault is None:
            return _json(self._process(route, raw))
        _log.debug("%s: fault %s", operation, fault.kind)
        if fault.process:
            # The work is done and kept; the client only gets the fault.
            self._process(route, raw)
        return self._faulty_answer(request, fault)

    def _faulty_answer(self, request: web.Request, fault: Fault) -> web.StreamResponse:
        action = fault.action
        if isinstance(action, DropBefore | DropAfter):
            return self._drop(request)
        if isinstance(action, Status):
            headers: dict[str, str] = {}
            retry_after = action.retry_after_header()
            if retry_after is not None:
                headers[str(hdrs.RETRY_AFTER)] = retry_after
            if action.body == "empty":
                return web.Response(status=action.status, headers=headers)
            try:
                reason = HTTPStatus(action.status).phrase
            except ValueError:  # a status the standard library does not name, such as 499
                reason = "Simulated failure"
            return _json(
                {"status": action.status, "error": reason}, status=action.status, headers=headers
            )
        if isinstance(action, Html):
            return web.Response(text=_HTML_PAGE, content_type="text/html")
        if isinstance(action, Garbage):
            return web.Response(body=_GARBAGE, content_type="application/json")
        if isinstance(action, ResponseCode):
            return _json(envelope(action.response_code, action.infos))
        msg = f"the simulator cannot answer a {fault.kind} fault"
        raise NotImplementedError(msg)

    @staticmethod
    def _drop(request: web.Request) -> web.StreamResponse:
        # Closing the transport makes aiohttp's writing of the response below fail with a
        # ConnectionError, which it treats as a client disconnection: nothing is sent and
        # nothing is logged above DEBUG. The client sees the connection closed.
        transport = request.transport
        if transport is not None:
            transport.close()
        return web.Response(status=204)

    # ----------------------------------------------------------------------- control

    async def _read_json(self, request: web.Request) -> Any:
        raw = await request.read()
        if not raw.strip():
            return {}
        try:
            return orjson.loads(raw)
        except orjson.JSONDecodeError:
            msg = "the body is not valid JSON"
            raise ControlError(msg) from None

    async def _control_reset(self, request: web.Request) -> web.StreamResponse:
        """``POST /_control/reset`` -> the state after the reset (see ``GET state``)."""
        self.reset()
        return _json(self._state())

    async def _control_seed(self, request: web.Request) -> web.StreamResponse:
        """``POST /_control/seed`` (format in :mod:`wsone_async.testing._control`)."""
        try:
            created = seed(self.backend, await self._read_json(request))
        except (ControlError, WsOneFailure) as exc:
            return _json({"error": str(exc)}, status=400)
        return _json(created)

    async def _control_add_fault(self, request: web.Request) -> web.StreamResponse:
        """``POST /_control/faults`` -> the fault added, as ``GET faults`` lists it."""
        try:
            fault = add_fault(self.faults, await self._read_json(request))
        except ControlError as exc:
            return _json({"error": str(exc)}, status=400)
        return _json(fault.describe(), status=201)

    async def _control_faults(self, request: web.Request) -> web.StreamResponse:
        """``GET /_control/faults`` -> ``{"faults": [...]}``, in the order consulted."""
        return _json({"faults": [f.describe() for f in self.faults]})

    async def _control_clear_faults(self, request: web.Request) -> web.StreamResponse:
        """``DELETE /_control/faults`` -> ``{"cleared": n}``."""
        return _json({"cleared": self.faults.clear()})

    async def _control_state(self, request: web.Request) -> web.StreamResponse:
        """``GET /_control/state`` -> counts of state, requests and faults."""
        return _json(self._state())

    def _state(self) -> dict[str, Any]:
        return {**self.backend.state(), **self.stats.as_dict(), "faultRules": len(self.faults)}
