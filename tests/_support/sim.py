"""Helpers for the simulator's tests: a thin HTTP client that speaks raw JSON to it."""

from __future__ import annotations

import datetime as dt
import json
from types import TracebackType
from typing import Any, Self

import aiohttp

from wsone_async.testing import WsOneSimulator

OK = "000"


class SimClient:
    """POSTs JSON bodies to a running simulator and returns the decoded answers."""

    def __init__(self, sim: WsOneSimulator) -> None:
        self.sim = sim
        self.session = aiohttp.ClientSession(headers=sim.auth_headers)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.session.close()

    async def raw(self, operation: str, data: bytes) -> tuple[int, bytes]:
        """POST bytes as they are; returns the status and the body."""
        async with self.session.post(
            self.sim.url_for(operation), data=data, headers={"Content-Type": "application/json"}
        ) as response:
            return response.status, await response.read()

    async def call(self, operation: str, body: Any, *, enveloped: bool = True) -> dict[str, Any]:
        """POST ``body`` as JSON; the answer must be HTTP 200 with a JSON object.

        With ``enveloped`` (the default) it must start with ``responseCode`` and ``infos``;
        getFullPerson's success has no envelope (as the vendor's example).
        """
        status, data = await self.raw(operation, json.dumps(body).encode())
        assert status == 200, (status, data)
        answer = json.loads(data)
        assert isinstance(answer, dict)
        if enveloped:
            assert isinstance(answer["responseCode"], str)
            assert isinstance(answer["infos"], str)
        return answer

    async def ok(self, operation: str, body: Any) -> dict[str, Any]:
        """Like :meth:`call`, and the answer must be a success."""
        answer = await self.call(operation, body)
        assert answer["responseCode"] == OK, answer
        return answer

    async def code(self, operation: str, body: Any) -> str:
        """The ``responseCode`` of the answer."""
        return str((await self.call(operation, body))["responseCode"])

    async def control(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        """Call a control endpoint; returns the status and the decoded JSON."""
        async with self.session.request(
            method, f"{self.sim.url}/_control/{path}", json=body
        ) as response:
            return response.status, await response.json()


def card(value: str) -> dict[str, Any]:
    """An IdentifierRequest for a card."""
    return {"identifierType": 1, "identifierValue": value}


def web_account(email: str) -> dict[str, Any]:
    """An IdentifierRequest for a web account."""
    return {"identifierType": 10, "identifierValue": email}


def person_body(
    identifier: dict[str, Any],
    *,
    last: str = "DUPOND",
    first: str = "JEAN",
    email: str | None = None,
    store: str = "123456",
) -> dict[str, Any]:
    """A createPerson body."""
    contacts: dict[str, Any] = {}
    if email is not None:
        contacts["EmailRequest"] = {
            "emailValue": email,
            "allowCompanySolicitation": 1,
            "allowTrustedSolicitation": 0,
        }
    return {
        "NewIdentifierRequest": identifier,
        "PersonProfilRequest": {
            "PersonRequest": {
                "firstName": first,
                "lastName": last,
                "birthDate": "01/01/1990",
                "title": 1,
            },
            "EntityRequest": {"entityIdentifier": store},
            "ContactsRequest": contacts,
        },
        "SubscriptionRequest": [{"id": 30, "activate": True}],
        "source": "TEST",
    }


def receipt(number: str, amount: float, *, store: str = "123456", **extra: Any) -> dict[str, Any]:
    """A ReceiptRequest dated now (offers are checked at the receipt's date)."""
    return {
        "receiptNumber": number,
        "receiptDate": dt.datetime.now().strftime("%d/%m/%Y %H:%M:%S"),
        "amount": amount,
        "EntityRequest": {"entityIdentifier": store},
        **extra,
    }


async def new_customer(client: SimClient, email: str = "jean@example.fr") -> dict[str, Any]:
    """Create a person with a web account and a generated card; returns the card's key."""
    answer = await client.ok(
        "createPersonAndIdentifier",
        {**person_body(web_account(email), email=email), "newIdentifierType": 1},
    )
    created = answer["NewIdentifierResponse"]
    return card(created["identifierValue"])


async def points(client: SimClient, key: dict[str, Any]) -> tuple[int, int]:
    """The (points, visits) balances of a person."""
    answer = await client.ok("getAccounts", {"IdentifierRequest": key})
    balances = {a["name"]: a["value"] for a in answer["AccountResponse"]}
    return balances["point"], balances["visites"]
