"""The simulator in a child process, for tests that need it out of their event loop."""

from __future__ import annotations

import asyncio
import contextlib
import os
import queue
import re
import secrets
import subprocess
import sys
import threading
from collections.abc import Sequence
from types import TracebackType
from typing import IO, Final, Self

__all__ = ["PASSWORD_ENV", "SimulatorProcess"]

#: Environment variable the simulator process reads its password from.
PASSWORD_ENV: Final = "WSONE_SIM_PASSWORD"  # noqa: S105  (a variable's name, no secret)

_LISTENING: Final = re.compile(r"WsOne simulator listening on (\S+) \(user (.*)\)")


class SimulatorProcess:
    """Run ``python -m wsone_async.testing._serve`` in a child process.

    Usable as a context manager, sync (``with``) or async (``async with``): entering starts
    the process and waits for its URL; leaving sends SIGTERM and waits for it to exit. The
    password (generated unless given) reaches the child through its environment, so it
    does not show in the process list.

    Args:
        host: address the simulator listens on.
        port: port; 0 picks a free one.
        username: the Basic-auth user.
        password: the Basic-auth password; a random token by default.
        seed: seed of the random fault draws.
        faults: faults in the compact syntax, such as ``"write:drop_after,rate=0.05"``.
        extra_args: more command-line arguments for the simulator.
        startup_timeout: seconds to wait for the simulator's URL.

    Example:
        >>> with SimulatorProcess(faults=["getPerson:status=503"]) as sim:
        ...     sim.url.startswith("http://127.0.0.1:")
        True
        >>> sim.returncode
        0
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        username: str = "wsone",
        password: str | None = None,
        seed: int = 0,
        faults: Sequence[str] = (),
        extra_args: Sequence[str] = (),
        startup_timeout: float = 30.0,
    ) -> None:
        self.username = username
        self.password = password if password is not None else secrets.token_urlsafe(18)
        self.startup_timeout = startup_timeout
        self.args = [
            sys.executable,
            "-m",
            "wsone_async.testing._serve",
            "--host",
            host,
            "--port",
            str(port),
            "--user",
            username,
            "--seed",
            str(seed),
            *(arg for spec in faults for arg in ("--fault", spec)),
            *extra_args,
        ]
        self._url: str | None = None
        self._popen: subprocess.Popen[str] | None = None
        self._reader: threading.Thread | None = None
        self._aproc: asyncio.subprocess.Process | None = None
        self.returncode: int | None = None

    @property
    def url(self) -> str:
        """Base URL of the simulator, such as ``"http://127.0.0.1:54321"``."""
        if self._url is None:
            msg = "the simulator process is not started"
            raise RuntimeError(msg)
        return self._url

    def _env(self) -> dict[str, str]:
        return {**os.environ, PASSWORD_ENV: self.password}

    def _parse(self, line: str) -> None:
        match = _LISTENING.fullmatch(line.strip())
        if match is None:
            msg = "the simulator process did not start (see its stderr)"
            raise RuntimeError(msg)
        self._url = match.group(1)

    # ---------------------------------------------------------------------------- sync

    def start(self) -> Self:
        """Start the process and wait until it serves."""
        if self._popen is not None or self._aproc is not None:
            msg = "the simulator process is already started"
            raise RuntimeError(msg)
        popen = subprocess.Popen(  # noqa: S603  (our own interpreter and module)
            self.args, stdout=subprocess.PIPE, text=True, env=self._env()
        )
        self._popen = popen
        assert popen.stdout is not None
        lines: queue.Queue[str] = queue.Queue()
        # A thread reads stdout: a blocking readline has no timeout on every platform.
        self._reader = threading.Thread(
            target=_pump, args=(popen.stdout, lines), name="wsone-simulator-stdout", daemon=True
        )
        self._reader.start()
        try:
            line = lines.get(timeout=self.startup_timeout)
            self._parse(line)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self, kill_after: float = 10.0) -> int:
        """Send SIGTERM, wait for the exit (killing after ``kill_after`` s); returns its status."""
        popen, self._popen = self._popen, None
        if popen is None:
            return self.returncode if self.returncode is not None else 0
        if popen.poll() is None:
            popen.terminate()
        try:
            popen.wait(kill_after)
        except subprocess.TimeoutExpired:
            popen.kill()
            popen.wait()
        if self._reader is not None:
            self._reader.join(kill_after)
            self._reader = None
        if popen.stdout is not None:
            popen.stdout.close()
        self.returncode = popen.returncode
        self._url = None
        return popen.returncode

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # --------------------------------------------------------------------------- async

    async def astart(self) -> Self:
        """Start the process and wait until it serves, without blocking the event loop."""
        if self._popen is not None or self._aproc is not None:
            msg = "the simulator process is already started"
            raise RuntimeError(msg)
        proc = await asyncio.create_subprocess_exec(
            *self.args, stdout=asyncio.subprocess.PIPE, env=self._env()
        )
        self._aproc = proc
        assert proc.stdout is not None
        try:
            line = await asyncio.wait_for(proc.stdout.readline(), self.startup_timeout)
            self._parse(line.decode("utf-8", "replace"))
        except BaseException:
            await self.astop()
            raise
        return self

    async def astop(self, kill_after: float = 10.0) -> int:
        """Send SIGTERM, wait for the exit (killing after ``kill_after`` s); returns its status."""
        proc, self._aproc = self._aproc, None
        if proc is None:
            return self.returncode if self.returncode is not None else 0
        if proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):  # it may have just exited
                proc.terminate()
        try:
            # communicate() also drains stdout, so the pipe's transport closes cleanly.
            await asyncio.wait_for(proc.communicate(), kill_after)
        except TimeoutError:
            proc.kill()
            await proc.communicate()
        self.returncode = proc.returncode
        self._url = None
        assert proc.returncode is not None
        return proc.returncode

    async def __aenter__(self) -> Self:
        return await self.astart()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.astop()


def _pump(stream: IO[str], lines: queue.Queue[str]) -> None:
    # Keeps reading until the process closes stdout, so the pipe never fills up.
    for line in stream:
        lines.put(line)
    lines.put("")
