"""The route table: every operation, its service, its fault-injection groups and handler.

Whether an operation reads or writes, and which service serves it, come from the
package's one table of operations (:mod:`wsone_async.operations`), never from the shape of
its name. The simulator keeps its own wire paths and handlers on purpose: it writes
WsOne's JSON by hand, so a mistake on the client's side cannot hide on both sides.

Groups, used to aim faults at several operations at once (:data:`GROUPS`):

* ``"read"``: the operations that change nothing (``Kind.READ`` in the table);
* ``"write"``: every other operation, person or transaction;
* ``"person"``: the twenty WS Person operations (reads and writes);
* ``"transaction"``: the nine WS Transaction operations (reads and writes);
* ``"*"``: every operation.
"""

from __future__ import annotations

import dataclasses
import types
from collections.abc import Mapping
from typing import Final, Literal

from wsone_async.operations import OPERATIONS, Kind, Service
from wsone_async.testing._handlers import HANDLERS, WITHOUT_ENVELOPE, Handler

__all__ = [
    "DEFAULT_PERSON_PATH",
    "DEFAULT_TRANSACTION_PATH",
    "GROUPS",
    "ROUTES",
    "Route",
]

#: Where WS Person's operations are served (documented by the vendor).
DEFAULT_PERSON_PATH: Final = "/rest/2.0/personWebService"
#: Where WS Transaction's operations are served (the vendor's path is not documented).
DEFAULT_TRANSACTION_PATH: Final = "/rest/2.0/transactionWebService"

#: The names of the operation groups a fault may target.
GROUPS: Final = frozenset({*(k.value for k in Kind), *(s.value for s in Service), "*"})


@dataclasses.dataclass(frozen=True, slots=True)
class Route:
    """One operation of WsOne, as the simulator serves it."""

    operation: str
    service: Literal["person", "transaction"]
    group: Literal["read", "write"]
    """``"read"`` when the operation changes nothing, else ``"write"``."""
    handler: Handler
    enveloped: bool = True
    """Whether a successful answer starts with ``responseCode`` and ``infos``."""
    groups: frozenset[str] = frozenset()
    """Every group this operation belongs to, ``"*"`` included."""


def _route(name: str, service: Service, kind: Kind) -> Route:
    handler = HANDLERS.get(name)
    if handler is None:
        msg = f"the simulator has no handler for {name!r}"
        raise RuntimeError(msg)
    group: Literal["read", "write"] = "read" if kind is Kind.READ else "write"
    served: Literal["person", "transaction"] = (
        "transaction" if service is Service.TRANSACTION else "person"
    )
    return Route(
        operation=name,
        service=served,
        group=group,
        handler=handler,
        enveloped=name not in WITHOUT_ENVELOPE,
        groups=frozenset({group, served, "*"}),
    )


#: Every operation, by name, in the vendor's documentation order.
ROUTES: Final[Mapping[str, Route]] = types.MappingProxyType(
    {op.name: _route(op.name, op.service, op.kind) for op in OPERATIONS}
)

if set(HANDLERS) != set(ROUTES):
    _extra = sorted(set(HANDLERS) - set(ROUTES))
    _msg = f"simulator handlers for operations WsOne does not have: {_extra}"
    raise RuntimeError(_msg)
