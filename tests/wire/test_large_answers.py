"""Large answers are decoded on the event loop in steps, with a turn of the loop between two.

``decode_in_steps_above`` (128 KiB by default) counts the body's bytes after
decompression; the other tasks of the loop run between two steps, and a refusal or a
cancel found between steps is the call's. A real socket: a mocked response cannot carry
bodies this large.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
from collections.abc import AsyncIterator, Callable, Generator
from typing import Any

import pytest

from tests._support.builders import card_key, full_person_answer, read_request
from tests._support.rawserver import RawServer, answer_json, compressed
from wsone_async import (
    ResponseDecodeError,
    ResponseTooLargeError,
    RetryPolicy,
    WsOneClient,
    _pipeline,
    to_wire,
)
from wsone_async._codec import STEP_ITEMS
from wsone_async._drift import DriftKey
from wsone_async.client import DEFAULT_DECODE_IN_STEPS_ABOVE
from wsone_async.models import GetFullPersonRequest, GetFullPersonResponse


@pytest.fixture
async def server() -> AsyncIterator[RawServer]:
    async with RawServer() as raw:
        yield raw


def _size(body: Any) -> int:
    return len(json.dumps(body))  # as answer_json writes it


def _client_of(server: RawServer, **kwargs: Any) -> WsOneClient:
    return WsOneClient(server.url, username="api", password="pw", telemetry=False, **kwargs)


class Events(list[str]):
    """'step' for each step of a decode in steps, in the order things happened."""

    def __init__(self) -> None:
        super().__init__()
        self.second_step = asyncio.Event()
        #: Called with the step's number (from 1) before it runs.
        self.on_step: Callable[[int], object] = lambda number: None


@pytest.fixture
def events(monkeypatch: pytest.MonkeyPatch) -> Events:
    log = Events()
    decode = _pipeline.decode_reply_in_steps

    def recording(*args: Any, **kwargs: Any) -> Generator[None, None, Any]:
        steps = decode(*args, **kwargs)
        while True:
            log.append("step")
            number = log.count("step")
            if number == 2:
                log.second_step.set()
            log.on_step(number)
            try:
                next(steps)
            except StopIteration as done:
                return done.value
            yield

    monkeypatch.setattr(_pipeline, "decode_reply_in_steps", recording)
    return log


async def _call_while_ticking(client: WsOneClient, log: list[str]) -> GetFullPersonResponse:
    done = False

    async def ticker() -> None:
        while not done:
            log.append("tick")
            await asyncio.sleep(0)

    ticking = asyncio.create_task(ticker())
    try:
        return await client.get_full_person(GetFullPersonRequest(identifier_request=card_key()))
    finally:
        done = True
        await ticking


async def test_other_tasks_run_between_the_steps_of_a_large_answer(
    server: RawServer, events: Events
) -> None:
    offers = 2 * STEP_ITEMS
    body = full_person_answer(offers)
    server.default("getFullPerson", answer_json(body))
    async with _client_of(server, decode_in_steps_above=_size(body) // 2) as client:
        answer = await _call_while_ticking(client, events)
    assert len(answer.offers_response.get_offers_responses) == offers
    steps = [i for i, event in enumerate(events) if event == "step"]
    assert len(steps) >= 3
    # The ticker ran between every two steps: the loop was never held by the whole decode.
    assert all("tick" in events[a:b] for a, b in itertools.pairwise(steps))


async def test_an_answer_at_or_below_the_threshold_is_decoded_at_once(
    server: RawServer, events: Events
) -> None:
    body = full_person_answer(2 * STEP_ITEMS)
    server.default("getFullPerson", answer_json(body))
    async with _client_of(server, decode_in_steps_above=_size(body)) as client:
        await client.get_full_person(GetFullPersonRequest(identifier_request=card_key()))
    async with _client_of(server, decode_in_steps_above=None) as client:
        await client.get_full_person(GetFullPersonRequest(identifier_request=card_key()))
    assert "step" not in events


async def test_by_default_a_large_answer_is_decoded_in_steps(
    server: RawServer, events: Events
) -> None:
    body = full_person_answer(400)
    assert _size(body) > DEFAULT_DECODE_IN_STEPS_ABOVE
    server.default("getFullPerson", answer_json(body))
    async with _client_of(
        server,
    ) as client:
        await client.get_full_person(GetFullPersonRequest(identifier_request=card_key()))
    assert "step" in events


async def test_the_thread_takes_precedence(server: RawServer, events: Events) -> None:
    server.default("getFullPerson", answer_json(full_person_answer(3)))
    async with _client_of(server, decode_in_steps_above=0, decode_in_thread_above=0) as client:
        await client.get_full_person(GetFullPersonRequest(identifier_request=card_key()))
    assert "step" not in events


async def test_a_refusal_in_steps_is_the_calls_error(server: RawServer) -> None:
    body = full_person_answer(STEP_ITEMS + 1)
    body["OffersResponse"]["GetOffersResponses"][-1]["endDate"] = [1]
    server.default("getFullPerson", answer_json(body))
    async with _client_of(
        server, decode_in_steps_above=0, retry=RetryPolicy(max_retries=0)
    ) as client:
        with pytest.raises(ResponseDecodeError) as caught:
            await client.get_full_person(GetFullPersonRequest(identifier_request=card_key()))
    assert caught.value.operation == "getFullPerson"
    assert caught.value.path is not None
    assert "endDate" in caught.value.path


async def test_a_call_cancelled_between_steps_is_cancelled(
    server: RawServer, events: Events
) -> None:
    server.default("getFullPerson", answer_json(full_person_answer(3 * STEP_ITEMS)))
    async with _client_of(server, decode_in_steps_above=0) as client:
        call = asyncio.create_task(
            client.get_full_person(GetFullPersonRequest(identifier_request=card_key()))
        )
        await events.second_step.wait()  # decoding, between two steps
        call.cancel()
        with pytest.raises(asyncio.CancelledError):
            await call
    assert events.count("step") < 5  # it stopped there


@pytest.mark.parametrize("value", [-1, 1.5, "64k", True])
def test_a_bad_threshold_is_refused(value: Any) -> None:
    with pytest.raises(ValueError, match="decode_in_steps_above"):
        WsOneClient(
            "https://wsone.example.fr", username="u", password="p", decode_in_steps_above=value
        )


# ------------------------------------------- a 3 MB getFullPerson, gzip, in a busy client

BIG_OFFERS = 7_000
PERSON_FOUND = {"responseCode": "000", "PersonResponse": {"PersonResponse": {"lastName": "X"}}}


def _big_answer() -> dict[str, Any]:
    """7,000 offers (about 3.4 MB of JSON), some with a key the models do not declare and
    the last with an id sent as a number: drift inside the sliced list, early and late."""
    body = full_person_answer(BIG_OFFERS)
    offers = body["OffersResponse"]["GetOffersResponses"]
    for index in range(0, BIG_OFFERS, 97):
        offers[index]["promoCode"] = f"P{index}"
    offers[-1]["channelId"] = 8
    return body


@pytest.fixture(scope="module")
def big_answer() -> dict[str, Any]:
    return _big_answer()


def _serve_big(server: RawServer, body: dict[str, Any]) -> None:
    server.default("getFullPerson", compressed(body, "gzip"))
    server.default("getPerson", answer_json(PERSON_FOUND))


async def test_a_3_mb_gzip_answer_in_steps_is_the_one_decoded_at_once(
    server: RawServer, events: Events, big_answer: dict[str, Any]
) -> None:
    _serve_big(server, big_answer)
    request = GetFullPersonRequest(identifier_request=card_key())
    async with _client_of(server, decode_in_steps_above=None) as client:
        at_once = await client.get_full_person(request)
        drift_at_once = dict(client.drift.counts)
    assert "step" not in events
    async with _client_of(server) as client:  # the default threshold: in steps
        big = asyncio.create_task(client.get_full_person(request))
        await events.second_step.wait()  # the big answer is being decoded
        others = [asyncio.create_task(client.get_person(read_request())) for _ in range(8)]
        for other in asyncio.as_completed(others):
            await other
            events.append("other")
        in_steps = await big
        drift_in_steps = dict(client.drift.counts)
    assert in_steps == at_once
    assert to_wire(in_steps) == to_wire(at_once)
    assert len(in_steps.offers_response.get_offers_responses) == BIG_OFFERS
    # Drift inside the sliced list is found alike, every occurrence counted.
    assert drift_in_steps == drift_at_once
    assert drift_at_once[
        DriftKey("getFullPerson", "OffersResponse.GetOffersResponses[].promoCode", "unknown")
    ] == len(range(0, BIG_OFFERS, 97))
    assert DriftKey("getFullPerson", "OffersResponse.GetOffersResponses[].channelId", "type") in (
        drift_at_once
    )
    # The other calls were answered between two steps of the big one, not after it.
    last_step = max(i for i, event in enumerate(events) if event == "step")
    assert events.index("other") < last_step


@pytest.mark.parametrize("at_step", [1, 2, 3, 20])
async def test_a_time_limit_around_a_large_answer_ends_it_cleanly(
    server: RawServer,
    events: Events,
    big_answer: dict[str, Any],
    caplog: pytest.LogCaptureFixture,
    at_step: int,
) -> None:
    # A web handler bounds the call with asyncio.timeout (wait_for is built on it), which
    # expires here in the middle of the decoding: at the parse, or between two slices.
    _serve_big(server, big_answer)
    request = GetFullPersonRequest(identifier_request=card_key())
    caplog.set_level(logging.WARNING)
    async with _client_of(server) as client:
        loop = asyncio.get_running_loop()

        async def bounded() -> GetFullPersonResponse:
            async with asyncio.timeout(None) as bound:
                events.on_step = lambda number: number == at_step and bound.reschedule(loop.time())
                return await client.get_full_person(request)

        with pytest.raises(TimeoutError) as caught:
            await bounded()
        assert type(caught.value) is TimeoutError  # the caller's limit, not the client's
        assert events.count("step") < at_step + 3  # it stopped there, not at the end
        # The client goes on: the same answer, whole, and other calls.
        answer = await client.get_full_person(request)
        assert len(answer.offers_response.get_offers_responses) == BIG_OFFERS
        assert (await client.get_person(read_request())).person_response is not None
    assert caplog.records == []  # no "Task exception was never retrieved", nothing logged


async def test_wait_for_with_small_timeouts_around_a_large_answer(
    server: RawServer, big_answer: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    # Wherever a small timeout lands (the request, the read, the decompression, the
    # parse, a slice), the call answers whole or raises TimeoutError, and the client goes on.
    _serve_big(server, big_answer)
    request = GetFullPersonRequest(identifier_request=card_key())
    caplog.set_level(logging.WARNING)
    async with _client_of(server) as client:
        expected = await client.get_full_person(request)
        for timeout in (0.0, 0.001, 0.002, 0.004, 0.008, 0.016, 0.032):
            try:
                answer = await asyncio.wait_for(client.get_full_person(request), timeout)
            except TimeoutError:
                continue
            assert answer == expected
        assert await client.get_full_person(request) == expected
    assert caplog.records == []


async def test_max_response_size_bounds_a_large_answer_decoded_in_steps(
    server: RawServer, events: Events, big_answer: dict[str, Any]
) -> None:
    # The cap counts the decompressed bytes (3.4 MB here, 28 KB on the wire).
    _serve_big(server, big_answer)
    size = _size(big_answer)
    request = GetFullPersonRequest(identifier_request=card_key())
    async with _client_of(
        server, max_response_size=size - 1, retry=RetryPolicy(max_retries=0)
    ) as client:
        with pytest.raises(ResponseTooLargeError):
            await client.get_full_person(request)
    assert "step" not in events  # refused before any decoding
    async with _client_of(server, max_response_size=size) as client:
        answer = await client.get_full_person(request)
    assert len(answer.offers_response.get_offers_responses) == BIG_OFFERS
    assert "step" in events
