"""The call pipeline's public surface: settlers as data, typed call metadata, per-client
error codes, subclass-safe views, hooks out of the constructor, and the retry budget."""

from __future__ import annotations

import inspect
import logging
from typing import Any

import aiohttp
import attrs
import pytest

from tests._support.builders import read_request, send_request, write_request
from tests._support.clients import client_for
from tests._support.mocks import FakeClock, MockedWsOne, count_posts
from wsone_async import (
    APIError,
    CallResult,
    NotFoundError,
    OutcomeUnknownError,
    RetryBudget,
    RetryPolicy,
    ServerError,
    WsOneClient,
    register_error_code,
)
from wsone_async import operations as ops
from wsone_async.errors import unregister_error_code
from wsone_async.models import (
    ReceiptRequest,
    SendTransactionRequest,
    TransactionResponse,
)
from wsone_async.settlement import (
    DEFAULT_SETTLERS,
    CannotSettle,
    PersonCreationSettler,
    ReceiptSettler,
    Settled,
    Settler,
    receipt_check,
)

BASE = "https://wsone.example.fr"
PERSON = f"{BASE}/rest/2.0/personWebService"
TRANSACTION = f"{BASE}/rest/2.0/transactionWebService"
OK = {"responseCode": "000"}
FOUND = {"responseCode": "000", "PersonResponse": {"PersonResponse": {"groupeId": "7"}}}
NOT_FOUND = {"responseCode": "101", "infos": "no such person"}


def _pipeline_client(
    clock: FakeClock, *, policy: RetryPolicy | None = None, **kwargs: Any
) -> WsOneClient:
    retry = policy or RetryPolicy(reconcile_writes=True, jitter=False)
    return client_for(BASE, clock, retry=retry, **kwargs)


# ------------------------------------------------------------------------ settlers


@attrs.define
class LedgerSettler:
    """A retailer's own receipt settler: asks its own ledger, not verifyTransaction."""

    recorded: bool
    lookup: str = "the till's ledger"
    asked: list[Any] = attrs.field(factory=list)

    async def __call__(self, reader: WsOneClient, request: Any) -> Settled:
        self.asked.append((reader, request))
        if not self.recorded:
            return Settled(applied=False)
        return Settled(
            applied=True,
            fields={"transaction_response": TransactionResponse(status="VALIDATED")},
        )


def test_the_default_settlers_follow_the_operations_table() -> None:
    settled = {op.name for op in ops.OPERATIONS if op.settlement is not None}
    assert set(DEFAULT_SETTLERS) == settled
    assert isinstance(DEFAULT_SETTLERS["createPerson"], PersonCreationSettler)
    assert isinstance(DEFAULT_SETTLERS["sendTransaction"], ReceiptSettler)
    for settler in DEFAULT_SETTLERS.values():
        assert isinstance(settler, Settler)
        # Both defaults are inferences, and say so where a user reads them.
        assert "inferred" in (type(settler).__doc__ or "")


@pytest.mark.parametrize("recorded", [True, False], ids=["applied", "not applied"])
async def test_a_users_receipt_settler_replaces_verify_transaction(
    mocked: MockedWsOne, clock: FakeClock, recorded: bool
) -> None:
    mine = LedgerSettler(recorded=recorded)
    mocked.post(f"{TRANSACTION}/sendTransaction", exception=aiohttp.ServerDisconnectedError())
    mocked.post(f"{TRANSACTION}/sendTransaction", payload=OK)
    async with _pipeline_client(clock, settlers={"sendTransaction": mine}) as client:
        assert client.settlers["sendTransaction"] is mine
        assert client.settlers["createPerson"] is DEFAULT_SETTLERS["createPerson"]
        result = await client.call_with_metadata(ops.SEND_TRANSACTION, send_request())
    assert len(mine.asked) == 1
    reader, request = mine.asked[0]
    assert isinstance(reader, WsOneClient) and reader.retry_policy.reconcile_writes is False
    assert request == send_request()
    assert count_posts(mocked, f"{TRANSACTION}/verifyTransaction") == 0
    assert result.settled is recorded
    assert result.attempts == (1 if recorded else 2)
    assert count_posts(mocked, f"{TRANSACTION}/sendTransaction") == result.attempts


async def test_a_settler_can_be_added_or_removed(mocked: MockedWsOne, clock: FakeClock) -> None:
    mocked.post(f"{PERSON}/createPerson", exception=aiohttp.ServerDisconnectedError())
    async with _pipeline_client(clock, settlers={"createPerson": None}) as client:
        assert "createPerson" not in client.settlers
        with pytest.raises(OutcomeUnknownError):
            await client.create_person(write_request())
    assert count_posts(mocked, f"{PERSON}/getPerson") == 0


@pytest.mark.parametrize(
    ("settlers", "error"),
    [
        ({"nonsense": ReceiptSettler()}, ValueError),
        ({"getPerson": ReceiptSettler()}, ValueError),
        ({"createPerson": "getPerson"}, TypeError),
    ],
)
def test_bad_settlers_are_refused_at_construction(settlers: Any, error: type[Exception]) -> None:
    with pytest.raises(error, match="settlers"):
        WsOneClient(BASE, username="u", password="p", settlers=settlers)


async def test_a_settler_that_cannot_tell_leaves_the_outcome_unknown(
    mocked: MockedWsOne, clock: FakeClock
) -> None:
    @attrs.frozen
    class Unsure:
        lookup: str = "nothing"

        async def __call__(self, reader: WsOneClient, request: Any) -> Settled:
            msg = "the ledger is offline"
            raise CannotSettle(msg)

    mocked.post(f"{TRANSACTION}/sendTransaction", exception=aiohttp.ServerDisconnectedError())
    async with _pipeline_client(clock, settlers={"sendTransaction": Unsure()}) as client:
        with pytest.raises(OutcomeUnknownError, match="the ledger is offline"):
            await client.send_transaction(send_request())


async def test_settle_runs_the_same_settler_and_charges_the_budget(
    mocked: MockedWsOne, clock: FakeClock
) -> None:
    """The function the bulk importer settles through: same code, same budget."""
    mine = LedgerSettler(recorded=True)
    budget = RetryBudget(capacity=10, retry_cost=5, success_refund=0)
    policy = RetryPolicy(reconcile_writes=True, budget=budget)
    async with _pipeline_client(clock, policy=policy, settlers={"sendTransaction": mine}) as client:
        first = await client.settle(ops.SEND_TRANSACTION, send_request())
        assert first.applied and len(mine.asked) == 1
        await client.settle(ops.SEND_TRANSACTION, send_request())
        # Two checks spent the budget: a third is refused, and says why.
        with pytest.raises(OutcomeUnknownError) as info:
            await client.settle(ops.SEND_TRANSACTION, send_request())
        assert len(mine.asked) == 2
        assert any("retry budget is spent" in note for note in info.value.__notes__)
        with pytest.raises(ValueError, match="no settler"):
            await client.settle(ops.UPDATE_PERSON, write_request())  # type: ignore[arg-type]


async def test_the_default_person_settler_through_settle(
    mocked: MockedWsOne, clock: FakeClock
) -> None:
    mocked.post(f"{PERSON}/getPerson", payload=FOUND)
    mocked.post(f"{PERSON}/getPerson", payload=NOT_FOUND)
    async with _pipeline_client(clock, codes={"101": NotFoundError}) as client:
        assert (await client.settle(ops.CREATE_PERSON, write_request())).applied
        assert not (await client.settle(ops.CREATE_PERSON, write_request())).applied


def test_receipt_check_needs_the_customer_the_store_and_the_number() -> None:
    check = receipt_check(send_request())
    assert check.receipt_request is not None
    assert check.receipt_request.receipt_number == "T-42"
    with pytest.raises(CannotSettle):
        receipt_check(SendTransactionRequest(receipt_request=ReceiptRequest(receipt_number="1")))


# --------------------------------------------------------------------- metadata


async def test_call_metadata_says_attempts_settled_and_duration(
    mocked: MockedWsOne, clock: FakeClock
) -> None:
    mocked.post(f"{PERSON}/getPerson", status=429)
    mocked.post(f"{PERSON}/getPerson", payload=FOUND)
    mocked.post(f"{PERSON}/createPerson", exception=aiohttp.ServerDisconnectedError())
    mocked.post(f"{PERSON}/getPerson", payload=FOUND)
    async with _pipeline_client(clock) as client:
        read = await client.call_with_metadata(ops.GET_PERSON, read_request())
        created = await client.call_with_metadata(ops.CREATE_PERSON, write_request())
    assert isinstance(read, CallResult)
    assert (read.operation, read.attempts, read.settled) == ("getPerson", 2, False)
    assert read.duration == pytest.approx(clock.sleeps[0])  # the backoff, by the fake clock
    assert read.value.person_response is not None
    assert (created.operation, created.attempts, created.settled) == ("createPerson", 1, True)
    assert created.value.response_code == "000"


async def test_a_plain_call_still_returns_the_model(mocked: MockedWsOne, clock: FakeClock) -> None:
    mocked.post(f"{PERSON}/getPerson", payload=FOUND)
    async with _pipeline_client(clock) as client:
        answer = await client.get_person(read_request())
    assert type(answer).__name__ == "GetPersonResponse"


# ------------------------------------------------------------------ error codes


class Duplicate(APIError):
    """Tenant A's duplicate code."""


class Blocked(APIError):
    """Tenant B's meaning of the same code."""


async def test_each_client_can_map_codes_its_own_way(mocked: MockedWsOne, clock: FakeClock) -> None:
    for _ in range(3):
        mocked.post(f"{PERSON}/getPerson", payload={"responseCode": "E42"})
    register_error_code("E42", Duplicate)
    try:
        async with (
            _pipeline_client(clock, codes={"E42": Blocked}) as tenant_b,
            _pipeline_client(clock, codes={}) as bare,
            _pipeline_client(clock) as default,
        ):
            with pytest.raises(Blocked):
                await tenant_b.get_person(read_request())
            with pytest.raises(APIError) as plain:
                await bare.get_person(read_request())
            assert type(plain.value) is APIError
            with pytest.raises(Duplicate):  # the process-wide registry, by default
                await default.get_person(read_request())
    finally:
        unregister_error_code("E42")
    with pytest.raises(TypeError):
        WsOneClient(BASE, username="u", password="p", codes={"E1": ValueError})  # type: ignore[dict-item]


# --------------------------------------------------------------- views and hooks


class TenantClient(WsOneClient):
    """A subclass with its own attribute and method."""

    def __init__(self, *args: Any, tenant: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.tenant = tenant

    def label(self) -> str:
        return f"tenant {self.tenant}"


async def test_a_view_of_a_subclass_is_of_the_subclass(mocked: MockedWsOne) -> None:
    mocked.post(f"{PERSON}/getPerson", payload=FOUND)
    async with TenantClient(BASE, username="u", password="p", tenant="north") as client:
        view = client.with_options(retry=RetryPolicy(max_retries=0))
        assert type(view) is TenantClient
        assert view.label() == "tenant north"
        assert view.retry_policy.max_retries == 0 and client.retry_policy.max_retries == 2
        assert repr(view).startswith("TenantClient(") and repr(view).endswith("view=True)")
        await view.get_person(read_request())
        await view.aclose()  # a view closes nothing
        assert not client.closed


def test_test_hooks_are_not_in_the_constructor() -> None:
    parameters = inspect.signature(WsOneClient).parameters
    for hook in ("sleep", "clock", "random"):
        assert hook not in parameters
    assert {"settlers", "codes", "keepalive_timeout"} <= set(parameters)


# ------------------------------------------------------------------- the budget


async def test_a_spent_budget_warns_once_a_period_and_says_so_on_the_error(
    mocked: MockedWsOne, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="wsone_async")
    for _ in range(10):
        mocked.post(f"{PERSON}/getPerson", status=500)
    budget = RetryBudget(capacity=5, retry_cost=5, success_refund=0)
    policy = RetryPolicy(max_retries=1, budget=budget, jitter=False)
    async with _pipeline_client(clock, policy=policy) as client:
        with pytest.raises(ServerError) as first:
            await client.get_person(read_request())  # one retry: the bucket is now empty
        assert not getattr(first.value, "__notes__", [])
        errors = []
        for _ in range(2):
            with pytest.raises(ServerError) as spent:
                await client.get_person(read_request())
            errors.append(spent.value)
        clock.now += 60.0
        with pytest.raises(ServerError):
            await client.get_person(read_request())
    for error in errors:
        assert any("retry budget is spent" in note for note in error.__notes__)
    warnings = [r for r in caplog.records if "retry budget is spent" in r.getMessage()]
    assert len(warnings) == 2  # the first refusal, then one more a period later
    assert count_posts(mocked, f"{PERSON}/getPerson") == 2 + 3


async def test_no_token_is_spent_on_a_retry_that_does_not_happen(
    mocked: MockedWsOne, clock: FakeClock
) -> None:
    # max_retries=1: the second failure meets tenacity's stop before the budget is asked.
    for _ in range(2):
        mocked.post(f"{PERSON}/getPerson", status=500)
    budget = RetryBudget(capacity=10, retry_cost=5, success_refund=0)
    policy = RetryPolicy(max_retries=1, budget=budget, jitter=False)
    async with _pipeline_client(clock, policy=policy) as client:
        with pytest.raises(ServerError) as info:
            await client.get_person(read_request())
        shared_budget = client._shared.budget
        assert shared_budget is not None and shared_budget.tokens == 5
    assert not getattr(info.value, "__notes__", [])


_TENACITY_ON_DEMAND = """
import asyncio, sys

import wsone_async, wsone_async.bulk
from wsone_async import WsOneClient, models as m, operations as ops
from wsone_async.testing import Status, WsOneSimulator

loaded = {"imported": "tenacity" in sys.modules}


async def no_wait(seconds):
    pass


async def main():
    key = m.IdentifierRequest(identifier_type=m.IdentifierType.WEB_ACCOUNT,
                              identifier_value="jean@example.fr")
    async with WsOneSimulator(seed=7) as sim, WsOneClient._with_hooks(
        sim.url, username=sim.username, password=sim.password, sleep=no_wait
    ) as client:
        await client.create_person(m.CreatePersonRequest(new_identifier_request=m.NewIdentifierRequest(
            identifier_type=key.identifier_type, identifier_value=key.identifier_value)))
        read = m.GetPersonRequest(identifier_request=key)
        first = await client.call_with_metadata(ops.GET_PERSON, read)
        loaded["after a success"] = ("tenacity" in sys.modules, first.attempts)
        sim.faults.add("getPerson", Status(status=503), times=1)
        retried = await client.call_with_metadata(ops.GET_PERSON, read)
        loaded["after a retry"] = ("tenacity" in sys.modules, retried.attempts)

asyncio.run(main())
print(loaded)
"""


def test_tenacity_is_imported_on_the_first_retry_only() -> None:
    # In a fresh process: in this one, another test may have imported it already.
    import subprocess
    import sys

    shown = subprocess.run(
        [sys.executable, "-c", _TENACITY_ON_DEMAND], capture_output=True, text=True, check=False
    )
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.strip() == str(
        {"imported": False, "after a success": (False, 1), "after a retry": (True, 2)}
    )


@attrs.define
class Recorder:
    """A CallObserver writing down the steps it sees, as a tracer would."""

    steps: list[str] = attrs.field(factory=list)

    def call_started(self, state: Any) -> None:
        self.steps.append(f"call {state.operation.name}")

    def attempt_started(self, state: Any) -> None:
        self.steps.append(f"attempt {state.attempts}")

    def attempt_ended(self, state: Any, error: Any) -> None:
        self.steps.append(f"attempt {state.attempts} {'failed' if error else 'ok'}")

    def settle_started(self, state: Any, settler: Any) -> None:
        self.steps.append(f"settle with {settler.lookup}")

    def settle_ended(self, state: Any, settled: Any, error: Any) -> None:
        self.steps.append(f"settled applied={settled.applied}")

    def call_ended(self, state: Any, error: Any) -> None:
        self.steps.append(f"end {state.operation.name} {'failed' if error else 'ok'}")


async def test_one_observer_sees_every_step_of_a_failing_write(
    mocked: MockedWsOne, clock: FakeClock
) -> None:
    mocked.post(f"{PERSON}/createPerson", exception=aiohttp.ServerDisconnectedError())
    mocked.post(f"{PERSON}/getPerson", payload=NOT_FOUND)
    mocked.post(f"{PERSON}/createPerson", payload=OK)
    recorder = Recorder()
    client = WsOneClient._with_hooks(
        BASE,
        username="api",
        password="pw",
        retry=RetryPolicy(reconcile_writes=True),
        sleep=clock.sleep,
        clock=clock,
        observer=recorder,
        codes={"101": NotFoundError},
    )
    async with client:
        await client.create_person(write_request())
    assert recorder.steps == [
        "call createPerson",
        "attempt 1",
        "attempt 1 failed",
        "settle with getPerson",
        # The lookup is a call of its own, on a view of the client: a tracer's child span.
        "call getPerson",
        "attempt 1",
        "attempt 1 failed",  # "not found" is a NotFoundError: the settler reads it as a no
        "end getPerson failed",
        "settled applied=False",
        "attempt 2",
        "attempt 2 ok",
        "end createPerson ok",
    ]
