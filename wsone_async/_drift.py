"""Drift: where WsOne's answers differ from the shapes this library inferred.

26 of WsOne's 29 operation shapes are inferred, so a real deployment may send keys the
models do not declare, or values of another JSON type than declared. The codec already keeps
every such key in the model's ``wire_extra`` (unknown keys, explicit nulls and values not in
the canonical wire form): a :class:`DriftMonitor` reads those, so an answer that fits its
model costs one identity check per decoded block, and only the odd keys are looked at.

What a finding names is a *key path* from the answer's top level, such as
``PersonResponse.foo`` or ``AccountsResponse.AccountResponse[].bar``: never a value. A key
that does not look like an identifier (an email used as a key, say) is replaced by its shape.

The first finding of each (operation, path, kind) in a process is logged once, at INFO, on
the ``wsone_async`` logger; every finding is counted in :attr:`DriftMonitor.counts`.
"""

from __future__ import annotations

import logging
import re
import threading
from collections import Counter
from collections.abc import Iterator, Mapping
from typing import Any, Final, NamedTuple

from wsone_async._codec import NULLS_ONLY, WireField, wire_schema
from wsone_async._redact import IDENTIFIER_LIKE
from wsone_async.models._base import EMPTY_EXTRA, Kind, Model, model_fields

__all__ = [
    "DriftKey",
    "DriftMonitor",
    "Finding",
    "analyse",
    "json_type",
    "safe_key",
    "shape",
]

logger = logging.getLogger("wsone_async")

#: Finding kinds.
UNKNOWN: Final = "unknown"
"""A key the model does not declare."""
TYPE: Final = "type"
"""A declared key whose value has another JSON type than declared."""
FORMAT: Final = "format"
"""A declared date or datetime whose text is not in the declared wire format."""
MISSING: Final = "missing"
"""A declared block absent from the answer (reported by :func:`analyse` on request only)."""


class DriftKey(NamedTuple):
    """What a drift count is keyed by: no value, only names."""

    operation: str
    path: str
    kind: str


class Finding(NamedTuple):
    """One difference between an answer and its model."""

    path: str
    """The key path, such as ``AccountsResponse.AccountResponse[].bar``."""
    kind: str
    """``unknown``, ``type``, ``format`` or ``missing``."""
    declared: str
    """The JSON type (or format) the model declares; ``-`` for an unknown key."""
    seen: str
    """The JSON type (or format) seen; ``-`` for a missing block."""


# ------------------------------------------------------------------- the wire schema
# The wire keys, kinds and nested models of each model come from the codec's
# ``wire_schema``, the one table the decoder is built from: drift cannot disagree with it.


def _blocks(cls: type[Model]) -> Iterator[tuple[str, str, WireField]]:
    """The block fields of model ``cls``, as (attribute, wire key, field).

    ``wire_schema`` lists its keys in declaration order, as ``model_fields`` lists the
    attributes, so the two pair up one to one.
    """
    pairs = zip(model_fields(cls), wire_schema(cls).items(), strict=True)
    for info, (wire, field) in pairs:
        if field.kind is Kind.MODEL:
            yield info.name, wire, field


# ------------------------------------------------------------- JSON types and shapes


def json_type(value: Any) -> str:
    """The JSON type of a decoded JSON value: ``string``, ``integer``, ``number``..."""
    if value is None:
        return "null"
    if value is True or value is False:
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


# The JSON types each kind of field takes as declared: ``number`` fields take integers,
# JSON having a single number type.
_DECLARED: Final[dict[Kind, tuple[str, ...]]] = {
    Kind.STR: ("string",),
    Kind.INT: ("integer",),
    Kind.FLOAT: ("number", "integer"),
    Kind.NUMBER: ("number", "integer"),
    Kind.BOOL: ("boolean",),
    Kind.FLAG: ("integer",),
    Kind.ENUM: ("integer",),
    Kind.DATE: ("string",),
    Kind.DATETIME: ("string",),
    Kind.TIMESTAMP: ("string",),
    Kind.MODEL: ("object",),
}
_FORMATS: Final[dict[Kind, tuple[str, re.Pattern[str]]]] = {
    Kind.DATE: ("dd/MM/yyyy", re.compile(r"\d\d/\d\d/\d{4}")),
    Kind.DATETIME: ("dd/MM/yyyy HH:mm:ss", re.compile(r"\d\d/\d\d/\d{4} \d\d:\d\d:\d\d")),
    Kind.TIMESTAMP: (
        "yyyy-MM-dd HH:mm:ss.SSS",
        re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}"),
    ),
}
# Formats recognised in any string, for shapes: the date formats first.
_RECOGNISED: Final[tuple[tuple[str, re.Pattern[str]], ...]] = (
    *_FORMATS.values(),
    ("yyyy-MM-dd", re.compile(r"\d{4}-\d\d-\d\d")),
    ("yyyy-MM-dd HH:mm:ss", re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d")),
    ("ISO 8601", re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:?\d\d)?")),
    ("email", re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")),
    ("uuid", re.compile(r"[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}")),
    ("digits", re.compile(r"[0-9]+")),
    ("decimal", re.compile(r"[+-]?[0-9]+[.,][0-9]+")),
)


def shape(text: str) -> str:
    """What a string looks like, without what it says: length, character classes, format.

    Example:
        >>> shape("jean.dupond@example.fr")
        'string(22) lower,punct[.@] email'
        >>> shape("01/01/2000")
        'string(10) digit,punct[/] dd/MM/yyyy'
    """
    classes = []
    if any(c.isupper() for c in text):
        classes.append("upper")
    if any(c.islower() for c in text):
        classes.append("lower")
    if any(c.isdigit() for c in text):
        classes.append("digit")
    if any(c.isspace() for c in text):
        classes.append("space")
    punct = sorted({c for c in text if c.isascii() and not c.isalnum() and not c.isspace()})
    if punct:
        classes.append(f"punct[{''.join(punct)}]")
    if any(not c.isascii() and not c.isalnum() and not c.isspace() for c in text):
        classes.append("other")
    if not text.isascii() and any(c.isalpha() for c in text if not c.isascii()):
        classes.append("accented")
    out = f"string({len(text)})"
    if classes:
        out += " " + ",".join(classes)
    for name, pattern in _RECOGNISED:
        if pattern.fullmatch(text):
            out += f" {name}"
            break
    return out


def safe_key(key: str) -> str:
    """A key fit for a log: itself if it looks like an identifier, else ``<key: its shape>``.

    Example:
        >>> safe_key("loyaltyTier"), safe_key("jean@example.fr")
        ('loyaltyTier', '<key: string(15) lower,punct[.@] email>')
    """
    if IDENTIFIER_LIKE.fullmatch(key):
        return key
    return f"<key: {shape(key)}>"


def _classify(field: WireField, value: Any) -> tuple[str, str, str] | None:
    """(kind, declared, seen) when a declared key's value differs from the model, else None."""
    if value is None or field.kind is Kind.RAW:
        return None
    if field.many:
        if type(value) is not list:
            return TYPE, "array", json_type(value)
        for item in value:
            found = _classify(field._replace(many=False), item)
            if found is not None:
                kind, declared, seen = found
                return kind, f"array of {declared}", f"array holding {seen}"
        return None
    accepted = _DECLARED[field.kind]
    seen = json_type(value)
    if seen not in accepted:
        return TYPE, accepted[0], seen
    fmt = _FORMATS.get(field.kind)
    if fmt is not None and not fmt[1].fullmatch(value):
        return FORMAT, fmt[0], _format_of(value)
    return None


def _format_of(text: str) -> str:
    for name, pattern in _RECOGNISED:
        if pattern.fullmatch(text):
            return name
    return "unrecognised"


# ------------------------------------------------------------ analysis of a raw answer


def analyse(data: Any, cls: type[Any], *, missing: bool = False) -> list[Finding]:
    """Every difference between a decoded JSON answer and model ``cls``.

    Args:
        data: the answer, as parsed JSON (a dict for any answer worth reading).
        cls: the response model.
        missing: also report declared blocks the answer does not hold (or holds as null).

    Example:
        >>> from wsone_async.models import GetAccountsResponse
        >>> analyse({"responseCode": "000", "AccountResponse": [{"name": "point", "tier": 2,
        ...          "value": "17"}]}, GetAccountsResponse)
        [Finding(path='AccountResponse[].tier', kind='unknown', declared='-', seen='integer'), \
Finding(path='AccountResponse[].value', kind='type', declared='number', seen='string')]
    """
    if not isinstance(data, dict):
        return [Finding("$", TYPE, "object", json_type(data))]
    return list(_walk(data, cls, "", missing))


def _walk(data: dict[str, Any], cls: type[Any], prefix: str, missing: bool) -> Iterator[Finding]:
    fields = wire_schema(cls)
    for key, value in data.items():
        field = fields.get(key)
        path = prefix + safe_key(key)
        if field is None:
            yield Finding(path, UNKNOWN, "-", json_type(value))
            continue
        found = _classify(field, value)
        if found is not None:
            yield Finding(path, *found)
            continue
        if field.kind is Kind.MODEL and value is not None:
            target = field.model
            assert target is not None
            if field.many:
                # Items are merged under one path: one finding per path, not per item.
                seen: set[Finding] = set()
                for item in value:
                    for finding in _walk(item, target, path + "[].", missing):
                        if finding not in seen:
                            seen.add(finding)
                            yield finding
            else:
                yield from _walk(value, target, path + ".", missing)
    if missing:
        for wire, field in fields.items():
            if field.kind is Kind.MODEL and data.get(wire) is None:
                declared = "array" if field.many else "object"
                yield Finding(prefix + wire, MISSING, declared, "-")


# ------------------------------------------------------------------- the run-time monitor

# (operation, path, kind) already logged by this process: logged once, whichever client.
_LOGGED: set[DriftKey] = set()
_LOGGED_LOCK = threading.Lock()

_WORDS: Final = {
    UNKNOWN: "a key the models do not declare",
    TYPE: "a value of another JSON type than declared",
    FORMAT: "a date in another format than declared",
}


class DriftMonitor:
    """Counts where a client's decoded answers differ from the models; logs each once.

    Call :meth:`notice` with every decoded answer. Reading :attr:`counts` tells how often
    each (operation, key path, kind) was seen; nothing in it is a value.

    Args:
        enabled: when False, :meth:`notice` does nothing.

    Example:
        >>> from wsone_async._codec import from_wire
        >>> from wsone_async.models import GetAccountsResponse
        >>> monitor = DriftMonitor()
        >>> answer = from_wire(GetAccountsResponse, {"responseCode": "000",
        ...                    "AccountResponse": [{"name": "point", "tier": "gold"}]})
        >>> monitor.notice("getAccounts", answer)
        >>> dict(monitor.counts)
        {DriftKey(operation='getAccounts', path='AccountResponse[].tier', kind='unknown'): 1}
    """

    __slots__ = ("counts", "enabled")

    def __init__(self, *, enabled: bool = True) -> None:
        self.enabled = enabled
        #: Findings seen so far, by (operation, key path, kind).
        self.counts: Counter[DriftKey] = Counter()

    def notice(self, operation: str, response: Model) -> None:
        """Look at one decoded answer of ``operation``: count and log what differs.

        Costs one identity check per block when the answer fits its model: the codec has
        already put every odd key in the ``wire_extra`` of its block.
        """
        if self.enabled:
            check = _CHECKERS.get(response.__class__)
            if check is None:
                check = _compile_checker(response.__class__)
            check(response, self, operation, "")

    def _look(self, cls: type[Any], extra: Mapping[str, Any], operation: str, prefix: str) -> None:
        fields = wire_schema(cls)
        for key, value in extra.items():
            field = fields.get(key)
            if field is None:
                kind, declared, seen = UNKNOWN, "-", json_type(value)
            else:
                found = _classify(field, value)
                if found is None:
                    continue  # an explicit null, or a tolerated spelling of the same type
                kind, declared, seen = found
            self._count(DriftKey(operation, prefix + safe_key(key), kind), declared, seen)

    def _count(self, key: DriftKey, declared: str, seen: str) -> None:
        self.counts[key] += 1
        if key in _LOGGED:
            return
        with _LOGGED_LOCK:
            if key in _LOGGED:
                return
            _LOGGED.add(key)
        detail = f"JSON {seen}" if key.kind == UNKNOWN else f"declared {declared}, got {seen}"
        logger.info(
            "drift: %s answered with %s at %s (%s); counted in client.drift",
            key.operation,
            _WORDS[key.kind],
            key.path,
            detail,
        )

    def report(self) -> list[tuple[DriftKey, int]]:
        """The counts, most frequent first."""
        return self.counts.most_common()

    def __repr__(self) -> str:
        state = "on" if self.enabled else "off"
        return f"DriftMonitor({state}, {len(self.counts)} path(s))"


# -------------------------------------------------------------- generated checkers

# Per response class, a function that visits every block of an answer and calls
# ``monitor._look`` only for blocks whose ``wire_extra`` is not empty. Generated, as the
# codec's decoders are, so that key paths are constants and nested blocks are inlined: the
# visit of an answer that fits its model costs a few attribute loads per block.
_CHECKERS: dict[type[Any], Any] = {}
_INLINE_DEPTH: Final = 6


def _emit_check(
    lines: list[str], ns: dict[str, Any], cls: type[Any], obj: str, path: str, indent: int
) -> None:
    pad = "    " * indent
    depth = obj.count("_")
    klass = f"_cls{len(ns)}"
    ns[klass] = cls
    x = f"x{depth}"
    lines.append(f"{pad}{x} = {obj}.wire_extra")
    lines.append(f"{pad}if {x} is not _EMPTY and _id({x}) not in _NULLS_ONLY:")
    lines.append(f"{pad}    monitor._look({klass}, {x}, operation, prefix + {path!r})")
    for attr, wire, field in _blocks(cls):
        target, many = field.model, field.many
        assert target is not None
        child = f"{obj}_{depth}"
        lines.append(f"{pad}{child} = {obj}.__dict__[{attr!r}]")
        lines.append(f"{pad}if {child} is not None:")
        if many:
            item = f"{child}i"
            lines.append(f"{pad}    for {item} in {child}:")
            inner, inner_path, inner_indent = item, f"{path}{wire}[].", indent + 2
        else:
            inner, inner_path, inner_indent = child, f"{path}{wire}.", indent + 1
        if depth < _INLINE_DEPTH:
            _emit_check(lines, ns, target, inner, inner_path, inner_indent)
        else:
            name = f"_check{len(ns)}"
            ns[name] = _checker(target)
            lines.append(
                f"{'    ' * inner_indent}{name}({inner}, monitor, operation, "
                f"prefix + {inner_path!r})"
            )


def _checker(cls: type[Any]) -> Any:
    check = _CHECKERS.get(cls)
    return check if check is not None else _compile_checker(cls)


def _compile_checker(cls: type[Any]) -> Any:
    lines = ["def check(o, monitor, operation, prefix):"]
    # Explicit nulls of known fields are not drift: their shared mappings are skipped.
    ns: dict[str, Any] = {"_EMPTY": EMPTY_EXTRA, "_NULLS_ONLY": NULLS_ONLY, "_id": id}
    _emit_check(lines, ns, cls, "o", "", 1)
    source = "\n".join(lines)
    code = compile(source, f"<wsone_async drift check {cls.__qualname__}>", "exec")
    exec(code, ns)  # noqa: S102  (generated from our own field table, as the codec does)
    check = _CHECKERS[cls] = ns["check"]
    return check


def _forget_logged() -> None:
    """Forget which findings this process logged (for tests)."""
    with _LOGGED_LOCK:
        _LOGGED.clear()
