"""WsOne's code lists, as open enums: unknown codes decode and keep their value."""

from __future__ import annotations

from wsone_async.models._base import OpenIntEnum

__all__ = ["IdentifierType", "Title"]


class IdentifierType(OpenIntEnum):
    """Kind of customer identifier (``identifierType``).

    ``WEB_ACCOUNT`` (10, the customer's email) is documented in the vendor's workflow page;
    ``CARD`` (1, a loyalty card number) is inferred from the vendor's examples, whose type 1
    values are 13-digit numbers. Other codes exist (the vendor mentions UUIDs) but are not
    documented: they decode as ``UNKNOWN`` members that keep their value.
    """

    CARD = 1
    """A loyalty card number (inferred from the examples: 13-digit values)."""
    WEB_ACCOUNT = 10
    """The customer's web account, identified by its email (documented)."""


class Title(OpenIntEnum):
    """Civility of a person (``title``).

    Only code 1 appears in the vendor's examples, for a man named JEAN, so ``MR`` is an
    inference; the other codes are not documented and decode as ``UNKNOWN`` members.
    """

    MR = 1
    """Inferred: the vendor's example gives title 1 to a man named JEAN."""
