"""Bulk import: one result per record, each person created once, resumable, bounded."""

from __future__ import annotations

import asyncio
import contextlib
import pathlib
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from tests.conftest import FakeClock
from wsone_async import RetryPolicy, Timeouts, WsOneClient, to_wire
from wsone_async.bulk import (
    ImportResult,
    Outcome,
    RowError,
    _AdaptiveGate,
    _RateLimiter,
    aread_rows,
    import_prospects,
    prospect_from_row,
    read_rows,
    run_import,
)
from wsone_async.models import IdentifierType
from wsone_async.testing import WsOneSimulator


def _rows(count: int, *, start: int = 0) -> list[dict[str, Any]]:
    return [
        {
            "identifier_value": f"prospect{i}@example.fr",
            "email": f"prospect{i}@example.fr",
            "first_name": "CAMILLE",
            "last_name": f"NOM{i % 97}",
            "birth_date": "14/07/1990",
            "allow_company_solicitation": "1",
        }
        for i in range(start, start + count)
    ]


@contextlib.asynccontextmanager
async def _simulated(**client_options: Any) -> AsyncIterator[tuple[WsOneSimulator, WsOneClient]]:
    async with (
        WsOneSimulator(seed=7) as sim,
        WsOneClient._with_hooks(
            sim.url, username=sim.username, password=sim.password, **client_options
        ) as client,
    ):
        yield sim, client


class TestRows:
    def test_a_full_row(self) -> None:
        row = {
            "identifier_type": "10",
            "identifier_value": "jean@example.fr",
            "title": "MR",
            "first_name": "Jean",
            "last_name": "Dupond",
            "birth_date": "2000-01-31",
            "email": "jean@example.fr",
            "phone_dialing_code": "33",
            "phone_number": "0612345678",
            "address1": "Bat B",
            "address3_num": "13",
            "address3_type": "5",
            "address3_name": "DE LA LIBERTE",
            "zip_code": "59000",
            "city": "LILLE",
            "country": "FRANCE",
            "entity_identifier": "123456",
            "allow_company_solicitation": "oui",
            "allow_trusted_solicitation": "0",
            "subscriptions": "30; 31",
        }
        wire = to_wire(prospect_from_row(row, source="CONTEST"))
        assert wire["NewIdentifierRequest"] == {
            "identifierType": 10,
            "identifierValue": "jean@example.fr",
        }
        profile = wire["PersonProfilRequest"]
        assert profile["PersonRequest"] == {
            "birthDate": "31/01/2000",
            "firstName": "Jean",
            "lastName": "Dupond",
            "title": 1,
        }
        contacts = profile["ContactsRequest"]
        consents = {"allowCompanySolicitation": 1, "allowTrustedSolicitation": 0}
        assert contacts["EmailRequest"] == {"emailValue": "jean@example.fr", **consents}
        assert contacts["CellPhoneRequest"] == {
            "dialingCode": "33",
            "number": "0612345678",
            **consents,
        }
        assert contacts["AddressRequest"]["address3Num"] == 13
        assert contacts["AddressRequest"]["allowCompanySolicitation"] == 1
        assert profile["EntityRequest"] == {"entityIdentifier": "123456"}
        assert wire["SubscriptionRequest"] == [
            {"id": 30, "activate": True},
            {"id": 31, "activate": True},
        ]
        assert wire["source"] == "CONTEST"

    def test_defaults(self) -> None:
        request = prospect_from_row({"identifier_value": "a@b.fr"})
        assert request.new_identifier_request is not None
        assert request.new_identifier_request.identifier_type is IdentifierType.WEB_ACCOUNT
        assert to_wire(request) == {
            "NewIdentifierRequest": {"identifierType": 10, "identifierValue": "a@b.fr"},
            "PersonProfilRequest": {"PersonRequest": {}},
        }

    @pytest.mark.parametrize(
        ("row", "field"),
        [
            ({}, "identifier_value"),
            ({"identifier_value": "  "}, "identifier_value"),
            ({"identifier_value": "x", "birth_date": "31/02/2000"}, "birth_date"),
            ({"identifier_value": "x", "birth_date": "01/01/1800"}, "birth_date"),
            ({"identifier_value": "x", "title": "DUKE"}, "title"),
            ({"identifier_value": "x", "email": "nope"}, "email"),
            ({"identifier_value": "x", "phone_number": "call me"}, "phone_number"),
            ({"identifier_value": "x", "address3_num": "13b"}, "address3_num"),
            (
                {"identifier_value": "x", "allow_company_solicitation": "maybe"},
                "allow_company_solicitation",
            ),
            ({"identifier_value": "x", "subscriptions": "30;wallet"}, "subscriptions"),
            ({"identifier_value": "x", "favourite_colour": "blue"}, "favourite_colour"),
        ],
    )
    def test_bad_rows_name_their_field(self, row: dict[str, str], field: str) -> None:
        with pytest.raises(RowError) as info:
            prospect_from_row(row)
        assert info.value.field == field

    def test_read_csv_and_jsonl(self, tmp_path: pathlib.Path) -> None:
        csv_file = tmp_path / "p.csv"
        csv_file.write_text("identifier_value;last_name\na@b.fr;DUPOND\nc@d.fr;MARTIN\n")
        assert list(read_rows(csv_file)) == [
            (2, {"identifier_value": "a@b.fr", "last_name": "DUPOND"}),
            (3, {"identifier_value": "c@d.fr", "last_name": "MARTIN"}),
        ]
        jsonl = tmp_path / "p.jsonl"
        jsonl.write_text('{"identifier_value": "a@b.fr"}\n\nnot json\n[1]\n')
        assert list(read_rows(jsonl)) == [
            (1, {"identifier_value": "a@b.fr"}),
            (3, {"__error__": "not a JSON object"}),
            (4, {"__error__": "not a JSON object"}),
        ]
        with pytest.raises(RowError, match="not a JSON object"):
            prospect_from_row({"__error__": "not a JSON object"})


class TestImport:
    async def test_outcomes(self) -> None:
        async with _simulated() as (sim, client):
            rows = _rows(30)
            await run_import(client, rows[:10], to_request=prospect_from_row)  # already there
            bad = {"identifier_value": "z@example.fr", "birth_date": "yesterday"}
            records = [*rows, rows[3], bad]  # a repeated row and a bad one
            results = [
                r
                async for r in import_prospects(
                    client, records, to_request=prospect_from_row, concurrency=8
                )
            ]
            assert sorted(r.index for r in results) == list(range(32))
            by_outcome = {o: sum(r.outcome is o for r in results) for o in Outcome}
            assert by_outcome == {
                Outcome.CREATED: 20,
                Outcome.EXISTING: 11,
                Outcome.FAILED: 1,
                Outcome.UNKNOWN: 0,
            }
            failed = next(r for r in results if r.outcome is Outcome.FAILED)
            assert isinstance(failed.error, RowError) and failed.error.field == "birth_date"
            assert sim.backend.persons_count() == 30
            assert sim.backend.shared_identifiers() == []

    async def test_search_dedupe_and_no_dedupe(self) -> None:
        async with _simulated() as (sim, client):
            first = await run_import(client, _rows(5), to_request=prospect_from_row)
            assert first.counts["created"] == 5
            # Same people under new identifiers: a search on their data finds them.
            again = [dict(r, identifier_value=f"new{i}@example.fr") for i, r in enumerate(_rows(5))]
            searched = await run_import(
                client, again, to_request=prospect_from_row, dedupe="search"
            )
            assert searched.counts["existing"] == 5
            # Without a lookup, WsOne's duplicate refusal still makes them "existing".
            blind = await run_import(client, _rows(5), to_request=prospect_from_row, dedupe=False)
            assert blind.counts["existing"] == 5
            assert sim.backend.persons_count() == 5

    async def test_five_thousand_rows_under_ten_percent_faults(self) -> None:
        total, seeded = 5000, 200
        # Attempts get 0.6 s (a loaded CI machine can be slow); the latency faults below
        # hold an answer twice that long, so each one is a real timeout.
        timeouts = Timeouts(attempt=0.6, total=30.0)
        retry = RetryPolicy(max_retries=3, budget=None)

        async def no_wait(seconds: float) -> None:
            return None

        async with _simulated(timeout=timeouts, retry=retry, sleep=no_wait) as (sim, client):
            await run_import(client, _rows(seeded), to_request=prospect_from_row)
            for kind, options in [
                ("status", {"status": 503, "retry_after": "0"}),
                ("status", {"status": 429, "retry_after": "0"}),
                ("status", {"status": 500}),
                ("status", {"status": 502}),
                ("drop_before", {}),
                ("drop_after", {}),
                ("latency", {"delay": 1.2}),  # past the attempt limit: a timeout
                ("html", {}),
            ]:
                sim.faults.add("*", kind, rate=0.0125, **options)
            duplicates = _rows(50, start=100)
            summary = await run_import(
                client,
                _rows(total) + duplicates,
                to_request=prospect_from_row,
                concurrency=32,
                sleep=no_wait,
            )
            received = sum(sim.stats.received.values())
            injected = sum(sim.stats.faults.values())
        # About 10% of all requests met a fault, of every kind.
        assert 0.07 * received < injected < 0.13 * received
        assert set(sim.stats.faults) == {"status", "drop_before", "drop_after", "latency", "html"}
        assert summary.total == total + 50
        assert summary.all_settled, summary.counts
        counts = summary.counts
        assert counts["created"] + counts["existing"] == total + 50
        # A creation held past the attempt limit may land after its lookup found nothing:
        # its resend is then refused as a duplicate, and the row reads "existing" although
        # this import created it. Only that split can move, never the people in WsOne.
        assert counts["existing"] >= seeded + 50
        assert counts["created"] >= total - seeded - injected // 10
        assert sim.backend.persons_count() == total
        assert sim.backend.shared_identifiers() == []


class TestJournal:
    async def test_a_rerun_skips_what_settled(self, tmp_path: pathlib.Path) -> None:
        journal = tmp_path / "import.journal"
        async with _simulated() as (sim, client):
            first = await run_import(
                client, _rows(40), to_request=prospect_from_row, journal=journal
            )
            assert first.counts["created"] == 40
            second = await run_import(
                client, _rows(60), to_request=prospect_from_row, journal=journal
            )
            assert second.counts == {
                "created": 20,
                "existing": 0,
                "failed": 0,
                "unknown": 0,
                "resumed": 40,
            }
            assert sim.backend.persons_count() == 60
        text = journal.read_text()
        assert len(text.splitlines()) == 60
        assert "example.fr" not in text  # keys are hashed: no customer identifier on disk

    async def test_a_torn_line_is_rechecked_not_recreated(self, tmp_path: pathlib.Path) -> None:
        journal = tmp_path / "import.journal"
        async with _simulated() as (sim, client):
            await run_import(client, _rows(10), to_request=prospect_from_row, journal=journal)
            lines = journal.read_text().splitlines()
            # As after a kill -9: the last entry half written, two more never written.
            journal.write_text("\n".join(lines[:7]) + "\n" + lines[7][:10])
            rerun = await run_import(
                client, _rows(10), to_request=prospect_from_row, journal=journal, dedupe=False
            )
            assert rerun.counts["resumed"] == 7
            assert rerun.counts["existing"] == 3  # looked up, not created twice
            assert sim.backend.persons_count() == 10
        # The torn line stands alone: every later entry parses.
        entries = journal.read_text().splitlines()
        assert sum(1 for line in entries if line.startswith('{"k"') and line.endswith("}")) == 10


async def test_input_is_read_lazily() -> None:
    pulled = 0

    def records() -> Iterator[dict[str, Any]]:
        nonlocal pulled
        for row in _rows(500):
            pulled += 1
            yield row

    async with _simulated() as (_, client):
        seen = 0
        async with contextlib.aclosing(
            import_prospects(client, records(), to_request=prospect_from_row, concurrency=4)
        ) as results:
            async for _ in results:
                seen += 1
                # Read ahead at most: one record per worker (4) + results waiting (8).
                assert pulled - seen <= 12
        assert seen == 500


async def test_stopping_early_cancels_cleanly_and_keeps_the_journal(
    tmp_path: pathlib.Path,
) -> None:
    journal = tmp_path / "j"
    async with _simulated() as (sim, client):
        got: list[ImportResult] = []
        async with contextlib.aclosing(
            import_prospects(client, _rows(300), to_request=prospect_from_row, journal=journal)
        ) as results:
            async for result in results:
                got.append(result)
                if len(got) == 50:
                    break
        lines = journal.read_text().splitlines()
        assert len(lines) >= 50
        assert len(lines) <= sim.backend.persons_count() <= len(lines) + 16
        rerun = await run_import(client, _rows(300), to_request=prospect_from_row, journal=journal)
        assert rerun.all_settled and sim.backend.persons_count() == 300
    assert all(t.done() for t in asyncio.all_tasks() if t is not asyncio.current_task())


async def test_async_iterable_input() -> None:
    async def records() -> AsyncIterator[dict[str, Any]]:
        for row in _rows(12):
            yield row

    async with _simulated() as (sim, client):
        summary = await run_import(client, records(), to_request=prospect_from_row)
        assert summary.counts["created"] == 12 == sim.backend.persons_count()


async def test_the_gate_halves_on_refusals_and_grows_back(clock: FakeClock) -> None:
    gate = _AdaptiveGate(16, clock)
    gate.on_throttle()
    gate.on_throttle()  # the same burst: counted once
    assert gate.limit == 8
    clock.now += 2
    gate.on_throttle()
    assert gate.limit == 4
    for _ in range(4):
        gate.on_success()
    assert 4.9 < gate.limit < 5.1  # one more slot per window of successes
    for _ in range(1000):
        gate.on_success()
    assert gate.limit == 16


async def test_the_gate_bounds_work_in_progress(clock: FakeClock) -> None:
    gate = _AdaptiveGate(2, clock)
    await gate.acquire()
    await gate.acquire()
    third = asyncio.create_task(gate.acquire())
    await asyncio.sleep(0)
    assert not third.done()
    gate.release()
    await third
    assert gate.in_use == 2


async def test_the_rate_limit_spaces_requests(clock: FakeClock) -> None:
    limiter = _RateLimiter(4.0, clock, clock.sleep)
    for _ in range(5):
        await limiter.acquire()
    assert clock.sleeps == [0.25, 0.25, 0.25, 0.25]


async def test_a_rate_limited_import_spaces_every_request(clock: FakeClock) -> None:
    async with _simulated() as (sim, client):
        summary = await run_import(
            client,
            _rows(10),
            to_request=prospect_from_row,
            rate_limit=100.0,
            clock=clock,
            sleep=clock.sleep,
        )
        requests = sum(sim.stats.received.values())
    assert summary.counts["created"] == 10
    assert requests == 20  # a lookup and a creation each
    # With the clock moving only when the import waits: (requests - 1) gaps of 1/100 s.
    assert sum(clock.sleeps) == pytest.approx((requests - 1) / 100.0)


def test_bad_options_are_refused() -> None:
    client = WsOneClient("https://x.fr", username="a", password="b")
    for options in ({"concurrency": 0}, {"rate_limit": 0}, {"dedupe": "maybe"}, {"max_rounds": 0}):
        with pytest.raises(ValueError):
            import_prospects(client, [], **options)  # type: ignore[arg-type]


def test_results_say_when_settled() -> None:
    assert ImportResult(0, "k", Outcome.CREATED).settled
    assert not ImportResult(0, "k", Outcome.UNKNOWN).settled


async def test_rows_repeating_a_key_settle_one_after_the_other() -> None:
    from wsone_async.bulk import _Import

    client = WsOneClient("https://wsone.example.fr", username="a", password="b")
    job = _Import(
        client,
        concurrency=3,
        rate_limit=None,
        dedupe=True,
        journal=None,
        to_request=prospect_from_row,
        max_rounds=1,
        clock=FakeClock(),
        sleep=FakeClock().sleep,
    )
    running = most = 0

    async def settle(request: object) -> tuple[Outcome, None]:
        nonlocal running, most
        running += 1
        most = max(most, running)
        await asyncio.sleep(0)  # hand over to the other workers, as a request would
        running -= 1
        return Outcome.CREATED, None

    job._settle = settle  # type: ignore[method-assign]
    results = [result async for result in job.results(_rows(1) * 6)]
    assert len(results) == 6
    assert most == 1  # never two rows of one key in progress together


async def test_an_input_that_fails_stops_the_import_with_its_error() -> None:
    class Broken(Exception):
        pass

    def records() -> Iterator[dict[str, Any]]:
        yield from _rows(3)
        raise Broken

    async with _simulated() as (_, client):
        with pytest.raises(Broken):
            await run_import(client, records(), to_request=prospect_from_row)


async def test_aread_rows_reads_in_a_thread(tmp_path: pathlib.Path) -> None:
    source = tmp_path / "p.csv"
    source.write_text("identifier_value\n" + "".join(f"r{i}@x.fr\n" for i in range(600)))
    rows = [item async for item in aread_rows(source, batch=64)]
    assert rows == list(read_rows(source))
    assert len(rows) == 600


def test_cells_are_never_quoted_by_a_parsing_error() -> None:
    for row, field in (
        ({"identifier_value": "x", "address3_num": "+-12"}, "address3_num"),
        ({"identifier_value": "x", "address3_num": "١٢"}, "address3_num"),
        ({"identifier_value": "x", "title": "+-1"}, "title"),
        ({"identifier_value": "x", "subscriptions": "²"}, "subscriptions"),
    ):
        with pytest.raises(RowError) as info:
            prospect_from_row(row)
        assert info.value.field == field
        assert info.value.__context__ is None  # nothing hidden on the chain either


async def test_a_mapping_that_raises_fails_its_row_alone() -> None:
    def to_request(row: dict[str, Any]) -> Any:
        if row["identifier_value"] == "prospect1@example.fr":
            return row["no such column"]  # a KeyError, not a RowError
        return prospect_from_row(row)

    async with _simulated() as (_, client):
        results = [r async for r in import_prospects(client, _rows(3), to_request=to_request)]
    outcomes = sorted((r.index, r.outcome) for r in results)
    assert outcomes == [(0, Outcome.CREATED), (1, Outcome.FAILED), (2, Outcome.CREATED)]
    assert isinstance(next(r for r in results if r.index == 1).error, KeyError)


async def test_closing_while_workers_wait_for_the_rate_leaves_no_coroutine_behind() -> None:
    import gc
    import warnings

    never = asyncio.Event()
    clock = FakeClock()

    async def wait_forever(seconds: float) -> None:
        await never.wait()

    async with _simulated() as (_, client):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            async with contextlib.aclosing(
                import_prospects(
                    client,
                    _rows(20),
                    to_request=prospect_from_row,
                    rate_limit=1.0,
                    clock=clock,
                    sleep=wait_forever,
                    concurrency=4,
                    dedupe=False,  # one request a record: the first goes, the others wait
                )
            ) as results:
                assert (await anext(results)).outcome is Outcome.CREATED
            gc.collect()
    assert not [w for w in caught if "never awaited" in str(w.message)]
