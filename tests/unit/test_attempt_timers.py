"""The attempts' shared timers (``_Timers``) keep ``asyncio.timeout``'s rules.

(Their use by the transport over a socket: ``tests/wire/test_transport_bound.py``.) The
loop's clock is frozen here: no test waits for real time to pass.
"""

from __future__ import annotations

import asyncio

import pytest

from wsone_async._transport import _Bound, _Timers


@pytest.fixture
async def frozen_loop(monkeypatch: pytest.MonkeyPatch) -> asyncio.AbstractEventLoop:
    """The running loop with its clock stopped, and a coarse clock resolution (Windows')."""
    loop = asyncio.get_running_loop()
    now = loop.time()
    monkeypatch.setattr(loop, "time", lambda: now)
    # asyncio runs a timer handle up to this much before its deadline.
    monkeypatch.setattr(loop, "_clock_resolution", 0.0156)
    return loop


async def _never(timers: _Timers) -> None:
    with _Bound(timers.seconds, timers):  # (a bound belongs to the task that makes it)
        await asyncio.get_running_loop().create_future()


async def test_an_attempt_expires_when_the_loop_runs_its_timer_early(
    frozen_loop: asyncio.AbstractEventLoop,
) -> None:
    # asyncio.timeout expires when the loop runs its handle, which may be within the clock
    # resolution before the deadline; the shared timer did not, and re-armed itself for the
    # same deadline, turn after turn of the loop, until the clock passed it.
    reference = asyncio.create_task(_under_asyncio_timeout(0.005))
    attempt = asyncio.create_task(_never(_Timers(0.005, reused=True)))
    await reference
    await asyncio.sleep(0)
    assert attempt.done()
    with pytest.raises(TimeoutError):
        attempt.result()


async def _under_asyncio_timeout(seconds: float) -> None:
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(seconds):
            await asyncio.get_running_loop().create_future()


async def test_attempts_that_end_out_of_order_expire_in_order(
    frozen_loop: asyncio.AbstractEventLoop, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Thousands of attempts behind a slow one: those that end leave, the queue stays
    # short, and when the clock passes the deadlines only the ones still running expire.
    timers = _Timers(10.0, reused=True)
    slow = asyncio.create_task(_never(timers))
    await asyncio.sleep(0)
    still = []
    for n in range(3000):
        if n % 1000 == 999:
            still.append(asyncio.create_task(_never(timers)))
            await asyncio.sleep(0)
        else:
            with _Bound(10.0, timers):
                pass
    assert len(timers._entries) < 100
    await asyncio.sleep(0)
    assert not slow.done()
    assert not any(task.done() for task in still)
    later = frozen_loop.time() + 10.0
    monkeypatch.setattr(frozen_loop, "time", lambda: later)
    await asyncio.wait([slow, *still])
    for task in (slow, *still):
        with pytest.raises(TimeoutError):
            task.result()
        assert task.cancelling() == 0
    assert not timers._entries
