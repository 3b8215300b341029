"""Who is who: the identifiers of every person, their uniqueness, generated numbers.

An identifier ``(type, value)`` designates at most one person; web-account values (type
10, an email) compare case-insensitively; a retired identifier (replaced) no longer finds
its person and cannot be given to anyone again. Generated identifiers are loyalty cards
(type 1): valid, unique EAN-13 numbers. Offer copies are numbered the same way.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Callable, Iterator
from typing import Final

from wsone_async.testing._codes import SimulatorCode
from wsone_async.testing._records import (
    CARD,
    WEB_ACCOUNT,
    Identifier,
    IdentifierSpec,
    Person,
    WsOneFailure,
    ean13,
    identifier_key,
)

__all__ = ["Identities", "new_number"]

_C = SimulatorCode
_CARD_PREFIX: Final = "2990"


def new_number(prefix: str, seq: Iterator[int], taken: Callable[[str], bool]) -> str:
    """The next EAN-13 number of ``prefix`` from ``seq`` that is not ``taken``."""
    width = 12 - len(prefix)
    while True:
        number = ean13(f"{prefix}{next(seq) % 10**width:0{width}d}")
        if not taken(number):
            return number


class Identities:
    """The identifier index: identifier key -> the person holding it, and retired keys."""

    def __init__(self) -> None:
        self._holders: dict[tuple[int, str], Person] = {}
        self._retired: set[tuple[int, str]] = set()
        self._card_seq = itertools.count(1)

    def __len__(self) -> int:
        return len(self._holders)

    @property
    def retired_count(self) -> int:
        """Number of retired identifiers."""
        return len(self._retired)

    def holder(self, spec: IdentifierSpec) -> Person | None:
        """The person holding ``spec``, or None (also for a spec without a value)."""
        if spec.value is None:
            return None
        return self._holders.get(identifier_key(spec.type, spec.value))

    def find(self, spec: IdentifierSpec) -> Person:
        """The person holding identifier ``spec``; unknown -> 101."""
        person = self.holder(spec)
        if person is None:
            raise WsOneFailure(_C.PERSON_NOT_FOUND)
        return person

    def _card_taken(self, number: str) -> bool:
        key = (CARD, number)
        return key in self._holders or key in self._retired

    def check_new(self, spec: IdentifierSpec, *, owner: Person | None = None) -> None:
        """Refuse an identifier that cannot be given (to ``owner``, when it is known)."""
        if spec.type < 1:
            raise WsOneFailure(_C.IDENTIFIER_TYPE_NOT_ALLOWED)
        if spec.value is None:
            if spec.type != CARD:
                raise WsOneFailure(
                    _C.IDENTIFIER_TYPE_NOT_ALLOWED, "Only cards (type 1) can be generated"
                )
            return
        value = spec.value.strip()
        if not value:
            raise WsOneFailure(_C.INVALID_VALUE, "identifierValue is blank")
        if spec.type == WEB_ACCOUNT and "@" not in value:
            raise WsOneFailure(_C.INVALID_VALUE, "A web account's identifierValue is an email")
        key = identifier_key(spec.type, value)
        holder = self._holders.get(key)
        if key in self._retired or (holder is not None and holder is not owner):
            raise WsOneFailure(_C.DUPLICATE_IDENTIFIER)

    def check_new_all(self, specs: list[IdentifierSpec]) -> None:
        """Refuse identifiers that cannot be given, or that repeat one another."""
        seen: set[tuple[int, str]] = set()
        for spec in specs:
            self.check_new(spec)
            if spec.value is not None:
                key = identifier_key(spec.type, spec.value)
                if key in seen:
                    raise WsOneFailure(_C.DUPLICATE_IDENTIFIER)
                seen.add(key)

    def attach(self, person: Person, spec: IdentifierSpec, now: dt.datetime) -> Identifier:
        """Give ``person`` identifier ``spec`` (a new card if it has no value).

        Checked beforehand by :meth:`check_new`.
        """
        value = (
            spec.value.strip()
            if spec.value is not None
            else new_number(_CARD_PREFIX, self._card_seq, self._card_taken)
        )
        identifier = Identifier(spec.type, value, now)
        person.identifiers.append(identifier)
        self._holders[identifier_key(spec.type, value)] = person
        return identifier

    def retire(self, person: Person, spec: IdentifierSpec) -> Identifier:
        """Take identifier ``spec`` from ``person`` for good; it must be the person's."""
        if spec.value is None:
            raise WsOneFailure(_C.MISSING_FIELD, "IdentifierRequest.identifierValue is required")
        key = identifier_key(spec.type, spec.value)
        old = next(i for i in person.identifiers if identifier_key(i.type, i.value) == key)
        person.identifiers.remove(old)
        person.retired.append(old)
        del self._holders[key]
        self._retired.add(key)
        return old
