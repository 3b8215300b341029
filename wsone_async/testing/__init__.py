"""Test helpers for code that uses wsone_async: an embedded WsOne simulator and pytest fixtures.

:class:`WsOneSimulator` serves WsOne's 29 operations on the loopback, like moto does for
AWS: a stateful, in-memory WsOne (:class:`WsOneBackend`) behind HTTP Basic auth, with
deterministic fault injection (:class:`FaultPlan`). :class:`SimulatorProcess` runs it in a
child process. Functional errors use the simulator's own codes (:data:`SIMULATOR_CODES`),
not the vendor's, whose table is not public; a client of the simulator passes
``codes=SIMULATOR_ERROR_CLASSES`` so that its "not found" codes raise ``NotFoundError``.

Example:
    >>> import asyncio
    >>> async def main():
    ...     async with WsOneSimulator(password="secret") as sim:
    ...         sim.faults.add("createPerson", "status", status=503, times=2)
    ...         return sim.url.startswith("http://127.0.0.1:"), sim.backend.persons_count()
    >>> asyncio.run(main())
    (True, 0)
"""

from __future__ import annotations

from wsone_async.testing._backend import (
    CARD,
    WEB_ACCOUNT,
    CatalogOffer,
    Form,
    IdentifierSpec,
    Person,
    Profile,
    Transaction,
    TransactionStatus,
    WsOneBackend,
    WsOneFailure,
    ean13,
    is_valid_ean13,
)
from wsone_async.testing._codes import SIMULATOR_CODES, SIMULATOR_ERROR_CLASSES, SimulatorCode
from wsone_async.testing._faults import (
    DropAfter,
    DropBefore,
    Fault,
    FaultAction,
    FaultKind,
    FaultPlan,
    Garbage,
    Html,
    Latency,
    ResponseCode,
    Status,
    parameters_table,
    parse_fault_spec,
)
from wsone_async.testing._process import SimulatorProcess
from wsone_async.testing._routes import DEFAULT_PERSON_PATH, DEFAULT_TRANSACTION_PATH, GROUPS
from wsone_async.testing._simulator import SimulatorStats, WsOneSimulator

__all__ = [
    "CARD",
    "DEFAULT_PERSON_PATH",
    "DEFAULT_TRANSACTION_PATH",
    "GROUPS",
    "SIMULATOR_CODES",
    "SIMULATOR_ERROR_CLASSES",
    "WEB_ACCOUNT",
    "CatalogOffer",
    "DropAfter",
    "DropBefore",
    "Fault",
    "FaultAction",
    "FaultKind",
    "FaultPlan",
    "Form",
    "Garbage",
    "Html",
    "IdentifierSpec",
    "Latency",
    "Person",
    "Profile",
    "ResponseCode",
    "SimulatorCode",
    "SimulatorProcess",
    "SimulatorStats",
    "Status",
    "Transaction",
    "TransactionStatus",
    "WsOneBackend",
    "WsOneFailure",
    "WsOneSimulator",
    "ean13",
    "is_valid_ean13",
    "parameters_table",
    "parse_fault_spec",
]
