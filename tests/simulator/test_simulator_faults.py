"""Fault injection: every kind, seen by a real aiohttp client, deterministic with a seed."""

from __future__ import annotations

import asyncio
import datetime as dt
import email.utils
import json
import pathlib
from typing import Any

import aiohttp
import attrs
import pytest

from tests._support.sim import OK, SimClient, new_customer, person_body, receipt, web_account
from wsone_async.testing import (
    Fault,
    FaultKind,
    FaultPlan,
    Status,
    WsOneSimulator,
    parameters_table,
    parse_fault_spec,
)
from wsone_async.testing._faults import KINDS

DISCONNECTED = (aiohttp.ServerDisconnectedError, aiohttp.ClientOSError)


async def post_with_headers(
    client: SimClient, operation: str, body: Any
) -> tuple[int, dict[str, str], bytes]:
    async with client.session.post(client.sim.url_for(operation), json=body) as response:
        return response.status, dict(response.headers), await response.read()


# ------------------------------------------------------------------------------ kinds


async def test_status_fault_for_the_next_calls_with_retry_after(client: SimClient) -> None:
    client.sim.faults.add("createPerson", "status", status=503, times=2, retry_after=1)
    body = person_body(web_account("a@example.fr"))
    for _ in range(2):
        status, headers, data = await post_with_headers(client, "createPerson", body)
        assert status == 503
        assert headers["Retry-After"] == "1"
        assert json.loads(data) == {"status": 503, "error": "Service Unavailable"}
    assert client.sim.backend.persons_count() == 0  # never processed
    await client.ok("createPerson", body)
    assert client.sim.backend.persons_count() == 1
    assert client.sim.stats.faults == {"status": 2}
    assert client.sim.stats.received["createPerson"] == 3
    assert client.sim.stats.processed["createPerson"] == 1


async def test_status_fault_with_an_empty_body_and_an_http_date(client: SimClient) -> None:
    when = dt.datetime(2030, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
    client.sim.faults.add("getEntities", "status", status=429, retry_after=when, body="empty")
    status, headers, data = await post_with_headers(client, "getEntities", {})
    assert (status, data) == (429, b"")
    assert email.utils.parsedate_to_datetime(headers["Retry-After"]) == when


async def test_retry_after_date_is_computed_when_the_fault_fires(client: SimClient) -> None:
    client.sim.faults.add_spec("getEntities:status=503,retry_after=@120")
    status, headers, _ = await post_with_headers(client, "getEntities", {})
    assert status == 503
    ahead = email.utils.parsedate_to_datetime(headers["Retry-After"]) - dt.datetime.now(dt.UTC)
    assert dt.timedelta(seconds=100) < ahead <= dt.timedelta(seconds=121)


async def test_a_status_fault_may_come_after_the_work_is_done(client: SimClient) -> None:
    client.sim.faults.add("createPerson", "status", status=504, process=True)
    status, _, _ = await post_with_headers(
        client, "createPerson", person_body(web_account("b@example.fr"))
    )
    assert status == 504
    assert client.sim.backend.persons_count() == 1  # the gateway timed out, WsOne did it


@pytest.mark.parametrize("kind", ["drop_before", "drop_after"])
async def test_dropped_connection(client: SimClient, kind: str) -> None:
    client.sim.faults.add("createPerson", kind)
    body = person_body(web_account("c@example.fr"))
    with pytest.raises(DISCONNECTED):
        await post_with_headers(client, "createPerson", body)
    processed = kind == "drop_after"
    assert client.sim.backend.persons_count() == int(processed)
    assert client.sim.stats.processed["createPerson"] == int(processed)
    assert client.sim.stats.faults == {kind: 1}
    # The session recovers on a new connection.
    expected = "102" if processed else OK
    assert await client.code("createPerson", body) == expected


async def test_drop_after_of_a_transaction_leaves_an_ambiguous_receipt(client: SimClient) -> None:
    key = await new_customer(client)
    client.sim.faults.add("transaction", "drop_after", times=1)
    body = {"IdentifierRequest": key, "ReceiptRequest": receipt("AMB-1", 10)}
    with pytest.raises(DISCONNECTED):
        await post_with_headers(client, "sendAndValidTransaction", body)
    # What the client must do: verify before sending again.
    verified = await client.ok("verifyTransaction", body)
    assert verified["TransactionResponse"]["status"] == "VALIDATED"
    assert await client.code("sendAndValidTransaction", body) == "402"  # no double credit
    assert client.sim.backend.transactions_count() == 1


async def test_html_page(client: SimClient) -> None:
    client.sim.faults.add("getEntities", "html")
    async with client.session.post(client.sim.url_for("getEntities"), json={}) as response:
        assert response.status == 200
        assert response.content_type == "text/html"
        assert (await response.text()).startswith("<!DOCTYPE html>")
    assert client.sim.stats.processed["getEntities"] == 0


async def test_garbage_body(client: SimClient) -> None:
    client.sim.faults.add("getEntities", "garbage")
    status, headers, data = await post_with_headers(client, "getEntities", {})
    assert status == 200
    assert headers["Content-Type"] == "application/json"
    with pytest.raises(json.JSONDecodeError):
        json.loads(data)


async def test_response_code_fault(client: SimClient) -> None:
    client.sim.faults.add("createPerson", "response_code", response_code="555", infos="Busy")
    body = person_body(web_account("d@example.fr"))
    answer = await client.call("createPerson", body)
    assert answer == {"responseCode": "555", "infos": "Busy"}
    assert client.sim.backend.persons_count() == 0
    client.sim.faults.add("createPerson", "response_code", response_code="556", process=True)
    assert await client.code("createPerson", body) == "556"
    assert client.sim.backend.persons_count() == 1


async def test_latency_then_normal_answer(client: SimClient) -> None:
    client.sim.faults.add("getEntities", "latency", delay=0.005)
    await client.ok("getEntities", {})
    assert client.sim.stats.faults == {"latency": 1}
    assert client.sim.stats.processed["getEntities"] == 1


async def test_latency_adds_up_with_the_fault_that_decides(client: SimClient) -> None:
    client.sim.faults.add("getEntities", "latency", delay=0.002, times=2)
    client.sim.faults.add("read", "latency", delay=0.003, times=2)
    decides = client.sim.faults.add("read", "status", status=502, times=2)
    # The plan says how long to wait in all, and which rule answers...
    assert client.sim.faults.pick("getEntities") == (0.005, decides)
    # ...and the simulator does it.
    status, _, _ = await post_with_headers(client, "getEntities", {})
    assert status == 502
    assert client.sim.stats.faults == {"latency": 4, "status": 2}


async def test_closing_ends_a_request_waiting_in_latency(monkeypatch: pytest.MonkeyPatch) -> None:
    sim = WsOneSimulator()
    await sim.start()
    sim.faults.add("getEntities", "latency", delay=600)
    reached = asyncio.Event()
    pick = sim.faults.pick

    def spy(operation: str) -> tuple[float, Fault | None]:
        reached.set()
        return pick(operation)

    monkeypatch.setattr(sim.faults, "pick", spy)
    async with aiohttp.ClientSession(headers=sim.auth_headers) as session:

        async def call() -> int:
            async with session.post(sim.url_for("getEntities"), json={}) as response:
                return response.status

        pending = asyncio.create_task(call())
        await reached.wait()
        await asyncio.wait_for(sim.close(), 5)
        with pytest.raises(DISCONNECTED):
            await pending
    assert sim.stats.processed["getEntities"] == 0


# ---------------------------------------------------------------------- targeting


@pytest.mark.parametrize(
    ("target", "hit", "missed"),
    [
        ("read", ["getPerson", "searchPerson", "verifyTransaction", "getLastTransaction"], ["createPerson", "sendTransaction"]),
        ("write", ["createPerson", "updatePerson", "sendTransaction", "refundTransaction"], ["getPerson", "verifyTransaction"]),
        ("transaction", ["sendTransaction", "verifyTransaction", "getLastTransaction"], ["createPerson", "getPerson"]),
        ("*", ["getEntities", "createPerson", "refundTransaction"], []),
        ("getPerson", ["getPerson"], ["getFullPerson", "searchPerson"]),
    ],
)  # fmt: skip
async def test_fault_targets(
    client: SimClient, target: str, hit: list[str], missed: list[str]
) -> None:
    client.sim.faults.add(target, "response_code", response_code="777", rate=1.0)
    for operation in hit:
        assert await client.code(operation, {}) == "777", operation
    for operation in missed:
        assert await client.code(operation, {}) != "777", operation


async def test_skip_then_fire(client: SimClient) -> None:
    client.sim.faults.add("getEntities", "response_code", response_code="888", skip=2, times=1)
    codes = [await client.code("getEntities", {}) for _ in range(4)]
    assert codes == [OK, OK, "888", OK]


async def test_clear_stops_the_faults_and_control_endpoints_are_never_faulted(
    client: SimClient,
) -> None:
    client.sim.faults.add("*", "status", status=500, rate=1.0)
    status, state = await client.control("GET", "state")
    assert status == 200 and state["faultRules"] == 1
    status, _, _ = await post_with_headers(client, "getEntities", {})
    assert status == 500
    status, cleared = await client.control("DELETE", "faults")
    assert (status, cleared) == (200, {"cleared": 1})
    await client.ok("getEntities", {})


async def test_the_same_seed_gives_the_same_faults() -> None:
    async def outcomes(seed: int) -> list[str]:
        async with WsOneSimulator(seed=seed) as sim, SimClient(sim) as client:
            sim.faults.add("read", "response_code", response_code="999", rate=0.5)
            return [await client.code("getEntities", {}) for _ in range(40)]

    first, again, other = await outcomes(7), await outcomes(7), await outcomes(8)
    assert first == again
    assert first != other
    assert 5 < first.count("999") < 35


async def test_reset_replays_the_same_draws(client: SimClient) -> None:
    def draws() -> list[bool]:
        client.sim.faults.add("read", "garbage", rate=0.3)
        return [client.sim.faults.pick("getPerson")[1] is not None for _ in range(50)]

    first = draws()
    client.sim.reset()
    assert client.sim.faults.faults == ()
    assert draws() == first


# ------------------------------------------------------------------- plan and syntax


def test_plan_refuses_bad_rules() -> None:
    plan = FaultPlan()
    bad: list[dict[str, Any]] = [
        {"operation": "nope"},
        {"kind": "explode"},
        {"times": 0},
        {"rate": 1.5},
        {"skip": -1},
        {"delay": -1, "kind": "latency"},
        {"status": 200},
        {"body": "xml"},
        {"kind": "drop_before", "process": True},
        {"retry_after": -3},
        {"response_code": ""},
    ]
    for arguments in bad:
        with pytest.raises(ValueError):
            plan.add(**arguments)
    assert len(plan) == 0


def test_plan_rules_are_consulted_in_order_and_exhaust() -> None:
    plan = FaultPlan()
    first = plan.add("getPerson", "status", status=503)
    second = plan.add("read", "status", status=502, times=2)
    picked = [plan.pick("getPerson")[1] for _ in range(4)]
    assert picked == [first, second, second, None]
    assert (first.exhausted, second.exhausted, first.injected, second.injected) == (
        True,
        True,
        1,
        2,
    )
    assert plan.injected == {"status": 3}
    plan.remove(first)
    assert plan.faults == (second,)


def test_describe_lists_a_rule_as_json() -> None:
    plan = FaultPlan()
    fault = plan.add("createPerson", FaultKind.STATUS, status=503, times=2, retry_after=1.5)
    described = fault.describe()
    assert json.loads(json.dumps(described)) == described
    assert described["kind"] == "status" and described["times"] == 2
    assert fault.retry_after_header() == "1.5"


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("createPerson:status=503,times=2", {"operation": "createPerson", "kind": "status", "status": 503, "times": 2}),
        ("write:drop_after,rate=0.05", {"operation": "write", "kind": "drop_after", "rate": 0.05}),
        ("read:latency=0.2,rate=0.5", {"operation": "read", "kind": "latency", "delay": 0.2, "rate": 0.5}),
        ("getPerson:response_code=101,infos=Person not found", {"operation": "getPerson", "kind": "response_code", "response_code": "101", "infos": "Person not found"}),
        ("*:html,skip=3,process=yes", {"operation": "*", "kind": "html", "skip": 3, "process": True}),
        ("getPerson:status,retry_after=@5", {"operation": "getPerson", "kind": "status", "retry_after": 5.0, "retry_after_date": True}),
    ],
)  # fmt: skip
def test_parse_fault_spec(spec: str, expected: dict[str, Any]) -> None:
    assert parse_fault_spec(spec) == expected
    FaultPlan().add_spec(spec)  # and the plan accepts it


@pytest.mark.parametrize(
    "spec",
    ["", "createPerson", "createPerson:", "createPerson:boom", "x:html=3", "x:status,times",
     "x:status,times=two", "x:status,colour=red", "x:status,process=maybe", "x:status,retry_after=soon"],
)  # fmt: skip
def test_parse_fault_spec_refuses_bad_specs(spec: str) -> None:
    with pytest.raises(ValueError):
        parse_fault_spec(spec)


async def test_a_client_that_gives_up_during_latency_does_not_stop_the_work(
    client: SimClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    client.sim.faults.add("createPerson", "latency", delay=0.02)
    reached, done = asyncio.Event(), asyncio.Event()
    pick, create = client.sim.faults.pick, client.sim.backend.create_person

    def picked(operation: str) -> tuple[float, Fault | None]:
        reached.set()  # the simulator has the request: it waits from now on
        return pick(operation)

    def created(*args: Any, **kwargs: Any) -> Any:
        try:
            return create(*args, **kwargs)
        finally:
            done.set()

    monkeypatch.setattr(client.sim.faults, "pick", picked)
    monkeypatch.setattr(client.sim.backend, "create_person", created)

    async def call() -> None:
        body = person_body(web_account("late@example.fr"))
        async with client.session.post(client.sim.url_for("createPerson"), json=body):
            pass

    pending = asyncio.create_task(call())
    await reached.wait()
    pending.cancel()  # the client gives up while the simulator waits
    with pytest.raises(asyncio.CancelledError):
        await pending
    await asyncio.wait_for(done.wait(), 5)
    assert client.sim.backend.persons_count() == 1


# ------------------------------------------------------------- one description each


def test_the_readme_shows_the_generated_tables() -> None:
    readme = (pathlib.Path(__file__).resolve().parents[2] / "README.md").read_text("utf-8")
    assert parameters_table() in readme


def test_a_kind_instance_is_the_same_as_its_name_and_parameters() -> None:
    plan = FaultPlan()
    by_name = plan.add("getPerson", "status", status=429, retry_after=2, times=1)
    by_class = plan.add("getPerson", Status(status=429, retry_after=2), times=1)
    assert by_class.action == by_name.action == Status(status=429, retry_after=2.0)
    assert {**by_class.describe(), "id": 0} == {**by_name.describe(), "id": 0}
    with pytest.raises(ValueError, match="unknown rule parameter"):
        plan.add("getPerson", Status(), status=500)


@pytest.mark.parametrize(
    ("kind", "parameter"),
    [("status", "delay"), ("latency", "status"), ("drop_after", "infos"), ("html", "body")],
)
def test_a_parameter_of_another_kind_is_refused(kind: str, parameter: str) -> None:
    with pytest.raises(ValueError, match=f"takes no parameter '{parameter}'"):
        FaultPlan().add("getPerson", kind, **{parameter: 1})
    with pytest.raises(ValueError, match="unknown fault option"):
        parse_fault_spec(f"getPerson:{kind},{parameter}=1")


@pytest.mark.parametrize(
    ("arguments", "problem"),
    [
        ({"times": 2.0}, "'times' must be integer"),
        ({"times": True}, "'times' must be integer"),
        ({"rate": "0.5"}, "'rate' must be number"),
        ({"process": 1}, "'process' must be boolean"),
        ({"status": "503"}, "'status' must be integer"),
        ({"retry_after": True}, "retry_after must be seconds"),
        ({"kind": "response_code", "infos": 5}, "'infos' must be string"),
    ],
)
def test_parameters_are_typed_as_in_json(arguments: dict[str, Any], problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        FaultPlan().add("getPerson", **arguments)


def test_every_kind_describes_exactly_its_parameters() -> None:
    plan = FaultPlan()
    common = {"id", "operation", "kind", "times", "rate", "skip", "process", "matched", "injected"}
    for kind, cls in KINDS.items():
        described = plan.add("getPerson", kind).describe()
        assert set(described) == common | {a.name for a in attrs.fields(cls)}, kind
        assert described["kind"] == kind
        # What describe() lists can be posted back as a rule.
        again = {k: v for k, v in described.items() if k not in {"id", "matched", "injected"}}
        assert plan.add(**again).describe() == {**described, "id": described["id"] + 1}
