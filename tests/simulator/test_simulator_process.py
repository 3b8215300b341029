"""The simulator out of process: ``python -m wsone_async.testing._serve`` and SimulatorProcess."""

from __future__ import annotations

import gc
import json
import os
import signal
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from typing import Any

import aiohttp
import pytest

from wsone_async.testing import SimulatorProcess
from wsone_async.testing._serve import PASSWORD_ENV, _freeze_survivors, _ServedSimulator, main

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")

ENTITIES = "/rest/2.0/personWebService/getEntities"


def post(url: str, user: str, password: str, body: Any) -> tuple[int, Any]:
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        headers={
            "Content-Type": "application/json",
            "Authorization": aiohttp.encode_basic_auth(user, password),
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, json.loads(exc.read() or b"null")


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_serve_prints_its_url_and_generated_password_then_exits_0(signum: int) -> None:
    env = {k: v for k, v in os.environ.items() if k != PASSWORD_ENV}
    with subprocess.Popen(
        [sys.executable, "-m", "wsone_async.testing._serve", "--user", "tester", "--seed", "3"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    ) as process:
        assert process.stdout is not None and process.stderr is not None
        first = process.stdout.readline()
        second = process.stdout.readline()
        assert first.startswith("WsOne simulator listening on http://127.0.0.1:")
        assert first.rstrip().endswith("(user tester)")
        url = first.split()[4]
        assert second.startswith("password ")
        password = second.split()[1]
        status, answer = post(url + ENTITIES, "tester", password, {})
        assert (status, answer["responseCode"]) == (200, "000")
        process.send_signal(signum)
        assert process.wait(timeout=10) == 0
        assert process.stdout.read() == ""
        assert process.stderr.read() == ""


def test_simulator_process_sync_with_faults() -> None:
    with SimulatorProcess(faults=["getEntities:status=503,times=1"], seed=1) as sim:
        assert sim.url.startswith("http://127.0.0.1:")
        status, answer = post(sim.url + ENTITIES, sim.username, sim.password, {})
        assert (status, answer) == (503, {"status": 503, "error": "Service Unavailable"})
        status, answer = post(sim.url + ENTITIES, sim.username, sim.password, {})
        assert (status, answer["responseCode"]) == (200, "000")
        status, _ = post(sim.url + ENTITIES, sim.username, "wrong", {})
        assert status == 401
    assert sim.returncode == 0


async def test_simulator_process_async_with_control_endpoints() -> None:
    async with (
        SimulatorProcess(password="pw") as sim,
        aiohttp.ClientSession(
            headers={"Authorization": aiohttp.encode_basic_auth("wsone", "pw")}
        ) as http,
    ):
        async with http.post(f"{sim.url}/_control/seed", json={"persons": [{}]}) as response:
            assert response.status == 200
        async with http.get(f"{sim.url}/_control/state") as response:
            state = await response.json()
        assert (state["persons"], state["identifiers"]) == (1, 1)
    assert sim.returncode == 0


def test_simulator_process_reports_a_failed_start() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        process = SimulatorProcess(port=port)
        with pytest.raises(RuntimeError, match="did not start"):
            process.start()
        assert process.returncode == 1


def test_main_refuses_a_bad_fault_spec(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--fault", "createPerson:explode"])
    assert exit_info.value.code == 2
    assert "unknown fault kind" in capsys.readouterr().err


def test_main_returns_1_when_the_port_is_taken(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert main(["--port", str(port), "--password", "pw"]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "cannot listen" in captured.err


# ------------------------------------------------------- misuse and failure to start


def test_the_url_needs_a_started_process() -> None:
    with pytest.raises(RuntimeError, match="not started"):
        _ = SimulatorProcess().url
    assert SimulatorProcess().stop() == 0  # stopping what never started is harmless


def test_a_simulator_that_cannot_start_says_so() -> None:
    broken = SimulatorProcess(extra_args=["--port", "not-a-number"], startup_timeout=30)
    with pytest.raises(RuntimeError, match="did not start"):
        broken.start()
    assert broken.returncode == 2  # argparse's usage error, and the process is reaped


async def test_async_a_simulator_that_cannot_start_says_so() -> None:
    broken = SimulatorProcess(extra_args=["--port", "not-a-number"], startup_timeout=30)
    with pytest.raises(RuntimeError, match="did not start"):
        await broken.astart()
    # Reaped; its exact status can be lost to asyncio's child watcher when a process dies
    # this fast ("Unknown child process pid"), so only its end is asserted here.
    assert broken.returncode is not None


async def test_starting_twice_is_refused() -> None:
    async with SimulatorProcess() as sim:
        with pytest.raises(RuntimeError, match="already started"):
            await sim.astart()
        with pytest.raises(RuntimeError, match="already started"):
            sim.start()


def test_the_served_process_freezes_what_a_full_collection_keeps_until_a_reset() -> None:
    # What `wsone serve` does so that full collections stop walking every person created;
    # a reset lets the old state (persons and receipts reference each other) be collected.
    # (CPython 3.12 starts with objects of its own counted as frozen.)
    before = gc.get_freeze_count()
    simulator = _ServedSimulator()
    try:
        _freeze_survivors("start", {"generation": 2})
        _freeze_survivors("stop", {"generation": 1})
        assert gc.get_freeze_count() == before  # only after a full collection
        _freeze_survivors("stop", {"generation": 2})
        assert gc.get_freeze_count() > before
        simulator.reset()
        assert gc.get_freeze_count() == 0
        assert simulator.backend.persons_count() == 0
    finally:
        gc.unfreeze()
