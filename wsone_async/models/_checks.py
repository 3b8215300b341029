"""Value checks run when a request is built, so a bad value fails here, not at WsOne.

Each check returns an error text (which never repeats the value: it may be personal data),
or None when the value is fine. WsOne's own limits are not documented; these checks only
refuse values that cannot be right.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any, Final

_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s.]+")
_PHONE_CHARS = re.compile(r"\+?[\d .\-()]+")
_DIALING_CODE = re.compile(r"\+?\d{1,4}")
_EMAIL_MAX = 254


def not_blank(value: Any) -> str | None:
    """Refuse an empty or all-blank text."""
    return "must not be empty" if isinstance(value, str) and not value.strip() else None


def email(value: Any) -> str | None:
    """Refuse a text that is not shaped like an email address."""
    if isinstance(value, str) and (len(value) > _EMAIL_MAX or not _EMAIL.fullmatch(value)):
        return "is not an email address"
    return None


def phone_number(value: Any) -> str | None:
    """Refuse a phone number that is not 4 to 20 digits (spaces, dots and dashes allowed)."""
    if not isinstance(value, str):
        return None
    digits = sum(ch.isdigit() for ch in value)
    if not _PHONE_CHARS.fullmatch(value) or not 4 <= digits <= 20:
        return "is not a phone number (4 to 20 digits)"
    return None


def dialing_code(value: Any) -> str | None:
    """Refuse a country dialing code that is not 1 to 4 digits, such as ``"33"``."""
    if isinstance(value, str) and not _DIALING_CODE.fullmatch(value):
        return "is not a dialing code (1 to 4 digits, such as '33')"
    return None


_EARLIEST_BIRTH: Final = dt.date(1900, 1, 1)
# The latest "today" seen: a date up to it is not in the future, and asking the clock (a
# system call and a time-zone conversion) is needed only for a date after it.
_known_today = [dt.date(1900, 1, 1)]


def birth_date(value: Any) -> str | None:
    """Refuse a birth date before 1900 or in the future."""
    if isinstance(value, dt.date):
        if value < _EARLIEST_BIRTH:
            return "must be between 1900-01-01 and today"
        if value > _known_today[0]:
            _known_today[0] = dt.date.today()
            if value > _known_today[0]:
                return "must be between 1900-01-01 and today"
    return None


def not_negative(value: Any) -> str | None:
    """Refuse a negative number."""
    if isinstance(value, int | float) and value < 0:
        return "must not be negative"
    return None
