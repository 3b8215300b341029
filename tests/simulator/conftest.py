"""Simulator tests: the simulator alone, spoken to in raw JSON over HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests._support.sim import SimClient
from wsone_async.testing import WsOneSimulator


@pytest.fixture
async def client(wsone_simulator: WsOneSimulator) -> AsyncIterator[SimClient]:
    """A raw JSON client of the plugin's in-process simulator."""
    async with SimClient(wsone_simulator) as sim_client:
        yield sim_client
