"""The ``wsone`` command: ``serve`` a simulator, run the ``demo``, ``import`` prospects.

Run ``wsone --help`` (or ``python -m wsone_async --help``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import csv
import datetime as dt
import getpass
import json
import os
import pathlib
import signal
import sys
import time
from collections.abc import AsyncIterator, Callable
from typing import IO, Any, Final

from wsone_async import models as m
from wsone_async._version import __version__
from wsone_async.bulk import (
    COLUMNS,
    ImportResult,
    ImportSummary,
    JournalInUseError,
    Outcome,
    RowError,
    aread_rows,
    prospect_from_row,
    run_import,
)
from wsone_async.client import WsOneClient
from wsone_async.errors import WsOneError

__all__ = ["main"]

#: Where ``wsone import`` reads the password when it is not prompted for.
PASSWORD_ENV: Final = "WSONE_PASSWORD"  # noqa: S105  (a variable's name, no secret)
_EXIT_USAGE: Final = 2
_EXIT_INTERRUPTED: Final = 130


def _out(text: str = "", *, stream: IO[str] | None = None) -> None:
    stream = stream or sys.stdout
    stream.write(text + "\n")
    stream.flush()


def _mask(value: str | None) -> str:
    """A customer identifier made fit for a terminal: its last 4 characters only."""
    if not value:
        return "-"
    return "•" * 4 + value[-4:]


# --------------------------------------------------------------------------- progress


class _Progress:
    """A progress bar with rate and ETA on a terminal; plain lines otherwise."""

    def __init__(self, total: int | None, stream: IO[str], *, every: float = 2.0) -> None:
        self.total = total
        self.stream = stream
        self.tty = stream.isatty()
        self.counts = dict.fromkeys(("created", "existing", "failed", "unknown", "resumed"), 0)
        self.done = 0
        self._started = time.monotonic()
        self._last = 0.0
        self._every = every if not self.tty else 0.2
        # Plain lines also come every 5% of the rows, so a log shows steady progress.
        self._step = max(1, total // 20) if total and not self.tty else None

    def add(self, result: ImportResult) -> None:
        self.done += 1
        self.counts["resumed" if result.resumed else result.outcome.value] += 1
        now = time.monotonic()
        stepped = self._step is not None and self.done % self._step == 0
        if stepped or now - self._last >= self._every or self.done == self.total:
            self._last = now
            self.show()

    def line(self) -> str:
        elapsed = max(time.monotonic() - self._started, 1e-9)
        rate = self.done / elapsed
        counts = ", ".join(f"{name} {count}" for name, count in self.counts.items() if count)
        if self.total:
            share = self.done / self.total
            left = (self.total - self.done) / rate if rate > 0 else 0.0
            bar = "#" * int(share * 20) + "." * (20 - int(share * 20))
            return (
                f"[{bar}] {self.done}/{self.total} {share:4.0%} {rate:6.0f} rows/s "
                f"ETA {left:4.0f}s  {counts}"
            )
        return f"{self.done} rows {rate:6.0f} rows/s  {counts}"

    def show(self) -> None:
        if self.tty:
            self.stream.write("\r" + self.line())
        else:
            self.stream.write(self.line() + "\n")
        self.stream.flush()

    def finish(self) -> None:
        if self.tty:
            self.stream.write("\n")
            self.stream.flush()


# ----------------------------------------------------------------------------- import


def _import_parser(sub: Any) -> None:
    parser = sub.add_parser(
        "import",
        help="import prospects from a CSV or JSON Lines file",
        description=(
            "Import prospects from FILE (CSV with a header, or .jsonl), each person created "
            f"once. The password comes from ${PASSWORD_ENV}, or is prompted for."
        ),
    )
    parser.add_argument("file", help="the prospects file (.csv, or .jsonl/.ndjson)")
    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument("--base-url", help="the WsOne root URL, such as https://loyalty.example.fr")
    target.add_argument(
        "--simulate", action="store_true", help="import into an embedded simulator instead"
    )
    parser.add_argument("--user", help="the API user (with --base-url)")
    parser.add_argument("--concurrency", type=int, default=16, help="records in progress at once")
    parser.add_argument("--rate", type=float, default=None, help="max requests per second")
    parser.add_argument(
        "--dedupe",
        choices=("identifier", "search", "none"),
        default="identifier",
        help="search before creating: by identifier (getPerson), by data (searchPerson), or not",
    )
    parser.add_argument("--journal", help="journal file: rerun with the same file to resume")
    parser.add_argument(
        "--failures", help="write failed and unknown rows, with reasons, to this CSV"
    )
    parser.add_argument("--summary-json", help="write the summary as JSON to this file")
    parser.add_argument("--source", help="the requests' 'source' field, such as CONTEST-2026")


def _count_rows(path: str) -> int:
    # For the progress bar's total only: count lines, without parsing (a quoted CSV field
    # holding a line break makes it an estimate, which is fine for an ETA).
    with open(path, "rb") as file:
        lines = sum(1 for line in file if line.strip())
    return lines if path.lower().endswith((".jsonl", ".ndjson")) else max(lines - 1, 0)


class _Failures:
    """The failures file: the failed and unknown rows, with their line and reason."""

    def __init__(self, path: str | None) -> None:
        self._file = open(path, "w", encoding="utf-8", newline="") if path else None  # noqa: SIM115
        self._writer = (
            csv.DictWriter(
                self._file,
                fieldnames=["line", "outcome", "field", "reason", *COLUMNS],
                extrasaction="ignore",
            )
            if self._file
            else None
        )
        if self._writer is not None:
            self._writer.writeheader()
        self.written = 0

    def add(self, line: int, row: dict[str, Any], result: ImportResult) -> None:
        if self._writer is None:
            return
        error = result.error
        field = error.field if isinstance(error, RowError) else ""
        reason = (
            error.problem if isinstance(error, RowError) else str(error or result.outcome.value)
        )
        self._writer.writerow(
            {
                **{k: v for k, v in row.items() if k in COLUMNS},
                "line": line,
                "outcome": result.outcome.value,
                "field": field,
                "reason": reason,
            }
        )
        self.written += 1

    def close(self) -> None:
        if self._file is not None:
            self._file.close()


def _password(args: argparse.Namespace) -> str:
    password = os.environ.get(PASSWORD_ENV)
    if password:
        return password
    if not sys.stdin.isatty():
        msg = f"no password: set ${PASSWORD_ENV} (it is never taken from the command line)"
        raise SystemExit(msg)
    return getpass.getpass(f"WsOne password for {args.user}: ")


@contextlib.asynccontextmanager
async def _target(args: argparse.Namespace) -> AsyncIterator[WsOneClient]:
    if args.simulate:
        from wsone_async.testing import WsOneSimulator

        async with (
            WsOneSimulator() as sim,
            WsOneClient(sim.url, username=sim.username, password=sim.password) as client,
        ):
            _out(f"importing into an embedded WsOne simulator at {sim.url}", stream=sys.stderr)
            yield client
        return
    if not args.user:
        msg = "wsone import: --user is required with --base-url"
        raise SystemExit(msg)
    async with WsOneClient(args.base_url, username=args.user, password=_password(args)) as client:
        yield client


async def _run_import(args: argparse.Namespace) -> int:
    try:
        return await _import(args)
    except JournalInUseError as exc:
        _out(f"wsone import: {exc}", stream=sys.stderr)
        return _EXIT_USAGE


async def _import(args: argparse.Namespace) -> int:
    total = await asyncio.to_thread(_count_rows, args.file)
    progress = _Progress(total, sys.stderr)
    failures = _Failures(args.failures)
    pending: dict[int, tuple[int, dict[str, Any]]] = {}

    async def rows() -> AsyncIterator[tuple[int, dict[str, Any]]]:
        index = 0
        async for line, row in aread_rows(args.file):
            pending[index] = (line, row)
            index += 1
            yield line, row

    def to_request(item: tuple[int, dict[str, Any]]) -> m.CreatePersonRequest:
        line, row = item
        try:
            return prospect_from_row(row, source=args.source)
        except RowError as exc:
            raise RowError(exc.field, exc.problem, line=line) from None

    def on_result(result: ImportResult) -> None:
        line, row = pending.pop(result.index)
        progress.add(result)
        if result.outcome in (Outcome.FAILED, Outcome.UNKNOWN):
            failures.add(line, row, result)

    dedupe: Any = False if args.dedupe == "none" else args.dedupe
    interrupted = False
    summary: ImportSummary | None = None
    started = time.monotonic()
    try:
        async with _target(args) as client:
            task = asyncio.ensure_future(
                run_import(
                    client,
                    rows(),
                    to_request=to_request,
                    on_result=on_result,
                    concurrency=args.concurrency,
                    rate_limit=args.rate,
                    dedupe=dedupe,
                    journal=args.journal,
                )
            )
            loop = asyncio.get_running_loop()
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                # (Not available on Windows, nor outside the main thread.)
                # Ctrl-C stops the import cleanly: workers cancelled, the journal closed
                # with everything that settled, the summary written.
                loop.add_signal_handler(signal.SIGINT, task.cancel)
            try:
                summary = await task
            except asyncio.CancelledError:
                if not task.cancelled():
                    raise  # this command itself was cancelled, not the import by Ctrl-C
                interrupted = True
            finally:
                with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                    loop.remove_signal_handler(signal.SIGINT)
    finally:
        progress.finish()
        failures.close()
    counts = summary.counts if summary is not None else dict(progress.counts)
    seconds = summary.seconds if summary is not None else time.monotonic() - started
    all_settled = summary is not None and summary.all_settled
    report = {
        "file": args.file,
        "rows": total,
        **counts,
        "seconds": round(seconds, 3),
        "rows_per_second": round(progress.done / seconds, 1) if seconds else None,
        "interrupted": interrupted,
        "all_settled": all_settled and not interrupted,
        "journal": args.journal,
        "failures_file": args.failures,
    }
    if args.summary_json:
        text = json.dumps(report, indent=2) + "\n"
        await asyncio.to_thread(pathlib.Path(args.summary_json).write_text, text, "utf-8")
    words = ", ".join(f"{name} {counts[name]}" for name in counts)
    state = "interrupted" if interrupted else "done"
    _out(f"{state}: {progress.done} of {total} rows in {seconds:.1f}s: {words}")
    if failures.written:
        _out(f"{failures.written} failed or unknown rows written to {args.failures}")
    if interrupted:
        return _EXIT_INTERRUPTED
    return 0 if all_settled else 1


# ------------------------------------------------------------------------------- demo


def _demo_parser(sub: Any) -> None:
    parser = sub.add_parser(
        "demo",
        help="run the vendor's documented workflows against an embedded simulator",
        description=(
            "Start a WsOne simulator in this process and run the vendor's documented "
            "workflows through WsOneClient, as a user would."
        ),
    )
    parser.add_argument("--prospects", type=int, default=300, help="prospects to create")
    parser.add_argument("--concurrency", type=int, default=32, help="requests in flight at once")


def _card(identifier: m.IdentifierType, value: str) -> m.IdentifierRequest:
    return m.IdentifierRequest(identifier_type=identifier, identifier_value=value)


def _points(accounts: m.GetAccountsResponse) -> float:
    return sum(
        a.value or 0 for a in accounts.account_response or () if a.name in ("point", "points")
    )


async def _demo(args: argparse.Namespace) -> int:
    from wsone_async.testing import WsOneSimulator

    started = time.monotonic()
    step = 0

    def say(text: str) -> None:
        nonlocal step
        step += 1
        _out(f"{step:>2}. {text}")

    async with (
        WsOneSimulator() as sim,
        WsOneClient(
            sim.url,
            username=sim.username,
            password=sim.password,
            max_connections=args.concurrency,
        ) as client,
    ):
        _out(f"WsOne simulator started at {sim.url}; client {client!r}")
        entities = await client.get_entities(m.GetEntitiesRequest())
        stores = [e for e in entities.entity_response or () if e.entity_identifier]
        store = next(e for e in stores if e.label and e.label.startswith("MAGASIN"))
        assert store.entity_identifier is not None
        parents = await client.get_entity_parents(
            m.GetEntityParentsRequest(
                entity_request=m.EntityRequest(entity_identifier=store.entity_identifier)
            )
        )
        chain = " < ".join(e.label or "?" for e in parents.entity_response or ())
        say(f"getEntities: {len(stores)} entities; store {store.label} sits in {chain}")

        rows = [
            {
                "identifier_value": f"prospect{i:05d}@example.fr",
                "email": f"prospect{i:05d}@example.fr",
                "first_name": "CAMILLE",
                "last_name": f"DEMO{i % 50:02d}",
                "birth_date": f"{1 + i % 28:02d}/{1 + i % 12:02d}/{1960 + i % 40}",
                "entity_identifier": store.entity_identifier,
                "allow_company_solicitation": "1" if i % 3 else "0",
                "subscriptions": "30",
            }
            for i in range(args.prospects)
        ]
        found = 0
        for row in rows[:5]:
            search = await client.search_person(
                m.SearchPersonRequest(
                    contacts_request=m.ContactsRequest(
                        email_request=m.EmailRequest(email_value=row["email"])
                    )
                )
            )
            found += len(search.person_response or ())
        say(f"searchPerson before creating: {found} of 5 sample prospects already known")

        progress = _Progress(len(rows), sys.stdout, every=0.5)
        summary = await run_import(
            client,
            rows,
            to_request=lambda row: prospect_from_row(row, source="WSONE-DEMO"),
            concurrency=args.concurrency,
            on_result=progress.add,
        )
        progress.finish()
        say(
            f"createPerson x{len(rows)}, {args.concurrency} at a time: "
            + ", ".join(f"{k} {v}" for k, v in summary.counts.items() if v)
            + f" ({summary.total / max(summary.seconds, 1e-9):.0f} rows/s)"
        )
        if not summary.all_settled:
            _out("some prospects were not created", stream=sys.stderr)
            return 1

        web_ids = [
            _card(m.IdentifierType.WEB_ACCOUNT, row["identifier_value"]) for row in rows[:40]
        ]

        async def ask_card(web: m.IdentifierRequest) -> m.IdentifierRequest:
            await client.create_identifier(
                m.CreateIdentifierRequest(
                    identifier_request=web, new_identifier_type=m.IdentifierType.CARD
                )
            )
            person = await client.get_person(m.GetPersonRequest(identifier_request=web))
            assert person.person_response is not None
            card = next(
                i
                for i in person.person_response.identifier_response or ()
                if i.identifier_type == m.IdentifierType.CARD
            )
            assert card.identifier_value is not None
            return _card(m.IdentifierType.CARD, card.identifier_value)

        cards = await asyncio.gather(*(ask_card(web) for web in web_ids))
        say(
            f"createIdentifier: {len(cards)} prospects joined the programme with a card "
            f"(such as {_mask(cards[0].identifier_value)})"
        )

        full = await client.get_full_person(
            m.GetFullPersonRequest(
                identifier_request=cards[0],
                entity_request=m.EntityRequest(entity_identifier=store.entity_identifier),
                date=dt.datetime.now().replace(microsecond=0),
                filter=0,
            )
        )
        offers = full.offers_response.get_offers_responses if full.offers_response else ()
        say(f"getFullPerson: profile, accounts and {len(offers or ())} usable offer(s)")

        store_ref = m.EntityRequest(entity_identifier=store.entity_identifier)
        now = dt.datetime.now().replace(microsecond=0)
        before = _points(
            await client.get_accounts(m.GetAccountsRequest(identifier_request=cards[0]))
        )

        async def buy(index: int, card: m.IdentifierRequest) -> float:
            receipt = m.ReceiptRequest(
                receipt_number=f"DEMO-{index:04d}",
                receipt_date=now,
                amount=round(20 + 3.5 * index, 2),
                entity_request=store_ref,
                details_request=[
                    m.DetailsRequest(
                        line_number=1,
                        product_code="3017620422003",
                        quantity=1,
                        unit_price=round(20 + 3.5 * index, 2),
                        amount=round(20 + 3.5 * index, 2),
                    )
                ],
            )
            done: m.SendAndValidTransactionResponse | m.ValidTransactionResponse
            if index % 2:
                done = await client.send_and_valid_transaction(
                    m.SendAndValidTransactionRequest(
                        identifier_request=card, receipt_request=receipt
                    )
                )
            else:
                sent = await client.send_transaction(
                    m.SendTransactionRequest(identifier_request=card, receipt_request=receipt)
                )
                assert sent.transaction_response is not None
                done = await client.valid_transaction(
                    m.ValidTransactionRequest(
                        identifier_request=card,
                        transaction_id=sent.transaction_response.transaction_id,
                    )
                )
            assert done.transaction_response is not None
            return float(done.transaction_response.points or 0)

        credited = await asyncio.gather(*(buy(i, card) for i, card in enumerate(cards)))
        say(
            f"sendTransaction+validTransaction and sendAndValidTransaction: {len(cards)} "
            f"receipts validated, {sum(credited):.0f} points credited"
        )

        verified = await client.verify_transaction(
            m.VerifyTransactionRequest(
                identifier_request=cards[0],
                receipt_request=m.ReceiptRequest(
                    receipt_number="DEMO-0000", entity_request=store_ref
                ),
            )
        )
        status = verified.transaction_response.status if verified.transaction_response else None
        say(f"verifyTransaction DEMO-0000: recorded, status {status}")

        after = _points(
            await client.get_accounts(m.GetAccountsRequest(identifier_request=cards[0]))
        )
        await client.refund_transaction(
            m.RefundTransactionRequest(
                identifier_request=cards[0],
                receipt_request=m.ReceiptRequest(
                    receipt_number="DEMO-0000", entity_request=store_ref
                ),
            )
        )
        refunded = _points(
            await client.get_accounts(m.GetAccountsRequest(identifier_request=cards[0]))
        )
        say(
            f"refundTransaction: the balance went {before:.0f} -> {after:.0f} -> "
            f"{refunded:.0f} points"
        )

        await client.send_transaction(
            m.SendTransactionRequest(
                identifier_request=cards[1],
                receipt_request=m.ReceiptRequest(
                    receipt_number="DEMO-OPEN",
                    receipt_date=now,
                    amount=12.0,
                    entity_request=store_ref,
                ),
            )
        )
        cancelled = await client.cancel_transactions_not_validated(
            m.CancelTransactionsNotValidatedRequest(identifier_request=cards[1])
        )
        last = await client.get_last_transaction(
            m.GetLastTransactionRequest(identifier_request=cards[1])
        )
        last_status = last.transaction_response.status if last.transaction_response else None
        say(
            f"cancelTransactionsNotValidated: {len(cancelled.transaction_response or ())} receipt "
            f"cancelled; getLastTransaction now says {last_status}"
        )

        await client.update_person(
            m.UpdatePersonRequest(
                identifier_request=cards[2],
                person_profil_request=m.PersonProfilRequest(
                    contacts_request=m.ContactsRequest(
                        email_request=m.EmailRequest(
                            email_value=rows[2]["email"], allow_company_solicitation=False
                        )
                    )
                ),
            )
        )
        person = await client.get_person(m.GetPersonRequest(identifier_request=cards[2]))
        contacts = person.person_response.contacts_response if person.person_response else None
        consent = (
            contacts.email_response.allow_company_solicitation
            if contacts and contacts.email_response
            else None
        )
        say(f"updatePerson then getPerson: email consent is now {consent}")

        available = await client.get_available_offers(
            m.GetAvailableOffersRequest(
                identifier_request=cards[3], entity_request=store_ref, date=now
            )
        )
        offer = next(iter(available.get_offers_responses or ()), None)
        if offer is not None and offer.offer_number:
            await client.edit_offer(
                m.EditOfferRequest(
                    identifier_request=cards[3],
                    entity_request=store_ref,
                    offer_number=offer.offer_number,
                    used=True,
                )
            )
        enabled = await client.get_enable_offers(
            m.GetEnableOffersRequest(
                identifier_request=cards[3], entity_request=store_ref, date=now
            )
        )
        usable = len(enabled.get_offers_responses or ())
        say(
            "getAvailableOffers/editOffer/getEnableOffers: "
            f"{len(available.get_offers_responses or ())} offer(s), {usable} still usable "
            "after one was used"
        )

        form = await client.get_form(m.GetFormRequest(identifier_request=cards[4], form_id="100"))
        questions = form.form_answered_response or ()
        await client.update_form(
            m.UpdateFormRequest(
                identifier_request=cards[4],
                form_id="100",
                form_answered_request=[
                    m.FormAnsweredRequest(question_id=q.question_id, answer="2")
                    for q in questions[:1]
                ],
            )
        )
        badges = await client.get_badge(m.GetBadgeRequest(identifier_request=cards[0]))
        say(
            f"getForm/updateForm: {len(questions)} questions, one answered; "
            f"getBadge: {len(badges.badge_response or ())} badge(s)"
        )
    elapsed = time.monotonic() - started
    _out(
        f"demo finished in {elapsed:.1f}s: {summary.counts['created']} prospects created, "
        f"{len(cards)} cards, {len(cards)} receipts, {sum(credited):.0f} points credited; "
        f"every call went through WsOneClient"
    )
    return 0


# ------------------------------------------------------------------------------- main


def build_parser() -> argparse.ArgumentParser:
    """The ``wsone`` command line."""
    parser = argparse.ArgumentParser(prog="wsone", description="WsOne from the command line.")
    parser.add_argument("--version", action="version", version=f"wsone_async {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser(
        "serve",
        help="serve an embedded WsOne simulator until Ctrl-C (see 'wsone serve --help')",
        add_help=False,
    )
    _demo_parser(sub)
    _import_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the ``wsone`` command; returns its exit status.

    Args:
        argv: the arguments (default: ``sys.argv[1:]``).
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["serve"]:
        from wsone_async.testing._serve import main as serve

        return serve(argv[1:])
    parser = build_parser()
    args = parser.parse_args(argv)
    runners: dict[str, Callable[[argparse.Namespace], Any]] = {
        "demo": _demo,
        "import": _run_import,
    }
    try:
        return int(asyncio.run(runners[args.command](args)))
    except KeyboardInterrupt:
        return _EXIT_INTERRUPTED
    except (OSError, WsOneError) as exc:
        _out(f"wsone {args.command}: {exc}", stream=sys.stderr)
        return 1
