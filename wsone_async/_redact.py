"""Scrubbing of personal data and credentials from text meant for humans.

Error messages, reprs and log lines go to places (log aggregators, bug trackers, terminals)
that must never receive a customer's personal data or a credential. Two nets catch it:
values the library knows are personal (the request's names, emails, phones, birth dates),
and patterns that look personal whatever their source (emails, phone-like digit runs, dates),
because the vendor's ``infos`` texts are undocumented and may echo what was sent.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

REDACTED = "<redacted>"

_EMAIL = re.compile(r"[^\s@<>\"'()\[\],;:]+@[^\s@<>\"'()\[\],;:]+")
# Six or more digits, possibly split by spaces, dots, dashes or a leading "+": phone numbers,
# card numbers and the like. Short numbers (codes, counts, amounts) stay readable.
_DIGIT_RUN = re.compile(r"\+?\d(?:[\s.\-]?\d){5,}")
_DATE = re.compile(r"\b\d{1,4}[/\-.]\d{1,2}[/\-.]\d{1,4}\b")
# Values shorter than this are not scrubbed by value: "1" or "M" would shred any message.
_MIN_KNOWN_LENGTH = 3


def scrub_text(text: str, known: Iterable[str] = ()) -> str:
    """Return ``text`` with personal-looking data and the ``known`` values replaced.

    Args:
        text: any human-readable text, such as the vendor's ``infos``.
        known: values known to be personal (for example the request's last name); each
            occurrence is replaced, whatever its case.

    Example:
        >>> scrub_text("DUPOND (jean@example.fr) exists", known=["Dupond"])
        '<redacted> (<redacted>) exists'
    """
    for value in sorted(
        {v for v in known if len(v.strip()) >= _MIN_KNOWN_LENGTH}, key=len, reverse=True
    ):
        text = re.sub(re.escape(value.strip()), REDACTED, text, flags=re.IGNORECASE)
    text = _EMAIL.sub(REDACTED, text)
    text = _DATE.sub(REDACTED, text)
    return _DIGIT_RUN.sub(REDACTED, text)


def short(text: str, limit: int = 200) -> str:
    """Cut ``text`` to ``limit`` characters so one odd answer cannot flood a log."""
    return text if len(text) <= limit else text[: limit - 1] + "…"
