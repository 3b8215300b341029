"""The codec's decoding in steps gives what a decode at once gives, errors included,
leaves the caller's body as it was, and lets the JSON of each slice go once decoded.

(The client's use of it, over a socket: ``tests/wire/test_large_answers.py``.)
"""

from __future__ import annotations

import copy
import weakref
from collections.abc import Callable, Sequence
from typing import Any

import attrs
import orjson
import pytest

from tests._support.builders import full_person_answer, run_steps
from wsone_async import ResponseDecodeError, from_wire, to_wire
from wsone_async._codec import STEP_ITEMS, decode_in_steps
from wsone_async._drift import DriftMonitor
from wsone_async.models import GetFullPersonResponse
from wsone_async.models._base import Model


def _again(body: Any) -> Callable[[], Any]:
    """What ``reread`` gives: the body as it was, parsed again."""
    kept = copy.deepcopy(body)
    return lambda: copy.deepcopy(kept)


def test_in_steps_the_answer_is_the_one_decoded_at_once() -> None:
    body = full_person_answer(2 * STEP_ITEMS + 1)
    kept = copy.deepcopy(body)
    answer, steps = run_steps(
        decode_in_steps(GetFullPersonResponse, body, lambda: copy.deepcopy(kept))
    )
    assert answer == from_wire(GetFullPersonResponse, kept)
    assert steps == 3  # three slices of offers, then the rest at once
    assert body == kept  # the caller's body is not changed


class _Offer(dict[str, Any]):
    """An offer's JSON that a weak reference can watch (a plain dict cannot have one)."""

    __slots__ = ("__weakref__",)


def test_the_json_of_a_slice_goes_once_decoded_when_the_caller_lets_go() -> None:
    body = full_person_answer(2 * STEP_ITEMS)
    offers = body["OffersResponse"]["GetOffersResponses"]
    offers[:] = [_Offer(offer) for offer in offers]
    first, last = weakref.ref(offers[0]), weakref.ref(offers[-1])
    steps = decode_in_steps(GetFullPersonResponse, body, _again(body))
    del body, offers  # as the client does once the steps hold the body
    next(steps)  # the first slice decoded
    assert first() is None  # its JSON is gone
    assert last() is not None  # the next slice's is not decoded yet
    answer, _ = run_steps(steps)
    assert last() is None
    assert len(answer.offers_response.get_offers_responses) == 2 * STEP_ITEMS


def test_a_short_answer_is_one_step() -> None:
    answer, steps = run_steps(
        decode_in_steps(GetFullPersonResponse, full_person_answer(3), lambda: None)
    )
    assert steps == 0
    assert len(answer.offers_response.get_offers_responses) == 3


def test_a_refused_block_raises_what_a_decode_at_once_raises() -> None:
    body = full_person_answer(STEP_ITEMS + 10)
    body["OffersResponse"]["GetOffersResponses"][STEP_ITEMS + 3]["startDate"] = {"a": 1}
    kept = copy.deepcopy(body)
    with pytest.raises(ResponseDecodeError) as at_once:
        from_wire(GetFullPersonResponse, copy.deepcopy(body))
    with pytest.raises(ResponseDecodeError) as in_steps:
        run_steps(decode_in_steps(GetFullPersonResponse, body, lambda: copy.deepcopy(kept)))
    assert in_steps.value.path == at_once.value.path
    assert str(in_steps.value) == str(at_once.value)
    assert body == kept


def test_a_block_given_twice_is_decoded_as_each_of_its_places_says() -> None:
    # from_wire's callers may build a body with one dict in two places: here the offers'
    # block also stands for the accounts' block, which has no such list (an unknown key).
    body = full_person_answer(STEP_ITEMS + 1)
    body["AccountsResponse"] = body["OffersResponse"]
    at_once = from_wire(GetFullPersonResponse, copy.deepcopy(body))
    answer, _ = run_steps(decode_in_steps(GetFullPersonResponse, body, _again(body)))
    assert answer == at_once
    assert to_wire(answer) == to_wire(at_once)
    assert body["AccountsResponse"] is body["OffersResponse"]
    assert type(body["OffersResponse"]["GetOffersResponses"]) is list


@attrs.frozen(kw_only=True, slots=False, repr=False, eq=False)
class _Code(Model):
    code: str | None = None


@attrs.frozen(kw_only=True, slots=False, repr=False, eq=False)
class _Item(Model):
    name: str | None = None
    code: Sequence[_Code] | None = None


@attrs.frozen(kw_only=True, slots=False, repr=False, eq=False)
class _Inner(Model):
    item: Sequence[_Item] | None = None


@attrs.frozen(kw_only=True, slots=False, repr=False, eq=False)
class _Middle(Model):
    inner: _Inner | None = None


@attrs.frozen(kw_only=True, slots=False, repr=False, eq=False)
class _Outer(Model):
    middle: _Middle | None = None
    item: Sequence[_Item] | None = None


def _items(count: int, codes: int) -> list[dict[str, Any]]:
    # An explicit null of a known field and an unknown key: both land in wire_extra.
    return [
        {"name": str(n), "Code": [{"code": str(c)} for c in range(codes)], "x": n, "Item": None}
        for n in range(count)
    ]


def test_a_long_list_in_a_block_in_a_block_is_sliced_and_one_in_an_item_is_not() -> None:
    body = {"Middle": {"Inner": {"Item": _items(5, 7)}}, "Item": _items(2, 9)}
    kept = copy.deepcopy(body)
    answer, steps = run_steps(decode_in_steps(_Outer, body, lambda: copy.deepcopy(kept), step=2))
    assert steps == 3  # the five deep items in three slices; the long lists of items whole
    at_once = from_wire(_Outer, kept)
    assert answer == at_once
    assert body == kept
    decoded = [*answer.middle.inner.item, *answer.item]
    expected = [*at_once.middle.inner.item, *at_once.item]
    assert [dict(a.wire_extra) for a in decoded] == [dict(e.wire_extra) for e in expected]
    assert orjson.dumps(to_wire(answer)) == orjson.dumps(to_wire(at_once))


@pytest.mark.parametrize(
    "value", [None, [], ["a", "b", "c"], [1, 2, 3], [{"name": "a"}, None, {"name": "b"}]]
)
def test_a_list_that_is_null_empty_or_not_of_blocks_is_what_a_decode_at_once_makes_it(
    value: Any,
) -> None:
    body = {"Middle": {"Inner": {"Item": value}}}
    kept = copy.deepcopy(body)
    try:
        expected: Any = from_wire(_Outer, copy.deepcopy(body))
    except ResponseDecodeError as exc:
        with pytest.raises(ResponseDecodeError) as caught:
            run_steps(decode_in_steps(_Outer, body, lambda: copy.deepcopy(kept), step=2))
        assert (caught.value.path, str(caught.value)) == (exc.path, str(exc))
    else:
        assert (
            run_steps(decode_in_steps(_Outer, body, lambda: copy.deepcopy(kept), step=2))[0]
            == expected
        )
    assert body == kept


@pytest.mark.parametrize("where", [0, -1])
def test_a_refused_block_in_the_first_or_last_slice_is_refused_alike(where: int) -> None:
    body = full_person_answer(2 * STEP_ITEMS + 1)
    body["OffersResponse"]["GetOffersResponses"][where]["offerId"] = {"a": 1}
    with pytest.raises(ResponseDecodeError) as at_once:
        from_wire(GetFullPersonResponse, copy.deepcopy(body))
    with pytest.raises(ResponseDecodeError) as in_steps:
        run_steps(decode_in_steps(GetFullPersonResponse, body, _again(body)))
    assert (in_steps.value.path, str(in_steps.value)) == (at_once.value.path, str(at_once.value))


def test_drift_and_wire_extra_of_an_answer_in_steps_are_those_of_one_at_once() -> None:
    body = full_person_answer(STEP_ITEMS + 5)
    offers = body["OffersResponse"]["GetOffersResponses"]
    offers[0]["brandNewKey"] = "x"  # unknown: drift
    offers[-1]["globalMinPrice"] = "12.5"  # a number sent as text: drift, spelling kept
    offers[STEP_ITEMS]["offerName"] = None  # an explicit null of a known field: not drift
    offers[STEP_ITEMS + 1]["other"] = None  # a null of an unknown key: drift
    answer, _ = run_steps(decode_in_steps(GetFullPersonResponse, copy.deepcopy(body), _again(body)))
    at_once = from_wire(GetFullPersonResponse, body)
    pairs = list(
        zip(
            answer.offers_response.get_offers_responses,
            at_once.offers_response.get_offers_responses,
            strict=True,
        )
    )
    assert all(list(a.wire_extra.items()) == list(b.wire_extra.items()) for a, b in pairs)
    assert orjson.dumps(to_wire(answer)) == orjson.dumps(to_wire(at_once))
    seen, expected = DriftMonitor(), DriftMonitor()
    seen.notice("getFullPerson", answer)
    expected.notice("getFullPerson", at_once)
    assert seen.report() == expected.report()
    assert len(expected.report()) == 3
