"""The route table: every operation, its service, its fault-injection groups and handler.

Groups, used to aim faults at several operations at once:

* ``"read"``: the operations that change nothing (``get*``, ``search*``, ``verify*``,
  ``getLast*``);
* ``"write"``: every other operation, person or transaction;
* ``"transaction"``: the nine WS Transaction operations (reads and writes);
* ``"*"``: every operation.
"""

from __future__ import annotations

import dataclasses
import types
from collections.abc import Mapping
from typing import Final, Literal

from wsone_async.testing._handlers import HANDLERS, Handler

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
GROUPS: Final = frozenset({"read", "write", "transaction", "*"})

_READ_PREFIXES: Final = ("get", "search", "verify")


@dataclasses.dataclass(frozen=True, slots=True)
class Route:
    """One operation of WsOne."""

    operation: str
    service: Literal["person", "transaction"]
    handler: Handler

    @property
    def group(self) -> Literal["read", "write"]:
        """``"read"`` when the operation changes nothing, else ``"write"``."""
        return "read" if self.operation.startswith(_READ_PREFIXES) else "write"

    @property
    def groups(self) -> frozenset[str]:
        """Every group this operation belongs to, ``"*"`` included."""
        found = {self.group, "*"}
        if self.service == "transaction":
            found.add("transaction")
        return frozenset(found)


_TRANSACTION_OPERATIONS: Final = frozenset(
    {
        "sendTransaction",
        "validTransaction",
        "sendAndValidTransaction",
        "sendAndValidFullTransaction",
        "verifyTransaction",
        "cancelTransactionsNotValidated",
        "sendSimpleTransaction",
        "refundTransaction",
        "getLastTransaction",
    }
)

#: Every operation, by name, in the vendor's documentation order.
ROUTES: Final[Mapping[str, Route]] = types.MappingProxyType(
    {
        name: Route(name, "transaction" if name in _TRANSACTION_OPERATIONS else "person", handler)
        for name, handler in HANDLERS.items()
    }
)
