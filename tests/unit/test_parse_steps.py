"""Parsing a body in steps gives what orjson gives, refuses what orjson refuses, and does
its work a slice at a time.

The reader mixes two parsers (orjson for slices of whole blocks, the standard library's
scanner for the rest, in a window of the body read as Latin-1), so each test compares
with ``decode_json`` (orjson, at once) on bodies written several ways: compact,
pretty-printed, with accents as UTF-8 or as ``\\u`` escapes, with blocks where a slice
cannot end (strings and nested lists holding ``},{``), and with values across the
window's edge. (The client's use of it, over a socket: ``tests/wire/test_large_answers.py``.)
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests._support.builders import full_person_answer, run_steps
from wsone_async import ResponseDecodeError, _codec
from wsone_async._codec import STEP_BYTES, decode_json, parse_in_steps
from wsone_async.models import GetFullPersonResponse

_WINDOW = _codec._WINDOW  # the edge the values below straddle


def _outcome(body: bytes, step: int = 512) -> tuple[str, Any]:
    """What parsing in steps gives: ("ok", value) or ("refused", None); only a
    ResponseDecodeError may escape."""
    try:
        value, _ = run_steps(parse_in_steps(GetFullPersonResponse, body, step=step))
    except ResponseDecodeError:
        return "refused", None
    return "ok", value


def _expected(body: bytes) -> tuple[str, Any]:
    try:
        return "ok", decode_json(body)
    except ResponseDecodeError:
        return "refused", None


def _answer(offers: int = 40) -> dict[str, Any]:
    body = full_person_answer(offers)
    body["PersonResponse"]["PersonResponse"]["lastName"] = "Lefèvre-Müller"  # accents
    return body


def _body_with(raw: bytes, place: str, offers: int = 30) -> bytes:
    """An answer of ``offers`` offers, with the JSON text ``raw`` at ``place``: the value
    of an unknown key of the spine, of an offer's field, or an offer of its own."""
    answer = _answer(offers)
    marker = "@@value@@"
    blocks = answer["OffersResponse"]["GetOffersResponses"]
    if place == "spine":
        answer["PersonResponse"]["unknownKey"] = marker  # 2 levels above
    elif place == "in a block":
        blocks[7]["offerName"] = marker  # 4 levels above
    else:
        blocks.insert(7, marker)  # 3 levels above
    return orjson.dumps(answer).replace(f'"{marker}"'.encode(), raw)


WRITERS = {
    "compact": lambda value: orjson.dumps(value),
    "spaced": lambda value: json.dumps(value, ensure_ascii=False).encode(),
    "pretty": lambda value: json.dumps(value, indent=2, ensure_ascii=False).encode(),
    "escaped": lambda value: json.dumps(value, indent="\t").encode(),  # \u00e9 escapes
}


@pytest.mark.parametrize("writer", list(WRITERS))
def test_a_large_answer_parses_as_orjson_does_in_many_steps(writer: str) -> None:
    body = WRITERS[writer](_answer(400))
    value, steps = run_steps(parse_in_steps(GetFullPersonResponse, body, step=4096))
    assert value == orjson.loads(body)
    assert steps >= len(body) // 4096 // 2  # in steps, not at once


def test_where_no_slice_can_end_the_blocks_are_read_one_by_one() -> None:
    answer = _answer(60)
    for number, offer in enumerate(answer["OffersResponse"]["GetOffersResponses"]):
        offer["offerDescription"] = '},{ "not": "a block" },{' * (number % 3)
        offer["classifications"] = [{"code": str(n)} for n in range(number % 4)]  # },{ too
    body = orjson.dumps(answer)
    value, steps = run_steps(parse_in_steps(GetFullPersonResponse, body, step=300))
    assert value == orjson.loads(body)
    assert steps >= len(body) // 300 // 2


@pytest.mark.parametrize("place", ["spine", "blocks"])
def test_many_small_values_are_read_in_many_steps(place: str) -> None:
    # A value costs its reading in Python, about a microsecond, whatever its size: a step
    # of 64 KiB of "null," held the loop 12 ms, of "k":1 keys 16 ms.
    answer = _answer(2)
    if place == "spine":
        answer["PersonResponse"].update({str(number): 1 for number in range(20_000)})
    else:
        answer["OffersResponse"]["GetOffersResponses"] = [None] * 20_000
    body = orjson.dumps(answer)
    value, steps = run_steps(parse_in_steps(GetFullPersonResponse, body, step=STEP_BYTES))
    assert value == orjson.loads(body)
    assert steps >= 20_000 // (STEP_BYTES // 128) - 1  # a step: 512 values at most


class _Spy:
    """orjson, as the codec sees it, recording the size of each slice it parses."""

    JSONDecodeError = orjson.JSONDecodeError
    dumps = staticmethod(orjson.dumps)

    def __init__(self) -> None:
        self.sizes: list[int] = []

    def loads(self, data: bytes) -> Any:
        self.sizes.append(len(data))
        return orjson.loads(data)


def test_each_slice_is_about_one_step(monkeypatch: pytest.MonkeyPatch) -> None:
    spy = _Spy()
    monkeypatch.setattr(_codec, "orjson", spy)
    answer = _answer(2000)
    body = orjson.dumps(answer)
    block = max(len(orjson.dumps(o)) for o in answer["OffersResponse"]["GetOffersResponses"])
    value, _ = run_steps(parse_in_steps(GetFullPersonResponse, body, step=STEP_BYTES))
    assert value == orjson.loads(body)
    assert len(spy.sizes) >= len(body) // STEP_BYTES - 1  # the offers went by slices
    assert max(spy.sizes) <= STEP_BYTES + block + 2  # none much longer than a step


class _SearchSpy:
    """The codec's search for a boundary between blocks, counting the bytes it reads."""

    def __init__(self) -> None:
        self.read = 0

    def search(self, body: bytes, start: int, end: int | None = None) -> Any:
        found = _codec_boundary.search(body, start, len(body) if end is None else end)
        self.read += (found.end() if found else min(end or len(body), len(body))) - start
        return found


_codec_boundary = _codec._BETWEEN_BLOCKS


@pytest.mark.parametrize("items", ["null", "[1]", '{"a": [1]}'])
def test_the_search_for_slices_reads_the_body_a_bounded_number_of_times(
    items: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The last list of the body, with no boundary after it: a search from each of its last
    # items (all of them, when no item is an object) to the body's end read the rest of
    # the body again for every item.
    spy = _SearchSpy()
    monkeypatch.setattr(_codec, "_BETWEEN_BLOCKS", spy)
    answer = _answer(4)
    answer.pop("AccountsResponse", None)
    answer["OffersResponse"]["GetOffersResponses"] = [orjson.loads(items)] * 1000
    answer["zz"] = "x" * 100_000
    body = orjson.dumps(answer)
    assert _codec_boundary.search(body, body.index(b'"zz"')) is None  # nor in the rest
    value, _ = run_steps(parse_in_steps(GetFullPersonResponse, body, step=64))
    assert value == orjson.loads(body)
    assert spy.read <= 2 * len(body)


SPOILERS = {
    "an integer past 64 bits": b"123456789012345678901234567890",
    "a negative integer past 64 bits": b"-9223372036854775809",
    # Past a float's range: orjson refuses it (int() reads it; float() makes it inf).
    "an integer past a float": b"1" * 400,
    "a negative integer past a float": b"-" + b"9" * 400,
    "a float that overflows": b"1e400",
    "NaN": b"NaN",
    "-Infinity": b"-Infinity",
    "a lone surrogate": b'"\\ud800 x"',
    "a lone low surrogate": b'"\\udc00 x"',
    "a lone low surrogate, capitals": b'"x \\uDFFF"',
    "an escaped backslash, then u": b'"\\\\ud800"',  # no escape: read
    "a surrogate pair": b'"\\ud83d\\ude00"',
    "invalid UTF-8": b'"\xff\xfe"',
    "UTF-8": '"\u00e9\u20ac"'.encode(),
    "a control character": b'"a\tb"',
    "a trailing comma": b"[1, 2,]",
}


@pytest.mark.parametrize("place", ["spine", "in a block", "a block itself"])
@pytest.mark.parametrize("spoiler", list(SPOILERS))
def test_values_the_two_parsers_read_otherwise(spoiler: str, place: str) -> None:
    body = _body_with(SPOILERS[spoiler], place)
    for step in (64, 512, STEP_BYTES):  # slices land before, on and after it
        assert _outcome(body, step) == _expected(body)


@pytest.mark.parametrize("digits", [21, 400, 5000, 50_000])
def test_a_long_integer_is_not_converted_digit_by_digit(
    digits: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    # int() of n digits takes time in n squared (seconds for a megabyte, when an application
    # lifts Python's limit of 4300 digits); orjson makes any integer past 64 bits a float.
    converted: list[str] = []

    def spied_int(text: str) -> int:
        converted.append(text)
        return int(text)

    monkeypatch.setattr(_codec, "int", spied_int, raising=False)
    answer = _answer(20)
    answer["PersonResponse"]["unknownKey"] = "@@int@@"
    answer["OffersResponse"]["GetOffersResponses"].insert(7, "@@int@@")
    number = b"9" * digits
    body = orjson.dumps(answer).replace(b'"@@int@@"', number)
    limit = sys.get_int_max_str_digits()
    sys.set_int_max_str_digits(0)  # lifted
    try:
        for step in (64, STEP_BYTES):
            assert _outcome(body, step) == _expected(body)
    finally:
        sys.set_int_max_str_digits(limit)
    assert max(map(len, converted)) <= 20  # -9223372036854775808, 18446744073709551615


@pytest.fixture
def no_parse_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """The stepped reader may not give up and hand the body to orjson whole."""

    def at_once(body: bytes, **_: Any) -> Any:
        msg = "read at once: the stepped reader gave up on a value it can read"
        raise AssertionError(msg)

    monkeypatch.setattr(_codec, "decode_json", at_once)


LONG_VALUES = {
    # Longer than the window the scanner reads: cut at its edge, each would read otherwise.
    "a number": b"0." + b"0" * (2 * _WINDOW) + b"1e" + str(2 * _WINDOW + 4).encode(),
    "a string": b'"' + b"x" * (2 * _WINDOW) + b'"',
    "accents": ('"' + "\u00e9" * _WINDOW + '"').encode(),
    "a list": b"[" + b"1," * _WINDOW + b"2]",
}


@pytest.mark.parametrize("place", ["spine", "in a block", "a block itself"])
@pytest.mark.parametrize("value", list(LONG_VALUES))
@pytest.mark.usefixtures("no_parse_at_once")
def test_a_value_longer_than_the_scanners_window(value: str, place: str) -> None:
    body = _body_with(LONG_VALUES[value], place, offers=20)
    for step in (64, STEP_BYTES):
        assert _outcome(body, step) == ("ok", orjson.loads(body))


READ_BY_ORJSON = {
    # Values the scanner reads otherwise, or may: orjson reads them, not the whole body.
    "an escaped emoji": b'"\\ud83d\\ude00 \\uD83D\\uDE00"',
    "an escaped backslash, then u": b'"\\\\ud800"',
    "accents": '"Lef\u00e8vre"'.encode(),
}


@pytest.mark.parametrize("place", ["spine", "a block itself"])
@pytest.mark.parametrize("value", list(READ_BY_ORJSON))
@pytest.mark.usefixtures("no_parse_at_once")
def test_a_value_orjson_must_read_is_read_alone(value: str, place: str) -> None:
    body = _body_with(READ_BY_ORJSON[value], place, offers=20)
    for step in (64, STEP_BYTES):
        assert _outcome(body, step) == ("ok", orjson.loads(body))


NUMBERS = [b"1.5", b"-0.25e-3", b"25E+300", b"-0.0", b"7", b"1e16", b"-12.5e1"]


@pytest.mark.usefixtures("no_parse_at_once")
def test_a_number_cut_at_the_windows_edge_is_read_whole(monkeypatch: pytest.MonkeyPatch) -> None:
    # A window of a few bytes cuts numbers everywhere: after a "." or an "e" or "e-" too,
    # where the scanner reads the "1" of "1.5" and stops as at the number's end.
    monkeypatch.setattr(_codec, "_WINDOW", 7)
    numbers = [b" " * (n % 11) + NUMBERS[n % len(NUMBERS)] + b" " * (n % 5) for n in range(80)]
    spine = b"".join(b'"k%d":%s,' % (n, number) for n, number in enumerate(numbers))
    marker = b'"@@numbers@@"'
    answer = _answer(4)
    answer["OffersResponse"]["GetOffersResponses"] = "@@numbers@@"
    body = b"{" + spine + orjson.dumps(answer)[1:]  # the keys first, in the root
    body = body.replace(marker, b"[" + b",".join(numbers) + b"]")  # no block: one by one
    expected = orjson.loads(body)
    for step in (64, STEP_BYTES):
        value, _ = run_steps(parse_in_steps(GetFullPersonResponse, body, step=step))
        assert orjson.dumps(value) == orjson.dumps(expected)  # -0.0, 1.0: as orjson gives


def test_a_value_longer_than_the_window_in_the_spine() -> None:
    answer = _answer(3)
    answer["PersonResponse"]["notes"] = ["é" * 5000, {"k": "x" * 30000}]
    body = json.dumps(answer, indent=1).encode()
    assert _outcome(body) == ("ok", orjson.loads(body))


_ORJSON_DEPTH = 1024  # orjson refuses a body nested deeper


@pytest.fixture(params=["default", "raised"])
def recursion_limit(request: pytest.FixtureRequest) -> Iterator[None]:
    """Python's recursion limit as it is, or raised as some applications do (the
    standard library's scanner then reads deeper than orjson's limit)."""
    before = sys.getrecursionlimit()
    if request.param == "raised":
        sys.setrecursionlimit(5 * _ORJSON_DEPTH)
    yield
    sys.setrecursionlimit(before)


@pytest.mark.usefixtures("recursion_limit")
@pytest.mark.parametrize("opener", ["[", '{"k":'])
@pytest.mark.parametrize("place", ["spine", "in a block", "a block itself"])
def test_nesting_is_refused_past_orjsons_limit_counting_the_levels_above(
    place: str, opener: str
) -> None:
    closer = "]" if opener == "[" else "}"
    for levels in range(_ORJSON_DEPTH - 6, _ORJSON_DEPTH):
        deep = (opener * levels + "1" + closer * levels).encode()
        deep_body = _body_with(deep, place, offers=20)
        expected = _expected(deep_body)
        for step in (64, STEP_BYTES):  # by slices, and block by block
            outcome = _outcome(deep_body, step)
            limit = sys.getrecursionlimit()
            sys.setrecursionlimit(5 * _ORJSON_DEPTH)  # to compare values this deep
            try:
                assert outcome == expected, (levels, step)
            finally:
                sys.setrecursionlimit(limit)


_json = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=6), children, max_size=4)
    ),
    max_leaves=12,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    value=_json,
    place=st.sampled_from(["spine", "in a block", "a block itself", "a block list"]),
    writer=st.sampled_from(list(WRITERS)),
    step=st.sampled_from([16, 200, 4096]),
)
def test_any_json_anywhere_parses_as_orjson_does(
    value: Any, place: str, writer: str, step: int
) -> None:
    answer = _answer(12)
    offers = answer["OffersResponse"]["GetOffersResponses"]
    if place == "spine":
        answer["PersonResponse"]["unknownKey"] = value
    elif place == "in a block":
        offers[5]["offerName"] = value
    elif place == "a block itself":
        offers.insert(5, value)
    else:
        answer["OffersResponse"]["GetOffersResponses"] = value
    try:
        body = WRITERS[writer](answer)
    except (TypeError, UnicodeEncodeError, orjson.JSONEncodeError):
        body = json.dumps(answer).encode()  # a lone surrogate: escaped, orjson refuses it
    assert _outcome(body, step) == _expected(body)


@settings(max_examples=200, deadline=None)
@given(
    data=st.data(),
    writer=st.sampled_from(list(WRITERS)),
    step=st.sampled_from([16, 200, 4096]),
)
def test_any_damaged_body_is_refused_or_read_as_orjson_does(
    data: st.DataObject, writer: str, step: int
) -> None:
    body = bytearray(WRITERS[writer](_answer(8)))
    for _ in range(data.draw(st.integers(1, 3))):
        at = data.draw(st.integers(0, len(body) - 1))
        action = data.draw(st.sampled_from(["replace", "delete", "insert"]))
        byte = data.draw(st.sampled_from(b'{}[],:"\\ 0e-.nul\xc3\xa9\xff'))
        if action == "replace":
            body[at] = byte
        elif action == "delete":
            del body[at]
        else:
            body.insert(at, byte)
    assert _outcome(bytes(body), step) == _expected(bytes(body))
