"""pytest plugin of wsone_async (registered through the ``pytest11`` entry point).

Fixtures:

* ``wsone_simulator``: a started :class:`~wsone_async.testing.WsOneSimulator`, fresh for
  each test.
* ``wsone_client``: an open :class:`~wsone_async.WsOneClient` connected to that simulator;
  its waits between retries are skipped, so a test of retries takes no time, and the
  simulator's "not found" codes raise ``NotFoundError``
  (``codes=``:data:`~wsone_async.testing.SIMULATOR_ERROR_CLASSES`).

Both are async fixtures, so they need pytest-asyncio; without it, a test that asks for
one fails with a message saying so.

Example:
    A test in your own suite, with nothing to set up::

        async def test_signup_creates_the_customer(wsone_client, wsone_simulator):
            await my_app.signup(wsone_client, email="jean@example.fr")
            assert wsone_simulator.backend.persons_count() == 1

The simulator is imported when the fixture is first used, so loading the plugin is cheap.
"""

from __future__ import annotations

import importlib.util
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, NoReturn

import pytest

if TYPE_CHECKING:
    from wsone_async import WsOneClient
    from wsone_async.testing import WsOneSimulator

__all__ = ["wsone_client", "wsone_simulator"]


async def _no_wait(seconds: float) -> None:
    """Stands in for asyncio.sleep between retries: tests should not wait."""


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

    @pytest_asyncio.fixture
    async def wsone_client(wsone_simulator: WsOneSimulator) -> AsyncIterator[WsOneClient]:
        """A WsOneClient connected to ``wsone_simulator``, closed after the test."""
        from wsone_async import WsOneClient
        from wsone_async.testing import SIMULATOR_ERROR_CLASSES

        async with WsOneClient._with_hooks(
            wsone_simulator.url,
            username=wsone_simulator.username,
            password=wsone_simulator.password,
            sleep=_no_wait,
            codes=SIMULATOR_ERROR_CLASSES,
        ) as client:
            yield client

else:

    @pytest.fixture
    def wsone_simulator() -> NoReturn:
        """Unavailable: the fixture needs pytest-asyncio."""
        pytest.fail("the wsone_simulator fixture needs pytest-asyncio (pip install pytest-asyncio)")

    @pytest.fixture
    def wsone_client() -> NoReturn:
        """Unavailable: the fixture needs pytest-asyncio."""
        pytest.fail("the wsone_client fixture needs pytest-asyncio (pip install pytest-asyncio)")
