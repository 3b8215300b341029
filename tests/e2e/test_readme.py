"""README.md stays true: its set-up commands, and every Python example runs.

The convention, also written in README's "Working on the code": each ```python block runs
as a script, in a fresh process and an empty directory, against a WsOne simulator started
here. An example talks to ``https://loyalty.example.fr`` as user ``api-user`` with password
``...``; the test replaces that URL by the simulator's, which it starts with those
credentials and a customer holding card ``1234567891011``, and sets ``WSONE_BASE_URL``,
``WSONE_USER`` and ``WSONE_PASSWORD`` to them for examples that read the environment
(``WsOneClient.from_env()``); a file an example reads
(``prospects.csv``) is made beside it. A block that defines ``test_`` functions is run by
pytest instead (``asyncio_mode = auto``), with the plugin's fixtures. A block whose first line
is ``# test: see <path>`` is run by that test instead, and skipped here.
"""

from __future__ import annotations

import asyncio
import os
import pathlib
import re
import sys

import pytest

from tests._support.sim import SimClient
from wsone_async.testing import WsOneSimulator

ROOT = pathlib.Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")

EXAMPLE_URL = "https://loyalty.example.fr"
EXAMPLE_USER = "api-user"
EXAMPLE_PASSWORD = "..."
EXAMPLE_CARD = "1234567891011"
TESTED_ELSEWHERE = "# test: see "
PROSPECTS = 20


def _python_blocks() -> dict[str, str]:
    """Each ```python block of README, keyed by its section's slug and its rank there."""
    blocks: dict[str, str] = {}
    section, fence, code = "top", None, []
    for line in README.splitlines():
        if fence is None and line.startswith("```"):
            fence, code = line[3:].strip(), []
        elif fence is not None and line == "```":
            if fence == "python":
                rank = sum(key.startswith(f"{section}-") for key in blocks) + 1
                blocks[f"{section}-{rank}"] = "\n".join(code) + "\n"
            fence = None
        elif fence is not None:
            code.append(line)
        elif line.startswith("#"):
            section = re.sub(r"[^a-z0-9]+", "-", line.lstrip("#").strip().lower()).strip("-")
    return blocks


BLOCKS = _python_blocks()
RUN_HERE = {key: code for key, code in BLOCKS.items() if not code.startswith(TESTED_ELSEWHERE)}


def test_the_two_set_up_commands_are_there_and_ci_runs_them() -> None:
    block = README.split("## Set up", 1)[1].split("```sh", 1)[1].split("```", 1)[0]
    lines = [line for line in block.strip().splitlines() if not line.startswith("#")]
    assert lines == [
        "python3 -m venv .venv && .venv/bin/pip install -e '.[dev]' && .venv/bin/wsone demo",
        "python3 -m venv .venv && .venv/bin/pip install -e '.[dev]' && .venv/bin/python -m pytest",
    ]
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert 'readme_command "run the main job"' in ci
    assert 'readme_command "run the tests"' in ci


def test_the_examples_tested_elsewhere_name_a_test_file() -> None:
    elsewhere = [code.splitlines()[0] for code in BLOCKS.values() if code not in RUN_HERE.values()]
    for line in elsewhere:
        assert re.fullmatch(r"# test: see tests/(unit|wire|simulator|e2e)/test_\w+\.py", line)
    assert len(RUN_HERE) >= 7  # the marker is for the few examples a script cannot run


def test_no_placeholder_is_left() -> None:
    assert not re.search(r"\b[A-Z]+_(FIGURES|MATRIX)\b", README)


async def _run(*args: str, cwd: pathlib.Path, env: dict[str, str] | None = None) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        *args,
        cwd=cwd,
        env={**os.environ, **(env or {})},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(process.communicate(), timeout=120)
    assert process.returncode is not None
    return process.returncode, output.decode(errors="replace")


@pytest.mark.parametrize("key", sorted(RUN_HERE))
async def test_the_python_example_runs(key: str, tmp_path: pathlib.Path) -> None:
    code = RUN_HERE[key]
    if re.search(r"^(async )?def test_", code, flags=re.MULTILINE):
        (tmp_path / "test_example.py").write_text(code, encoding="utf-8")
        status, output = await _run(
            sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
            "-o", "asyncio_mode=auto", "-o", "asyncio_default_fixture_loop_scope=function",
            "test_example.py",
            cwd=tmp_path,
        )  # fmt: skip
        assert status == 0, output
        assert re.search(r"\b\d+ passed\b", output), output
        return
    with (tmp_path / "prospects.csv").open("w", encoding="utf-8") as rows:
        rows.write("identifier_value,email,last_name\n")
        rows.writelines(f"p{i}@example.fr,p{i}@example.fr,NOM{i}\n" for i in range(PROSPECTS))
    async with WsOneSimulator(username=EXAMPLE_USER, password=EXAMPLE_PASSWORD) as sim:
        async with SimClient(sim) as control:
            customer = {"identifiers": [{"identifierType": 1, "identifierValue": EXAMPLE_CARD}]}
            status, _ = await control.control("POST", "seed", {"persons": [customer]})
            assert status in (200, 201)
        environment = {
            "WSONE_BASE_URL": sim.url,
            "WSONE_USER": EXAMPLE_USER,
            "WSONE_PASSWORD": EXAMPLE_PASSWORD,
        }
        status, output = await _run(
            sys.executable, "-c", code.replace(EXAMPLE_URL, sim.url), cwd=tmp_path, env=environment
        )
        assert status == 0, output
        if "import_prospects(" in code:  # the bulk example did import the file
            assert sim.backend.persons_count() == 1 + PROSPECTS
