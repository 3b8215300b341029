"""Fuzzing the response decoder: whatever comes back, only a WsOneError ever escapes.

``decode_reply`` gets arbitrary bytes, arbitrary JSON (huge integers, NaN, deep nesting),
WsOne-looking bodies with mutated fields, any HTTP status from 100 to 599 and any
``Retry-After`` header, for several response models, with DEBUG logging on so that the
redacted log of each answer is built too; ``decode_reply_in_steps`` (large answers) must
give the same model or raise the same error. ``parse_retry_after`` must never raise. Then the
same, end to end and fewer times, through ``WsOneClient`` over mocked HTTP (aioresponses),
with aiohttp failures thrown in: a call raises a ``WsOneError`` or returns its model, never
a bare ``ValueError``, ``KeyError``, ``TypeError``, orjson or aiohttp error.

Two bugs were found this way and fixed (a ``Retry-After`` of non-ASCII digits, a deeply
nested ``responseCode``); the tests that found them stay below.

Hypothesis raises the recursion limit while it runs an example (by about 2000 frames), so a
recursion overflow cannot show inside ``@given``: deep nesting is also tried without
Hypothesis, at the normal limit, in ``test_deep_nesting_at_the_normal_recursion_limit``.
"""

from __future__ import annotations

import copy
import datetime as dt
import email.utils
import json
import logging
import re
import ssl
from collections.abc import Callable, Iterator
from typing import Any

import aiohttp
import orjson
import pytest
import yarl
from aiohttp.client_reqrep import ConnectionKey
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from multidict import CIMultiDict, CIMultiDictProxy

from tests._support.builders import full_person_answer, run_steps
from tests._support.data import example
from tests._support.mocks import FakeClock, MockedWsOne
from tests._support.strategies import models
from wsone_async import (
    APIError,
    RateLimitError,
    ResponseDecodeError,
    RetryPolicy,
    ServerError,
    WsOneClient,
    WsOneError,
    to_wire,
)
from wsone_async import models as m
from wsone_async import operations as ops
from wsone_async._codec import STEP_BYTES, wire_name
from wsone_async._transport import Reply, decode_reply, decode_reply_in_steps, parse_retry_after
from wsone_async.models._base import model_fields

BASE = "https://wsone.example.fr"

RESPONSE_TYPES: list[type[m.Model]] = [
    m.CreatePersonResponse,
    m.CreateIdentifierResponse,
    m.GetPersonResponse,
    m.GetFullPersonResponse,
    m.SearchPersonResponse,
    m.GetAccountsResponse,
    m.GetAvailableOffersResponse,
    m.GetEntitiesResponse,
    m.GetFormResponse,
    m.VerifyTransactionResponse,
    m.SendAndValidTransactionResponse,
]

CARD = m.IdentifierRequest(identifier_type=m.IdentifierType.CARD, identifier_value="2900012345678")
GET_PERSON = m.GetPersonRequest(identifier_request=CARD)
CREATE_PERSON = m.CreatePersonRequest(
    new_identifier_request=m.NewIdentifierRequest(
        identifier_type=m.IdentifierType.WEB_ACCOUNT, identifier_value="jean@example.fr"
    ),
    person_profil_request=m.PersonProfilRequest(
        person_request=m.PersonRequest(
            first_name="Jean", last_name="Dupond", birth_date=dt.date(1990, 1, 31)
        )
    ),
)
REQUESTS: list[m.Model] = [GET_PERSON, CREATE_PERSON]

#: Every wire key the models know: mutations put wrong values under the keys that matter.
WIRE_KEYS = sorted(
    {
        wire_name(cls, info)
        for name in m.__all__
        if isinstance(cls := getattr(m, name), type) and issubclass(cls, m.Model)
        for info in model_fields(cls)
    }
)

# How deep the fuzzing nests a responseCode (orjson itself stops at 1024): a nested code
# once overflowed the recursion limit, see test_a_deeply_nested_response_code_raises_...
MAX_CODE_DEPTH = 1000


# --------------------------------------------------------------------------- strategies

huge_ints = st.integers() | st.integers(2**63, 10**80) | st.integers(-(10**80), -(2**63) - 1)
json_scalars = (
    st.none()
    | st.booleans()
    | huge_ints
    | st.floats()  # NaN and infinities too: json.dumps writes them, orjson refuses them
    | st.text(max_size=20)
    | st.sampled_from(["000", "101", "27/11/1983", "2025-09-24 11:20:00.000", "10", "1"])
)
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.sampled_from(WIRE_KEYS) | st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=16,
)

VENDOR_BODIES = [
    example("createPerson_response"),
    example("createIdentifier_response"),
    example("getFullPerson_response"),
]


def _containers(data: Any) -> Iterator[Any]:
    pending = [data]
    while pending:
        node = pending.pop()
        if isinstance(node, dict | list):
            yield node
            pending += list(node.values()) if isinstance(node, dict) else node


@st.composite
def mutated_bodies(draw: st.DrawFn) -> Any:
    """A WsOne-looking answer (a vendor example or a valid model) with a few fields changed."""
    base = draw(
        st.sampled_from(VENDOR_BODIES)
        | st.sampled_from(RESPONSE_TYPES).flatmap(lambda cls: models(cls).map(to_wire))
    )
    data = copy.deepcopy(base)
    for _ in range(draw(st.integers(1, 4))):
        containers = list(_containers(data))
        if not containers:
            return data
        node = draw(st.sampled_from(containers))
        if isinstance(node, dict):
            if node and draw(st.booleans()):
                key = draw(st.sampled_from(sorted(node)))
                if draw(st.booleans()):
                    node[key] = draw(json_values)
                else:
                    del node[key]
            else:
                node[draw(st.sampled_from(WIRE_KEYS) | st.text(max_size=8))] = draw(json_values)
        elif node:
            node[draw(st.integers(0, len(node) - 1))] = draw(json_values)
        else:
            node.append(draw(json_values))
    return data


def _to_bytes(value: Any, ascii_only: bool) -> bytes:
    # The standard library writes huge integers and NaN, which orjson (the client's parser)
    # refuses or reads as floats; lone surrogates become invalid UTF-8.
    return json.dumps(value, ensure_ascii=ascii_only).encode("utf-8", "surrogatepass")


@st.composite
def deep_bodies(draw: st.DrawFn) -> bytes:
    """JSON nested up to and past orjson's depth limit (1024), at the top or under a key."""
    key = draw(
        st.sampled_from(
            [None, "responseCode", "responseCode", "infos", "PersonResponse", "zzUnknown"]
        )
    )
    # Around Python's recursion limit (1000) and orjson's depth limit (1024), or anything.
    depth = draw(st.sampled_from([900, 990, 1000, 1022, 1023, 1024, 1025]) | st.integers(1, 1100))
    if key == "responseCode":
        depth = min(depth, MAX_CODE_DEPTH)
    leaf = draw(st.sampled_from(["0", '"x"', "null", "[]", "{}", "1e999"]))
    if draw(st.booleans()):
        nested = "[" * depth + leaf + "]" * depth
    else:
        nested = '{"k":' * depth + leaf + "}" * depth
    if key is None:
        return nested.encode()
    return f'{{"responseCode": "000", "{key}": {nested}}}'.encode()


def _classifications_body(nested: str) -> bytes:
    # A raw JSON field (OfferResponse.classifications) holds any value, however deep.
    return ('{"OffersResponse": {"GetOffersResponses": [{"classifications": ' + nested).encode()


bodies = st.one_of(
    st.binary(max_size=300),
    st.tuples(json_values, st.booleans()).map(lambda v: _to_bytes(*v)),
    st.tuples(mutated_bodies(), st.booleans()).map(lambda v: _to_bytes(*v)),
    deep_bodies(),
    st.integers(1, 1100).map(lambda d: _classifications_body("[" * d + "]" * d + "}]}}")),
)

http_dates = st.datetimes(min_value=dt.datetime(1, 1, 2), max_value=dt.datetime(9999, 12, 30)).map(
    lambda d: email.utils.format_datetime(d.replace(tzinfo=dt.UTC), usegmt=True)
)
retry_after_values = st.one_of(
    st.none(),
    st.text(max_size=40),
    # Digits of every kind, as str.isdigit() and float() see them differently.
    st.text(st.characters(categories=["Nd", "No", "Nl", "Zs"]), max_size=4),
    st.text(st.sampled_from("0123456789 .+-e²³¹⁴①⑦٣١２５"), min_size=1, max_size=5),
    huge_ints.map(str),
    st.floats().map(repr),
    st.from_regex(r"\A\s*\d{1,400}(\.\d*)?\s*\Z"),
    http_dates,
    st.sampled_from(
        [
            "",
            " ",
            "nan",
            "-inf",
            "1e400",
            "-1",
            "0",
            "1_000",
            "١٢",  # Arabic-Indic digits: decimal, so float() reads them
            "１２",  # full-width digits: decimal too
            "Wed, 21 Oct 2015 07:28:00 GMT",
            "Fri, 31 Dec 9999 23:59:59 GMT",
            "Mon, 01 Jan 0001 00:00:00 GMT",
            "Mon, 01 Jan 2024 00:00:00 +9999",
            "Mon, 01 Jan 2024 00:00:00 -2400",
            "Tue, 29 Feb 2023 00:00:00 GMT",
            "Sun, 06 Nov 1994 08:49:37",
            "Sunday, 06-Nov-94 08:49:37 GMT",
        ]
    ),
)
statuses = st.one_of(
    st.just(200), st.sampled_from([201, 204, 401, 429, 500, 503]), st.integers(100, 599)
)


@pytest.fixture(scope="module", autouse=True)
def _debug_logs_are_built() -> Iterator[list[str]]:
    """The wsone_async logger at DEBUG with a handler that formats every record."""
    lines: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(self.format(record))
            del lines[:-10]

    logger = logging.getLogger("wsone_async")
    handler, level = Keep(logging.DEBUG), logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        yield lines
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


# Deep and large bodies are the point here: the health checks against them do not apply.
SLOW_OR_LARGE = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example]
FUZZ = settings(deadline=None, database=None, suppress_health_check=SLOW_OR_LARGE)


# ------------------------------------------------------------------------- decode_reply


@settings(FUZZ, max_examples=300)
@given(
    status=statuses,
    retry_after=retry_after_values,
    body=bodies,
    response_type=st.sampled_from(RESPONSE_TYPES),
    request=st.sampled_from(REQUESTS),
)
def test_decode_reply_raises_only_wsone_errors(
    status: int,
    retry_after: str | None,
    body: bytes,
    response_type: type[m.Model],
    request: m.Model,
) -> None:
    try:
        decoded = decode_reply(Reply(status, retry_after, body), response_type, operation="op")
    except WsOneError as error:
        assert str(error) and repr(error)  # usable as they are
    else:
        assert 200 <= status <= 299
        assert type(decoded) is response_type


json_answers = st.one_of(
    st.tuples(mutated_bodies(), st.booleans()).map(lambda v: _to_bytes(*v)),
    st.tuples(mutated_bodies(), st.booleans()).map(lambda v: _to_bytes(*v)),
    st.tuples(json_values, st.booleans()).map(lambda v: _to_bytes(*v)),
    deep_bodies(),
)


@settings(FUZZ, max_examples=150)
@given(body=json_answers)
def test_json_answers_decode_or_name_the_bad_field(body: bytes) -> None:
    """At HTTP 200: the model, an APIError, or a ResponseDecodeError naming where it failed."""
    try:
        data = json.loads(body)
    except ValueError:
        data = None  # NaN, huge numbers or invalid UTF-8 that orjson may refuse
    for response_type in RESPONSE_TYPES[:5]:
        try:
            decoded = decode_reply(Reply(200, None, body), response_type, operation="op")
        except ResponseDecodeError as error:
            if isinstance(data, dict) and error.path is None:
                # Not a path: the body must have been refused before the model was tried,
                # as not a WsOne answer at all.
                assert "not JSON" in str(error) or "no responseCode" in str(error), error
        except WsOneError as error:
            assert str(error)
        else:
            assert type(decoded) is response_type


# ------------------------------------------------- decode_reply and decode_reply_in_steps


def _decoded_or_raised(decode: Callable[[], Any]) -> Any:
    """The model ``decode()`` gives, or the error it raises as what a caller can see."""
    try:
        return decode()
    except WsOneError as error:
        path, operation = getattr(error, "path", None), getattr(error, "operation", None)
        return type(error), str(error), path, operation, error.retry_after


def _both_ways(reply: Reply, response_type: type[m.Model], write: bool) -> tuple[Any, Any]:
    """What decode_reply gives, then what decode_reply_in_steps gives, for ``reply``."""
    at_once = _decoded_or_raised(
        lambda: decode_reply(reply, response_type, operation="op", write=write)
    )

    def in_steps_to_the_end() -> Any:
        steps = decode_reply_in_steps(reply, response_type, operation="op", write=write)
        return run_steps(steps)[0]

    in_steps = _decoded_or_raised(in_steps_to_the_end)
    return at_once, in_steps


@settings(FUZZ, max_examples=200)
@given(
    status=statuses,
    # Seconds only: the delay of an HTTP date counts from now, so two calls differ.
    retry_after=st.none() | st.integers(0, 10**6).map(str),
    body=bodies,
    response_type=st.sampled_from(RESPONSE_TYPES),
    write=st.booleans(),
)
def test_decode_reply_in_steps_answers_as_decode_reply(
    status: int, retry_after: str | None, body: bytes, response_type: type[m.Model], write: bool
) -> None:
    # The two paths are written apart (decode_reply keeps its hot path short): the same
    # model, or the same error, whatever comes back.
    at_once, in_steps = _both_ways(Reply(status, retry_after, body), response_type, write)
    assert in_steps == at_once


def _large_answer(response_code: str | None, bad_offer: bool, cut: bool) -> bytes:
    """A getFullPerson answer long enough to be parsed in several steps."""
    answer = full_person_answer(400)
    if response_code is None:
        answer.pop("responseCode", None)
    else:
        answer["responseCode"] = response_code
    if bad_offer:
        answer["OffersResponse"]["GetOffersResponses"][-1]["endDate"] = [1]
    body = orjson.dumps(answer)
    assert len(body) > 2 * STEP_BYTES  # parsed in steps, not at once
    return body[:-1] if cut else body


# Each answer is wrong in several ways: the first check in the order (HTTP status, JSON,
# responseCode, model) must decide, the same on both paths.
STAGES = {
    "status": (503, _large_answer("101", bad_offer=True, cut=True), ServerError),
    "JSON": (200, _large_answer("101", bad_offer=True, cut=True), ResponseDecodeError),
    "responseCode": (200, _large_answer("101", bad_offer=True, cut=False), APIError),
    "model": (200, _large_answer("000", bad_offer=True, cut=False), ResponseDecodeError),
    "write without responseCode": (
        200,
        _large_answer(None, bad_offer=True, cut=False),
        ResponseDecodeError,
    ),
}


@pytest.mark.parametrize("stage", list(STAGES))
def test_a_large_answer_is_refused_at_the_same_check_on_both_paths(stage: str) -> None:
    status, body, error_type = STAGES[stage]
    at_once, in_steps = _both_ways(Reply(status, None, body), m.GetFullPersonResponse, True)
    assert in_steps == at_once
    assert issubclass(at_once[0], error_type), at_once
    if stage == "JSON":
        assert "not JSON" in at_once[1]
    if stage == "model":
        assert "endDate" in at_once[2]  # the offer's field, not an earlier check
    if stage == "write without responseCode":
        assert at_once[2] == "$.responseCode"


@settings(FUZZ, max_examples=200)
@given(
    value=retry_after_values,
    now=st.datetimes(
        min_value=dt.datetime(1, 1, 2),
        max_value=dt.datetime(9999, 12, 30),
        timezones=st.just(dt.UTC),
    )
    | st.none(),
)
def test_parse_retry_after_never_raises(value: str | None, now: dt.datetime | None) -> None:
    seconds = parse_retry_after(value, now=now)
    assert seconds is None or seconds >= 0


@pytest.mark.parametrize("value", ["²", "³", "①", "1²", " ⁵ "])
def test_parse_retry_after_ignores_digits_float_cannot_read(value: str) -> None:
    assert parse_retry_after(value) is None
    with pytest.raises(RateLimitError):
        decode_reply(Reply(429, value, b""), m.GetPersonResponse, operation="op")


def test_a_deeply_nested_response_code_raises_a_wsone_error() -> None:
    body = b'{"responseCode": ' + b"[" * 1000 + b"]" * 1000 + b"}"
    with pytest.raises(ResponseDecodeError):
        decode_reply(Reply(200, None, body), m.GetPersonResponse, operation="op")


DEEP_PLACES = {
    "top": "{nested}",
    "infos": '{{"responseCode": "000", "infos": {nested}}}',
    "block": '{{"responseCode": "000", "PersonResponse": {nested}}}',
    "list of blocks": '{{"PersonResponse": {{"IdentifierResponse": {nested}}}}}',
    "unknown key": '{{"responseCode": "000", "zzUnknown": {nested}}}',
    "raw field": '{{"OffersResponse": {{"GetOffersResponses": [{{"classifications": {nested}}}]}}}}',
    "nested envelope": '{{"AccountsResponse": {{"responseCode": {nested}}}}}',
}


@pytest.mark.parametrize("place", sorted(DEEP_PLACES))
@pytest.mark.parametrize("depth", [1000, 1018, 1023, 1100])
@pytest.mark.parametrize("opener", ["[", '{"k":'])
def test_deep_nesting_at_the_normal_recursion_limit(place: str, depth: int, opener: str) -> None:
    closer = "]" if opener == "[" else "}"
    nested = opener * depth + "0" + closer * depth
    body = DEEP_PLACES[place].format(nested=nested).encode()
    for response_type in RESPONSE_TYPES:
        try:
            decode_reply(Reply(200, None, body), response_type, operation="op")
        except WsOneError as error:
            assert str(error)


def test_the_fuzzing_reaches_every_path() -> None:
    """The strategies make bodies the decoder answers in each of its ways (so can fail)."""
    outcomes: set[str] = set()

    @settings(FUZZ, max_examples=200, derandomize=True)  # the same bodies every run
    @given(body=bodies)
    def run(body: bytes) -> None:
        try:
            decode_reply(Reply(200, None, body), m.GetFullPersonResponse, operation="op")
        except WsOneError as error:
            outcomes.add(
                type(error).__name__ + (" at a path" if getattr(error, "path", None) else "")
            )
        else:
            outcomes.add("decoded")

    run()
    assert {
        "decoded",
        "APIError",
        "ResponseDecodeError",
        "ResponseDecodeError at a path",
    } <= outcomes


# ------------------------------------------------------------------- through the client


_KEY = ConnectionKey("wsone.example.fr", 443, True, True, None, None, None)


def _failures() -> list[BaseException]:
    info = aiohttp.RequestInfo(yarl.URL(BASE), "POST", CIMultiDictProxy(CIMultiDict()))
    return [
        aiohttp.ServerDisconnectedError(),
        aiohttp.ClientOSError(104, "Connection reset by peer"),
        aiohttp.ClientPayloadError("Response payload is not completed"),
        aiohttp.ServerTimeoutError("Timeout on reading data from socket"),
        aiohttp.ConnectionTimeoutError("Connection timeout"),
        aiohttp.ClientConnectorError(_KEY, ConnectionRefusedError(111, "Connection refused")),
        aiohttp.ClientConnectorDNSError(_KEY, OSError(-2, "Name or service not known")),
        aiohttp.ClientConnectorCertificateError(_KEY, ssl.SSLCertVerificationError("bad")),
        aiohttp.ClientResponseError(info, (), status=400, message="Bad status line"),
        aiohttp.ClientConnectionResetError("Cannot write to closing transport"),
        TimeoutError(),
        ConnectionResetError(104, "reset"),
        BrokenPipeError(32, "broken pipe"),
    ]


OPERATIONS = [
    ops.GET_PERSON,
    ops.GET_FULL_PERSON,
    ops.CREATE_PERSON,
    ops.SEND_AND_VALID_TRANSACTION,
]
E2E_REQUESTS: dict[str, m.Model] = {
    "getPerson": GET_PERSON,
    "getFullPerson": m.GetFullPersonRequest(identifier_request=CARD),
    "createPerson": CREATE_PERSON,
    "sendAndValidTransaction": m.SendAndValidTransactionRequest(
        identifier_request=CARD,
        receipt_request=m.ReceiptRequest(
            receipt_number="T-1", amount=10.0, entity_request=m.EntityRequest(entity_identifier="1")
        ),
    ),
}


@settings(
    FUZZ,
    max_examples=80,
    # mocked is reset at the start of each example.
    suppress_health_check=[HealthCheck.function_scoped_fixture, *SLOW_OR_LARGE],
)
@given(
    operation=st.sampled_from(OPERATIONS),
    status=statuses,
    retry_after=retry_after_values,
    body=bodies,
    failure=st.none() | st.none() | st.sampled_from(range(len(_failures()))),
    max_retries=st.integers(0, 2),
    reconcile=st.booleans(),
    max_response_size=st.sampled_from([16 * 1024 * 1024, 64]),
)
async def test_calls_raise_only_wsone_errors(
    mocked: MockedWsOne,
    operation: ops.Operation[Any, Any],
    status: int,
    retry_after: str | None,
    body: bytes,
    failure: int | None,
    max_retries: int,
    reconcile: bool,
    max_response_size: int,
) -> None:
    mocked.clear()
    if failure is None:
        headers = {} if retry_after is None else {"Retry-After": retry_after}
        mocked.post(re.compile(r".*"), status=status, body=body, headers=headers, repeat=True)
    else:
        mocked.post(re.compile(r".*"), exception=_failures()[failure], repeat=True)
    before = sum(len(calls) for calls in mocked.requests.values())
    clock = FakeClock()
    policy = RetryPolicy(max_retries=max_retries, reconcile_writes=reconcile)
    async with WsOneClient._with_hooks(
        BASE,
        username="api",
        password="pw",
        retry=policy,
        max_response_size=max_response_size,
        sleep=clock.sleep,
        clock=clock,
    ) as client:
        try:
            answer = await client.call(operation, E2E_REQUESTS[operation.name])
        except WsOneError as error:
            str(error)
            repr(error)
        else:
            assert type(answer) is operation.response_type
    assert sum(len(calls) for calls in mocked.requests.values()) > before  # it was mocked


async def test_a_superscript_retry_after_still_raises_a_wsone_error(mocked: MockedWsOne) -> None:
    mocked.post(re.compile(r".*"), status=429, headers={"Retry-After": "²"}, repeat=True)
    async with WsOneClient(BASE, username="api", password="pw") as client:
        with pytest.raises(RateLimitError):
            await client.get_person(GET_PERSON)
