"""OpenTelemetry spans and metrics of WsOne calls (the only opentelemetry user).

Optional and native: with ``pip install wsone_async[otel]`` (which adds ``opentelemetry-api``)
the client reports through the API's *global* providers, as natively instrumented libraries
do, so spans and metrics appear as soon as the application configures an SDK, and cost the
API's no-op objects until then. Without the package nothing is imported and
:func:`telemetry_for` returns None: the client's only cost is one ``if`` per call.

What is reported (no attribute ever holds personal data or a credential: only operation
names, error class names, WsOne's codes, counts and the server's host and port):

* a span per call, kind CLIENT, named ``<service>/<operation>`` (``person/getPerson``), with
  ``rpc.system="wsone"``, ``rpc.service``, ``rpc.method``, ``server.address``,
  ``server.port``, ``error.type`` on failure (the error's class name) and
  ``wsone.operation.kind`` (``read``/``write``), ``wsone.attempts``, ``wsone.settled``
  (whether a settlement lookup found the write applied, so that the answer was rebuilt from
  it; False when every lookup said "not applied" and another attempt answered),
  ``wsone.outcome`` (``ok``, ``error`` or ``unknown``) and ``wsone.response_code`` for a
  functional refusal;
* a child span per attempt (``<operation> attempt``, with ``wsone.attempt`` and, from the
  second, ``http.request.resend_count``) and per settlement lookup (``<operation> settle``,
  with ``wsone.lookup.operation`` and ``wsone.settlement.applied``), the lookup's own
  attempts under it;
* metrics (meter ``wsone_async``): the counters ``wsone.client.calls``,
  ``wsone.client.attempts``, ``wsone.client.retries``, ``wsone.client.outcome_unknown`` and
  ``wsone.client.settled`` (settlement lookups that told, with
  ``wsone.settlement.applied``), and ``wsone.client.call.duration`` (histogram, seconds),
  with the operation, its kind, the outcome and ``error.type`` as attributes.

A call pipeline drives it so::

    trace = telemetry.start_call("createPerson", write=True, service="person")
    attempt = trace.start_attempt(1); ...; attempt.end(error)       # each attempt
    lookup = trace.start_lookup("getPerson")                        # each settlement lookup
    step = lookup.start_attempt(1); ...; step.end(None)             #   and its attempts
    lookup.end(None, applied=True)
    trace.end(None)                                                 # or trace.end(error)

Each object makes its span the current one while it is open (so aiohttp's own spans, if
instrumented, nest under the attempt) and must be ended in the task that started it, the
innermost first. :data:`CURRENT` holds the trace (call or lookup) whose attempts are being
made, for pipelines that do not pass it along.
"""

from __future__ import annotations

import contextvars
import importlib.util
import time
from typing import TYPE_CHECKING, Any, Final

from wsone_async._version import __version__
from wsone_async.errors import APIError, OutcomeUnknownError, _shown_code

if TYPE_CHECKING:
    from opentelemetry.metrics import Counter, Histogram
    from opentelemetry.trace import Span, Tracer

__all__ = [
    "CURRENT",
    "CallTrace",
    "LookupTrace",
    "Step",
    "Telemetry",
    "available",
    "observer_for",
    "telemetry_for",
]

INSTRUMENTATION: Final = "wsone_async"
RPC_SYSTEM: Final = "wsone"

#: The call (or settlement lookup) whose attempts are being made in this task, if traced.
CURRENT: contextvars.ContextVar[CallTrace | LookupTrace | None] = contextvars.ContextVar(
    "wsone_async_trace", default=None
)

_available: bool | None = None


def available() -> bool:
    """Whether ``opentelemetry-api`` is installed (looked up once, without importing it)."""
    global _available
    if _available is None:
        _available = importlib.util.find_spec("opentelemetry") is not None and (
            importlib.util.find_spec("opentelemetry.trace") is not None
        )
    return _available


def telemetry_for(*, enabled: bool, host: str | None, port: int | None) -> Telemetry | None:
    """The telemetry of a client, or None when turned off or OpenTelemetry is not installed."""
    if not enabled or not available():
        return None
    return Telemetry(host=host, port=port)


def _error_type(error: BaseException) -> str:
    # The class name only: messages are free of personal data, but attributes are indexed
    # and kept; a class name is what the semantic conventions ask for anyway.
    return type(error).__name__


class _Instruments:
    """The tracer and the meter's instruments, made once per process from the globals."""

    def __init__(self, tracer_provider: Any = None, meter_provider: Any = None) -> None:
        # The providers are the global ones (None); tests pass their own.
        from opentelemetry import metrics, trace

        self.trace = trace
        self.tracer: Tracer = trace.get_tracer(
            INSTRUMENTATION, __version__, tracer_provider=tracer_provider
        )
        meter = metrics.get_meter(INSTRUMENTATION, __version__, meter_provider=meter_provider)
        self.calls: Counter = meter.create_counter(
            "wsone.client.calls", unit="{call}", description="WsOne calls, by outcome"
        )
        self.attempts: Counter = meter.create_counter(
            "wsone.client.attempts", unit="{attempt}", description="HTTP attempts of calls"
        )
        self.retries: Counter = meter.create_counter(
            "wsone.client.retries", unit="{attempt}", description="attempts after the first"
        )
        self.outcome_unknown: Counter = meter.create_counter(
            "wsone.client.outcome_unknown",
            unit="{call}",
            description="writes that may or may not have been applied",
        )
        self.settled: Counter = meter.create_counter(
            "wsone.client.settled",
            unit="{call}",
            description="settlement lookups that told, by wsone.settlement.applied",
        )
        self.duration: Histogram = meter.create_histogram(
            "wsone.client.call.duration", unit="s", description="duration of WsOne calls"
        )


_instruments: _Instruments | None = None


def _get_instruments() -> _Instruments:
    global _instruments
    if _instruments is None:
        _instruments = _Instruments()
    return _instruments


class Telemetry:
    """A client's reporter: starts a :class:`CallTrace` per call."""

    __slots__ = ("_base", "_instruments")

    def __init__(self, *, host: str | None, port: int | None) -> None:
        self._instruments = _get_instruments()
        base: dict[str, Any] = {"rpc.system": RPC_SYSTEM}
        if host is not None:
            base["server.address"] = host
        if port is not None:
            base["server.port"] = port
        self._base = base

    def start_call(self, operation: str, *, write: bool, service: str) -> CallTrace:
        """Open the span of a call to ``operation`` and make it current."""
        return CallTrace(self._instruments, self._base, operation, write=write, service=service)


class _Open:
    """A span made current until it ends."""

    __slots__ = ("_span", "_token")

    def __init__(self, instruments: _Instruments, span: Span) -> None:
        from opentelemetry import context

        self._span = span
        self._token: object = context.attach(instruments.trace.set_span_in_context(span))

    def _close(self, error: BaseException | None) -> None:
        from opentelemetry import context
        from opentelemetry.trace import Status, StatusCode

        span = self._span
        if error is not None:
            span.set_attribute("error.type", _error_type(error))
            span.set_status(Status(StatusCode.ERROR, _error_type(error)))
        context.detach(self._token)  # type: ignore[arg-type]
        span.end()


class Step(_Open):
    """One attempt of a call or of a lookup."""

    __slots__ = ()

    def end(self, error: BaseException | None) -> None:
        """End the attempt, failed with ``error`` or (None) answered."""
        self._close(error)


class _Attempts(_Open):
    __slots__ = ("_instruments", "_metric_attributes", "_operation", "attempts")

    def __init__(
        self,
        instruments: _Instruments,
        span: Span,
        operation: str,
        metric_attributes: dict[str, Any],
    ) -> None:
        super().__init__(instruments, span)
        self._instruments = instruments
        self._operation = operation
        self._metric_attributes = metric_attributes
        self.attempts = 0

    def start_attempt(self, number: int) -> Step:
        """Open the span of attempt ``number`` (1 for the first) as a child of this one."""
        self.attempts = max(self.attempts, number)
        attributes: dict[str, Any] = {"wsone.attempt": number}
        if number > 1:
            attributes["http.request.resend_count"] = number - 1
            self._instruments.retries.add(1, self._metric_attributes)
        self._instruments.attempts.add(1, self._metric_attributes)
        span = self._instruments.tracer.start_span(
            f"{self._operation} attempt", attributes=attributes
        )
        return Step(self._instruments, span)


class LookupTrace(_Attempts):
    """A settlement lookup (getPerson, verifyTransaction) within a call, with its attempts."""

    __slots__ = ("_call",)

    def __init__(self, call: CallTrace, lookup: str) -> None:
        instruments = call._instruments
        span = instruments.tracer.start_span(
            f"{call._operation} settle", attributes={"wsone.lookup.operation": lookup}
        )
        attributes = {"rpc.method": lookup, "wsone.operation.kind": "read"}
        super().__init__(instruments, span, lookup, attributes)
        self._call = call

    def end(self, error: BaseException | None, *, applied: bool | None = None) -> None:
        """End the lookup: ``applied`` is what it told (None when it could not tell)."""
        if applied is not None:
            self._span.set_attribute("wsone.settlement.applied", applied)
            # The call's "settled" says its answer was rebuilt from a lookup that found the
            # write applied; a "not applied" is followed by another attempt, which answers.
            self._call.settled = self._call.settled or applied
            self._instruments.settled.add(
                1, {**self._call._metric_attributes, "wsone.settlement.applied": applied}
            )
        self._close(error)


class CallTrace(_Attempts):
    """One call: its span (current while open), attempts, lookups and metrics."""

    __slots__ = ("_started", "settled")

    def __init__(
        self,
        instruments: _Instruments,
        base: dict[str, Any],
        operation: str,
        *,
        write: bool,
        service: str,
    ) -> None:
        kind = "write" if write else "read"
        attributes = {
            **base,
            "rpc.service": service,
            "rpc.method": operation,
            "wsone.operation.kind": kind,
        }
        span = instruments.tracer.start_span(
            f"{service}/{operation}",
            kind=instruments.trace.SpanKind.CLIENT,
            attributes=attributes,
        )
        super().__init__(
            instruments, span, operation, {"rpc.method": operation, "wsone.operation.kind": kind}
        )
        self._started = time.monotonic()
        self.settled = False

    def start_lookup(self, lookup: str) -> LookupTrace:
        """Open the span of a settlement lookup with operation ``lookup`` (a child)."""
        return LookupTrace(self, lookup)

    def end(self, error: BaseException | None) -> None:
        """End the call, failed with ``error`` or (None) answered; records its metrics."""
        instruments = self._instruments
        span = self._span
        if error is None:
            outcome = "ok"
        elif isinstance(error, OutcomeUnknownError):
            outcome = "unknown"
            instruments.outcome_unknown.add(1, self._metric_attributes)
        else:
            outcome = "error"
        span.set_attribute("wsone.attempts", self.attempts)
        span.set_attribute("wsone.settled", self.settled)
        span.set_attribute("wsone.outcome", outcome)
        attributes = {**self._metric_attributes, "wsone.outcome": outcome}
        if error is not None:
            attributes["error.type"] = _error_type(error)
            if isinstance(error, APIError):
                code = _shown_code(error.code)  # free text may quote a customer: left out
                if code is not None:
                    span.set_attribute("wsone.response_code", code)
        instruments.calls.add(1, attributes)
        instruments.duration.record(time.monotonic() - self._started, attributes)
        self._close(error)


class _Observed:
    """What the observer keeps of one call, on the call's record (``state.observed``)."""

    __slots__ = ("attempt", "lookup", "lookup_token", "token", "trace")

    def __init__(self, trace: CallTrace | LookupTrace, token: contextvars.Token[Any] | None):
        self.trace = trace
        self.token = token
        self.attempt: Step | None = None
        self.lookup: LookupTrace | None = None
        self.lookup_token: contextvars.Token[Any] | None = None


class TelemetryObserver:
    """The call pipeline's observer (``_pipeline.CallObserver``) that reports to OpenTelemetry.

    A settling lookup runs as a nested call of the lookup's operation: while a lookup is
    open, that nested call's attempts are reported as the lookup's, not as a call of their
    own. ``state`` is the pipeline's record of a call (duck-typed: this layer sits below it).
    """

    __slots__ = ("_telemetry",)

    def __init__(self, telemetry: Telemetry) -> None:
        self._telemetry = telemetry

    def call_started(self, state: Any) -> None:
        current = CURRENT.get()
        if isinstance(current, LookupTrace):
            state.observed = _Observed(current, None)  # a lookup's own call
            return
        operation = state.operation
        trace = self._telemetry.start_call(
            operation.name, write=operation.is_write, service=operation.service.value
        )
        state.observed = _Observed(trace, CURRENT.set(trace))

    def attempt_started(self, state: Any) -> None:
        observed: _Observed | None = state.observed
        if observed is not None:
            observed.attempt = observed.trace.start_attempt(state.attempts)

    def attempt_ended(self, state: Any, error: BaseException | None) -> None:
        observed: _Observed | None = state.observed
        if observed is not None and observed.attempt is not None:
            observed.attempt.end(error)
            observed.attempt = None

    def settle_started(self, state: Any, settler: Any) -> None:
        observed: _Observed | None = state.observed
        if observed is not None and isinstance(observed.trace, CallTrace):
            lookup = observed.trace.start_lookup(settler.lookup)
            observed.lookup = lookup
            observed.lookup_token = CURRENT.set(lookup)

    def settle_ended(self, state: Any, settled: Any, error: BaseException | None) -> None:
        observed: _Observed | None = state.observed
        if observed is None or observed.lookup is None:
            return
        if observed.lookup_token is not None:
            CURRENT.reset(observed.lookup_token)
        applied = None if settled is None else bool(settled.applied)
        observed.lookup.end(error, applied=applied)
        observed.lookup = observed.lookup_token = None

    def call_ended(self, state: Any, error: BaseException | None) -> None:
        observed: _Observed | None = state.observed
        if observed is None or observed.token is None:
            return  # a lookup's own call: the lookup ends it
        CURRENT.reset(observed.token)
        trace = observed.trace
        if isinstance(trace, CallTrace):
            trace.settled = trace.settled or bool(state.settled)
            trace.end(error)


def observer_for(*, enabled: bool, host: str | None, port: int | None) -> TelemetryObserver | None:
    """The pipeline observer of a client, or None when off or OpenTelemetry is not installed."""
    telemetry = telemetry_for(enabled=enabled, host=host, port=port)
    return None if telemetry is None else TelemetryObserver(telemetry)
