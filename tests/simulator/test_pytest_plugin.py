"""The pytest plugin gives a user's suite a simulator and a client with no set-up."""

from __future__ import annotations

from wsone_async import WsOneClient
from wsone_async.models import (
    CreatePersonRequest,
    GetPersonRequest,
    IdentifierRequest,
    IdentifierType,
    NewIdentifierRequest,
)
from wsone_async.testing import WsOneSimulator


async def test_fixtures_are_connected(
    wsone_client: WsOneClient, wsone_simulator: WsOneSimulator
) -> None:
    key = IdentifierRequest(identifier_type=IdentifierType.WEB_ACCOUNT, identifier_value="a@b.fr")
    await wsone_client.create_person(
        CreatePersonRequest(
            new_identifier_request=NewIdentifierRequest(
                identifier_type=key.identifier_type, identifier_value=key.identifier_value
            )
        )
    )
    assert wsone_simulator.backend.persons_count() == 1
    # A fault is retried without waiting: the fixture's client skips the backoff.
    wsone_simulator.faults.add("getPerson", "status", status=503, times=2, retry_after=30)
    found = await wsone_client.get_person(GetPersonRequest(identifier_request=key))
    assert found.person_response is not None
    assert wsone_simulator.stats.faults["status"] == 2


def test_the_plugin_is_registered(pytestconfig: object) -> None:
    manager = pytestconfig.pluginmanager  # type: ignore[attr-defined]
    assert manager.hasplugin("wsone_async")


def test_without_pytest_asyncio_the_fixtures_say_what_is_missing(
    monkeypatch: object,
) -> None:
    import importlib
    import importlib.util

    import pytest

    import wsone_async.testing.pytest_plugin as plugin

    real_find_spec = importlib.util.find_spec

    def find_spec(name: str, *args: object) -> object:
        return None if name == "pytest_asyncio" else real_find_spec(name, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)  # type: ignore[attr-defined]
    try:
        fallback = importlib.reload(plugin)
        for name in ("wsone_simulator", "wsone_client"):
            fixture = getattr(fallback, name)
            with pytest.raises(pytest.fail.Exception, match="needs pytest-asyncio"):
                fixture.__wrapped__()
    finally:
        monkeypatch.undo()  # type: ignore[attr-defined]
        importlib.reload(plugin)
