"""The codec: models <-> WsOne's JSON. The only place that knows wire names and formats.

Wire names follow one rule: a field holding a block (or a list of blocks) travels under the
PascalCase of its name (``person_profil_request`` -> ``PersonProfilRequest``), any other
field under the camelCase (``address3_num`` -> ``address3Num``). Formats: ``date`` is
``dd/MM/yyyy``; ``datetime`` is ``dd/MM/yyyy HH:mm:ss``, or ``yyyy-MM-dd HH:mm:ss.SSS``
for :data:`~wsone_async.models.Timestamp` fields; consent flags are ``0``/``1``.

Two decoders are built from one field table (``models._base.model_fields``):

* a fast path, generated as plain Python per model class on first use, that checks types
  and converts values inline; it is what every call runs;
* the package's one cattrs converter, with detailed validation, which runs only when the
  fast path refuses a body, to name the bad field in :class:`ResponseDecodeError`.

Both accept the same bodies: WsOne's ids arrive as text or numbers, so ``str`` fields take
numbers and number fields take numeric text; any value not in the canonical wire form,
any unknown key and any explicit ``null`` is kept in the model's ``wire_extra``, and the
encoder writes it back, so ``to_wire(from_wire(cls, body)) == body``.
"""

from __future__ import annotations

import datetime as dt
import math
import re
import types
from collections.abc import Callable, Iterable
from keyword import iskeyword
from typing import Any, Final, TypeVar

import cattrs
import orjson
from cattrs.gen import make_dict_structure_fn, override

from wsone_async._redact import REDACTED
from wsone_async.errors import ResponseDecodeError
from wsone_async.models._base import (
    EMPTY_EXTRA,
    INT64,
    INT_TEXT,
    FieldInfo,
    Kind,
    Model,
    model_fields,
)

__all__ = [
    "decode_json",
    "dumps",
    "from_wire",
    "redact_wire",
    "to_wire",
    "wire_name",
]

M = TypeVar("M", bound=Model)

# ------------------------------------------------------------------------ wire names


def wire_name(cls: type[Any], info: FieldInfo) -> str:
    """The JSON key of field ``info`` of model ``cls``.

    Every key the vendor documents follows the rule; should an inferred shape ever need an
    exception, it belongs here, keyed by class and attribute.
    """
    words = info.name.split("_")
    if info.kind is Kind.MODEL:
        return "".join(w[:1].upper() + w[1:] for w in words)
    return words[0] + "".join(w[:1].upper() + w[1:] for w in words[1:])


# ------------------------------------------------------------- tolerant scalar readers


class _Bad(ValueError):
    """A value that does not fit its field; the message never repeats the value."""


_NUMBER_TEXT: Final = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")


def _read_str(value: Any) -> str:
    if type(value) is str:
        return value
    if type(value) is int:
        return str(value)
    msg = "expected a string"
    raise _Bad(msg)


def _read_int(value: Any) -> int:
    # Any int is taken, as the fast path takes it: orjson yields ints up to 2**64 - 1, and
    # decoding is tolerant; constructors are what bound the values callers build.
    if type(value) is int:
        return value
    if type(value) is str:
        if INT_TEXT.fullmatch(value):
            return int(value)
    elif type(value) is float and value.is_integer() and abs(value) < INT64:
        return int(value)
    msg = "expected an integer"
    raise _Bad(msg)


def _read_float(value: Any) -> float:
    if type(value) in (int, float) or (type(value) is str and _NUMBER_TEXT.fullmatch(value)):
        try:
            number = float(value)
        except OverflowError:
            number = math.inf
        if math.isfinite(number):
            return number
    msg = "expected a finite number"
    raise _Bad(msg)


def _read_number(value: Any) -> int | float:
    if type(value) is int or (type(value) is str and INT_TEXT.fullmatch(value)):
        return _read_int(value)
    return _read_float(value)


_BOOL_TEXT: Final = {"true": True, "false": False, "1": True, "0": False}


def _read_bool(value: Any) -> bool:
    if type(value) is bool:
        return value
    if type(value) is int and value in (0, 1):
        return value == 1
    if type(value) is str and value.lower() in _BOOL_TEXT:
        return _BOOL_TEXT[value.lower()]
    msg = "expected a boolean or 0/1"
    raise _Bad(msg)


def _parse_datetime(value: Any, expected: str) -> dt.datetime:
    # Accepts WsOne's two datetime spellings, ISO 8601, and a bare date (at midnight).
    if type(value) is str:
        text = value.strip()
        try:
            if len(text) >= 10 and text[2] == "/" and text[5] == "/":
                iso = f"{text[6:10]}-{text[3:5]}-{text[0:2]}{text[10:].replace(' ', 'T', 1)}"
                return dt.datetime.fromisoformat(iso)
            return dt.datetime.fromisoformat(text)
        except ValueError:
            pass
    msg = f"expected a datetime {expected}"
    raise _Bad(msg)


def _read_datetime(value: Any) -> dt.datetime:
    return _parse_datetime(value, "'dd/MM/yyyy HH:mm:ss'")


def _read_timestamp(value: Any) -> dt.datetime:
    return _parse_datetime(value, "'yyyy-MM-dd HH:mm:ss.SSS'")


def _read_date(value: Any) -> dt.date:
    if type(value) is str:
        text = value.strip()
        try:
            if len(text) == 10 and text[2] == "/" and text[5] == "/":
                return dt.date.fromisoformat(f"{text[6:10]}-{text[3:5]}-{text[0:2]}")
            return dt.date.fromisoformat(text)
        except ValueError:
            pass
    msg = "expected a date 'dd/MM/yyyy'"
    raise _Bad(msg)


def _read_raw(value: Any) -> Any:
    return value


_READERS: Final[dict[Kind, Callable[[Any], Any]]] = {
    Kind.STR: _read_str,
    Kind.INT: _read_int,
    Kind.FLOAT: _read_float,
    Kind.NUMBER: _read_number,
    Kind.BOOL: _read_bool,
    Kind.FLAG: _read_bool,
    Kind.DATE: _read_date,
    Kind.DATETIME: _read_datetime,
    Kind.TIMESTAMP: _read_timestamp,
    Kind.RAW: _read_raw,
}


def _reader(info: FieldInfo) -> Callable[[Any], Any]:
    """The tolerant reader of one value of ``info`` (not for MODEL fields)."""
    if info.kind is Kind.ENUM:
        enum_cls = info.target
        assert enum_cls is not None

        def read_enum(value: Any) -> Any:
            return enum_cls(_read_int(value))

        return read_enum
    return _READERS[info.kind]


# --------------------------------------------------------------------- canonical writers


# Zero-padded numbers by table: several times faster than strftime or format specs.
_D2: Final = tuple(f"{i:02d}" for i in range(100))
_D3: Final = tuple(f"{i:03d}" for i in range(1000))


def _year(year: int) -> str:
    return str(year) if year >= 1000 else f"{year:04d}"


def _write_date(value: dt.date) -> str:
    return f"{_D2[value.day]}/{_D2[value.month]}/{_year(value.year)}"


def _write_datetime(value: dt.datetime) -> str:
    return (
        f"{_D2[value.day]}/{_D2[value.month]}/{_year(value.year)} "
        f"{_D2[value.hour]}:{_D2[value.minute]}:{_D2[value.second]}"
    )


def _write_timestamp(value: dt.datetime) -> str:
    return (
        f"{_year(value.year)}-{_D2[value.month]}-{_D2[value.day]} "
        f"{_D2[value.hour]}:{_D2[value.minute]}:{_D2[value.second]}"
        f".{_D3[value.microsecond // 1000]}"
    )


def _write_flag(value: bool) -> int:
    return 1 if value else 0


def _write_enum(value: int) -> int:
    return int(value)


_WRITERS: Final[dict[Kind, Callable[[Any], Any] | None]] = {
    Kind.STR: None,
    Kind.INT: None,
    Kind.FLOAT: None,
    Kind.NUMBER: None,
    Kind.BOOL: None,
    Kind.RAW: None,
    Kind.FLAG: _write_flag,
    Kind.ENUM: _write_enum,
    Kind.DATE: _write_date,
    Kind.DATETIME: _write_datetime,
    Kind.TIMESTAMP: _write_timestamp,
}

# ------------------------------------------------------------- generated fast paths

_DECODERS: dict[type[Any], Callable[[Any], Any]] = {}
_ENCODERS: dict[type[Any], Callable[[Any], dict[str, Any]]] = {}

# Inline fast checks: the common, canonical case costs no call. A value that fails the
# check goes through the tolerant reader and is recorded in wire_extra.
_FAST_CHECK: Final[dict[Kind, str]] = {
    Kind.STR: "{v}.__class__ is str",
    Kind.INT: "{v}.__class__ is int",
    Kind.FLOAT: "{v}.__class__ is float",
    Kind.NUMBER: "({v}.__class__ is int or {v}.__class__ is float)",
    Kind.BOOL: "{v}.__class__ is bool",
    Kind.ENUM: "{v}.__class__ is int",
    Kind.FLAG: "{v}.__class__ is int",
    Kind.DATE: ("({v}.__class__ is str and len({v}) == 10 and {v}[2] == '/' and {v}[5] == '/')"),
    Kind.DATETIME: (
        "({v}.__class__ is str and len({v}) == 19 and {v}[2] == '/' and {v}[5] == '/'"
        " and {v}[10] == ' ' and {v}[13] == ':' and {v}[16] == ':')"
    ),
    Kind.TIMESTAMP: (
        "({v}.__class__ is str and len({v}) == 23 and {v}[4] == '-' and {v}[7] == '-'"
        " and {v}[10] == ' ' and {v}[13] == ':' and {v}[16] == ':' and {v}[19] == '.')"
    ),
}
# What the fast path makes of a canonical value.
_FAST_CONVERT: Final[dict[Kind, str]] = {
    # Any int other than 0/1 raises KeyError, and the converter then explains the refusal.
    Kind.FLAG: "{v} = _FLAGS[{v}]",
    Kind.DATE: "{v} = _date(f'{{{v}[6:10]}}-{{{v}[3:5]}}-{{{v}[0:2]}}')",
    Kind.DATETIME: "{v} = _datetime(f'{{{v}[6:10]}}-{{{v}[3:5]}}-{{{v}[0:2]}}T{{{v}[11:]}}')",
    Kind.TIMESTAMP: "{v} = _datetime({v})",
}


def _decoder(cls: type[Any]) -> Callable[[Any], Any]:
    try:
        return _DECODERS[cls]
    except KeyError:
        return _compile_decoder(cls)


def _encoder(cls: type[Any]) -> Callable[[Any], dict[str, Any]]:
    try:
        return _ENCODERS[cls]
    except KeyError:
        return _compile_encoder(cls)


def _leftovers(data: dict[str, Any], known: frozenset[str], extra: dict[str, Any] | None) -> Any:
    """Keys of ``data`` the fields do not hold: unknown keys and explicit nulls."""
    extra = {} if extra is None else extra
    for key, value in data.items():
        if value is None or key not in known:
            extra[key] = value
    return types.MappingProxyType(extra)


def _read_many(info: FieldInfo, value: Any) -> tuple[Any, ...]:
    if type(value) is not list:
        msg = "expected a list"
        raise _Bad(msg)
    if info.kind is Kind.MODEL:
        assert info.target is not None
        decode = _decoder(info.target)
        return tuple([decode(item) for item in value])
    read = _reader(info)
    return tuple([read(item) for item in value])


def _many_is_canonical(info: FieldInfo, value: list[Any], decoded: tuple[Any, ...]) -> bool:
    if info.kind in (Kind.MODEL, Kind.RAW):
        return True
    write = _WRITERS[info.kind]
    return all(
        type(raw) is type(out) and raw == out
        for raw, out in zip(value, decoded if write is None else map(write, decoded), strict=True)
    )


def _dict_setter(cls: type[Any]) -> Callable[[Any, Any], None]:
    # The ``__dict__`` slot of attrs' dict classes: setting it builds an instance in one step.
    for klass in cls.__mro__:
        descriptor = klass.__dict__.get("__dict__")
        if descriptor is not None:
            return descriptor.__set__  # type: ignore[no-any-return]
    msg = f"{cls.__name__} instances have no __dict__"  # pragma: no cover
    raise TypeError(msg)  # pragma: no cover


class _Emitter:
    """Writes the source of one generated function; nested blocks are inlined."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.ns: dict[str, Any] = {}
        self._count = 0

    def fresh(self, stem: str) -> str:
        self._count += 1
        return f"{stem}{self._count}"

    def const(self, stem: str, value: Any) -> str:
        name = self.fresh(f"_{stem}")
        self.ns[name] = value
        return name

    def emit(self, indent: int, line: str) -> None:
        self.lines.append("    " * indent + line)

    def build(self, name: str, cls: type[Any], arg: str) -> Any:
        # Constants are module globals of the generated code: CPython 3.11 specialises
        # global loads, which makes them cheaper here than closures or default arguments.
        source = "\n".join([f"def {name}({arg}):", *self.lines])
        namespace = dict(self.ns)
        code = compile(source, f"<wsone_async codec {name} {cls.__qualname__}>", "exec")
        exec(code, namespace)  # noqa: S102  (generated from our own field table, as attrs does)
        return namespace[name]


_BASE_NS: Final[dict[str, Any]] = {
    "_new": object.__new__,
    "_EMPTY": EMPTY_EXTRA,
    "_proxy": types.MappingProxyType,
    "_leftovers": _leftovers,
    "_date": dt.date.fromisoformat,
    "_datetime": dt.datetime.fromisoformat,
    "_Bad": _Bad,
    "_read_many": _read_many,
    "_many_is_canonical": _many_is_canonical,
    "_tuple": tuple,
    "_FLAGS": {0: False, 1: True},
}


def _emit_decode(e: _Emitter, cls: type[Any], src: str, out: str, indent: int, depth: int) -> None:
    """Emit code that decodes dict ``src`` into a ``cls`` instance stored in ``out``."""
    infos = model_fields(cls)
    wires = [wire_name(cls, info) for info in infos]
    # ``absent`` counts the fields without a value; with it, one length check tells whether
    # the body holds anything else (unknown keys, explicit nulls). Counting the absent
    # rather than the present costs nothing on WsOne's answers, which send most fields.
    absent, ex = e.fresh("absent"), e.fresh("ex")
    if not infos:  # with fields, src.get() already refuses anything but an object
        e.emit(indent, f"if {src}.__class__ is not dict:")
        e.emit(indent + 1, "raise _Bad('expected a JSON object')")
    e.emit(indent, f"{absent} = 0")
    e.emit(indent, f"{ex} = None")
    values = []
    for info, wire in zip(infos, wires, strict=True):
        v = e.fresh("v")
        values.append(v)
        e.emit(indent, f"{v} = {src}.get({wire!r})")
        e.emit(indent, f"if {v} is None:")
        if info.required:
            e.emit(indent + 1, f"raise _Bad('required field {wire} is missing')")
        else:
            e.emit(indent + 1, f"{absent} += 1")
        e.emit(indent, "else:")
        body = indent + 1
        if info.many and info.kind is Kind.MODEL:
            assert info.target is not None
            e.emit(body, f"if {v}.__class__ is not list:")
            e.emit(body + 1, "raise _Bad('expected a list')")
            item = e.const("dec", _decoder(info.target))
            e.emit(body, f"{v} = _tuple([{item}(x) for x in {v}])")
        elif info.many:
            name = e.const("info", info)
            e.emit(body, "r = " + v)
            e.emit(body, f"{v} = _read_many({name}, r)")
            if info.kind not in (Kind.MODEL, Kind.RAW):
                e.emit(body, f"if not _many_is_canonical({name}, r, {v}):")
                e.emit(body + 1, f"{ex} = {{}} if {ex} is None else {ex}")
                e.emit(body + 1, f"{ex}[{wire!r}] = r")
        elif info.kind is Kind.MODEL:
            assert info.target is not None
            if depth < _INLINE_DEPTH:
                _emit_decode(e, info.target, v, v, body, depth + 1)
            else:
                e.emit(body, f"{v} = {e.const('dec', _decoder(info.target))}({v})")
        elif info.kind is not Kind.RAW:
            check = _FAST_CHECK[info.kind].format(v=v)
            convert = None
            if info.kind is Kind.ENUM:
                assert info.target is not None
                members = e.const("members", info.target._value2member_map_)
                enum_cls = e.const("enum", info.target)
                # A member is falsy only for code 0, which the enum call then returns.
                convert = f"{v} = {members}.get({v}) or {enum_cls}({v})"
            elif info.kind in _FAST_CONVERT:
                convert = _FAST_CONVERT[info.kind].format(v=v)
            if convert is None:  # nothing to convert: only the odd spelling takes a branch
                e.emit(body, f"if not {check}:")
            else:
                e.emit(body, f"if {check}:")
                e.emit(body + 1, convert)
                e.emit(body, "else:")
            e.emit(body + 1, f"{ex} = {{}} if {ex} is None else {ex}")
            e.emit(body + 1, f"{ex}[{wire!r}] = {v}")
            e.emit(body + 1, f"{v} = {e.const('read', _reader(info))}({v})")
    known = e.const("known", frozenset(wires))
    klass = e.const("cls", cls)
    setter = e.const("set_dict", _dict_setter(cls))
    fields = "".join(f"{info.name!r}: {v}, " for info, v in zip(infos, values, strict=True))
    e.emit(indent, f"if len({src}) + {absent} != {len(infos)}:")
    e.emit(indent + 1, f"{ex} = _leftovers({src}, {known}, {ex})")
    e.emit(indent, f"elif {ex} is None:")
    e.emit(indent + 1, f"{ex} = _EMPTY")
    e.emit(indent, "else:")
    e.emit(indent + 1, f"{ex} = _proxy({ex})")
    e.emit(indent, f"{out} = _new({klass})")
    e.emit(indent, f"{setter}({out}, {{{fields}'wire_extra': {ex}}})")


# Blocks nested up to this depth are inlined in their parent's decoder and encoder; deeper
# ones (and list items) are called. WsOne's bodies are 4 levels deep at most.
_INLINE_DEPTH: Final = 6


def _compile_decoder(cls: type[Any]) -> Callable[[Any], Any]:
    e = _Emitter()
    e.ns.update(_BASE_NS)
    _emit_decode(e, cls, "d", "o", 1, 0)
    e.emit(1, "return o")
    decode = e.build("decode", cls, "d")
    _DECODERS[cls] = decode
    return decode  # type: ignore[no-any-return]


# Writers short enough to inline as an expression of ``{v}``.
_INLINE_WRITERS: Final[dict[Kind, str]] = {
    Kind.FLAG: "(1 if {v} else 0)",
    Kind.ENUM: "{v}._value_",
}


def _emit_encode(e: _Emitter, cls: type[Any], obj: str, out: str, indent: int, depth: int) -> None:
    """Emit code that encodes model ``obj`` into a new dict stored in ``out``."""
    e.emit(indent, f"{out} = {{}}")
    for info in model_fields(cls):
        wire = wire_name(cls, info)
        v = e.fresh("v")
        read = (
            f"{obj}.{info.name}"
            if info.name.isidentifier() and not iskeyword(info.name)
            else (f"{obj}.__dict__[{info.name!r}]")
        )
        e.emit(indent, f"{v} = {read}")
        e.emit(indent, f"if {v} is not None:")
        if info.kind is Kind.MODEL and not info.many and depth < _INLINE_DEPTH:
            assert info.target is not None
            inner = e.fresh("w")
            _emit_encode(e, info.target, v, inner, indent + 1, depth + 1)
            e.emit(indent + 1, f"{out}[{wire!r}] = {inner}")
            continue
        if info.kind is Kind.MODEL:
            assert info.target is not None
            enc = e.const("enc", _encoder(info.target))
            value = f"[{enc}(x) for x in {v}]" if info.many else f"{enc}({v})"
        elif info.kind in _INLINE_WRITERS:
            item = _INLINE_WRITERS[info.kind]
            value = f"[{item.format(v='x')} for x in {v}]" if info.many else item.format(v=v)
        else:
            write = _WRITERS[info.kind]
            if write is None:
                value = f"list({v})" if info.many else v
            else:
                w = e.const("write", write)
                value = f"[{w}(x) for x in {v}]" if info.many else f"{w}({v})"
        e.emit(indent + 1, f"{out}[{wire!r}] = {value}")
    x = e.fresh("x")
    e.emit(indent, f"{x} = {obj}.wire_extra")
    e.emit(indent, f"if {x} is not _EMPTY:")
    e.emit(indent + 1, f"_merge({e.const('cls', cls)}, {obj}.__dict__, {out}, {x})")


def _compile_encoder(cls: type[Any]) -> Callable[[Any], dict[str, Any]]:
    e = _Emitter()
    e.ns["_merge"] = _merge_extra
    e.ns["_EMPTY"] = EMPTY_EXTRA
    _emit_encode(e, cls, "o", "d", 1, 0)
    e.emit(1, "return d")
    encode = e.build("encode", cls, "o")
    _ENCODERS[cls] = encode
    return encode  # type: ignore[no-any-return]


_BY_WIRE: dict[type[Any], dict[str, FieldInfo]] = {}


def _fields_by_wire(cls: type[Any]) -> dict[str, FieldInfo]:
    try:
        return _BY_WIRE[cls]
    except KeyError:
        table = _BY_WIRE[cls] = {wire_name(cls, i): i for i in model_fields(cls)}
        return table


def _merge_extra(cls: type[Any], attrs_: dict[str, Any], out: dict[str, Any], extra: Any) -> None:
    """Write ``wire_extra`` back: unknown keys, explicit nulls and original spellings.

    A known key keeps its original spelling only while its field still holds the value that
    spelling decodes to, so a field changed since decoding is written in canonical form.
    """
    by_wire = _fields_by_wire(cls)
    for key, raw in extra.items():
        info = by_wire.get(key)
        if info is None:
            out[key] = raw
            continue
        current = attrs_[info.name]
        if current is None or (raw is not None and _decodes_to(info, raw, current)):
            out[key] = raw


def _decodes_to(info: FieldInfo, raw: Any, current: Any) -> bool:
    try:
        if info.many:
            decoded: Any = _read_many(info, raw)
        elif info.kind is Kind.MODEL:
            assert info.target is not None
            decoded = _decoder(info.target)(raw)
        else:
            decoded = _reader(info)(raw)
    except Exception:  # noqa: BLE001  (any failure means "not the same value")
        return False
    return bool(decoded == current)


# ------------------------------------------------------------ the cattrs converter

_converter = cattrs.Converter(detailed_validation=True, forbid_extra_keys=False)


def _field_hook(info: FieldInfo, wire: str) -> Callable[[Any, Any], Any]:
    def require(value: Any) -> None:
        if value is None and info.required:
            msg = f"required field {wire} is missing"
            raise _Bad(msg)

    if info.kind is Kind.MODEL:
        target = info.target
        assert target is not None
        many_type: Any = tuple[target, ...]  # type: ignore[valid-type]

        def model_hook(value: Any, _: Any) -> Any:
            require(value)
            if value is None:
                return None
            if info.many:
                if type(value) is not list:
                    msg = "expected a list"
                    raise _Bad(msg)
                return _converter.structure(value, many_type)
            return _converter.structure(value, target)

        return model_hook

    read = _reader(info)
    if info.many:

        def many_scalar_hook(value: Any, _: Any) -> Any:
            require(value)
            if value is None:
                return None
            if type(value) is not list:
                msg = "expected a list"
                raise _Bad(msg)
            errors, items = [], []
            for index, item in enumerate(value):
                try:
                    items.append(read(item))
                except _Bad as exc:
                    exc.add_note(cattrs.IterableValidationNote(f"@ index {index}", index, Any))
                    errors.append(exc)
            if errors:
                msg = "While structuring a list"
                raise cattrs.IterableValidationError(msg, errors, list)
            return tuple(items)

        return many_scalar_hook

    def scalar_hook(value: Any, _: Any) -> Any:
        require(value)
        return None if value is None else read(value)

    return scalar_hook


def _structure_hook_factory(cls: type[Any]) -> Callable[[Any, Any], Any]:
    infos = model_fields(cls)
    overrides = {
        info.name: override(
            rename=wire_name(cls, info), struct_hook=_field_hook(info, wire_name(cls, info))
        )
        for info in infos
    }
    make: Any = make_dict_structure_fn  # its **overrides are not typed as such
    generated = make(cls, _converter, _cattrs_forbid_extra_keys=False, **overrides)

    def structure(value: Any, type_: Any) -> Any:
        if type(value) is not dict:
            msg = "expected a JSON object"
            raise _Bad(msg)
        return generated(value, type_)

    return structure


def _is_model(type_: Any) -> bool:
    return isinstance(type_, type) and issubclass(type_, Model)


_converter.register_structure_hook_factory(_is_model, _structure_hook_factory)


def _explain(cls: type[Any], data: Any) -> tuple[str, str | None] | None:
    """Run the detailed converter on a refused body: (message, path), or None if it passes."""
    try:
        _converter.structure(data, cls)
    except Exception as exc:  # noqa: BLE001  (every failure is reported, none escapes)
        problems = list(_walk(exc, "$"))
        path, text = problems[0] if problems else (None, "does not fit the model")
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        where = f" at {path}" if path else ""
        return f"cannot decode {cls.__name__}{where}: {text}{more}", path
    return None


def _walk(exc: BaseException, path: str) -> Iterable[tuple[str, str]]:
    if isinstance(exc, cattrs.ClassValidationError):
        with_notes, without = exc.group_exceptions()
        by_wire = {info.name: wire_name(exc.cl, info) for info in model_fields(exc.cl)}
        for sub, note in with_notes:
            yield from _walk(sub, f"{path}.{by_wire.get(note.name, note.name)}")
        for sub in without:
            yield from _walk(sub, path)
    elif isinstance(exc, cattrs.IterableValidationError):
        with_index, unindexed = exc.group_exceptions()
        for item_error, item_note in with_index:
            yield from _walk(item_error, f"{path}[{item_note.index}]")
        for item_error in unindexed:
            yield from _walk(item_error, path)
    elif isinstance(exc, _Bad):
        yield path, str(exc)
    elif isinstance(exc, KeyError):
        yield path, "required field is missing"
    else:
        yield path, f"invalid value ({type(exc).__name__})"


# ------------------------------------------------------------------------ public API


def to_wire(obj: Model) -> dict[str, Any]:
    """Encode a model as WsOne's JSON object (a dict), leaving ``None`` fields out.

    Example:
        >>> from wsone_async.models import IdentifierRequest, IdentifierType
        >>> to_wire(IdentifierRequest(identifier_type=IdentifierType.CARD,
        ...                           identifier_value="1234567891011"))
        {'identifierType': 1, 'identifierValue': '1234567891011'}
    """
    encode = _ENCODERS.get(type(obj))
    if encode is None:
        encode = _compile_encoder(_model_class(obj))
    return encode(obj)


def _model_class(obj: object) -> type[Model]:
    if not isinstance(obj, Model):
        msg = f"to_wire() takes a wsone_async model, got {type(obj).__name__}"
        raise TypeError(msg)
    return type(obj)


def from_wire(cls: type[M], data: Any) -> M:
    """Decode WsOne's JSON object ``data`` (already parsed) into model ``cls``.

    Unknown keys never fail: they are kept in ``wire_extra``. A body that does not fit
    raises :class:`~wsone_async.errors.ResponseDecodeError` naming the bad field's path.

    Example:
        >>> from wsone_async.models import IdentifierRequest
        >>> body = {"identifierType": "10", "identifierValue": "a@b.fr"}
        >>> block = from_wire(IdentifierRequest, body)
        >>> block.identifier_type, dict(block.wire_extra)  # "10" keeps its spelling for to_wire
        (<IdentifierType.WEB_ACCOUNT: 10>, {'identifierType': '10'})
    """
    decode = _DECODERS.get(cls)
    if decode is None:
        if not _is_model(cls):
            msg = f"from_wire() takes a wsone_async model class, got {cls!r}"
            raise TypeError(msg)
        decode = _compile_decoder(cls)
    try:
        return decode(data)  # type: ignore[no-any-return]
    except Exception as exc:  # noqa: BLE001  (the one boundary where decoding fails)
        refused = type(exc).__name__
    # Raised here, out of the except block: the fast path's exception may quote the value
    # (personal data, maybe), and even a suppressed __context__ would keep it reachable.
    explained = _explain(cls, data)
    if explained is None:
        msg = f"cannot decode {cls.__name__}: refused by the fast path ({refused})"
        raise ResponseDecodeError(msg)
    message, path = explained
    raise ResponseDecodeError(message, path=path)


def dumps(obj: Model) -> bytes:
    """Encode a model straight to JSON bytes."""
    return orjson.dumps(to_wire(obj))


def decode_json(body: bytes, *, operation: str | None = None) -> Any:
    """Parse a response body; a body that is not JSON raises ResponseDecodeError."""
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        pass
    # Not chained, not even as a context: orjson's message may quote the body.
    msg = f"the response body is not JSON ({len(body)} bytes)"
    raise ResponseDecodeError(msg, operation=operation)


# ------------------------------------------------------------------- redaction helpers


def redact_wire(data: Any, cls: type[Any] | None) -> Any:
    """A copy of a JSON body fit for a log, read along model ``cls``.

    Keys stay visible, so the structure can be debugged. A value shows only where the model
    declares a field that is not personal data and not free text; everything else (personal
    fields, the vendor's ``infos``, keys and blocks the models do not describe) is redacted.
    """
    return _redact(data, cls, 0)


def _redact(data: Any, cls: type[Any] | None, depth: int) -> Any:
    if depth > _MAX_LOG_DEPTH:
        return REDACTED
    if isinstance(data, list):
        return [_redact(item, cls, depth + 1) for item in data]
    if not isinstance(data, dict):
        return REDACTED
    fields = _fields_by_wire(cls) if cls is not None else {}
    out: dict[str, Any] = {}
    for key, value in data.items():
        info = fields.get(key)
        if isinstance(value, dict | list):
            target = info.target if info is not None and info.kind is Kind.MODEL else None
            out[key] = _redact(value, target, depth + 1)
        elif value is None or (info is not None and not info.personal):
            out[key] = value
        else:
            out[key] = REDACTED
    return out


# Bodies nested deeper than this are cut from logs rather than walked.
_MAX_LOG_DEPTH: Final = 32
