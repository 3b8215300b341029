"""Deterministic fault injection: what the simulator does instead of (or besides) answering.

A :class:`FaultPlan` is a list of :class:`Fault` rules consulted, in the order they were
added, for every request to a WsOne operation (never for the control endpoints). A rule
targets an operation name or a group (``"read"``, ``"write"``, ``"transaction"``, ``"*"``)
and fires either for the next ``times`` matching calls (scripted) or with probability
``rate`` on each matching call, drawn from a ``random.Random(seed)``: the same seed and the
same sequence of calls give the same faults.

Latency rules add their delay and let the next rules be consulted; the first other rule
that fires decides what happens to the request, and later rules are not consulted.

Kinds:

* ``latency``: wait ``delay`` seconds, then go on (the request is processed);
* ``status``: answer HTTP ``status`` (default 503), with an optional ``Retry-After`` header
  and a JSON (``body="json"``) or empty (``body="empty"``) body;
* ``drop_before``: close the connection without processing the request;
* ``drop_after``: process the request (its changes stay), then close the connection
  without answering: the client cannot know whether it happened;
* ``html``: HTTP 200 with an HTML error page, as a misrouted proxy answers;
* ``garbage``: HTTP 200 with a body that is not JSON;
* ``response_code``: a WsOne envelope with ``response_code`` and ``infos``.

``status``, ``html``, ``garbage`` and ``response_code`` do not process the request, unless
``process=True`` (as when a gateway times out after WsOne did the work).

Compact syntax (``--fault`` of the command line, ``"spec"`` of ``POST /_control/faults``)::

    TARGET:KIND[=VALUE][,OPTION=VALUE]...

where ``VALUE`` is the kind's main parameter (``status=503``, ``latency=0.5``,
``response_code=101``) and the options are ``times``, ``rate``, ``skip``, ``delay``,
``status``, ``retry_after`` (seconds; ``@SECONDS`` sends the HTTP date that many seconds
ahead), ``body``, ``response_code``, ``infos`` and ``process``. Examples:
``createPerson:status=503,times=2,retry_after=1``, ``write:drop_after,rate=0.05``,
``read:latency=0.2,rate=0.5``, ``getPerson:response_code=101,infos=Person not found``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import email.utils
import enum
import math
import random
from collections import Counter
from collections.abc import Iterator, Mapping
from typing import Any, Final

from wsone_async.testing._routes import GROUPS, ROUTES

__all__ = ["Fault", "FaultKind", "FaultPlan", "parse_fault_spec"]


class FaultKind(enum.StrEnum):
    """What a fault does to a request."""

    LATENCY = "latency"
    STATUS = "status"
    DROP_BEFORE = "drop_before"
    DROP_AFTER = "drop_after"
    HTML = "html"
    GARBAGE = "garbage"
    RESPONSE_CODE = "response_code"


_MAX_DELAY: Final = 3600.0


@dataclasses.dataclass(eq=False, kw_only=True)
class Fault:
    """One rule of a :class:`FaultPlan` (made by :meth:`FaultPlan.add`)."""

    id: int
    operation: str
    """The operation name or group the rule targets."""
    kind: FaultKind
    times: int | None
    """How many calls it fires for at most (None: no limit, for a ``rate`` rule)."""
    rate: float | None
    """Probability of firing on each matching call (None: always, up to ``times``)."""
    skip: int = 0
    """How many matching calls to let through before the rule may fire."""
    delay: float = 0.0
    status: int = 503
    retry_after: float | str | None = None
    """``Retry-After``: seconds, or the header's text as given."""
    retry_after_date: bool = False
    """Send ``retry_after`` seconds as the HTTP date they lead to when the fault fires."""
    body: str = "json"
    response_code: str = "999"
    infos: str = "Simulated failure"
    process: bool = False
    """Whether the request is processed (its changes kept) although the answer is a fault."""
    matched: int = 0
    """Matching calls seen so far."""
    injected: int = 0
    """Calls it fired for so far."""

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

    @property
    def exhausted(self) -> bool:
        """Whether the rule will never fire again."""
        return self.times is not None and self.injected >= self.times

    def describe(self) -> dict[str, Any]:
        """The rule as JSON-ready data, as ``GET /_control/faults`` lists it."""
        data: dict[str, Any] = {
            "id": self.id,
            "operation": self.operation,
            "kind": str(self.kind),
            "times": self.times,
            "rate": self.rate,
            "skip": self.skip,
            "process": self.process,
            "matched": self.matched,
            "injected": self.injected,
        }
        if self.kind is FaultKind.LATENCY:
            data["delay"] = self.delay
        elif self.kind is FaultKind.STATUS:
            data.update(
                status=self.status,
                retry_after=self.retry_after,
                retry_after_date=self.retry_after_date,
                body=self.body,
            )
        elif self.kind is FaultKind.RESPONSE_CODE:
            data.update(response_code=self.response_code, infos=self.infos)
        return data


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
    if isinstance(value, bool) or not math.isfinite(value) or not 0 <= value <= _MAX_DELAY:
        msg = "retry_after must be seconds (0 to 3600), an HTTP date or a datetime"
        raise ValueError(msg)
    return float(value)


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
        kind: FaultKind | str = FaultKind.STATUS,
        *,
        times: int | None = None,
        rate: float | None = None,
        skip: int = 0,
        delay: float = 1.0,
        status: int = 503,
        retry_after: float | str | dt.datetime | None = None,
        retry_after_date: bool = False,
        body: str = "json",
        response_code: str = "999",
        infos: str = "Simulated failure",
        process: bool = False,
    ) -> Fault:
        """Add a rule, consulted after those already added.

        Args:
            operation: an operation name, or a group: ``"read"``, ``"write"``,
                ``"transaction"`` or ``"*"``.
            kind: one of :class:`FaultKind` (or its value, such as ``"drop_after"``).
            times: fire for the next ``times`` matching calls; the default is 1 without
                ``rate``, and no limit with it.
            rate: fire with this probability (0 to 1) on each matching call.
            skip: let this many matching calls through first.
            delay: seconds to wait, for ``latency``.
            status: HTTP status (400 to 599), for ``status``.
            retry_after: ``Retry-After`` header for ``status``: seconds, an HTTP date as
                text, or a datetime (naive means UTC).
            retry_after_date: send ``retry_after`` seconds as an HTTP date, computed when
                the fault fires.
            body: ``"json"`` or ``"empty"``, for ``status``.
            response_code: the ``responseCode``, for ``response_code``.
            infos: the ``infos`` text, for ``response_code``.
            process: process the request anyway, for ``status``, ``html``, ``garbage`` and
                ``response_code`` (``drop_after`` always does, ``drop_before`` never).

        Returns:
            The rule, whose ``injected`` counts the calls it fired for.

        Raises:
            ValueError: an unknown operation or kind, or a parameter out of range.
        """
        try:
            kind = FaultKind(kind)
        except ValueError:
            msg = f"unknown fault kind {kind!r}; expected one of {[str(k) for k in FaultKind]}"
            raise ValueError(msg) from None
        if operation not in ROUTES and operation not in GROUPS:
            msg = f"unknown operation or group {operation!r}"
            raise ValueError(msg)
        self._check(times=times, rate=rate, skip=skip, delay=delay, status=status, body=body)
        if kind is FaultKind.DROP_BEFORE and process:
            msg = "a drop_before fault never processes the request"
            raise ValueError(msg)
        if not isinstance(response_code, str) or not response_code:
            msg = "response_code must be a non-empty string"
            raise ValueError(msg)
        self._ids += 1
        fault = Fault(
            id=self._ids,
            operation=operation,
            kind=kind,
            times=1 if times is None and rate is None else times,
            rate=rate,
            skip=skip,
            delay=float(delay),
            status=status,
            retry_after=_retry_after(retry_after),
            retry_after_date=bool(retry_after_date),
            body=body,
            response_code=response_code,
            infos=str(infos),
            process=process or kind in (FaultKind.DROP_AFTER, FaultKind.LATENCY),
        )
        self._faults.append(fault)
        return fault

    @staticmethod
    def _check(
        *, times: int | None, rate: float | None, skip: int, delay: float, status: int, body: str
    ) -> None:
        problems = []
        if times is not None and (isinstance(times, bool) or times < 1):
            problems.append("times must be at least 1")
        if rate is not None and not 0.0 <= rate <= 1.0:
            problems.append("rate must be between 0 and 1")
        if isinstance(skip, bool) or skip < 0:
            problems.append("skip must be at least 0")
        if not 0.0 <= delay <= _MAX_DELAY:
            problems.append(f"delay must be between 0 and {_MAX_DELAY:g} seconds")
        if isinstance(status, bool) or not 400 <= status <= 599:
            problems.append("status must be between 400 and 599")
        if body not in ("json", "empty"):
            problems.append("body must be 'json' or 'empty'")
        if problems:
            msg = "; ".join(problems)
            raise ValueError(msg)

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
            if fault.kind is FaultKind.LATENCY:
                delay += fault.delay
                continue
            return delay, fault
        return delay, None


# ------------------------------------------------------------------- compact syntax

_MAIN_VALUE: Final[Mapping[FaultKind, str]] = {
    FaultKind.LATENCY: "delay",
    FaultKind.STATUS: "status",
    FaultKind.RESPONSE_CODE: "response_code",
}
_INT_OPTIONS: Final = frozenset({"times", "skip", "status"})
_FLOAT_OPTIONS: Final = frozenset({"rate", "delay"})
_TEXT_OPTIONS: Final = frozenset({"body", "response_code", "infos"})
_BOOL_OPTIONS: Final = frozenset({"process", "retry_after_date"})
_BOOL_TEXT: Final = {"1": True, "true": True, "yes": True, "0": False, "false": False, "no": False}


def _option(name: str, text: str) -> Any:
    try:
        if name in _INT_OPTIONS:
            return int(text)
        if name in _FLOAT_OPTIONS:
            return float(text)
    except ValueError:
        msg = f"fault option {name}={text!r} is not a number"
        raise ValueError(msg) from None
    if name in _TEXT_OPTIONS:
        return text
    if name == "retry_after":
        try:
            return float(text)
        except ValueError:
            msg = f"fault option retry_after={text!r} is not seconds (or @seconds)"
            raise ValueError(msg) from None
    if name in _BOOL_OPTIONS:
        if text.lower() not in _BOOL_TEXT:
            msg = f"fault option {name}={text!r} is not a boolean"
            raise ValueError(msg)
        return _BOOL_TEXT[text.lower()]
    msg = f"unknown fault option {name!r}"
    raise ValueError(msg)


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
    if has_value:
        main = _MAIN_VALUE.get(kind)
        if main is None:
            msg = f"fault kind {kind} takes no value in {spec!r}"
            raise ValueError(msg)
        args[main] = _option(main, value.strip())
    for option in options:
        name, has_eq, text = option.partition("=")
        name, text = name.strip(), text.strip()
        if not has_eq:
            msg = f"fault option {option!r} is not NAME=VALUE"
            raise ValueError(msg)
        if name == "retry_after" and text.startswith("@"):
            # An HTTP date holds a comma, so the compact syntax asks for one this way.
            args["retry_after_date"] = True
            text = text[1:]
        args[name] = _option(name, text)
    return args
