"""The bulk importer settles through the client: its settlers, its retry budget (issue 11)."""

from __future__ import annotations

import contextlib
from typing import Any

import pytest

from tests._support.clients import simulated
from tests._support.errors import BusyError
from tests._support.mocks import no_wait
from wsone_async import RetryBudget, RetryPolicy, WsOneClient
from wsone_async.bulk import Outcome, import_prospects, prospect_from_row
from wsone_async.errors import OutcomeUnknownError
from wsone_async.models import CreatePersonRequest
from wsone_async.settlement import CannotSettle, PersonCreationSettler, Settled
from wsone_async.testing import SIMULATOR_ERROR_CLASSES, WsOneSimulator

ROW = {"identifier_value": "settle.me@example.fr", "last_name": "DURAND"}


class UnsureAtFirst:
    """A user's createPerson settler: cannot tell ``unsure`` times, then asks getPerson."""

    lookup = "getPerson"

    def __init__(self, unsure: int) -> None:
        self.unsure = unsure
        self.asked: list[CreatePersonRequest] = []

    async def __call__(self, reader: WsOneClient, request: Any) -> Settled:
        self.asked.append(request)
        if len(self.asked) <= self.unsure:
            msg = "my ledger is not up to date yet"
            raise CannotSettle(msg)
        return await PersonCreationSettler()(reader, request)


def _settling(
    settler: UnsureAtFirst, *, capacity: int = 500
) -> contextlib.AbstractAsyncContextManager[tuple[WsOneSimulator, WsOneClient]]:
    policy = RetryPolicy(
        reconcile_writes=True,
        budget=RetryBudget(capacity=capacity, retry_cost=5, success_refund=0),
    )
    return simulated(retry=policy, settlers={"createPerson": settler}, sleep=no_wait)


async def _import_one(client: WsOneClient) -> list[Any]:
    results = import_prospects(
        client, [ROW], to_request=prospect_from_row, concurrency=1, sleep=no_wait
    )
    return [result async for result in results]


async def test_a_users_settler_is_used_by_the_client_and_by_the_importer() -> None:
    mine = UnsureAtFirst(unsure=2)
    async with _settling(mine) as (sim, client):
        # The client, on its own: the answer to the creation is lost once it is applied.
        sim.faults.add("createPerson", "drop_after", times=1)
        with pytest.raises(OutcomeUnknownError, match="my ledger is not up to date"):
            await client.create_person(prospect_from_row({**ROW, "identifier_value": "a@b.fr"}))
        assert len(mine.asked) == 1
        # The importer: the client's settler cannot tell, so the next round asks it again.
        sim.faults.add("createPerson", "drop_after", times=1)
        [result] = await _import_one(client)
        assert result.outcome is Outcome.CREATED
        assert [request.new_identifier_request.identifier_value for request in mine.asked] == [
            "a@b.fr",
            ROW["identifier_value"],
            ROW["identifier_value"],
        ]
        # Created once: a second import finds the person and creates nothing.
        [again] = await _import_one(client)
        assert again.outcome is Outcome.EXISTING


async def test_the_importers_settling_charges_the_clients_retry_budget() -> None:
    mine = UnsureAtFirst(unsure=100)
    async with _settling(mine, capacity=500) as (sim, client):
        sim.faults.add("createPerson", "drop_after", times=1)
        [result] = await _import_one(client)
        budget = client._shared.budget
        assert budget is not None
        # The client's own settling is free; each of the 3 later rounds costs one retry.
        assert result.outcome is Outcome.UNKNOWN
        assert len(mine.asked) == 4
        assert budget.tokens == 500 - 3 * 5


async def test_a_spent_budget_stops_the_importers_rounds() -> None:
    mine = UnsureAtFirst(unsure=100)
    async with _settling(mine, capacity=5) as (sim, client):
        sim.faults.add("createPerson", "drop_after", times=1)
        [result] = await _import_one(client)
        # One round was paid for; the budget refused the others: no lookup, no creation.
        assert result.outcome is Outcome.UNKNOWN
        assert len(mine.asked) == 2
        assert isinstance(result.error, OutcomeUnknownError)
        assert "retry budget is spent" in "".join(getattr(result.error, "__notes__", []))


async def test_an_import_works_with_no_not_found_code_registered() -> None:
    # codes=None: the process-wide registry, where WsOne's (undocumented) "not found" is not.
    # The search before creating still reads the refusal as "not there" (the creation
    # decides), the preflight as "WsOne answers"; only settling needs the code.
    async with simulated(sleep=no_wait, codes=None) as (sim, client):
        results = await _import_one(client)
        again = await _import_one(client)
        sim.faults.add("createPerson", "drop_before", times=1)
        ambiguous = import_prospects(
            client,
            [{**ROW, "identifier_value": "unsure@example.fr"}],
            to_request=prospect_from_row,
            concurrency=1,
            sleep=no_wait,
        )
        unknown = [result async for result in ambiguous]
    assert [r.outcome for r in results + again] == [Outcome.CREATED, Outcome.EXISTING]
    # Not applied, but getPerson's unregistered refusal cannot say so: never created twice,
    # left unknown.
    assert [r.outcome for r in unknown] == [Outcome.UNKNOWN]
    assert sim.backend.persons_count() == 1


def test_an_import_needs_a_create_person_settler() -> None:
    client = WsOneClient(
        "http://127.0.0.1:9", username="u", password="p", settlers={"createPerson": None}
    )
    with pytest.raises(ValueError, match="createPerson"):
        import_prospects(client, [ROW], to_request=prospect_from_row)


async def test_a_round_the_breaker_gave_back_still_settles_before_creating_again() -> None:
    # The first creation fails ambiguously while the circuit breaker opens: that round is
    # given back, but the next one must still ask whether the person is there before
    # creating again. It used to run as a first round and create the person a second time.
    from wsone_async import bulk

    calls: list[str] = []

    class Stub:
        retry_policy = RetryPolicy()

        async def create_person(self, request: CreatePersonRequest) -> Any:
            calls.append("create")
            job._breaker.trips += 1  # type: ignore[union-attr]  (WsOne went down meanwhile)
            raise OutcomeUnknownError("createPerson", request, reason="dropped")

        async def settle(self, operation: Any, request: Any) -> Settled:
            assert operation.name == "createPerson"
            calls.append("settle")
            return Settled(applied=True)

    async with simulated(sleep=no_wait) as (_, client):
        job = bulk._Import(
            client, concurrency=1, rate_limit=None, dedupe=False, journal=None,
            to_request=None, max_rounds=4, clock=lambda: 0.0, sleep=no_wait, breaker=bulk.CircuitBreaker(),
        )  # fmt: skip
        job._client = Stub()  # type: ignore[assignment]
        row = {"identifier_type": "10", "identifier_value": "jean@example.fr"}
        outcome, _ = await job._settle(prospect_from_row(row))
    assert calls == ["create", "settle"]
    assert outcome is Outcome.CREATED


async def test_a_lookup_refused_by_a_retryable_code_is_looked_up_again_not_taken_as_absent() -> (
    None
):
    # The search before creating read any refusal as "not there": a throttling code said so
    # too. The creation was then refused as a duplicate, the lookup meant to tell was
    # throttled as well, and the row ended failed although the person was there.
    codes = {**SIMULATOR_ERROR_CLASSES, "BUSY": BusyError}
    async with simulated(codes=codes, retry=RetryPolicy(max_retries=0), sleep=no_wait) as (
        sim,
        client,
    ):
        [first] = await _import_one(client)
        assert first.outcome is Outcome.CREATED
        sim.faults.add("getPerson", "response_code", response_code="BUSY", times=2)
        [again] = await _import_one(client)
        assert (again.outcome, again.error) == (Outcome.EXISTING, None)
        assert sim.backend.persons_count() == 1
        # Nor is a creation sent while the lookup is refused: the next round looks again.
        assert sim.stats.processed["createPerson"] == 1


@pytest.mark.parametrize("dedupe", [True, False])
async def test_a_row_throttled_to_its_last_round_fails_with_the_throttling_never_created(
    dedupe: bool,
) -> None:
    # Every lookup is refused with a code registered retryable, up to the last round: no
    # creation is sent while WsOne throttles, and the row, never applied, fails with what
    # happened (the throttling), not with an "outcome unknown, may have been applied".
    codes = {**SIMULATOR_ERROR_CLASSES, "BUSY": BusyError}
    async with simulated(codes=codes, retry=RetryPolicy(max_retries=0), sleep=no_wait) as (
        sim,
        client,
    ):
        sim.faults.add("getPerson", "response_code", response_code="BUSY", times=10**6)
        if not dedupe:  # the creation is refused on purpose first, then settled in rounds
            sim.faults.add("createPerson", "status", status=429, times=1)
        results = import_prospects(
            client, [ROW], to_request=prospect_from_row, concurrency=1, sleep=no_wait,
            dedupe=dedupe,
        )  # fmt: skip
        [result] = [result async for result in results]
        assert sim.stats.processed.get("createPerson", 0) == 0
    assert result.outcome is Outcome.FAILED
    assert isinstance(result.error, BusyError), repr(result.error)
