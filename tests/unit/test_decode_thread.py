"""Large answers are decoded in a worker thread, small ones on the event loop.

The threshold (``decode_in_thread_above``) counts the body's bytes after decompression; a
call cancelled while its answer is decoded in the thread leaves nothing behind.
"""

from __future__ import annotations

import asyncio
import json
import threading
from typing import Any

import pytest

from tests._support.builders import card_key, full_person_answer, write_request
from tests._support.mocks import MockedWsOne
from wsone_async import ResponseDecodeError, RetryPolicy, WsOneClient, _pipeline
from wsone_async.models import (
    GetFullPersonRequest,
)

BASE = "https://wsone.example.fr"
PERSON = f"{BASE}/rest/2.0/personWebService"


@pytest.fixture
def decoded_in(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The name of the thread each answer was decoded in."""
    threads: list[str] = []
    decode = _pipeline.decode_reply

    def recording(*args: Any, **kwargs: Any) -> Any:
        threads.append(threading.current_thread().name)
        return decode(*args, **kwargs)

    monkeypatch.setattr(_pipeline, "decode_reply", recording)
    return threads


def _client(**kwargs: Any) -> WsOneClient:
    return WsOneClient(BASE, username="api", password="pw", telemetry=False, **kwargs)


async def _drain_decoder() -> None:
    # The decoding thread runs its work in order: once this no-op ran, all before it did.
    await asyncio.wrap_future(_pipeline._decoding_thread().submit(lambda: None))


async def test_an_answer_above_the_threshold_is_decoded_in_the_thread(
    mocked: MockedWsOne, decoded_in: list[str]
) -> None:
    body = full_person_answer(40)
    size = len(json.dumps(body))
    mocked.post(f"{PERSON}/getFullPerson", payload=body, repeat=True)
    async with _client(decode_in_thread_above=size // 2) as client:
        answer = await client.get_full_person(GetFullPersonRequest(identifier_request=card_key()))
    assert answer.offers_response is not None
    offers = answer.offers_response.get_offers_responses
    assert offers is not None
    assert [offer.offer_id for offer in offers] == [str(57384 + i) for i in range(40)]
    assert len(decoded_in) == 1
    assert decoded_in[0].startswith("wsone_async-decode")


async def test_an_answer_at_or_below_the_threshold_is_decoded_on_the_loop(
    mocked: MockedWsOne, decoded_in: list[str]
) -> None:
    body = full_person_answer(2)
    # aioresponses writes the payload with json.dumps, as measured here.
    size = len(json.dumps(body))
    mocked.post(f"{PERSON}/getFullPerson", payload=body, repeat=True)
    async with _client(decode_in_thread_above=size) as client:
        await client.get_full_person(GetFullPersonRequest(identifier_request=card_key()))
    async with _client(decode_in_thread_above=None) as client:
        await client.get_full_person(GetFullPersonRequest(identifier_request=card_key()))
    assert decoded_in == [threading.current_thread().name] * 2


async def test_by_default_every_answer_is_decoded_on_the_loop(
    mocked: MockedWsOne, decoded_in: list[str]
) -> None:
    mocked.post(f"{PERSON}/createPerson", payload={"responseCode": "000"})
    mocked.post(f"{PERSON}/getFullPerson", payload=full_person_answer(40))
    async with _client() as client:
        await client.create_person(write_request())
        await client.get_full_person(GetFullPersonRequest(identifier_request=card_key()))
    assert decoded_in == [threading.current_thread().name] * 2


async def test_an_error_found_in_the_thread_is_the_calls_error(
    mocked: MockedWsOne, decoded_in: list[str]
) -> None:
    # Refused in the thread as it would be inline, and raised to the caller.
    mocked.post(f"{PERSON}/getFullPerson", body=b"[1, 2, 3]", repeat=True)
    async with _client(decode_in_thread_above=0, retry=RetryPolicy(max_retries=0)) as client:
        with pytest.raises(ResponseDecodeError, match="JSON list"):
            await client.get_full_person(GetFullPersonRequest(identifier_request=card_key()))
    assert decoded_in[0].startswith("wsone_async-decode")


async def test_a_call_cancelled_while_its_answer_is_decoded_leaves_nothing_behind(
    mocked: MockedWsOne, monkeypatch: pytest.MonkeyPatch
) -> None:
    loop = asyncio.get_running_loop()
    unhandled: list[dict[str, Any]] = []
    loop.set_exception_handler(lambda _loop, context: unhandled.append(context))
    started = asyncio.Event()
    release = threading.Event()
    decode = _pipeline.decode_reply

    def slow_then_failing(*args: Any, **kwargs: Any) -> Any:
        loop.call_soon_threadsafe(started.set)
        release.wait(timeout=10)
        decode(*args, **kwargs)
        msg = "decoded after the call was cancelled"
        raise ResponseDecodeError(msg)

    monkeypatch.setattr(_pipeline, "decode_reply", slow_then_failing)
    mocked.post(f"{PERSON}/getFullPerson", payload=full_person_answer(1))
    async with _client(decode_in_thread_above=0) as client:
        call = asyncio.create_task(
            client.get_full_person(GetFullPersonRequest(identifier_request=card_key()))
        )
        await started.wait()
        call.cancel()
        with pytest.raises(asyncio.CancelledError):
            await call
        release.set()
        await _drain_decoder()
    assert unhandled == []


@pytest.mark.parametrize("value", [-1, 1.5, "64k", True])
def test_a_bad_threshold_is_refused(value: Any) -> None:
    with pytest.raises(ValueError, match="decode_in_thread_above"):
        _client(decode_in_thread_above=value)


def test_the_decoding_thread_is_made_again_after_a_fork(monkeypatch: pytest.MonkeyPatch) -> None:
    first = _pipeline._decoding_thread()
    assert _pipeline._decoding_thread() is first
    monkeypatch.setattr(_pipeline, "_decoder_pid", -1)  # as seen from a forked child
    second = _pipeline._decoding_thread()
    assert second is not first
    first.shutdown(wait=True)
