"""The client against a server not shaped around it: the README's retry table, cell by cell.

A raw asyncio HTTP/1.1 server (:mod:`tests._support.rawserver`, no aiohttp server, no simulator)
answers the first request of the operation under test with a scripted fault, then
healthily. Each scenario belongs to one row of :data:`RETRY_TABLE`, the table the README's
"Retries" section shows (``python -m tests.wire.test_adversarial`` prints it), and every scenario
is run as a read (getPerson), a write (createPerson) and a write with ``reconcile_writes``
(the settling getPerson answers "not found"), checking the outcome and what crossed the
socket against the row's cells.

No test waits real seconds: limits are in milliseconds, hangs end at the read limit, and
the cancellation races move the event loop's clock instead of sleeping.
"""

from __future__ import annotations

import asyncio
import dataclasses
import gzip
import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Final

import pytest
import tenacity  # noqa: F401  (imported here, never inside a race's window of loop time)

from tests._support.builders import read_request, write_request
from tests._support.mocks import no_wait
from tests._support.rawserver import (
    Action,
    RawServer,
    answer_json,
    bomb,
    close,
    compressed,
    hang,
    head,
    raw,
    reset,
    respond,
    trickle,
)
from wsone_async import (
    APIError,
    APITimeoutError,
    AuthenticationError,
    HTTPStatusError,
    NotFoundError,
    OutcomeUnknownError,
    RateLimitError,
    ResponseDecodeError,
    ResponseTooLargeError,
    RetryPolicy,
    ServerError,
    Timeouts,
    WsOneClient,
    WsOneError,
)

README: Final = Path(__file__).resolve().parents[2] / "README.md"
START_MARKER: Final = "<!-- retry-table:start -->"
END_MARKER: Final = "<!-- retry-table:end -->"

CAP: Final = 64 * 1024
"""The client's max_response_size in this suite; bombs decompress to 64 times as much."""
BOMB: Final = 4 * 1024 * 1024


# ------------------------------------------------------------------------- the table


@dataclasses.dataclass(frozen=True)
class Row:
    """One row of the retry table: a kind of failure and what each kind of call does."""

    failure: str
    read: str
    write: str
    reconcile: str
    raised: str = ""
    """The README's words for the error raised at once, in ``"raised"`` cells."""


#: Outcome -> the README's words for it.
OUTCOME_TEXT: Final = {
    "ok": "answered",
    "retried": "retried",
    "unknown": "**`OutcomeUnknownError`**",
    "settled": "settled by a lookup; resent if not applied",
}

RETRY_TABLE: Final[dict[str, Row]] = {
    "not sent": Row(
        "connection refused, DNS failure, no connection within `connect`",
        "retried",
        "retried",
        "retried",
    ),
    "429": Row("HTTP 429 (`Retry-After` honoured)", "retried", "retried", "retried"),
    "503 refused": Row(
        "HTTP 503 **with** `Retry-After`: the origin refuses, on purpose",
        "retried",
        "retried",
        "retried",
    ),
    "503 proxy": Row(
        "HTTP 503 **without** `Retry-After` (or with one that cannot be read): a proxy may "
        "answer it after forwarding",
        "retried",
        "unknown",
        "settled",
    ),
    "too long": Row(
        "`Retry-After` longer than `max_retry_after`",
        "raised",
        "raised",
        "raised",
        "`RateLimitError` (429) or `ServerError` (503) at once, with `.retry_after`",
    ),
    "5xx": Row("HTTP 408, 500, 502, 504", "retried", "unknown", "settled"),
    "lost": Row(
        "no answer within `read` or `attempt`; connection closed or reset after sending; an "
        "answer cut short, unterminated or malformed (conflicting lengths)",
        "retried",
        "unknown",
        "settled",
    ),
    "not wsone": Row(
        "HTTP 200 that is not a WsOne answer: not JSON, an encoding not asked for, or JSON "
        'with no `responseCode` and no block the model knows (`{}`, `{"message": ...}`, '
        '`{"responseCode": null}`, a code nested one level down)',
        "retried",
        "unknown",
        "settled",
    ),
    "block": Row(
        "HTTP 200 with no `responseCode` but a block the model knows (the vendor's "
        "getFullPerson example)",
        "ok",
        "unknown",
        "settled",
    ),
    "shape": Row(
        'HTTP 200 with JSON that does not fit the model (a `responseCode` of `0`, not `"000"`, '
        "included)",
        "raised",
        "unknown",
        "settled",
        "`ResponseDecodeError`",
    ),
    "too large": Row(
        "an answer larger than `max_response_size` once decompressed (a gzip or deflate bomb "
        "with a small `Content-Length`)",
        "raised",
        "unknown",
        "settled",
        "`ResponseTooLargeError`",
    ),
    "4xx": Row(
        "HTTP 401/403, other 4xx",
        "raised",
        "raised",
        "raised",
        "`AuthenticationError` / `HTTPStatusError`",
    ),
    "refused": Row(
        '`responseCode` other than `"000"`',
        "raised",
        "raised",
        "raised",
        "`APIError` (a read is retried if its registered class says `retryable = True`)",
    ),
    "healthy": Row(
        'an answer with `responseCode` `"000"`, however it arrives (one byte at a time, after '
        "`100 Continue` or `103 Early Hints`, gzip or deflate)",
        "ok",
        "ok",
        "ok",
    ),
}

COLUMNS: Final = (
    ("read", "read (`get*`, `search*`, `verify*`, `getLast*`)"),
    ("write", "write (every other operation)"),
    ("reconcile", "write, `reconcile_writes=True` (person creations, receipts)"),
)


def _cell(row: Row, column: str) -> str:
    outcome = getattr(row, column)
    if outcome != "raised":
        return OUTCOME_TEXT[outcome]
    return "same" if column != "read" and row.read == "raised" else row.raised


def retry_table_markdown() -> str:
    """The retry table as Markdown, for the README."""
    headers = ["failure", *(header for _, header in COLUMNS)]
    lines = ["| " + " | ".join(headers) + " |", "| " + " | ".join("---" for _ in headers) + " |"]
    for row in RETRY_TABLE.values():
        cells = [_cell(row, column) for column, _ in COLUMNS]
        lines.append("| " + " | ".join([row.failure, *cells]) + " |")
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------- the scenarios

OK: Final = {"responseCode": "000", "infos": "Request successfully processed"}
PERSON: Final = {"responseCode": "000", "PersonResponse": {"PersonResponse": {"lastName": "X"}}}
NOT_FOUND: Final = {"responseCode": "101", "infos": "Person not found"}
ENVOY_503: Final = b"upstream connect error or disconnect/reset before headers. reset reason: "
JSON_HEADERS: Final = {"Content-Type": "application/json"}
OK_BYTES: Final = b'{"responseCode": "000", "infos": "ok"}'
ABSURD_DATE: Final = "Fri, 31 Dec 99999999999999999999 23:59:59 GMT"

FAST: Final = Timeouts(connect=1.0, read=1.0, attempt=2.0, total=5.0)
SILENT: Final = Timeouts(connect=1.0, read=0.2, attempt=2.0, total=5.0)
"""A read limit a hanging server meets, with room for a loaded machine's healthy answers."""


@dataclasses.dataclass(frozen=True)
class Scenario:
    """A fault of the first answer, and the row of the table it belongs to."""

    row: str
    first: Callable[[], Action]
    error: type[WsOneError] | None = None
    """The exact error raised, in the row's ``"raised"`` cells."""
    timeouts: Timeouts = FAST


def _status(
    code: int, headers: dict[str, str] | None = None, body: bytes = b""
) -> Callable[[], Action]:
    return lambda: respond(code, body, headers)


def _json(data: Any) -> Callable[[], Action]:
    return lambda: answer_json(data)


def _bytes(data: bytes, *, close_after: bool = True) -> Callable[[], Action]:
    return lambda: raw(data, close=close_after)


SCENARIOS: Final[dict[str, Scenario]] = {
    "429": Scenario("429", _status(429)),
    "429 Retry-After 0": Scenario("429", _status(429, {"Retry-After": "0"})),
    "429 Retry-After absurd year": Scenario("429", _status(429, {"Retry-After": ABSURD_DATE})),
    "429 Retry-After negative": Scenario("429", _status(429, {"Retry-After": "-5"})),
    "503 Retry-After 0": Scenario("503 refused", _status(503, {"Retry-After": "0"})),
    "503 Retry-After past date": Scenario(
        "503 refused", _status(503, {"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"})
    ),
    "503 empty": Scenario("503 proxy", _status(503)),
    "503 from a proxy (Envoy)": Scenario(
        "503 proxy", _status(503, {"Content-Type": "text/plain"}, ENVOY_503)
    ),
    "503 Retry-After unreadable": Scenario("503 proxy", _status(503, {"Retry-After": "soon"})),
    "503 Retry-After absurd year": Scenario(
        "503 proxy", _status(503, {"Retry-After": ABSURD_DATE})
    ),
    "429 Retry-After 1 hour": Scenario(
        "too long", _status(429, {"Retry-After": "3600"}), RateLimitError
    ),
    "503 Retry-After 1 hour": Scenario(
        "too long", _status(503, {"Retry-After": "3600"}), ServerError
    ),
    "408": Scenario("5xx", _status(408)),
    "500": Scenario("5xx", _status(500)),
    "502 from a proxy": Scenario("5xx", _status(502, {"Content-Type": "text/html"}, b"<html/>")),
    "504 from a proxy": Scenario("5xx", _status(504)),
    "silence beyond the read limit": Scenario("lost", hang, timeouts=SILENT),
    "closed after reading the request": Scenario("lost", close),
    "reset after reading the request": Scenario("lost", reset),
    "body cut short": Scenario(
        "lost", _bytes(head(200, JSON_HEADERS, length=100) + b'{"responseCode": "0')
    ),
    "headers cut short": Scenario("lost", _bytes(b"HTTP/1.1 200 OK\r\nContent-Ty")),
    "unterminated chunked body": Scenario(
        "lost",
        _bytes(
            head(200, {**JSON_HEADERS, "Transfer-Encoding": "chunked"}, length=None)
            + b'10\r\n{"responseCode":'
        ),
    ),
    "Content-Length and chunked": Scenario(
        "lost",
        _bytes(
            head(
                200,
                {**JSON_HEADERS, "Content-Length": "5", "Transfer-Encoding": "chunked"},
                length=None,
            )
            + f"{len(OK_BYTES):x}\r\n".encode()
            + OK_BYTES
            + b"\r\n0\r\n\r\n"
        ),
    ),
    "two Content-Lengths": Scenario(
        "lost",
        _bytes(b"HTTP/1.1 200 OK\r\nContent-Length: 38\r\nContent-Length: 5\r\n\r\n" + OK_BYTES),
    ),
    "HTML page": Scenario("not wsone", _status(200, {"Content-Type": "text/html"}, b"<html/>")),
    "{}": Scenario("not wsone", _json({})),
    '{"message": ...}': Scenario("not wsone", _json({"message": "Internal server error"})),
    '{"error": {...}}': Scenario("not wsone", _json({"error": {"code": 500, "status": "x"}})),
    '{"responseCode": null}': Scenario("not wsone", _json({"responseCode": None})),
    "nested responseCode": Scenario("not wsone", _json({"result": {"responseCode": "000"}})),
    "br, not asked for": Scenario(
        "not wsone",
        _status(200, {**JSON_HEADERS, "Content-Encoding": "br"}, b"\x8b\x02\x80{}\x03"),
    ),
    "corrupt gzip": Scenario(
        "not wsone",
        _status(200, {**JSON_HEADERS, "Content-Encoding": "gzip"}, gzip.compress(OK_BYTES)[:-9]),
    ),
    "a known block, no responseCode": Scenario(
        "block", _json({"PersonResponse": {"PersonResponse": {"lastName": "X"}}})
    ),
    "a field of the wrong type": Scenario(
        "shape", _json({"responseCode": "000", "infos": ["not", "text"]}), ResponseDecodeError
    ),
    "responseCode 0": Scenario("shape", _json({"responseCode": 0}), ResponseDecodeError),
    "gzip bomb": Scenario("too large", lambda: bomb(BOMB), ResponseTooLargeError),
    "deflate bomb": Scenario("too large", lambda: bomb(BOMB, "deflate"), ResponseTooLargeError),
    "chunked gzip bomb": Scenario(
        "too large", lambda: bomb(BOMB, chunked=True), ResponseTooLargeError
    ),
    "plain body over the cap": Scenario(
        "too large",
        _status(200, JSON_HEADERS, b'{"responseCode": "000", "x": "' + b"a" * CAP + b'"}'),
        ResponseTooLargeError,
    ),
    "401": Scenario("4xx", _status(401), AuthenticationError),
    "403": Scenario("4xx", _status(403), AuthenticationError),
    "404": Scenario("4xx", _status(404), HTTPStatusError),
    "responseCode 101": Scenario("refused", _json({"responseCode": "101"}), NotFoundError),
    "responseCode as free text": Scenario(
        "refused", _json({"responseCode": "Jean Dupond, 1 rue X, is blocked"}), APIError
    ),
    "one byte at a time": Scenario(
        "healthy", lambda: trickle(head(200, JSON_HEADERS, length=len(OK_BYTES)) + OK_BYTES)
    ),
    "100 Continue first": Scenario(
        "healthy",
        _bytes(
            b"HTTP/1.1 100 Continue\r\n\r\n"
            + head(200, JSON_HEADERS, length=len(OK_BYTES))
            + OK_BYTES,
            close_after=False,
        ),
    ),
    "103 Early Hints first": Scenario(
        "healthy",
        _bytes(
            b"HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n"
            + head(200, JSON_HEADERS, length=len(OK_BYTES))
            + OK_BYTES,
            close_after=False,
        ),
    ),
    "gzip": Scenario("healthy", lambda: compressed(OK, "gzip")),
    "deflate": Scenario("healthy", lambda: compressed(OK, "deflate")),
    "raw deflate": Scenario("healthy", lambda: compressed(OK, "raw deflate")),
}

#: Rows no raw-server scenario can reach (a refused connection needs no server): the
#: mocked suite covers them.
ELSEWHERE: Final = {"not sent": "tests/unit/test_client_retry.py"}


# ---------------------------------------------------------------------------- harness


def _adversarial_client(
    url: str, *, reconcile: bool, timeouts: Timeouts = FAST, **kwargs: Any
) -> WsOneClient:
    return WsOneClient._with_hooks(
        url,
        username="api",
        password="pw",
        timeout=timeouts,
        retry=RetryPolicy(max_retries=1, reconcile_writes=reconcile),
        max_response_size=CAP,
        sleep=no_wait,
        **{"codes": {"101": NotFoundError}, **kwargs},  # the settler's "not found"
    )


def _serve_healthily(server: RawServer, column: str) -> None:
    server.default("getPerson", answer_json(PERSON if column == "read" else NOT_FOUND))
    server.default("createPerson", answer_json(OK))


# ------------------------------------------------------------------------------ tests


@pytest.mark.parametrize("column", [column for column, _ in COLUMNS])
@pytest.mark.parametrize("name", list(SCENARIOS))
async def test_each_fault_follows_the_retry_table(name: str, column: str) -> None:
    scenario = SCENARIOS[name]
    outcome = getattr(RETRY_TABLE[scenario.row], column)
    operation = "getPerson" if column == "read" else "createPerson"
    async with RawServer() as server:
        _serve_healthily(server, column)
        server.script(operation, scenario.first())
        client = _adversarial_client(
            server.url, reconcile=column == "reconcile", timeouts=scenario.timeouts
        )
        error: WsOneError | None = None
        answer: Any = None
        async with client:
            try:
                if column == "read":
                    answer = await client.get_person(read_request())
                else:
                    answer = await client.create_person(write_request())
            except WsOneError as raised:
                error = raised
    lookups = server.received["getPerson"] if column != "read" else 0
    sent = server.received[operation]
    if outcome in ("ok", "retried", "settled"):
        assert error is None, f"{outcome} expected, got {error!r}"
        assert sent == {"ok": 1, "retried": 2, "settled": 2}[outcome]
        assert lookups == (1 if outcome == "settled" else 0)
        if column == "read" and outcome == "retried":
            assert answer.person_response is not None
    elif outcome == "unknown":
        assert type(error) is OutcomeUnknownError, error
        assert error.__cause__ is not None
        assert (sent, lookups) == (1, 0)
    else:
        assert outcome == "raised"
        assert scenario.error is not None
        assert type(error) is scenario.error, error
        assert (sent, lookups) == (1, 0)


def test_every_row_has_a_scenario_and_every_scenario_a_row() -> None:
    rows = {scenario.row for scenario in SCENARIOS.values()}
    assert rows | set(ELSEWHERE) == set(RETRY_TABLE)
    for scenario in SCENARIOS.values():
        row = RETRY_TABLE[scenario.row]
        assert ("raised" in (row.read, row.write, row.reconcile)) is (scenario.error is not None)


def test_the_readme_shows_this_retry_table() -> None:
    text = README.read_text(encoding="utf-8")
    assert START_MARKER in text and END_MARKER in text, (
        f"README.md needs the output of `python -m tests.wire.test_adversarial` between "
        f"{START_MARKER} and {END_MARKER}"
    )
    shown = text.split(START_MARKER, 1)[1].split(END_MARKER, 1)[0]
    assert shown.strip("\n") == retry_table_markdown().strip("\n")


if __name__ == "__main__":
    print(retry_table_markdown(), end="")


# ----------------------------------------------------------------- cancellation races


class LoopClock:
    """Moves the running event loop's clock forward: due timers fire on its next turn."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._real = loop.time
        self.offset = 0.0
        self.frozen_at: float | None = None

    def advance(self, seconds: float) -> None:
        self.offset += seconds

    def freeze(self) -> None:
        """From now on the loop's clock stands still (until advanced): only due timers fire."""
        self.frozen_at = self._real()

    def time(self) -> float:
        return (self._real() if self.frozen_at is None else self.frozen_at) + self.offset


@contextmanager
def loop_clock() -> Iterator[LoopClock]:
    loop = asyncio.get_running_loop()
    clock = LoopClock(loop)
    loop.time = clock.time  # type: ignore[method-assign]
    try:
        yield clock
    finally:
        del loop.time  # the class's method again


CALLS: Final = {
    "read": ("getPerson", lambda client: client.get_person(read_request())),
    "write": ("createPerson", lambda client: client.create_person(write_request())),
}
HANGING: Final = Timeouts(connect=1.0, read=None, attempt=0.5, total=5.0)


@pytest.mark.parametrize("kind", list(CALLS))
@pytest.mark.parametrize("order", ["cancel first", "limit first"])
async def test_a_cancel_at_the_attempt_limit_stays_a_cancel(kind: str, order: str) -> None:
    """The attempt's limit and a cancel land in the same turn of the loop, in either order:
    the call raises CancelledError, and no other attempt starts."""
    operation, call = CALLS[kind]
    async with RawServer() as server:
        server.default(operation, hang())
        async with _adversarial_client(server.url, reconcile=True, timeouts=HANGING) as client:
            task = asyncio.create_task(call(client))
            await server.arrived[operation].wait()
            loop = asyncio.get_running_loop()
            with loop_clock() as clock:
                # The attempt's timer is due at most HANGING.attempt after now.
                due = loop.time() + HANGING.attempt
                if order == "cancel first":
                    task.cancel()
                else:
                    loop.call_at(due + 0.01, task.cancel)  # after the limit's own timer
                clock.advance(HANGING.attempt + 0.02)
                with pytest.raises(asyncio.CancelledError):
                    await task
        assert server.received[operation] == 1
        assert server.received["getPerson" if kind == "write" else "createPerson"] == 0


async def test_a_limit_of_several_seconds_is_not_rounded_up() -> None:
    """aiohttp rounds limits of 5 s and more up to the next second; the client's own timer
    expires when the limit says."""
    limits = Timeouts(connect=1.0, read=None, attempt=5.5, total=5.5)
    loop = asyncio.get_running_loop()
    async with RawServer() as server:
        server.default("getPerson", hang())
        # The call's deadline on the loop's clock too, so that it sees the jump.
        client = _adversarial_client(
            server.url, reconcile=False, timeouts=limits, clock=lambda: loop.time()
        )
        async with client:
            task = asyncio.create_task(client.get_person(read_request()))
            await server.arrived["getPerson"].wait()
            with loop_clock() as clock:
                clock.advance(5.5 + 0.01)
                # Due now, and the clock stands still: turns of the loop, not time, settle
                # it. A limit rounded up to the next second (6 s) would stay pending
                # however many turns passed; 100 is far more than the few needed.
                clock.freeze()
                for _ in range(100):
                    if task.done():
                        break
                    await asyncio.sleep(0)
                assert task.done()
                error = task.exception()
    assert isinstance(error, APITimeoutError)
    assert error.limit == "total"
    assert "getPerson" in str(error) and "total limit" in str(error)
    assert server.received["getPerson"] == 1  # the deadline left no time for a retry


async def test_time_limit_errors_name_the_operation_and_the_limit() -> None:
    async with RawServer() as server:
        server.default("getPerson", hang())
        async with _adversarial_client(server.url, reconcile=False, timeouts=SILENT) as client:
            with pytest.raises(APITimeoutError) as read_limit:
                await client.with_options(retry=RetryPolicy(max_retries=0)).get_person(
                    read_request()
                )
            task = asyncio.create_task(
                client.with_options(timeout=HANGING, retry=RetryPolicy(max_retries=0)).get_person(
                    read_request()
                )
            )
            server.arrived["getPerson"].clear()
            await server.arrived["getPerson"].wait()
            with loop_clock() as clock:
                clock.advance(HANGING.attempt + 0.02)
                with pytest.raises(APITimeoutError) as attempt_limit:
                    await task
    assert read_limit.value.limit == "read"
    assert str(read_limit.value).startswith("getPerson: ")
    assert "read limit" in str(read_limit.value)
    assert attempt_limit.value.limit == "attempt"
    assert "getPerson" in str(attempt_limit.value) and "attempt limit" in str(attempt_limit.value)


# -------------------------------------------------------------- escapes and leaks


@pytest.mark.parametrize("field", ["username", "password"])
def test_a_credential_utf8_cannot_encode_is_a_clear_value_error(field: str) -> None:
    # What os.environ gives for the Latin-1 byte of "é" in a UTF-8 locale.
    secret = "p\udce9ssw0rd-XYZ"
    credentials = {"username": "api", "password": "pw", field: secret}
    with pytest.raises(ValueError, match=f"{field} cannot be encoded as UTF-8") as info:
        WsOneClient._with_hooks("https://wsone.example.fr", **credentials)
    error = info.value
    for text in (str(error), repr(error), repr(error.__cause__), repr(error.__context__)):
        assert "w0rd-XYZ" not in text and "\udce9" not in text
    assert error.__cause__ is None and error.__context__ is None


def test_when_both_credentials_cannot_encode_the_username_is_named() -> None:
    with pytest.raises(ValueError, match="the username cannot be encoded") as info:
        WsOneClient._with_hooks(
            "https://wsone.example.fr", username="\udce9pi", password="p\udce9ss"
        )
    assert info.value.__context__ is None


async def test_debug_logs_hide_keys_the_server_chose(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="wsone_async")
    answer = {
        **PERSON,
        "jean.dupont@example.fr": {"0611223344": "x"},
        "PersonResponse": {"PersonResponse": {"lastName": "X"}, "Marie Curie": 1},
    }
    async with RawServer() as server:
        server.default("getPerson", answer_json(answer))
        async with _adversarial_client(server.url, reconcile=False) as client:
            await client.get_person(read_request())
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "getPerson answer" in logged
    assert "PersonResponse" in logged  # declared keys stay, for debugging
    for leak in ("jean.dupont", "0611223344", "Marie Curie"):
        assert leak not in logged


async def test_a_free_text_response_code_stays_out_of_the_message() -> None:
    code = "Jean Dupond, 1 rue X, is blocked"
    async with RawServer() as server:
        server.default("getPerson", answer_json({"responseCode": code}))
        async with _adversarial_client(server.url, reconcile=False) as client:
            with pytest.raises(APIError) as info:
                await client.get_person(read_request())
    assert info.value.code == code  # kept whole, for the caller's code
    assert "Dupond" not in str(info.value) and "Dupond" not in repr(info.value)
    assert "getPerson" in str(info.value)


# ------------------------------------------------------------------------ keep-alive


class ClosingServer:
    """A plain-socket HTTP server in its own thread: it answers a connection's requests and
    closes a connection when told, while the client's event loop is busy (blocked)."""

    def __init__(self) -> None:
        import socket

        self._listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._listener.getsockname()[1]}"
        self.requests = 0
        self.connections: list[Any] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)

    def __enter__(self) -> ClosingServer:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        import socket

        self._stop.set()
        # A connection wakes the accepting thread, which then sees the stop.
        socket.create_connection(self._listener.getsockname()).close()
        self._thread.join(timeout=5)
        self._listener.close()
        for connection in self.connections:
            connection.close()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                connection, _ = self._listener.accept()
            except OSError:
                return
            if self._stop.is_set():
                connection.close()
                return
            self.connections.append(connection)
            threading.Thread(target=self._serve, args=(connection,), daemon=True).start()

    def _serve(self, connection: Any) -> None:
        buffer = b""
        while True:
            try:
                data = connection.recv(65536)
            except OSError:
                return
            if not data:
                return
            buffer += data
            while b"\r\n\r\n" in buffer:
                header, rest = buffer.split(b"\r\n\r\n", 1)
                length = 0
                for line in header.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":", 1)[1])
                if len(rest) < length:
                    break
                buffer = rest[length:]
                self.requests += 1
                connection.sendall(head(200, JSON_HEADERS, length=len(OK_BYTES)) + OK_BYTES)

    def close_idle_connections(self) -> None:
        """Close every connection now, from the calling thread (the loop stays blocked)."""
        import socket

        for connection in self.connections:
            connection.shutdown(socket.SHUT_RDWR)
            connection.close()
        self.connections.clear()


async def test_a_write_is_never_sent_on_a_kept_alive_connection_the_server_closed() -> None:
    with ClosingServer() as server:
        async with _adversarial_client(server.url, reconcile=False) as client:
            await client.create_person(write_request("first@example.fr"))
            # The server closes the idle connection while the event loop is busy (this
            # test blocks it): aiohttp has not seen the close when the next call starts.
            server.close_idle_connections()
            answer = await client.create_person(write_request("second@example.fr"))
    assert answer.response_code == "000"
    assert server.requests == 2


async def test_idle_connections_are_kept_less_than_common_server_idle_timeouts() -> None:
    async with RawServer() as server:
        server.default("getPerson", answer_json(PERSON))
        async with _adversarial_client(server.url, reconcile=False) as client:
            await client.get_person(read_request())
            connector: Any = client._shared.transport.session.connector  # type: ignore[union-attr]
            assert connector._keepalive_timeout == 4.0
        custom = _adversarial_client(server.url, reconcile=False, keepalive_timeout=1.5)
        async with custom:
            await custom.get_person(read_request())
            connector = custom._shared.transport.session.connector  # type: ignore[union-attr]
            assert connector._keepalive_timeout == 1.5
    with pytest.raises(ValueError, match="keepalive_timeout"):
        _adversarial_client("http://127.0.0.1:1", reconcile=False, keepalive_timeout=0)
