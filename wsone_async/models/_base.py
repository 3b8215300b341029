"""What every model shares: the base class, open enums, and the table of fields.

Models hold Python values only (``str``, ``int``, ``bool``, ``date``, enums, nested models);
how they travel on the wire (key names) is ``_codec``'s business. The few wire formats a
Python type cannot tell apart are marked with ``Annotated`` aliases (:data:`ConsentFlag`,
:data:`Timestamp`) so that the field table can read them off the annotations.

The field table (:func:`model_fields`) is computed once per class from its annotations; with
the table of kinds (``models._kinds``) it drives the construction checks here, and encoding,
decoding and redaction in ``_codec``. Construction checks are generated per class, like the
codec: a plain function that tests each value with the kind's fast expression and builds
nothing (no message, no field path) unless a value fails.
"""

from __future__ import annotations

import collections.abc
import datetime as dt
import enum
import types
import typing
from collections.abc import Callable, Iterable, Mapping
from typing import Annotated, Any, Final, Self

import attrs

from wsone_async._redact import REDACTED, key_name
from wsone_async.models._codegen import Source, compile_function
from wsone_async.models._kinds import HELPERS, INT64, INT_TEXT, RULES, Kind, expression

__all__ = [
    "EMPTY_EXTRA",
    "INT64",
    "INT_TEXT",
    "ConsentFlag",
    "FieldInfo",
    "Kind",
    "Model",
    "OpenIntEnum",
    "Timestamp",
    "checked",
    "meta",
    "model_fields",
    "personal",
]

Check = Callable[[Any], str | None]

#: The shared, immutable ``wire_extra`` of a model that has none.
EMPTY_EXTRA: Final[Mapping[str, Any]] = types.MappingProxyType({})


class _Wire(enum.Enum):
    FLAG01 = "0/1 flag"
    TIMESTAMP = "yyyy-MM-dd HH:mm:ss.SSS"


#: A consent flag: ``bool`` in Python, ``0`` or ``1`` on the wire.
ConsentFlag = Annotated[bool, _Wire.FLAG01]
#: A timestamp written ``yyyy-MM-dd HH:mm:ss.SSS`` on the wire (other datetimes are
#: ``dd/MM/yyyy HH:mm:ss``).
Timestamp = Annotated[dt.datetime, _Wire.TIMESTAMP]


class OpenIntEnum(enum.IntEnum):
    """An integer code list that also accepts codes it does not know.

    WsOne's code lists are mostly undocumented: known codes get names, any other integer
    is kept as an ``UNKNOWN`` member with its value, so decoding never fails on a new code.
    Compare members with ``==`` (``IdentifierType(42) == 42``); ``is_known`` tells them apart.

    Example:
        >>> class Colour(OpenIntEnum):
        ...     RED = 1
        >>> Colour(1), Colour(7), Colour(7).is_known
        (<Colour.RED: 1>, <Colour.UNKNOWN: 7>, False)
    """

    @classmethod
    def _missing_(cls, value: object) -> Self | None:
        if type(value) is int:
            member = int.__new__(cls, value)
            member._name_ = "UNKNOWN"
            member._value_ = value
            return member
        if type(value) is str and INT_TEXT.fullmatch(value):
            return cls(int(value))
        return None

    @property
    def is_known(self) -> bool:
        """Whether this code has a name in this library."""
        return self._value_ in type(self)._value2member_map_


@attrs.frozen
class FieldInfo:
    """One field of a model, as the checks and the codec see it."""

    #: The Python attribute name.
    name: str
    #: What one value of the field is: a row of the table of kinds (``models._kinds``).
    kind: Kind
    #: True for a sequence (``tuple[X, ...]``) of such values.
    many: bool
    #: The enum or model class, for ``Kind.ENUM`` and ``Kind.MODEL``.
    target: type[Any] | None
    #: Whether the constructor requires it (no default).
    required: bool
    #: Whether the value is personal data, or free text that may quote some (redacted in
    #: reprs and logs).
    personal: bool
    #: Extra value check run at construction, if any.
    check: Check | None


_PERSONAL = "wsone_personal"
_CHECK = "wsone_check"


def meta(*, personal: bool = False, check: Check | None = None) -> dict[str, Any]:
    """Metadata of a model field, for ``attrs.field(metadata=...)``.

    Args:
        personal: the value is personal data, or free text that may quote some (such as the
            vendor's ``infos``): redacted in reprs and logs.
        check: returns an error text for a bad value, or None when it is fine.

    Required fields use ``attrs.field(metadata=meta(...))`` directly, so type checkers see
    that they have no default.
    """
    return {_PERSONAL: personal, _CHECK: check}


def personal(*, check: Check | None = None) -> Any:
    """Declare an optional field holding personal data (redacted in reprs and logs)."""
    return attrs.field(default=None, metadata=meta(personal=True, check=check))


def checked(check: Check) -> Any:
    """Declare an optional field whose values must pass ``check``."""
    return attrs.field(default=None, metadata=meta(check=check))


def _extra_converter(value: Mapping[str, Any] | None) -> Mapping[str, Any]:
    if not value:
        return EMPTY_EXTRA
    if isinstance(value, types.MappingProxyType):
        return value
    if not isinstance(value, Mapping) or not all(isinstance(k, str) for k in value):
        msg = "wire_extra must be a mapping with str keys"
        raise ValueError(msg)
    return types.MappingProxyType(dict(value))


# Every model class is ``attrs.frozen(kw_only=True, slots=False, repr=False, eq=False)``:
# equality and hashing are the two generic methods below, which saves attrs generating
# them for each of the ~100 classes at import.
@attrs.frozen(kw_only=True, slots=False, repr=False, eq=False)
class Model:
    """Base of every WsOne request and response block.

    Instances are immutable. Constructors take keyword arguments, check every value
    (a bad one raises ``ValueError`` naming the field) and turn lists into tuples.
    ``repr()`` shows only the fields that are set and hides personal data. Two models are
    equal when they are of the same class and all their fields (``wire_extra`` too) are.
    """

    #: Keys as they came off the wire that the typed fields alone would not write back the
    #: same way: keys this library does not model (undocumented fields), keys that arrived
    #: as explicit ``null``, and values spelled differently from this library's canonical
    #: form (such as an identifier type sent as the text ``"10"``). ``to_wire`` writes them
    #: back, so decoding then encoding gives the original body; a field set to a different
    #: value wins. You may also pass keys here to send fields this library does not model.
    wire_extra: Mapping[str, Any] = attrs.field(
        default=EMPTY_EXTRA, converter=_extra_converter, hash=False
    )

    def __attrs_post_init__(self) -> None:
        try:
            run_checks = _CHECKS[self.__class__]
        except KeyError:
            run_checks = _compile_checks(self.__class__)
        run_checks(self)

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        # Every instance's __dict__ holds exactly its fields, wire_extra included.
        return self.__dict__ == other.__dict__

    def __hash__(self) -> int:
        values = self.__dict__
        return hash((self.__class__, *[values[info.name] for info in model_fields(type(self))]))

    def __repr__(self) -> str:
        parts = []
        for info in model_fields(type(self)):
            value = self.__dict__[info.name]
            if value is None:
                continue
            parts.append(f"{info.name}={REDACTED if info.personal else repr(value)}")
        if self.wire_extra:
            # A server chooses them: one may be data (an email as a key).
            keys = sorted(map(key_name, self.wire_extra))
            parts.append(f"wire_extra=<keys: {', '.join(keys)}>")
        return f"{type(self).__name__}({', '.join(parts)})"


_FIELDS: dict[type[Any], tuple[FieldInfo, ...]] = {}


def model_fields(cls: type[Any]) -> tuple[FieldInfo, ...]:
    """The fields of model class ``cls``, without ``wire_extra``, in declaration order."""
    try:
        return _FIELDS[cls]
    except KeyError:
        pass
    hints = typing.get_type_hints(cls, include_extras=True)
    infos = []
    for attribute in attrs.fields(cls):
        if attribute.name == "wire_extra":
            continue
        kind, many, target = _classify(cls, attribute.name, hints[attribute.name])
        infos.append(
            FieldInfo(
                name=attribute.name,
                kind=kind,
                many=many,
                target=target,
                required=attribute.default is attrs.NOTHING,
                personal=bool(attribute.metadata.get(_PERSONAL, False)),
                check=attribute.metadata.get(_CHECK),
            )
        )
    result = _FIELDS[cls] = tuple(infos)
    return result


_SCALARS: Final[dict[Any, Kind]] = {
    str: Kind.STR,
    int: Kind.INT,
    float: Kind.FLOAT,
    bool: Kind.BOOL,
    dt.date: Kind.DATE,
    dt.datetime: Kind.DATETIME,
    Any: Kind.RAW,
}


def _classify(cls: type[Any], name: str, hint: Any) -> tuple[Kind, bool, type[Any] | None]:
    args = [a for a in typing.get_args(hint) if a is not type(None)]
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        if set(args) == {int, float}:
            return Kind.NUMBER, False, None
        if len(args) == 1:
            return _classify(cls, name, args[0])
    if typing.get_origin(hint) is Annotated:
        base, *marks = typing.get_args(hint)
        if _Wire.FLAG01 in marks and base is bool:
            return Kind.FLAG, False, None
        if _Wire.TIMESTAMP in marks and base is dt.datetime:
            return Kind.TIMESTAMP, False, None
    origin = typing.get_origin(hint)
    if (origin is tuple and len(args) == 2 and args[1] is Ellipsis) or (
        origin is collections.abc.Sequence and len(args) == 1
    ):
        # Sequences are stored as tuples: constructors turn any iterable into one.
        kind, many, target = _classify(cls, name, args[0])
        if not many:
            return kind, True, target
    if hint in _SCALARS:
        return _SCALARS[hint], False, None
    if isinstance(hint, type) and issubclass(hint, OpenIntEnum):
        return Kind.ENUM, False, hint
    if isinstance(hint, type) and issubclass(hint, Model):
        return Kind.MODEL, False, hint
    msg = f"{cls.__name__}.{name}: unsupported annotation {hint!r}"
    raise TypeError(msg)


# ---------------------------------------------------------- generated construction checks

_CHECKS: dict[type[Any], Callable[[Any], None]] = {}


def _check_one(info: FieldInfo, value: Any, where: str) -> Any:
    """The full rule of one value that failed its kind's fast test: convert it, or refuse."""
    stored, error = RULES[info.kind].check(value, info.target)
    if error:
        msg = f"{where}: {error}"
        raise ValueError(msg)
    return stored


def _check_many(info: FieldInfo, value: Any, where: str) -> tuple[Any, ...]:
    """A sequence field: every item checked (and its own check run), stored as a tuple."""
    if isinstance(value, str | bytes | Mapping) or not isinstance(value, Iterable):
        msg = f"{where}: expected a sequence"
        raise ValueError(msg)  # noqa: TRY004  (every construction check raises ValueError)
    rule = RULES[info.kind]
    items = []
    for index, item in enumerate(value):
        stored, error = rule.check(item, info.target)
        error = error or (info.check(stored) if info.check else None)
        if error:
            msg = f"{where}[{index}]: {error}"
            raise ValueError(msg)
        items.append(stored)
    return tuple(items)


def _emit_checks(src: Source, cls: type[Any], values: dict[str, str], store: bool) -> None:
    """Emit the checks of every field of ``cls``, whose values are the names ``values``.

    For each field, in order: a missing required value is refused; a value the kind's fast
    expression accepts is kept as it is; any other goes through the kind's full rule, which
    converts it (an ``int`` into an enum member) or refuses it; then the field's own check
    runs. Messages name ``Class.field``, never the value: nothing is built unless a value
    fails. With ``store``, a converted value is also written to the instance dict ``d``.
    """
    one, many = src.const("check_one", _check_one), src.const("check_many", _check_many)
    for info in model_fields(cls):
        where = f"{cls.__name__}.{info.name}"
        v = values[info.name]
        field = src.const("field", info)
        put = f"d[{info.name!r}] = " if store else ""
        src.emit(1, f"if {v} is not None:")
        if info.many:
            src.emit(2, f"{v} = {put}{many}({field}, {v}, {where!r})")
        else:
            target = src.const("target", info.target) if info.target is not None else ""
            accepts = expression(RULES[info.kind].accepts, v, target)
            if accepts != "(True)":
                src.emit(2, f"if not {accepts}:")
                src.emit(3, f"{v} = {put}{one}({field}, {v}, {where!r})")
            if info.check is not None:
                src.emit(2, f"_error = {src.const('check', info.check)}({v})")
                src.emit(2, "if _error:")
                src.emit(3, f"raise _ValueError({where + ': '!r} + _error)")
        if info.required:
            src.emit(1, "else:")
            src.emit(2, f"raise _ValueError({where + ' is required'!r})")


def _compile_checks(cls: type[Any]) -> Callable[[Any], None]:
    """The checks of ``cls`` as a function of a built instance (run by attrs' ``__init__``).

    Also installs, where it can, a generated ``__init__`` that runs the same checks on its
    arguments before the instance exists (see :func:`_compile_init`).
    """
    src = Source({**HELPERS, "_ValueError": ValueError})
    src.emit(1, "d = self.__dict__")
    names = {}
    for info in model_fields(cls):
        names[info.name] = v = src.fresh("v")
        src.emit(1, f"{v} = d[{info.name!r}]")
    _emit_checks(src, cls, names, store=True)
    src.emit(1, "return None")
    label = f"checks {cls.__module__}.{cls.__qualname__}"
    run_checks: Callable[[Any], None] = compile_function(src, "checks", "self", label)
    _CHECKS[cls] = run_checks
    init = _compile_init(cls)
    if init is not None:
        type.__setattr__(cls, "__init__", init)
    return run_checks


def _compile_init(cls: type[Any]) -> Callable[..., None] | None:
    """A generated ``__init__`` for ``cls``: attrs' own, with the checks fused in.

    It takes the same keyword arguments with the same defaults, converts ``wire_extra``
    and runs the checks on the arguments, then fills the instance with one dict: cheaper
    than attrs' ``__init__`` followed by the checks, and an instance whose dict keys are
    not shared with other instances reads its attributes faster (CPython 3.11 does not
    specialise attribute reads on shared-key dicts). None when ``cls`` uses an attrs feature
    this does not reproduce (validators, factories, private names, its own hooks): then
    attrs' ``__init__`` stays, and runs the same checks after it.
    """
    attributes = attrs.fields(cls)
    klass: Any = cls  # its hooks, compared with Model's own
    if (
        klass.__attrs_post_init__ is not Model.__attrs_post_init__
        or klass.__setattr__ is not Model.__setattr__
        or hasattr(klass, "__attrs_pre_init__")
    ):
        return None
    src = Source({**HELPERS, "_ValueError": ValueError, "_EMPTY": EMPTY_EXTRA})
    parameters = []
    for attribute in attributes:
        plain = (
            attribute.init
            and attribute.validator is None
            and attribute.on_setattr is None
            and attribute.alias == attribute.name
            and not isinstance(attribute.default, attrs.Factory)  # type: ignore[arg-type]
            and (attribute.converter is None or attribute.name == "wire_extra")
        )
        if not plain or attribute.name in ("self", "d", "_error"):
            return None
        if attribute.default is attrs.NOTHING:
            parameters.append(attribute.name)
        else:
            parameters.append(f"{attribute.name}={src.const('default', attribute.default)}")
    src.emit(1, "if wire_extra is not _EMPTY:")
    src.emit(2, f"wire_extra = {src.const('convert', _extra_converter)}(wire_extra)")
    _emit_checks(src, cls, {a.name: a.name for a in attributes}, store=False)
    filled = ", ".join(f"{a.name!r}: {a.name}" for a in attributes)
    src.emit(1, f"{src.const('set_dict', _dict_setter(cls))}(self, {{{filled}}})")
    label = f"init {cls.__module__}.{cls.__qualname__}"
    init: Callable[..., None] = compile_function(
        src, "__init__", f"self, *, {', '.join(parameters)}", label
    )
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    init.__module__ = cls.__module__
    init.__annotations__ = dict(cls.__init__.__annotations__)
    return init


def _dict_setter(cls: type[Any]) -> Callable[[Any, Any], None]:
    """The ``__set__`` of the ``__dict__`` slot of attrs' dict classes: it builds an instance
    in one step (frozen classes refuse ``self.__dict__ = ...``)."""
    for klass in cls.__mro__:
        descriptor = klass.__dict__.get("__dict__")
        if descriptor is not None:
            return descriptor.__set__  # type: ignore[no-any-return]
    msg = f"{cls.__name__} instances have no __dict__"  # pragma: no cover
    raise TypeError(msg)  # pragma: no cover
