"""Drift: answers that differ from the models are counted, and logged once without values."""

from __future__ import annotations

import copy
import itertools
import json
import logging
import pathlib
from typing import Any

import pytest

from wsone_async import _codec, operations
from wsone_async._codec import from_wire
from wsone_async._drift import DriftKey, DriftMonitor, Finding, analyse, safe_key, shape
from wsone_async.models import (
    CreateIdentifierResponse,
    CreatePersonResponse,
    GetAccountsResponse,
    GetFullPersonResponse,
)

DATA = pathlib.Path(__file__).resolve().parents[1] / "data"
FULL = json.loads((DATA / "getFullPerson_response.json").read_text("utf-8"))
SECRET = "zoe.martinelli@example.org"

pytestmark = pytest.mark.usefixtures("fresh_drift_log")


def drifted() -> dict[str, Any]:
    """The vendor's getFullPerson example, with four kinds of drift planted in it."""
    body = copy.deepcopy(FULL)
    person = body["PersonResponse"]
    person["PersonResponse"]["loyaltyTier"] = "GOLD-SECRET-TIER"  # unknown key, string
    person["Preferences"] = {"channel": "sms"}  # unknown block
    person[SECRET] = True  # an email used as a key
    body["AccountsResponse"]["AccountResponse"][1]["value"] = "17"  # number sent as text
    person["IdentifierResponse"][0]["activationDate"] = "2025-09-24T11:20:00"  # other format
    return body


EXPECTED = {
    Finding("PersonResponse.PersonResponse.loyaltyTier", "unknown", "-", "string"),
    Finding("PersonResponse.Preferences", "unknown", "-", "object"),
    Finding(f"PersonResponse.{safe_key(SECRET)}", "unknown", "-", "boolean"),
    Finding("AccountsResponse.AccountResponse[].value", "type", "number", "string"),
    Finding(
        "PersonResponse.IdentifierResponse[].activationDate",
        "format",
        "yyyy-MM-dd HH:mm:ss.SSS",
        "ISO 8601",
    ),
}


def test_the_vendors_examples_fit_the_models() -> None:
    for name, cls in (
        ("getFullPerson_response.json", GetFullPersonResponse),
        ("createPerson_response.json", CreatePersonResponse),
        ("createIdentifier_response.json", CreateIdentifierResponse),
    ):
        body = json.loads((DATA / name).read_text("utf-8"))
        assert analyse(body, cls) == []
        monitor = DriftMonitor()
        monitor.notice("x", from_wire(cls, body))
        assert not monitor.counts


def test_analyse_names_every_planted_difference_by_key_path() -> None:
    assert set(analyse(drifted(), GetFullPersonResponse)) == EXPECTED


def test_analyse_reports_missing_blocks_on_request() -> None:
    body = {"responseCode": "000", "PersonResponse": {"PersonResponse": {"firstName": "A"}}}
    missing = {f.path for f in analyse(body, GetFullPersonResponse, missing=True)}
    assert {"OffersResponse", "AccountsResponse", "PersonResponse.EntityResponse"} <= missing
    assert "PersonResponse" not in missing
    assert all(f.kind == "missing" for f in analyse(body, GetFullPersonResponse, missing=True))


def test_list_items_merge_under_one_path() -> None:
    body = {"AccountResponse": [{"tier": 1}, {"tier": 2}, {"tier": "x"}]}
    assert analyse(body, GetAccountsResponse) == [
        Finding("AccountResponse[].tier", "unknown", "-", "integer"),
        Finding("AccountResponse[].tier", "unknown", "-", "string"),
    ]


def test_a_block_of_another_type_is_a_type_difference() -> None:
    assert analyse({"AccountResponse": {"name": "x"}}, GetAccountsResponse) == [
        Finding("AccountResponse", "type", "array", "object")
    ]
    assert analyse([1], GetAccountsResponse) == [Finding("$", "type", "object", "array")]


def test_the_monitor_finds_what_analyse_finds() -> None:
    monitor = DriftMonitor()
    monitor.notice("getFullPerson", from_wire(GetFullPersonResponse, drifted()))
    found = {(key.path, key.kind) for key in monitor.counts}
    assert found == {(f.path, f.kind) for f in EXPECTED}
    assert all(key.operation == "getFullPerson" for key in monitor.counts)


def test_counts_grow_with_every_answer() -> None:
    monitor = DriftMonitor()
    for _ in range(3):
        monitor.notice("getFullPerson", from_wire(GetFullPersonResponse, drifted()))
    key = DriftKey("getFullPerson", "PersonResponse.Preferences", "unknown")
    assert monitor.counts[key] == 3
    assert monitor.report()[0][1] == 3


def test_a_disabled_monitor_counts_nothing() -> None:
    monitor = DriftMonitor(enabled=False)
    monitor.notice("getFullPerson", from_wire(GetFullPersonResponse, drifted()))
    assert not monitor.counts
    assert "off" in repr(monitor)


def test_nulls_and_tolerated_spellings_of_the_same_type_are_not_drift() -> None:
    body = copy.deepcopy(FULL)
    body["OffersResponse"]["GetOffersResponses"][0]["globalMinPrice"] = 30  # int for a float
    body["PersonResponse"]["EntityResponse"]["label"] = None
    monitor = DriftMonitor()
    monitor.notice("getFullPerson", from_wire(GetFullPersonResponse, body))
    assert not monitor.counts
    assert analyse(body, GetFullPersonResponse) == []


def test_explicit_nulls_share_a_mapping_only_when_nothing_else_is_left_over(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The checker skips the shared mappings of nulls of known fields by identity: a null of
    # an unknown key, or a kept spelling beside nulls, must not be taken for one.
    accounts = {
        "AccountResponse": [
            {"name": None, "unit": None},  # nulls of known fields: shared, not drift
            {"name": None, "unit": None},
            {"name": None, "pending": None},  # a null of an unknown key: drift
            {"name": None, "value": "17"},  # a number sent as text beside a null: drift
        ]
    }
    answer = from_wire(GetAccountsResponse, accounts)
    first, second, unknown, spelled = (a.wire_extra for a in answer.account_response)
    assert first is second
    assert id(first) in _codec.NULLS_ONLY
    assert id(unknown) not in _codec.NULLS_ONLY and id(spelled) not in _codec.NULLS_ONLY
    assert dict(spelled) == {"name": None, "value": "17"}
    monitor = DriftMonitor()
    monitor.notice("getAccounts", answer)
    assert {key.path for key in monitor.counts} == {
        "AccountResponse[].pending",
        "AccountResponse[].value",
    }
    # Past the cache's bound, a new shape of nulls gets a mapping of its own: still not drift.
    monkeypatch.setattr(_codec, "_MAX_NULL_SHAPES", len(_codec._NULLS))
    shapes = len(_codec._NULLS)
    keys = next(
        keys
        for keys in itertools.permutations(("unit", "value", "name", "EntityResponse"))
        if keys not in _codec._NULLS  # (other tests of this process may have seen some)
    )
    fresh = from_wire(GetAccountsResponse, {"AccountResponse": [dict.fromkeys(keys)]})
    extra = fresh.account_response[0].wire_extra
    assert len(_codec._NULLS) == shapes
    assert id(extra) not in _codec.NULLS_ONLY
    assert dict(extra) == dict.fromkeys(keys)
    later = DriftMonitor()
    later.notice("getAccounts", fresh)
    assert not later.counts


def test_one_info_line_per_operation_and_key_path_with_no_value(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="wsone_async")
    first, second = DriftMonitor(), DriftMonitor()
    for monitor in (first, second, first):
        monitor.notice("getFullPerson", from_wire(GetFullPersonResponse, drifted()))
    # The same drift in another operation's answer is another line.
    accounts = {"AccountResponse": [{"name": "point", "value": "17"}]}
    first.notice("getAccounts", from_wire(GetAccountsResponse, accounts))
    first.notice("getAccounts", from_wire(GetAccountsResponse, accounts))

    lines = [r.getMessage() for r in caplog.records if r.name == "wsone_async"]
    assert all(r.levelno == logging.INFO for r in caplog.records)
    assert len(lines) == len(EXPECTED) + 1
    for finding in EXPECTED:
        assert sum(finding.path in line and "getFullPerson" in line for line in lines) == 1
    assert sum("getAccounts" in line and "AccountResponse[].value" in line for line in lines) == 1
    text = "\n".join(lines)
    for value in ("GOLD-SECRET-TIER", "sms", SECRET, "martinelli", "'17'", '"17"', "2025-09-24"):
        assert value not in text
    # Counts stay per monitor (per client), the log once per process.
    key = DriftKey("getFullPerson", "PersonResponse.Preferences", "unknown")
    assert (first.counts[key], second.counts[key]) == (2, 1)


def test_keys_that_are_not_identifiers_show_as_shapes() -> None:
    assert safe_key("loyaltyTier") == "loyaltyTier"
    assert safe_key("1234567891011") == "<key: string(13) digit digits>"
    assert "jean" not in safe_key("jean.dupond@example.fr")
    assert safe_key("x" * 65).startswith("<key: string(65)")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("01/01/2000", "string(10) digit,punct[/] dd/MM/yyyy"),
        ("24/09/2025 11:20:00", "string(19) digit,space,punct[/:] dd/MM/yyyy HH:mm:ss"),
        ("2025-09-24 11:20:00.000", "string(23) digit,space,punct[-.:] yyyy-MM-dd HH:mm:ss.SSS"),
        ("JEAN", "string(4) upper"),
        ("Zoé", "string(3) upper,lower,accented"),
        ("", "string(0)"),
        ("+33612345678", "string(12) digit,punct[+]"),
    ],
)
def test_shapes(text: str, expected: str) -> None:
    assert shape(text) == expected


def test_every_response_model_gets_a_checker() -> None:
    monitor = DriftMonitor()
    for operation in operations.OPERATIONS:
        monitor.notice(operation.name, operation.response_type())
    assert not monitor.counts
