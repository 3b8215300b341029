"""Bulk import: one result per record, each person created once, resumable, bounded."""

from __future__ import annotations

import asyncio
import contextlib
import pathlib
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from tests._support.clients import simulated
from tests._support.mocks import FakeClock, no_wait
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

    @pytest.mark.parametrize("value", ["1,23457E+12", "2.5E+15", "3E+12", "9,87654e+18"])
    def test_an_identifier_excel_rounded_to_scientific_notation_fails(self, value: str) -> None:
        # Excel shows a long card number in a "General" cell as 1,23457E+12 and saves it so:
        # two cards would become one identifier, the second row silently "existing".
        with pytest.raises(RowError, match="scientific notation") as info:
            prospect_from_row({"identifier_type": "1", "identifier_value": value})
        assert info.value.field == "identifier_value"

    def test_rows_of_empty_cells_and_quotes_left_open(self, tmp_path: pathlib.Path) -> None:
        # Excel leaves rows of empty cells where rows were cleared: they are no records.
        ghost = tmp_path / "ghost.csv"
        ghost.write_bytes(b"identifier_value;last_name\r\na@b.fr;A\r\n;\r\n ; \r\n;;\r\n")
        assert list(read_rows(ghost)) == [(2, {"identifier_value": "a@b.fr", "last_name": "A"})]
        # A quote never closed: one bad row at its line, not the rest of the file swallowed
        # into one cell and imported as a name.
        open_quote = tmp_path / "open.csv"
        open_quote.write_text('identifier_value;last_name\na@b.fr;A\nc@d.fr;"B\ne@f.fr;C\n')
        never_closed = "a quote opened on line 3 is never closed (lines 3-4 to the end of the file)"
        assert list(read_rows(open_quote)) == [
            (2, {"identifier_value": "a@b.fr", "last_name": "A"}),
            (3, {"__error__": never_closed}),
            (4, {"__error__": f"read into the record of line 3, which cannot be read: {never_closed}"}),
        ]  # fmt: skip
        # A quote opened and closed lines later glues rows into a documented cell.
        glued = tmp_path / "glued.csv"
        glued.write_text('identifier_value;last_name\nc@d.fr;"B\ne@f.fr;C"\ng@h.fr;D\n')
        (first, second) = list(read_rows(glued))
        assert first[0] == 2 and "last_name holds a line break (lines 2-3" in first[1]["__error__"]
        assert second == (4, {"identifier_value": "g@h.fr", "last_name": "D"})
        # Text after a closing quote: the row is refused, and the message says what to write.
        after = tmp_path / "after.csv"
        after.write_text('identifier_value;last_name\nc@d.fr;"Jean" Pierre\ng@h.fr;D\n')
        (first, second) = list(read_rows(after))
        assert first[0] == 2 and "goes on after its closing quote" in first[1]["__error__"]
        assert second == (3, {"identifier_value": "g@h.fr", "last_name": "D"})
        # A line break in a column the import ignores is the cell's own (an Excel comment).
        comment = tmp_path / "comment.csv"
        comment.write_text('identifier_value;Commentaire\nc@d.fr;"rappeler;\nlundi"\ng@h.fr;x\n')
        assert list(read_rows(comment)) == [
            (2, {"identifier_value": "c@d.fr"}),
            (4, {"identifier_value": "g@h.fr"}),
        ]

    def test_a_multi_line_record_is_reported_by_its_first_line(
        self, tmp_path: pathlib.Path
    ) -> None:
        # A line break in a cell spans lines; the user looks for the record where it starts.
        source = tmp_path / "p.csv"
        source.write_bytes(b'identifier_value;Commentaire;birth_date\na@b.fr;"x\ny";hier\n')
        assert list(read_rows(source)) == [
            (2, {"identifier_value": "a@b.fr", "birth_date": "hier"})
        ]

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
        async with simulated() as (sim, client):
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
        async with simulated() as (sim, client):
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

    @pytest.mark.slow
    async def test_five_thousand_rows_under_ten_percent_faults(self) -> None:
        total, seeded = 5000, 200
        # Attempts get 400 ms (a loaded CI machine can be slow); the latency faults below
        # hold an answer twice that long, so each one is a real timeout.
        timeouts = Timeouts(attempt=0.400, total=30.0)
        retry = RetryPolicy(max_retries=3, budget=None)

        async with simulated(timeout=timeouts, retry=retry, sleep=no_wait) as (sim, client):
            await run_import(client, _rows(seeded), to_request=prospect_from_row)
            for kind, options in [
                ("status", {"status": 503, "retry_after": "0"}),
                ("status", {"status": 429, "retry_after": "0"}),
                ("status", {"status": 500}),
                ("status", {"status": 502}),
                ("drop_before", {}),
                ("drop_after", {}),
                ("latency", {"delay": 0.800}),  # past the attempt limit: a timeout
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
            refused_as_duplicates = sim.stats.codes["102"]
        # About 10% of all requests met a fault, of every kind.
        assert 0.07 * received < injected < 0.13 * received
        assert set(sim.stats.faults) == {"status", "drop_before", "drop_after", "latency", "html"}
        assert summary.total == total + 50
        assert summary.all_settled, summary.counts
        counts = summary.counts
        assert counts["created"] + counts["existing"] == total + 50
        # The seeded rows and the repeated ones are found by the lookup. Besides them, a row
        # reads "existing" only when its creation, held past the attempt limit, landed after
        # its lookup found nothing and the resend was refused as a duplicate (code 102): the
        # split between the two counts moves by those refusals, never the people in WsOne.
        misread = counts["existing"] - (seeded + 50)
        assert 0 <= misread <= refused_as_duplicates
        assert sim.backend.persons_count() == total
        assert sim.backend.shared_identifiers() == []


class TestJournal:
    async def test_a_rerun_skips_what_settled(self, tmp_path: pathlib.Path) -> None:
        journal = tmp_path / "import.journal"
        async with simulated() as (sim, client):
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
        async with simulated() as (sim, client):
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

    async with simulated() as (_, client):
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
    async with simulated() as (sim, client):
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

    async with simulated() as (sim, client):
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
    async with simulated() as (sim, client):
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

    async with simulated() as (_, client):
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

    async with simulated() as (_, client):
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

    async with simulated() as (_, client):
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


class TestJournalSafety:
    async def test_bytes_that_are_not_utf8_are_skipped_with_a_warning(
        self, tmp_path: pathlib.Path, caplog: pytest.LogCaptureFixture
    ) -> None:
        journal = tmp_path / "import.journal"
        async with simulated() as (sim, client):
            await run_import(client, _rows(6), to_request=prospect_from_row, journal=journal)
            lines = journal.read_bytes().splitlines(keepends=True)
            # A disk or an editor mangled two entries: one holds Latin-1 bytes, one is cut.
            journal.write_bytes(
                b"".join(lines[:3]) + b'{"k": "\xe9t\xe9", "o": "created"}\n' + lines[3][:12]
                + b"\n" + b"".join(lines[5:])
            )  # fmt: skip
            with caplog.at_level("WARNING", logger="wsone_async"):
                rerun = await run_import(
                    client, _rows(6), to_request=prospect_from_row, journal=journal
                )
            assert rerun.counts["resumed"] == 4
            assert rerun.counts["existing"] == 2  # looked up again, not created twice
            assert sim.backend.persons_count() == 6
        assert any("2 unreadable line(s) skipped" in r.getMessage() for r in caplog.records)

    async def test_a_second_import_on_a_journal_in_use_is_refused(
        self, tmp_path: pathlib.Path
    ) -> None:
        from wsone_async.bulk import JournalInUseError

        journal = tmp_path / "import.journal"
        async with simulated() as (sim, client):
            async with contextlib.aclosing(
                import_prospects(client, _rows(40), to_request=prospect_from_row, journal=journal)
            ) as first:
                await anext(first)  # the first import runs, holding its journal
                with pytest.raises(JournalInUseError, match="in use by another import"):
                    await run_import(
                        client, _rows(40), to_request=prospect_from_row, journal=journal
                    )
            # Closed: the lock went with it, and the journal resumes.
            rerun = await run_import(
                client, _rows(40), to_request=prospect_from_row, journal=journal
            )
            assert rerun.all_settled and sim.backend.persons_count() == 40

    async def test_a_killed_import_leaves_no_stale_lock(self, tmp_path: pathlib.Path) -> None:
        import signal
        import subprocess
        import sys

        journal = tmp_path / "import.journal"
        holder = (
            "import asyncio, os, signal, sys, time\n"
            "from wsone_async.bulk import _Journal\n"
            "async def main():\n"
            "    await _Journal.open(sys.argv[1], time.monotonic)\n"
            "    print('locked', flush=True)\n"
            "    os.kill(os.getpid(), signal.SIGKILL)\n"
            "asyncio.run(main())\n"
        )
        done = await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-c", holder, str(journal)],
            capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        assert done.stdout == "locked\n" and done.returncode == -signal.SIGKILL
        async with simulated() as (_, client):
            summary = await run_import(
                client, _rows(3), to_request=prospect_from_row, journal=journal
            )
        assert summary.counts["created"] == 3


class TestSystemicFailures:
    async def test_the_breaker_pauses_probes_and_stops_then_the_journal_resumes(
        self, tmp_path: pathlib.Path
    ) -> None:
        from wsone_async.bulk import CircuitBreaker, WsOneUnavailableError

        journal = tmp_path / "j"
        clock = FakeClock()
        probes = 0

        async def sleep(seconds: float) -> None:
            nonlocal probes
            probes += seconds == 7.0  # the breaker's waits, told apart by their length
            await clock.sleep(seconds)

        breaker = CircuitBreaker(threshold=10, probe_every=7.0, give_up_after=30.0)
        async with simulated(sleep=no_wait) as (sim, client):
            # WsOne goes down for good after the first 60 requests.
            down = sim.faults.add("*", "drop_before", skip=60, times=10**9)
            with pytest.raises(WsOneUnavailableError, match="stayed unreachable") as info:
                await run_import(
                    client, _rows(200), to_request=prospect_from_row, journal=journal,
                    concurrency=4, breaker=breaker, clock=clock, sleep=sleep,
                )  # fmt: skip
            # The probe's failure, said once: not wrapped in another "unreachable" message.
            assert str(info.value).count("unreachable") == 1
            assert "(APIConnectionError:" in str(info.value)
            assert probes == 5  # every 7 s until 30 s had passed: 7, 14, 21, 28, 35
            # Stopped soon after the circuit opened, not after trying every row.
            assert down.injected < 10 + 4 * 3 + probes
            settled = len(journal.read_text().splitlines())
            assert 0 < settled <= sim.backend.persons_count() < 200
            sim.faults.clear()
            rerun = await run_import(
                client, _rows(200), to_request=prospect_from_row, journal=journal,
                concurrency=4, breaker=breaker, clock=clock, sleep=sleep,
            )  # fmt: skip
            assert rerun.all_settled and rerun.counts["resumed"] == settled
            assert sim.backend.persons_count() == 200
            assert sim.backend.shared_identifiers() == []

    async def test_the_breaker_resumes_when_a_probe_gets_an_answer(self) -> None:
        from wsone_async.bulk import CircuitBreaker

        clock = FakeClock()

        async with simulated(sleep=no_wait) as (sim, client):
            down = sim.faults.add("*", "status", status=502, skip=30, times=10**9)

            async def sleep(seconds: float) -> None:
                if seconds == 7.0 and clock.sleeps.count(7.0) == 2:
                    sim.faults.clear()  # WsOne is back before the third probe
                await clock.sleep(seconds)

            summary = await run_import(
                client, _rows(100), to_request=prospect_from_row, concurrency=4,
                breaker=CircuitBreaker(threshold=8, probe_every=7.0), clock=clock, sleep=sleep,
            )  # fmt: skip
            assert clock.sleeps.count(7.0) == 3
            assert down.injected >= 8
            # No row failed for the outage: the rounds spent while it lasted did not count.
            assert summary.all_settled, summary.counts
            assert sim.backend.persons_count() == 100
            assert sim.backend.shared_identifiers() == []

    async def test_refused_credentials_stop_the_import_at_once(self) -> None:
        from wsone_async.errors import AuthenticationError

        async with simulated() as (sim, client):
            refusals = sim.faults.add("*", "status", status=403, skip=25, times=10**9)
            with pytest.raises(AuthenticationError):
                await run_import(client, _rows(300), to_request=prospect_from_row, concurrency=6)
            assert 1 <= refusals.injected <= 6  # at most one per record in progress

    async def test_preflight_reports_a_wrong_password_before_any_row(self) -> None:
        from wsone_async.errors import AuthenticationError

        async with (
            WsOneSimulator() as sim,
            WsOneClient(sim.url, username=sim.username, password="wrong") as client,
        ):
            with pytest.raises(AuthenticationError):
                await run_import(client, _rows(50), to_request=prospect_from_row, preflight=True)
            assert sim.stats.unauthorized == 1


class TestShards:
    def test_the_split_is_stable_and_disjoint(self) -> None:
        import zlib

        from wsone_async.bulk import in_shard

        keys = [f"10:person{i}@example.fr" for i in range(1000)]
        for count in (1, 2, 3, 7):
            owners = [[k for k in range(count) if in_shard(key, (k, count))] for key in keys]
            assert all(len(owner) == 1 for owner in owners)  # each key in exactly one shard
        # A stable hash of the normalised identifier, the same in every process and version.
        assert in_shard(" 10:Jean@Example.FR ", (zlib.crc32(b"10:jean@example.fr") % 4, 4))
        # No identifier: shard 0, wherever the record sits (its position differs between a
        # file and its failures file).
        assert [in_shard(None, (k, 3)) for k in range(3)] == [True, False, False]

    @pytest.mark.parametrize(
        "row",
        [
            {"identifier_value": " Jean@Example.fr "},
            {"identifier_type": "1", "identifier_value": "2990000000123"},
            {"identifier_type": "card", "identifier_value": "2990000000123"},
            {"identifier_type": " 10 ", "identifier_value": "a@b.fr", "birth_date": "02/03/1990"},
            {"identifier_type": 1, "identifier_value": 2990000000123},
        ],
    )
    def test_a_row_is_sharded_alike_before_and_after_it_parses(self, row: dict[str, Any]) -> None:
        # A failed row goes by its identifier as typed: once its other cells are fixed, it
        # parses into a request of the same key, hence the same shard.
        from wsone_async.bulk import _row_key, prospect_key

        assert _row_key(row) == prospect_key(prospect_from_row(row))
        broken = {**row, "birth_date": "31/13/1990"}
        with pytest.raises(RowError):
            prospect_from_row(broken)
        assert _row_key(broken) == _row_key(row)

    async def test_a_refused_row_goes_by_its_identifier_not_its_position(self) -> None:
        from wsone_async.bulk import _row_key, in_shard

        rows = _rows(30)
        for row in rows[::3]:
            row["birth_date"] = "31/13/1990"
        refused = []
        async with simulated() as (_sim, client):
            for k in range(3):
                summary = await run_import(
                    client, rows, to_request=prospect_from_row, shard=(k, 3),
                    on_result=lambda result, k=k: refused.append((k, result.index)) if result.error else None,
                )  # fmt: skip
                assert summary.counts["failed"] == sum(1 for shard, _ in refused if shard == k)
        assert sorted(index for _, index in refused) == list(range(0, 30, 3))  # each once
        assert all(in_shard(_row_key(rows[index]), (k, 3)) for k, index in refused)

    async def test_two_shards_together_import_each_person_once(self) -> None:
        async with simulated() as (sim, client):
            halves = await asyncio.gather(
                *(
                    run_import(client, _rows(300), to_request=prospect_from_row, shard=(k, 2))
                    for k in (0, 1)
                )
            )
            assert sum(h.counts["created"] for h in halves) == 300
            assert all(h.total > 100 for h in halves)
            assert sim.backend.persons_count() == 300
            assert sim.stats.processed["createPerson"] == 300

    def test_a_bad_shard_is_refused(self) -> None:
        client = WsOneClient("https://x.fr", username="a", password="b")
        for shard in ((2, 2), (-1, 2), (0, 0), (1,), "0/2"):
            with pytest.raises(ValueError, match="shard"):
                import_prospects(client, [], shard=shard)  # type: ignore[arg-type]


class TestPool:
    async def test_a_concurrency_beyond_the_pool_is_warned_once_not_refused(
        self, caplog: pytest.LogCaptureFixture
    ) -> None:
        # Records beyond the pool wait for a connection, a wait that counts in the connect
        # time limit: a fine WsOne then looks down. Said once, before the first record.
        async with simulated(max_connections=3) as (sim, client):
            with caplog.at_level("WARNING", logger="wsone_async"):
                beyond = await run_import(
                    client, _rows(8), to_request=prospect_from_row, concurrency=4
                )
            warned = [r for r in caplog.records if "max_connections" in r.getMessage()]
            assert len(warned) == 1 and warned[0].levelname == "WARNING"
            assert "concurrency 4 exceeds the client's max_connections 3" in warned[0].getMessage()
            assert beyond.counts["created"] == 8
            caplog.clear()
            with caplog.at_level("WARNING", logger="wsone_async"):
                await run_import(
                    client, _rows(4, start=8), to_request=prospect_from_row, concurrency=3
                )
            assert not [r for r in caplog.records if "max_connections" in r.getMessage()]
            assert sim.backend.persons_count() == 12


class TestFiles:
    def test_dialects_are_detected(self, tmp_path: pathlib.Path) -> None:
        from wsone_async.bulk import open_prospects

        cases = [
            ("identifier_value;last_name\nx@y.fr;Noël\n", "cp1252", "CSV, cp1252, ';'-separated"),
            ("identifier_value\tlast_name\nx@y.fr\tNoël\n", "utf-8", "CSV, utf-8, tab-separated"),
            ("identifier_value,last_name\nx@y.fr,Noël\n", "utf-8-sig", "CSV, UTF-8 with BOM, ','-separated"),
        ]  # fmt: skip
        for text, encoding, described in cases:
            path = tmp_path / "p.csv"
            path.write_bytes(text.encode(encoding))
            source = open_prospects(path)
            assert source.dialect.describe() == described
            rows = [row for _, row, _ in source.rows()]
            assert rows == [{"identifier_value": "x@y.fr", "last_name": "Noël"}]

    @pytest.mark.parametrize("encoding", ["cp1252", "utf-8"])
    def test_the_encoding_is_told_by_the_first_accents_even_past_64_kib(
        self, tmp_path: pathlib.Path, encoding: str
    ) -> None:
        # The first 64 KiB in plain ASCII said "UTF-8" for a cp1252 file: its failures file
        # then came out in UTF-8, and Excel showed the accents of the later rows as mojibake.
        from wsone_async.bulk import open_prospects

        lines = ["identifier_value;last_name"] + [
            f"p{i}@example.fr;{'X' * 60}" for i in range(1200)
        ]
        path = tmp_path / "p.csv"
        path.write_bytes(
            ("\n".join([*lines, "h@example.fr;Hélène", "n@example.fr;Noël"]) + "\n").encode(
                encoding
            )
        )
        assert path.stat().st_size > 65536 + 1000
        source = open_prospects(path)
        assert source.dialect.encoding == encoding
        rows = [row for _, row, _ in source.rows()]
        assert len(rows) == 1202 and rows[-2:] == [
            {"identifier_value": "h@example.fr", "last_name": "Hélène"},
            {"identifier_value": "n@example.fr", "last_name": "Noël"},
        ]
        assert source.fallback_lines == []  # each line read in the file's own encoding
        assert source.count() == 1202

    @pytest.mark.parametrize("encoding", ["cp1252", "utf-8"])
    @pytest.mark.parametrize("where", ["last line of a small file", "line across 64 KiB"])
    def test_the_encoding_is_told_by_an_accent_on_the_sample_s_last_line(
        self, tmp_path: pathlib.Path, encoding: str, where: str
    ) -> None:
        # The sample's last line was left out as "maybe cut": in a small file it is whole
        # (and was the only accented one), and a line cut at 64 KiB was never read on.
        # Both cp1252 files were taken for UTF-8: their failures file came out in UTF-8.
        from wsone_async.bulk import _SAMPLE, open_prospects

        accented = "h@example.fr;Hélène" + "-Dupont" * 20
        lines = ["identifier_value;last_name"]
        if where == "line across 64 KiB":
            while sum(len(line) + 1 for line in lines) < _SAMPLE - 100:
                lines.append(f"p{len(lines)}@example.fr;{'X' * 60}")
            lines += [accented] + [f"q{i}@example.fr;NOM" for i in range(50)]
        else:
            lines += ["p@example.fr;NOM", accented]  # no line break after the last
        path = tmp_path / "p.csv"
        path.write_bytes("\n".join(lines).encode(encoding))
        data = path.read_bytes()
        accent = data.find("é".encode(encoding))
        if where == "line across 64 KiB":
            assert data.rfind(b"\n", 0, _SAMPLE) < accent < _SAMPLE < len(data)
        else:
            assert data.rfind(b"\n") < accent and len(data) < _SAMPLE
        source = open_prospects(path)
        assert source.dialect.encoding == encoding
        assert accented.split(";")[1] in [row["last_name"] for _, row, _ in source.rows()]
        assert source.fallback_lines == []  # each line read in the file's own encoding

    def test_header_problems_are_input_errors(self, tmp_path: pathlib.Path) -> None:
        from wsone_async.bulk import InputError, open_prospects

        path = tmp_path / "p.csv"
        path.write_text("email,mail\na,b\n")
        with pytest.raises(InputError, match="no identifier_value column"):
            open_prospects(path)
        with pytest.raises(InputError, match="both give identifier_value"):
            open_prospects(path, mapping={"email": "identifier_value", "mail": "identifier_value"})
        with pytest.raises(InputError, match="not a column of this file"):
            open_prospects(path, mapping={"Courriel": "identifier_value"})
        with pytest.raises(InputError, match="not a documented column"):
            open_prospects(path, mapping={"mail": "e-mail"})

    def test_extra_cells_make_a_bad_row(self, tmp_path: pathlib.Path) -> None:
        path = tmp_path / "p.csv"
        path.write_text("identifier_value,last_name\na@b.fr,X,oops\nc@d.fr,Y,\n")
        rows = list(read_rows(path))
        assert rows == [
            (2, {"__error__": "3 cells, but the header has 2 columns"}),
            (3, {"identifier_value": "c@d.fr", "last_name": "Y"}),
        ]


async def test_an_async_input_is_read_ahead_by_one_reader_and_stays_bounded() -> None:
    from wsone_async.bulk import _Import

    pulled = 0

    async def records() -> AsyncIterator[dict[str, Any]]:
        nonlocal pulled
        for row in _rows(100):
            pulled += 1
            await asyncio.sleep(0)  # as a file read in a thread hands over
            yield row

    client = WsOneClient("https://wsone.example.fr", username="a", password="b")
    job = _Import(
        client, concurrency=4, rate_limit=None, dedupe=True, journal=None,
        to_request=prospect_from_row, max_rounds=1, clock=FakeClock(), sleep=FakeClock().sleep,
    )  # fmt: skip
    busy, release = asyncio.Event(), asyncio.Event()
    running = 0

    async def settle(request: object) -> tuple[Outcome, None]:
        nonlocal running
        running += 1
        if running == 4:
            busy.set()
        await release.wait()
        return Outcome.CREATED, None

    job._settle = settle  # type: ignore[method-assign]
    results = job.results(records())
    first = asyncio.ensure_future(anext(results))
    await busy.wait()
    for _ in range(20):  # let the reader run as far as it may
        await asyncio.sleep(0)
    # Every worker busy, and the next records already read for them: 4 + a queue of 4
    # (+1 the reader holds while the queue is full); never the whole input.
    assert 8 <= pulled <= 9
    release.set()
    await first
    rest = [result async for result in results]
    assert len(rest) == 99 and pulled == 100
