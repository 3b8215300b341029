"""What the library shows in place of personal data or a credential.

Error messages, reprs and log lines go to places (log aggregators, bug trackers, terminals)
that must never receive a customer's personal data or a credential: where such a value
would stand, they show :data:`REDACTED`.
"""

from __future__ import annotations

import re
from typing import Final

REDACTED: Final = "<redacted>"

#: A JSON key shown as is (a field's name); any other may be data (an email as a key).
IDENTIFIER_LIKE: Final = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]{0,63}")


def key_name(key: str) -> str:
    """``key`` if it looks like a field's name, else :data:`REDACTED`."""
    return key if IDENTIFIER_LIKE.fullmatch(key) else REDACTED


def short(text: str, limit: int = 200) -> str:
    """Cut ``text`` to ``limit`` characters so one odd answer cannot flood a log."""
    return text if len(text) <= limit else text[: limit - 1] + "…"
