"""Settling an ambiguous write: the table from operation to the lookup that tells.

When a write fails in a way that leaves its outcome unknown (the answer was lost, a proxy
answered 503 after forwarding, the answer did not say ``"000"``), a client with
``RetryPolicy(reconcile_writes=True)`` asks a *settler* whether the write was applied
before deciding anything: if it was, the call succeeds; if not, the write is sent again
under the usual rules; if the settler cannot tell,
:class:`~wsone_async.errors.OutcomeUnknownError` remains.

A settler is any object with a ``lookup`` name and an async ``__call__(reader, request)``
returning :class:`Settled` (see :class:`Settler`). ``reader`` is a view of the client made
for lookups: reads only, within what is left of the call's deadline, on the same session
and retry budget. A settler that cannot tell raises :class:`CannotSettle` (or lets a
:class:`~wsone_async.errors.WsOneError` of its lookup out).

The defaults, :data:`DEFAULT_SETTLERS`, follow the ``settlement`` column of
:data:`wsone_async.operations.OPERATIONS`, and both are **inferred**, not documented by the
vendor:

* person creations (createPerson, createPersonAndIdentifier): :class:`PersonCreationSettler`,
  getPerson on the new identifier;
* receipts (sendTransaction, sendAndValidTransaction, sendAndValidFullTransaction,
  sendSimpleTransaction): :class:`ReceiptSettler`, verifyTransaction on the receipt's store
  and number. The vendor documents the operation's name, not what it answers: a success
  without the receipt, or with a status that speaks of cancelling, counts as not recorded.

A refusal of the lookup tells "not applied" only when it is a
:class:`~wsone_async.errors.NotFoundError`, that is a ``responseCode`` registered as "not
found" in the client's code registry (``WsOneClient(codes=...)``, else
:func:`~wsone_async.errors.register_error_code`). Any other ``APIError`` (a throttling or
server-side code, say) says nothing of the write: the settler cannot tell, and the client
raises :class:`~wsone_async.errors.OutcomeUnknownError` rather than risk a duplicate. WsOne's
"not found" codes are not documented, so none is registered by default: register your
platform's (``wsone probe`` learns them); the simulator's are in
:data:`wsone_async.testing.SIMULATOR_ERROR_CLASSES`.

A deployment that knows better replaces or adds settlers per client::

    client = WsOneClient(url, username=..., password=..., settlers={"sendTransaction": mine})

Example:
    A settler that trusts one "not found" code of its lookup, whatever the registry says:

    >>> import attrs
    >>> from wsone_async.errors import APIError
    >>> @attrs.frozen
    ... class StrictReceiptSettler:
    ...     lookup: str = "verifyTransaction"
    ...     async def __call__(self, reader, request):
    ...         try:
    ...             answer = await reader.verify_transaction(receipt_check(request))
    ...         except APIError as error:
    ...             if error.code == "404":
    ...                 return Settled(applied=False)
    ...             raise CannotSettle(f"verifyTransaction refused with {error.code}") from error
    ...         return Settled(applied=answer.transaction_response is not None)
    >>> StrictReceiptSettler().lookup
    'verifyTransaction'
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Final, Protocol, runtime_checkable

import attrs

from wsone_async import models as m
from wsone_async.errors import APIError, NotFoundError, _shown_code
from wsone_async.operations import OPERATIONS, Settlement

if TYPE_CHECKING:
    from wsone_async.client import WsOneClient

__all__ = [
    "DEFAULT_SETTLERS",
    "CannotSettle",
    "PersonCreationSettler",
    "ReceiptSettler",
    "Settled",
    "Settler",
    "find_person",
    "receipt_check",
]


@attrs.frozen
class Settled:
    """What a settler found: whether the write was applied, and what its answer held."""

    applied: bool
    """True when the write's effect is there (the person exists, the receipt is recorded)."""
    fields: Mapping[str, Any] = attrs.field(factory=dict)
    """Fields of the write's response, rebuilt from the lookup when ``applied`` (such as
    ``transaction_response``); keyword arguments of the operation's response model."""


class CannotSettle(Exception):
    """The settler cannot tell, for instance because the request lacks what the lookup needs."""


@runtime_checkable
class Settler(Protocol):
    """Tells whether an ambiguous write was applied, with a lookup."""

    @property
    def lookup(self) -> str:
        """The read it uses, such as ``"getPerson"`` (for logs and errors)."""
        ...

    async def __call__(self, reader: WsOneClient, request: Any) -> Settled:
        """Look the write's effect up with ``reader``; raise :class:`CannotSettle` if unsure."""
        ...


async def find_person(
    client: WsOneClient, identifier: m.IdentifierRequest
) -> m.PersonProfilResponse | None:
    """The person holding ``identifier``, or None: getPerson, read as a yes/no question.

    None means WsOne answered "not found": a :class:`~wsone_async.errors.NotFoundError`,
    whose codes ``client`` has registered (``codes=`` or ``register_error_code``; WsOne's
    are not documented, so none is by default), or a success without a person. Any other
    refusal says nothing of the person and is raised, as are other failures (network,
    HTTP).

    Raises:
        APIError: a refusal whose code is not registered as "not found".
    """
    try:
        answer = await client.get_person(m.GetPersonRequest(identifier_request=identifier))
    except NotFoundError:
        return None
    return answer.person_response


def _cannot_tell(lookup: str, error: APIError) -> CannotSettle:
    code = _shown_code(error.code)  # free text may quote a customer: left out
    shown = "a responseCode that is not a code" if code is None else f"responseCode {code!r}"
    return CannotSettle(
        f'{lookup} answered {shown}, which is not registered as "not found": '
        "it says nothing of the write"
    )


def _identifier(block: Any) -> m.IdentifierRequest:
    return m.IdentifierRequest(
        identifier_type=block.identifier_type, identifier_value=block.identifier_value
    )


@attrs.frozen
class PersonCreationSettler:
    """createPerson, createPersonAndIdentifier: getPerson on the new identifier (inferred).

    Not applied when getPerson answers :class:`~wsone_async.errors.NotFoundError` (see
    :func:`find_person`); :class:`CannotSettle` on any other refusal. For
    createPersonAndIdentifier, the answer's ``new_identifier_response`` is the person's one
    identifier of the generated type, or None when the person holds none or several.
    """

    lookup: str = "getPerson"

    async def __call__(self, reader: WsOneClient, request: Any) -> Settled:
        new = getattr(request, "new_identifier_request", None)
        if new is None or new.identifier_value is None:
            msg = "getPerson cannot tell: the request names no identifier value"
            raise CannotSettle(msg)
        try:
            person = await find_person(reader, _identifier(new))
        except APIError as error:
            raise _cannot_tell(self.lookup, error) from error
        if person is None:
            return Settled(applied=False)
        fields: dict[str, Any] = {}
        generated_type = getattr(request, "new_identifier_type", None)
        if generated_type is not None:
            # createPersonAndIdentifier: hand back the identifier WsOne generated, as its
            # answer would have, when the person holds exactly one that can be it; of
            # several, nothing tells which this creation made, so none is named.
            candidates = [
                held
                for held in person.identifier_response or ()
                if held.identifier_type == generated_type
                and held.identifier_value != new.identifier_value
            ]
            if len(candidates) == 1:
                (held,) = candidates
                fields["new_identifier_response"] = m.NewIdentifierResponse(
                    identifier_type=held.identifier_type,
                    identifier_value=held.identifier_value,
                )
        return Settled(applied=True, fields=fields)


def receipt_check(request: Any) -> m.VerifyTransactionRequest:
    """The verifyTransaction request that looks up the receipt a write records.

    Raises:
        CannotSettle: when the request lacks the customer, the store or the number (an
            incomplete lookup could be refused for being incomplete, which would read as
            "not recorded" and send the write again).
    """
    receipt = getattr(request, "receipt_request", None)
    customer = getattr(request, "identifier_request", None)
    full = getattr(request, "full_person_request", None)
    if customer is None and full is not None:
        # sendAndValidFullTransaction may name its customer only in the full profile.
        new = full.new_identifier_request
        if new is not None and new.identifier_value is not None:
            customer = _identifier(new)
    if (
        receipt is None
        or receipt.receipt_number is None
        or receipt.entity_request is None
        or customer is None
    ):
        msg = "verifyTransaction cannot tell: the request lacks the customer, store or number"
        raise CannotSettle(msg)
    return m.VerifyTransactionRequest(
        identifier_request=customer,
        receipt_request=m.ReceiptRequest(
            receipt_number=receipt.receipt_number, entity_request=receipt.entity_request
        ),
    )


@attrs.frozen
class ReceiptSettler:
    """Receipts: verifyTransaction on the receipt's store and number (inferred semantics).

    Not recorded when verifyTransaction answers :class:`~wsone_async.errors.NotFoundError`
    (of the receipt or of its customer) or a success without the receipt, or finds it
    cancelled; :class:`CannotSettle` on any other refusal.
    """

    lookup: str = "verifyTransaction"

    async def __call__(self, reader: WsOneClient, request: Any) -> Settled:
        check = receipt_check(request)
        try:
            answer = await reader.verify_transaction(check)
        except NotFoundError:
            return Settled(applied=False)
        except APIError as error:
            raise _cannot_tell(self.lookup, error) from error
        recorded = answer.transaction_response
        # A cancelled receipt frees its store and number for a new one, so finding it
        # cancelled says nothing of the write being settled. The status names are inferred,
        # not documented: any status that speaks of cancelling counts.
        if recorded is None or "CANCEL" in (recorded.status or "").upper():
            return Settled(applied=False)
        return Settled(applied=True, fields={"transaction_response": recorded})


_BY_KIND: Final[Mapping[Settlement, Settler]] = {
    Settlement.NEW_IDENTIFIER: PersonCreationSettler(),
    Settlement.RECEIPT: ReceiptSettler(),
}

#: Operation name -> its settler, from the ``settlement`` column of the operations table.
#: Both kinds are inferred from the vendor's workflows, not documented.
DEFAULT_SETTLERS: Final[Mapping[str, Settler]] = MappingProxyType(
    {op.name: _BY_KIND[op.settlement] for op in OPERATIONS if op.settlement is not None}
)
