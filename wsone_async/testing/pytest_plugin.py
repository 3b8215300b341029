"""pytest plugin of wsone_async (registered through the ``pytest11`` entry point).

Fixtures:

* ``wsone_simulator``: a started :class:`~wsone_async.testing.WsOneSimulator`, fresh for
  each test. It is an async fixture, so it needs pytest-asyncio; without it, a test that
  asks for the fixture fails with a message saying so.

The simulator is imported when the fixture is first used, so loading the plugin is cheap.
"""

from __future__ import annotations

import importlib.util
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, NoReturn

import pytest

if TYPE_CHECKING:
    from wsone_async.testing import WsOneSimulator

__all__ = ["wsone_simulator"]

# The plugin loads in every pytest run where wsone_async is installed: it must not need
# pytest-asyncio, which only the test extra installs.
if importlib.util.find_spec("pytest_asyncio") is not None:
    import pytest_asyncio

    @pytest_asyncio.fixture
    async def wsone_simulator() -> AsyncIterator[WsOneSimulator]:
        """A started WsOne simulator on 127.0.0.1, with a fresh state, closed after the test.

        Connect with ``wsone_simulator.url``, ``.username`` and ``.password``; inject faults
        with ``.faults``; check what happened with ``.backend`` and ``.stats``.
        """
        from wsone_async.testing import WsOneSimulator

        async with WsOneSimulator() as simulator:
            yield simulator

else:  # pragma: no cover

    @pytest.fixture
    def wsone_simulator() -> NoReturn:
        """Unavailable: the fixture needs pytest-asyncio."""
        pytest.fail("the wsone_simulator fixture needs pytest-asyncio (pip install pytest-asyncio)")
