"""A bulk import behind a proxy that lies: each person is created once, nothing journaled is
missing from WsOne.

The raw server of :mod:`tests._support.rawserver` stands between the client and the simulator as a
reverse proxy. For the first creations it forwards the request (so WsOne applies it), then
answers as a failing proxy would: HTTP 200 with ``{}`` or ``{"message": ...}``, or 503
without ``Retry-After`` (Envoy's "reset before headers"); for others it answers the same
without forwarding (nothing applied). Lookups pass through.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests._support.mocks import no_wait
from tests._support.rawserver import RawServer, answer_json, close, forward, respond
from wsone_async import RetryPolicy, Timeouts, WsOneClient
from wsone_async.bulk import (
    Outcome,
    _default_key,
    _digest,
    import_prospects,
    prospect_from_row,
    run_import,
)
from wsone_async.errors import OutcomeUnknownError
from wsone_async.models import IdentifierType
from wsone_async.testing import SIMULATOR_ERROR_CLASSES, WsOneSimulator

ROWS = 40


def _proxied_rows() -> list[dict[str, Any]]:
    return [
        {"identifier_value": f"proxied{i}@example.fr", "last_name": f"NOM{i}"} for i in range(ROWS)
    ]


async def test_a_bulk_import_behind_a_lying_proxy_creates_each_person_once(
    tmp_path: Path,
) -> None:
    journal = tmp_path / "journal.jsonl"
    envoy = respond(503, b"upstream connect error or disconnect/reset before headers")
    lies = [
        forward(answer_json({})),  # applied, then a proxy's empty 200
        forward(envoy),  # applied, then 503 without Retry-After
        forward(answer_json({"message": "Internal server error"})),
        answer_json({}),  # not forwarded: nothing applied
        envoy,  # not forwarded
        forward(answer_json({"responseCode": None})),
    ]
    async with WsOneSimulator(seed=11) as sim, RawServer(upstream=sim.url) as proxy:
        proxy.default("createPerson", forward())
        proxy.default("getPerson", forward())
        proxy.default("searchPerson", forward())
        proxy.script("createPerson", *(lies * 3))
        async with WsOneClient._with_hooks(
            proxy.url,
            username=sim.username,
            password=sim.password,
            timeout=Timeouts(attempt=5.0, total=30.0),
            retry=RetryPolicy(max_retries=2),
            sleep=no_wait,
            codes=SIMULATOR_ERROR_CLASSES,  # the settler's "not found"
        ) as client:
            summary = await run_import(
                client,
                _proxied_rows(),
                to_request=prospect_from_row,
                journal=journal,
                concurrency=4,
                sleep=no_wait,
            )
        backend = sim.backend
        assert not proxy.scripts["createPerson"]  # every lie was told
        # Each person exactly once, whatever the proxy said.
        assert backend.persons_count() == ROWS
        assert backend.shared_identifiers() == []
        for row in _proxied_rows():
            value = row["identifier_value"]
            assert backend.person_by_identifier(IdentifierType.WEB_ACCOUNT, value) is not None
        assert summary.all_settled, summary
        assert summary.created + summary.existing == ROWS
        # Nothing journaled that is not in WsOne.
        entries = [json.loads(line) for line in journal.read_text().splitlines()]
        digests = {
            _digest(key)
            for row in _proxied_rows()
            if (key := _default_key(prospect_from_row(row))) is not None
        }
        assert len(entries) == ROWS
        assert {entry["k"] for entry in entries} <= digests
        assert {entry["o"] for entry in entries} <= {"created", "existing"}


# A WsOne whose "not found" is a code of its own, which the client has not registered (as
# by default: the vendor documents none). Lookups answer it for everyone.
OWN_NOT_FOUND = {"responseCode": "404", "infos": "Personne inconnue"}
ON_PURPOSE_503 = respond(503, b"maintenance", {"Retry-After": "0"})  # a refusal: not applied


async def _only_result(server: RawServer) -> Any:
    async with WsOneClient._with_hooks(
        server.url, username="api", password="pw", retry=RetryPolicy(max_retries=2), sleep=no_wait
    ) as client:
        (result,) = [
            result
            async for result in import_prospects(
                client, [{"identifier_value": "a@exemple.fr"}], to_request=prospect_from_row,
                sleep=no_wait,
            )
        ]  # fmt: skip
    return result


async def test_a_refused_creation_gets_its_later_rounds_with_an_unregistered_not_found() -> None:
    # WsOne refused the creation on purpose (503 with Retry-After) past the client's own
    # retries: not applied, so the import's later rounds send it again. The lookup before
    # each round answers a code not registered as "not found": as for the search before
    # creating, that leaves the creation to decide (WsOne refuses a duplicate identifier).
    # Each later round used to stop at that lookup, and the row failed.
    async with RawServer() as server:
        server.default("getPerson", answer_json(OWN_NOT_FOUND))
        server.default("createPerson", answer_json({"responseCode": "000", "infos": "ok"}))
        server.script("createPerson", *[ON_PURPOSE_503] * 3)  # the first round's 3 attempts
        result = await _only_result(server)
        assert (result.outcome, result.error) == (Outcome.CREATED, None)
        assert server.received["createPerson"] == 4


async def test_an_unknown_row_says_why_its_outcome_is_unknown() -> None:
    # The connection dropped after the creation was sent; the lookups cannot tell. The
    # row's error is the creation's, which names what happened: the later rounds' lookups
    # used to replace it with "asked by the caller".
    async with RawServer() as server:
        server.default("getPerson", answer_json(OWN_NOT_FOUND))
        server.default("createPerson", close())
        result = await _only_result(server)
        assert result.outcome is Outcome.UNKNOWN
        assert isinstance(result.error, OutcomeUnknownError)
        assert "asked by the caller" not in str(result.error)
        assert "disconnect" in str(result.error).lower()
        assert server.received["createPerson"] == 1  # never sent twice
