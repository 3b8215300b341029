"""The codec: models <-> WsOne's JSON. The only place that knows wire names.

Wire names follow one rule: a field holding a block (or a list of blocks) travels under the
PascalCase of its name (``person_profil_request`` -> ``PersonProfilRequest``), any other
field under the camelCase (``address3_num`` -> ``address3Num``). How each kind of value is
spelled on the wire (``dd/MM/yyyy`` dates, ``0``/``1`` flags, ...) is a row of the table of
field kinds, ``models._kinds.RULES``; everything below is built from that table and the
model's field table (``models._base.model_fields``):

* a decoder and an encoder per model class, generated as plain Python on first use (their
  source is registered in :mod:`linecache`: tracebacks show the line, ``inspect.getsource``
  works). The decoder checks types and converts values inline; it is what every call runs;
* a cattrs converter with detailed validation, built and imported only when the decoder
  refuses a body, to name the bad field in :class:`ResponseDecodeError`;
* the redaction of bodies for logs (:func:`redact_wire`) and :func:`wire_schema`.

Both decoders accept the same bodies: WsOne's ids arrive as text or numbers, so ``str``
fields take numbers and number fields take numeric text; any value not in the canonical wire
form, any unknown key and any explicit ``null`` is kept in the model's ``wire_extra``, and the
encoder writes it back, so ``to_wire(from_wire(cls, body)) == body``.
"""

from __future__ import annotations

import functools
import json
import json.scanner
import re
import types
from collections.abc import Callable, Generator, Iterable, Mapping
from keyword import iskeyword
from typing import TYPE_CHECKING, Any, Final, NamedTuple, TypeVar, cast

import orjson

from wsone_async._redact import REDACTED
from wsone_async.errors import ResponseDecodeError
from wsone_async.models._base import EMPTY_EXTRA, FieldInfo, Model, _dict_setter, model_fields
from wsone_async.models._codegen import Source, compile_function
from wsone_async.models._kinds import HELPERS, RULES, BadValue, Kind, Redaction, expression

if TYPE_CHECKING:
    import cattrs

__all__ = [
    "WireField",
    "decode_json",
    "dumps",
    "from_wire",
    "redact_wire",
    "to_wire",
    "wire_name",
    "wire_schema",
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


class WireField(NamedTuple):
    """What :func:`wire_schema` says about one wire key of a model."""

    #: The kind of one value (a row of the table of kinds, ``models._kinds.RULES``).
    kind: Kind
    #: The nested model class, for ``Kind.MODEL`` fields; None otherwise.
    model: type[Model] | None
    #: True when the key holds a JSON list of such values.
    many: bool


_SCHEMAS: dict[type[Any], Mapping[str, WireField]] = {}


def wire_schema(model_type: type[Model]) -> Mapping[str, WireField]:
    """The wire keys of ``model_type``, each with its kind, nested model and list flag.

    Computed once per class (cached) from the same tables as the codec, so it cannot
    disagree with what :func:`from_wire` accepts; meant for tools that compare live answers
    with the models (drift detection). Keys come in declaration order.

    Example:
        >>> from wsone_async.models import OffersResponse, OfferResponse
        >>> wire_schema(OffersResponse)["GetOffersResponses"]
        WireField(kind=<Kind.MODEL: 'model'>, model=<class '...OfferResponse'>, many=True)
        >>> wire_schema(OfferResponse)["startDate"].kind
        <Kind.DATETIME: 'datetime'>
    """
    try:
        return _SCHEMAS[model_type]
    except KeyError:
        pass
    schema = _SCHEMAS[model_type] = types.MappingProxyType(
        {
            wire_name(model_type, info): WireField(
                info.kind, info.target if info.kind is Kind.MODEL else None, info.many
            )
            for info in model_fields(model_type)
        }
    )
    return schema


_BY_WIRE: dict[type[Any], dict[str, FieldInfo]] = {}


def _fields_by_wire(cls: type[Any]) -> dict[str, FieldInfo]:
    try:
        return _BY_WIRE[cls]
    except KeyError:
        table = _BY_WIRE[cls] = {wire_name(cls, i): i for i in model_fields(cls)}
        return table


# ---------------------------------------------------------- helpers of generated code


class _Bad(BadValue):
    """A body the generated decoder refuses outright (not an object, a missing field)."""


def _leftovers(
    data: dict[str, Any], known: frozenset[str], extra: Any, shape: tuple[Any, ...] = ()
) -> Any:
    """Keys of ``data`` the fields do not hold: unknown keys and explicit nulls.

    ``extra`` is the dict of spellings kept so far, or ``EMPTY_EXTRA`` for none. When all
    that is left over is explicit nulls of known fields (WsOne answers ``"Block": null``
    for an empty block), the mapping is a shared one, listed in :data:`NULLS_ONLY`; with a
    ``shape`` (the model class, the bits of its fields without a value, the keys of ``data``
    in order), it is also filed under it in :data:`_SHAPES`, for the generated decoders.
    """
    nulls_only = extra is EMPTY_EXTRA
    extra = {} if nulls_only else extra
    for key, value in data.items():
        if value is None:
            extra[key] = None
            nulls_only = nulls_only and key in known
        elif key not in known:
            extra[key] = value
            nulls_only = False
    if nulls_only:
        keys = tuple(extra)
        shared = _NULLS.get(keys)
        if shared is None:
            if len(_NULLS) >= _MAX_NULL_SHAPES:
                return types.MappingProxyType(extra)
            # Listed before it is filed: another thread (the loop, the decoding thread) may
            # find it in the cache as soon as it is there, and drift detection then looks
            # it up. setdefault: a thread that files the same keys first wins; the loser's
            # mapping, alive until unlisted, leaves no id to be reused.
            mapping = types.MappingProxyType(extra)
            NULLS_ONLY.add(id(mapping))
            shared = _NULLS.setdefault(keys, mapping)
            if shared is not mapping:
                NULLS_ONLY.discard(id(mapping))
        if shape and len(_SHAPES) < _MAX_SHAPES:
            # The same class, fields without a value and keys in order give the same nulls,
            # and nothing else: every key is a field's, and every other field has a value.
            _SHAPES[shape] = shared
        return shared
    return types.MappingProxyType(extra)


# The shared ``wire_extra`` of each set of explicit nulls seen (a bounded number of them:
# the answers' shapes, not their values), so that drift detection can skip them by
# identity: an explicit null of a known field is not drift.
_NULLS: dict[tuple[str, ...], Mapping[str, None]] = {}
_MAX_NULL_SHAPES: Final = 1024
#: The ids of the shared mappings of explicit nulls (kept alive by the cache above).
NULLS_ONLY: set[int] = set()
# The same mappings, by the shape of the block that held them (see _leftovers): a decoder
# finds them with one lookup. A key holds the model class, the bits of its fields without a
# value, and the block's keys in order.
_SHAPES: dict[tuple[Any, ...], Mapping[str, None]] = {}
_MAX_SHAPES: Final = 4096


class _Decoded:
    """A list of blocks already decoded (by :func:`decode_in_steps`), in place of the JSON
    list its parent's decoder reads; no JSON value can be one."""

    __slots__ = ("items",)

    def __init__(self, items: tuple[Any, ...]) -> None:
        self.items = items


def _read_one(info: FieldInfo, value: Any) -> Any:
    """Any accepted spelling of one value of ``info`` -> its Python value (not for models)."""
    return RULES[info.kind].read(value, info.target)


def _read_many(info: FieldInfo, value: Any) -> tuple[Any, ...]:
    if type(value) is not list:
        msg = "expected a list"
        raise _Bad(msg)
    if info.kind is Kind.MODEL:
        assert info.target is not None
        decode = _decoder(info.target)
        return tuple([decode(item) for item in value])
    read, target = RULES[info.kind].read, info.target
    return tuple([read(item, target) for item in value])


@functools.cache
def _canonical_test(kind: Kind) -> Callable[[Any], bool]:
    """The table's canonical-spelling expression of ``kind`` as a function."""
    template = RULES[kind].canonical
    if template is None:
        return lambda value: True
    src = Source(HELPERS)
    src.emit(1, f"return {expression(template, 'v')}")
    test: Callable[[Any], bool] = compile_function(src, "canonical", "v", f"{kind.name} test")
    return test


def _many_is_canonical(info: FieldInfo, value: list[Any]) -> bool:
    test = _canonical_test(info.kind)
    return all(test(item) for item in value)


_BASE_NS: Final[dict[str, Any]] = {
    **HELPERS,
    "_new": object.__new__,
    "_EMPTY": EMPTY_EXTRA,
    "_proxy": types.MappingProxyType,
    "_leftovers": _leftovers,
    "_SHAPES": _SHAPES,
    "_Bad": _Bad,
    "_read_many": _read_many,
    "_many_is_canonical": _many_is_canonical,
    "_tuple": tuple,
    "_map": map,
    "_Decoded": _Decoded,
}

# Blocks nested up to this depth are inlined in their parent's decoder and encoder; deeper
# ones (and list items) are called. WsOne's bodies are 4 levels deep at most.
_INLINE_DEPTH: Final = 6

# ------------------------------------------------------------------ generated decoder

_DECODERS: dict[type[Any], Callable[[Any], Any]] = {}


def _decoder(cls: type[Any]) -> Callable[[Any], Any]:
    try:
        return _DECODERS[cls]
    except KeyError:
        return _compile_decoder(cls)


def _compile_decoder(cls: type[Any]) -> Callable[[Any], Any]:
    src = Source(_BASE_NS)
    _emit_decode(src, cls, "d", "o", 1, 0)
    src.emit(1, "return o")
    label = f"decode {cls.__module__}.{cls.__qualname__}"
    decode: Callable[[Any], Any] = compile_function(src, "decode", "d", label)
    _DECODERS[cls] = decode
    return decode


def _emit_fetch(
    src: Source, cls: type[Any], data: str, size: str, values: list[str], indent: int
) -> None:
    """Emit code that reads every field's wire key of dict ``data`` into ``values``.

    ``size`` is set to ``len(data)``, which also refuses what is not a container.
    """
    wires = [wire_name(cls, info) for info in model_fields(cls)]
    src.emit(indent, f"{size} = len({data})")
    if not wires:  # with fields, the lookups below refuse anything but an object
        src.emit(indent, f"if {data}.__class__ is not dict:")
        src.emit(indent + 1, "raise _Bad('expected a JSON object')")
        return
    if len(wires) == 1:
        src.emit(indent, f"{values[0]} = {data}.get({wires[0]!r})")
        return
    # WsOne's answers usually hold every key (null when empty): plain subscripts read them
    # all (CPython specialises them for dicts; faster than get() or an itemgetter call).
    # With fewer keys than fields some must be missing, and each key is looked up on its own.
    targets = ", ".join(values)
    each_key = f"_map({data}.get, {src.const('keys', tuple(wires))})"
    src.emit(indent, f"if {size} >= {len(wires)}:")
    src.emit(indent + 1, "try:")
    for v, wire in zip(values, wires, strict=True):
        src.emit(indent + 2, f"{v} = {data}[{wire!r}]")
    src.emit(indent + 1, "except KeyError:")
    src.emit(indent + 2, f"{targets} = {each_key}")
    src.emit(indent, "else:")
    src.emit(indent + 1, f"{targets} = {each_key}")


def _emit_decode(src: Source, cls: type[Any], data: str, out: str, indent: int, depth: int) -> None:
    """Emit code that decodes dict ``data`` into a ``cls`` instance stored in ``out``."""
    infos = model_fields(cls)
    # ``absent`` counts the fields without a value; with it, one length check tells whether
    # the body holds anything else (unknown keys, explicit nulls). Counting the absent
    # rather than the present costs nothing on WsOne's answers, which send most fields.
    # ``nulls`` has a bit set for each field without a value (in the order of the fields):
    # with the keys of ``data``, it names the leftovers when they are explicit nulls only.
    size, absent, nulls = src.fresh("size"), src.fresh("absent"), src.fresh("nulls")
    ex = src.fresh("ex")
    values = [src.fresh("v") for _ in infos]
    _emit_fetch(src, cls, data, size, values, indent)
    src.emit(indent, f"{absent} = {nulls} = 0")
    # ``ex`` stays the shared empty mapping unless a value keeps its spelling or a key is
    # left over: the common case then has nothing more to do.
    src.emit(indent, f"{ex} = _EMPTY")
    for bit, (info, v) in enumerate(zip(infos, values, strict=True)):
        missing = (
            [f"raise _Bad('required field {wire_name(cls, info)} is missing')"]
            if info.required
            else [f"{absent} += 1", f"{nulls} |= {1 << bit}"]
        )
        _emit_value(src, info, wire_name(cls, info), v, missing, ex, indent, depth)
    known = src.const("known", frozenset(wire_name(cls, info) for info in infos))
    src.emit(indent, f"if {size} + {absent} != {len(infos)}:")
    # Explicit nulls only (WsOne's ``"Block": null``), seen before in this order of keys:
    # their shared mapping is found without walking the body.
    shape = src.fresh("shape")
    src.emit(indent + 1, f"if {ex} is _EMPTY:")
    src.emit(indent + 2, f"{shape} = ({src.const('cls', cls)}, {nulls}, *{data})")
    src.emit(indent + 2, f"{ex} = _SHAPES.get({shape})")
    src.emit(indent + 2, f"if {ex} is None:")
    src.emit(indent + 3, f"{ex} = _leftovers({data}, {known}, _EMPTY, {shape})")
    src.emit(indent + 1, "else:")
    src.emit(indent + 2, f"{ex} = _leftovers({data}, {known}, {ex})")
    if any(info.kind is not Kind.MODEL and RULES[info.kind].canonical for info in infos):
        src.emit(indent, f"elif {ex} is not _EMPTY:")  # spellings kept, nothing left over
        src.emit(indent + 1, f"{ex} = _proxy({ex})")
    # One dict, in attrs' order: instances whose dict keys are not shared read their
    # attributes faster (CPython 3.11 does not specialise reads on shared-key dicts).
    fields = "".join(f", {info.name!r}: {v}" for info, v in zip(infos, values, strict=True))
    src.emit(indent, f"{out} = _new({src.const('cls', cls)})")
    src.emit(
        indent, f"{src.const('set_dict', _dict_setter(cls))}({out}, {{'wire_extra': {ex}{fields}}})"
    )


def _emit_value(
    src: Source,
    info: FieldInfo,
    wire: str,
    v: str,
    missing: list[str],
    ex: str,
    indent: int,
    depth: int,
) -> None:
    """Emit the branches that decode the value ``v`` of field ``info``; ``missing`` are the
    lines run when it has none (absent or null)."""
    rule = RULES[info.kind]

    def keep_spelling(at: int) -> None:  # the value's spelling goes to wire_extra
        src.emit(at, f"if {ex} is _EMPTY:")
        src.emit(at + 1, f"{ex} = {{}}")
        src.emit(at, f"{ex}[{wire!r}] = {v}")

    if info.many or info.kind is Kind.MODEL or rule.canonical is None:
        src.emit(indent, f"if {v} is None:")
        src.extend(indent + 1, missing)
    if info.many:
        src.emit(indent, f"elif {v}.__class__ is not list:")
        if info.kind is Kind.MODEL:  # or items decoded beforehand (decode_in_steps)
            src.emit(indent + 1, f"if {v}.__class__ is not _Decoded:")
            src.emit(indent + 2, "raise _Bad('expected a list')")
            src.emit(indent + 1, f"{v} = {v}.items")
        else:
            src.emit(indent + 1, "raise _Bad('expected a list')")
        src.emit(indent, "else:")
        if info.kind is Kind.MODEL:
            assert info.target is not None
            if depth < _INLINE_DEPTH:
                # A loop in this function: a call per item, from C (map) or Python, costs
                # more than the item's own decoding of a small block.
                items, item = src.fresh("items"), src.fresh("item")
                src.emit(indent + 1, f"{items} = []")
                src.emit(indent + 1, f"for {item} in {v}:")
                _emit_decode(src, info.target, item, item, indent + 2, depth + 1)
                src.emit(indent + 2, f"{items}.append({item})")
                src.emit(indent + 1, f"{v} = _tuple({items})")
            else:
                item = src.const("decode", _decoder(info.target))
                src.emit(indent + 1, f"{v} = _tuple(_map({item}, {v}))")
        elif rule.canonical is None:
            src.emit(indent + 1, f"{v} = _tuple({v})")
        else:
            field = src.const("field", info)
            src.emit(indent + 1, f"if not _many_is_canonical({field}, {v}):")
            keep_spelling(indent + 2)
            src.emit(indent + 1, f"{v} = _read_many({field}, {v})")
        return
    if info.kind is Kind.MODEL:
        assert info.target is not None
        src.emit(indent, "else:")
        if depth < _INLINE_DEPTH:
            _emit_decode(src, info.target, v, v, indent + 1, depth + 1)
        else:
            src.emit(indent + 1, f"{v} = {src.const('decode', _decoder(info.target))}({v})")
        return
    if rule.canonical is None:  # any JSON value, as it is
        return
    target, members = "None", ""
    if info.target is not None:
        target = src.const("target", info.target)
        if info.kind is Kind.ENUM:
            members = src.const("members", info.target._value2member_map_)
    # Every canonical test is false for None: the common case (a value in canonical
    # spelling) passes one test, and absent values are told apart in the other branch.
    canonical = expression(rule.canonical, v, target, members)
    if rule.decode is None:
        src.emit(indent, f"if not {canonical}:")
    else:
        src.emit(indent, f"if {canonical}:")
        src.emit(indent + 1, f"{v} = {expression(rule.decode, v, target, members)}")
        src.emit(indent, "else:")
    src.emit(indent + 1, f"if {v} is None:")
    src.extend(indent + 2, missing)
    src.emit(indent + 1, "else:")
    keep_spelling(indent + 2)
    src.emit(indent + 2, f"{v} = {src.const('read', rule.read)}({v}, {target})")


# ------------------------------------------------------------------ generated encoder

_ENCODERS: dict[type[Any], Callable[[Any], dict[str, Any]]] = {}


def _encoder(cls: type[Any]) -> Callable[[Any], dict[str, Any]]:
    try:
        return _ENCODERS[cls]
    except KeyError:
        return _compile_encoder(cls)


def _compile_encoder(cls: type[Any]) -> Callable[[Any], dict[str, Any]]:
    src = Source({**HELPERS, "_merge": _merge_extra, "_EMPTY": EMPTY_EXTRA})
    _emit_encode(src, cls, "o", "d", 1, 0)
    src.emit(1, "return d")
    label = f"encode {cls.__module__}.{cls.__qualname__}"
    encode: Callable[[Any], dict[str, Any]] = compile_function(src, "encode", "o", label)
    _ENCODERS[cls] = encode
    return encode


def _emit_encode(src: Source, cls: type[Any], obj: str, out: str, indent: int, depth: int) -> None:
    """Emit code that encodes model ``obj`` into a new dict stored in ``out``."""
    src.emit(indent, f"{out} = {{}}")
    for info in model_fields(cls):
        wire = wire_name(cls, info)
        v = src.fresh("v")
        read = (
            f"{obj}.{info.name}"
            if info.name.isidentifier() and not iskeyword(info.name)
            else f"{obj}.__dict__[{info.name!r}]"
        )
        src.emit(indent, f"{v} = {read}")
        src.emit(indent, f"if {v} is not None:")
        if info.kind is Kind.MODEL:
            assert info.target is not None
            if depth < _INLINE_DEPTH:
                inner = src.fresh("w")
                if info.many:  # a loop here, as in the decoder
                    items, item = src.fresh("items"), src.fresh("item")
                    src.emit(indent + 1, f"{items} = []")
                    src.emit(indent + 1, f"for {item} in {v}:")
                    _emit_encode(src, info.target, item, inner, indent + 2, depth + 1)
                    src.emit(indent + 2, f"{items}.append({inner})")
                    inner = items
                else:
                    _emit_encode(src, info.target, v, inner, indent + 1, depth + 1)
                src.emit(indent + 1, f"{out}[{wire!r}] = {inner}")
                continue
            enc = src.const("encode", _encoder(info.target))
            value = f"[{enc}(x) for x in {v}]" if info.many else f"{enc}({v})"
        else:
            template = RULES[info.kind].encode
            if template is None:
                value = f"list({v})" if info.many else v
            elif info.many:
                value = f"[{expression(template, 'x')} for x in {v}]"
            else:
                value = expression(template, v)
        src.emit(indent + 1, f"{out}[{wire!r}] = {value}")
    x = src.fresh("x")
    src.emit(indent, f"{x} = {obj}.wire_extra")
    src.emit(indent, f"if {x} is not _EMPTY:")
    src.emit(indent + 1, f"_merge({src.const('cls', cls)}, {obj}.__dict__, {out}, {x})")


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
            decoded = _read_one(info, raw)
    except Exception:  # noqa: BLE001  (any failure means "not the same value")
        return False
    return bool(decoded == current)


# ------------------------------------------------- the cattrs converter (on failure only)
# cattrs costs tens of milliseconds to import and only explains refusals: it is imported
# and the converter built the first time a body is refused.


@functools.cache
def _cattrs_converter() -> cattrs.Converter:
    """The detailed-validation converter, built from the same table as the decoder."""
    # Imported here, not at the top: see above.
    import cattrs
    from cattrs.gen import make_dict_structure_fn, override

    converter = cattrs.Converter(detailed_validation=True, forbid_extra_keys=False)

    def field_hook(info: FieldInfo, wire: str) -> Callable[[Any, Any], Any]:
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
                    return converter.structure(value, many_type)
                return converter.structure(value, target)

            return model_hook

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
                        items.append(_read_one(info, item))
                    except BadValue as exc:
                        note = cattrs.IterableValidationNote(f"@ index {index}", index, Any)
                        exc.add_note(note)
                        errors.append(exc)
                if errors:
                    msg = "While structuring a list"
                    raise cattrs.IterableValidationError(msg, errors, list)
                return tuple(items)

            return many_scalar_hook

        def scalar_hook(value: Any, _: Any) -> Any:
            require(value)
            return None if value is None else _read_one(info, value)

        return scalar_hook

    def structure_hook_factory(cls: type[Any]) -> Callable[[Any, Any], Any]:
        overrides = {
            info.name: override(
                rename=wire_name(cls, info), struct_hook=field_hook(info, wire_name(cls, info))
            )
            for info in model_fields(cls)
        }
        make: Any = make_dict_structure_fn  # its **overrides are not typed as such
        generated = make(cls, converter, _cattrs_forbid_extra_keys=False, **overrides)

        def structure(value: Any, type_: Any) -> Any:
            if type(value) is not dict:
                msg = "expected a JSON object"
                raise _Bad(msg)
            return generated(value, type_)

        return structure

    converter.register_structure_hook_factory(_is_model, structure_hook_factory)
    return converter


def _is_model(type_: Any) -> bool:
    return isinstance(type_, type) and issubclass(type_, Model)


def _explain(cls: type[Any], data: Any) -> tuple[str, str | None] | None:
    """Run the detailed converter on a refused body: (message, path), or None if it passes."""
    try:
        _cattrs_converter().structure(data, cls)
    except Exception as exc:  # noqa: BLE001  (every failure is reported, none escapes)
        problems = list(_walk(exc, "$"))
        path, text = problems[0] if problems else (None, "does not fit the model")
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        where = f" at {path}" if path else ""
        return f"cannot decode {cls.__name__}{where}: {text}{more}", path
    return None


def _walk(exc: BaseException, path: str) -> Iterable[tuple[str, str]]:
    import cattrs  # already imported by the converter: a lookup in sys.modules

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
    elif isinstance(exc, BadValue):
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
    try:
        encode = _ENCODERS[type(obj)]
    except KeyError:
        encode = _compile_encoder(_model_class(obj))
    return encode(obj)


def _model_class(obj: object) -> type[Model]:
    if not isinstance(obj, Model):
        msg = f"to_wire() takes a wsone_async model, got {type(obj).__name__}"
        raise TypeError(msg) from None  # called while handling the cache's KeyError
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
    try:
        decode = _DECODERS[cls]
    except KeyError:
        if not _is_model(cls):
            msg = f"from_wire() takes a wsone_async model class, got {cls!r}"
            raise TypeError(msg) from None
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


#: Blocks of a long list decoded in one step of :func:`decode_in_steps` (about 0.3 ms
#: of work for getFullPerson's offers, measured by `benchmarks/loop_lag.py --costs`).
STEP_ITEMS: Final = 128


def decode_in_steps(
    cls: type[M], data: Any, reread: Callable[[], Any], step: int = STEP_ITEMS
) -> Generator[None, None, M]:
    """:func:`from_wire`, cut into steps: a generator that yields between steps.

    The long lists of blocks of ``data`` (more than ``step`` items, outside other lists;
    getFullPerson's offers) are decoded ``step`` items at a time, then the rest of the body
    at once. An event loop that runs other callbacks between steps is never held by one
    answer for longer than one step (see ``WsOneClient(decode_in_steps_above=...)``).

    ``data`` is not changed: the dicts on the way to a long list are copied (a dict held in
    two places is decoded as each place says), and each long list is read from a copy of
    its own whose items are dropped once decoded. A caller that lets go of ``data`` once
    the first step ran (as the client does) thereby frees the JSON of each slice as it goes,
    instead of keeping the whole parsed body alive, and walked by every pass of the garbage
    collector, until the end. A refused block is explained from ``reread()``, the body
    parsed again, and raises what :func:`from_wire` raises.

    Example:
        >>> from wsone_async.models import OffersResponse
        >>> def body(): return {"GetOffersResponses": [{"offerId": str(n)} for n in range(3)]}
        >>> steps = decode_in_steps(OffersResponse, body(), body, step=2)
        >>> while True:
        ...     try:
        ...         next(steps)  # an event loop runs its other callbacks here
        ...     except StopIteration as done:
        ...         answer = done.value
        ...         break
        >>> [offer.offer_id for offer in answer.get_offers_responses]
        ['0', '1', '2']
    """
    try:
        lists: list[tuple[dict[str, Any], str, list[Any], type[Any]]] = []
        spine = _spine(cls, data, step, 0, lists)
        del data  # from here on, only the copies hold what is left to decode
        for holder, key, items, target in lists:
            decode = _decoder(target)
            blocks: list[Any] = []
            count = len(items)
            for start in range(0, count, step):
                end = min(start + step, count)
                blocks.extend([decode(item) for item in items[start:end]])
                items[start:end] = [None] * (end - start)  # this slice's JSON may go now
                yield
            holder[key] = _Decoded(tuple(blocks))
        return _decoder(cls)(spine)  # type: ignore[no-any-return]
    except Exception:  # noqa: BLE001, S110  (refused: explained below, by the usual path)
        pass
    # Out of the except block, as in from_wire: the fast path's exception may quote a value.
    return from_wire(cls, reread())  # raises the explained refusal


def _spine(
    cls: type[Any],
    data: Any,
    step: int,
    depth: int,
    lists: list[tuple[dict[str, Any], str, list[Any], type[Any]]],
) -> Any:
    """``data``, with the dicts on the way to each list of blocks longer than ``step``
    copied, and each such list taken out into ``lists`` (a copy of its own, and where its
    decoded blocks go)."""
    if type(data) is not dict or depth > _INLINE_DEPTH:
        return data
    copied: dict[str, Any] | None = None
    for key, field in wire_schema(cls).items():
        if field.model is None:
            continue
        value = data.get(key)
        if field.many:
            if not (type(value) is list and len(value) > step):
                continue
            if copied is None:
                copied = dict(data)  # the same keys in the same order: the same wire_extra
            copied[key] = None  # the decoded blocks take its place
            lists.append((copied, key, list(value), field.model))
        else:
            new = _spine(field.model, value, step, depth + 1, lists)
            if new is value:
                continue
            if copied is None:
                copied = dict(data)
            copied[key] = new
    return data if copied is None else copied


def dumps(obj: Model) -> bytes:
    """Encode a model straight to JSON bytes."""
    encode = _ENCODERS.get(obj.__class__)  # every call's request: one Python call less
    return orjson.dumps(to_wire(obj) if encode is None else encode(obj))


def decode_json(body: bytes, *, operation: str | None = None) -> Any:
    """Parse a response body; a body that is not JSON raises ResponseDecodeError."""
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        pass
    # Not chained, not even as a context: orjson's message may quote the body.
    msg = f"the response body is not JSON ({len(body)} bytes)"
    raise ResponseDecodeError(msg, operation=operation)


# ------------------------------------------------------------- parsing in steps

#: Bytes of JSON parsed in one step of :func:`parse_in_steps`: about a tenth of a
#: millisecond of orjson's time on getFullPerson's offers (its whole parse of 2.2 MB, 34
#: such slices, takes 3.5 ms in ``benchmarks/loop_lag.py``).
STEP_BYTES: Final = 65536

# Most of a large body is read by orjson, a slice of whole blocks at a time; the rest (the
# keys on the way to the long lists, and the blocks where a slice cannot be cut) by the
# standard library's scanner, one value at a time, in a window of the body read as Latin-1
# (a byte a character: its indexes are the body's offsets, and nothing is decoded twice).
# What that scanner reads otherwise than orjson is read again by orjson: a value with a
# byte above 127 (UTF-8) or a surrogate escape (orjson refuses a lone one). An integer
# outside [-2**63, 2**64) is made a float here, as orjson makes it (_int_as_orjson); and
# what orjson refuses is handed to orjson, which refuses it: a number that overflows a
# float, NaN, Infinity.
_INT_MIN: Final = -(2**63)
_UINT_MAX: Final = 2**64 - 1
_INT_CHARS: Final = max(len(str(_INT_MIN)), len(str(_UINT_MAX)))
_INFINITIES: Final = (float("inf"), float("-inf"))
# Any surrogate, high (D800-DBFF) or low (DC00-DFFF).
_SURROGATE_ESCAPE: Final = re.compile(r"\\u[dD][89a-fA-F]")
_SPACE: Final = " \t\n\r"
# Always matches (maybe nothing): typed so.
_SKIP_SPACE: Final = cast("Callable[[str, int], re.Match[str]]", re.compile(r"[ \t\n\r]*").match)
# Where one block of a list ends and the next begins, unless it is inside a string or a
# nested list: orjson's parse of the slice up to it tells (see _StepReader._blocks).
_BETWEEN_BLOCKS: Final = re.compile(rb"\}[ \t\n\r]*,[ \t\n\r]*\{")
# A step reads ``step`` bytes, or ``step // _VALUE_BYTES`` values read one by one if fewer.
_VALUE_BYTES: Final = 128
# Bytes of the body read as text at once for the scanner; more when a value is longer.
_WINDOW: Final = 8192
# orjson refuses a body nested deeper than this. A slice or value read alone starts at its
# top, so it is read inside as many brackets as there are levels above it in the body
# (the scanner knows no such limit: a value that may reach it is read by orjson so).
_ORJSON_DEPTH: Final = 1024


def _loads_at(level: int, data: bytes) -> Any:
    """orjson's parse of ``data`` as if it were at nesting ``level`` (1: the top)."""
    above = level - 1
    value = orjson.loads(b"[" * above + data + b"]" * above)
    for _ in range(above):
        value = value[0]
    return value


def _int_as_orjson(text: str) -> int | float:
    # An integer orjson keeps has 20 characters at most; a longer one it makes a float, and
    # int() of it takes time in the square of its length (where Python's limit is lifted).
    if len(text) > _INT_CHARS:
        return _finite_float(text)
    value = int(text)
    # Past a float's range float() gives inf where orjson refuses: _finite_float refuses too.
    return value if _INT_MIN <= value <= _UINT_MAX else _finite_float(text)


def _finite_float(text: str) -> float:
    value = float(text)
    if value in _INFINITIES:
        raise ValueError(text)
    return value


def _no_constant(text: str) -> Any:
    raise ValueError(text)


class _NotHere(ValueError):
    """The body is not JSON where the stepped reader looked, or not JSON the standard
    library's scanner reads as orjson does: orjson decides."""


def parse_in_steps(
    cls: type[Any], body: bytes, *, operation: str | None = None, step: int = STEP_BYTES
) -> Generator[None, None, Any]:
    """:func:`decode_json`, cut into steps: a generator that yields between steps.

    orjson parses a body in one C call (about 4 ms for 2.2 MB, plus the collector's passes
    its allocations set off, all without a turn of the event loop). Here a large body is
    read along model ``cls``: the objects on the way to its lists of blocks key by key,
    each such list by orjson a slice of about ``step`` bytes of whole blocks at a time, and
    the generator yields after each slice, or ``step`` bytes (``step // 128`` values at
    most) of other values. It gives what :func:`decode_json` gives and refuses what it
    refuses (the body is then handed to it).
    A body that is one long value where the model expects no list (a huge string, an
    unknown key holding everything) is read in one step.

    Example:
        >>> from wsone_async.models import OffersResponse
        >>> body = b'{"GetOffersResponses": [{"offerId": "1"}, {"offerId": "2"}]}'
        >>> steps = parse_in_steps(OffersResponse, body, step=10)
        >>> while True:
        ...     try:
        ...         next(steps)  # an event loop runs its other callbacks here
        ...     except StopIteration as done:
        ...         data = done.value
        ...         break
        >>> data["GetOffersResponses"][1]
        {'offerId': '2'}
    """
    try:
        reader = _StepReader(body, step)
        value = yield from reader.value(cls, 0, reader.space(0))
        if reader.space(reader.index) != len(body):
            raise _NotHere
    except (ValueError, RecursionError):
        pass  # not JSON, or JSON orjson reads otherwise: decided below, by orjson
    else:
        return value
    return decode_json(body, operation=operation)


class _StepReader:
    """One :func:`parse_in_steps`: the body, the window of it read as text, where the
    reading is and where the last step ended (all offsets in the body's bytes)."""

    __slots__ = ("body", "count", "index", "mark", "scanner", "start", "step", "text")

    def __init__(self, body: bytes, step: int) -> None:
        self.body = body
        self.step = step
        self.index = self.mark = self.count = 0
        self.start, self.text = 0, ""  # text is body[start : start + len(text)], as Latin-1
        # One scanner per body: its hooks run Python, so a scanner shared between threads
        # could be used by two at once.
        decoder = json.JSONDecoder(
            parse_int=_int_as_orjson, parse_float=_finite_float, parse_constant=_no_constant
        )
        self.scanner: Callable[[str, int], tuple[Any, int]] = json.scanner.make_scanner(decoder)  # type: ignore[arg-type]

    def _window(self, at: int, ahead: int) -> int:
        """The index of offset ``at`` in ``text``, once ``text`` holds the ``ahead`` bytes
        from there (or all that is left)."""
        index = at - self.start
        if index < 0 or (index + ahead > len(self.text) and not self._whole()):
            self.start = at
            # A window more than what is asked: the next values are then read from it too.
            self.text = self.body[at : at + ahead + _WINDOW].decode("latin-1")
            index = 0
        return index

    def _whole(self) -> bool:
        """Whether ``text`` reaches the end of the body."""
        return self.start + len(self.text) >= len(self.body)

    def char(self, at: int) -> str:
        """The character at offset ``at`` (``""`` past the end)."""
        index = self._window(at, 1)
        return self.text[index : index + 1]

    def space(self, at: int) -> int:
        """The offset of the first byte from ``at`` on that is not JSON space."""
        while self.char(at) in _SPACE:
            # Past the end, char() gives "", which is "in" any string: stop there.
            if at >= len(self.body):
                return at
            index = self._window(at, _WINDOW)
            end = _SKIP_SPACE(self.text, index).end()
            at += end - index
            if end < len(self.text):
                return at
        return at

    def scan(self, at: int, level: int) -> tuple[Any, int]:
        """The value at offset ``at`` and nesting ``level``, by the standard library's
        scanner (or orjson, see above), and the offset after it."""
        ahead = _WINDOW
        while True:
            index = self._window(at, ahead)
            text = self.text
            try:
                value, end = self.scanner(text, index)
            except (StopIteration, ValueError):
                if self._whole():
                    raise _NotHere from None
            else:
                # A value that ends near the window's end may go on after it: a number cut
                # after its "." or its "e" or "e-" ends, for the scanner, before them.
                if end + 2 < len(text) or self._whole():
                    break
            ahead *= 4
        after = at + end - index
        if (
            not text[index:end].isascii()
            or ("\\u" in text[index:end] and _SURROGATE_ESCAPE.search(text, index, end))
            or (  # maybe nested past orjson's limit: each level is a bracket at least
                end - index > _ORJSON_DEPTH - level
                and text.count("[", index, end) + text.count("{", index, end)
                > _ORJSON_DEPTH - level
            )
        ):
            # UTF-8, a surrogate escape (the scanner reads a lone one), deep nesting:
            # orjson reads it, or refuses it, and the body with it.
            value = _loads_at(level, self.body[at:after])
        return value, after

    def _done(self, at: int) -> bool:
        """Whether a step ends at offset ``at``, after one more value: ``step`` bytes since
        the last, or as many values as ``step`` bytes of values of ``_VALUE_BYTES`` (each
        value costs its reading in Python, about a microsecond, whatever its size)."""
        self.count += 1
        if at - self.mark > self.step or self.count > self.step // _VALUE_BYTES:
            self.mark, self.count = at, 0
            return True
        return False

    def value(self, cls: type[Any] | None, depth: int, at: int) -> Generator[None, None, Any]:
        """The value at offset ``at`` (no space before it), read along model ``cls`` if it
        is an object; ``index`` is left after it.

        ``depth`` counts the objects above it (0: the body itself) and stops at
        ``_INLINE_DEPTH``, as :func:`_spine` does, so both follow the same objects; its
        nesting ``level``, as :meth:`scan` and :meth:`_blocks` count (1: the top), is
        ``depth + 1``."""
        if cls is not None and depth <= _INLINE_DEPTH and self.char(at) == "{":
            return (yield from self._object(cls, depth, at))
        value, self.index = self.scan(at, depth + 1)
        return value

    def _object(self, cls: type[Any], depth: int, at: int) -> Generator[None, None, Any]:
        schema = wire_schema(cls)
        out: dict[str, Any] = {}
        at = self.space(at + 1)
        if self.char(at) == "}":
            self.index = at + 1
            return out
        while True:
            if self.char(at) != '"':
                raise _NotHere
            key, at = self.scan(at, depth + 2)
            at = self.space(at)
            if self.char(at) != ":":
                raise _NotHere
            at = self.space(at + 1)
            field = schema.get(key)
            if field is not None and field.model is not None:
                if field.many and self.char(at) == "[":
                    value = yield from self._blocks(at, depth + 2)
                else:
                    value = yield from self.value(field.model, depth + 1, at)
                at = self.index
            else:
                value, at = self.scan(at, depth + 2)
            out[key] = value
            after = yield from self._after(at, "}")
            if after is None:
                return out
            at = after

    def _blocks(self, at: int, level: int) -> Generator[None, None, list[Any]]:
        """A list of blocks at nesting ``level``: slices of whole blocks by orjson, the
        rest one by one."""
        out: list[Any] = []
        at = self.space(at + 1)
        if self.char(at) == "]":
            self.index = at + 1
            return out
        cut = -1  # up to this offset, blocks are read one by one
        while True:
            if at > cut:
                # Within a step after the first only: a slice is at most two steps long,
                # and no byte is searched twice (a search to the body's end, for each of
                # the last blocks of a list, read the rest of the body again each time).
                found = _BETWEEN_BLOCKS.search(self.body, at + self.step, at + 2 * self.step)
                if found is None:
                    cut = at + self.step  # no slice ends there: one by one up to it
                else:
                    try:
                        out.extend(
                            _loads_at(level, b"[" + self.body[at : found.start() + 1] + b"]")
                        )
                    except orjson.JSONDecodeError:
                        cut = found.start()  # inside a string or a nested list
                    else:
                        at = self.mark = found.end() - 1  # the next block's "{"
                        self.count = 0
                        yield
                        continue
            value, at = self.scan(at, level + 1)
            out.append(value)
            after = yield from self._after(at, "]")
            if after is None:
                return out
            at = after

    def _after(self, at: int, close: str) -> Generator[None, None, int | None]:
        """After a value of a container, ending at ``at``: a step if one is due, then the
        offset of the next value, or None once ``close`` ends the container (``index`` is
        then left after it)."""
        if self._done(at):
            yield
        at = self.space(at)
        char = self.char(at)
        if char == close:
            self.index = at + 1
            return None
        if char != ",":
            raise _NotHere
        return self.space(at + 1)


# ------------------------------------------------------------------- redaction helpers


def redact_wire(data: Any, cls: type[Any] | None) -> Any:
    """A copy of a JSON body fit for a log, read along model ``cls``.

    The keys the model declares stay visible, so the structure can be debugged; the others
    become ``<redacted>#n`` (their position), since a server chooses them freely (an email
    address can be a key). A value shows only where the model declares a field whose kind
    logs may show (``Redaction.VALUE`` in the table of kinds) and that is not personal data
    or free text; everything else (personal fields, the vendor's ``infos``, raw JSON fields,
    blocks the models do not describe) is redacted.
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
    for number, (key, value) in enumerate(data.items(), 1):
        info = fields.get(key)
        redaction = Redaction.HIDDEN if info is None else RULES[info.kind].redaction
        if info is None:
            key = f"{REDACTED}#{number}"
        if isinstance(value, dict | list):
            target = info.target if info is not None and redaction is Redaction.NESTED else None
            out[key] = _redact(value, target, depth + 1)
        elif value is None or (
            info is not None and redaction is Redaction.VALUE and not info.personal
        ):
            out[key] = value
        else:
            out[key] = REDACTED
    return out


# Bodies nested deeper than this are cut from logs rather than walked.
_MAX_LOG_DEPTH: Final = 32
