"""The README's FastAPI example, run as written under uvicorn against the simulator.

The example is taken from README.md, not copied here, so the README stays what is tested.
It reads ``WSONE_BASE_URL``, ``WSONE_USER`` and ``WSONE_PASSWORD`` (the documented
convention of ``WsOneClient.from_env``): the test sets them to the simulator's. Two things
are changed around the code, never in it: the client's waits between retries are skipped
(as the ``wsone_client`` fixture does), and where a fault must outlast a time limit the
example's limits are divided by ten, so a timeout takes milliseconds, not seconds.

With faults of every kind the simulator offers, each request is answered 200 or with the
status ``http_answer`` documents for the failure (checked against an independent table
here), never a 500, and no kept-alive connection is reset.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import attrs
import httpx
import pytest
import uvicorn

import wsone_async
from tests._support.mocks import no_wait
from tests._support.readme import readme_example
from wsone_async import Timeouts, WsOneClient
from wsone_async.errors import unregister_error_code
from wsone_async.testing import CARD, FaultKind, IdentifierSpec, WsOneSimulator
from wsone_async.web import HTTP_ANSWERS

WEB_EXAMPLE = readme_example("A web app (FastAPI) opens one client")


class _ExampleClient(WsOneClient):
    """WsOneClient as the example builds it, without waits and with scaled time limits."""

    scale = 1.0

    def __init__(self, *args: Any, timeout: Timeouts, **kwargs: Any) -> None:
        if self.scale != 1.0:
            timeout = Timeouts(
                connect=timeout.connect and timeout.connect * self.scale,
                read=timeout.read and timeout.read * self.scale,
                attempt=timeout.attempt * self.scale,
                total=timeout.total and timeout.total * self.scale,
            )
        super().__init__(*args, timeout=timeout, **kwargs)
        # The waits between retries skipped (a test hook, kept out of the constructor).
        hooks = attrs.evolve(self._settings.hooks, sleep=no_wait)
        self._bind(
            self._shared,
            self._settings.rebuilt(self._shared.transport, hooks=hooks),
            is_view=False,
        )


@pytest.fixture
def example_client(monkeypatch: pytest.MonkeyPatch) -> Iterator[type[_ExampleClient]]:
    class Client(_ExampleClient):
        pass

    monkeypatch.setattr(wsone_async, "WsOneClient", Client)
    yield Client
    unregister_error_code("101")  # the example registers it, for every client


@dataclass
class App:
    http: httpx.AsyncClient
    card: str
    sim: WsOneSimulator


@pytest.fixture
async def app(
    example_client: type[_ExampleClient], monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[App]:
    async with WsOneSimulator(seed=7) as sim:
        person = sim.backend.add_person(identifiers=[IdentifierSpec(CARD)], points=42)
        (_, card), *_ = sim.backend.identifiers_of(person)
        monkeypatch.setenv("WSONE_BASE_URL", sim.url)
        monkeypatch.setenv("WSONE_USER", sim.username)
        monkeypatch.setenv("WSONE_PASSWORD", sim.password)
        namespace: dict[str, Any] = {"__name__": "readme_web_example"}
        exec(compile(WEB_EXAMPLE, "README.md (FastAPI example)", "exec"), namespace)
        # A socket bound and listening before uvicorn starts: requests queue in its backlog
        # until the app is up, so nothing polls for the server to be ready.
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        sock.listen(128)
        port = sock.getsockname()[1]
        config = uvicorn.Config(
            namespace["app"], lifespan="on", http="h11", ws="none", log_level="warning"
        )
        server = uvicorn.Server(config)
        serving = asyncio.create_task(server.serve(sockets=[sock]))
        try:
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
                yield App(http, card, sim)
        finally:
            server.should_exit = True
            await serving
            sock.close()


async def balance(app: App, card: str | None = None) -> httpx.Response:
    return await app.http.get(f"/cards/{card or app.card}/balance")


async def test_a_card_balance(app: App) -> None:
    answer = await balance(app)
    assert answer.status_code == 200
    assert answer.json() == {"point": 42, "visites": 0}


async def test_an_unknown_card_is_404(app: App) -> None:
    answer = await balance(app, "0000000000000")
    assert answer.status_code == 404
    assert answer.json()["error"] == "not_found"


async def test_credentials_refused_is_502(app: App) -> None:
    app.sim.password = "not-the-one-the-app-has"
    # The simulator checks the password per request: the app's own is now wrong.
    answer = await balance(app)
    assert (answer.status_code, answer.json()["error"]) == (502, "wsone_refused")


# An independent statement of the README's table, for a read whose every attempt meets the
# fault: (fault kind, options) -> (status, Retry-After, body's "error").
EVERY_ATTEMPT: list[tuple[str, dict[str, Any], tuple[int, str | None, str]]] = [
    ("status", {"status": 429, "retry_after": 1}, (503, "1", "wsone_busy")),
    ("status", {"status": 429, "retry_after": 120}, (503, "120", "wsone_busy")),
    ("status", {"status": 429}, (503, None, "wsone_busy")),
    ("status", {"status": 503, "retry_after": 2}, (503, "2", "wsone_busy")),
    ("status", {"status": 500}, (502, None, "wsone_failed")),
    ("status", {"status": 502}, (502, None, "wsone_failed")),
    ("status", {"status": 504}, (502, None, "wsone_failed")),
    ("status", {"status": 400}, (502, None, "wsone_refused")),
    ("status", {"status": 408}, (502, None, "wsone_refused")),
    ("drop_before", {}, (502, None, "wsone_unreachable")),
    ("drop_after", {}, (502, None, "wsone_unreachable")),
    ("html", {}, (502, None, "wsone_unreadable")),
    ("garbage", {}, (502, None, "wsone_unreadable")),
    ("response_code", {"response_code": "101"}, (404, None, "not_found")),
    ("response_code", {"response_code": "999"}, (502, None, "wsone_refused")),
]


def test_every_fault_kind_is_covered() -> None:
    kinds = {kind for kind, _, _ in EVERY_ATTEMPT} | {"latency"}
    assert kinds == {str(kind) for kind in FaultKind}


@pytest.mark.parametrize(("kind", "options", "expected"), EVERY_ATTEMPT)
async def test_each_fault_gets_its_documented_answer(
    app: App, kind: str, options: dict[str, Any], expected: tuple[int, str | None, str]
) -> None:
    app.sim.faults.add("getFullPerson", kind, rate=1.0, **options)
    answer = await balance(app)
    status, retry_after, error = expected
    assert (answer.status_code, answer.headers.get("retry-after")) == (status, retry_after)
    body = answer.json()
    assert body["error"] == error
    # Network errors may not know their operation yet; when the body names one, it is this.
    assert body.get("operation", "getFullPerson") == "getFullPerson"
    assert set(body) <= {"error", "message", "retryable", "disposition", "operation", "code"}
    assert app.sim.stats.faults[kind] >= 1


@pytest.fixture
def tenth(example_client: type[_ExampleClient]) -> None:
    example_client.scale = 0.1


async def test_a_time_limit_is_504(tenth: None, app: App) -> None:
    app.sim.faults.add("getFullPerson", "latency", rate=1.0, delay=0.6)
    answer = await balance(app)
    assert (answer.status_code, answer.json()["error"]) == (504, "wsone_timeout")


async def test_random_faults_of_every_kind_no_500_no_reset(
    tenth: None, app: App, caplog: pytest.LogCaptureFixture
) -> None:
    faults = app.sim.faults
    faults.add("*", "latency", rate=0.03, delay=0.6)
    faults.add("*", "status", rate=0.03, status=429, retry_after=1)
    faults.add("*", "status", rate=0.03, status=503)
    faults.add("*", "status", rate=0.03, status=500)
    faults.add("*", "drop_before", rate=0.03)
    faults.add("*", "drop_after", rate=0.03)
    faults.add("*", "html", rate=0.03)
    faults.add("*", "garbage", rate=0.03)
    faults.add("*", "response_code", rate=0.03, response_code="999")
    documented = {(rule.status, rule.error) for rule in HTTP_ANSWERS}
    seen: Counter[tuple[int, str]] = Counter()

    async def user(number: int) -> None:
        # Each user keeps its connection alive across its requests; some ask for a card
        # that does not exist.
        for request in range(12):
            card = app.card if (number + request) % 5 else "0000000000000"
            answer = await balance(app, card)
            error = answer.json().get("error", "") if answer.status_code != 200 else ""
            seen[(answer.status_code, error)] += 1

    with caplog.at_level(logging.WARNING):
        await asyncio.gather(*(user(n) for n in range(20)))
    assert sum(seen.values()) == 240
    assert all(status != 500 for status, _ in seen)
    assert {key for key in seen if key[0] != 200} <= documented, seen
    assert seen[(200, "")] > 0 and seen[(404, "not_found")] > 0
    assert len([key for key in seen if key[0] >= 500]) >= 3, seen  # the faults did fire
    assert not [r for r in caplog.records if r.name.startswith("uvicorn")], caplog.records
