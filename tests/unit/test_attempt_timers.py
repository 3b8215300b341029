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
    with _Bound(timers):  # (a bound belongs to the task that makes it)
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
            with _Bound(timers):
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


async def _started(timers: _Timers) -> asyncio.Task[None]:
    task = asyncio.create_task(_never(timers))
    await asyncio.sleep(0)  # in its bound, waiting
    return task


@pytest.mark.parametrize("callers_first", [False, True])
async def test_the_callers_cancel_at_the_deadline_stays_a_cancel(
    frozen_loop: asyncio.AbstractEventLoop, callers_first: bool
) -> None:
    timers = _Timers(5.0, reused=True)
    task = await _started(timers)
    bound = timers._entries[0]
    # Both before the task runs again, in either order: the expiry is not the caller's.
    if callers_first:
        task.cancel()
    timers._fire(bound.when)  # what the loop does when the deadline comes
    if not callers_first:
        task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert bound.expired
    assert task.cancelled()


async def test_an_expired_attempt_that_swallows_the_cancel_returns_normally(
    frozen_loop: asyncio.AbstractEventLoop,
) -> None:
    timers = _Timers(5.0, reused=True)

    async def stubborn() -> str:
        with _Bound(timers):
            try:
                await asyncio.get_running_loop().create_future()
            except asyncio.CancelledError:
                return "kept"
        return "unreachable"

    task = asyncio.create_task(stubborn())
    await asyncio.sleep(0)
    timers._fire(timers._entries[0].when)
    assert await task == "kept"  # as under asyncio.timeout: no TimeoutError to raise
    assert task.cancelling() == 0  # and the cancel was given back


async def test_nested_attempts_in_one_task_each_expire_as_their_own(
    frozen_loop: asyncio.AbstractEventLoop, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A settler's lookup runs inside the call's task: a short bound inside a long one.
    outer_timers, inner_timers = _Timers(10.0, reused=True), _Timers(1.0, reused=False)
    start = frozen_loop.time()
    outcome: list[str] = []

    async def call() -> None:
        with _Bound(outer_timers):
            try:
                with _Bound(inner_timers):
                    await frozen_loop.create_future()
            except TimeoutError:
                outcome.append("inner expired")
            await frozen_loop.create_future()

    task = asyncio.create_task(call())
    await asyncio.sleep(0)
    monkeypatch.setattr(frozen_loop, "time", lambda: start + 1.0)
    inner_timers._fire(start + 1.0)
    await asyncio.sleep(0)
    assert outcome == ["inner expired"]
    assert not task.done()
    assert task.cancelling() == 0
    monkeypatch.setattr(frozen_loop, "time", lambda: start + 10.0)
    with pytest.raises(TimeoutError):
        await task
    assert task.cancelling() == 0
    assert not inner_timers._entries and not outer_timers._entries


def test_a_queue_left_by_a_loop_that_ended_serves_the_next_loop(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    timers = _Timers(60.0, reused=True)

    async def ends_in_time() -> None:
        with _Bound(timers):
            pass

    async def expires() -> None:
        loop = asyncio.get_running_loop()
        task = await _started(timers)
        later = loop.time() + 60.0
        monkeypatch.setattr(loop, "time", lambda: later)
        for _ in range(3):
            await asyncio.sleep(0)
        assert task.done()
        with pytest.raises(TimeoutError):
            task.result()

    with asyncio.Runner() as first:
        ends_in_time_at = first.get_loop().time() + 1000.0
        monkeypatch.setattr(first.get_loop(), "time", lambda: ends_in_time_at)
        first.run(ends_in_time())
    # The first loop ended with the queue's timer still armed in it: the next loop must
    # arm one of its own.
    assert timers._handle is not None
    asyncio.run(expires())
