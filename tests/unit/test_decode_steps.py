"""The codec's decoding in steps gives what a decode at once gives, errors included, and
drops the JSON of each slice once decoded.

(The client's use of it, over a socket: ``tests/wire/test_large_answers.py``.)
"""

from __future__ import annotations

import copy
from collections.abc import Generator
from typing import Any

import pytest

from tests._support.builders import full_person_answer
from wsone_async import ResponseDecodeError, from_wire
from wsone_async._codec import STEP_ITEMS, decode_in_steps
from wsone_async.models import GetFullPersonResponse


def _decode_all(steps: Generator[None, None, Any]) -> tuple[Any, int]:
    count = 0
    while True:
        try:
            next(steps)
        except StopIteration as done:
            return done.value, count
        count += 1


def test_in_steps_the_answer_is_the_one_decoded_at_once() -> None:
    body = full_person_answer(2 * STEP_ITEMS + 1)
    kept = copy.deepcopy(body)
    answer, steps = _decode_all(
        decode_in_steps(GetFullPersonResponse, body, lambda: copy.deepcopy(kept))
    )
    assert answer == from_wire(GetFullPersonResponse, kept)
    assert steps == 3  # three slices of offers, then the rest at once
    # The offers' JSON was dropped as they were decoded: nothing keeps it alive.
    assert body["OffersResponse"]["GetOffersResponses"] == [None] * (2 * STEP_ITEMS + 1)


def test_a_short_answer_is_one_step() -> None:
    answer, steps = _decode_all(
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
        _decode_all(decode_in_steps(GetFullPersonResponse, body, lambda: copy.deepcopy(kept)))
    assert in_steps.value.path == at_once.value.path
    assert str(in_steps.value) == str(at_once.value)
