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

A block that only defines things (functions, classes, a client) would pass by running
nothing: ``DRIVERS`` holds, for the name such a block defines, a script appended to it that
uses what it defines against the simulator, so a broken definition fails here too.
"""

from __future__ import annotations

import ast
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

# Each driver reads the simulator's URL and credentials from the environment the test sets.
_CONTROL = """
import os

import aiohttp


async def _control(method, path, body=None):
    auth = {"Authorization": aiohttp.encode_basic_auth(
        os.environ["WSONE_USER"], os.environ["WSONE_PASSWORD"])}
    async with aiohttp.ClientSession(headers=auth) as http:
        url = f"{os.environ['WSONE_BASE_URL']}/_control/{path}"
        async with http.request(method, url, json=body) as response:
            assert response.status in (200, 201), await response.text()
            return await response.json()
"""

DRIVERS: dict[str, str] = {
    # A custom settler: "not recorded" (null and code 404) is told apart from an unexpected
    # code, and a receipt recorded whose answer was lost is found (the call is settled).
    "ReceiptSettler404": _CONTROL
    + """
import asyncio
import datetime as dt

from wsone_async import OutcomeUnknownError, models as m, operations as ops


async def drive():
    request = m.SendTransactionRequest(
        identifier_request=m.IdentifierRequest(
            identifier_type=m.IdentifierType.CARD, identifier_value="1234567891011"),
        receipt_request=m.ReceiptRequest(
            receipt_number="R-README", amount=12.5,
            receipt_date=dt.datetime.now().replace(microsecond=0),
            entity_request=m.EntityRequest(entity_identifier="123456")),
    )
    async with client:
        assert not (await client.settle(ops.SEND_TRANSACTION, request)).applied
        await _control("POST", "faults", {"spec": "verifyTransaction:response_code=404"})
        assert not (await client.settle(ops.SEND_TRANSACTION, request)).applied
        await _control("POST", "faults", {"spec": "verifyTransaction:response_code=999"})
        try:
            await client.settle(ops.SEND_TRANSACTION, request)
        except OutcomeUnknownError:
            pass
        else:
            raise AssertionError("an unexpected code must leave the outcome unknown")
        await _control("POST", "faults", {"spec": "sendTransaction:drop_after"})
        result = await client.call_with_metadata(ops.SEND_TRANSACTION, request)
        assert result.settled, result
        assert (await client.settle(ops.SEND_TRANSACTION, request)).applied


asyncio.run(drive())
""",
    # The bounded batch: every request answered, in order; a refusal returned, not raised.
    "create_all": _CONTROL
    + """
import asyncio

from wsone_async import APIError, WsOneClient, models as m


def new(email):
    return m.CreatePersonRequest(new_identifier_request=m.NewIdentifierRequest(
        identifier_type=m.IdentifierType.WEB_ACCOUNT, identifier_value=email))


async def drive():
    emails = [f"batch{i}@example.fr" for i in range(6)]
    async with WsOneClient.from_env() as client:
        answers = await create_all(client, [new(e) for e in [*emails, emails[0]]], limit=2)
    assert all(a.response_code == "000" for a in answers[:-1]), answers
    assert isinstance(answers[-1], APIError), answers[-1]
    state = await _control("GET", "state")
    assert state["persons"] == 1 + len(emails), state


asyncio.run(drive())
""",
    # The rule is answered as the control endpoint lists it, and it fires: two 503s.
    "add_fault": """
import asyncio
import os

from wsone_async import RetryPolicy, ServerError, WsOneClient, models as m


async def drive():
    env = os.environ
    rule = await add_fault(env["WSONE_BASE_URL"], env["WSONE_USER"], env["WSONE_PASSWORD"])
    assert (rule["operation"], rule["kind"], rule["status"]) == ("createPerson", "status", 503)
    assert (rule["times"], rule["retry_after"]) == (2, 1.0), rule
    request = m.CreatePersonRequest(new_identifier_request=m.NewIdentifierRequest(
        identifier_type=m.IdentifierType.WEB_ACCOUNT, identifier_value="fault@example.fr"))
    async with WsOneClient.from_env(retry=RetryPolicy(max_retries=0)) as client:
        for _ in range(2):
            try:
                await client.create_person(request)
            except ServerError as error:
                assert error.status == 503 and error.retry_after == 1.0, error
            else:
                raise AssertionError("the rule did not fire")
        assert (await client.create_person(request)).response_code == "000"


asyncio.run(drive())
""",
}


def _defined(code: str) -> set[str]:
    """The names a block binds at its top level."""
    names: set[str] = set()
    for node in ast.parse(code).body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
    return names


def _only_defines(code: str) -> bool:
    """Whether running the block does nothing but define (imports, defs, assignments)."""
    if _defines_tests(code):
        return False  # pytest runs those
    kinds = (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
    return all(isinstance(node, (*kinds, ast.Assign)) for node in ast.parse(code).body)


def _defines_tests(code: str) -> bool:
    return re.search(r"^(async )?def test_", code, flags=re.MULTILINE) is not None


def _driver(code: str) -> str:
    drivers = [DRIVERS[name] for name in sorted(_defined(code)) if name in DRIVERS]
    assert len(drivers) <= 1, "one driver per block"
    return drivers[0] if drivers else ""


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
    assert elsewhere, "README's markers are gone: is TESTED_ELSEWHERE still their spelling?"
    for line in elsewhere:
        assert re.fullmatch(r"# test: see tests/(unit|wire|simulator|e2e)/test_\w+\.py", line)
        path = ROOT / line.removeprefix(TESTED_ELSEWHERE)
        # A typo in a marker would skip the example here and test it nowhere.
        assert path.is_file(), f"{line}: no such file"
        assert "README" in path.read_text(encoding="utf-8"), f"{line}: it does not read README"
    assert len(RUN_HERE) >= 7  # the marker is for the few examples a script cannot run


def test_every_example_that_only_defines_has_a_driver() -> None:
    idle = [key for key, code in RUN_HERE.items() if _only_defines(code) and not _driver(code)]
    assert idle == [], "add a driver to DRIVERS: these examples run nothing"
    defined = set().union(*(_defined(code) for code in RUN_HERE.values()))
    assert set(DRIVERS) <= defined, "a driver whose example is gone or renamed"


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
    if _defines_tests(code):
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
            sys.executable,
            "-c",
            (code + _driver(code)).replace(EXAMPLE_URL, sim.url),
            cwd=tmp_path,
            env=environment,
        )
        assert status == 0, output
        if "import_prospects(" in code:  # the bulk example did import the file
            assert sim.backend.persons_count() == 1 + PROSPECTS
