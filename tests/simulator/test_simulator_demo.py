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
