"""searchPerson's index: every criterion of every person, kept in one place.

One dictionary maps a criterion and its normalised value, such as ``("last", "dupond")``,
to the persons having it. :meth:`SearchIndex.update` is told of every person that changed
and notes it; the next search first files the persons noted, and that is the only code
that writes the index: it computes a person's keys once, remembers them, and moves the
person only under the keys that changed. So a write costs a note (a load test of
createPerson alone never pays for the index), and a search costs the persons changed since
the last search plus the smallest entry among its criteria, never a scan of all persons.
"""

from __future__ import annotations

from typing import Any, Final

from wsone_async.testing._codes import SimulatorCode
from wsone_async.testing._records import (
    WEB_ACCOUNT,
    Person,
    SearchCriteria,
    WsOneFailure,
    digits,
    fold,
)

__all__ = ["SearchIndex"]

#: A criterion and its normalised value.
Key = tuple[str, Any]

_NOBODY: Final[frozenset[Person]] = frozenset()
_NO_KEYS: Final[tuple[Key, ...]] = ()


def _keys(person: Person) -> tuple[Key, ...]:
    """Every search key of ``person``: names, birth date, title, phone and emails.

    Emails are the contact email and every web account's value. A tuple of texts, dates
    and numbers, which the garbage collector stops tracking: a person costs it nothing.
    """
    keys: list[Key] = [
        ("last", fold(person.last_name)),
        ("first", fold(person.first_name)),
        ("birth", person.birth_date),
        ("title", person.title),
    ]
    if person.cell_phone is not None:
        keys.append(("phone", digits(person.cell_phone.number)))
    if person.email is not None:
        keys.append(("email", fold(person.email.value)))
    keys.extend(("email", fold(i.value)) for i in person.identifiers if i.type == WEB_ACCOUNT)
    return tuple(dict.fromkeys(key for key in keys if key[1] is not None))


class SearchIndex:
    """The persons by search key, and each person's current keys."""

    def __init__(self) -> None:
        self._persons: dict[Key, set[Person]] = {}
        self._keys: dict[Person, tuple[Key, ...]] = {}
        # Persons changed since the last search, in order (a dict as an ordered set).
        self._changed: dict[Person, None] = {}
        #: Persons examined by searches so far (what searches cost), for tests.
        self.examined = 0

    def update(self, person: Person) -> None:
        """Note that ``person`` changed (or is new): the next search files it again."""
        self._changed[person] = None

    def _file_changed(self) -> None:
        for person in self._changed:
            self._file(person)
        self._changed.clear()

    def _file(self, person: Person) -> None:
        new = _keys(person)
        old = self._keys.get(person, _NO_KEYS)
        if new == old:
            return
        index = self._persons
        for key in old:
            if key not in new:
                having = index[key]
                having.discard(person)
                if not having:
                    del index[key]
        for key in new:
            if old and key in old:
                continue
            holders = index.get(key)
            if holders is None:
                index[key] = {person}
            else:
                holders.add(person)
        self._keys[person] = new

    def search(self, criteria: SearchCriteria, limit: int) -> list[Person]:
        """Persons matching every given criterion, oldest first; none given -> 104.

        Names and emails compare case-insensitively, phones by their digits.
        """
        if self._changed:
            self._file_changed()
        wanted: list[Key] = [
            ("last", fold(criteria.last_name)),
            ("first", fold(criteria.first_name)),
            ("birth", criteria.birth_date),
            ("title", criteria.title),
            ("email", fold(criteria.email)),
            ("phone", digits(criteria.phone)),
        ]
        sets = [self._persons.get(key, _NOBODY) for key in wanted if key[1] is not None]
        if not sets:
            raise WsOneFailure(SimulatorCode.NO_CRITERIA)
        sets.sort(key=len)
        smallest, others = sets[0], sets[1:]
        self.examined += len(smallest)
        found = [p for p in smallest if all(p in other for other in others)]
        found.sort(key=lambda p: p.seq)
        return found[:limit]
