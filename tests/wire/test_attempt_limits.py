"""Attempt time limits against a raw server that hangs on some requests and answers others.

The attempts of one duration share one loop timer (``_transport._Timers``): each hanging
attempt must still end at its own limit, the answered ones must not be disturbed, and views
made per request (a web handler's own limits) must leave nothing behind in the loop.
Durations are read on the loop's clock, with generous margins: no wall-clock timing.
"""

from __future__ import annotations

import asyncio
import gc
import json
import weakref
from typing import Any

import pytest

from tests._support.builders import card_key
from tests._support.rawserver import Exchange, RawServer, answer_json, hang
from wsone_async import APITimeoutError, AttemptInfo, RetryPolicy, Timeouts, WsOneClient
from wsone_async.models import GetPersonRequest

PERSON = {"responseCode": "000", "PersonResponse": {"PersonResponse": {"lastName": "X"}}}
LIMITS = Timeouts(attempt=0.05, total=0.2)
MARGIN = 0.5  # the loop's clock, on a loaded machine: generous, never tight
SLACK = 0.1  # an attempt's own timer: late by a loaded loop's turn, not by another limit
HANGING = {f"99{n:011d}" for n in range(8)}


async def _by_card(x: Exchange) -> bool:
    card = json.loads(x.request.body)["IdentifierRequest"]["identifierValue"]
    action = hang() if card in HANGING else answer_json(PERSON)
    return await action(x)


def _request(card: str) -> GetPersonRequest:
    return GetPersonRequest(identifier_request=card_key(card))


def _armed(loop: asyncio.AbstractEventLoop) -> int:
    return sum(not handle.cancelled() for handle in loop._scheduled)  # type: ignore[attr-defined]


async def test_hanging_reads_end_at_their_limits_and_the_others_are_answered() -> None:
    loop = asyncio.get_running_loop()
    answered = [f"10{n:011d}" for n in range(40)]
    attempts: list[AttemptInfo] = []

    async def timed(client: WsOneClient, card: str) -> tuple[float, Any]:
        started = loop.time()
        try:
            outcome: Any = await client.get_person(_request(card))
        except APITimeoutError as error:
            outcome = error
        return loop.time() - started, outcome

    async with RawServer() as server:
        server.default("getPerson", _by_card)
        async with WsOneClient._with_hooks(
            server.url,
            username="api",
            password="pw",
            timeout=LIMITS,
            retry=RetryPolicy(max_retries=5, initial_delay=0.01, max_delay=0.02, budget=None),
            on_attempt=attempts.append,
            clock=loop.time,
        ) as client:
            cards = [*sorted(HANGING), *answered]
            results = dict(
                zip(cards, await asyncio.gather(*(timed(client, c) for c in cards)), strict=True)
            )
            # The client goes on after its attempts expired: the same limits, answered.
            assert (await client.get_person(_request(answered[0]))).person_response
        received = [
            json.loads(r.body)["IdentifierRequest"]["identifierValue"] for r in server.requests
        ]
    limits = set()
    for card in HANGING:
        took, error = results[card]
        assert isinstance(error, APITimeoutError) and isinstance(error, TimeoutError)
        assert error.limit in ("attempt", "total")
        assert error.limit in str(error)
        limits.add(error.limit)
        # Retried within the deadline, each attempt at most its limit: the call ends by
        # its total limit, never before its first attempt's.
        assert 2 <= received.count(card) <= 4, received.count(card)
        assert LIMITS.attempt - 0.01 <= took <= LIMITS.total + MARGIN, took
    # Each attempt that expired did so at its own limit, not at another attempt's or later.
    expired = [info for info in attempts if isinstance(info.error, APITimeoutError)]
    assert len(expired) == len(received) - len(answered) - 1
    assert all(info.duration <= LIMITS.attempt + SLACK for info in expired)
    assert "total" in limits  # the last attempt was cut to what was left of the deadline
    for card in answered:
        took, answer = results[card]
        assert not isinstance(answer, Exception), answer
        assert answer.person_response is not None
        assert took <= LIMITS.total + MARGIN


@pytest.mark.parametrize("per_request", ["same limits", "limits of its own"])
async def test_a_view_per_request_leaves_nothing_behind(per_request: str) -> None:
    # A web handler makes a view for each request, with the limits it can wait: the same
    # for every request, or what is left of the request's own budget (a float of its
    # own each time). Thousands of them must not leave timers armed in the loop, nor
    # views alive, in proportion to the requests served.
    loop = asyncio.get_running_loop()
    async with RawServer() as server:
        server.default("getPerson", answer_json(PERSON))
        async with WsOneClient(
            server.url, username="api", password="pw", timeout=LIMITS, telemetry=False
        ) as client:
            await client.get_person(_request("1234567891011"))
            armed, scheduled = _armed(loop), len(loop._scheduled)  # type: ignore[attr-defined]
            views: list[weakref.ref[WsOneClient]] = []

            async def handler(n: int) -> None:
                budget = 5.0 if per_request == "same limits" else 5.0 - n * 1e-6
                view = client.with_options(timeout=Timeouts(attempt=budget, total=budget))
                views.append(weakref.ref(view))
                answer = await view.get_person(_request(f"10{n:011d}"))
                assert answer.person_response is not None

            for batch in range(20):
                await asyncio.gather(*(handler(100 * batch + n) for n in range(100)))
            gc.collect()
            assert [view for view in views if view() is not None] == []
            # At most one timer per shared set of limits (64 at most), not one per request;
            # what one-off limits cancel is dropped by the loop as it goes.
            assert _armed(loop) <= armed + 65
            assert len(loop._scheduled) <= scheduled + 200  # type: ignore[attr-defined]
    assert len(server.requests) == 2001
