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
from collections.abc import AsyncIterator, Generator
from typing import Any

import pytest

from tests._support.builders import card_key, full_person_answer
from tests._support.rawserver import RawServer, answer_json
from wsone_async import ResponseDecodeError, RetryPolicy, WsOneClient, _pipeline
from wsone_async._codec import STEP_ITEMS
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


@pytest.fixture
def events(monkeypatch: pytest.MonkeyPatch) -> Events:
    log = Events()
    decode = _pipeline.decode_reply_in_steps

    def recording(*args: Any, **kwargs: Any) -> Generator[None, None, Any]:
        steps = decode(*args, **kwargs)
        while True:
            log.append("step")
            if log.count("step") == 2:
                log.second_step.set()
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
