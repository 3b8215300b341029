"""JSON bytes -> model -> JSON bytes: ours vs pydantic v2, on two of the vendor's bodies.

Run: ``python benchmarks/codec.py [--rounds N]`` (needs the ``bench`` extra:
``pip install -e '.[bench]'``).

Two bodies:

* the vendor's createPerson example (11 blocks, one date, six 0/1 flags);
* a getFullPerson answer with 200 offers: the vendor's example, its one offer repeated with
  a different number, id and dates each time (600 ``dd/MM/yyyy HH:mm:ss`` datetimes).

Both sides do the same work: parse the bytes, build frozen typed models with the same
Python types (``date`` and ``datetime`` values, ``bool`` for the 0/1 consent flags, the
library's ``IdentifierType`` and ``Title`` enums, unknown keys kept), then write the
same JSON back (flags as 0/1, dates in the vendor's formats, ``None`` left out). The pydantic
models read and write dates with hand-written slicing (the fastest we found for them), not
``strptime``/``strftime``, so the comparison is codec against codec. The one difference:
pydantic drops the explicit ``null`` of ``updatedAt`` (``exclude_none``), which ours writes
back; its output is checked against the body without it.

A third line builds the createPerson models from Python values (what a bulk import does
for each row): ours run their construction checks (types, and email, phone and birth-date
rules), pydantic its type validation.

Each body is measured in paired rounds in ABBA order (ours first in one round, pydantic
first in the next), so the machine's drift hits both sides of a pair alike; the script
prints the median of the pairs' throughput ratios and their spread (min to max). Times are
the process's CPU time (``time.process_time``), so other processes on a busy machine do
not count; caches and frequency scaling still do, so a loaded machine's figures are
indicative only.
"""

from __future__ import annotations

import argparse
import copy
import datetime as dt
import gc
import pathlib
import statistics
import sys
import time
import timeit
from collections.abc import Callable
from typing import Any

import orjson
from pydantic import BaseModel, ConfigDict, Field, field_serializer, field_validator

from wsone_async import from_wire, to_wire
from wsone_async.models import (
    AddressRequest,
    CellPhoneRequest,
    ContactsRequest,
    CreatePersonRequest,
    EmailRequest,
    EntityRequest,
    GetFullPersonResponse,
    IdentifierType,
    Model,
    NewIdentifierRequest,
    PersonProfilRequest,
    PersonRequest,
    SubscriptionRequest,
    Title,
)

DATA = pathlib.Path(__file__).resolve().parent.parent / "tests" / "data"
CREATE_PERSON = (DATA / "createPerson_request.json").read_bytes()
OFFERS = 200


def full_person_body(offers: int = OFFERS) -> bytes:
    """The vendor's getFullPerson answer with ``offers`` offers, each one different."""
    body = orjson.loads((DATA / "getFullPerson_response.json").read_bytes())
    template = body["OffersResponse"]["GetOffersResponses"][0]
    start = dt.datetime(2025, 9, 24)
    items = []
    for i in range(offers):
        offer = copy.deepcopy(template)
        sent = start + dt.timedelta(days=i % 90, minutes=7 * i, seconds=i % 60)
        offer["offerNumber"] = str(2558001057274 + i)
        offer["offerId"] = str(57384 + i)
        offer["startDate"] = (start + dt.timedelta(days=i % 90)).strftime("%d/%m/%Y %H:%M:%S")
        offer["sendDate"] = sent.strftime("%d/%m/%Y %H:%M:%S")
        offer["endDate"] = (sent + dt.timedelta(days=60)).strftime("%d/%m/%Y 23:59:59")
        offer["used"] = i % 3 == 0
        items.append(offer)
    body["OffersResponse"]["GetOffersResponses"] = items
    return orjson.dumps(body)


FULL_PERSON = full_person_body()


# ------------------------------------------------------------------ the pydantic side


def _read_date(value: Any) -> Any:
    if isinstance(value, str) and len(value) == 10 and value[2] == value[5] == "/":
        return dt.date.fromisoformat(f"{value[6:10]}-{value[3:5]}-{value[0:2]}")
    return value


def _read_datetime(value: Any) -> Any:
    if isinstance(value, str) and len(value) == 19 and value[2] == value[5] == "/":
        return dt.datetime.fromisoformat(f"{value[6:10]}-{value[3:5]}-{value[0:2]}T{value[11:]}")
    return value


def _write_date(value: dt.date | None) -> str | None:
    if value is None:
        return None
    iso = value.isoformat()
    return f"{iso[8:10]}/{iso[5:7]}/{iso[0:4]}"


def _write_datetime(value: dt.datetime | None) -> str | None:
    if value is None:
        return None
    iso = value.isoformat(" ", "seconds")
    return f"{iso[8:10]}/{iso[5:7]}/{iso[0:4]}{iso[10:]}"


def _write_timestamp(value: dt.datetime | None) -> str | None:
    return None if value is None else value.isoformat(" ", "milliseconds")


class _Base(BaseModel):
    model_config = ConfigDict(frozen=True, populate_by_name=True, extra="allow")


class _Consents(_Base):
    allow_company_solicitation: bool | None = Field(None, alias="allowCompanySolicitation")
    allow_trusted_solicitation: bool | None = Field(None, alias="allowTrustedSolicitation")

    @field_serializer("allow_company_solicitation", "allow_trusted_solicitation")
    def _flag(self, value: bool | None) -> int | None:
        return None if value is None else int(value)


class PAddress(_Consents):
    address1: str | None = None
    address2: str | None = None
    address3_num: int | None = Field(None, alias="address3Num")
    address3_type: int | None = Field(None, alias="address3Type")
    address3_name: str | None = Field(None, alias="address3Name")
    address4: str | None = None
    zip_code: str | None = Field(None, alias="zipCode")
    city: str | None = None
    country: str | None = None


class PEmail(_Consents):
    email_value: str | None = Field(None, alias="emailValue")


class PCellPhone(_Consents):
    model: str | None = None
    brand: str | None = None
    dialing_code: str | None = Field(None, alias="dialingCode")
    number: str | None = None


class PContacts(_Base):
    address_request: PAddress | None = Field(None, alias="AddressRequest")
    email_request: PEmail | None = Field(None, alias="EmailRequest")
    cell_phone_request: PCellPhone | None = Field(None, alias="CellPhoneRequest")


class PEntity(_Base):
    entity_identifier: str = Field(alias="entityIdentifier")


class PPerson(_Base):
    birth_date: dt.date | None = Field(None, alias="birthDate")
    first_name: str | None = Field(None, alias="firstName")
    last_name: str | None = Field(None, alias="lastName")
    title: Title | None = None

    _parse_date = field_validator("birth_date", mode="before")(_read_date)
    _write = field_serializer("birth_date")(lambda self, value: _write_date(value))


class PProfil(_Base):
    contacts_request: PContacts | None = Field(None, alias="ContactsRequest")
    entity_request: PEntity | None = Field(None, alias="EntityRequest")
    person_request: PPerson | None = Field(None, alias="PersonRequest")


class PNewIdentifier(_Base):
    identifier_type: IdentifierType = Field(alias="identifierType")
    identifier_value: str | None = Field(None, alias="identifierValue")


class PSubscription(_Base):
    id: int
    activate: bool | None = None


class PCreatePerson(_Base):
    new_identifier_request: PNewIdentifier | None = Field(None, alias="NewIdentifierRequest")
    person_profil_request: PProfil | None = Field(None, alias="PersonProfilRequest")
    subscription_request: tuple[PSubscription, ...] | None = Field(
        None, alias="SubscriptionRequest"
    )
    source: str | None = None


class PPersonCivil(_Base):
    groupe_id: str | None = Field(None, alias="groupeId")
    first_name: str | None = Field(None, alias="firstName")
    last_name: str | None = Field(None, alias="lastName")
    birth_date: dt.date | None = Field(None, alias="birthDate")
    title: Title | None = None

    _parse_date = field_validator("birth_date", mode="before")(_read_date)
    _write = field_serializer("birth_date")(lambda self, value: _write_date(value))


class PIdentifier(_Base):
    activation_date: dt.datetime | None = Field(None, alias="activationDate")
    identifier_value: str | None = Field(None, alias="identifierValue")
    identifier_type: IdentifierType | None = Field(None, alias="identifierType")

    _write = field_serializer("activation_date")(lambda self, value: _write_timestamp(value))


class PEntityResponse(_Base):
    entity_identifier: str | None = Field(None, alias="entityIdentifier")


class PSubscriptionResponse(_Base):
    id: str | None = None
    label: str | None = None
    activate: bool | None = None
    updated_at: str | None = Field(None, alias="updatedAt")


class PEmailResponse(_Consents):
    status: int | None = None
    email_value: str | None = Field(None, alias="emailValue")


class PContactsResponse(_Base):
    email_response: PEmailResponse | None = Field(None, alias="EmailResponse")


class PProfilResponse(_Base):
    person_response: PPersonCivil | None = Field(None, alias="PersonResponse")
    identifier_response: tuple[PIdentifier, ...] | None = Field(None, alias="IdentifierResponse")
    entity_response: PEntityResponse | None = Field(None, alias="EntityResponse")
    subscription_response: tuple[PSubscriptionResponse, ...] | None = Field(
        None, alias="SubscriptionResponse"
    )
    contacts_response: PContactsResponse | None = Field(None, alias="ContactsResponse")
    info_person_response: tuple[dict[str, Any], ...] | None = Field(
        None, alias="InfoPersonResponse"
    )


class POffer(_Base):
    used: bool | None = None
    start_date: dt.datetime | None = Field(None, alias="startDate")
    classifications: tuple[Any, ...] | None = None
    offer_number: str | None = Field(None, alias="offerNumber")
    immediate_use: int | None = Field(None, alias="immediateUse")
    offer_id: str | None = Field(None, alias="offerId")
    channel_id: str | None = Field(None, alias="channelId")
    end_date: dt.datetime | None = Field(None, alias="endDate")
    send_date: dt.datetime | None = Field(None, alias="sendDate")
    global_min_price: float | None = Field(None, alias="globalMinPrice")
    offer_name: str | None = Field(None, alias="offerName")
    offer_description: str | None = Field(None, alias="offerDescription")
    offer_discount_type: int | None = Field(None, alias="offerDiscountType")
    offer_discount_value: float | None = Field(None, alias="offerDiscountValue")
    trigger_offer: int | None = Field(None, alias="triggerOffer")
    obj_application: str | None = Field(None, alias="objApplication")
    type_restriction_offer: int | None = Field(None, alias="typeRestrictionOffer")

    _parse = field_validator("start_date", "end_date", "send_date", mode="before")(_read_datetime)
    _write = field_serializer("start_date", "end_date", "send_date")(
        lambda self, value: _write_datetime(value)
    )


class POffers(_Base):
    get_offers_responses: tuple[POffer, ...] | None = Field(None, alias="GetOffersResponses")


class PAccount(_Base):
    name: str | None = None
    value: int | float | None = None
    unit: str | None = None
    entity_response: PEntityResponse | None = Field(None, alias="EntityResponse")


class PAccounts(_Base):
    response_code: str | None = Field(None, alias="responseCode")
    infos: str | None = None
    account_response: tuple[PAccount, ...] | None = Field(None, alias="AccountResponse")


class PFullPerson(_Base):
    response_code: str | None = Field(None, alias="responseCode")
    infos: str | None = None
    person_response: PProfilResponse | None = Field(None, alias="PersonResponse")
    offers_response: POffers | None = Field(None, alias="OffersResponse")
    accounts_response: PAccounts | None = Field(None, alias="AccountsResponse")


# ------------------------------------------------------------------------ the runner


def ours(cls: type[Model], body: bytes) -> Callable[[], bytes]:
    def run() -> bytes:
        return orjson.dumps(to_wire(from_wire(cls, orjson.loads(body))))

    return run


def theirs(cls: type[BaseModel], body: bytes) -> Callable[[], bytes]:
    def run() -> bytes:
        return (
            cls.model_validate_json(body).model_dump_json(by_alias=True, exclude_none=True).encode()
        )

    return run


def build_ours() -> CreatePersonRequest:
    """The createPerson example built from Python values, as a bulk import builds each row."""
    flags: dict[str, Any] = {
        "allow_company_solicitation": True,
        "allow_trusted_solicitation": False,
    }
    return CreatePersonRequest(
        new_identifier_request=NewIdentifierRequest(
            identifier_type=IdentifierType.CARD, identifier_value="1110987654321"
        ),
        person_profil_request=PersonProfilRequest(
            contacts_request=ContactsRequest(
                address_request=AddressRequest(
                    **flags,
                    address1="ADDR 2",
                    address2="ADDR 3",
                    address3_name="DE LA LIBERTE",
                    address3_num=13,
                    address3_type=5,
                    address4="ADDR 4",
                    city="LILLE",
                    country="FRANCE",
                    zip_code="59000",
                ),
                email_request=EmailRequest(**flags, email_value="email-test@email.fr"),
                cell_phone_request=CellPhoneRequest(
                    **flags, model="S24", brand="Samsung", dialing_code="33", number="0612345678"
                ),
            ),
            entity_request=EntityRequest(entity_identifier="123456"),
            person_request=PersonRequest(
                birth_date=dt.date(2000, 1, 1),
                first_name="JEAN",
                last_name="DUPOND",
                title=Title.MR,
            ),
        ),
        subscription_request=[
            SubscriptionRequest(id=1, activate=True),
            SubscriptionRequest(id=2, activate=True),
        ],
        source="API-DOG",
    )


def build_theirs() -> PCreatePerson:
    """The same with the pydantic models (which check types only: no email or phone rule)."""
    flags: dict[str, Any] = {
        "allow_company_solicitation": True,
        "allow_trusted_solicitation": False,
    }
    return PCreatePerson(
        new_identifier_request=PNewIdentifier(
            identifier_type=IdentifierType.CARD, identifier_value="1110987654321"
        ),
        person_profil_request=PProfil(
            contacts_request=PContacts(
                address_request=PAddress(
                    **flags,
                    address1="ADDR 2",
                    address2="ADDR 3",
                    address3_name="DE LA LIBERTE",
                    address3_num=13,
                    address3_type=5,
                    address4="ADDR 4",
                    city="LILLE",
                    country="FRANCE",
                    zip_code="59000",
                ),
                email_request=PEmail(**flags, email_value="email-test@email.fr"),
                cell_phone_request=PCellPhone(
                    **flags, model="S24", brand="Samsung", dialing_code="33", number="0612345678"
                ),
            ),
            entity_request=PEntity(entity_identifier="123456"),
            person_request=PPerson(
                birth_date=dt.date(2000, 1, 1),
                first_name="JEAN",
                last_name="DUPOND",
                title=Title.MR,
            ),
        ),
        subscription_request=(
            PSubscription(id=1, activate=True),
            PSubscription(id=2, activate=True),
        ),
        source="API-DOG",
    )


def _without_nulls(data: Any) -> Any:
    if isinstance(data, dict):
        return {k: _without_nulls(v) for k, v in data.items() if v is not None}
    if isinstance(data, list):
        return [_without_nulls(v) for v in data]
    return data


def _time(func: Callable[[], object], number: int) -> float:
    """CPU microseconds per call: the best of 3 runs of ``number`` calls.

    CPU time of this process, not wall time: on a machine shared with other work, the time
    this process waits for a core is not counted (both sides are single-threaded).
    """
    timer = timeit.Timer(func, timer=time.process_time)
    return min(timer.repeat(number=number, repeat=3)) / number * 1e6


def compare(
    label: str,
    a: Callable[[], object],
    b: Callable[[], object],
    number: int,
    rounds: int,
    target: str = " (target >= 1.5x)",
) -> float:
    """Print and return the median ratio of b's time to a's, over paired ABBA rounds."""
    times_a: list[float] = []
    times_b: list[float] = []
    ratios: list[float] = []
    _time(a, number)  # warm up both: caches, generated code, specialised bytecode
    _time(b, number)
    for round_number in range(rounds):
        gc.collect()
        if round_number % 2 == 0:
            ta, tb = _time(a, number), _time(b, number)
        else:
            tb, ta = _time(b, number), _time(a, number)
        times_a.append(ta)
        times_b.append(tb)
        ratios.append(tb / ta)
    median = statistics.median(ratios)
    print(label)
    print(f"  wsone_async: {statistics.median(times_a):8.2f} us/op (median of {rounds} rounds)")
    print(f"  pydantic v2: {statistics.median(times_b):8.2f} us/op")
    print(
        f"  ratio, wsone_async throughput / pydantic's: {median:.2f}x median, "
        f"spread {min(ratios):.2f}x to {max(ratios):.2f}x{target}"
    )
    return median


def stages(cls: type[Model], body: bytes, number: int) -> None:
    """Print where our round trip's time goes: parse, decode, encode, write (CPU us/op).

    Each stage runs alone on the same input, so the stages sum to less than the round trip
    (which also allocates and frees every object fresh).
    """
    data = orjson.loads(body)
    model = from_wire(cls, data)
    wire = to_wire(model)
    parts = {
        "orjson.loads": lambda: orjson.loads(body),
        "from_wire": lambda: from_wire(cls, data),
        "to_wire": lambda: to_wire(model),
        "orjson.dumps": lambda: orjson.dumps(wire),
    }
    times = {name: _time(func, number) for name, func in parts.items()}
    print("  our stages: " + ", ".join(f"{name} {us:.2f} us" for name, us in times.items()))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=10, help="paired rounds per body")
    parser.add_argument(
        "--stages", action="store_true", help="also print the time of each stage of ours"
    )
    args = parser.parse_args(argv)
    cases = [
        (
            f"createPerson example, bytes -> model -> bytes ({len(CREATE_PERSON)} bytes)",
            CreatePersonRequest,
            PCreatePerson,
            CREATE_PERSON,
            4_000,
        ),
        (
            f"getFullPerson answer with {OFFERS} offers, bytes -> model -> bytes "
            f"({len(FULL_PERSON)} bytes)",
            GetFullPersonResponse,
            PFullPerson,
            FULL_PERSON,
            40,
        ),
    ]
    for label, our_cls, their_cls, body, number in cases:
        expected = orjson.loads(body)
        if orjson.loads(ours(our_cls, body)()) != expected:
            raise SystemExit(f"our round trip differs from the body: {label}")
        if orjson.loads(theirs(their_cls, body)()) != _without_nulls(expected):
            raise SystemExit(f"pydantic's round trip differs from the body: {label}")
        compare(label, ours(our_cls, body), theirs(their_cls, body), number, args.rounds)
        if args.stages:
            stages(our_cls, body, number)
    expected = orjson.loads(CREATE_PERSON)
    if to_wire(build_ours()) != expected or orjson.loads(
        build_theirs().model_dump_json(by_alias=True, exclude_none=True)
    ) != _without_nulls(expected):
        raise SystemExit("the built createPerson models differ from the example")
    compare(
        "createPerson example built from Python values (ours also checks email, phone, date)",
        build_ours,
        build_theirs,
        4_000,
        args.rounds,
        target="",
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
