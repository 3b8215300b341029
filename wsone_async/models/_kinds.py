"""The one table of field kinds: what a value of each kind is, in Python and on the wire.

Every model field holds one kind of value (or a sequence of them, see ``FieldInfo.many``).
:data:`RULES` gives each kind, in one row:

* the **check** run when a model is built: a fast expression for the common case and the
  full rule, which converts (an ``int`` to an enum member) or explains a refusal;
* the **wire** rules of the codec: an expression telling whether a wire value is in this
  library's own spelling, the expression that decodes such a value, the tolerant reader
  that takes any other accepted spelling (and that the codec's refusal explainer runs), and
  the expression that encodes a Python value;
* the **redaction** rule: whether a log shows a value of this kind (unless the field is
  personal), walks into it along the field's model, or always hides it.

``models._base`` builds each class's construction checks from this table, and ``_codec``
its decoder, encoder, refusal explainer and log redaction: a rule lives here once.
Expressions are Python source in which ``$v`` stands for the value, ``$t`` for the field's
enum or model class and ``$m`` for an enum's members by value; the names they use are in
:data:`HELPERS`.

Wire formats: ``date`` is ``dd/MM/yyyy``; ``datetime`` is ``dd/MM/yyyy HH:mm:ss``, or
``yyyy-MM-dd HH:mm:ss.SSS`` for :data:`~wsone_async.models.Timestamp` fields; consent flags
are ``0``/``1``. Dates are read and written by slicing and lookup tables, never with
``strptime``/``strftime`` (ten times slower).
"""

from __future__ import annotations

import datetime as dt
import enum
import math
import re
from collections.abc import Callable, Mapping
from typing import Any, Final

import attrs

__all__ = [
    "HELPERS",
    "INT64",
    "INT_TEXT",
    "RULES",
    "BadValue",
    "Kind",
    "KindRule",
    "Redaction",
    "expression",
    "read_date",
]


class Kind(enum.Enum):
    """What one value of a field is, as far as checks, the codec and logs care."""

    STR = "str"
    INT = "int"
    FLOAT = "float"
    NUMBER = "int or float"
    BOOL = "bool"
    FLAG = "0/1 flag"
    DATE = "date"
    DATETIME = "datetime"
    TIMESTAMP = "timestamp"
    ENUM = "enum"
    RAW = "any JSON value"
    MODEL = "model"


class Redaction(enum.Enum):
    """How a log shows a value of a kind."""

    #: Shown, unless the field holds personal data.
    VALUE = "value"
    #: Walked into along the field's model, key by key.
    NESTED = "nested"
    #: Never shown: any JSON may quote personal data.
    HIDDEN = "hidden"


class BadValue(ValueError):
    """A wire value that does not fit its field; the message never repeats the value."""


#: Integers must lie in [-INT64, INT64): what JSON encoders and WsOne's Java side take.
INT64: Final = 2**63
#: An integer written as text, as WsOne sometimes sends ids ("10"); ASCII digits only.
INT_TEXT: Final = re.compile(r"[+-]?[0-9]{1,19}")
_NUMBER_TEXT: Final = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
_BOOL_TEXT: Final = {"true": True, "false": False, "1": True, "0": False}

# --------------------------------------------------------------- tolerant wire readers
# Each takes any spelling WsOne may send for the kind and returns the Python value, or
# raises BadValue. ``target`` is the field's enum class (for Kind.ENUM).


def _read_str(value: Any, target: Any = None) -> str:
    if type(value) is str:
        return value
    if type(value) is int:
        return str(value)
    msg = "expected a string"
    raise BadValue(msg)


def _read_int(value: Any, target: Any = None) -> int:
    # Any int is taken: orjson yields ints up to 2**64 - 1, and decoding is tolerant;
    # constructors are what bound the values callers build.
    if type(value) is int:
        return value
    if type(value) is str:
        if INT_TEXT.fullmatch(value):
            return int(value)
    elif type(value) is float and value.is_integer() and abs(value) < INT64:
        return int(value)
    msg = "expected an integer"
    raise BadValue(msg)


def _read_float(value: Any, target: Any = None) -> float:
    if type(value) in (int, float) or (type(value) is str and _NUMBER_TEXT.fullmatch(value)):
        try:
            number = float(value)
        except OverflowError:
            number = math.inf
        if math.isfinite(number):
            return number
    msg = "expected a finite number"
    raise BadValue(msg)


def _read_number(value: Any, target: Any = None) -> int | float:
    if type(value) is int or (type(value) is str and INT_TEXT.fullmatch(value)):
        return _read_int(value)
    return _read_float(value)


def _read_bool(value: Any, target: Any = None) -> bool:
    if type(value) is bool:
        return value
    if type(value) is int and value in (0, 1):
        return value == 1
    if type(value) is str and value.lower() in _BOOL_TEXT:
        return _BOOL_TEXT[value.lower()]
    msg = "expected a boolean or 0/1"
    raise BadValue(msg)


def _dmy_to_iso(text: str) -> str:
    # "dd/MM/yyyy..." -> "yyyy-MM-dd..." (the caller checked the slashes).
    return f"{text[6:10]}-{text[3:5]}-{text[0:2]}{text[10:].replace(' ', 'T', 1)}"


def _parse_datetime(value: Any, expected: str) -> dt.datetime:
    # WsOne's two datetime spellings, ISO 8601, and a bare date (at midnight).
    if type(value) is str:
        text = value.strip()
        try:
            if len(text) >= 10 and text[2] == "/" and text[5] == "/":
                return dt.datetime.fromisoformat(_dmy_to_iso(text))
            return dt.datetime.fromisoformat(text)
        except ValueError:
            pass
    msg = f"expected a datetime {expected}"
    raise BadValue(msg)


def _read_datetime(value: Any, target: Any = None) -> dt.datetime:
    return _parse_datetime(value, "'dd/MM/yyyy HH:mm:ss'")


def _read_timestamp(value: Any, target: Any = None) -> dt.datetime:
    return _parse_datetime(value, "'yyyy-MM-dd HH:mm:ss.SSS'")


def read_date(value: Any, target: Any = None) -> dt.date:
    """A date from ``dd/MM/yyyy`` (WsOne's spelling) or ISO ``yyyy-MM-dd``, blanks around.

    Raises:
        BadValue: for any other text, or a day that does not exist.

    Example:
        >>> read_date("31/01/2000"), read_date("2000-01-31")
        (datetime.date(2000, 1, 31), datetime.date(2000, 1, 31))
    """
    if type(value) is str:
        text = value.strip()
        try:
            if len(text) == 10 and text[2] == "/" and text[5] == "/":
                return dt.date.fromisoformat(_dmy_to_iso(text))
            return dt.date.fromisoformat(text)
        except ValueError:
            pass
    msg = "expected a date 'dd/MM/yyyy'"
    raise BadValue(msg)


def _read_enum(value: Any, target: Any) -> Any:
    return target(_read_int(value))


def _read_raw(value: Any, target: Any = None) -> Any:
    return value


def _read_model(value: Any, target: Any = None) -> Any:  # pragma: no cover
    msg = "models are decoded by the codec's generated code, not by a reader"
    raise TypeError(msg)


# ----------------------------------------------------- full construction checks
# Each returns the value to store (maybe converted) and an error text, or None. The texts
# never repeat the value: it may be personal data.


def _check_str(value: Any, target: Any = None) -> tuple[Any, str | None]:
    return value, None if isinstance(value, str) else "expected str"


def _check_numeric(kind: Kind) -> Callable[[Any, Any], tuple[Any, str | None]]:
    def check(value: Any, target: Any = None) -> tuple[Any, str | None]:
        if isinstance(value, bool) or not isinstance(value, int | float):
            return value, f"expected {kind.value}"
        if isinstance(value, int):
            return value, None if -INT64 <= value < INT64 else "integer out of range"
        if kind is Kind.INT:
            return value, "expected int"
        return value, None if math.isfinite(value) else "expected a finite number"

    return check


def _check_bool(value: Any, target: Any = None) -> tuple[Any, str | None]:
    return value, None if isinstance(value, bool) else "expected bool"


def _check_date(value: Any, target: Any = None) -> tuple[Any, str | None]:
    ok = isinstance(value, dt.date) and not isinstance(value, dt.datetime)
    return value, None if ok else "expected datetime.date"


def _check_datetime(value: Any, target: Any = None) -> tuple[Any, str | None]:
    if not isinstance(value, dt.datetime):
        return value, "expected datetime.datetime"
    if value.tzinfo is not None:
        return value, "expected a naive datetime (WsOne's wire format has no UTC offset)"
    return value, None


def _check_enum(value: Any, target: Any) -> tuple[Any, str | None]:
    if isinstance(value, target):
        return value, None
    if type(value) is int and -INT64 <= value < INT64:
        return target(value), None
    return value, f"expected {target.__name__} or int"


def _check_model(value: Any, target: Any) -> tuple[Any, str | None]:
    return value, None if isinstance(value, target) else f"expected {target.__name__}"


def _check_raw(value: Any, target: Any = None) -> tuple[Any, str | None]:
    return value, None  # any JSON value; orjson reports what it cannot write


# ------------------------------------------------------------------------- the table


@attrs.frozen
class KindRule:
    """Everything the library does with one kind of value (see the module docstring)."""

    kind: Kind
    #: Expression: a Python value that is stored as it is (the common case, no call).
    accepts: str
    #: The full construction rule: ``(value, target) -> (value to store, error or None)``.
    check: Callable[[Any, Any], tuple[Any, str | None]]
    #: Expression: a wire value in this library's own spelling; None: any value is.
    canonical: str | None
    #: Expression: the Python value of a canonical wire value; None: the value itself.
    decode: str | None
    #: Any accepted wire spelling -> the Python value, or :class:`BadValue`.
    read: Callable[[Any, Any], Any]
    #: Expression: the wire value of a Python value; None: the value itself.
    encode: str | None
    #: How logs show a value of this kind.
    redaction: Redaction = Redaction.VALUE


_IN_RANGE: Final = f"-{INT64} <= $v < {INT64}"
_FINITE: Final = "$v - $v == 0.0"  # False for NaN and infinities, without a call
_YEAR: Final = "{_k_D2[$v.year // 100]}{_k_D2[$v.year % 100]}"

#: The table: one row per kind.
RULES: Final[Mapping[Kind, KindRule]] = {
    rule.kind: rule
    for rule in (
        KindRule(
            Kind.STR,
            accepts="$v.__class__ is str",
            check=_check_str,
            canonical="$v.__class__ is str",
            decode=None,
            read=_read_str,
            encode=None,
        ),
        KindRule(
            Kind.INT,
            accepts=f"$v.__class__ is int and {_IN_RANGE}",
            check=_check_numeric(Kind.INT),
            canonical="$v.__class__ is int",
            decode=None,
            read=_read_int,
            encode=None,
        ),
        KindRule(
            Kind.FLOAT,
            accepts=f"$v.__class__ is float and {_FINITE}",
            check=_check_numeric(Kind.FLOAT),
            canonical=f"$v.__class__ is float and {_FINITE}",
            decode=None,
            read=_read_float,
            encode=None,
        ),
        KindRule(
            Kind.NUMBER,
            accepts=(
                f"($v.__class__ is int and {_IN_RANGE}) or ($v.__class__ is float and {_FINITE})"
            ),
            check=_check_numeric(Kind.NUMBER),
            canonical=f"$v.__class__ is int or ($v.__class__ is float and {_FINITE})",
            decode=None,
            read=_read_number,
            encode=None,
        ),
        KindRule(
            Kind.BOOL,
            accepts="$v.__class__ is bool",
            check=_check_bool,
            canonical="$v.__class__ is bool",
            decode=None,
            read=_read_bool,
            encode=None,
        ),
        KindRule(
            Kind.FLAG,
            accepts="$v.__class__ is bool",
            check=_check_bool,
            canonical="$v.__class__ is int",
            # Any int but 0 and 1 raises KeyError: the explainer then names the field.
            decode="_k_flags[$v]",
            read=_read_bool,
            encode="(1 if $v else 0)",
        ),
        KindRule(
            Kind.DATE,
            accepts="$v.__class__ is _k_date_type",
            check=_check_date,
            canonical="$v.__class__ is str and len($v) == 10 and $v[2] == $v[5] == '/'",
            # fromisoformat checks the digits and the day; a bad one goes to the explainer.
            decode="_k_date(f'{$v[6:10]}-{$v[3:5]}-{$v[0:2]}')",
            read=read_date,
            encode="f'{_k_D2[$v.day]}/{_k_D2[$v.month]}/" + _YEAR + "'",
        ),
        KindRule(
            Kind.DATETIME,
            accepts="$v.__class__ is _k_datetime_type and $v.tzinfo is None",
            check=_check_datetime,
            canonical=(
                "$v.__class__ is str and len($v) == 19 and $v[2] == $v[5] == '/'"
                " and $v[10] == ' ' and $v[13] == $v[16] == ':'"
            ),
            decode="_k_datetime(f'{$v[6:10]}-{$v[3:5]}-{$v[0:2]}T{$v[11:]}')",
            read=_read_datetime,
            # Whole seconds on the wire.
            encode=(
                "f'{_k_D2[$v.day]}/{_k_D2[$v.month]}/" + _YEAR + " "
                "{_k_D2[$v.hour]}:{_k_D2[$v.minute]}:{_k_D2[$v.second]}'"
            ),
        ),
        KindRule(
            Kind.TIMESTAMP,
            accepts="$v.__class__ is _k_datetime_type and $v.tzinfo is None",
            check=_check_datetime,
            canonical=(
                "$v.__class__ is str and len($v) == 23 and $v[4] == $v[7] == '-'"
                " and $v[10] == ' ' and $v[13] == $v[16] == ':' and $v[19] == '.'"
            ),
            decode="_k_datetime($v)",
            read=_read_timestamp,
            # Milliseconds on the wire.
            encode=(
                "f'" + _YEAR + "-{_k_D2[$v.month]}-{_k_D2[$v.day]} "
                "{_k_D2[$v.hour]}:{_k_D2[$v.minute]}:{_k_D2[$v.second]}"
                ".{_k_D3[$v.microsecond // 1000]}'"
            ),
        ),
        KindRule(
            Kind.ENUM,
            accepts="$v.__class__ is $t",
            check=_check_enum,
            canonical="$v.__class__ is int",
            # A member is falsy only for code 0, which the call then returns.
            decode="$m.get($v) or $t($v)",
            read=_read_enum,
            encode="$v._value_",
        ),
        KindRule(
            Kind.RAW,
            accepts="True",
            check=_check_raw,
            canonical=None,
            decode=None,
            read=_read_raw,
            encode=None,
            redaction=Redaction.HIDDEN,
        ),
        KindRule(
            Kind.MODEL,
            accepts="$v.__class__ is $t",
            check=_check_model,
            # Blocks are decoded and encoded field by field by the codec's generated code.
            canonical="$v.__class__ is dict",
            decode=None,
            read=_read_model,
            encode=None,
            redaction=Redaction.NESTED,
        ),
    )
}

#: The names the table's expressions use.
HELPERS: Final[Mapping[str, Any]] = {
    "_k_date": dt.date.fromisoformat,
    "_k_datetime": dt.datetime.fromisoformat,
    "_k_date_type": dt.date,
    "_k_datetime_type": dt.datetime,
    "_k_flags": {0: False, 1: True},
    # Zero-padded numbers by table: several times faster than format specs or strftime.
    "_k_D2": tuple(f"{i:02d}" for i in range(100)),
    "_k_D3": tuple(f"{i:03d}" for i in range(1000)),
}


def expression(template: str, value: str, target: str = "", members: str = "") -> str:
    """An expression of the table, its placeholders replaced by names of generated code."""
    return f"({template.replace('$t', target).replace('$m', members).replace('$v', value)})"
