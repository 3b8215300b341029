"""Clients the tests open: against a mocked host, a scripted server or the simulator."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any, Protocol

from tests._support.mocks import FakeClock
from wsone_async import WsOneClient
from wsone_async.testing import SIMULATOR_ERROR_CLASSES, WsOneSimulator

BASE = "https://wsone.example.fr"
USERNAME = "api"
PASSWORD = "Tr0ub4dor&3-very-secret"


class _Served(Protocol):
    url: str
    username: str
    password: str


def client_for(
    url: str = BASE,
    clock: FakeClock | None = None,
    *,
    username: str = USERNAME,
    password: str = PASSWORD,
    **options: Any,
) -> WsOneClient:
    """A client of ``url``; with ``clock``, its waits are recorded and take no time."""
    if clock is not None:
        options.setdefault("sleep", clock.sleep)
        options.setdefault("clock", clock)
    return WsOneClient._with_hooks(url, username=username, password=password, **options)


def simulator_client(sim: _Served, clock: FakeClock | None = None, **options: Any) -> WsOneClient:
    """A client of a running simulator (in process or not), with its credentials.

    The simulator's "not found" codes raise ``NotFoundError`` (as with the pytest plugin's
    ``wsone_client``), so settlers can tell "not applied"; ``codes=None`` uses the
    process-wide registry instead.
    """
    options.setdefault("codes", SIMULATOR_ERROR_CLASSES)
    return client_for(sim.url, clock, username=sim.username, password=sim.password, **options)


@contextlib.asynccontextmanager
async def simulated(**client_options: Any) -> AsyncIterator[tuple[WsOneSimulator, WsOneClient]]:
    """A fresh simulator (seed 7) of its own, and a client of it with ``client_options``."""
    async with (
        WsOneSimulator(seed=7) as sim,
        simulator_client(sim, **client_options) as client,
    ):
        yield sim, client
