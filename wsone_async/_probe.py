"""``wsone probe``: ask a real WsOne what it answers, and write what differs from the models.

The probe runs every read operation that one identifier (and one store) allows against a
WsOne deployment, meant for its pre-production environment, through :class:`WsOneClient`
with retries off. It records each raw answer (HTTP status, the headers that matter for
retries, the JSON body) with an ``aiohttp`` trace on the client's own session, compares it
with the models (:func:`wsone_async._drift.analyse`), and writes two reports: Markdown for
people, JSON for the maintainers. With ``--allow-writes`` it also runs the write workflow
of ``wsone demo`` on a person it creates, plus an intentional duplicate.

Neither report holds personal data or a credential: every string value is replaced by its
shape, every number by its type; keys stay (a key that does not look like an identifier is
replaced by its shape), and so do response codes, the headers above and the vendor's
``infos`` texts of refusals, from which emails, digit runs, dates and every personal value
the probe sent or received are cut out.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import pathlib
import re
import secrets
import sys
from collections import Counter
from collections.abc import Iterable
from typing import Any, Final

import attrs

from wsone_async import _console
from wsone_async import models as m
from wsone_async import operations as ops
from wsone_async._codec import decode_json, to_wire, wire_name
from wsone_async._config import PASSWORD_ENV, RetryPolicy, Timeouts
from wsone_async._console import UsageError, say
from wsone_async._drift import FORMAT, MISSING, TYPE, UNKNOWN, Finding, analyse, safe_key, shape
from wsone_async._redact import short
from wsone_async._transport import TraceConfig
from wsone_async._version import __version__
from wsone_async.client import WsOneClient
from wsone_async.errors import (
    APIConnectionError,
    APIError,
    AuthenticationError,
    HTTPStatusError,
    OutcomeUnknownError,
    ResponseDecodeError,
    WsOneError,
)
from wsone_async.models._base import Kind, model_fields

__all__ = ["add_parser", "run"]

#: The response headers recorded: those that matter for retries and connection reuse.
HEADERS: Final = ("Retry-After", "Connection", "Keep-Alive", "Server")

#: Exit statuses of ``wsone probe``.
EXIT_OK: Final = 0
EXIT_FAILED: Final = 1
EXIT_USAGE: Final = 2
EXIT_AUTH: Final = 3
EXIT_UNREACHABLE: Final = 4
EXIT_INTERRUPTED: Final = 130

REPORT_FORMAT: Final = "wsone-probe/1"

# ------------------------------------------------------------------ raw-answer capture


@attrs.define
class RawAnswer:
    """What one HTTP exchange brought back, as the trace saw it."""

    status: int
    headers: dict[str, str]
    chunks: list[bytes] = attrs.field(factory=list)


class Capture:
    """An ``aiohttp`` trace that records every answer of the session it is given to.

    The status and headers come from ``on_request_end``; the body from
    ``on_response_chunk_received``, which aiohttp sends when a body is read whole (answers
    with a ``Content-Length``). A body read in pieces (chunked transfer) is not traced:
    :func:`_raw_body` then rebuilds it from the decoded answer, which the codec writes back
    key for key.
    """

    def __init__(self) -> None:
        self.answers: list[RawAnswer] = []

    def trace_config(self) -> TraceConfig:
        """A trace config to pass to ``WsOneClient(trace_configs=[...])``."""
        config = TraceConfig()
        config.on_request_end.append(self._on_end)
        config.on_response_chunk_received.append(self._on_chunk)
        return config

    async def _on_end(self, session: Any, context: Any, params: Any) -> None:
        response = params.response
        headers = {name: response.headers[name] for name in HEADERS if name in response.headers}
        answer = RawAnswer(response.status, headers)
        context.wsone_answer = answer
        self.answers.append(answer)

    async def _on_chunk(self, session: Any, context: Any, params: Any) -> None:
        answer = getattr(context, "wsone_answer", None)
        if answer is not None:
            answer.chunks.append(params.chunk)


# ------------------------------------------------------------------------- scrubbing


class Scrubber:
    """Turns answers and texts into what a report may hold: shapes, types, names, codes."""

    def __init__(self, secrets_: Iterable[str] = ()) -> None:
        self._known: set[str] = set()
        for value in secrets_:
            self.remember(value)

    def remember(self, value: str) -> None:
        """Cut ``value`` (and each of its words) out of any text scrubbed from now on."""
        value = value.strip()
        if len(value) >= 2:
            self._known.add(value.casefold())
        for word in re.split(r"[\s,;:/()]+", value):
            if len(word) >= 3:
                self._known.add(word.casefold())

    def remember_personal(self, data: Any, cls: type[Any] | None) -> None:
        """Remember every string of ``data`` that is personal or not described by ``cls``."""
        if isinstance(data, list):
            for item in data:
                self.remember_personal(item, cls)
            return
        if isinstance(data, str):
            self.remember(data)
            return
        if not isinstance(data, dict):
            return
        fields = {wire_name(cls, info): info for info in model_fields(cls)} if cls else {}
        for key, value in data.items():
            if safe_key(key) != key:
                self.remember(key)
            info = fields.get(key)
            if info is None:
                if key not in ("responseCode", "infos"):
                    self.remember_personal(value, None)
            elif info.kind is Kind.MODEL:
                self.remember_personal(value, info.target)
            elif info.personal and info.name != "infos" and isinstance(value, str | list):
                self.remember_personal(value, None)
            elif info.personal and isinstance(value, int) and not isinstance(value, bool):
                self.remember(str(value))

    _PATTERNS: Final = (
        (re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+"), "<email>"),
        (
            re.compile(r"\d{1,4}[/.-]\d{1,2}[/.-]\d{1,4}(?:[ T]\d\d:\d\d(?::\d\d)?(?:\.\d+)?)?"),
            "<date>",
        ),
        (re.compile(r"\+?\d[\d .-]{2,}\d"), "<digits>"),
        (
            re.compile(r"\b(?=[A-Za-z0-9_-]*\d)(?=[A-Za-z0-9_-]*[A-Za-z])[A-Za-z0-9_-]{8,}\b"),
            "<id>",
        ),
    )

    def text(self, text: str) -> str:
        """A vendor text with emails, dates, digit runs, ids and known values cut out."""
        out = text
        for pattern, replacement in self._PATTERNS:
            out = pattern.sub(replacement, out)
        if self._known:
            # Whole words only, longest first, so that a full name goes before its words.
            values = sorted(self._known, key=len, reverse=True)
            known = "|".join(re.escape(value) for value in values)
            out = re.sub(rf"(?<!\w)(?:{known})(?!\w)", "<redacted>", out, flags=re.IGNORECASE)
        return short(out, 200)

    def body(self, data: Any, *, refusal: bool, depth: int = 0) -> Any:
        """A copy of a JSON answer with every value replaced by its shape or type."""
        if depth > 32:
            return "<too deep>"
        if isinstance(data, dict):
            out: dict[str, Any] = {}
            for key, value in data.items():
                name = safe_key(key)
                if key == "responseCode" and isinstance(value, str | int):
                    out[name] = short(str(value), 40)
                elif key == "infos" and refusal and isinstance(value, str):
                    out[name] = self.text(value)
                else:
                    out[name] = self.body(value, refusal=refusal, depth=depth + 1)
            return out
        if isinstance(data, list):
            items = [self.body(item, refusal=refusal, depth=depth + 1) for item in data[:3]]
            if len(data) > 3:
                items.append(f"... {len(data) - 3} more item(s)")
            return items
        if isinstance(data, str):
            return shape(data)
        if data is None:
            return None
        return {bool: "boolean", int: "integer", float: "number"}.get(type(data), "other")


def _enum_codes(data: Any, cls: type[Any], found: dict[str, set[int]]) -> None:
    """Collect the integer values of open-enum fields, by enum name (codes, not data)."""
    if isinstance(data, list):
        for item in data:
            _enum_codes(item, cls, found)
        return
    if not isinstance(data, dict):
        return
    for info in model_fields(cls):
        value = data.get(wire_name(cls, info))
        if value is None or info.target is None:
            continue
        if info.kind is Kind.MODEL:
            _enum_codes(value, info.target, found)
        elif info.kind is Kind.ENUM:
            for item in value if isinstance(value, list) else [value]:
                code = _as_int(item)
                if code is not None:
                    found.setdefault(info.target.__name__, set()).add(code)


def _as_int(value: Any) -> int | None:
    if type(value) is int:
        return value
    if type(value) is str and re.fullmatch(r"[+-]?\d{1,19}", value):
        return int(value)
    return None


# -------------------------------------------------------------------------- the calls


@attrs.define
class Call:
    """One operation the probe ran, and what came back."""

    operation: str
    kind: str
    purpose: str
    outcome: str
    http_status: int | None = None
    headers: dict[str, str] = attrs.field(factory=dict)
    response_code: str | None = None
    infos: str | None = None
    error: str | None = None
    findings: list[Finding] = attrs.field(factory=list)
    body: Any = None

    def as_json(self) -> dict[str, Any]:
        return {
            "operation": self.operation,
            "kind": self.kind,
            "purpose": self.purpose,
            "outcome": self.outcome,
            "http_status": self.http_status,
            "headers": self.headers,
            "response_code": self.response_code,
            "infos": self.infos,
            "error": self.error,
            "findings": [f._asdict() for f in self.findings],
            "body": self.body,
        }


class Probe:
    """Runs the probe's calls through a client and keeps what the report needs."""

    def __init__(self, client: WsOneClient, capture: Capture, scrubber: Scrubber) -> None:
        self.client = client
        self.capture = capture
        self.scrub = scrubber
        self.calls: list[Call] = []
        self.enum_codes: dict[str, set[int]] = {}
        self._raw: list[tuple[Call, Any, type[Any], bool]] = []

    async def run(self, operation: ops.Operation[Any, Any], request: m.Model, purpose: str) -> Any:
        """Call ``operation``; returns the decoded answer, or None when it failed."""
        self.scrub.remember_personal(to_wire(request), type(request))
        start = len(self.capture.answers)
        response: Any = None
        refusal: APIError | None = None
        call = Call(operation.name, operation.kind.value, purpose, "matched")
        try:
            response = await self.client.call(operation, request)
        except AuthenticationError:
            raise
        except APIError as exc:
            refusal = exc
            call.outcome = "refused"
        except HTTPStatusError as exc:
            call.outcome = "HTTP error"
            call.error = f"HTTP status {exc.status}"
        except ResponseDecodeError as exc:
            call.outcome = "undecodable"
            call.error = f"does not fit the model at {exc.path}" if exc.path else "not JSON"
        except OutcomeUnknownError as exc:
            call.outcome = "outcome unknown"
            call.error = exc.reason
        except APIConnectionError as exc:
            call.outcome = "connection failed"
            call.error = str(exc)
            if not self.calls and not exc.request_sent:
                raise
        answers = self.capture.answers[start:]
        if answers:
            last = answers[-1]
            call.http_status = last.status
            call.headers = dict(last.headers)
        data = _raw_body(answers[-1] if answers else None, response, refusal)
        self.calls.append(call)
        self._raw.append((call, data, operation.response_type, refusal is not None))
        return response

    def finish(self) -> None:
        """Scrub every recorded body, once every personal value has been seen."""
        for _, data, cls, _ in self._raw:
            if data is not None:
                self.scrub.remember_personal(data, cls)
        for call, data, cls, refused in self._raw:
            if data is None:
                continue
            if isinstance(data, dict):
                code = data.get("responseCode")
                if isinstance(code, str | int) and not isinstance(code, bool):
                    call.response_code = short(str(code), 40)
                infos = data.get("infos")
                if refused and isinstance(infos, str):
                    call.infos = self.scrub.text(infos)
            call.findings = analyse(data, cls, missing=not refused)
            differs = any(f.kind != MISSING for f in call.findings)
            if call.outcome == "matched" and differs:
                call.outcome = "differs"
            _enum_codes(data, cls, self.enum_codes)
            call.body = self.scrub.body(data, refusal=refused)
        self._raw.clear()


def _raw_body(raw: RawAnswer | None, response: Any, refusal: APIError | None) -> Any:
    """The answer's JSON: as received when traced, else rebuilt from what was decoded."""
    if raw is not None and raw.chunks:
        try:
            return decode_json(b"".join(raw.chunks))
        except ResponseDecodeError:
            return None
    if response is not None:
        return to_wire(response)  # the codec writes back every key it read, as it came
    if refusal is not None:
        return {"responseCode": refusal.code, "infos": refusal.infos}
    return None


# ---------------------------------------------------------------------- the workflow


def _new_identifier_like(given: m.IdentifierRequest) -> m.IdentifierRequest:
    """A fresh identifier of the same type as ``given``, shaped like it."""
    token = secrets.token_hex(4)
    if given.identifier_type == m.IdentifierType.WEB_ACCOUNT or "@" in given.identifier_value:
        value = f"wsone-probe-{token}@example.com"
    else:
        length = max(len(given.identifier_value), 8)
        digits = "29" + "".join(str(secrets.randbelow(10)) for _ in range(length - 3))
        value = _ean13(digits) if length == 13 else digits + str(secrets.randbelow(10))
    return m.IdentifierRequest(identifier_type=given.identifier_type, identifier_value=value)


def _ean13(twelve: str) -> str:
    total = sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(twelve))
    return twelve + str((10 - total % 10) % 10)


def _store(entity: str | None) -> m.EntityRequest | None:
    return m.EntityRequest(entity_identifier=entity) if entity else None


async def probe(
    client: WsOneClient,
    capture: Capture,
    scrubber: Scrubber,
    identifier: m.IdentifierRequest,
    *,
    entity: str | None = None,
    allow_writes: bool = False,
) -> Probe:
    """Run the probe's calls; the caller writes the report from the result."""
    p = Probe(client, capture, scrubber)
    now = dt.datetime.now().replace(microsecond=0)
    entities = await p.run(
        ops.GET_ENTITIES, m.GetEntitiesRequest(entity_request=_store(entity)), "the store network"
    )
    person = await p.run(
        ops.GET_PERSON,
        m.GetPersonRequest(identifier_request=identifier, entity_request=_store(entity)),
        "the given identifier",
    )
    profile = person.person_response if person is not None else None
    if entity is None:
        # The person's own store, else the first store of the network.
        if profile is not None and profile.entity_response is not None:
            entity = profile.entity_response.entity_identifier
        if entity is None and entities is not None:
            entity = next(
                (
                    e.entity_identifier
                    for e in entities.entity_response or ()
                    if e.entity_identifier
                ),
                None,
            )
    store = _store(entity)
    if store is not None:
        await p.run(
            ops.GET_ENTITY_PARENTS,
            m.GetEntityParentsRequest(entity_request=store),
            "the stores above the store",
        )
    await p.run(
        ops.GET_FULL_PERSON,
        m.GetFullPersonRequest(
            identifier_request=identifier, entity_request=store, date=now, filter=0
        ),
        "the given identifier, full profile",
    )
    await p.run(
        ops.GET_ACCOUNTS, m.GetAccountsRequest(identifier_request=identifier), "its accounts"
    )
    await p.run(ops.GET_BADGE, m.GetBadgeRequest(identifier_request=identifier), "its badges")
    await p.run(
        ops.GET_AVAILABLE_OFFERS,
        m.GetAvailableOffersRequest(identifier_request=identifier, entity_request=store, date=now),
        "its offers",
    )
    await p.run(
        ops.GET_ENABLE_OFFERS,
        m.GetEnableOffersRequest(identifier_request=identifier, entity_request=store, date=now),
        "its usable offers",
    )
    await p.run(
        ops.GET_FORM,
        m.GetFormRequest(identifier_request=identifier),
        "its forms (no form id given)",
    )
    last = await p.run(
        ops.GET_LAST_TRANSACTION,
        m.GetLastTransactionRequest(identifier_request=identifier),
        "its last transaction",
    )
    receipt = last.transaction_response if last is not None else None
    if receipt is not None and receipt.receipt_number and receipt.entity_response is not None:
        await p.run(
            ops.VERIFY_TRANSACTION,
            m.VerifyTransactionRequest(
                identifier_request=identifier,
                receipt_request=m.ReceiptRequest(
                    receipt_number=receipt.receipt_number,
                    entity_request=m.EntityRequest(
                        entity_identifier=receipt.entity_response.entity_identifier
                    ),
                ),
            ),
            "its last receipt",
        )
    if store is not None:
        await p.run(
            ops.VERIFY_TRANSACTION,
            m.VerifyTransactionRequest(
                identifier_request=identifier,
                receipt_request=m.ReceiptRequest(
                    receipt_number=f"WSONE-PROBE-{secrets.token_hex(4)}", entity_request=store
                ),
            ),
            "a receipt that does not exist",
        )
    criteria = _search_criteria(identifier, profile)
    if criteria is not None:
        await p.run(ops.SEARCH_PERSON, m.SearchPersonRequest(**criteria), "the given person")
        await p.run(
            ops.SEARCH_PERSON_LITE, m.SearchPersonLiteRequest(**criteria), "the given person"
        )
    await p.run(
        ops.GET_PERSON,
        m.GetPersonRequest(identifier_request=_new_identifier_like(identifier)),
        "an identifier that does not exist",
    )
    if allow_writes:
        await _writes(p, identifier, store, now)
    p.finish()
    return p


def _search_criteria(
    identifier: m.IdentifierRequest, profile: m.PersonProfilResponse | None
) -> dict[str, Any] | None:
    email = None
    if identifier.identifier_type == m.IdentifierType.WEB_ACCOUNT:
        email = identifier.identifier_value
    elif profile is not None and profile.contacts_response is not None:
        block = profile.contacts_response.email_response
        email = block.email_value if block is not None else None
    if email:
        return {
            "contacts_request": m.ContactsRequest(email_request=m.EmailRequest(email_value=email))
        }
    person = profile.person_response if profile is not None else None
    if person is not None and person.last_name:
        return {
            "person_request": m.PersonRequest(
                last_name=person.last_name,
                first_name=person.first_name,
                birth_date=person.birth_date,
            )
        }
    return None


async def _writes(
    p: Probe, identifier: m.IdentifierRequest, store: m.EntityRequest | None, now: dt.datetime
) -> None:
    """The write workflow of ``wsone demo``, on a person the probe creates."""
    new = _new_identifier_like(identifier)
    p.scrub.remember(new.identifier_value)
    email = new.identifier_value if "@" in new.identifier_value else None
    create = m.CreatePersonRequest(
        new_identifier_request=m.NewIdentifierRequest(
            identifier_type=new.identifier_type, identifier_value=new.identifier_value
        ),
        person_profil_request=m.PersonProfilRequest(
            person_request=m.PersonRequest(
                first_name="PROBE",
                last_name="WSONE",
                birth_date=dt.date(2000, 1, 1),
                title=m.Title.MR,
            ),
            entity_request=store,
            contacts_request=m.ContactsRequest(email_request=m.EmailRequest(email_value=email))
            if email
            else None,
        ),
        source="WSONE-PROBE",
    )
    created = await p.run(ops.CREATE_PERSON, create, "a new test person")
    if created is None:
        return
    await p.run(
        ops.CREATE_IDENTIFIER,
        m.CreateIdentifierRequest(
            identifier_request=new, new_identifier_type=m.IdentifierType.CARD
        ),
        "a card for the test person",
    )
    person = await p.run(
        ops.GET_PERSON, m.GetPersonRequest(identifier_request=new), "the test person"
    )
    customer = new
    profile = person.person_response if person is not None else None
    for held in (profile.identifier_response or ()) if profile is not None else ():
        if (
            held.identifier_type == m.IdentifierType.CARD
            and held.identifier_value
            and held.identifier_value != new.identifier_value
        ):
            customer = m.IdentifierRequest(
                identifier_type=held.identifier_type, identifier_value=held.identifier_value
            )
            p.scrub.remember(held.identifier_value)
            break
    if store is not None:
        number = f"WSONE-PROBE-{secrets.token_hex(4)}"
        receipt = m.ReceiptRequest(
            receipt_number=number,
            receipt_date=now,
            amount=10.0,
            entity_request=store,
            details_request=[
                m.DetailsRequest(
                    line_number=1,
                    product_code="0000000000000",
                    quantity=1,
                    unit_price=10.0,
                    amount=10.0,
                )
            ],
        )
        sent = await p.run(
            ops.SEND_TRANSACTION,
            m.SendTransactionRequest(identifier_request=customer, receipt_request=receipt),
            "a receipt for the test person",
        )
        transaction = sent.transaction_response if sent is not None else None
        await p.run(
            ops.VALID_TRANSACTION,
            m.ValidTransactionRequest(
                identifier_request=customer,
                transaction_id=transaction.transaction_id if transaction else None,
                receipt_request=None if transaction else receipt,
            ),
            "the receipt validated",
        )
        key = m.ReceiptRequest(receipt_number=number, entity_request=store)
        await p.run(
            ops.VERIFY_TRANSACTION,
            m.VerifyTransactionRequest(identifier_request=customer, receipt_request=key),
            "the receipt verified",
        )
        await p.run(
            ops.REFUND_TRANSACTION,
            m.RefundTransactionRequest(identifier_request=customer, receipt_request=key),
            "the receipt refunded",
        )
        await p.run(
            ops.SEND_TRANSACTION,
            m.SendTransactionRequest(identifier_request=customer, receipt_request=receipt),
            "an intentional duplicate receipt",
        )
    await p.run(ops.CREATE_PERSON, create, "an intentional duplicate person")


# ---------------------------------------------------------------------------- reports


def build_report(
    p: Probe, identifier: m.IdentifierRequest, *, entity_given: bool, writes: bool
) -> dict[str, Any]:
    """The JSON report: every call, then what differs, what was refused, what was seen."""
    differences: list[dict[str, Any]] = []
    missing: list[dict[str, Any]] = []
    seen_diff: set[tuple[str, Finding]] = set()
    for call in p.calls:
        for finding in call.findings:
            if (call.operation, finding) in seen_diff:
                continue
            seen_diff.add((call.operation, finding))
            row = {"operation": call.operation, **finding._asdict()}
            (missing if finding.kind == MISSING else differences).append(row)
    refusals = [
        {
            "operation": c.operation,
            "purpose": c.purpose,
            "http_status": c.http_status,
            "response_code": c.response_code,
            "infos": c.infos,
        }
        for c in p.calls
        if c.outcome == "refused"
    ]
    headers: dict[str, list[str]] = {}
    for call in p.calls:
        for name, value in call.headers.items():
            values = headers.setdefault(name, [])
            if short(value, 100) not in values:
                values.append(short(value, 100))
    statuses = Counter(str(c.http_status) for c in p.calls if c.http_status is not None)
    outcomes = Counter(c.outcome for c in p.calls)
    kind = identifier.identifier_type
    return {
        "format": REPORT_FORMAT,
        "library_version": __version__,
        "generated_at": dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat(),
        "identifier_type": int(kind),
        "identifier_type_name": kind.name,
        "entity_given": entity_given,
        "writes": writes,
        "summary": {"calls": len(p.calls), **dict(sorted(outcomes.items()))},
        "differences": differences,
        "missing_blocks": missing,
        "refusals": refusals,
        "enum_codes": {name: sorted(codes) for name, codes in sorted(p.enum_codes.items())},
        "http_statuses": dict(sorted(statuses.items())),
        "headers": headers,
        "calls": [c.as_json() for c in p.calls],
    }


_KIND_WORDS: Final = {
    UNKNOWN: "key not in the models",
    TYPE: "other JSON type",
    FORMAT: "other date format",
    MISSING: "declared block not seen",
}


def _cell(value: Any) -> str:
    text = "-" if value is None or value == "" else str(value)
    return text.replace("|", "\\|").replace("\n", " ")


def render_markdown(report: dict[str, Any]) -> str:
    """The Markdown report, for people, from the JSON report."""
    lines = [
        "# wsone probe report",
        "",
        f"wsone_async {report['library_version']}, {report['generated_at']}; identifier type "
        f"{report['identifier_type']} ({report['identifier_type_name']}); "
        f"store given: {'yes' if report['entity_given'] else 'no'}; "
        f"writes: {'yes' if report['writes'] else 'no'}.",
        "",
        "This report holds no personal data and no credential: every string value is shown "
        "by its shape, every number by its type. Keys, response codes, the headers below and "
        "the vendor's texts of refusals (with emails, digit runs, dates and personal values "
        "cut out) are kept. Read it before you send it.",
        "",
        "## Summary",
        "",
        ", ".join(f"{k} {v}" for k, v in report["summary"].items()),
        "",
        "## Calls",
        "",
        "| # | operation | purpose | outcome | HTTP | responseCode |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for index, call in enumerate(report["calls"], 1):
        lines.append(
            f"| {index} | {call['operation']} ({call['kind']}) | {_cell(call['purpose'])} | "
            f"{_cell(call['outcome'])}{' (' + _cell(call['error']) + ')' if call['error'] else ''}"
            f" | {_cell(call['http_status'])} | {_cell(call['response_code'])} |"
        )
    lines += ["", "## Differences from the models", ""]
    if report["differences"]:
        lines += [
            "| operation | key path | difference | declared | seen |",
            "| --- | --- | --- | --- | --- |",
        ]
        lines += [
            f"| {d['operation']} | `{_cell(d['path'])}` | {_KIND_WORDS[d['kind']]} | "
            f"{_cell(d['declared'])} | {_cell(d['seen'])} |"
            for d in report["differences"]
        ]
    else:
        lines.append("None: every answer fits the models.")
    lines += ["", "## Refusals (the vendor's codes)", ""]
    if report["refusals"]:
        lines += [
            "| operation | purpose | HTTP | responseCode | infos |",
            "| --- | --- | --- | --- | --- |",
        ]
        lines += [
            f"| {r['operation']} | {_cell(r['purpose'])} | {_cell(r['http_status'])} | "
            f"`{_cell(r['response_code'])}` | {_cell(r['infos'])} |"
            for r in report["refusals"]
        ]
    else:
        lines.append("None.")
    lines += ["", "## Declared blocks not seen", ""]
    if report["missing_blocks"]:
        lines += [
            f"- {d['operation']}: `{_cell(d['path'])}` ({d['declared']})"
            for d in report["missing_blocks"]
        ]
    else:
        lines.append("None.")
    lines += ["", "## Codes seen in open enums", ""]
    lines += [
        f"- {name}: {', '.join(map(str, codes))}" for name, codes in report["enum_codes"].items()
    ]
    if not report["enum_codes"]:
        lines.append("None.")
    lines += ["", "## HTTP", ""]
    lines.append(
        "Statuses: " + (", ".join(f"{k} x{v}" for k, v in report["http_statuses"].items()) or "-")
    )
    lines.append("")
    for name in HEADERS:
        values = report["headers"].get(name)
        lines.append(
            f"- `{name}`: {', '.join(f'`{_cell(v)}`' for v in values) if values else 'not sent'}"
        )
    lines += [
        "",
        "The JSON report beside this file holds the same, plus every answer's structure.",
        "",
    ]
    return "\n".join(lines)


# ------------------------------------------------------------------------- command line


def add_parser(sub: Any) -> None:
    """Register ``wsone probe`` on the ``wsone`` command's subparsers."""
    parser = sub.add_parser(
        "probe",
        help="ask a (pre-production) WsOne what it answers; write a report without personal data",
        description=(
            "Run every read operation the identifier allows against a WsOne deployment "
            "(meant for pre-production) and write a report of what differs from the models: "
            "PATH.md for people, PATH.json for the maintainers. Neither holds personal data "
            f"or a credential. The password comes from ${PASSWORD_ENV}, or is prompted for."
        ),
    )
    parser.add_argument("--base-url", required=True, help="the WsOne root URL")
    parser.add_argument("--user", required=True, help="the API user")
    _console.add_insecure_http(parser)
    parser.add_argument(
        "--identifier",
        required=True,
        metavar="TYPE:VALUE",
        help="a customer's identifier, such as 1:1234567891011 (card) or 10:a@b.fr (web account)",
    )
    parser.add_argument("--entity", metavar="ID", help="a store (entityIdentifier) to use")
    parser.add_argument(
        "--report",
        metavar="PATH",
        default="wsone-probe",
        help="where to write the reports: PATH.md and PATH.json (default: wsone-probe)",
    )
    parser.add_argument(
        "--allow-writes",
        action="store_true",
        help="also create a test person, a card and a receipt (validated, verified, refunded), "
        "and send duplicates: only against a pre-production environment",
    )
    parser.add_argument(
        "--timeout", type=float, default=30.0, help="seconds per call (default: 30)"
    )


def parse_identifier(text: str) -> m.IdentifierRequest:
    """``TYPE:VALUE`` -> an IdentifierRequest; TYPE is a number or a name (card, web)."""
    kind, colon, value = text.partition(":")
    names = {"card": 1, "web": 10, "web_account": 10}
    kind = kind.strip()
    if not colon or not value.strip() or not kind:
        msg = "--identifier must be TYPE:VALUE, such as 1:1234567891011 or 10:jean@example.fr"
        raise UsageError(msg)
    if kind.lower() in names:
        number = names[kind.lower()]
    elif re.fullmatch(r"\d{1,9}", kind):
        number = int(kind)
    else:
        msg = "--identifier's TYPE must be a number (1 for a card, 10 for a web account)"
        raise UsageError(msg)
    return m.IdentifierRequest(
        identifier_type=m.IdentifierType(number), identifier_value=value.strip()
    )


def _report_paths(text: str) -> tuple[pathlib.Path, pathlib.Path]:
    base = pathlib.Path(text)
    if base.suffix.lower() in (".md", ".json"):
        base = base.with_suffix("")
    folder = base.parent
    if not folder.is_dir():
        msg = f"--report: the folder {str(folder)!r} does not exist"
        raise UsageError(msg)
    if not os.access(folder, os.W_OK):
        msg = f"--report: the folder {str(folder)!r} is not writable"
        raise UsageError(msg)
    return base.with_name(base.name + ".md"), base.with_name(base.name + ".json")


async def run_probe(
    *,
    base_url: str,
    user: str,
    password: str,
    identifier: m.IdentifierRequest,
    entity: str | None = None,
    allow_writes: bool = False,
    seconds_per_call: float = 30.0,
    allow_insecure_http: bool = False,
) -> dict[str, Any]:
    """Run the probe against ``base_url``; returns the JSON report (a dict).

    Raises:
        AuthenticationError: the credentials were refused.
        APIConnectionError: WsOne could not be reached at all.
    """
    capture = Capture()
    scrubber = Scrubber([password, user, identifier.identifier_value])
    if entity:
        scrubber.remember(entity)
    async with WsOneClient(
        base_url,
        username=user,
        password=password,
        retry=RetryPolicy(max_retries=0, reconcile_writes=False),
        timeout=Timeouts(attempt=seconds_per_call),
        trace_configs=[capture.trace_config()],
        allow_insecure_http=allow_insecure_http,
    ) as client:
        result = await probe(
            client, capture, scrubber, identifier, entity=entity, allow_writes=allow_writes
        )
    return build_report(result, identifier, entity_given=bool(entity), writes=allow_writes)


def _check_args(args: argparse.Namespace) -> None:
    if not args.user.strip():
        msg = "--user must not be empty"
        raise UsageError(msg)
    if not args.timeout > 0:
        msg = "--timeout must be a positive number of seconds"
        raise UsageError(msg)


async def run(args: argparse.Namespace) -> int:
    """``wsone probe``: returns its exit status; every bad input is one line on stderr."""
    try:
        identifier = parse_identifier(args.identifier)
        md_path, json_path = _report_paths(args.report)
        _check_args(args)
        password = _console.password(args.user)
        report = await run_probe(
            base_url=args.base_url,
            user=args.user,
            password=password,
            identifier=identifier,
            entity=args.entity,
            allow_writes=args.allow_writes,
            seconds_per_call=args.timeout,
            allow_insecure_http=args.allow_insecure_http,
        )
    except UsageError as exc:
        say(f"wsone probe: {exc}", sys.stderr)
        return EXIT_USAGE
    except (ValueError, TypeError) as exc:
        # The client's checks of base_url: their messages never repeat the URL.
        say(f"wsone probe: {_console.option_words(str(exc))}", sys.stderr)
        return EXIT_USAGE
    except AuthenticationError as exc:
        say(
            f"wsone probe: WsOne refused the credentials (HTTP {exc.status}); check --user "
            f"and ${PASSWORD_ENV}",
            sys.stderr,
        )
        return EXIT_AUTH
    except APIConnectionError as exc:
        say(f"wsone probe: cannot reach WsOne: {exc}", sys.stderr)
        return EXIT_UNREACHABLE
    except WsOneError as exc:
        say(f"wsone probe: {exc}", sys.stderr)
        return EXIT_FAILED
    markdown = render_markdown(report)
    text = json.dumps(report, indent=2, ensure_ascii=False) + "\n"
    try:
        await asyncio.to_thread(json_path.write_text, text, "utf-8")
        await asyncio.to_thread(md_path.write_text, markdown, "utf-8")
    except OSError as exc:
        say(f"wsone probe: cannot write the report: {exc.strerror or exc}", sys.stderr)
        return EXIT_FAILED
    summary = ", ".join(f"{k} {v}" for k, v in report["summary"].items())
    say(
        f"wsone probe: {summary}; {len(report['differences'])} difference(s) from the models, "
        f"{len(report['refusals'])} refusal(s). Reports: {md_path} and {json_path}",
        sys.stdout,
    )
    return EXIT_OK
