"""No credential and no personal data anywhere a human could read it; TLS verified by default.

Every scenario below runs calls whose request is full of one customer's recognisable data,
with a distinctive password, then gathers everything a person could end up reading:

* every log record of every logger, at DEBUG (the formatted text, each record's message and
  its raw ``args``, as a structured-logging handler would ship them);
* every exception that reaches the caller: ``str()``, ``repr()``,
  ``traceback.format_exception()``, and the ``str()``/``repr()`` of every exception on its
  ``__cause__``/``__context__`` chain (suppressed contexts included: a debugger shows them);
* the reprs of the client, of requests and responses, of ``AttemptInfo`` and of the bulk
  import's results;

and asserts that none of it holds the password, the Basic token, or any of the customer's
values, compared case-insensitively, with the birth date in several spellings and the phone
and card numbers whatever their separators.

Six leaks were found while writing this suite and fixed in the library; the tests that
found them are at the end.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import importlib.util
import json
import logging
import pathlib
import re
import shutil
import socket
import ssl
import subprocess
import traceback
from collections.abc import AsyncIterator, Awaitable, Iterable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import aiohttp
import pytest
from aiohttp import web

from tests._support.builders import card_key
from tests._support.clients import client_for
from tests._support.data import example
from tests._support.mocks import FakeClock
from tests._support.server import FakeWsOne, body, drop_after, fake_wsone, hang, status
from wsone_async import (
    APIConnectionError,
    APIError,
    APITimeoutError,
    AttemptInfo,
    AuthenticationError,
    HTTPStatusError,
    NotFoundError,
    OutcomeUnknownError,
    RateLimitError,
    ResponseDecodeError,
    ResponseTooLargeError,
    RetryPolicy,
    ServerError,
    Timeouts,
    WsOneClient,
    WsOneError,
    from_wire,
    register_error_code,
)
from wsone_async._codec import redact_wire
from wsone_async.bulk import ImportResult, Outcome, RowError, prospect_from_row, run_import
from wsone_async.errors import unregister_error_code
from wsone_async.models import (
    AddressRequest,
    CellPhoneRequest,
    ContactsRequest,
    CreatePersonRequest,
    CreatePersonResponse,
    EmailRequest,
    EntityRequest,
    FullPersonRequest,
    GetFullPersonRequest,
    GetFullPersonResponse,
    GetPersonRequest,
    IdentifierRequest,
    IdentifierType,
    NewIdentifierRequest,
    PersonProfilRequest,
    PersonRequest,
    ReceiptRequest,
    SearchPersonRequest,
    SendAndValidFullTransactionRequest,
    Title,
    UpdatePersonRequest,
)
from wsone_async.models._base import Kind, Model, model_fields
from wsone_async.testing import WsOneSimulator

E = TypeVar("E", bound=BaseException)

# ----------------------------------------------------------------------------- secrets

USERNAME = "svc-fidelite"
PASSWORD = "Quokka-Zebra-7719!secret"
TOKEN = base64.b64encode(f"{USERNAME}:{PASSWORD}".encode()).decode()

FIRST_NAME = "Philomène"
LAST_NAME = "Zyblikiewicz"
EMAIL = "philomene.zyblikiewicz@courriel-prive.fr"
PHONE = "0687412359"
BIRTH_DATE = dt.date(1983, 11, 27)
ADDRESS1 = "Résidence Les Glycines"
ADDRESS2 = "Bâtiment Quetzal"
STREET_NUMBER = 4817
STREET_NAME = "Rue du Papillon Bleu"
ZIP_CODE = "29300"
CITY = "Quimperlé"
CARD = "2900012345678"

#: Texts that must appear nowhere, compared case-insensitively.
TEXT_SECRETS: dict[str, str] = {
    "password": PASSWORD,
    "basic token": TOKEN,
    "first name": FIRST_NAME,
    "last name": LAST_NAME,
    "email": EMAIL,
    "email's local part": EMAIL.split("@")[0],
    "birth date dd/MM/yyyy": BIRTH_DATE.strftime("%d/%m/%Y"),
    "birth date ISO": BIRTH_DATE.isoformat(),
    "birth date dd-MM-yyyy": BIRTH_DATE.strftime("%d-%m-%Y"),
    "birth date dd.MM.yyyy": BIRTH_DATE.strftime("%d.%m.%Y"),
    "address line 1": ADDRESS1,
    "address line 2": ADDRESS2,
    "street name": STREET_NAME,
    "city": CITY,
}
#: Numbers that must appear nowhere, not even with spaces, dots or dashes inside them.
DIGIT_SECRETS: dict[str, str] = {"phone": PHONE[1:], "card": CARD}
#: Short numbers that must appear nowhere as a whole number.
NUMBER_SECRETS: dict[str, str] = {"street number": str(STREET_NUMBER), "zip code": ZIP_CODE}

#: What a vendor's ``infos`` could say after a createPerson: it echoes everything it got.
ECHO = (
    f"La personne {FIRST_NAME.upper()} {LAST_NAME.upper()} née le 27/11/1983 "
    f"({EMAIL}, 06 87 41 23 59, {ADDRESS1}, {ADDRESS2}, {STREET_NUMBER} "
    f"{STREET_NAME.lower()}, {ZIP_CODE} {CITY.upper()}, carte {CARD}) existe déjà"
)


def find_leaks(text: str) -> list[str]:
    """The secrets ``text`` holds, by label."""
    folded = text.casefold()
    found = [label for label, value in TEXT_SECRETS.items() if value.casefold() in folded]
    squeezed = re.sub(r"[\s.\-]", "", text)
    found += [label for label, digits in DIGIT_SECRETS.items() if digits in squeezed]
    found += [
        label
        for label, number in NUMBER_SECRETS.items()
        if re.search(rf"(?<!\d){number}(?!\d)", text)
    ]
    return found


def assert_no_leak(texts: Iterable[str]) -> None:
    leaks: dict[str, str] = {}
    for text in texts:
        for label in find_leaks(text):
            leaks.setdefault(label, text)
    assert not leaks, "leaked:\n" + "\n".join(
        f"- {label} in: {text[:600]!r}" for label, text in leaks.items()
    )


def exception_texts(error: BaseException) -> list[str]:
    """What a person may read of ``error``: messages, reprs, traceback, the whole chain."""
    texts = ["".join(traceback.format_exception(error))]
    seen: set[int] = set()
    pending: list[BaseException] = [error]
    while pending:
        current = pending.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        texts += [str(current), repr(current)]
        if isinstance(current, WsOneError):
            # Public attributes too (.operation, .reason, .request, .original...), except
            # APIError.infos, which keeps the vendor's raw text on purpose (documented).
            texts += [
                f"{name}={value!r}"
                for name, value in vars(current).items()
                if not name.startswith("_")
                and not (isinstance(current, APIError) and name == "infos")
            ]
        if isinstance(current, OutcomeUnknownError):
            # Kept on purpose for the caller: its repr must be redacted.
            texts += [repr(current.request), str(current.request)]
        pending += [e for e in (current.__cause__, current.__context__) if e is not None]
    return texts


class Exposure:
    """Collects what a person could read in one scenario; ``check()`` asserts it is clean."""

    def __init__(self, caplog: pytest.LogCaptureFixture) -> None:
        self.caplog = caplog
        self.texts: list[str] = []

    def error(self, error: BaseException) -> None:
        self.texts += exception_texts(error)

    def show(self, *objects: object) -> None:
        for obj in objects:
            self.texts += [repr(obj), str(obj)]

    def log_texts(self) -> list[str]:
        texts = [self.caplog.text]
        for record in self.caplog.records:
            texts += [record.getMessage(), repr(record.args), record.name]
            if record.exc_info and record.exc_info[1] is not None:
                texts += exception_texts(record.exc_info[1])
        return texts

    def messages(self) -> str:
        return "\n".join(record.getMessage() for record in self.caplog.records)

    def check(self) -> None:
        assert_no_leak([*self.texts, *self.log_texts()])

    async def raises(self, kind: type[E], call: Awaitable[Any]) -> E:
        """Await ``call``, which must raise ``kind``; record the error."""
        with pytest.raises(kind) as info:
            await call
        self.error(info.value)
        return info.value


@pytest.fixture
def exposure(caplog: pytest.LogCaptureFixture) -> Exposure:
    caplog.set_level(logging.DEBUG)  # the root logger: every logger, every level
    return Exposure(caplog)


# ---------------------------------------------------------------------------- requests


def person_profile() -> PersonProfilRequest:
    return PersonProfilRequest(
        person_request=PersonRequest(
            first_name=FIRST_NAME, last_name=LAST_NAME, birth_date=BIRTH_DATE, title=Title(2)
        ),
        contacts_request=ContactsRequest(
            email_request=EmailRequest(email_value=EMAIL, allow_company_solicitation=True),
            cell_phone_request=CellPhoneRequest(dialing_code="33", number=PHONE),
            address_request=AddressRequest(
                address1=ADDRESS1,
                address2=ADDRESS2,
                address3_num=STREET_NUMBER,
                address3_type=5,
                address3_name=STREET_NAME,
                zip_code=ZIP_CODE,
                city=CITY,
                country="FRANCE",
            ),
        ),
        entity_request=EntityRequest(entity_identifier="123456"),
    )


def create_request() -> CreatePersonRequest:
    return CreatePersonRequest(
        new_identifier_request=NewIdentifierRequest(
            identifier_type=IdentifierType.WEB_ACCOUNT, identifier_value=EMAIL
        ),
        person_profil_request=person_profile(),
        source="WEB",
    )


def full_person_request() -> GetFullPersonRequest:
    return GetFullPersonRequest(identifier_request=card_key(CARD))


def search_request() -> SearchPersonRequest:
    profile = person_profile()
    return SearchPersonRequest(
        person_request=profile.person_request, contacts_request=profile.contacts_request
    )


def receipt_request(number: str | None = "T-2024-0042") -> SendAndValidFullTransactionRequest:
    return SendAndValidFullTransactionRequest(
        identifier_request=card_key(CARD),
        full_person_request=FullPersonRequest(person_profil_request=person_profile()),
        receipt_request=ReceiptRequest(
            receipt_number=number, amount=42.5, entity_request=EntityRequest(entity_identifier="1")
        ),
    )


#: WsOne's answer about this customer: every personal field filled.
PERSON_BLOCK: dict[str, Any] = {
    "PersonResponse": {
        "groupeId": "1559379",
        "firstName": FIRST_NAME.upper(),
        "lastName": LAST_NAME.upper(),
        "birthDate": "27/11/1983",
        "title": 2,
    },
    "IdentifierResponse": [
        {"activationDate": "2025-09-24 11:20:00.000", "identifierValue": CARD, "identifierType": 1},
        {"identifierValue": EMAIL, "identifierType": 10},
    ],
    "ContactsResponse": {
        "EmailResponse": {"status": 1, "emailValue": EMAIL, "allowCompanySolicitation": 1},
        "CellPhoneResponse": {"dialingCode": "33", "number": PHONE},
        "AddressResponse": {
            "address1": ADDRESS1,
            "address2": ADDRESS2,
            "address3Num": STREET_NUMBER,
            "address3Name": STREET_NAME,
            "zipCode": ZIP_CODE,
            "city": CITY,
            "country": "FRANCE",
        },
    },
    "InfoPersonResponse": [],
}
FULL_PERSON: dict[str, Any] = {
    "responseCode": "000",
    "infos": "Request successfully processed",
    "PersonResponse": PERSON_BLOCK,
    "AccountsResponse": {
        "responseCode": "000",
        "AccountResponse": [{"name": "point", "value": 17, "unit": "pts"}],
    },
}
OK: dict[str, Any] = {"responseCode": "000", "infos": "Request successfully processed"}


def raw(data: bytes, *, code: int = 200, content_type: str = "application/json") -> Any:
    """A FakeWsOne action answering ``data`` as it is."""

    async def answer(request: web.Request, server: FakeWsOne) -> web.StreamResponse:
        return web.Response(body=data, status=code, content_type=content_type)

    return answer


def echoing_status(code: int, headers: dict[str, str] | None = None) -> Any:
    """A FakeWsOne action answering HTTP ``code`` with a body that echoes the request."""

    async def answer(request: web.Request, server: FakeWsOne) -> web.StreamResponse:
        echoed = {"error": ECHO, "request": await request.json()}
        return web.json_response(echoed, status=code, headers=headers)

    return answer


def watched_client(url: str, clock: FakeClock, **options: Any) -> WsOneClient:
    """A client with the recognisable credentials the detector looks for."""
    return client_for(url, clock, username=USERNAME, password=PASSWORD, **options)


def sent(fake: FakeWsOne) -> str:
    """What the client sent to the fake: proof that the personal data did travel."""
    return json.dumps(fake.bodies, ensure_ascii=False)


# ------------------------------------------------------------------- the detector itself


def test_the_detector_finds_every_secret_in_any_spelling() -> None:
    wire = json.dumps(
        {"request": json.loads(json.dumps(PERSON_BLOCK)), "card": CARD, "pw": PASSWORD},
        ensure_ascii=False,
    )
    header = f"Authorization: Basic {TOKEN}"
    found = set(find_leaks(wire + header + ECHO))
    assert found == {*TEXT_SECRETS, *DIGIT_SECRETS, *NUMBER_SECRETS} - {
        "birth date ISO",
        "birth date dd-MM-yyyy",
        "birth date dd.MM.yyyy",
    }
    assert find_leaks("born 1983-11-27") == ["birth date ISO"]
    assert find_leaks("PHILOMÈNE") == ["first name"]
    assert find_leaks("call +33 6.87.41.23.59") == ["phone"]
    assert find_leaks("card 2900 0123 4567 8") == ["card"]
    assert find_leaks("port 48170, zip 293001, 14817 ms") == []
    assert find_leaks("HTTP status 503, attempt 2 of 3, <redacted>") == []
    with pytest.raises(AssertionError, match="last name"):
        assert_no_leak(["ok", f"dear {LAST_NAME.lower()}"])


def test_exception_texts_walk_the_whole_chain() -> None:
    try:
        try:
            raise KeyError(EMAIL)
        except KeyError:
            raise ValueError("outer") from None  # suppressed context, still reachable
    except ValueError as error:
        assert "email" in find_leaks("".join(exception_texts(error)))


# ------------------------------------------------------------------------- the scenarios


def test_reprs_of_client_requests_and_configuration_hide_everything() -> None:
    client = WsOneClient("https://wsone.example.fr", username=USERNAME, password=PASSWORD)
    view = client.with_options(retry=RetryPolicy(max_retries=0))
    requests = [
        create_request(),
        full_person_request(),
        search_request(),
        receipt_request(),
        UpdatePersonRequest(
            identifier_request=card_key(CARD), person_profil_request=person_profile()
        ),
        GetPersonRequest(identifier_request=card_key(CARD)),
    ]
    texts = [repr(client), str(client), repr(view), repr(vars(client)), repr(client.timeouts)]
    texts += [repr(client.retry_policy)]
    for request in requests:
        texts += [repr(request), str(request)]
        assert "<redacted>" in repr(request)
    assert_no_leak(texts)
    assert USERNAME in repr(client)  # the repr does say something useful


async def test_successes_and_retries_log_and_show_nothing_personal(
    exposure: Exposure, clock: FakeClock
) -> None:
    attempts: list[AttemptInfo] = []
    async with fake_wsone() as fake:
        fake.script("createPerson", body(OK), status(503, {"Retry-After": "0"}), body(OK))
        fake.script("createPerson", status(429, {"Retry-After": "1"}), body(OK))
        fake.script("getFullPerson", status(500), drop_after, body(FULL_PERSON))
        fake.script("searchPerson", body({**OK, "PersonResponse": [PERSON_BLOCK]}))
        fake.script("updatePerson", body(OK))
        async with watched_client(fake.url, clock, on_attempt=attempts.append) as client:
            responses = [
                await client.create_person(create_request()),
                await client.create_person(create_request()),
                await client.create_person(create_request()),
                await client.get_full_person(full_person_request()),
                await client.search_person(search_request()),
                await client.update_person(
                    UpdatePersonRequest(
                        identifier_request=card_key(CARD), person_profil_request=person_profile()
                    )
                ),
            ]
            exposure.show(client, *responses, *attempts)
        assert fake.processed["createPerson"] == 5
        assert EMAIL in sent(fake) and LAST_NAME in sent(fake)
    full = responses[3]
    assert full.person_response is not None and full.person_response.person_response is not None
    assert full.person_response.person_response.last_name == LAST_NAME.upper()
    assert len(attempts) == 10
    assert [i.error is not None for i in attempts].count(True) == 4
    log = exposure.messages()
    assert log.count("retrying") == 4
    assert "createPerson request" in log and "getFullPerson answer" in log
    assert "searchPerson answer" in log
    exposure.check()


async def test_api_errors_echoing_the_request_are_scrubbed(
    exposure: Exposure, clock: FakeClock
) -> None:
    class BusyError(APIError):
        retryable = True

    register_error_code("E-BUSY", BusyError)
    try:
        async with fake_wsone() as fake:
            fake.script("createPerson", body({"responseCode": "102", "infos": ECHO}))
            fake.script("updatePerson", body({"responseCode": "103", "infos": ECHO}))
            busy = body({"responseCode": "E-BUSY", "infos": ECHO})
            fake.script("searchPerson", busy, busy, busy)
            async with watched_client(fake.url, clock) as client:
                created = await exposure.raises(APIError, client.create_person(create_request()))
                updated = await exposure.raises(
                    APIError,
                    client.update_person(
                        UpdatePersonRequest(
                            identifier_request=IdentifierRequest(
                                identifier_type=IdentifierType.WEB_ACCOUNT, identifier_value=EMAIL
                            ),
                            person_profil_request=person_profile(),
                        )
                    ),
                )
                searched = await exposure.raises(BusyError, client.search_person(search_request()))
    finally:
        unregister_error_code("E-BUSY")
    assert fake.processed["searchPerson"] == 3  # retried twice, each retry logged
    assert exposure.messages().count("retrying searchPerson") == 2
    for error in (created, updated, searched):
        assert error.infos == ECHO  # the raw text stays where the caller asked for it
        assert ".infos" in str(error)  # the message points there and quotes none of it
    exposure.check()


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        (400, HTTPStatusError),
        (401, AuthenticationError),
        (403, AuthenticationError),
        (404, HTTPStatusError),
        (408, HTTPStatusError),
        (429, RateLimitError),
        (500, ServerError),
        (502, ServerError),
        (503, ServerError),
        (504, ServerError),
    ],
)
async def test_http_status_errors_show_nothing_of_the_answer(
    exposure: Exposure, clock: FakeClock, code: int, expected: type[HTTPStatusError]
) -> None:
    headers = {"Retry-After": "3600", "WWW-Authenticate": 'Basic realm="WsOne"'}
    async with fake_wsone() as fake:
        fake.default = echoing_status(code, headers)
        async with watched_client(fake.url, clock, retry=RetryPolicy(max_retries=1)) as client:
            read = await exposure.raises(expected, client.get_full_person(full_person_request()))
            write = await exposure.raises(
                WsOneError, client.send_and_valid_full_transaction(receipt_request())
            )
        assert CARD in sent(fake)
    assert type(read) is expected and read.status == code
    assert isinstance(write, HTTPStatusError | OutcomeUnknownError)
    exposure.check()


async def test_connection_errors_show_nothing_personal(
    exposure: Exposure, clock: FakeClock
) -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    async with watched_client(f"http://127.0.0.1:{port}", clock) as client:
        refused = await exposure.raises(
            APIConnectionError, client.get_full_person(full_person_request())
        )
        refused_write = await exposure.raises(
            APIConnectionError, client.create_person(create_request())
        )
    assert not refused.request_sent and not refused_write.request_sent
    async with fake_wsone() as fake:
        fake.default = drop_after
        async with watched_client(fake.url, clock) as client:
            dropped = await exposure.raises(
                APIConnectionError, client.search_person(search_request())
            )
        https_url = fake.url.replace("http://", "https://")
        async with watched_client(https_url, clock) as client:  # TLS to a plain HTTP server
            no_tls = await exposure.raises(
                APIConnectionError, client.create_person(create_request())
            )
        assert LAST_NAME in sent(fake)
    assert dropped.request_sent and not no_tls.request_sent
    assert len(clock.sleeps) == 8  # every one of them was retried twice
    exposure.check()


async def test_timeouts_show_nothing_personal(exposure: Exposure, clock: FakeClock) -> None:
    # The read limit fires first; the attempt's, which also bounds connecting, is roomy.
    limits = Timeouts(connect=2.0, read=0.05, attempt=2.0, total=10.0)
    async with fake_wsone() as fake:
        fake.default = hang
        async with watched_client(
            fake.url, clock, timeout=limits, retry=RetryPolicy(max_retries=1)
        ) as client:
            read = await exposure.raises(APITimeoutError, client.search_person(search_request()))
            write = await exposure.raises(
                OutcomeUnknownError, client.create_person(create_request())
            )
        assert fake.processed == {"searchPerson": 2, "createPerson": 1}
    assert read.request_sent
    assert isinstance(write.__cause__, APITimeoutError)
    exposure.check()


async def test_outcome_unknown_holds_the_request_but_shows_it_redacted(
    exposure: Exposure, clock: FakeClock
) -> None:
    bad_type = {**OK, "NewIdentifierResponse": {"identifierValue": {"email": EMAIL}}}
    huge = {**OK, "padding": [ECHO] * 40}
    causes: dict[str, type[WsOneError]] = {}
    async with fake_wsone() as fake:
        fake.script(
            "createPerson",
            drop_after,
            echoing_status(500),
            echoing_status(502),
            echoing_status(408),
            raw(f"<html><body>Bienvenue {FIRST_NAME} {LAST_NAME}</body></html>".encode()),
            raw(json.dumps({**OK, "infos": ECHO})[:-40].encode()),  # truncated JSON
            body(bad_type),
            body([ECHO]),
            body(huge),
        )
        request = create_request()
        async with watched_client(fake.url, clock, max_response_size=2048) as client:
            for _ in range(9):
                error = await exposure.raises(OutcomeUnknownError, client.create_person(request))
                assert error.request is request
                assert error.request == create_request()
                assert repr(error.request).count("<redacted>") >= 10
                assert error.__cause__ is not None
                causes[str(error.__cause__)] = type(error.__cause__)
        assert fake.processed["createPerson"] == 9  # never retried
    assert set(causes.values()) == {
        APIConnectionError,
        ServerError,
        HTTPStatusError,
        ResponseDecodeError,
        ResponseTooLargeError,
    }
    exposure.check()


async def test_outcome_unknown_with_reconcile_writes(exposure: Exposure, clock: FakeClock) -> None:
    policy = RetryPolicy(reconcile_writes=True, max_retries=1)
    found = {**OK, "PersonResponse": PERSON_BLOCK}
    # A lookup by identifier can only echo the identifier it was given.
    not_found = {"responseCode": "101", "infos": f"Identifiant {EMAIL} (type 10) inconnu"}
    async with fake_wsone() as fake:
        # 1: getPerson cannot tell -> OutcomeUnknownError naming both failures
        fake.script("createPerson", drop_after)
        fake.script("getPerson", echoing_status(500), echoing_status(500))
        # 2: getPerson finds the person -> settled as applied
        fake.script("createPerson", echoing_status(502))
        fake.script("getPerson", body(found))
        # 3: not applied -> sent again, then created
        fake.script("createPerson", raw(b"<html>oops</html>"), body(OK))
        fake.script("getPerson", body(not_found))
        # 4 and 5: a receipt: verifyTransaction cannot tell; no receipt number to check
        fake.script("sendAndValidFullTransaction", drop_after, echoing_status(504))
        fake.script("verifyTransaction", echoing_status(503), echoing_status(503))
        codes = {"101": NotFoundError}  # this platform's "not found", for the settler
        async with watched_client(fake.url, clock, retry=policy, codes=codes) as client:
            unknown = await exposure.raises(
                OutcomeUnknownError, client.create_person(create_request())
            )
            applied = await client.create_person(create_request())
            resent = await client.create_person(create_request())
            receipt = await exposure.raises(
                OutcomeUnknownError, client.send_and_valid_full_transaction(receipt_request())
            )
            unchecked = await exposure.raises(
                OutcomeUnknownError,
                client.send_and_valid_full_transaction(receipt_request(number=None)),
            )
            exposure.show(applied, resent)
        assert fake.processed["createPerson"] == 4
        assert fake.processed["getPerson"] == 4
        assert EMAIL in sent(fake)
    assert "getPerson could not tell" in str(unknown)
    assert "verifyTransaction could not tell" in str(receipt)
    assert "cannot tell" in str(unchecked)
    assert applied.infos is not None and applied.infos.startswith("applied: settled by getPerson")
    assert resent.response_code == "000"
    assert "says it was applied" in exposure.messages()
    exposure.check()


@pytest.mark.parametrize(
    ("answer", "path"),
    [
        pytest.param(
            {**FULL_PERSON, "PersonResponse": {"PersonResponse": {"firstName": [FIRST_NAME]}}},
            "$.PersonResponse.PersonResponse.firstName",
            id="first-name-a-list",
        ),
        pytest.param(
            {**FULL_PERSON, "PersonResponse": {"PersonResponse": {"lastName": {"v": LAST_NAME}}}},
            "$.PersonResponse.PersonResponse.lastName",
            id="last-name-an-object",
        ),
        pytest.param(
            {**FULL_PERSON, "PersonResponse": {"PersonResponse": {"birthDate": 19831127}}},
            "$.PersonResponse.PersonResponse.birthDate",
            id="birth-date-a-number",
        ),
        pytest.param(
            {**FULL_PERSON, "PersonResponse": {"PersonResponse": {"birthDate": "1983-11-27 09h"}}},
            "$.PersonResponse.PersonResponse.birthDate",
            id="birth-date-odd-text",
        ),
        pytest.param(
            {**FULL_PERSON, "PersonResponse": {"PersonResponse": {"birthDate": "27/11/198X"}}},
            "$.PersonResponse.PersonResponse.birthDate",
            id="birth-date-bad-digits",
        ),
        pytest.param(
            {
                **FULL_PERSON,
                "PersonResponse": {
                    "ContactsResponse": {"EmailResponse": {"emailValue": [EMAIL, PHONE]}}
                },
            },
            "$.PersonResponse.ContactsResponse.EmailResponse.emailValue",
            id="email-a-list",
        ),
        pytest.param(
            {
                **FULL_PERSON,
                "PersonResponse": {
                    "ContactsResponse": {
                        "AddressResponse": {
                            "address3Num": f"{STREET_NUMBER} bis {STREET_NAME}",
                            "city": CITY,
                        }
                    }
                },
            },
            "$.PersonResponse.ContactsResponse.AddressResponse.address3Num",
            id="street-number-text",
        ),
        pytest.param(
            {
                **FULL_PERSON,
                "PersonResponse": {
                    "IdentifierResponse": [{"identifierValue": {"card": CARD}, "identifierType": 1}]
                },
            },
            "$.PersonResponse.IdentifierResponse[0].identifierValue",
            id="identifier-an-object",
        ),
        pytest.param(
            {
                **FULL_PERSON,
                "PersonResponse": {
                    "PersonResponse": {
                        "nickName": f"{FIRST_NAME} {LAST_NAME}",
                        "secondaryEmail": EMAIL,
                        "mobile": f"+33 6 87 41 23 59 ({CITY})",
                        "title": "Madame",  # the one bad value: not a code
                    },
                    "formerAddress": {"line": ADDRESS1, "street": STREET_NAME},
                },
            },
            "$.PersonResponse.PersonResponse.title",
            id="unknown-keys-hold-personal-data",
        ),
        pytest.param(
            {
                **FULL_PERSON,
                "PersonResponse": {"IdentifierResponse": {"identifierValue": CARD}},
                "ExtraPersonData": {"birth": "27/11/1983", "who": LAST_NAME},
            },
            "$.PersonResponse.IdentifierResponse",
            id="list-given-an-object",
        ),
        pytest.param([ECHO, {"firstName": FIRST_NAME}], "$", id="a-list-not-an-object"),
        pytest.param(
            f"<html>Bonjour {FIRST_NAME} {LAST_NAME} ({EMAIL})</html>", None, id="not-json"
        ),
    ],
)
async def test_response_decode_errors_show_nothing_of_the_body(
    exposure: Exposure, clock: FakeClock, answer: Any, path: str | None
) -> None:
    action = raw(answer.encode()) if isinstance(answer, str) else body(answer)
    async with fake_wsone() as fake:
        fake.default = action
        async with watched_client(fake.url, clock) as client:
            error = await exposure.raises(
                ResponseDecodeError, client.get_full_person(full_person_request())
            )
    assert error.path == path
    if path is not None:
        assert "getFullPerson answer" in exposure.messages()  # logged, redacted
        assert path == "$" or path in str(error)
    exposure.check()


async def test_oversized_answers_show_nothing_of_the_body(
    exposure: Exposure, clock: FakeClock
) -> None:
    big = json.dumps({**FULL_PERSON, "padding": [ECHO] * 50}).encode()

    async def chunked(request: web.Request, server: FakeWsOne) -> web.StreamResponse:
        response = web.StreamResponse()
        response.enable_chunked_encoding()
        await response.prepare(request)
        for start in range(0, len(big), 1000):
            await response.write(big[start : start + 1000])
        await response.write_eof()
        return response

    async with fake_wsone() as fake:
        fake.script("getFullPerson", raw(big), chunked)
        fake.script("createPerson", chunked)
        async with watched_client(
            fake.url, clock, max_response_size=4096, retry=RetryPolicy(max_retries=0)
        ) as client:
            for _ in range(2):
                await exposure.raises(
                    ResponseTooLargeError, client.get_full_person(full_person_request())
                )
            unknown = await exposure.raises(
                OutcomeUnknownError, client.create_person(create_request())
            )
    assert isinstance(unknown.__cause__, ResponseTooLargeError)
    exposure.check()


# ------------------------------------------------------------------------------ simulator


def prospect_rows() -> list[dict[str, Any]]:
    base = {
        "first_name": FIRST_NAME,
        "last_name": LAST_NAME,
        "birth_date": BIRTH_DATE.strftime("%d/%m/%Y"),
        "email": EMAIL,
        "phone_dialing_code": "33",
        "phone_number": PHONE,
        "address1": ADDRESS1,
        "address2": ADDRESS2,
        "address3_num": str(STREET_NUMBER),
        "address3_name": STREET_NAME,
        "zip_code": ZIP_CODE,
        "city": CITY,
    }
    return [
        {**base, "identifier_value": EMAIL},
        {**base, "identifier_type": "1", "identifier_value": CARD},
        {**base, "identifier_value": EMAIL.replace("@", "+2@")},
    ]


@asynccontextmanager
async def simulated(clock: FakeClock) -> AsyncIterator[tuple[WsOneSimulator, WsOneClient]]:
    async with (
        WsOneSimulator(username=USERNAME, password=PASSWORD, seed=3) as sim,
        watched_client(sim.url, clock) as client,
    ):
        yield sim, client


async def bulk_results(
    client: WsOneClient, rows: list[dict[str, Any]], clock: FakeClock, **options: Any
) -> list[ImportResult]:
    results: list[ImportResult] = []
    summary = await run_import(
        client,
        rows,
        to_request=prospect_from_row,
        on_result=results.append,
        concurrency=1,
        sleep=clock.sleep,
        **options,
    )
    assert summary.total == len(rows)
    return results


async def test_bulk_import_failures_show_nothing_personal(
    exposure: Exposure, clock: FakeClock, tmp_path: pathlib.Path
) -> None:
    rows = prospect_rows()
    bad_rows = [
        {**rows[0], "email": EMAIL.replace("@", "@@")},  # not an email address
        {**rows[0], "birth_date": "31/13/1983"},  # not a date
        {**rows[0], "nickname": FIRST_NAME},  # an unknown column
        {**rows[0], "identifier_value": None},  # no identifier
    ]
    journal = tmp_path / "journal.jsonl"
    results: list[ImportResult] = []
    async with simulated(clock) as (sim, client):
        results += await bulk_results(client, bad_rows, clock)
        sim.faults.add("createPerson", "response_code", response_code="199", infos=ECHO)
        results += await bulk_results(client, rows[:1], clock)
        sim.faults.add("createPerson", "status", status=401)
        # Refused credentials stop the whole import (no row result): the error is raised.
        with pytest.raises(AuthenticationError) as refused:
            await bulk_results(client, rows[1:2], clock)
        exposure.error(refused.value)
        sim.faults.add("createPerson", "status", status=500, rate=1.0)
        sim.faults.add("getPerson", "status", status=500, rate=1.0)
        results += await bulk_results(client, rows[2:], clock, dedupe=False)
        sim.faults.clear()
        settled = await bulk_results(client, rows, clock, journal=journal)
        exposure.show(client, sim, sim.stats, sim.stats.as_dict())
    outcomes = [r.outcome for r in results]
    assert outcomes == [Outcome.FAILED] * 5 + [Outcome.UNKNOWN]
    errors = [r.error for r in results]
    assert [type(e) for e in errors[:4]] == [RowError] * 4
    assert isinstance(errors[4], APIError) and errors[4].infos == ECHO
    assert isinstance(errors[5], WsOneError)
    for error in errors:
        assert error is not None
        exposure.error(error)
    assert [r.outcome for r in settled] == [Outcome.CREATED] * 3
    exposure.texts.append(journal.read_text(encoding="utf-8"))
    exposure.check()


async def test_a_bad_street_number_cell_stays_off_the_row_errors_chain(
    exposure: Exposure, clock: FakeClock
) -> None:
    row = {**prospect_rows()[0], "address3_num": f"{STREET_NUMBER} bis"}
    async with simulated(clock) as (_, client):
        results = await bulk_results(client, [row], clock)
    error = results[0].error
    assert isinstance(error, RowError) and error.field == "address3_num"
    assert "".join(traceback.format_exception(error)).count(str(STREET_NUMBER)) == 0
    exposure.error(error)
    exposure.check()


async def test_import_results_repr_hides_the_identifier(clock: FakeClock) -> None:
    async with simulated(clock) as (sim, client):
        sim.faults.add("createPerson", "status", status=400)  # (401 would stop the import)
        results = await bulk_results(client, prospect_rows(), clock)
    assert [r.outcome for r in results] == [Outcome.FAILED] + [Outcome.CREATED] * 2
    assert_no_leak(repr(result) for result in results)


async def test_the_simulator_workflows_log_and_show_nothing_personal(
    exposure: Exposure, clock: FakeClock
) -> None:
    async with simulated(clock) as (sim, client):
        created = await client.create_person(create_request())
        by_email = IdentifierRequest(
            identifier_type=IdentifierType.WEB_ACCOUNT, identifier_value=EMAIL
        )
        full = await client.get_full_person(GetFullPersonRequest(identifier_request=by_email))
        found = await client.search_person(search_request())
        updated = await client.update_person(
            UpdatePersonRequest(identifier_request=by_email, person_profil_request=person_profile())
        )
        exposure.show(created, full, found, updated)
        duplicate = await exposure.raises(APIError, client.create_person(create_request()))
        missing = await exposure.raises(APIError, client.get_full_person(full_person_request()))
        sim.faults.add("searchPerson", "status", status=503, retry_after=1, times=1)
        sim.faults.add("createPerson", "response_code", response_code="199", infos=ECHO)
        sim.faults.add("createPerson", "drop_after")
        sim.faults.add("createPerson", "garbage")
        sim.faults.add("getFullPerson", "html", times=3)
        await client.search_person(search_request())
        echoed = await exposure.raises(APIError, client.create_person(create_request()))
        await exposure.raises(OutcomeUnknownError, client.create_person(create_request()))
        await exposure.raises(OutcomeUnknownError, client.create_person(create_request()))
        await exposure.raises(
            ResponseDecodeError,
            client.get_full_person(GetFullPersonRequest(identifier_request=by_email)),
        )
        async with WsOneClient._with_hooks(
            sim.url, username=USERNAME, password="Wrong-Pangolin-5521", sleep=clock.sleep
        ) as intruder:
            refused = await exposure.raises(
                AuthenticationError, intruder.create_person(create_request())
            )
            exposure.show(intruder)
        exposure.show(sim, sim.stats.as_dict())
        assert sim.backend.persons_count() == 1  # the later creations were duplicates
    assert full.person_response is not None and full.person_response.person_response is not None
    assert full.person_response.person_response.last_name == LAST_NAME
    assert duplicate.code == "102" and missing.code == "101"
    assert echoed.infos == ECHO
    assert refused.status == 401
    log = exposure.messages()
    assert "createPerson request" in log and "searchPerson answer" in log
    assert "createPerson -> 000" in log  # the simulator's own debug lines were captured
    assert "Wrong-Pangolin-5521" not in "\n".join([*exposure.texts, *exposure.log_texts()])
    exposure.check()


def test_the_import_command_prints_nothing_personal(
    tmp_path: pathlib.Path,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    from wsone_async.cli import main

    caplog.set_level(logging.DEBUG)
    rows = [*prospect_rows(), {**prospect_rows()[0], "birth_date": "31/13/1983"}]
    prospects = tmp_path / "prospects.jsonl"
    prospects.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    summary = tmp_path / "summary.json"
    journal = tmp_path / "journal.jsonl"
    status_code = main(
        [
            "import",
            str(prospects),
            "--simulate",
            "--summary-json",
            str(summary),
            "--journal",
            str(journal),
        ]
    )
    out, err = capsys.readouterr()
    assert status_code == 1  # one row failed
    assert "created 3" in out and "failed 1" in out
    assert_no_leak([out, err, caplog.text, summary.read_text("utf-8"), journal.read_text("utf-8")])


# ----------------------------------------------------------------------- redact_wire


def personal_values(obj: Any) -> list[str]:
    """Every personal value of a model, as text (dates also as ``dd/MM/yyyy``)."""
    found: list[str] = []
    if not isinstance(obj, Model):
        return found
    for info in model_fields(type(obj)):
        value = obj.__dict__[info.name]
        for item in () if value is None else value if info.many else (value,):
            if info.personal:
                found.append(str(item))
                if isinstance(item, dt.date):
                    found.append(item.strftime("%d/%m/%Y"))
            elif info.kind is Kind.MODEL:
                found.extend(personal_values(item))
    return found


def test_redact_wire_of_the_vendor_example_holds_none_of_its_personal_values() -> None:
    data = example("createPerson_request")
    request = from_wire(CreatePersonRequest, data)
    values = personal_values(request)
    assert {"JEAN", "DUPOND", "email-test@email.fr", "0612345678", "01/01/2000"} <= set(values)
    assert {"1110987654321", "LILLE", "59000", "DE LA LIBERTE", "ADDR 2", "13"} <= set(values)
    redacted = redact_wire(data, CreatePersonRequest)
    text = json.dumps(redacted, ensure_ascii=False)
    for value in values:
        if len(value) > 2:
            assert value.casefold() not in text.casefold(), value
    address = redacted["PersonProfilRequest"]["ContactsRequest"]["AddressRequest"]
    assert address["address3Num"] == "<redacted>"  # too short to search for: checked here
    # What is not personal stays readable, so the log line is still useful.
    assert address["country"] == "FRANCE" and address["address3Type"] == 5
    assert redacted["source"] == "API-DOG"
    assert redacted["SubscriptionRequest"] == data["SubscriptionRequest"]
    # And the same for this suite's customer, with the answer scrubbed of what was sent.
    mine = json.dumps(
        [
            redact_wire(FULL_PERSON, GetFullPersonResponse),
            redact_wire({"infos": ECHO}, CreatePersonResponse),
            redact_wire(example("getFullPerson_response"), GetFullPersonResponse),
        ],
        ensure_ascii=False,
    )
    assert_no_leak([mine])
    assert "DUPOND" not in mine and "email-test@email.fr" not in mine


# -------------------------------------------------- leaks this suite found, now fixed


async def test_a_malformed_http_answer_leaves_no_credential_on_the_chain(
    exposure: Exposure, clock: FakeClock
) -> None:
    async def bad_http(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 2OO OK\r\nContent-Length: 2\r\n\r\n{}")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(bad_http, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server, watched_client(f"http://127.0.0.1:{port}", clock) as client:
        read = await exposure.raises(
            APIConnectionError, client.get_full_person(full_person_request())
        )
        await exposure.raises(OutcomeUnknownError, client.create_person(create_request()))
    assert read.request_sent
    assert isinstance(read.__cause__, aiohttp.ClientResponseError)
    exposure.check()


async def test_a_success_answer_echoing_names_shows_them_nowhere(
    exposure: Exposure, clock: FakeClock
) -> None:
    answer = {"responseCode": "000", "infos": f"{FIRST_NAME} {LAST_NAME} créé(e), {CITY}"}
    async with fake_wsone() as fake:
        fake.default = body(answer)
        async with watched_client(fake.url, clock) as client:
            response = await client.create_person(create_request())
    assert isinstance(response, CreatePersonResponse)
    assert "createPerson answer" in exposure.messages()
    exposure.show(response)
    exposure.check()


async def test_an_error_naming_the_card_holder_shows_no_name(
    exposure: Exposure, clock: FakeClock
) -> None:
    infos = f"Carte {CARD} bloquée: titulaire {FIRST_NAME} {LAST_NAME}, {CITY}"
    async with fake_wsone() as fake:
        fake.default = body({"responseCode": "120", "infos": infos})
        async with watched_client(fake.url, clock) as client:
            await exposure.raises(APIError, client.get_full_person(full_person_request()))
    exposure.check()


@pytest.mark.parametrize("steps_above", [None, 0], ids=["at-once", "in-steps"])
async def test_the_debug_log_hides_unmodelled_person_information(
    exposure: Exposure, clock: FakeClock, steps_above: int | None
) -> None:
    info = [
        {"name": "secondaryEmail", "value": EMAIL},
        {"name": "spouse", "value": f"{FIRST_NAME} {LAST_NAME}", "label": CITY},
    ]
    answer = {**FULL_PERSON, "PersonResponse": {**PERSON_BLOCK, "InfoPersonResponse": info}}
    async with fake_wsone() as fake:
        fake.default = body(answer)
        async with watched_client(fake.url, clock, decode_in_steps_above=steps_above) as client:
            response = await client.get_full_person(full_person_request())
    exposure.show(response)
    assert exposure.messages().count("getFullPerson answer: ") == 1
    exposure.check()


# --------------------------------------------------------------------------------- TLS


def _self_signed(directory: pathlib.Path) -> tuple[pathlib.Path, pathlib.Path]:
    """A certificate for 127.0.0.1 and its key, made with openssl or ``cryptography``."""
    cert, key = directory / "cert.pem", directory / "key.pem"
    openssl = shutil.which("openssl")
    if openssl is not None:
        subprocess.run(
            [
                openssl,
                "req",
                "-x509",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:prime256v1",
                "-nodes",
                "-keyout",
                str(key),
                "-out",
                str(cert),
                "-days",
                "2",
                "-subj",
                "/CN=127.0.0.1",
                "-addext",
                "subjectAltName=IP:127.0.0.1",
            ],
            check=True,
            capture_output=True,
            timeout=60,
        )
        return cert, key
    if importlib.util.find_spec("cryptography") is None:
        pytest.skip("cannot make a test certificate: neither openssl nor cryptography is here")
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    private = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(private.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=2))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(private, hashes.SHA256())
    )
    cert.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key.write_bytes(
        private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert, key


@pytest.fixture
def certificate(tmp_path: pathlib.Path) -> tuple[pathlib.Path, pathlib.Path]:
    return _self_signed(tmp_path)


@asynccontextmanager
async def https_server(
    cert: pathlib.Path, key: pathlib.Path
) -> AsyncIterator[tuple[str, list[str]]]:
    """A WsOne stand-in over TLS on 127.0.0.1; yields its URL and the paths it was asked."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    reached: list[str] = []

    async def handle(request: web.Request) -> web.StreamResponse:
        reached.append(request.path)
        return web.json_response(OK)

    app = web.Application()
    app.router.add_post("/{tail:.*}", handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=context)
        await site.start()
        yield f"https://127.0.0.1:{runner.addresses[0][1]}", reached
    finally:
        await runner.cleanup()


def _chain(error: BaseException) -> list[BaseException]:
    found: list[BaseException] = []
    current: BaseException | None = error
    while current is not None and current not in found:
        found.append(current)
        current = current.__cause__ or current.__context__
    return found


async def test_certificates_are_verified_by_default(
    certificate: tuple[pathlib.Path, pathlib.Path], clock: FakeClock
) -> None:
    cert, key = certificate
    async with https_server(cert, key) as (url, reached):
        async with WsOneClient._with_hooks(
            url, username=USERNAME, password=PASSWORD, sleep=clock.sleep, clock=clock
        ) as client:
            with pytest.raises(APIConnectionError) as read:
                await client.get_full_person(full_person_request())
            with pytest.raises(APIConnectionError) as write:
                await client.create_person(create_request())
        assert reached == []  # no request crossed the failed handshakes
        for info in (read, write):
            assert info.value.request_sent is False
            causes = _chain(info.value)
            assert any(isinstance(c, ssl.SSLCertVerificationError) for c in causes), causes
            assert_no_leak(exception_texts(info.value))
        trusted = ssl.create_default_context(cafile=str(cert))
        async with WsOneClient(
            url, username=USERNAME, password=PASSWORD, ssl_context=trusted
        ) as client:
            answer = await client.get_full_person(full_person_request())
        assert answer.response_code == "000"
        assert reached == ["/rest/2.0/personWebService/getFullPerson"]


@pytest.fixture
def other_certificate(tmp_path: pathlib.Path) -> pathlib.Path:
    other = tmp_path / "other"
    other.mkdir()
    return _self_signed(other)[0]


async def test_a_context_trusting_another_certificate_is_refused_too(
    certificate: tuple[pathlib.Path, pathlib.Path], other_certificate: pathlib.Path
) -> None:
    cert, key = certificate
    async with (
        https_server(cert, key) as (url, reached),
        WsOneClient(
            url,
            username=USERNAME,
            password=PASSWORD,
            ssl_context=ssl.create_default_context(cafile=str(other_certificate)),
            retry=RetryPolicy(max_retries=0),
        ) as client,
    ):
        with pytest.raises(APIConnectionError) as info:
            await client.get_full_person(full_person_request())
    assert info.value.request_sent is False
    assert reached == []


@pytest.mark.parametrize(
    "url", ["http://wsone.example.fr", "http://10.1.2.3:8080/wsone", "HTTP://loyalty.example.fr"]
)
def test_plain_http_off_loopback_is_refused_unless_allowed(url: str) -> None:
    with pytest.raises(ValueError, match="plain http") as info:
        WsOneClient(url, username=USERNAME, password=PASSWORD)
    assert_no_leak(exception_texts(info.value))
    allowed = WsOneClient(url, username=USERNAME, password=PASSWORD, allow_insecure_http=True)
    assert repr(allowed).startswith("WsOneClient(base_url=")


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:8080", "http://localhost", "http://[::1]:9000", "http://127.8.9.1"]
)
def test_plain_http_on_loopback_is_allowed(url: str) -> None:
    assert "not opened" in repr(WsOneClient(url, username=USERNAME, password=PASSWORD))
