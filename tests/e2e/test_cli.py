"""The ``wsone`` command, run as a user would: in subprocesses."""

from __future__ import annotations

import asyncio
import base64
import collections
import contextlib
import csv
import errno
import functools
import json
import logging
import os
import pathlib
import re
import signal
import socket
import subprocess
import sys
import urllib.request
from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests._support.mocks import no_wait
from tests._support.rawserver import Exchange, RawServer, answer_json, close, respond
from wsone_async import WsOneClient
from wsone_async.testing import SimulatorProcess, WsOneSimulator

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
    from wsone_async._console import mask

    assert mask("2990000000123") == "••••0123"
    assert mask(None) == "-"


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


# --------------------------------- real-world files, run in-process against a simulator


@contextlib.asynccontextmanager
async def _simulator(
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[WsOneSimulator]:
    async with WsOneSimulator(seed=3) as sim:
        monkeypatch.setenv("WSONE_PASSWORD", sim.password)
        yield sim


async def _wsone_import(sim: WsOneSimulator, *argv: str) -> int:
    """``wsone import ... --base-url SIM`` in a thread (its own event loop), as a user runs it."""
    from wsone_async.cli import main

    command = ["import", *argv, "--base-url", sim.url, "--user", sim.username]
    return await asyncio.to_thread(main, command)


def _names(sim: WsOneSimulator) -> dict[str, tuple[str | None, str | None]]:
    found = {}
    for person in sim.backend.persons():
        for kind, value in sim.backend.identifiers_of(person):
            if kind == 10:
                found[value] = (person.first_name, person.last_name)
    return found


FRENCH = [  # as a French marketing team exports them
    ("Courriel", "Nom", "Prénom", "Date de naissance", "Commentaire"),
    ("elodie@example.fr", "Lefèvre", "Élodie", "14/07/1990", "cliente fidèle"),
    ("francois@example.fr", "Müller", "François", "01/02/1985", ""),
    ("noel@example.fr", "Noël", "Bérénice", "31/12/1970", "à rappeler"),
]
FRENCH_MAP = [
    "--map", "Courriel=identifier_value", "--map", "Nom=last_name",
    "--map", "Prénom=first_name", "--map", "Date de naissance=birth_date",
]  # fmt: skip


def _write_rows(path: pathlib.Path, rows: list[tuple[str, ...]], **options: Any) -> None:
    delimiter = options.pop("delimiter", ",")
    with path.open("w", newline="", **options) as file:
        csv.writer(file, delimiter=delimiter).writerows(rows)


async def test_a_french_excel_file_imports_with_its_accents(
    tmp_path: pathlib.Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    source = tmp_path / "export.csv"
    _write_rows(source, FRENCH, encoding="cp1252", delimiter=";")  # "CSV (séparateur: ...)"
    async with _simulator(monkeypatch) as sim:
        assert await _wsone_import(sim, str(source), *FRENCH_MAP) == 0
        assert _names(sim) == {
            "elodie@example.fr": ("Élodie", "Lefèvre"),
            "francois@example.fr": ("François", "Müller"),
            "noel@example.fr": ("Bérénice", "Noël"),
        }
        target = f"into {sim.url} as {sim.username}"
    err = capsys.readouterr().err
    assert "CSV, cp1252, ';'-separated" in err
    assert target in err  # the target, said at start
    # Every unknown column in one warning, and the import went on.
    warnings = [line for line in err.splitlines() if "unknown columns" in line]
    assert warnings == [
        "warning: ignoring the unknown columns 'Commentaire' "
        "(--map SOURCE=COLUMN imports one, --strict-columns refuses them)"
    ]


async def test_utf8_with_bom_and_an_unknown_column(
    tmp_path: pathlib.Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    source = tmp_path / "excel-utf8.csv"
    rows = [("identifier_value", "first_name", "nickname", "Commentaire")]
    rows += [(f"p{i}@example.fr", "Zoé", "zozo", "ok") for i in range(5)]
    _write_rows(source, rows, encoding="utf-8-sig")
    async with _simulator(monkeypatch) as sim:
        assert await _wsone_import(sim, str(source)) == 0
        assert {first for first, _ in _names(sim).values()} == {"Zoé"}
        assert sim.backend.persons_count() == 5
        err = capsys.readouterr().err
        assert "CSV, UTF-8 with BOM, ','-separated" in err
        assert "ignoring the unknown columns 'nickname', 'Commentaire'" in err
        # --strict-columns refuses them before anything is sent.
        sim.stats.reset()
        assert await _wsone_import(sim, str(source), "--strict-columns") == 2
        assert sum(sim.stats.received.values()) == 0
    assert "unknown columns: nickname, Commentaire" in capsys.readouterr().err


async def test_a_utf8_file_with_cp1252_lines_keeps_its_accents(
    tmp_path: pathlib.Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    source = tmp_path / "mixed.csv"
    lines = ["identifier_value,last_name"] + [f"u{i}@example.fr,Gérard" for i in range(30)]
    data = "\n".join(lines).encode() + "\nw@example.fr,Hélène\n".encode("cp1252")
    source.write_bytes(data)
    async with _simulator(monkeypatch) as sim:
        assert await _wsone_import(sim, str(source)) == 0
        names = _names(sim)
    assert names["w@example.fr"] == (None, "Hélène")
    assert names["u7@example.fr"] == (None, "Gérard")
    err = capsys.readouterr().err
    assert "CSV, utf-8, ','-separated" in err
    assert "1 line(s) were not utf-8 and were read as cp1252 (the first: line 32)" in err


async def test_a_line_a_forced_encoding_cannot_decode_is_a_bad_row(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source, failures = tmp_path / "mixed.csv", tmp_path / "failures.csv"
    data = "identifier_value,last_name\na@example.fr,Gérard\n".encode()
    data += "b@example.fr,Hélène\n".encode("cp1252") + b"c@example.fr,Roux\n"
    source.write_bytes(data)
    async with _simulator(monkeypatch) as sim:
        code = await _wsone_import(
            sim, str(source), "--encoding", "utf-8", "--failures", str(failures)
        )
        assert code == 1
        assert set(_names(sim)) == {"a@example.fr", "c@example.fr"}
    with failures.open(encoding="utf-8", newline="") as file:
        (row,) = list(csv.DictReader(file))
    assert (row["wsone_line"], row["wsone_field"]) == ("3", "row")
    assert row["wsone_reason"] == "line 3 is not valid utf-8"


async def test_a_missing_identifier_column_stops_before_anything_is_sent(
    tmp_path: pathlib.Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    source = tmp_path / "export.csv"
    _write_rows(source, FRENCH, encoding="cp1252", delimiter=";")
    async with _simulator(monkeypatch) as sim:
        assert await _wsone_import(sim, str(source)) == 2
        assert sum(sim.stats.received.values()) == 0
    (line,) = capsys.readouterr().err.strip().splitlines()[-1:]
    assert "no identifier_value column" in line
    assert "Courriel, Nom, Prénom" in line  # what the file has
    assert "identifier_type, identifier_value, title" in line  # what is expected
    assert "Traceback" not in line


async def test_a_failures_file_imports_again_as_written(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source, failures = tmp_path / "export.csv", tmp_path / "failures.csv"
    rows = [*FRENCH, ("bad1@example.fr", "Dupré", "Zoé", "31/02/1990", "x")]
    rows += [("bad2@example.fr", "Noël", "Anaïs", "hier", "")]
    _write_rows(source, rows, encoding="cp1252", delimiter=";")
    async with _simulator(monkeypatch) as sim:
        assert await _wsone_import(sim, str(source), *FRENCH_MAP, "--failures", str(failures)) == 1
        # Written as the input is: cp1252, ';', its columns first, then the reasons.
        text = failures.read_bytes().decode("cp1252")
        header, first, _second = text.splitlines()
        assert header == (
            "Courriel;Nom;Prénom;Date de naissance;Commentaire;"
            "wsone_line;wsone_outcome;wsone_field;wsone_reason"
        )
        assert first.startswith("bad1@example.fr;Dupré;Zoé;31/02/1990;x;5;failed;birth_date;")
        # Imported again as written: only the rows' own errors come back.
        again = tmp_path / "failures-again.csv"
        code = await _wsone_import(sim, str(failures), *FRENCH_MAP, "--failures", str(again))
        assert code == 1
        with again.open(encoding="cp1252", newline="") as file:
            back = list(csv.DictReader(file, delimiter=";"))
        assert [(r["Courriel"], r["wsone_field"]) for r in back] == [
            ("bad1@example.fr", "birth_date"),
            ("bad2@example.fr", "birth_date"),
        ]
        assert [r["wsone_line"] for r in back] == ["2", "3"]  # lines of the failures file
        # Corrected "in Excel", imported once more: done.
        failures.write_bytes(
            text.replace("31/02/1990", "28/02/1990")
            .replace(";hier;", ";01/01/2001;")
            .encode("cp1252")
        )
        assert await _wsone_import(sim, str(failures), *FRENCH_MAP) == 0
        assert _names(sim)["bad2@example.fr"] == ("Anaïs", "Noël")
        assert sim.backend.persons_count() == 5


async def test_refused_credentials_exit_3_after_one_request(
    tmp_path: pathlib.Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    source = tmp_path / "p.csv"
    _write_csv(source, 300)
    async with _simulator(monkeypatch) as sim:
        monkeypatch.setenv("WSONE_PASSWORD", "not the password")
        assert await _wsone_import(sim, str(source)) == 3
        assert sim.stats.unauthorized == 1  # the preflight's read, and nothing more
        assert sim.backend.persons_count() == 0
    err = capsys.readouterr().err
    assert "refused the credentials" in err and "nothing was imported" in err


async def test_credentials_refused_during_the_import_stop_it_at_once(
    tmp_path: pathlib.Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    source, journal = tmp_path / "p.csv", tmp_path / "p.journal"
    _write_csv(source, 500)
    concurrency = 8
    async with _simulator(monkeypatch) as sim:
        # The account gets locked after 40 requests (the preflight's included).
        refusals = sim.faults.add("*", "status", status=401, skip=40, times=10**6)
        code = await _wsone_import(
            sim, str(source), "--concurrency", str(concurrency), "--journal", str(journal)
        )
        assert code == 3
        # Counted at the server: at most one refused request per record in progress.
        assert 1 <= refusals.injected <= concurrency
        sim.faults.clear()
        # The journal resumes what was left.
        assert await _wsone_import(sim, str(source), "--journal", str(journal)) == 0
        assert sim.backend.persons_count() == 500
        assert sim.backend.shared_identifiers() == []
    assert "import stopped at once" in capsys.readouterr().err


@pytest.mark.parametrize("registered", [False, True])
async def test_a_not_found_code_lets_a_lost_creation_be_sent_again(
    tmp_path: pathlib.Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    registered: bool,
) -> None:
    # The connection drops before WsOne applies one creation: its outcome is unknown. The
    # lookup answers the simulator's "person not found" (101), which says "not applied"
    # only when registered as such; otherwise the row stays unknown, never sent twice.
    source = tmp_path / "p.csv"
    _write_csv(source, 6)
    options = ["--not-found-code", "101"] if registered else []
    async with _simulator(monkeypatch) as sim:
        sim.faults.add("createPerson", "drop_before", times=1)
        code = await _wsone_import(sim, str(source), "--dedupe", "none", *options)
        created = sim.backend.persons_count()
        assert sim.backend.shared_identifiers() == []
    said = capsys.readouterr()
    hint = "rerun with --not-found-code 101"
    if registered:
        assert (code, created) == (0, 6)
        assert hint not in said.err
    else:
        assert code != 0
        assert created == 5
        assert "unknown 1" in said.out
        # The summary names the code the lookups answered, and the option that says it.
        assert hint in said.err, said.err


async def test_an_unreachable_wsone_exits_4_before_importing(
    tmp_path: pathlib.Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from wsone_async.cli import main

    source = tmp_path / "p.csv"
    _write_csv(source, 30_000)
    with socket.socket() as placeholder:  # a port that was free a moment ago: closed now
        placeholder.bind(("127.0.0.1", 0))
        port = placeholder.getsockname()[1]
    monkeypatch.setenv("WSONE_PASSWORD", "pw")
    command = ["import", str(source), "--base-url", f"http://127.0.0.1:{port}", "--user", "u"]
    assert await asyncio.to_thread(main, command) == 4
    (line,) = [line for line in capsys.readouterr().err.splitlines() if "wsone import:" in line]
    assert "unreachable" in line and "nothing was imported" in line
    # One line, after the preflight's two attempts: not one failure per row.
    assert re.search(r"; 2 attempts\)", line), line


async def test_two_shards_at_once_import_every_person_exactly_once(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = tmp_path / "p.csv"
    _write_csv(source, 400)
    rows = source.read_text().splitlines()
    for position in (1, 102, 203, 304):  # 4 bad rows: each reported by one shard only
        rows[1 + position] = rows[1 + position].replace("02/03/1990", "31/13/1990")
    source.write_text("\n".join(rows) + "\n")
    reports = [tmp_path / f"summary{k}.json" for k in (0, 1)]
    async with _simulator(monkeypatch) as sim:
        codes = await asyncio.gather(
            *(
                _wsone_import(
                    sim, str(source), "--shard", f"{k}/2", "--journal", str(tmp_path / f"j{k}"),
                    "--summary-json", str(reports[k]), "--concurrency", "8",
                )
                for k in (0, 1)
            )
        )  # fmt: skip
        assert codes == [1, 1]  # the bad rows: three in shard 0, one in shard 1
        assert sim.backend.persons_count() == 396
        assert sim.backend.shared_identifiers() == []
        assert sim.stats.processed["createPerson"] == 396  # nobody created twice
    summaries = [json.loads(report.read_text()) for report in reports]
    assert sum(s["created"] for s in summaries) == 396
    assert sum(s["failed"] for s in summaries) == 4
    assert all(s["created"] > 100 for s in summaries)  # a real split, not all in one
    assert [s["other_shards"] + s["created"] + s["failed"] for s in summaries] == [400, 400]


async def test_a_failed_row_fixed_comes_back_to_its_own_shard(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A row that failed was sharded by its position, which differs in the failures file:
    # fixed and imported again with the same --shard, some rows fell in other shards and
    # were imported by no run at all.
    source = tmp_path / "p.csv"
    _write_csv(source, 120, bad_every=7)  # 17 rows with the birth date 31/13/1990
    with source.open("a", encoding="utf-8") as file:
        file.write(",nobody@example.fr,NOM,02/03/1990\n")  # no identifier: shard 0 says so
    options = ["--concurrency", "4"]
    async with _simulator(monkeypatch) as sim:
        summaries = []
        for k in range(3):
            summary = tmp_path / f"summary{k}.json"
            code = await _wsone_import(
                sim, str(source), "--shard", f"{k}/3", "--journal", str(tmp_path / f"j{k}"),
                "--failures", str(tmp_path / f"failures{k}.csv"), "--summary-json", str(summary),
                *options,
            )  # fmt: skip
            assert code == 1
            summaries.append(json.loads(summary.read_text()))
        # Every row handled by exactly one shard.
        assert sum(s["created"] for s in summaries) == 103
        assert sum(s["failed"] for s in summaries) == 18
        assert all(s["other_shards"] + s["created"] + s["failed"] == 121 for s in summaries)
        failed = [(tmp_path / f"failures{k}.csv").read_text(encoding="utf-8") for k in range(3)]
        assert ["nobody@example.fr" in text for text in failed] == [True, False, False]
        for k, text in enumerate(failed):
            fixed = tmp_path / f"fixed{k}.csv"
            lines = [line for line in text.splitlines() if "nobody@" not in line]
            fixed.write_text("\n".join(lines).replace("31/13/1990", "02/03/1990") + "\n")
            code = await _wsone_import(
                sim, str(fixed), "--shard", f"{k}/3", "--journal", str(tmp_path / f"j{k}"),
                *options,
            )  # fmt: skip
            assert code == 0, k
        assert sim.backend.persons_count() == 120  # every fixed row imported, by its shard


def test_every_bad_option_is_an_argparse_error(
    tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from wsone_async.cli import main

    source = tmp_path / "p.csv"
    _write_csv(source, 1)
    for option, value in [
        ("--concurrency", "0"), ("--concurrency", "many"), ("--concurrency", "1000000"),
        ("--rate", "-1"),
        ("--shard", "2/2"), ("--shard", "1"), ("--map", "Email"), ("--map", "Email=mail"),
        ("--delimiter", "|"), ("--encoding", "klingon"), ("--encoding", "utf-16"),
        ("--not-found-code", ""), ("--not-found-code", "1 01"), ("--not-found-code", "x" * 17),
        ("--not-found-code", "000"),
    ]:  # fmt: skip
        with pytest.raises(SystemExit) as info:
            main(["import", str(source), "--simulate", option, value])
        assert info.value.code == 2
        (line,) = capsys.readouterr().err.splitlines()  # one line, no usage block
        assert f"argument {option}" in line and "wsone import --help" in line


def test_plain_http_off_loopback_needs_allow_insecure_http(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from wsone_async.cli import main

    source = tmp_path / "p.csv"
    _write_csv(source, 1)
    monkeypatch.setenv("WSONE_PASSWORD", "pw")
    assert main(["import", str(source), "--base-url", "http://10.0.0.1", "--user", "u"]) == 2
    line = capsys.readouterr().err.splitlines()[-1]
    # The option's name, not the library keyword (allow_insecure_http=True) it once gave.
    assert "--allow-insecure-http" in line and "allow_insecure_http" not in line


def test_help_shows_defaults_and_exit_statuses(capsys: pytest.CaptureFixture[str]) -> None:
    from wsone_async.cli import EXIT_STATUSES, main

    with pytest.raises(SystemExit):
        main(["import", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "(default: 16)" in text and "(default: identifier)" in text
    for status, meaning in EXIT_STATUSES:
        assert f"{status} {' '.join(meaning.split())}" in text


def test_readme_lists_the_exit_statuses() -> None:
    from wsone_async.cli import EXIT_STATUSES

    readme = (pathlib.Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    section = readme.split("### `wsone import`", 1)[1].split("\n## ", 1)[0]
    listed = [int(code) for code in re.findall(r"^\| (\d+) \| ", section, flags=re.MULTILINE)]
    assert listed == [status for status, _ in EXIT_STATUSES]


def test_a_file_without_rows_says_so(
    tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from wsone_async.cli import main

    source = tmp_path / "p.csv"
    source.write_text("identifier_value,last_name\n")
    assert main(["import", str(source), "--simulate"]) == 0
    assert "has no rows: nothing to import" in capsys.readouterr().out


def test_progress_lines_in_a_log_come_every_few_seconds_and_count_this_run() -> None:
    import io

    from wsone_async.bulk import ImportResult, Outcome
    from wsone_async.cli import _Progress

    class Log(io.StringIO):
        def isatty(self) -> bool:
            return False

    now = [100.0]
    log = Log()
    progress = _Progress(2000, log, clock=lambda: now[0])
    for i in range(1000):  # resumed from the journal: no time, and not this run's work
        progress.add(ImportResult(i, "k", Outcome.CREATED, resumed=True))
    for i in range(500):  # then 100 rows a second
        now[0] += 0.01
        progress.add(ImportResult(i, "k", Outcome.CREATED))
    lines = log.getvalue().splitlines()
    assert len(lines) == 1  # 5 s passed: one line, not 1,500
    assert "1500/2000" in lines[0] and " 100 rows/s" in lines[0] and "ETA    5s" in lines[0]


def test_a_journal_that_cannot_be_opened_exits_2(
    tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from wsone_async.cli import main

    source = tmp_path / "p.csv"
    _write_csv(source, 3)
    assert main(["import", str(source), "--simulate", "--journal", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "Is a directory" in err and "Traceback" not in err


# ------------------------------------- adversarial review: files and options as users have them


@pytest.mark.parametrize("option", ["--failures", "--journal", "--summary-json"])
async def test_an_output_that_is_the_input_is_refused_before_it_is_overwritten(
    tmp_path: pathlib.Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    option: str,
) -> None:
    # "wsone import a-corriger.csv --failures a-corriger.csv": the failures file was opened
    # for writing before the input was read, emptying it; the import said "done", exit 0.
    source = tmp_path / "a-corriger.csv"
    _write_rows(source, FRENCH, encoding="cp1252", delimiter=";")
    before = source.read_bytes()
    monkeypatch.chdir(tmp_path)
    async with _simulator(monkeypatch) as sim:
        assert await _wsone_import(sim, str(source), *FRENCH_MAP, option, "./a-corriger.csv") == 2
        assert sum(sim.stats.received.values()) == 0
    assert source.read_bytes() == before
    (line,) = capsys.readouterr().err.splitlines()
    assert f"{option} ./a-corriger.csv is also the input file" in line


def test_two_outputs_on_one_file_are_refused(
    tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from wsone_async.cli import main

    source = tmp_path / "p.csv"
    _write_csv(source, 3)
    both = str(tmp_path / "out")
    assert main(["import", str(source), "--simulate", "--journal", both, "--failures", both]) == 2
    assert "--failures" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("content", "words"),
    [
        ("Courriel\tNom\r\nzoé@example.fr\tLefèvre\r\n".encode("utf-16"), "UTF-16"),
        (b"PK\x03\x04\x14\x00\x06\x00\x08\x00\x00\x00!\x00xl/workbook.xml", "not a text file"),
        (b"Courriel;Nom\rm@example.fr;A\rn@example.fr;B\r", "CR alone"),  # "CSV (Macintosh)"
    ],
)
def test_excel_unicode_text_and_a_workbook_get_one_line(
    tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str], content: bytes, words: str
) -> None:
    from wsone_async.cli import main

    source = tmp_path / "export.txt"
    source.write_bytes(content)
    assert main(["import", str(source), "--simulate"]) == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert words in line and "CSV UTF-8" in line


def test_a_directory_is_not_called_missing(
    tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from wsone_async.cli import main

    assert main(["import", str(tmp_path), "--simulate"]) == 2
    assert "a directory, not a file" in capsys.readouterr().err
    fifo = tmp_path / "rows"
    os.mkfifo(fifo)  # as /dev/stdin in "cat x.csv | wsone import /dev/stdin"
    assert main(["import", str(fifo), "--simulate"]) == 2
    assert "not a regular file" in capsys.readouterr().err  # was: "no such file"


async def test_a_quote_left_open_fails_its_row_and_loses_none_silently(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    small, failures = tmp_path / "small.csv", tmp_path / "failures.csv"
    lines = ["Courriel;Nom"] + [f"s{i}@example.fr;Nom{i}" for i in range(6)]
    lines[3] = 's2@example.fr;"Dupont'  # the rows after it went into s2's last name; exit 0
    small.write_text("\r\n".join(lines) + "\r\n", encoding="cp1252")
    # Long enough to pass the csv module's cell limit: that was a csv.Error traceback.
    big = tmp_path / "big.csv"
    pad = "x" * 2000
    lines = ["Courriel;Nom;Commentaire", 'b0@example.fr;"Dupont;x']
    lines += [f"b{i}@example.fr;Nom{i};{pad}" for i in range(1, 80)]
    big.write_text("\r\n".join(lines) + "\r\n", encoding="cp1252")
    summary = tmp_path / "summary.json"
    async with _simulator(monkeypatch) as sim:
        options = ["--map", "Courriel=identifier_value", "--map", "Nom=last_name"]
        code = await _wsone_import(sim, str(small), *options, "--failures", str(failures))
        assert code == 1
        assert set(_names(sim)) == {"s0@example.fr", "s1@example.fr"}
        with failures.open(encoding="cp1252", newline="") as file:
            (row, *swallowed) = list(csv.DictReader(file, delimiter=";"))
        assert (row["wsone_line"], row["wsone_field"]) == ("4", "row")
        assert "a quote opened on line 4 is never closed" in row["wsone_reason"]
        assert [r["Courriel"] for r in swallowed] == [
            "s3@example.fr",
            "s4@example.fr",
            "s5@example.fr",
        ]
        code = await _wsone_import(
            sim, str(big), *options, "--failures", str(failures), "--summary-json", str(summary)
        )
        assert code == 1
        assert "b79@example.fr" in _names(sim)  # the rows past the cell limit are read
    err = capsys.readouterr().err
    assert "Traceback" not in err
    report = json.loads(summary.read_text())
    # b0's open quote took the lines up to the cell limit: each is a failed row of its own.
    assert report["failed"] > 1 and report["rows"] == report["created"] + report["failed"] == 80


async def test_a_row_the_reader_cannot_parse_keeps_its_text_in_the_failures_file(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # It was written as a row of empty cells: the user lost the row (and the rows its open
    # quote swallowed), with nothing to fix and import again.
    source, failures = tmp_path / "p.csv", tmp_path / "failures.csv"
    lines = ["Courriel;Nom"] + [f"m{i}@example.fr;Nom{i}" for i in range(6)]
    lines[3] = 'm2@example.fr;"Dupont'  # an open quote in a middle row
    source.write_text("\r\n".join(lines) + "\r\n", encoding="utf-8")
    options = ["--map", "Courriel=identifier_value", "--map", "Nom=last_name"]
    async with _simulator(monkeypatch) as sim:
        assert await _wsone_import(sim, str(source), *options, "--failures", str(failures)) == 1
        with failures.open(encoding="utf-8", newline="") as file:
            header, *rows = list(csv.reader(file, delimiter=";"))
        assert header[:2] == ["Courriel", "Nom"]
        assert [row[:3] for row in rows] == [
            ["m2@example.fr", '"Dupont', "4"],
            ["m3@example.fr", "Nom3", "5"],
            ["m4@example.fr", "Nom4", "6"],
            ["m5@example.fr", "Nom5", "7"],
        ]
        # Fixed as a user does in Excel (the stray quote removed), it imports as it is.
        rows[0][1] = "Dupont"
        with failures.open("w", encoding="utf-8", newline="") as file:
            csv.writer(file, delimiter=";").writerows([header, *rows])
        assert await _wsone_import(sim, str(failures), *options) == 0
        names = _names(sim)
    assert len(names) == 6 and names["m2@example.fr"][1] == "Dupont"


async def test_rows_of_empty_cells_are_skipped_and_the_rows_counted_as_records(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    source, summary = tmp_path / "export.csv", tmp_path / "summary.json"
    text = "Courriel;Nom;Commentaire\r\n"
    text += 'a@example.fr;Noël;"à rappeler;\r\nlundi"\r\n'  # one record, two lines
    text += "b@example.fr;Zoé;\r\n;;\r\n;;\r\n\r\n"  # Excel's cleared rows, a blank line
    source.write_bytes(text.encode("cp1252"))
    async with _simulator(monkeypatch) as sim:
        code = await _wsone_import(
            sim, str(source), "--map", "Courriel=identifier_value", "--map", "Nom=last_name",
            "--summary-json", str(summary),
        )  # fmt: skip
        assert code == 0  # the cleared rows failed as "missing identifier": exit 1
        assert _names(sim) == {"a@example.fr": (None, "Noël"), "b@example.fr": (None, "Zoé")}
    report = json.loads(summary.read_text())
    assert report["rows"] == 2  # 5: lines, not records ("done: 2 of 5 rows")
    assert "importing 2 rows" in capsys.readouterr().err


async def test_a_bad_header_line_under_a_forced_encoding_blames_no_row(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source, failures = tmp_path / "export.csv", tmp_path / "failures.csv"
    source.write_bytes(
        "Courriel;Prénom\r\n".encode("cp1252") + b"a@example.fr;Zoe\r\nb@example.fr;Lea\r\n"
    )
    async with _simulator(monkeypatch) as sim:
        code = await _wsone_import(
            sim, str(source), "--encoding", "utf-8", "--map", "Courriel=identifier_value",
            "--failures", str(failures),
        )  # fmt: skip
        assert code == 0  # the header's byte made row 2 "line 1, 2 is not valid utf-8"
        assert set(_names(sim)) == {"a@example.fr", "b@example.fr"}


async def test_a_cp1252_header_in_a_utf8_file_is_mapped(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = tmp_path / "export.csv"
    source.write_bytes("Courriel,Prénom\n".encode("cp1252") + "a@example.fr,Zoé\n".encode())
    async with _simulator(monkeypatch) as sim:
        code = await _wsone_import(
            sim, str(source), "--map", "Courriel=identifier_value", "--map", "Prénom=first_name"
        )
        assert code == 0  # was: "--map names 'prénom', not a column of this file", exit 2
        assert _names(sim) == {"a@example.fr": ("Zoé", None)}


def test_an_empty_file_says_so(tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]) -> None:
    from wsone_async.cli import main

    source = tmp_path / "p.csv"
    source.write_bytes(b"")
    assert main(["import", str(source), "--simulate"]) == 0  # was 2, "no identifier column"
    assert "is empty: nothing to import" in capsys.readouterr().out


def test_one_source_mapped_twice_is_refused(
    tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from wsone_async.cli import main

    source = tmp_path / "p.csv"
    _write_rows(source, FRENCH, encoding="cp1252", delimiter=";")
    maps = ["--map", "Courriel=identifier_value", "--map", "courriel=email"]
    assert main(["import", str(source), "--simulate", *maps]) == 2
    (line,) = capsys.readouterr().err.splitlines()
    # Was: "no identifier_value column", the first --map silently dropped.
    assert "--map names 'courriel' twice, as identifier_value and as email" in line


async def test_a_stopped_import_says_how_to_resume(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    source, journal = tmp_path / "p.csv", tmp_path / "p.journal"
    _write_csv(source, 100)
    async with _simulator(monkeypatch) as sim:
        sim.faults.add("*", "status", status=401, skip=10, times=10**6)
        assert await _wsone_import(sim, str(source), "--journal", str(journal)) == 3
        sim.faults.clear()
        _write_csv(source, 200)  # more rows than the first run settled
        sim.faults.add("*", "status", status=401, skip=10, times=10**6)
        assert await _wsone_import(sim, str(source)) == 3
    first, second = [
        line for line in capsys.readouterr().err.splitlines() if line.startswith("to resume")
    ]
    assert f"the journal {journal} lists what settled" in first
    assert "without --journal every row is looked up again first" in second


def test_a_failures_file_another_import_writes_is_left_alone(
    tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import fcntl

    from wsone_async.cli import main

    source, failures = tmp_path / "p.csv", tmp_path / "failures.csv"
    _write_csv(source, 3, bad_every=2)
    # The same command started twice: the second truncated the first's failures file, which
    # went on writing after a hole of NUL bytes and reported rows that were no longer there.
    failures.write_text("identifier_value,wsone_line\nx@example.fr,2\n")
    before = failures.read_bytes()
    with failures.open("rb") as held:
        fcntl.flock(held.fileno(), fcntl.LOCK_EX)  # as the first import holds it
        code = main(["import", str(source), "--simulate", "--failures", str(failures)])
    assert code == 2
    assert failures.read_bytes() == before
    line = capsys.readouterr().err.splitlines()[-1]
    assert f"--failures {failures}: in use by another import" in line
    # Once it is free, an import writes it afresh.
    assert main(["import", str(source), "--simulate", "--failures", str(failures)]) == 1
    assert failures.read_bytes().count(b"\n") == 2


def test_a_summary_that_cannot_be_written_is_said_before_the_import(
    tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from wsone_async.cli import main

    source = tmp_path / "p.csv"
    _write_csv(source, 3)
    for target, why in [(tmp_path, "a directory"), (tmp_path / "no" / "s.json", "no such")]:
        # Was: the whole import, then "[Errno 21] Is a directory" and exit 1 ("rows failed").
        assert main(["import", str(source), "--simulate", "--summary-json", str(target)]) == 2
        err = capsys.readouterr().err
        assert f"--summary-json {target}: {why}" in err and "importing" not in err


def test_a_summary_that_fails_at_the_end_is_not_exit_0(
    tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from wsone_async.cli import main

    source, summary = tmp_path / "p.csv", tmp_path / "s.json"
    _write_csv(source, 3)

    def full(self: pathlib.Path, *args: Any, **kwargs: Any) -> int:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(pathlib.Path, "write_text", full)
    assert main(["import", str(source), "--simulate", "--summary-json", str(summary)]) == 2
    captured = capsys.readouterr()
    assert "done: 3 of 3 rows" in captured.out  # the summary on screen all the same
    assert captured.err.splitlines()[-1] == (
        f"wsone import: --summary-json {summary}: No space left on device"
    )


async def test_a_failed_row_the_failures_encoding_cannot_hold_is_flagged(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # A cp1252 file with one line pasted in UTF-8 holding a name cp1252 has no letter for:
    # its failures row was written "?ukasz" without a word, and a re-import created that.
    source, failures = tmp_path / "export.csv", tmp_path / "failures.csv"
    data = "Courriel;Prénom;Date de naissance\r\na@example.fr;Zoé;01/01/1990\r\n".encode("cp1252")
    data += "b@example.fr;Łukasz;31/02/1990\r\n".encode()
    source.write_bytes(data)
    async with _simulator(monkeypatch) as sim:
        code = await _wsone_import(
            sim, str(source), "--map", "Courriel=identifier_value", "--map",
            "Prénom=first_name", "--map", "Date de naissance=birth_date",
            "--failures", str(failures),
        )  # fmt: skip
        assert code == 1
    assert "b@example.fr;?ukasz;" in failures.read_text(encoding="cp1252")
    warning = [line for line in capsys.readouterr().err.splitlines() if "written as '?'" in line]
    assert warning == [
        f"warning: 1 row(s) of {failures} hold characters cp1252 cannot write, written as '?' "
        "(input lines 3): fix them before importing that file again"
    ]


def test_the_failures_file_of_a_cp1252_file_whose_accents_come_late_is_cp1252(
    tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Its first 64 KiB were plain ASCII: detected as UTF-8, the failures file was written in
    # UTF-8, and Excel (which reads a CSV without BOM as cp1252) showed "HÃ©lÃ¨ne".
    source, failures, summary = tmp_path / "p.csv", tmp_path / "f.csv", tmp_path / "s.json"
    lines = ["identifier_value;last_name;birth_date;Commentaire"]
    lines += [f"p{i}@example.fr;NOM;02/03/1990;{'x' * 1000}" for i in range(70)]
    lines += ["h@example.fr;Hélène;31/13/1990;à rappeler"]  # a bad date: a failed row
    source.write_bytes(("\r\n".join(lines) + "\r\n").encode("cp1252"))
    assert source.read_bytes().find(b"\xe9") > 65536
    from wsone_async.cli import main

    command = ["import", str(source), "--simulate", "--failures", str(failures)]
    assert main([*command, "--summary-json", str(summary)]) == 1
    assert "CSV, cp1252, ';'-separated" in capsys.readouterr().err
    assert json.loads(summary.read_text())["encoding"] == "cp1252"
    written = failures.read_bytes()
    assert b"H\xe9l\xe8ne" in written and b"\xc3" not in written
    with failures.open(encoding="cp1252", newline="") as file:
        (row,) = list(csv.DictReader(file, delimiter=";"))
    assert (row["last_name"], row["Commentaire"], row["wsone_line"]) == (
        "Hélène",
        "à rappeler",
        "72",
    )


def test_the_pool_holds_a_connection_for_every_record_in_progress(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Waiting for a pooled connection counts in the connect time limit: at --concurrency 400
    # against the default pool of 100, 191 of 20,000 rows failed "no connection to WsOne
    # within the connect timeout" while WsOne was fine.
    from wsone_async import cli

    pools: list[int] = []

    class Recording(cli.WsOneClient):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            pools.append(kwargs.get("max_connections", 100))
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(cli, "WsOneClient", Recording)
    source = tmp_path / "p.csv"
    _write_csv(source, 5)
    assert cli.main(["import", str(source), "--simulate", "--concurrency", "400"]) == 0
    assert pools and min(pools) > 400


def test_ctrl_c_while_wsone_is_slow_to_answer_the_check_says_so(tmp_path: pathlib.Path) -> None:
    source = tmp_path / "p.csv"
    _write_csv(source, 3)
    with socket.socket() as silent:  # accepts, never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        env = {**os.environ, "WSONE_PASSWORD": "pw"}
        command = [*WSONE, "import", str(source), "--base-url", url, "--user", "u"]
        with subprocess.Popen(command, stderr=subprocess.PIPE, text=True, env=env) as run:
            assert run.stderr is not None
            for line in run.stderr:
                if line.startswith("importing"):
                    break
            run.send_signal(signal.SIGINT)
            rest = run.stderr.read()
            run.wait(timeout=30)
    assert run.returncode == 130
    assert "interrupted before the first row: nothing was imported" in rest  # was: silence
    assert "Traceback" not in rest


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_before_the_first_row_stops_in_order_with_a_summary(
    tmp_path: pathlib.Path, signum: signal.Signals
) -> None:
    # SIGTERM before the import began (the file being read, WsOne being checked) took the
    # default action: the process died without a summary, exit -15.
    source, summary = tmp_path / "p.csv", tmp_path / "summary.json"
    _write_csv(source, 3)
    with socket.socket() as silent:  # accepts, never answers: the check waits
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        env = {**os.environ, "WSONE_PASSWORD": "pw"}
        command = [*WSONE, "import", str(source), "--base-url", url, "--user", "u"]
        command += ["--summary-json", str(summary)]
        with subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
        ) as run:
            assert run.stderr is not None and run.stdout is not None
            for line in run.stderr:  # the marker: the import is about to check WsOne
                if line.startswith("importing"):
                    break
            run.send_signal(signum)
            try:
                out, rest = run.communicate(timeout=30)
            except subprocess.TimeoutExpired:
                run.kill()
                raise
    assert run.returncode == 130, rest
    assert "interrupted before the first row: nothing was imported" in rest
    assert "Traceback" not in rest
    assert out.startswith("interrupted: 0 of 3 rows")
    report = json.loads(summary.read_text())
    assert report["interrupted"] is True and report["exit_status"] == 130
    assert (report["rows"], report["created"], report["encoding"]) == (3, 0, "utf-8")


def test_sigterm_at_the_password_prompt_stops_in_order_too(tmp_path: pathlib.Path) -> None:
    # The prompt blocks the event loop, whose signal handlers then cannot run: a signal
    # there interrupts the prompt itself, and the command ends as for any other signal.
    import pty

    source, summary = tmp_path / "p.csv", tmp_path / "summary.json"
    _write_csv(source, 3)
    env = {k: v for k, v in os.environ.items() if k != "WSONE_PASSWORD"}
    command = [*WSONE, "import", str(source), "--base-url", "http://127.0.0.1:9", "--user", "u"]
    command += ["--summary-json", str(summary)]
    terminal, tty = pty.openpty()  # stdin is a terminal: the password is asked for
    try:
        with subprocess.Popen(
            command, stdin=tty, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env
        ) as run:
            assert run.stderr is not None and run.stdout is not None
            said = b""
            while b"WsOne password for u: " not in said:  # the marker: the prompt waits
                chunk = os.read(run.stderr.fileno(), 4096)
                assert chunk, said
                said += chunk
            run.send_signal(signal.SIGTERM)
            try:
                answered = run.communicate(timeout=30)  # it hung in the prompt: a failure
            except subprocess.TimeoutExpired:
                run.kill()
                raise
            out, rest = (text.decode() for text in answered)
    finally:
        os.close(terminal)
        os.close(tty)
    assert run.returncode == 130, rest
    assert "interrupted before the first row: nothing was imported" in rest
    assert "Traceback" not in rest
    assert out.startswith("interrupted: 0 of 3 rows")
    assert json.loads(summary.read_text())["interrupted"] is True


def test_sigterm_stops_the_import_like_ctrl_c(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # A job runner (a Kubernetes eviction) sends SIGTERM: the summary is written and the
    # journal closed, as for Ctrl-C. It used to end the process on the spot.
    from wsone_async import cli

    real = cli.run_import

    async def terminated_after_the_first_row(*args: Any, on_result: Any, **kwargs: Any) -> Any:
        sent = False

        def hook(result: Any) -> None:
            nonlocal sent
            on_result(result)
            if not sent:
                sent = True
                os.kill(os.getpid(), signal.SIGTERM)

        return await real(*args, on_result=hook, **kwargs)

    monkeypatch.setattr(cli, "run_import", terminated_after_the_first_row)
    source, journal = tmp_path / "p.csv", tmp_path / "j.journal"
    _write_csv(source, 200)
    status = cli.main(
        ["import", str(source), "--simulate", "--journal", str(journal), "--concurrency", "2"]
    )
    assert status == 130
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert 1 <= len(journal.read_text().splitlines()) < 200


# ------------------------------------------- a WsOne that is not the simulator, on a raw server

MARKETING = [  # a French marketing team's export: cp1252, ';', French headers
    ("Courriel", "Nom", "Prénom", "Date de naissance", "Commentaire"),
    *(
        (f"client{i}@exemple.fr", f"Lefèvre{i}", "Élodie", "14/07/1990", "fidèle")
        for i in range(12)
    ),
]
ENVOY = b"upstream connect error or disconnect/reset before headers. reset reason: remote reset"


class _OwnWsOne:
    """A WsOne with codes of its own on the raw server: persons by identifier, a proxy in
    front that answers 503 after forwarding some creations (applied), and connections
    dropped before some creations are processed (not applied). ``faults`` lists, per
    identifier, what its successive creations meet ("503 after", "drop before", or None)."""

    username = "api-marketing"

    def __init__(self, server: RawServer, faults: dict[str, list[str | None]]) -> None:
        self.server = server
        self.faults = {value: list(plan) for value, plan in faults.items()}
        self.creations: collections.Counter[str] = collections.Counter()
        self.passwords: set[str] = set()
        server.default("getPerson", self._get_person)
        server.default("createPerson", self._create_person)

    @property
    def url(self) -> str:
        return self.server.url

    def _value(self, x: Exchange, block: str) -> str:
        token = x.request.headers["authorization"].removeprefix("Basic ")
        self.passwords.add(base64.b64decode(token).decode().partition(":")[2])
        value: str = json.loads(x.request.body)[block]["identifierValue"]
        return value

    async def _get_person(self, x: Exchange) -> bool:
        value = self._value(x, "IdentifierRequest")
        if self.creations[value]:
            person = {"PersonResponse": {"PersonResponse": {"lastName": "X"}}}
            return await answer_json({"responseCode": "000", "infos": "OK", **person})(x)
        # Its own "not found": a code and a text quoting the customer.
        return await answer_json({"responseCode": "404", "infos": f"Personne {value} inconnue"})(x)

    async def _create_person(self, x: Exchange) -> bool:
        value = self._value(x, "NewIdentifierRequest")
        plan = self.faults.get(value)
        fault = plan.pop(0) if plan else None
        if fault == "drop before":
            return await close()(x)
        if self.creations[value]:
            return await answer_json({"responseCode": "409", "infos": "Identifiant existant"})(x)
        self.creations[value] += 1
        if fault == "503 after":
            return await respond(503, ENVOY)(x)
        return await answer_json({"responseCode": "000", "infos": "Personne créée"})(x)


def _failed_rows(path: pathlib.Path) -> list[dict[str, str]]:
    with path.open(encoding="cp1252", newline="") as file:  # as the input was written
        return list(csv.DictReader(file, delimiter=";"))


@pytest.mark.parametrize("registered", [False, True])
async def test_a_marketing_import_into_a_wsone_with_its_own_codes(
    tmp_path: pathlib.Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    registered: bool,
) -> None:
    from wsone_async import cli

    source, failures = tmp_path / "export.csv", tmp_path / "a-corriger.csv"
    journal, summary = tmp_path / "export.journal", tmp_path / "summary.json"
    _write_rows(source, MARKETING, encoding="cp1252", delimiter=";")
    password = "Mot-de-passe-secret-42"
    monkeypatch.setenv("WSONE_PASSWORD", password)
    # The waits between a row's rounds and between retries take no time (rounds count).
    monkeypatch.setattr(cli, "run_import", functools.partial(cli.run_import, sleep=no_wait))
    monkeypatch.setattr(
        cli, "WsOneClient", functools.partial(WsOneClient._with_hooks, sleep=no_wait)
    )
    faults: dict[str, list[str | None]] = {
        "client1@exemple.fr": ["503 after"],
        "client4@exemple.fr": ["drop before"],
        "client7@exemple.fr": ["drop before", "drop before"],
        "client9@exemple.fr": ["503 after"],
        "client10@exemple.fr": ["drop before", "503 after"],
    }
    lost = {"client4@exemple.fr", "client7@exemple.fr", "client10@exemple.fr"}
    options = ["--not-found-code", "404"] if registered else []
    command = [
        str(source), *FRENCH_MAP, "--journal", str(journal), "--failures", str(failures),
        "--summary-json", str(summary), "--concurrency", "4", *options,
    ]  # fmt: skip
    async with RawServer() as server:
        wsone = _OwnWsOne(server, faults)
        statuses, reports, failed, created = [], [], [], []
        while not statuses or statuses[-1] != 0:  # rerun as told, until every row settled
            assert len(statuses) < 4
            statuses.append(await _wsone_import(wsone, *command))  # type: ignore[arg-type]
            reports.append(json.loads(summary.read_text()))
            failed.append(_failed_rows(failures))
            created.append(set(wsone.creations))
        # A rerun of a finished import resumes every row, sends no creation.
        assert await _wsone_import(wsone, *command) == 0  # type: ignore[arg-type]
        # One creation applied per person, plus one per connection dropped before WsOne.
        drops = sum(plan.count("drop before") for plan in faults.values())
        assert server.received["createPerson"] == 12 + drops
    said = capsys.readouterr()
    everyone = {row[0] for row in MARKETING[1:]}
    assert wsone.passwords == {password}
    # Every person exactly once in the end, whatever the proxy and the network did.
    assert wsone.creations == dict.fromkeys(everyone, 1)
    if registered:
        # The lookup's 404 says "not found": a lost creation is sent again at once.
        assert statuses == [0]
        assert (reports[0]["created"], reports[0]["unknown"]) == (12, 0)
        assert failed == [[]]
    else:
        # The lookup's 404 is not known as "not found": the lost creations end unknown,
        # written to --failures, never sent again in that run.
        assert statuses == [1, 1, 0]
        assert [(r["created"], r["unknown"], r["resumed"]) for r in reports] == [
            (9, 3, 0),  # client4, client7, client10 lost before WsOne processed them
            (2, 1, 9),  # rerun: looked up, then created; client7 lost a second time
            (1, 0, 11),
        ]
        assert created[0] == everyone - lost
        assert [{row["Courriel"] for row in rows} for rows in failed] == [
            lost,
            {"client7@exemple.fr"},
            set(),
        ]
        assert {row["wsone_outcome"] for row in failed[0]} == {"unknown"}
        for row in failed[0]:  # what happened, and the code to name if it means "not found"
            assert "failed after sending" in row["wsone_reason"]
            assert "answered responseCode '404'" in row["wsone_reason"]
            assert row["Courriel"] not in row["wsone_reason"]  # WsOne's text quoted it
        assert {row["Prénom"] for row in failed[0]} == {"Élodie"}  # cp1252 as the input
    for text in (said.out, said.err):
        assert "Traceback" not in text
        assert password not in text
        assert "@exemple.fr" not in text


@pytest.mark.parametrize("first", ["while counting the rows", "at the password prompt"])
def test_a_second_signal_while_the_summary_is_written_stops_nothing_more(
    tmp_path: pathlib.Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    first: str,
) -> None:
    # A stop before the first row left the command itself the signals' target: a second
    # Ctrl-C while the summary was written cancelled it, and the command ended on a
    # CancelledError traceback, without its summary file.
    import io
    import threading

    from wsone_async import _console, cli

    handled = threading.Event()
    count, write_text, stop = (
        cli.ProspectFile.count,
        pathlib.Path.write_text,
        cli._StopSignals._stop,
    )

    def noted(self: Any) -> None:
        stop(self)
        handled.set()

    def signal_and_wait(signum: signal.Signals) -> None:
        # In a worker thread: it goes on once the event loop has handled the signal.
        handled.clear()
        os.kill(os.getpid(), signum)
        assert handled.wait(timeout=30)

    def stopped_while_counting(self: Any) -> int:
        signal_and_wait(signal.SIGTERM)
        return count(self)

    def stopped_at_the_prompt(prompt: str) -> str:
        os.kill(os.getpid(), signal.SIGTERM)  # handled here, in the main thread
        return "never read"

    def interrupted_again(self: pathlib.Path, *args: Any, **kwargs: Any) -> int:
        signal_and_wait(signal.SIGINT)
        return write_text(self, *args, **kwargs)

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    monkeypatch.setattr(cli._StopSignals, "_stop", noted)
    monkeypatch.setattr(pathlib.Path, "write_text", interrupted_again)
    source, summary = tmp_path / "p.csv", tmp_path / "summary.json"
    _write_csv(source, 3)
    command = ["import", str(source), "--summary-json", str(summary)]
    if first == "while counting the rows":
        monkeypatch.setattr(cli.ProspectFile, "count", stopped_while_counting)
        command.append("--simulate")
    else:
        monkeypatch.delenv("WSONE_PASSWORD", raising=False)
        monkeypatch.setattr(sys, "stdin", Terminal())
        monkeypatch.setattr(_console.getpass, "getpass", stopped_at_the_prompt)
        command += ["--base-url", "http://127.0.0.1:9", "--user", "u"]
    assert cli.main(command) == 130
    captured = capsys.readouterr()
    assert "interrupted before the first row: nothing was imported" in captured.err
    assert captured.out.startswith("interrupted: 0 of ")
    assert json.loads(summary.read_text())["exit_status"] == 130


def test_a_not_found_code_is_taken_as_the_library_shows_codes(tmp_path: pathlib.Path) -> None:
    # Two rules of what a responseCode looks like: the option refused '_' and '.', which
    # the library's messages show as codes (such as a platform's 'PERSON_NOT_FOUND').
    from wsone_async.cli import main

    source = tmp_path / "p.csv"
    _write_csv(source, 1)
    for code in ("PERSON_NOT_FOUND", "E.101", "101"):
        assert main(["import", str(source), "--simulate", "--not-found-code", code]) == 0


async def test_a_jsonl_line_that_is_not_json_keeps_its_text_in_the_failures_file(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source, failures = tmp_path / "p.jsonl", tmp_path / "failures.jsonl"
    broken = '{"identifier_value": "anne@example.fr", "last_name": "MARTIN"'  # no brace
    lines = [json.dumps({"identifier_value": "jean@example.fr"}), broken, "[1, 2]"]
    source.write_text("\n".join(lines) + "\n", encoding="utf-8")
    async with _simulator(monkeypatch) as sim:
        assert await _wsone_import(sim, str(source), "--failures", str(failures)) == 1
        fixed = tmp_path / "fixed.jsonl"
        written = [json.loads(line) for line in failures.read_text().splitlines()]
        assert [(r["wsone_line"], r["wsone_text"]) for r in written] == [
            ("2", broken),
            ("3", "[1, 2]"),
        ]
        # Imported again as written, the kept text is not taken for a column.
        assert await _wsone_import(sim, str(failures)) == 1
        # Rewritten as the object it should be, the line imports.
        fixed.write_text(broken + "}\n", encoding="utf-8")
        assert await _wsone_import(sim, str(fixed)) == 0
        assert sim.backend.persons_count() == 2


class _FullDisk:
    """A file on a disk that fills up: the header goes in, then writes (or the last flush)
    fail with ENOSPC, as a real disk full does."""

    def __init__(self, file: Any, *, fail_on_close: bool) -> None:
        self._file = file
        self._fail_on_close = fail_on_close
        self._writes = 0

    def write(self, text: str) -> int:
        self._writes += 1
        if self._writes > 1 and not self._fail_on_close:
            raise OSError(errno.ENOSPC, "No space left on device")
        return int(self._file.write(text))

    def flush(self) -> None:
        if self._writes > 1 and not self._fail_on_close:
            raise OSError(errno.ENOSPC, "No space left on device")
        self._file.flush()

    def close(self) -> None:
        self._file.close()
        if self._fail_on_close:
            raise OSError(errno.ENOSPC, "No space left on device")

    def __getattr__(self, name: str) -> Any:
        return getattr(self._file, name)  # fileno (a journal's lock), closed


@pytest.mark.parametrize("when", ["while writing", "at the last flush"])
async def test_a_full_disk_under_the_failures_file_is_named_as_such(
    tmp_path: pathlib.Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    when: str,
) -> None:
    from wsone_async import cli

    source, journal = tmp_path / "p.csv", tmp_path / "p.journal"
    failures = tmp_path / "failures.csv"
    _write_csv(source, 20, bad_every=5)
    real_open = open

    def full_open(*args: Any, **kwargs: Any) -> Any:
        return _FullDisk(real_open(*args, **kwargs), fail_on_close=when != "while writing")

    monkeypatch.setattr(cli, "open", full_open, raising=False)
    async with _simulator(monkeypatch) as sim:
        code = await _wsone_import(
            sim, str(source), "--failures", str(failures), "--journal", str(journal)
        )
    err = capsys.readouterr().err
    assert code == 2
    said = [line for line in err.splitlines() if line.startswith("wsone import: ")]
    assert said == [f"wsone import: --failures {failures}: No space left on device"], err
    assert "Traceback" not in err


async def test_a_jsonl_line_that_cannot_be_decoded_keeps_its_text_in_the_failures_file(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # 0x81 is neither UTF-8 nor cp1252: the line is a bad row, and its text (the byte
    # replaced) is kept to be fixed, as a CSV row's cells are.
    source, failures = tmp_path / "p.jsonl", tmp_path / "failures.jsonl"
    good = json.dumps({"identifier_value": "jean@example.fr"}).encode()
    source.write_bytes(good + b'\n{"identifier_value": "anne\x81@example.fr"}\n')
    async with _simulator(monkeypatch) as sim:
        code = await _wsone_import(
            sim, str(source), "--encoding", "utf-8", "--failures", str(failures)
        )
    assert code == 1
    [written] = [json.loads(line) for line in failures.read_text().splitlines()]
    assert written["wsone_line"] == "2"
    assert written["wsone_text"] == '{"identifier_value": "anne\ufffd@example.fr"}'


async def test_a_full_disk_under_the_journal_is_one_line_and_leaves_it_closed(
    tmp_path: pathlib.Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    from wsone_async import bulk

    source, journal = tmp_path / "p.csv", tmp_path / "p.journal"
    _write_csv(source, 20)
    real_open = open

    def full_open(*args: Any, **kwargs: Any) -> Any:
        file = real_open(*args, **kwargs)
        return _FullDisk(file, fail_on_close=False) if "a" in file.mode else file

    async with _simulator(monkeypatch) as sim:
        with monkeypatch.context() as full:
            full.setattr(bulk, "open", full_open, raising=False)
            code = await _wsone_import(sim, str(source), "--journal", str(journal))
        err = capsys.readouterr().err
        assert code == 2
        said = [line for line in err.splitlines() if line.startswith("wsone import: ")]
        assert said == [f"wsone import: {journal}: No space left on device"], err
        # Raised once, where the import stops, not also logged with its traceback (the
        # command sets no logging: Python prints such a record on stderr).
        assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []
        # Closed, its lock released: the disk freed, the same command resumes.
        assert await _wsone_import(sim, str(source), "--journal", str(journal)) == 0
        assert sim.backend.persons_count() == 20
        assert sim.backend.shared_identifiers() == []
