"""Deterministic fault injection: what the simulator does instead of (or besides) answering.

A :class:`FaultPlan` is a list of :class:`Fault` rules consulted, in the order they were
added, for every request to a WsOne operation (never for the control endpoints). A rule
targets an operation name or a group (``"read"``, ``"write"``, ``"person"``,
``"transaction"``, ``"*"``) and fires either for the next ``times`` matching calls
(scripted) or with probability ``rate`` on each matching call, drawn from a
``random.Random(seed)``: the same seed and the same sequence of calls give the same faults.

Latency rules add their delay and let the next rules be consulted; the first other rule
that fires decides what happens to the request, and later rules are not consulted.

Each kind of fault is one attrs class (:class:`Latency`, :class:`Status`,
:class:`DropBefore`, :class:`DropAfter`, :class:`Html`, :class:`Garbage`,
:class:`ResponseCode`), and each of its parameters is described once, on its field: its
type, default, check and meaning. Everything else is derived from them: the arguments of
:meth:`FaultPlan.add`, the compact syntax (:func:`parse_fault_spec`), the JSON of the
control endpoint (``POST``/``GET /_control/faults``), :meth:`Fault.describe` and the
README's table (:func:`parameters_table`). The parameters every kind shares (``times``,
``rate``, ``skip``, ``process``) are the rule's, described on :class:`Fault`.

Compact syntax (``--fault`` of the command line, ``"spec"`` of ``POST /_control/faults``)::

    TARGET:KIND[=VALUE][,OPTION=VALUE]...

where ``VALUE`` is the kind's main parameter (``status=503``, ``latency=0.5``,
``response_code=101``) and the options are any parameter of the rule or of the kind
(``retry_after=@SECONDS`` sends the HTTP date that many seconds ahead). Examples:
``createPerson:status=503,times=2,retry_after=1``, ``write:drop_after,rate=0.05``,
``read:latency=0.2,rate=0.5``, ``getPerson:response_code=101,infos=Person not found``.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import enum
import math
import random
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from typing import Any, ClassVar, Final, Literal

import attrs

from wsone_async.testing._routes import GROUPS, ROUTES

__all__ = [
    "KINDS",
    "PARAMETER_NAMES",
    "DropAfter",
    "DropBefore",
    "Fault",
    "FaultAction",
    "FaultKind",
    "FaultPlan",
    "Garbage",
    "Html",
    "Latency",
    "ResponseCode",
    "Status",
    "parameters_table",
    "parse_fault_spec",
]


class FaultKind(enum.StrEnum):
    """What a fault does to a request (the name of its class in :data:`KINDS`)."""

    LATENCY = "latency"
    STATUS = "status"
    DROP_BEFORE = "drop_before"
    DROP_AFTER = "drop_after"
    HTML = "html"
    GARBAGE = "garbage"
    RESPONSE_CODE = "response_code"


_MAX_DELAY: Final = 3600.0

# ------------------------------------------------------------------ parameter types

#: How a parameter's value is written: in JSON and in the compact syntax.
ParamType = Literal["integer", "number", "string", "boolean", "retry-after"]

_BOOL_TEXT: Final = {"1": True, "true": True, "yes": True, "0": False, "false": False, "no": False}


@attrs.frozen
class Param:
    """What one fault parameter is: how it is written, and what it means."""

    type: ParamType
    doc: str


_META: Final = "wsone_fault_param"


def _is_integer(value: object) -> bool:
    return type(value) is int


def _is_number(value: object) -> bool:
    return type(value) is int or type(value) is float


_JSON_TYPES: Final[Mapping[ParamType, Callable[[object], bool]]] = {
    "integer": _is_integer,
    "number": _is_number,
    "string": lambda value: isinstance(value, str),
    "boolean": lambda value: isinstance(value, bool),
    "retry-after": lambda value: _is_number(value) or isinstance(value, str | dt.datetime),
}


def _from_text(name: str, kind: ParamType, text: str) -> Any:
    """A parameter's value from the compact syntax."""
    if kind == "string":
        return text
    if kind == "boolean":
        if text.lower() not in _BOOL_TEXT:
            msg = f"fault option {name}={text!r} is not a boolean"
            raise ValueError(msg)
        return _BOOL_TEXT[text.lower()]
    try:
        return int(text) if kind == "integer" else float(text)
    except ValueError:
        expected = "seconds (or @seconds)" if kind == "retry-after" else "a number"
        msg = f"fault option {name}={text!r} is not {expected}"
        raise ValueError(msg) from None


def _typed(kind: ParamType) -> Callable[[Any, attrs.Attribute[Any], Any], None]:
    check = _JSON_TYPES[kind]

    def validate(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
        if value is not None and not check(value):
            msg = f"fault parameter {attribute.name!r} must be {kind.replace('-', ' ')}"
            raise ValueError(msg)

    return validate


def _range(low: float, high: float, what: str) -> Callable[[Any, attrs.Attribute[Any], Any], None]:
    def validate(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
        if value is not None and not (math.isfinite(value) and low <= value <= high):
            msg = f"{attribute.name} must be {what}"
            raise ValueError(msg)

    return validate


def _param(
    default: Any,
    kind: ParamType,
    doc: str,
    *validators: Callable[[Any, attrs.Attribute[Any], Any], None],
    converter: Callable[[Any], Any] | None = None,
) -> Any:
    """A fault parameter: the one place where its type, default, checks and meaning live."""
    return attrs.field(
        default=default,
        validator=[_typed(kind), *validators],
        converter=converter,
        metadata={_META: Param(kind, doc)},
        kw_only=True,
    )


def _params(cls: type) -> dict[str, tuple[attrs.Attribute[Any], Param]]:
    return {a.name: (a, a.metadata[_META]) for a in attrs.fields(cls) if _META in a.metadata}


def _retry_after(value: float | str | dt.datetime | None) -> float | str | None:
    if value is None:
        return None
    if isinstance(value, str):
        if not value.isprintable():
            msg = "retry_after text must be printable"
            raise ValueError(msg)
        return value
    if isinstance(value, dt.datetime):
        when = value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)
        return email.utils.format_datetime(when.astimezone(dt.UTC), usegmt=True)
    if not _is_number(value) or not math.isfinite(value) or not 0 <= value <= _MAX_DELAY:
        msg = "retry_after must be seconds (0 to 3600), an HTTP date or a datetime"
        raise ValueError(msg)
    return float(value)


def _one_of(*allowed: str) -> Callable[[Any, attrs.Attribute[Any], Any], None]:
    def validate(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
        if value not in allowed:
            msg = f"{attribute.name} must be one of {', '.join(map(repr, allowed))}"
            raise ValueError(msg)

    return validate


def _not_empty(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if not value:
        msg = f"{attribute.name} must be a non-empty string"
        raise ValueError(msg)


# ------------------------------------------------------------------------- the kinds


class FaultAction:
    """What a fault does: the base of the kinds' classes."""

    KIND: ClassVar[FaultKind]
    MAIN: ClassVar[str | None] = None
    """The parameter given as ``KIND=VALUE`` in the compact syntax, if any."""
    PROCESS: ClassVar[bool | None] = None
    """Whether the request is processed: always (True), never (False), or as ``process``
    says (None)."""


@attrs.frozen
class Latency(FaultAction):
    """Wait ``delay`` seconds, then go on: the request is processed, later rules consulted."""

    KIND = FaultKind.LATENCY
    MAIN = "delay"
    PROCESS = True
    delay: float = _param(
        1.0, "number", "seconds to wait (0 to 3600)", _range(0.0, _MAX_DELAY, "0 to 3600 seconds")
    )


@attrs.frozen
class Status(FaultAction):
    """Answer an HTTP error status, with a JSON or empty body."""

    KIND = FaultKind.STATUS
    MAIN = "status"
    status: int = _param(
        503, "integer", "the HTTP status (400 to 599)", _range(400, 599, "400 to 599")
    )
    retry_after: float | str | None = _param(
        None,
        "retry-after",
        "`Retry-After`: seconds (0 to 3600), or the header's text; a datetime from Python",
        converter=_retry_after,
    )
    retry_after_date: bool = _param(
        False, "boolean", "send `retry_after` seconds as the HTTP date they lead to"
    )
    body: str = _param("json", "string", '`"json"` or `"empty"`', _one_of("json", "empty"))

    def retry_after_header(self, now: dt.datetime | None = None) -> str | None:
        """The ``Retry-After`` header to send now, or None for none."""
        value = self.retry_after
        if value is None or isinstance(value, str):
            return value
        if self.retry_after_date:
            when = (now or dt.datetime.now(dt.UTC)) + dt.timedelta(seconds=value)
            return email.utils.format_datetime(when.astimezone(dt.UTC), usegmt=True)
        # Whole seconds as the RFC says; a fraction is sent as such, to keep tests fast.
        return str(int(value)) if value.is_integer() else format(value, "g")


@attrs.frozen
class DropBefore(FaultAction):
    """Close the connection without processing the request."""

    KIND = FaultKind.DROP_BEFORE
    PROCESS = False


@attrs.frozen
class DropAfter(FaultAction):
    """Process the request (its changes stay), then close the connection without answering:
    the client cannot know whether it happened."""

    KIND = FaultKind.DROP_AFTER
    PROCESS = True


@attrs.frozen
class Html(FaultAction):
    """HTTP 200 with an HTML error page, as a misrouted proxy answers."""

    KIND = FaultKind.HTML


@attrs.frozen
class Garbage(FaultAction):
    """HTTP 200 with a body that is not JSON (an answer cut short)."""

    KIND = FaultKind.GARBAGE


@attrs.frozen
class ResponseCode(FaultAction):
    """A WsOne envelope with a functional failure's ``responseCode`` and ``infos``."""

    KIND = FaultKind.RESPONSE_CODE
    MAIN = "response_code"
    response_code: str = _param("999", "string", "the `responseCode`", _not_empty)
    infos: str = _param("Simulated failure", "string", "the `infos` text")


#: The class of each kind of fault.
KINDS: Final[Mapping[FaultKind, type[FaultAction]]] = {
    cls.KIND: cls for cls in (Latency, Status, DropBefore, DropAfter, Html, Garbage, ResponseCode)
}
if set(KINDS) != set(FaultKind):  # pragma: no cover - a kind was added without its class
    _msg = f"fault kinds without a class: {sorted(set(FaultKind) - set(KINDS))}"
    raise RuntimeError(_msg)


# ------------------------------------------------------------------------- the rule


def _times(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if value is not None and value < 1:
        msg = "times must be at least 1"
        raise ValueError(msg)


def _skip(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if value < 0:
        msg = "skip must be at least 0"
        raise ValueError(msg)


@attrs.define(eq=False)
class Fault:
    """One rule of a :class:`FaultPlan` (made by :meth:`FaultPlan.add`)."""

    id: int
    operation: str
    """The operation name or group the rule targets."""
    action: FaultAction
    """What the fault does: an instance of one of the kinds' classes."""
    times: int | None = _param(
        None,
        "integer",
        "fire for this many matching calls at most (default 1 without `rate`)",
        _times,
    )
    rate: float | None = _param(
        None,
        "number",
        "fire with this probability (0 to 1) on each matching call",
        _range(0, 1, "0 to 1"),
    )
    skip: int = _param(0, "integer", "let this many matching calls through first", _skip)
    process: bool = _param(
        False,
        "boolean",
        "process the request anyway (`status`, `html`, `garbage`, `response_code`)",
    )
    matched: int = attrs.field(default=0, kw_only=True)
    """Matching calls seen so far."""
    injected: int = attrs.field(default=0, kw_only=True)
    """Calls it fired for so far."""

    @property
    def kind(self) -> FaultKind:
        """The kind of the fault."""
        return self.action.KIND

    @property
    def exhausted(self) -> bool:
        """Whether the rule will never fire again."""
        return self.times is not None and self.injected >= self.times

    def retry_after_header(self, now: dt.datetime | None = None) -> str | None:
        """The ``Retry-After`` header to send now (a ``status`` fault's), or None."""
        action = self.action
        return action.retry_after_header(now) if isinstance(action, Status) else None

    def describe(self) -> dict[str, Any]:
        """The rule as JSON-ready data, as ``GET /_control/faults`` lists it."""
        data: dict[str, Any] = {"id": self.id, "operation": self.operation, "kind": str(self.kind)}
        data.update((name, getattr(self, name)) for name in _RULE_PARAMS)
        data.update(matched=self.matched, injected=self.injected)
        data.update(attrs.asdict(self.action))  # type: ignore[arg-type]
        return data


_RULE_PARAMS: Final = _params(Fault)

#: Every parameter name a rule may be given, whatever its kind.
PARAMETER_NAMES: Final = frozenset(
    {*_RULE_PARAMS, *(name for cls in KINDS.values() for name in _params(cls))}
)


def _kind_of(kind: FaultKind | str) -> FaultKind:
    try:
        return FaultKind(kind)
    except ValueError:
        msg = f"unknown fault kind {kind!r}; expected one of {[str(k) for k in FaultKind]}"
        raise ValueError(msg) from None


class FaultPlan:
    """The faults a simulator injects, deterministic for a given ``seed``.

    Args:
        seed: seed of the random draws of ``rate`` rules.

    Example:
        >>> plan = FaultPlan(seed=1)
        >>> fault = plan.add("createPerson", "status", status=503, times=2, retry_after=1)
        >>> [plan.pick("getPerson")[1], plan.pick("createPerson")[1] is fault]
        [None, True]
        >>> plan.pick("createPerson")[1].retry_after_header(), plan.pick("createPerson")[1]
        ('1', None)
    """

    def __init__(self, seed: int = 0) -> None:
        self._seed = seed
        self._rng = random.Random(seed)  # noqa: S311  (reproducible on purpose)
        self._faults: list[Fault] = []
        self._ids = 0
        #: Faults injected so far, by kind (``clear()`` keeps these counts).
        self.injected: Counter[str] = Counter()

    def __iter__(self) -> Iterator[Fault]:
        return iter(tuple(self._faults))

    def __len__(self) -> int:
        return len(self._faults)

    @property
    def faults(self) -> tuple[Fault, ...]:
        """The rules, in the order they are consulted."""
        return tuple(self._faults)

    def add(
        self,
        operation: str = "*",
        kind: FaultKind | str | FaultAction = FaultKind.STATUS,
        **params: Any,
    ) -> Fault:
        """Add a rule, consulted after those already added.

        Args:
            operation: an operation name, or a group: ``"read"``, ``"write"``,
                ``"person"``, ``"transaction"`` or ``"*"``.
            kind: one of :class:`FaultKind` (or its value, such as ``"drop_after"``), or
                an instance of a kind's class, such as ``Status(status=429)``.
            **params: the rule's parameters (``times``, ``rate``, ``skip``, ``process``)
                and the kind's (such as ``status`` or ``delay``): see
                :func:`parameters_table`. None is the same as not given.

        Returns:
            The rule, whose ``injected`` counts the calls it fired for.

        Raises:
            ValueError: an unknown operation, kind or parameter, or a bad value.
        """
        if not isinstance(operation, str) or (operation not in ROUTES and operation not in GROUPS):
            msg = f"unknown operation or group {operation!r}"
            raise ValueError(msg)
        given = {name: value for name, value in params.items() if value is not None}
        rule = {name: given.pop(name) for name in _RULE_PARAMS if name in given}
        if isinstance(kind, FaultAction):
            action = kind
        else:
            cls = KINDS[_kind_of(kind)]
            unknown = sorted(set(given) - set(_params(cls)))
            if unknown:
                msg = f"fault kind {cls.KIND} takes no parameter {', '.join(map(repr, unknown))}"
                raise ValueError(msg)
            action = cls(**given)
        if given and isinstance(kind, FaultAction):
            msg = f"unknown rule parameter {', '.join(map(repr, sorted(given)))}"
            raise ValueError(msg)
        if action.PROCESS is False and rule.get("process"):
            msg = f"a {action.KIND} fault never processes the request"
            raise ValueError(msg)
        if action.PROCESS:
            rule["process"] = True
        if rule.get("times") is None and rule.get("rate") is None:
            rule["times"] = 1
        fault = Fault(self._ids + 1, operation, action, **rule)
        self._ids += 1
        self._faults.append(fault)
        return fault

    def add_spec(self, spec: str) -> Fault:
        """Add a rule written in the compact syntax, such as ``"write:drop_after,rate=0.05"``."""
        return self.add(**parse_fault_spec(spec))

    def remove(self, fault: Fault) -> None:
        """Remove one rule (ignored if it is not in the plan)."""
        if fault in self._faults:
            self._faults.remove(fault)

    def clear(self) -> int:
        """Remove every rule; returns how many there were."""
        count = len(self._faults)
        self._faults.clear()
        return count

    def reseed(self, seed: int | None = None) -> None:
        """Restart the random draws from ``seed`` (default: the plan's seed)."""
        if seed is not None:
            self._seed = seed
        self._rng = random.Random(self._seed)  # noqa: S311

    def pick(self, operation: str) -> tuple[float, Fault | None]:
        """Consult the rules for one call of ``operation``.

        Returns:
            The total delay of the latency rules that fired, and the first other rule that
            fired (None: answer normally).
        """
        if not self._faults:
            return 0.0, None
        delay = 0.0
        route = ROUTES.get(operation)
        groups = route.groups if route is not None else frozenset({"*"})
        for fault in self._faults:
            if fault.exhausted or (fault.operation != operation and fault.operation not in groups):
                continue
            fault.matched += 1
            if fault.matched <= fault.skip:
                continue
            if fault.rate is not None and self._rng.random() >= fault.rate:
                continue
            fault.injected += 1
            self.injected[str(fault.kind)] += 1
            action = fault.action
            if isinstance(action, Latency):
                delay += action.delay
                continue
            return delay, fault
        return delay, None


# ------------------------------------------------------------------- compact syntax


def _param_of(kind: FaultKind, name: str) -> Param:
    found = _RULE_PARAMS.get(name) or _params(KINDS[kind]).get(name)
    if found is None:
        msg = f"unknown fault option {name!r} for kind {kind}"
        raise ValueError(msg)
    return found[1]


def parse_fault_spec(spec: str) -> dict[str, Any]:
    """Parse ``TARGET:KIND[=VALUE][,OPTION=VALUE]...`` into :meth:`FaultPlan.add` arguments.

    Example:
        >>> parse_fault_spec("write:drop_after,rate=0.05")
        {'operation': 'write', 'kind': 'drop_after', 'rate': 0.05}
        >>> parse_fault_spec("createPerson:status=503,times=2,retry_after=@1")["retry_after_date"]
        True
    """
    target, sep, rest = spec.partition(":")
    if not sep or not target.strip() or not rest.strip():
        msg = f"fault spec {spec!r} is not TARGET:KIND[=VALUE][,OPTION=VALUE]..."
        raise ValueError(msg)
    first, *options = rest.split(",")
    kind_text, has_value, value = first.partition("=")
    try:
        kind = FaultKind(kind_text.strip())
    except ValueError:
        msg = f"unknown fault kind {kind_text.strip()!r} in {spec!r}"
        raise ValueError(msg) from None
    args: dict[str, Any] = {"operation": target.strip(), "kind": str(kind)}
    pairs: list[tuple[str, str]] = []
    if has_value:
        main = KINDS[kind].MAIN
        if main is None:
            msg = f"fault kind {kind} takes no value in {spec!r}"
            raise ValueError(msg)
        pairs.append((main, value.strip()))
    for option in options:
        name, has_eq, text = option.partition("=")
        if not has_eq:
            msg = f"fault option {option!r} is not NAME=VALUE"
            raise ValueError(msg)
        pairs.append((name.strip(), text.strip()))
    for name, text in pairs:
        param = _param_of(kind, name)
        if param.type == "retry-after" and text.startswith("@"):
            # An HTTP date holds a comma, so the compact syntax asks for one this way.
            args["retry_after_date"] = True
            text = text[1:]
        args[name] = _from_text(name, param.type, text)
    return args


# ---------------------------------------------------------------------- documentation


def _default(attribute: attrs.Attribute[Any]) -> str:
    value = attribute.default
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "true" if value else "false"
    return f'`"{value}"`' if isinstance(value, str) else f"`{value:g}`"


def parameters_table() -> str:
    """The fault kinds and their parameters as Markdown tables, as the README shows them.

    Example:
        >>> parameters_table().splitlines()[0]
        '| kind | what it does | main value |'
    """
    lines = ["| kind | what it does | main value |", "| --- | --- | --- |"]
    for kind, cls in KINDS.items():
        doc = " ".join((cls.__doc__ or "").split()).replace("``", "`")
        main = f"`{cls.MAIN}`" if cls.MAIN else "-"
        lines.append(f"| `{kind}` | {doc} | {main} |")
    lines += [
        "",
        "| parameter | of | JSON type | default | meaning |",
        "| --- | --- | --- | --- | --- |",
    ]
    rows = [("every rule", attribute, param) for attribute, param in _RULE_PARAMS.values()]
    for kind, cls in KINDS.items():
        rows.extend((f"`{kind}`", attribute, param) for attribute, param in _params(cls).values())
    for owner, attribute, param in rows:
        json_type = "number or string" if param.type == "retry-after" else param.type
        lines.append(
            f"| `{attribute.name}` | {owner} | {json_type} | {_default(attribute)} | {param.doc} |"
        )
    return "\n".join(lines)
