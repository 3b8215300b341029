"""End-to-end tests: the client, the bulk import and the CLI against the simulator."""

from __future__ import annotations

import pytest

from wsone_async.testing import WsOneSimulator


@pytest.fixture
async def sim(wsone_simulator: WsOneSimulator) -> WsOneSimulator:
    """The plugin's in-process simulator, under a short name."""
    return wsone_simulator
