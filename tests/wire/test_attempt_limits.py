"""Attempt time limits against a raw server that hangs on some requests and answers others.

The attempts of one duration share one loop timer (``_transport._Timers``): each hanging
attempt must still end at its own limit, and the answered ones must not be disturbed.
Durations are read on the loop's clock, with generous margins: no wall-clock timing.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from tests._support.builders import read_request
from tests._support.rawserver import Exchange, RawServer, answer_json, hang
from wsone_async import APITimeoutError, AttemptInfo, RetryPolicy, Timeouts, WsOneClient

PERSON = {"responseCode": "000", "PersonResponse": {"PersonResponse": {"lastName": "X"}}}
LIMITS = Timeouts(attempt=0.05, total=0.2)
MARGIN = 0.5  # the loop's clock, on a loaded machine: generous, never tight
SLACK = 0.03  # an attempt's own timer, beyond how late the loop ran its callbacks
HANGING = {f"99{n:011d}" for n in range(8)}
RETRY = RetryPolicy(max_retries=5, initial_delay=0.01, max_delay=0.02, budget=None)


async def _by_card(x: Exchange) -> bool:
    card = json.loads(x.request.body)["IdentifierRequest"]["identifierValue"]
    action = hang() if card in HANGING else answer_json(PERSON)
    return await action(x)


async def test_hanging_reads_end_at_their_limits_and_the_others_are_answered() -> None:
    loop = asyncio.get_running_loop()
    answered = [f"10{n:011d}" for n in range(40)]
    attempts: list[AttemptInfo] = []

    async def timed(client: WsOneClient, card: str) -> tuple[float, Any]:
        started = loop.time()
        try:
            outcome: Any = await client.get_person(read_request(card))
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
            retry=RETRY,
            on_attempt=attempts.append,
            clock=loop.time,
        ) as client:
            cards = [*sorted(HANGING), *answered]
            lateness = [0.0]  # how late the loop ran a 1 ms timer at worst, meanwhile
            done = asyncio.Event()

            async def ticker() -> None:
                while not done.is_set():
                    due = loop.time() + 0.001
                    await asyncio.sleep(0.001)
                    lateness[0] = max(lateness[0], loop.time() - due)

            ticking = asyncio.create_task(ticker())
            results = dict(
                zip(cards, await asyncio.gather(*(timed(client, c) for c in cards)), strict=True)
            )
            done.set()
            await ticking
            # The client goes on after its attempts expired: the same limits, answered.
            assert (await client.get_person(read_request(answered[0]))).person_response
        received = [
            json.loads(r.body)["IdentifierRequest"]["identifierValue"] for r in server.requests
        ]
    limits = set()
    retried = sum(received.count(card) for card in HANGING) > len(HANGING)
    # A first attempt ends by its limit plus the loop's lateness and its timer's slack; the
    # retry starts at most max_delay later, if that is before the deadline. A loop later
    # than that leaves no room for one (a loaded CI machine, under coverage).
    if LIMITS.attempt + lateness[0] + SLACK + RETRY.max_delay < LIMITS.total:
        assert retried
    for card in HANGING:
        took, error = results[card]
        assert isinstance(error, APITimeoutError) and isinstance(error, TimeoutError)
        assert error.limit in ("attempt", "total")
        assert error.limit in str(error)
        limits.add(error.limit)
        # Retried within the deadline, each attempt at most its limit: the call ends by
        # its total limit, never before its first attempt's. (How many attempts fit depends
        # on how busy the machine is: a loaded loop may leave room for one only.)
        assert 1 <= received.count(card) <= 4, received.count(card)
        assert LIMITS.attempt - 0.01 <= took <= LIMITS.total + MARGIN, took
    # Each attempt that expired did so at its own limit, not at another attempt's or later.
    expired = [info for info in attempts if isinstance(info.error, APITimeoutError)]
    assert len(expired) == len(received) - len(answered) - 1
    # A loaded machine delays every timer alike: the bound grows by how late the loop was.
    bound = LIMITS.attempt + lateness[0] + SLACK
    assert all(info.duration <= bound for info in expired), (bound, expired)
    if retried:
        assert "total" in limits  # the last attempt was cut to what was left of the deadline
    for card in answered:
        took, answer = results[card]
        assert not isinstance(answer, Exception), answer
        assert answer.person_response is not None
        assert took <= LIMITS.total + MARGIN
