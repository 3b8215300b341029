"""Drift noticed by the client itself, on answers of a raw server (issue 15)."""

from __future__ import annotations

import logging

import pytest

from tests._support.rawserver import RawServer, answer_json
from wsone_async import WsOneClient
from wsone_async import models as m
from wsone_async._drift import DriftKey

# An account with a key the models do not declare and a number sent as text.
ACCOUNTS = {
    "responseCode": "000",
    "AccountResponse": [{"name": "point", "value": "1789", "tier": "ZOE-GOLD"}],
}
UNKNOWN_KEY = DriftKey("getAccounts", "AccountResponse[].tier", "unknown")
OTHER_TYPE = DriftKey("getAccounts", "AccountResponse[].value", "type")
REQUEST = m.GetAccountsRequest(
    identifier_request=m.IdentifierRequest(
        identifier_type=m.IdentifierType.WEB_ACCOUNT, identifier_value="zoe@example.fr"
    )
)

pytestmark = pytest.mark.usefixtures("fresh_drift_log")


def _lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.getMessage().startswith("drift:")]


async def test_the_client_counts_and_logs_drift_once_per_operation_and_path(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="wsone_async")
    async with RawServer() as server:
        server.default("getAccounts", answer_json(ACCOUNTS))
        async with WsOneClient(server.url, username="u", password="p") as client:
            view = client.with_options(timeout=5.0)
            await client.get_accounts(REQUEST)
            await client.get_accounts(REQUEST)
            await view.get_accounts(REQUEST)
            # The views share the client's monitor.
            assert view.drift is client.drift
            assert client.drift.counts == {UNKNOWN_KEY: 3, OTHER_TYPE: 3}
    lines = _lines(caplog)
    assert len(lines) == 2
    assert all("getAccounts" in line for line in lines)
    assert sum("AccountResponse[].tier" in line for line in lines) == 1
    assert sum("AccountResponse[].value" in line for line in lines) == 1
    text = "\n".join(lines)
    for value in ("ZOE-GOLD", "1789", "zoe@example.fr"):
        assert value not in text


async def test_drift_false_turns_it_off(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="wsone_async")
    async with RawServer() as server:
        server.default("getAccounts", answer_json(ACCOUNTS))
        async with WsOneClient(server.url, username="u", password="p", drift=False) as client:
            answer = await client.get_accounts(REQUEST)
            assert answer.account_response is not None  # the answer itself is unchanged
            assert not client.drift.counts
            assert not client.with_options(timeout=5.0).drift.counts
    assert _lines(caplog) == []
