"""Run the WsOne simulator as a process: ``python -m wsone_async.testing._serve``.

It prints one line, ``WsOne simulator listening on <url> (user <user>)``, then, only when
the password was generated, a second line ``password <password>``; then it serves until
SIGINT or SIGTERM and exits with status 0. The password comes from ``--password``, else
from the ``WSONE_SIM_PASSWORD`` environment variable, else it is generated.

``--fault`` takes the compact fault syntax (repeatable)::

    TARGET:KIND[=VALUE][,OPTION=VALUE]...

such as ``createPerson:status=503,times=2,retry_after=1`` or ``write:drop_after,rate=0.05``
(see :mod:`wsone_async.testing._faults` for the kinds and their parameters).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import logging
import os
import secrets
import signal
import sys
from typing import Final

from wsone_async.testing._faults import FaultKind, FaultPlan
from wsone_async.testing._process import PASSWORD_ENV
from wsone_async.testing._routes import DEFAULT_PERSON_PATH, DEFAULT_TRANSACTION_PATH
from wsone_async.testing._simulator import WsOneSimulator

__all__ = ["PASSWORD_ENV", "build_parser", "main"]


_FROZEN_AT_IMPORT: Final = gc.get_freeze_count()


def _freeze_survivors(phase: str, info: dict[str, int]) -> None:
    # This process's heap is mostly the simulator's state, which lives until a reset: once
    # a full collection has kept an object, it is kept for good, so later full collections
    # need not walk it again (without this they walk every person ever created, and cost
    # about half the time of a createPerson in a load test).
    if phase == "stop" and info["generation"] == 2:
        gc.freeze()


class _ServedSimulator(WsOneSimulator):
    """The simulator of this process, whose surviving objects are frozen (see above)."""

    def reset(self) -> None:
        # The old state is garbage now, and may hold cycles (a person and its receipts):
        # let the next full collection see it again.
        gc.unfreeze()
        super().reset()


def build_parser() -> argparse.ArgumentParser:
    """The command line's parser."""
    parser = argparse.ArgumentParser(
        prog="wsone serve",
        description="Serve an embedded WsOne simulator until SIGINT or SIGTERM.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address (default: %(default)s)")
    parser.add_argument("--port", type=int, default=0, help="port; 0 picks a free one")
    parser.add_argument("--user", default="wsone", help="Basic-auth user (default: %(default)s)")
    parser.add_argument(
        "--password",
        default=None,
        help=f"Basic-auth password (default: ${PASSWORD_ENV}, or random)",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the random fault draws")
    parser.add_argument("--person-path", default=DEFAULT_PERSON_PATH, help="WS Person's path")
    parser.add_argument(
        "--transaction-path", default=DEFAULT_TRANSACTION_PATH, help="WS Transaction's path"
    )
    parser.add_argument(
        "--fault",
        action="append",
        default=[],
        metavar="SPEC",
        help=(
            "a fault, such as 'createPerson:status=503,times=2' (repeatable); kinds: "
            + ", ".join(FaultKind)
        ),
    )
    parser.add_argument(
        "-v", "--verbose", action="store_true", help="log operation names and codes to stderr"
    )
    return parser


async def _serve(simulator: WsOneSimulator, *, show_password: bool) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        # Not available on Windows, where Ctrl+C raises KeyboardInterrupt instead.
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signum, stop.set)
    async with simulator:
        sys.stdout.write(
            f"WsOne simulator listening on {simulator.url} (user {simulator.username})\n"
        )
        if show_password:
            sys.stdout.write(f"password {simulator.password}\n")
        sys.stdout.flush()
        await stop.wait()


def main(argv: list[str] | None = None) -> int:
    """Run the simulator until SIGINT or SIGTERM; returns the exit status.

    Args:
        argv: the arguments (default: ``sys.argv[1:]``).
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    check = FaultPlan()
    for spec in args.fault:
        try:
            check.add_spec(spec)
        except ValueError as exc:
            parser.error(f"--fault {spec!r}: {exc}")
    password = args.password or os.environ.get(PASSWORD_ENV) or None
    generated = password is None
    if password is None:
        password = secrets.token_urlsafe(18)
    if args.verbose:
        logging.basicConfig(level=logging.DEBUG, format="%(name)s %(message)s")
        # Only the simulator's own records: aiohttp's could quote request data.
        logging.getLogger("aiohttp").setLevel(logging.WARNING)
        logging.getLogger("asyncio").setLevel(logging.WARNING)
    simulator = _ServedSimulator(
        host=args.host,
        port=args.port,
        username=args.user,
        password=password,
        seed=args.seed,
        person_path=args.person_path,
        transaction_path=args.transaction_path,
    )
    for spec in args.fault:
        simulator.faults.add_spec(spec)
    # Only when nothing was frozen since start-up: a caller's own freeze is left alone.
    # (CPython 3.12 starts with objects of its own counted as frozen: not a caller's.)
    freezing = gc.get_freeze_count() <= _FROZEN_AT_IMPORT
    if freezing:
        gc.freeze()  # what the start-up made: modules, classes, the default data
        gc.callbacks.append(_freeze_survivors)
    try:
        asyncio.run(_serve(simulator, show_password=generated))
    except KeyboardInterrupt:  # Windows: no signal handlers, Ctrl+C ends the loop
        pass
    except OSError as exc:
        sys.stderr.write(f"wsone serve: cannot listen on {args.host}:{args.port}: {exc}\n")
        return 1
    finally:
        if freezing:  # called in-process (as tests do): the collector as it was found
            gc.callbacks.remove(_freeze_survivors)
            gc.unfreeze()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
