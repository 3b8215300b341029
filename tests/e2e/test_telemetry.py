"""OpenTelemetry: the spans and metrics of calls, read with the SDK's in-memory exporters.

The SDK is a test-only dependency. Most tests give the client's instruments their own SDK
providers (the process's global ones stay untouched for the other tests); one test, in a
child process, checks the real thing: spans and metrics through the API's global providers,
set after the client was made. Another checks that without the package nothing is imported.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from typing import Any

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from tests._support.clients import simulator_client
from tests._support.mocks import no_wait
from tests._support.rawserver import RawServer, hang
from wsone_async import APIError, OutcomeUnknownError, RetryPolicy, WsOneClient, _telemetry
from wsone_async.errors import ServerError
from wsone_async.models import (
    ContactsRequest,
    CreatePersonRequest,
    EmailRequest,
    GetPersonRequest,
    IdentifierRequest,
    IdentifierType,
    NewIdentifierRequest,
    PersonProfilRequest,
    PersonRequest,
)
from wsone_async.testing import WsOneSimulator

EMAIL = "jeanne.secret-person@example.fr"
LAST_NAME = "SECRETNAME"


class Otel:
    """In-memory spans and metrics of the client's instruments."""

    def __init__(self) -> None:
        self.exporter = InMemorySpanExporter()
        tracer_provider = TracerProvider()
        tracer_provider.add_span_processor(SimpleSpanProcessor(self.exporter))
        self.reader = InMemoryMetricReader()
        self.meter_provider = MeterProvider(metric_readers=[self.reader])
        self.instruments = _telemetry._Instruments(tracer_provider, self.meter_provider)

    def spans(self) -> list[ReadableSpan]:
        return list(self.exporter.get_finished_spans())

    def span(self, name: str) -> ReadableSpan:
        (found,) = [span for span in self.spans() if span.name == name]
        return found

    def children(self, parent: ReadableSpan) -> list[ReadableSpan]:
        assert parent.context is not None
        return sorted(
            (
                span
                for span in self.spans()
                if span.parent is not None and span.parent.span_id == parent.context.span_id
            ),
            key=lambda span: span.start_time or 0,
        )

    def points(self) -> dict[str, list[tuple[dict[str, Any], Any]]]:
        """Metric name -> [(attributes, value or histogram count)]."""
        found: dict[str, list[tuple[dict[str, Any], Any]]] = {}
        data = self.reader.get_metrics_data()
        for resource in data.resource_metrics if data else ():
            for scope in resource.scope_metrics:
                for metric in scope.metrics:
                    for point in metric.data.data_points:
                        value = getattr(point, "value", None)
                        if value is None:
                            value = point.count  # type: ignore[union-attr]
                        found.setdefault(metric.name, []).append((dict(point.attributes), value))
        return found

    def total(self, name: str, **attributes: Any) -> int:
        return sum(
            value
            for point_attributes, value in self.points().get(name, [])
            if all(point_attributes.get(k) == v for k, v in attributes.items())
        )


@pytest.fixture
def otel(monkeypatch: pytest.MonkeyPatch) -> Iterator[Otel]:
    recorder = Otel()
    monkeypatch.setattr(_telemetry, "_instruments", recorder.instruments)
    yield recorder
    recorder.meter_provider.shutdown()


def _get_person() -> GetPersonRequest:
    return GetPersonRequest(
        identifier_request=IdentifierRequest(
            identifier_type=IdentifierType.WEB_ACCOUNT, identifier_value=EMAIL
        )
    )


def _create_person() -> CreatePersonRequest:
    return CreatePersonRequest(
        new_identifier_request=NewIdentifierRequest(
            identifier_type=IdentifierType.WEB_ACCOUNT, identifier_value=EMAIL
        ),
        person_profil_request=PersonProfilRequest(
            person_request=PersonRequest(first_name="JEANNE", last_name=LAST_NAME),
            contacts_request=ContactsRequest(email_request=EmailRequest(email_value=EMAIL)),
        ),
        source="WEB",
    )


def _assert_no_personal_data(otel: Otel, sim: WsOneSimulator) -> None:
    texts = [json.dumps(dict(span.attributes or {}), default=str) for span in otel.spans()]
    texts += [span.name for span in otel.spans()]
    texts += [json.dumps(otel.points(), default=str)]
    for text in texts:
        for secret in (EMAIL, "secret-person", LAST_NAME, "JEANNE", sim.password):
            assert secret not in text, (secret, text)


async def test_a_retried_read(otel: Otel) -> None:
    async with WsOneSimulator() as sim:
        port = int(sim.url.rsplit(":", 1)[1])
        sim.faults.add("getPerson", "status", status=503, times=1)
        async with simulator_client(sim, sleep=no_wait) as client:
            with pytest.raises(APIError) as caught:  # the person does not exist
                await client.get_person(_get_person())
        _assert_no_personal_data(otel, sim)
    call = otel.span("person/getPerson")
    assert call.kind is SpanKind.CLIENT
    attributes = dict(call.attributes or {})
    assert attributes == {
        "rpc.system": "wsone",
        "rpc.service": "person",
        "rpc.method": "getPerson",
        "server.address": "127.0.0.1",
        "server.port": port,
        "wsone.operation.kind": "read",
        "wsone.attempts": 2,
        "wsone.settled": False,
        "wsone.outcome": "error",
        "error.type": type(caught.value).__name__,
        "wsone.response_code": "101",
    }
    assert call.status.status_code is StatusCode.ERROR
    first, second = otel.children(call)
    assert (first.name, second.name) == ("getPerson attempt", "getPerson attempt")
    assert dict(first.attributes or {}) == {"wsone.attempt": 1, "error.type": "ServerError"}
    assert dict(second.attributes or {})["http.request.resend_count"] == 1
    assert otel.total("wsone.client.calls", **{"rpc.method": "getPerson"}) == 1
    assert otel.total("wsone.client.attempts") == 2
    assert otel.total("wsone.client.retries") == 1
    assert otel.total("wsone.client.call.duration", **{"wsone.outcome": "error"}) == 1


async def test_a_write_settled_by_a_lookup(otel: Otel) -> None:
    async with WsOneSimulator() as sim:
        sim.faults.add("createPerson", "drop_after", times=1)
        async with simulator_client(
            sim, sleep=no_wait, retry=RetryPolicy(reconcile_writes=True)
        ) as client:
            answer = await client.create_person(_create_person())
        assert answer.response_code == "000"
        _assert_no_personal_data(otel, sim)
    call = otel.span("person/createPerson")
    attributes = dict(call.attributes or {})
    assert attributes["wsone.settled"] is True
    assert attributes["wsone.outcome"] == "ok"
    assert attributes["wsone.attempts"] == 1
    assert call.status.status_code is StatusCode.UNSET
    attempt, lookup = otel.children(call)
    assert attempt.name == "createPerson attempt"
    assert dict(attempt.attributes or {})["error.type"] == "APIConnectionError"
    assert lookup.name == "createPerson settle"
    assert dict(lookup.attributes or {}) == {
        "wsone.lookup.operation": "getPerson",
        "wsone.settlement.applied": True,
    }
    (lookup_attempt,) = otel.children(lookup)
    assert lookup_attempt.name == "getPerson attempt"
    assert otel.total("wsone.client.settled", **{"wsone.settlement.applied": True}) == 1
    assert otel.total("wsone.client.calls", **{"wsone.outcome": "ok"}) == 1
    assert otel.total("wsone.client.attempts", **{"rpc.method": "getPerson"}) == 1
    assert otel.total("wsone.client.retries") == 0


async def test_an_unknown_outcome(otel: Otel) -> None:
    async with WsOneSimulator() as sim:
        sim.faults.add("createPerson", "status", status=500, times=1)
        async with simulator_client(sim, sleep=no_wait) as client:
            with pytest.raises(OutcomeUnknownError):
                await client.create_person(_create_person())
        _assert_no_personal_data(otel, sim)
    attributes = dict(otel.span("person/createPerson").attributes or {})
    assert attributes["wsone.outcome"] == "unknown"
    assert attributes["error.type"] == "OutcomeUnknownError"
    assert otel.total("wsone.client.outcome_unknown") == 1


async def test_telemetry_false_reports_nothing(otel: Otel) -> None:
    async with WsOneSimulator() as sim:
        sim.faults.add("getPerson", "status", status=503, times=1)
        async with simulator_client(sim, sleep=no_wait, telemetry=False) as client:
            with pytest.raises(APIError):  # not found; only the spans matter
                await client.get_person(_get_person())
    assert otel.spans() == []
    assert otel.points() == {}


def test_the_api_driven_directly(otel: Otel) -> None:
    telemetry = _telemetry.Telemetry(host="loyalty.example.fr", port=None)
    call = telemetry.start_call("sendTransaction", write=True, service="transaction")
    call.start_attempt(1).end(ServerError(502))
    lookup = call.start_lookup("verifyTransaction")
    lookup.start_attempt(1).end(None)
    lookup.end(None, applied=False)
    call.start_attempt(2).end(None)
    call.end(None)
    span = otel.span("transaction/sendTransaction")
    assert dict(span.attributes or {})["server.address"] == "loyalty.example.fr"
    assert dict(span.attributes or {})["wsone.attempts"] == 2
    # The lookup said "not applied": the answer came from the second attempt, not from it.
    assert dict(span.attributes or {})["wsone.settled"] is False
    names = [child.name for child in otel.children(span)]
    assert names == ["sendTransaction attempt", "sendTransaction settle", "sendTransaction attempt"]
    assert otel.total("wsone.client.retries", **{"rpc.method": "sendTransaction"}) == 1
    assert otel.total("wsone.client.settled", **{"wsone.settlement.applied": False}) == 1


async def test_a_write_the_lookup_found_not_applied_then_sent_again(otel: Otel) -> None:
    async with WsOneSimulator() as sim:
        sim.faults.add("createPerson", "drop_before", times=1)  # closed, not processed
        async with simulator_client(
            sim, sleep=no_wait, retry=RetryPolicy(reconcile_writes=True)
        ) as client:
            answer = await client.create_person(_create_person())
        assert answer.response_code == "000"
        assert sim.backend.persons_count() == 1
        _assert_no_personal_data(otel, sim)
    call = otel.span("person/createPerson")
    attributes = dict(call.attributes or {})
    assert attributes["wsone.settled"] is False  # the answer is the second attempt's
    assert attributes["wsone.outcome"] == "ok"
    assert attributes["wsone.attempts"] == 2
    first, lookup, second = otel.children(call)
    assert (first.name, lookup.name, second.name) == (
        "createPerson attempt",
        "createPerson settle",
        "createPerson attempt",
    )
    assert dict(lookup.attributes or {}) == {
        "wsone.lookup.operation": "getPerson",
        "wsone.settlement.applied": False,
    }
    assert dict(second.attributes or {}) == {
        "wsone.attempt": 2,
        "http.request.resend_count": 1,
    }
    assert otel.total("wsone.client.settled", **{"wsone.settlement.applied": False}) == 1
    assert otel.total("wsone.client.retries", **{"rpc.method": "createPerson"}) == 1


def _child(code: str) -> str:
    env = {**os.environ, "PYTHONWARNINGS": "error"}
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_through_the_global_providers_set_after_the_client() -> None:
    out = _child(
        """
        import asyncio, json
        from wsone_async import WsOneClient
        from wsone_async.testing import WsOneSimulator
        from wsone_async.models import GetEntitiesRequest

        async def main():
            async with WsOneSimulator() as sim:
                client = WsOneClient(sim.url, username=sim.username, password=sim.password)
                # The application configures its SDK after the library made its client.
                from opentelemetry import metrics, trace
                from opentelemetry.sdk.metrics import MeterProvider
                from opentelemetry.sdk.metrics.export import InMemoryMetricReader
                from opentelemetry.sdk.trace import TracerProvider
                from opentelemetry.sdk.trace.export import SimpleSpanProcessor
                from opentelemetry.sdk.trace.export.in_memory_span_exporter import (
                    InMemorySpanExporter)
                exporter, reader = InMemorySpanExporter(), InMemoryMetricReader()
                provider = TracerProvider()
                provider.add_span_processor(SimpleSpanProcessor(exporter))
                trace.set_tracer_provider(provider)
                metrics.set_meter_provider(MeterProvider(metric_readers=[reader]))
                async with client:
                    await client.get_entities(GetEntitiesRequest())
                names = sorted(s.name for s in exporter.get_finished_spans())
                metric_names = sorted(
                    m.name for r in reader.get_metrics_data().resource_metrics
                    for s in r.scope_metrics for m in s.metrics)
                print(json.dumps([names, metric_names]))

        asyncio.run(main())
        """
    )
    names, metric_names = json.loads(out)
    assert names == ["getEntities attempt", "person/getEntities"]
    assert "wsone.client.calls" in metric_names
    assert "wsone.client.call.duration" in metric_names


def test_without_opentelemetry_nothing_is_imported() -> None:
    out = _child(
        """
        import sys
        sys.modules["opentelemetry"] = None  # as if not installed
        import asyncio
        from wsone_async import WsOneClient
        from wsone_async.testing import WsOneSimulator
        from wsone_async.models import GetEntitiesRequest

        async def main():
            async with WsOneSimulator() as sim:
                async with WsOneClient(
                    sim.url, username=sim.username, password=sim.password
                ) as client:
                    await client.get_entities(GetEntitiesRequest())
                    print(client._settings.hooks.observer is None, end=" ")
            print(sorted(m for m in sys.modules if m.startswith("opentelemetry.")))

        asyncio.run(main())
        """
    )
    assert out == "True []"


def test_importing_the_library_imports_no_opentelemetry() -> None:
    out = _child(
        """
        import sys
        import wsone_async, wsone_async.client, wsone_async._telemetry
        print(sorted(m for m in sys.modules if m.startswith("opentelemetry")))
        """
    )
    assert out == "[]"


async def test_a_call_cancelled_during_its_attempt_ends_the_attempts_span(otel: Otel) -> None:
    heard: list[object] = []
    async with RawServer() as server:
        server.default("getPerson", hang())
        async with WsOneClient(
            server.url, username="api", password="pw", on_attempt=heard.append
        ) as client:
            call = asyncio.create_task(client.get_person(_get_person()))
            await server.arrived["getPerson"].wait()
            call.cancel()
            with pytest.raises(asyncio.CancelledError):
                await call
    span = otel.span("person/getPerson")
    (attempt,) = otel.children(span)  # ended, so exported: not left open forever
    assert attempt.name == "getPerson attempt"
    assert dict(attempt.attributes or {})["error.type"] == "CancelledError"
    assert dict(span.attributes or {})["error.type"] == "CancelledError"
    assert heard == []  # on_attempt hears of WsOne's answers and errors, not of a cancel
