"""What the library shows in place of personal data or a credential.

Error messages, reprs and log lines go to places (log aggregators, bug trackers, terminals)
that must never receive a customer's personal data or a credential: where such a value
would stand, they show :data:`REDACTED`.
"""

from __future__ import annotations

from typing import Final

REDACTED: Final = "<redacted>"


def short(text: str, limit: int = 200) -> str:
    """Cut ``text`` to ``limit`` characters so one odd answer cannot flood a log."""
    return text if len(text) <= limit else text[: limit - 1] + "…"
