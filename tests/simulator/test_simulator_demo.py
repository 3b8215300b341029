"""``wsone demo``: named steps, and a failed check stops it with one line, even under -O."""

from __future__ import annotations

import io
import subprocess
import sys
import textwrap

import pytest

from wsone_async import models as m
from wsone_async._demo import STEPS, Demo, DemoCheckError, Step, check, present, run_demo


async def test_every_step_runs_in_order_and_prints_its_name() -> None:
    out, err = io.StringIO(), io.StringIO()
    assert await run_demo(prospects=12, concurrency=4, out=out, err=err) == 0
    lines = out.getvalue().splitlines()
    numbered = [line for line in lines if line[:2].strip().isdigit()]
    assert [line.split(". ", 1)[1].split(":", 1)[0] for line in numbered] == [
        step.name for step in STEPS
    ]
    assert lines[-1].startswith("demo finished in ")
    assert "12 prospects created, 12 cards" in lines[-1]
    assert err.getvalue() == ""
    assert "@example.fr" not in out.getvalue()  # no customer data on screen


async def _balance_of_a_stranger(demo: Demo) -> str:
    accounts = await demo.client.get_person(
        m.GetPersonRequest(
            identifier_request=m.IdentifierRequest(
                identifier_type=m.IdentifierType.CARD, identifier_value="0000000000000"
            )
        )
    )
    return str(accounts)


async def _impossible(demo: Demo) -> str:
    check(demo.prospects > 1000, "fewer prospects than this step wants")
    return "unreachable"


@pytest.mark.parametrize(
    ("step", "reason"),
    [
        (Step("a failed check", _impossible), "fewer prospects than this step wants"),
        (Step("getPerson of nobody", _balance_of_a_stranger), "101"),
    ],
)
async def test_a_failing_step_stops_the_demo_with_one_line(step: Step, reason: str) -> None:
    out, err = io.StringIO(), io.StringIO()
    status = await run_demo(prospects=5, steps=(STEPS[0], step, STEPS[1]), out=out, err=err)
    assert status == 1
    (line,) = err.getvalue().splitlines()
    assert line.startswith(f"wsone demo: step 2 ({step.name}) failed: ")
    assert reason in line
    assert "searchPerson" not in out.getvalue()  # the steps after it did not run


def test_checks_hold_under_python_o() -> None:
    # assert statements vanish under -O; the demo's checks must not.
    script = textwrap.dedent(
        """
        import asyncio, sys
        from wsone_async._demo import STEPS, Step, check, run_demo

        async def impossible(demo):
            check(False, "checked even under -O")
            return "unreachable"

        sys.exit(asyncio.run(run_demo(prospects=5, steps=(Step("impossible", impossible),))))
        """
    )
    done = subprocess.run(
        [sys.executable, "-O", "-c", script],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1
    assert done.stderr.strip() == ("wsone demo: step 1 (impossible) failed: checked even under -O")


def test_present_and_check() -> None:
    assert present(3, "a number") == 3
    with pytest.raises(DemoCheckError, match="the answer has no PersonResponse"):
        present(None, "PersonResponse")
    check(True, "never raised")
    with pytest.raises(DemoCheckError, match="went wrong"):
        check([], "went wrong")


async def test_bad_sizes_are_refused_with_one_line() -> None:
    err = io.StringIO()
    assert await run_demo(prospects=2, out=io.StringIO(), err=err) == 2
    assert err.getvalue().count("\n") == 1 and "--prospects" in err.getvalue()


async def test_the_pool_follows_the_rule_of_wsone_import() -> None:
    # The demo gave its client as many connections as records in progress, no more: the
    # breaker's probe and the lookups then waited for one, which counts in connect time.
    from wsone_async._console import pool_size

    seen: list[int] = []

    async def pool(demo: Demo) -> str:
        seen.append(demo.client.max_connections)
        return "seen"

    for concurrency in (4, 200):
        assert (
            await run_demo(concurrency=concurrency, steps=(Step("pool", pool),), out=io.StringIO())
            == 0
        )
    assert seen == [pool_size(4), pool_size(200)]
    assert seen[1] > 200


@pytest.mark.parametrize("value", ["0", "-3", "x", "501", "1e9"])
def test_a_bad_concurrency_gets_one_line_and_the_usage_status(
    value: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from wsone_async.cli import main

    with pytest.raises(SystemExit) as info:
        main(["demo", "--concurrency", value])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--concurrency" in err and "Traceback" not in err
    assert ("at most 500" in err) == (value == "501")


async def test_run_demo_refuses_a_concurrency_beyond_the_command_s_limit() -> None:
    err = io.StringIO()
    assert await run_demo(concurrency=501, out=io.StringIO(), err=err) == 2
    assert err.getvalue().count("\n") == 1 and "--concurrency from 1 to 500" in err.getvalue()
