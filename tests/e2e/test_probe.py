"""``wsone probe`` against the simulator, plain and behind a proxy that alters its answers."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import pathlib
import re
from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp
import orjson
import pytest
from aiohttp import web

from tests._support.builders import card_key
from wsone_async import _probe, cli, operations
from wsone_async import models as m
from wsone_async._drift import safe_key
from wsone_async.client import WsOneClient
from wsone_async.testing import WsOneSimulator

USER = "probe-user-Kq7"
PASSWORD = "Pr0be-S3cret-Xy9!"
STORE = "123456"

# Recognisable personal data: none of it may reach a report.
PEOPLE = [
    {
        "first": "ZOÉ",
        "last": "MARTINELLI",
        "email": "zoe.martinelli@example.org",
        "phone": "+33 6 12 34 56 78",
        "birth": dt.date(1987, 3, 14),
        "street": "RUE DES LILAS",
        "city": "MONTÉLIMAR",
        "zip": "26200",
    },
    {
        "first": "BARTHOLOMEW",
        "last": "QUIGGLESWORTH",
        "email": "bart.quiggles@example.net",
        "phone": "0798765432",
        "birth": dt.date(1964, 11, 29),
        "street": "AVENUE FOCH",
        "city": "BRIVE",
        "zip": "19100",
    },
]


def _full_profile(person: dict[str, Any]) -> m.PersonProfilRequest:
    return m.PersonProfilRequest(
        person_request=m.PersonRequest(
            first_name=person["first"],
            last_name=person["last"],
            birth_date=person["birth"],
            title=m.Title.MR,
        ),
        entity_request=m.EntityRequest(entity_identifier=STORE),
        contacts_request=m.ContactsRequest(
            email_request=m.EmailRequest(email_value=person["email"]),
            cell_phone_request=m.CellPhoneRequest(number=person["phone"]),
            address_request=m.AddressRequest(
                address3_num=42,
                address3_name=person["street"],
                zip_code=person["zip"],
                city=person["city"],
            ),
        ),
    )


async def seed(probed: WsOneSimulator) -> list[str]:
    """Create the people with a web account and a card, and a receipt; returns their cards."""
    cards = []
    async with WsOneClient(probed.url, username=USER, password=PASSWORD) as client:
        for person in PEOPLE:
            created = await client.create_person_and_identifier(
                m.CreatePersonAndIdentifierRequest(
                    new_identifier_request=m.NewIdentifierRequest(
                        identifier_type=m.IdentifierType.WEB_ACCOUNT,
                        identifier_value=person["email"],
                    ),
                    person_profil_request=_full_profile(person),
                    new_identifier_type=m.IdentifierType.CARD,
                )
            )
            assert created.new_identifier_response is not None
            card = created.new_identifier_response.identifier_value
            assert card is not None
            cards.append(card)
            await client.send_and_valid_transaction(
                m.SendAndValidTransactionRequest(
                    identifier_request=card_key(card),
                    receipt_request=m.ReceiptRequest(
                        receipt_number=f"SEED-{card[-4:]}",
                        receipt_date=dt.datetime.now().replace(microsecond=0),
                        amount=25.0,
                        entity_request=m.EntityRequest(entity_identifier=STORE),
                    ),
                )
            )
    return cards


def secrets_of(cards: list[str]) -> list[str]:
    """Every recognisable value a report must not hold, in the spellings WsOne uses."""
    values = [PASSWORD, USER, *cards]
    for person in PEOPLE:
        values += [person["first"], person["last"], person["email"], person["city"]]
        values += [person["street"], person["phone"], person["phone"].replace(" ", "")]
        values += [person["birth"].strftime("%d/%m/%Y"), person["birth"].isoformat()]
        values.append(person["email"].split("@")[0])
    return values


@pytest.fixture
async def probed() -> AsyncIterator[WsOneSimulator]:
    async with WsOneSimulator(username=USER, password=PASSWORD) as simulator:
        yield simulator


# ----------------------------------------------------------------- the altering proxy


class Raw:
    """An answer the proxy sends as it is: any status, headers, body; chunked if asked."""

    def __init__(
        self, status: int, body: bytes, headers: dict[str, str], *, chunked: bool = False
    ) -> None:
        self.status, self.body, self.headers, self.chunked = status, body, headers, chunked

    async def send(self, request: web.Request) -> web.StreamResponse:
        if not self.chunked:
            return web.Response(status=self.status, body=self.body, headers=self.headers)
        response = web.StreamResponse(status=self.status, headers=self.headers)
        response.enable_chunked_encoding()
        await response.prepare(request)
        half = len(self.body) // 2
        await response.write(self.body[:half])
        await response.write(self.body[half:])
        await response.write_eof()
        return response


Alter = Callable[[str, dict[str, Any]], "dict[str, Any] | Raw"]


@pytest.fixture
async def proxy() -> AsyncIterator[Callable[[str, Alter], Any]]:
    """Starts a proxy on 127.0.0.1 in front of a URL, rewriting its JSON answers."""
    runners: list[web.AppRunner] = []
    session = aiohttp.ClientSession()

    async def start(target: str, alter: Alter) -> str:
        async def forward(request: web.Request) -> web.Response:
            body = await request.read()
            headers = {
                k: v
                for k, v in request.headers.items()
                if k.lower() in ("authorization", "content-type", "accept")
            }
            async with session.post(target + request.path, data=body, headers=headers) as reply:
                data = await reply.read()
                status = reply.status
            if reply.content_type == "application/json":
                answer = orjson.loads(data)
                if isinstance(answer, dict):
                    changed = alter(request.path.rsplit("/", 1)[-1], answer)
                    if isinstance(changed, Raw):
                        return await changed.send(request)
                    data = orjson.dumps(changed)
            return web.Response(body=data, status=status, content_type="application/json")

        app = web.Application()
        app.router.add_route("POST", "/{tail:.*}", forward)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        runners.append(runner)
        port = runner.addresses[0][1]
        return f"http://127.0.0.1:{port}"

    yield start
    for runner in runners:
        await runner.cleanup()
    await session.close()


NOT_FOUND = "E-0404"


def alter(operation: str, answer: dict[str, Any]) -> dict[str, Any]:
    """Plant unknown keys, other types and another "not found" code in the answers."""
    if answer.get("responseCode") == "101":
        value = PEOPLE[0]["email"]
        return {"responseCode": NOT_FOUND, "infos": f"Aucune personne trouvée pour {value}"}
    # getFullPerson answers without an envelope, as the vendor's example does.
    if answer.get("responseCode", "000") != "000":
        return answer
    if operation == "getPerson" and answer.get("PersonResponse"):
        answer["PersonResponse"]["PersonResponse"]["loyaltyTier"] = "GOLD"
        answer["PersonResponse"]["Preferences"] = {"channel": "sms"}
    elif operation == "getAccounts":
        for account in answer.get("AccountResponse") or []:
            account["value"] = str(account["value"])
    elif operation == "getFullPerson":
        answer[PEOPLE[0]["email"]] = True
    elif operation == "getEntities":
        for entity in answer.get("EntityResponse") or []:
            entity["entityIdentifier"] = int(entity["entityIdentifier"])
    return answer


PLANTED = {
    ("getPerson", "PersonResponse.PersonResponse.loyaltyTier", "unknown", "-", "string"),
    ("getPerson", "PersonResponse.Preferences", "unknown", "-", "object"),
    ("getAccounts", "AccountResponse[].value", "type", "number", "string"),
    ("getFullPerson", safe_key(PEOPLE[0]["email"]), "unknown", "-", "boolean"),
    ("getEntities", "EntityResponse[].entityIdentifier", "type", "string", "integer"),
}


def differences(report: dict[str, Any]) -> set[tuple[str, ...]]:
    return {
        (d["operation"], d["path"], d["kind"], d["declared"], d["seen"])
        for d in report["differences"]
    }


def refusal(report: dict[str, Any], purpose: str) -> dict[str, Any]:
    (found,) = [r for r in report["refusals"] if r["purpose"] == purpose]
    return found


async def probe(url: str, card: str, **kwargs: Any) -> dict[str, Any]:
    return await _probe.run_probe(
        base_url=url, user=USER, password=PASSWORD, identifier=card_key(card), **kwargs
    )


# ------------------------------------------------------------------------------ tests


async def test_against_the_simulator_every_answer_fits_and_every_read_runs(
    probed: WsOneSimulator,
) -> None:
    cards = await seed(probed)
    report = await probe(probed.url, cards[0], entity=STORE)

    assert report["differences"] == []
    reads = {op.name for op in operations.OPERATIONS if not op.is_write}
    assert {c["operation"] for c in report["calls"]} == reads
    assert all(c["http_status"] == 200 for c in report["calls"])
    assert report["headers"]["Server"]
    assert "Retry-After" not in report["headers"]
    # The simulator's "not found" code, learnt from a lookup of an identifier that is not.
    assert refusal(report, "an identifier that does not exist")["response_code"] == "101"
    assert report["enum_codes"] == {"IdentifierType": [1, 10], "Title": [1]}
    assert report["summary"]["calls"] == len(report["calls"])


async def test_writes_run_the_demo_workflow_and_its_duplicates(probed: WsOneSimulator) -> None:
    cards = await seed(probed)
    persons = probed.backend.persons_count()
    report = await probe(probed.url, cards[0], entity=STORE, allow_writes=True)

    purposes = {c["purpose"]: c for c in report["calls"]}
    for purpose in (
        "a new test person",
        "a card for the test person",
        "a receipt for the test person",
        "the receipt validated",
        "the receipt verified",
        "the receipt refunded",
    ):
        assert purposes[purpose]["outcome"] == "matched", purpose
    assert refusal(report, "an intentional duplicate person")["response_code"] == "102"
    assert refusal(report, "an intentional duplicate receipt")["response_code"] == "402"
    assert probed.backend.persons_count() == persons + 1
    assert report["differences"] == []


async def test_altered_answers_the_report_names_exactly_those_differences(
    probed: WsOneSimulator, proxy: Callable[[str, Alter], Any]
) -> None:
    cards = await seed(probed)
    plain = await probe(probed.url, cards[0])
    url = await proxy(probed.url, alter)
    altered = await probe(url, cards[0])

    assert differences(altered) == PLANTED
    assert refusal(altered, "an identifier that does not exist")["response_code"] == NOT_FOUND
    infos = refusal(altered, "an identifier that does not exist")["infos"]
    assert infos == "Aucune personne trouvée pour <email>"
    # Nothing else moved: the same calls, outcomes aside, and the same blocks not seen.
    assert [c["operation"] for c in altered["calls"]] == [c["operation"] for c in plain["calls"]]
    assert altered["missing_blocks"] == plain["missing_blocks"]
    outcomes = {c["operation"]: c["outcome"] for c in altered["calls"] if c["outcome"] != "refused"}
    assert {op for op, outcome in outcomes.items() if outcome == "differs"} == {
        d[0] for d in PLANTED
    }

    markdown = _probe.render_markdown(altered)
    for operation, path, *_ in PLANTED:
        assert f"| {operation} | `{path}` |" in markdown
    assert f"`{NOT_FOUND}`" in markdown


@pytest.mark.usefixtures("password_env")
async def test_reports_hold_no_personal_data_and_no_credential(
    probed: WsOneSimulator, proxy: Callable[[str, Alter], Any], tmp_path: pathlib.Path
) -> None:
    cards = await seed(probed)
    url = await proxy(probed.url, alter)
    texts = []
    for target, writes in ((probed.url, True), (url, False)):
        for card in cards:
            report = await probe(target, card, allow_writes=writes)
            texts.append(json.dumps(report, ensure_ascii=False))
            texts.append(_probe.render_markdown(report))
    # Through the command too: the files it writes.
    secrets = secrets_of(cards)
    texts += await run_cli(probed.url, cards[0], tmp_path, "--allow-writes")
    assert len(texts) == 10
    for text in texts:
        folded = text.casefold()
        for value in secrets:
            assert value.casefold() not in folded, value
        # No run of 10 digits or more (cards, phones) survives either.
        assert not re.search(r"\d{10}", text)


async def run_cli(url: str, card: str, folder: pathlib.Path, *extra: str) -> list[str]:
    status = await asyncio.to_thread(
        cli.main,
        [
            "probe",
            "--base-url",
            url,
            "--user",
            USER,
            "--identifier",
            f"1:{card}",
            "--report",
            str(folder / "report"),
            *extra,
        ],
    )
    assert status == 0
    return [
        (folder / "report.md").read_text("utf-8"),
        (folder / "report.json").read_text("utf-8"),
    ]


@pytest.fixture
def password_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(_probe.PASSWORD_ENV, PASSWORD)


@pytest.mark.usefixtures("password_env")
async def test_the_command_writes_both_reports(
    probed: WsOneSimulator, tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cards = await seed(probed)
    markdown, text = await run_cli(probed.url, cards[0], tmp_path)
    report = json.loads(text)
    assert report["format"] == "wsone-probe/1"
    assert markdown.startswith("# wsone probe report")
    out = capsys.readouterr().out
    assert "difference(s) from the models" in out
    assert str(tmp_path / "report.md") in out


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.parametrize(
    ("args", "status", "message"),
    [
        (["--identifier", "1234567891011"], 2, "--identifier must be TYPE:VALUE"),
        (["--identifier", "card:"], 2, "--identifier must be TYPE:VALUE"),
        (["--identifier", "x1:123"], 2, "TYPE must be a number"),
        (["--report", "/nonexistent-folder/r"], 2, "does not exist"),
        (["--base-url", "ftp://example.fr"], 2, "absolute http(s) URL"),
        (["--base-url", "http://example.fr"], 2, "plain http"),
        (["--timeout", "0"], 2, "--timeout must be a positive"),
        (["--user", " "], 2, "--user must not be empty"),
    ],
)
@pytest.mark.usefixtures("password_env")
def test_bad_inputs_get_one_line_and_a_status(
    args: list[str],
    status: int,
    message: str,
    tmp_path: pathlib.Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    base = {
        "--base-url": f"http://127.0.0.1:{_free_port()}",
        "--user": USER,
        "--identifier": "1:4242424242424",
        "--report": str(tmp_path / "r"),
    }
    for flag, value in zip(args[::2], args[1::2], strict=True):
        base[flag] = value
    argv = ["probe", *[item for pair in base.items() for item in pair]]
    assert cli.main(argv) == status
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    assert message in err
    assert "Traceback" not in err
    assert "4242424242424" not in err
    assert not list(tmp_path.iterdir())


def test_no_password_and_no_terminal(
    monkeypatch: pytest.MonkeyPatch, tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv(_probe.PASSWORD_ENV, raising=False)
    argv = ["probe", "--base-url", "https://wsone.example.fr", "--user", USER]
    argv += ["--identifier", "1:1", "--report", str(tmp_path / "r")]
    assert cli.main(argv) == _probe.EXIT_USAGE
    assert f"set ${_probe.PASSWORD_ENV}" in capsys.readouterr().err


@pytest.mark.usefixtures("password_env")
def test_unreachable_wsone(tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["probe", "--base-url", f"http://127.0.0.1:{_free_port()}", "--user", USER]
    argv += ["--identifier", "1:1234567891011", "--report", str(tmp_path / "r")]
    assert cli.main(argv) == _probe.EXIT_UNREACHABLE
    err = capsys.readouterr().err
    assert err.startswith("wsone probe: cannot reach WsOne")
    assert err.count("\n") == 1


async def test_refused_credentials(
    probed: WsOneSimulator,
    tmp_path: pathlib.Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(_probe.PASSWORD_ENV, "wrong-password")
    argv = ["probe", "--base-url", probed.url, "--user", USER, "--identifier", "1:1234567891011"]
    argv += ["--report", str(tmp_path / "r")]
    assert await asyncio.to_thread(cli.main, argv) == _probe.EXIT_AUTH
    err = capsys.readouterr().err
    assert "refused the credentials (HTTP 401)" in err
    assert "wrong-password" not in err
    assert not await asyncio.to_thread(lambda: list(tmp_path.iterdir()))


@pytest.mark.parametrize(
    ("text", "kind", "value"),
    [
        ("1:1234567891011", 1, "1234567891011"),
        ("10:jean@example.fr", 10, "jean@example.fr"),
        ("web:jean@example.fr", 10, "jean@example.fr"),
        ("card: 123 ", 1, "123"),
        ("7:a:b", 7, "a:b"),
    ],
)
def test_identifiers(text: str, kind: int, value: str) -> None:
    identifier = _probe.parse_identifier(text)
    assert (identifier.identifier_type, identifier.identifier_value) == (kind, value)


def test_scrubbed_vendor_texts() -> None:
    scrub = _probe.Scrubber(["DUPOND JEAN"])
    text = "Carte 1234567891011 de Jean Dupond (jean@x.fr), née le 01/02/1990, tel 06 12 34 56 78"
    assert scrub.text(text) == (
        "Carte <digits> de <redacted> <redacted> (<email>), née le <date>, tel <digits>"
    )
    assert scrub.text("Person not found") == "Person not found"
    assert scrub.text("Jeanne Dupondt") == "Jeanne Dupondt"  # whole words only
    assert scrub.text("Error 102 on ref AB12CD34EF") == "Error 102 on ref <id>"


def odd_answers(operation: str, answer: dict[str, Any]) -> dict[str, Any] | Raw:
    """A chunked answer, an HTTP 503 with Retry-After, and JSON that does not fit."""
    json_headers = {"Content-Type": "application/json", "Connection": "keep-alive"}
    if operation == "getAccounts" and answer.get("responseCode") == "000":
        answer["AccountResponse"][0]["tier"] = "GOLD"
        return Raw(200, orjson.dumps(answer), json_headers, chunked=True)
    if operation == "getBadge":
        headers = {"Retry-After": "120", "Content-Type": "text/html"}
        return Raw(503, b"<html>busy</html>", headers)
    if operation == "getLastTransaction":
        return {"responseCode": "000", "TransactionResponse": ["not", "an", "object"]}
    return answer


async def test_chunked_bodies_statuses_headers_and_undecodable_answers(
    probed: WsOneSimulator, proxy: Callable[[str, Alter], Any]
) -> None:
    cards = await seed(probed)
    url = await proxy(probed.url, odd_answers)
    report = await probe(url, cards[0], entity=STORE)
    calls = {c["operation"]: c for c in report["calls"]}

    # A chunked body is not traced by aiohttp: it is rebuilt from the decoded answer.
    assert calls["getAccounts"]["outcome"] == "differs"
    assert calls["getAccounts"]["headers"]["Connection"] == "keep-alive"
    assert calls["getAccounts"]["headers"]["Server"].startswith("Python/")
    assert ("getAccounts", "AccountResponse[].tier", "unknown", "-", "string") in differences(
        report
    )
    assert calls["getBadge"]["outcome"] == "HTTP error"
    assert calls["getBadge"]["http_status"] == 503
    assert calls["getBadge"]["headers"]["Retry-After"] == "120"
    assert report["headers"]["Retry-After"] == ["120"]
    assert report["http_statuses"]["503"] == 1
    assert calls["getLastTransaction"]["outcome"] == "undecodable"
    assert "TransactionResponse" in calls["getLastTransaction"]["error"]
    assert ("getLastTransaction", "TransactionResponse", "type", "object", "array") in (
        differences(report)
    )
    markdown = _probe.render_markdown(report)
    assert "| 503 |" in markdown
    assert "`Retry-After`: `120`" in markdown


@pytest.mark.usefixtures("password_env")
def test_allow_insecure_http_opens_plain_http_off_loopback_as_for_import(
    tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # 0.0.0.0 is not a loopback address, yet on this machine a connection to it stays here:
    # refused (nothing listens on the port), which shows the URL was let through.
    argv = ["probe", "--base-url", f"http://0.0.0.0:{_free_port()}", "--user", USER]
    argv += ["--identifier", "1:1234567891011", "--report", str(tmp_path / "r")]
    assert cli.main(argv) == _probe.EXIT_USAGE
    refused = capsys.readouterr().err
    assert "plain http" in refused and "--allow-insecure-http" in refused  # the option's name
    assert cli.main([*argv, "--allow-insecure-http"]) == _probe.EXIT_UNREACHABLE
    assert capsys.readouterr().err.startswith("wsone probe: cannot reach WsOne")
    # One definition: the same flag, the same words, in both commands.
    parser = cli.build_parser()
    commands = next(a for a in parser._actions if a.dest == "command").choices
    helps = [
        next(a for a in commands[name]._actions if a.dest == "allow_insecure_http")
        for name in ("import", "probe")
    ]
    assert helps[0].option_strings == helps[1].option_strings == ["--allow-insecure-http"]
    assert helps[0].help == helps[1].help and helps[0].default is helps[1].default is False
