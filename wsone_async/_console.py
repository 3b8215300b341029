"""What the ``wsone`` commands share: their output, their password, their option rules.

Layer 6, below nothing: ``cli``, ``_probe`` and ``_demo`` import it, and it imports none of
them (only the standard library and ``_config``), so each rule here lives once.
"""

from __future__ import annotations

import argparse
import contextlib
import getpass
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from typing import IO, Any, Final

from wsone_async._config import PASSWORD_ENV

__all__ = [
    "MAX_CONCURRENCY",
    "UsageError",
    "add_insecure_http",
    "concurrency",
    "interruptible",
    "mask",
    "password",
    "pool_size",
    "positive_int",
    "say",
    "option_words",
]


class UsageError(Exception):
    """A bad input of a command: one line, exit status 2."""


def say(text: str = "", stream: IO[str] | None = None) -> None:
    """Write one line to ``stream`` (default: standard output) and flush it at once: a job
    runner's log and a user watching a pipe see each line when it is said."""
    stream = stream or sys.stdout
    stream.write(text + "\n")
    stream.flush()


def mask(value: str | None) -> str:
    """A customer identifier made fit for a terminal: its last 4 characters only."""
    return "•" * 4 + value[-4:] if value else "-"


@contextlib.contextmanager
def interruptible() -> Iterator[None]:
    """Ctrl-C and SIGTERM raise KeyboardInterrupt in a call that blocks the event loop.

    The loop's handlers cannot run meanwhile: ``asyncio.run``'s own for Ctrl-C only cancels
    the main task, seen once the call returns (a prompt then waited on after Ctrl-C), and
    a SIGTERM's default action ends the process in a prompt with the terminal's echo off.
    Outside the main thread, where handlers cannot be set, nothing changes.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    saved = {stop: signal.signal(stop, interrupt) for stop in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for stop, handler in saved.items():
            signal.signal(stop, handler)


def password(
    user: str | None,
    *,
    prompting: Callable[[], contextlib.AbstractContextManager[Any]] = interruptible,
) -> str:
    """The WsOne password: from ``$WSONE_PASSWORD``, else asked on the terminal.

    Args:
        user: the API user, named in the prompt.
        prompting: a context the prompt runs in (it blocks: an event loop's signal
            handlers cannot run meanwhile); by default :func:`interruptible`.

    Raises:
        UsageError: neither is there (a job without the variable set, or nothing typed).
    """
    found = os.environ.get(PASSWORD_ENV)
    if found:
        return found
    if sys.stdin is None or not sys.stdin.isatty():  # None: a job's stdin closed
        msg = f"no password: set ${PASSWORD_ENV} (it is never taken from the command line)"
        raise UsageError(msg)
    with prompting():
        try:
            typed = getpass.getpass(f"WsOne password for {user}: ")
        except EOFError:  # Ctrl-D
            typed = ""
    if not typed:
        msg = f"no password typed (type it at the prompt, or set ${PASSWORD_ENV})"
        raise UsageError(msg)
    return typed


# ------------------------------------------------------------------ option rules


def positive_int(text: str) -> int:
    """An argparse ``type``: a whole number of at least 1."""
    try:
        number = int(text)
    except ValueError:
        number = 0
    if number < 1:
        msg = f"must be a whole number of at least 1, not {text!r}"
        raise argparse.ArgumentTypeError(msg)
    return number


#: The most records in progress in one process: each holds a connection (a file
#: descriptor, against a usual limit of 1024), and a million of them took 1.4 GB for 300
#: rows. More goes through --shard, in more processes.
MAX_CONCURRENCY: Final = 500


def concurrency(text: str) -> int:
    """An argparse ``type``: a ``--concurrency`` from 1 to :data:`MAX_CONCURRENCY`."""
    number = positive_int(text)
    if number > MAX_CONCURRENCY:
        msg = f"must be at most {MAX_CONCURRENCY} (run --shard K/N imports for more), not {text!r}"
        raise argparse.ArgumentTypeError(msg)
    return number


def pool_size(records: int) -> int:
    """Connections for ``records`` in progress at once (and a probe of the circuit breaker).

    The wait for a free connection counts in the connect time limit: with more records in
    progress than connections, records failed "no connection to WsOne within the connect
    timeout" although WsOne was fine (191 of 20,000 at --concurrency 400).
    """
    return max(100, records + 1)


def add_insecure_http(parser: Any) -> None:
    """``--allow-insecure-http``, the same for every command that takes a ``--base-url``."""
    parser.add_argument(
        "--allow-insecure-http",
        action="store_true",
        help="allow a plain http:// --base-url off loopback (the password then travels in clear)",
    )


def option_words(text: str) -> str:
    """A library message made for a command's user: its keyword becomes the option."""
    return text.replace("allow_insecure_http=True", "--allow-insecure-http")
