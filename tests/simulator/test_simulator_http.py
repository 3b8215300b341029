"""The simulator as an HTTP server: auth, paths, malformed bodies, fuzzing, control, lifecycle."""

from __future__ import annotations

import asyncio
import json
import pathlib
import re
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient, TestServer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests._support.sim import OK, SimClient, card, new_customer, person_body, web_account
from tests._support.strategies import json_objects, json_values, models
from wsone_async import NotFoundError, from_wire, to_wire
from wsone_async.testing import (
    SIMULATOR_CODES,
    SIMULATOR_ERROR_CLASSES,
    SimulatorCode,
    WsOneBackend,
    WsOneSimulator,
)
from wsone_async.testing._routes import ROUTES

C = SimulatorCode
OPERATIONS = sorted(ROUTES)


def _response_class(operation: str) -> Any:
    import wsone_async.models as m

    return getattr(m, f"{operation[0].upper()}{operation[1:]}Response")


def _request_class(operation: str) -> Any:
    import wsone_async.models as m

    return getattr(m, f"{operation[0].upper()}{operation[1:]}Request")


# ------------------------------------------------------------------------------ codes


def test_the_code_table_is_one_table_of_distinct_codes() -> None:
    assert len(SIMULATOR_CODES) == len(SimulatorCode)
    assert all(SIMULATOR_CODES[code] == code.meaning for code in SimulatorCode)
    assert SIMULATOR_CODES["000"] == "Request successfully processed"
    assert all(len(code) == 3 and code.isdigit() for code in SIMULATOR_CODES)


def test_the_not_found_codes_are_derived_from_the_table() -> None:
    # What a client of the simulator passes as codes= so that settlers tell "not applied".
    named_not_found = {
        code for code in SimulatorCode if "not found" in code.meaning or "unknown" in code.meaning
    }
    assert set(SIMULATOR_ERROR_CLASSES) == named_not_found
    assert {"101", "401"} <= set(SIMULATOR_ERROR_CLASSES)
    assert set(SIMULATOR_ERROR_CLASSES.values()) == {NotFoundError}


# ------------------------------------------------------------------------------- auth


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": aiohttp.encode_basic_auth("wsone", "wrong")},
        {"Authorization": aiohttp.encode_basic_auth("someone", "x")},
        {"Authorization": "Basic !!!not-base64!!!"},
        {"Authorization": "Basic bm9jb2xvbg=="},  # "nocolon"
        {"Authorization": "Bearer token"},
    ],
)
async def test_bad_credentials_get_401_with_an_envelope(
    wsone_simulator: WsOneSimulator, headers: dict[str, str]
) -> None:
    async with aiohttp.ClientSession() as session:
        for url in (
            wsone_simulator.url_for("getEntities"),
            f"{wsone_simulator.url}/_control/state",
        ):
            method = "GET" if "_control" in url else "POST"
            async with session.request(method, url, json={}, headers=headers) as response:
                assert response.status == 401
                assert response.headers["WWW-Authenticate"].startswith("Basic")
                body = await response.json()
        assert body == {"responseCode": "900", "infos": "Authentication failed"}
    assert wsone_simulator.stats.unauthorized == 2
    assert wsone_simulator.stats.processed == {}


async def test_the_password_is_a_random_token_by_default() -> None:
    first, second = WsOneSimulator(), WsOneSimulator()
    assert first.password != second.password
    assert len(first.password) >= 16
    assert WsOneSimulator(password="pw", username="me").auth_headers == {
        "Authorization": aiohttp.encode_basic_auth("me", "pw")
    }


# ------------------------------------------------------------------------------ paths


async def test_unknown_paths_and_methods(client: SimClient) -> None:
    url = client.sim.url
    async with client.session.post(f"{url}/rest/2.0/personWebService/nope", json={}) as r:
        assert r.status == 404
    # An operation is only served under its own service.
    async with client.session.post(f"{url}/rest/2.0/personWebService/sendTransaction") as r:
        assert r.status == 404
    async with client.session.get(client.sim.url_for("getPerson")) as r:
        assert r.status == 405
    assert client.sim.stats.received == {}


async def test_custom_service_paths() -> None:
    sim = WsOneSimulator(person_path="/api/person/", transaction_path="api/tx")
    async with sim, SimClient(sim) as client:
        assert sim.url_for("getEntities") == f"{sim.url}/api/person/getEntities"
        assert sim.url_for("sendTransaction") == f"{sim.url}/api/tx/sendTransaction"
        await client.ok("getEntities", {})
        assert await client.code("getLastTransaction", {}) == C.MISSING_FIELD
    with pytest.raises(ValueError, match="differ"):
        WsOneSimulator(person_path="/same", transaction_path="/same/")
    with pytest.raises(ValueError, match="unknown WsOne operation"):
        sim.path_for("dropTables")


# ---------------------------------------------------------------- malformed requests


@pytest.mark.parametrize(
    "raw", [b"", b"   ", b"not json", b"[1, 2]", b'"text"', b"null", b"42", b"\xff\xfe", b"{"]
)
async def test_a_body_that_is_not_a_json_object(client: SimClient, raw: bytes) -> None:
    status, data = await client.raw("createPerson", raw)
    assert status == 200
    answer = json.loads(data)
    assert answer["responseCode"] == C.NOT_AN_OBJECT
    assert client.sim.stats.processed["createPerson"] == 1


@pytest.mark.parametrize(
    ("operation", "body", "code", "field"),
    [
        ("createPerson", {}, "002", "NewIdentifierRequest"),
        ("createPerson", {"NewIdentifierRequest": {"identifierValue": "a@b.fr"}}, "002", "NewIdentifierRequest.identifierType"),
        ("createPerson", {"NewIdentifierRequest": {"identifierType": 10}}, "002", "NewIdentifierRequest.identifierValue"),
        ("createPerson", {"NewIdentifierRequest": []}, "003", "NewIdentifierRequest"),
        ("createPerson", {"NewIdentifierRequest": {"identifierType": "ten", "identifierValue": "x"}}, "003", "NewIdentifierRequest.identifierType"),
        ("createPerson", {"NewIdentifierRequest": {"identifierType": 1.5, "identifierValue": "x"}}, "003", "identifierType"),
        ("createPerson", {"NewIdentifierRequest": {"identifierType": True, "identifierValue": "x"}}, "003", "identifierType"),
        ("createPerson", {"NewIdentifierRequest": {"identifierType": 10, "identifierValue": ["x"]}}, "003", "identifierValue"),
        ("createPerson", {**person_body(web_account("z@example.fr")), "SubscriptionRequest": {"id": 1}}, "003", "SubscriptionRequest"),
        ("createPerson", {**person_body(web_account("z@example.fr")), "SubscriptionRequest": [{"activate": True}]}, "002", "SubscriptionRequest[0].id"),
        ("getPerson", {"IdentifierRequest": {"identifierType": 1, "identifierValue": "   "}}, "003", "IdentifierRequest.identifierValue"),
        ("getFullPerson", {"IdentifierRequest": card("1"), "date": "2025-09-26T12:00:00"}, "003", "date"),
        ("getFullPerson", {"IdentifierRequest": card("1"), "date": "31/02/2025 12:00:00"}, "003", "date"),
        ("searchPerson", {"PersonRequest": {"birthDate": "2000-01-01"}}, "003", "PersonRequest.birthDate"),
        ("searchPerson", {"PersonRequest": {"title": "Mr"}}, "003", "PersonRequest.title"),
        ("sendTransaction", {"IdentifierRequest": card("1")}, "002", "ReceiptRequest"),
        ("sendTransaction", {"IdentifierRequest": card("1"), "ReceiptRequest": {"amount": "12,5"}}, "003", "ReceiptRequest.amount"),
        ("editOffer", {"IdentifierRequest": card("1"), "offerNumber": "1", "used": "maybe"}, "003", "used"),
        ("getEntityParents", {}, "002", "EntityRequest"),
        ("getEntities", {"EntityRequest": {}}, "002", "EntityRequest.entityIdentifier"),
    ],
)  # fmt: skip
async def test_missing_and_invalid_fields(
    client: SimClient, operation: str, body: dict[str, Any], code: str, field: str
) -> None:
    answer = await client.call(operation, body)
    assert answer["responseCode"] == code
    assert field in answer["infos"]


async def test_infos_never_repeat_personal_values(client: SimClient) -> None:
    await client.ok("createPerson", person_body(web_account("secret.person@example.fr")))
    answers = [
        await client.call("createPerson", person_body(web_account("secret.person@example.fr"))),
        await client.call(
            "createPerson",
            {"NewIdentifierRequest": {"identifierType": 10, "identifierValue": "SECRETVALUE"}},
        ),
        await client.call("searchPerson", {"PersonRequest": {"birthDate": "SECRETDATE"}}),
    ]
    for answer in answers:
        assert answer["responseCode"] != OK
        for value in ("secret.person@example.fr", "SECRETVALUE", "SECRETDATE"):
            assert value not in answer["infos"]


async def test_ids_and_types_may_arrive_as_numbers_or_text(client: SimClient) -> None:
    await client.ok(
        "createPerson",
        {"NewIdentifierRequest": {"identifierType": "1", "identifierValue": 1234567}},
    )
    answer = await client.ok(
        "getPerson", {"IdentifierRequest": {"identifierType": 1, "identifierValue": "1234567"}}
    )
    assert answer["PersonResponse"]["IdentifierResponse"][0]["identifierValue"] == "1234567"
    await client.ok("getEntities", {"EntityRequest": {"entityIdentifier": 123456}})


async def test_nulls_are_absent_values_and_unknown_keys_are_ignored(client: SimClient) -> None:
    body = person_body(web_account("n@example.fr"))
    body["PersonProfilRequest"]["ContactsRequest"] = None
    body["source"] = None
    body["somethingNew"] = {"x": 1}
    await client.ok("createPerson", body)


# ------------------------------------------------------------------------------- fuzz

_FUZZ = settings(
    max_examples=200,
    deadline=None,
    # One simulator serves every example on purpose: state accumulates, as in real use.
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


async def _assert_answer(client: SimClient, operation: str, raw: bytes) -> None:
    status, data = await client.raw(operation, raw)
    assert status == 200, (status, data)
    answer = json.loads(data)
    assert isinstance(answer, dict)
    code = answer["responseCode"]
    assert code in SIMULATOR_CODES, answer
    assert isinstance(answer["infos"], str)
    if code == OK:
        from_wire(_response_class(operation), answer)


@_FUZZ
@given(operation=st.sampled_from(OPERATIONS), body=json_objects | json_values)
async def test_fuzz_arbitrary_json(client: SimClient, operation: str, body: Any) -> None:
    await _assert_answer(client, operation, json.dumps(body).encode())


@_FUZZ
@given(operation=st.sampled_from(OPERATIONS), raw=st.binary(max_size=64))
async def test_fuzz_arbitrary_bytes(client: SimClient, operation: str, raw: bytes) -> None:
    await _assert_answer(client, operation, raw)


def _corrupt(body: Any, path: list[int], value: Any) -> Any:
    """Replace the node at a pseudo-random path of ``body`` by ``value``."""
    if not path or not isinstance(body, dict | list) or not body:
        return value
    keys = list(body) if isinstance(body, dict) else list(range(len(body)))
    key = keys[path[0] % len(keys)]
    copy: Any = dict(body) if isinstance(body, dict) else list(body)
    copy[key] = _corrupt(body[key], path[1:], value)
    return copy


@_FUZZ
@given(data=st.data(), operation=st.sampled_from(OPERATIONS))
async def test_fuzz_valid_requests_with_one_bad_value(
    client: SimClient, data: st.DataObject, operation: str
) -> None:
    body = to_wire(data.draw(models(_request_class(operation), extra=False)))
    path = data.draw(st.lists(st.integers(0, 50), max_size=5))
    bad = _corrupt(body, path, data.draw(json_values))
    await _assert_answer(client, operation, json.dumps(bad).encode())
    assert client.sim.backend.shared_identifiers() == []


# ---------------------------------------------------------------------------- control


async def test_control_seed_then_state_then_reset(client: SimClient) -> None:
    seed = {
        "entities": [{"entityIdentifier": "777777", "label": "MAGASIN LENS", "parentEntityIdentifier": "100001"}],
        "offers": [{"offerId": "60001", "offerName": "BON_10", "globalMinPrice": 50, "offerDiscountValue": 10, "validityDays": 30}],
        "forms": [{"formId": "200", "label": "SONDAGE", "questions": [{"questionId": "1", "label": "Satisfait ?"}]}],
        "persons": [
            {"identifiers": [{"identifierType": 10, "identifierValue": "seed@example.fr"}, {"identifierType": 1}],
             "PersonProfilRequest": {"PersonRequest": {"lastName": "SEMIS"}, "EntityRequest": {"entityIdentifier": "777777"}},
             "points": 120, "visits": 3, "offers": ["60001"]},
            {},
        ],
    }  # fmt: skip
    status, created = await client.control("POST", "seed", seed)
    assert status == 200
    assert (created["entities"], created["offers"], created["forms"]) == (1, 1, 1)
    first, second = created["persons"]
    assert [i["identifierType"] for i in first["identifiers"]] == [10, 1]
    assert [i["identifierType"] for i in second["identifiers"]] == [1]
    key = {"IdentifierRequest": {"identifierType": 10, "identifierValue": "seed@example.fr"}}
    accounts = await client.ok("getAccounts", key)
    assert {a["name"]: a["value"] for a in accounts["AccountResponse"]}["point"] == 120
    offers = await client.ok("getEnableOffers", key)
    assert {o["offerId"] for o in offers["GetOffersResponses"]} == {"57384", "60001"}
    form = await client.ok("getForm", {**key, "formId": "200"})
    assert form["FormAnsweredResponse"] == [{"questionId": "1", "label": "Satisfait ?"}]
    parents = await client.ok("getEntityParents", {"EntityRequest": {"entityIdentifier": "777777"}})
    assert [e["entityIdentifier"] for e in parents["EntityResponse"]] == ["100001", "000001"]

    status, state = await client.control("GET", "state")
    assert status == 200
    assert (state["persons"], state["identifiers"], state["pointsTotal"]) == (2, 3, 120)
    assert state["sharedIdentifiers"] == 0
    assert state["requests"]["getAccounts"] == 1
    assert state["transactions"]["VALIDATED"] == 0

    client.sim.faults.add("getEntities", "status", status=503)
    status, state = await client.control("POST", "reset")
    assert status == 200
    assert (state["persons"], state["requests"], state["faultRules"]) == (0, {}, 0)
    assert state["entities"] == 9  # the default network again


@pytest.mark.parametrize(
    "seed",
    [
        [],
        {"persons": {}},
        {"persons": [{"identifiers": [{"identifierValue": "x"}]}]},
        {"entities": [{"entityIdentifier": "1", "parentEntityIdentifier": "nowhere"}]},
        {"persons": [{"offers": ["no-such-offer"]}]},
        {"persons": [{"offers": "57384"}]},
    ],
)
async def test_control_seed_refuses_bad_bodies(client: SimClient, seed: Any) -> None:
    status, answer = await client.control("POST", "seed", seed)
    assert status == 400
    assert isinstance(answer["error"], str)


async def test_control_faults(client: SimClient) -> None:
    status, added = await client.control(
        "POST", "faults", {"operation": "getEntities", "kind": "status", "status": 503, "times": 2, "retry_after": 1}
    )  # fmt: skip
    assert status == 201
    assert (added["kind"], added["status"], added["times"], added["retry_after"]) == (
        "status",
        503,
        2,
        1.0,
    )
    status, added = await client.control("POST", "faults", {"spec": "write:drop_after,rate=0.05"})
    assert (status, added["kind"], added["rate"]) == (201, "drop_after", 0.05)
    status, listed = await client.control("GET", "faults")
    assert [f["operation"] for f in listed["faults"]] == ["getEntities", "write"]
    async with client.session.post(client.sim.url_for("getEntities"), json={}) as response:
        assert response.status == 503
    status, listed = await client.control("GET", "faults")
    assert listed["faults"][0]["injected"] == 1
    for bad in (
        {"operation": "getEntities", "kind": "status", "status": "503"},
        {"operation": "getEntities", "kind": "status", "times": True},
        {"operation": "getEntities", "colour": "red"},
        {"operation": "getEntities", "kind": "status", "delay": 1},
        {"operation": ["getEntities"], "kind": "status"},
        {"operation": "getEntities", "kind": 3},
        {"spec": "nope"},
        {"spec": 3},
        [],
    ):
        status, answer = await client.control("POST", "faults", bad)
        assert status == 400, bad
        assert "error" in answer
    status, cleared = await client.control("DELETE", "faults")
    assert (status, cleared) == (200, {"cleared": 2})


async def test_control_rejects_a_body_that_is_not_json(client: SimClient) -> None:
    async with client.session.post(f"{client.sim.url}/_control/seed", data=b"{") as response:
        assert response.status == 400


# -------------------------------------------------------------------------- lifecycle


async def test_start_close_and_ports() -> None:
    sim = WsOneSimulator()
    with pytest.raises(RuntimeError):
        _ = sim.url
    async with sim, WsOneSimulator() as other:
        assert sim.url != other.url
        assert sim.started
        with pytest.raises(RuntimeError):
            await sim.start()
    assert not sim.started
    await sim.close()  # closing twice is harmless
    await sim.start()  # and it can serve again
    url = sim.url
    await sim.close()
    async with aiohttp.ClientSession() as session:
        with pytest.raises(aiohttp.ClientConnectionError):
            await session.post(f"{url}/_control/state")


async def test_closing_leaves_no_task_behind() -> None:
    before = asyncio.all_tasks()
    async with WsOneSimulator() as sim, SimClient(sim) as client:
        await new_customer(client)
        sim.faults.add("getEntities", "drop_after")
        with pytest.raises((aiohttp.ServerDisconnectedError, aiohttp.ClientOSError)):
            await client.call("getEntities", {})
    assert asyncio.all_tasks() == before


async def test_the_app_works_with_aiohttp_test_utils() -> None:
    sim = WsOneSimulator(password="pw")
    async with TestClient(TestServer(sim.app)) as test_client:
        response = await test_client.post(
            sim.path_for("getEntities"), json={}, headers=sim.auth_headers
        )
        assert response.status == 200
        assert (await response.json())["responseCode"] == OK


async def test_a_shared_backend_outlives_the_server() -> None:
    backend = WsOneBackend()
    async with WsOneSimulator(backend=backend) as sim, SimClient(sim) as client:
        await new_customer(client)
    async with WsOneSimulator(backend=backend) as sim, SimClient(sim) as client:
        answer = await client.ok("searchPerson", {"PersonRequest": {"lastName": "DUPOND"}})
        assert len(answer["PersonResponse"]) == 1


async def test_the_plugin_fixture_is_started(wsone_simulator: WsOneSimulator) -> None:
    assert wsone_simulator.started
    assert wsone_simulator.url.startswith("http://127.0.0.1:")
    assert wsone_simulator.backend.persons_count() == 0


# ------------------------------------------------------------ the README's control JSON


def _control_examples() -> tuple[str, list[Any]]:
    readme = (pathlib.Path(__file__).resolve().parents[2] / "README.md").read_text("utf-8")
    section = readme.split("### The control endpoints", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```json\n(.*?)```", section, flags=re.DOTALL)
    python = re.findall(r"```python\n(.*?)```", section, flags=re.DOTALL)
    assert len(python) == 1
    return python[0], [json.loads(block) for block in blocks]


async def test_the_readme_control_examples_are_what_the_simulator_does(client: SimClient) -> None:
    code, (rule, seed_body, seeded, state) = _control_examples()
    namespace: dict[str, Any] = {}
    exec(code, namespace)  # our own README's example
    sim = client.sim
    added = await namespace["add_fault"](sim.url, sim.username, sim.password)
    assert set(added) == set(rule)
    assert {k: added[k] for k in ("operation", "kind", "status", "times", "retry_after")} == {
        k: rule[k] for k in ("operation", "kind", "status", "times", "retry_after")
    }
    await client.control("DELETE", "faults")
    status, answer = await client.control("POST", "seed", seed_body)
    assert (status, answer) == (200, seeded)
    status, counts = await client.control("GET", "state")
    assert status == 200 and set(counts) == set(state)
    status, fresh = await client.control("POST", "reset")
    assert status == 200 and set(fresh) == set(state)


def test_routes_take_read_write_and_service_from_the_operations_table() -> None:
    from wsone_async.operations import OPERATIONS

    assert list(ROUTES) == [op.name for op in OPERATIONS]
    for op in OPERATIONS:
        route = ROUTES[op.name]
        assert (route.group, route.service) == (op.kind.value, op.service.value), op.name
        assert route.groups == {op.kind.value, op.service.value, "*"}
    assert [name for name, route in ROUTES.items() if not route.enveloped] == ["getFullPerson"]
