"""The commands' shared pieces (``wsone_async._console``): each defined once, used by all."""

from __future__ import annotations

import ast
import io
import pathlib

import pytest

from wsone_async import _console

PACKAGE = pathlib.Path(_console.__file__).resolve().parent
COMMANDS = ("cli.py", "_probe.py", "_demo.py")


def test_no_command_keeps_its_own_copy_of_a_shared_helper() -> None:
    # The password was asked in two places and lines written by three helpers: a fix in
    # one (a prompt, a flush) missed the others.
    copies = {"_out", "_say", "_write", "_password", "_mask", "_pool", "_concurrency",
              "_positive_int"} | {f"_{name}" for name in _console.__all__}  # fmt: skip
    found = []
    for name in COMMANDS:
        tree = ast.parse((PACKAGE / name).read_text(encoding="utf-8"))
        found += [
            f"{name}: {node.name}"
            for node in ast.walk(tree)
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name in copies
        ]
    assert found == []


def test_say_writes_one_line_and_flushes_it() -> None:
    class Recording(io.StringIO):
        flushed = ""

        def flush(self) -> None:
            self.flushed = self.getvalue()

    stream = Recording()
    _console.say("hello", stream)
    assert stream.flushed == "hello\n"


def test_the_password_comes_from_the_environment_never_a_missing_terminal(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(_console.PASSWORD_ENV, "s3cret")
    assert _console.password("u") == "s3cret"
    monkeypatch.delenv(_console.PASSWORD_ENV)
    monkeypatch.setattr("sys.stdin", io.StringIO())
    with pytest.raises(_console.UsageError, match=f"set \\${_console.PASSWORD_ENV}"):
        _console.password("u")


def test_a_closed_standard_input_is_no_terminal_either(monkeypatch: pytest.MonkeyPatch) -> None:
    # A job started with stdin closed (Python's sys.stdin is then None) and no password
    # set ended on an AttributeError traceback instead of the one line and exit 2.
    monkeypatch.delenv(_console.PASSWORD_ENV, raising=False)
    monkeypatch.setattr("sys.stdin", None)
    with pytest.raises(_console.UsageError, match=f"set \\${_console.PASSWORD_ENV}"):
        _console.password("u")


def test_ctrl_c_at_the_prompt_interrupts_the_prompt_itself(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The prompt blocks the event loop: asyncio.run's own Ctrl-C handler only cancelled the
    # command's task, to be seen once the prompt returned, so `wsone probe` waited at its
    # prompt after a first Ctrl-C (and a SIGTERM there killed it with echo left off).
    import asyncio
    import os
    import signal

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    def typed_after_ctrl_c(prompt: str) -> str:
        os.kill(os.getpid(), signal.SIGINT)
        return "typed"

    monkeypatch.delenv(_console.PASSWORD_ENV, raising=False)
    monkeypatch.setattr("sys.stdin", Terminal())
    monkeypatch.setattr(_console.getpass, "getpass", typed_after_ctrl_c)
    answered: list[str] = []

    async def command() -> None:
        answered.append(_console.password("u"))

    before = signal.signal(signal.SIGINT, signal.default_int_handler)  # asyncio.run's own
    try:
        with pytest.raises(KeyboardInterrupt):
            asyncio.run(command())
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    finally:
        signal.signal(signal.SIGINT, before)
    assert answered == []


@pytest.mark.parametrize("answer", ["", EOFError()], ids=["enter", "ctrl-d"])
def test_no_password_typed_at_the_prompt_is_a_usage_error(
    monkeypatch: pytest.MonkeyPatch, answer: str | EOFError
) -> None:
    # Ctrl-D at the prompt ended both commands on an EOFError traceback; Enter alone gave
    # "--base-url / --user: password must be a non-empty str", blaming the options.
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    def typed(prompt: str) -> str:
        if isinstance(answer, EOFError):
            raise answer
        return answer

    monkeypatch.delenv(_console.PASSWORD_ENV, raising=False)
    monkeypatch.setattr("sys.stdin", Terminal())
    monkeypatch.setattr(_console.getpass, "getpass", typed)
    with pytest.raises(_console.UsageError, match="no password typed"):
        _console.password("u")
