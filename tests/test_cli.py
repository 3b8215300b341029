"""The ``wsone`` command, run as a user would: in subprocesses."""

from __future__ import annotations

import base64
import csv
import json
import os
import pathlib
import re
import signal
import subprocess
import sys
import urllib.request
from typing import Any

import pytest

from wsone_async.testing import SimulatorProcess

WSONE = [sys.executable, "-m", "wsone_async"]


def _write_csv(path: pathlib.Path, count: int, *, bad_every: int = 0) -> None:
    with path.open("w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        writer.writerow(["identifier_value", "email", "last_name", "birth_date"])
        for i in range(count):
            birth = "31/13/1990" if bad_every and i % bad_every == 1 else "02/03/1990"
            writer.writerow([f"row{i}@example.fr", f"row{i}@example.fr", f"NOM{i % 40}", birth])


def _state(sim: SimulatorProcess) -> dict[str, Any]:
    request = urllib.request.Request(f"{sim.url}/_control/state")
    token = base64.b64encode(f"{sim.username}:{sim.password}".encode()).decode()
    request.add_header("Authorization", f"Basic {token}")
    with urllib.request.urlopen(request, timeout=10) as answer:
        data: dict[str, Any] = json.load(answer)
    return data


def test_demo_runs_the_workflows_and_exits_0() -> None:
    done = subprocess.run(
        [*WSONE, "demo"], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    # How long it took is printed (and quoted in the README), not asserted: timing is noisy.
    assert re.search(r"demo finished in \d+\.\ds", done.stdout)
    for operation in ("getEntities", "searchPerson", "createPerson", "createIdentifier",
                      "getFullPerson", "verifyTransaction", "refundTransaction",
                      "cancelTransactionsNotValidated", "updatePerson", "getForm"):  # fmt: skip
        assert operation in done.stdout
    assert "demo finished" in done.stdout
    assert "@example.fr" not in done.stdout  # no customer data on screen


def test_serve_prints_its_url_and_stops_on_sigterm() -> None:
    env = {**os.environ, "WSONE_SIM_PASSWORD": "s3cret"}
    with subprocess.Popen(
        [*WSONE, "serve", "--port", "0", "--user", "tester"],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    ) as server:
        assert server.stdout is not None
        line = server.stdout.readline()
        match = re.fullmatch(
            r"WsOne simulator listening on (http://127\.0\.0\.1:\d+) \(user tester\)\n", line
        )
        assert match, line
        request = urllib.request.Request(
            f"{match.group(1)}/rest/2.0/personWebService/getEntities", data=b"{}", method="POST"
        )
        request.add_header("Authorization", "Basic " + base64.b64encode(b"tester:s3cret").decode())
        with urllib.request.urlopen(request, timeout=10) as answer:
            assert json.load(answer)["responseCode"] == "000"
        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=30) == 0


def test_import_reports_bad_rows_and_exits_1(tmp_path: pathlib.Path) -> None:
    source = tmp_path / "prospects.csv"
    _write_csv(source, 200, bad_every=50)
    failures, summary = tmp_path / "failures.csv", tmp_path / "summary.json"
    done = subprocess.run(
        [*WSONE, "import", str(source), "--simulate", "--failures", str(failures),
         "--summary-json", str(summary)],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 1, done.stderr
    report = json.loads(summary.read_text())
    assert (report["created"], report["failed"], report["rows"]) == (196, 4, 200)
    with failures.open() as file:
        rows = list(csv.DictReader(file))
    assert [r["wsone_line"] for r in rows] == ["3", "53", "103", "153"]  # header: line 1
    assert {r["wsone_field"] for r in rows} == {"birth_date"}


def test_import_exits_0_when_every_row_settles(tmp_path: pathlib.Path) -> None:
    source = tmp_path / "prospects.jsonl"
    source.write_text(
        "\n".join(json.dumps({"identifier_value": f"j{i}@example.fr"}) for i in range(50))
    )
    done = subprocess.run(
        [*WSONE, "import", str(source), "--simulate"],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "created 50" in done.stdout


def test_import_never_takes_a_password_argument(tmp_path: pathlib.Path) -> None:
    done = subprocess.run(
        [*WSONE, "import", "x.csv", "--base-url", "https://x.fr", "--user", "u", "--password", "p"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 2
    assert "unrecognized arguments: --password" in done.stderr


@pytest.mark.slow
def test_a_killed_import_resumes_without_duplicates(tmp_path: pathlib.Path) -> None:
    rows = 3000
    source, journal = tmp_path / "prospects.csv", tmp_path / "import.journal"
    _write_csv(source, rows)
    with SimulatorProcess(username="importer") as sim:
        env = {**os.environ, "WSONE_PASSWORD": sim.password}
        command = [*WSONE, "import", str(source), "--base-url", sim.url, "--user", "importer",
                   "--journal", str(journal), "--concurrency", "32"]  # fmt: skip
        # Slowed down so that the kill lands in the middle of the import.
        with subprocess.Popen(
            [*command, "--rate", "600"], stderr=subprocess.PIPE, text=True, env=env
        ) as first:
            assert first.stderr is not None
            for line in first.stderr:  # progress lines: one every 5% of the rows
                match = re.search(r"\] (\d+)/", line)
                if match and int(match.group(1)) >= rows // 5:
                    break
            first.kill()  # SIGKILL: no cleanup, no last flush
            first.wait(timeout=30)
        assert first.returncode == -signal.SIGKILL
        killed_at = len(journal.read_text().splitlines())
        assert rows // 5 <= killed_at < rows
        second = subprocess.run(
            command, capture_output=True, text=True, env=env, timeout=300, check=False
        )
        assert second.returncode == 0, second.stderr
        state = _state(sim)
    assert state["persons"] == rows
    assert state["sharedIdentifiers"] == 0
    resumed = int(re.search(r"resumed (\d+)", second.stdout).group(1))  # type: ignore[union-attr]
    assert resumed >= killed_at


# ------------------------------------------- the command's refusals, run in-process


def test_import_with_a_url_needs_a_user(
    tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from wsone_async.cli import main

    source = tmp_path / "p.csv"
    _write_csv(source, 1)
    assert main(["import", str(source), "--base-url", "https://loyalty.example.fr"]) == 2
    assert "--user is required" in capsys.readouterr().err


def test_import_without_a_password_and_no_terminal_says_where_to_put_it(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from wsone_async.cli import main

    source = tmp_path / "p.csv"
    _write_csv(source, 1)
    monkeypatch.delenv("WSONE_PASSWORD", raising=False)
    monkeypatch.setattr(sys, "stdin", open(os.devnull))  # noqa: SIM115
    try:
        assert main(["import", str(source), "--base-url", "https://x.fr", "--user", "u"]) == 2
        assert "$WSONE_PASSWORD" in capsys.readouterr().err
    finally:
        sys.stdin.close()


def test_import_of_a_missing_file_fails_with_a_message(
    tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from wsone_async.cli import main

    assert main(["import", str(tmp_path / "nowhere.csv"), "--simulate"]) == 2
    err = capsys.readouterr().err
    assert "wsone import:" in err and "no such file" in err and "Traceback" not in err


def test_identifiers_are_masked_on_screen() -> None:
    from wsone_async.cli import _mask

    assert _mask("2990000000123") == "••••0123"
    assert _mask(None) == "-"


def test_import_on_a_journal_in_use_exits_2(
    tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import asyncio
    import time

    from wsone_async.bulk import _Journal
    from wsone_async.cli import main

    source, journal = tmp_path / "p.csv", tmp_path / "p.journal"
    _write_csv(source, 3)

    async def hold_while_importing() -> int:
        held = await _Journal.open(journal, time.monotonic)
        try:
            return await asyncio.to_thread(
                main, ["import", str(source), "--simulate", "--journal", str(journal)]
            )
        finally:
            await held.close()

    assert asyncio.run(hold_while_importing()) == 2
    assert "is in use by another import" in capsys.readouterr().err
