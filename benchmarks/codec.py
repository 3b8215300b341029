"""JSON bytes -> model -> JSON bytes for the vendor's createPerson example: ours vs pydantic v2.

Run: ``python benchmarks/codec.py`` (needs the ``bench`` extra: ``pip install -e '.[bench]'``).

Both sides do the same work: parse the bytes, build frozen typed models (a ``date`` for
``birthDate``, ``bool`` for the 0/1 consent flags, unknown keys kept), then write the same
JSON back (flags as 0/1, the date as ``dd/MM/yyyy``, ``None`` left out). The pydantic
model reads and writes the date with the same hand-written slicing as ours, so the comparison
is not about ``strptime``/``strftime``. The two are measured alternately in one run, and the
ratio is printed.
"""

from __future__ import annotations

import datetime as dt
import gc
import pathlib
import statistics
import sys
import timeit
from typing import Any

import orjson
from pydantic import BaseModel, ConfigDict, Field, field_serializer, field_validator

from wsone_async import from_wire, to_wire
from wsone_async.models import CreatePersonRequest

EXAMPLE = (
    pathlib.Path(__file__).resolve().parent.parent / "tests" / "data" / "createPerson_request.json"
).read_bytes()


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
    title: int | None = None

    @field_validator("birth_date", mode="before")
    @classmethod
    def _parse_date(cls, value: Any) -> Any:
        if isinstance(value, str) and len(value) == 10 and value[2] == value[5] == "/":
            return dt.date.fromisoformat(f"{value[6:10]}-{value[3:5]}-{value[0:2]}")
        return value

    @field_serializer("birth_date")
    def _write_date(self, value: dt.date | None) -> str | None:
        if value is None:
            return None
        iso = value.isoformat()  # the same writer as ours, so dates cost both sides alike
        return f"{iso[8:10]}/{iso[5:7]}/{iso[0:4]}"


class PProfil(_Base):
    contacts_request: PContacts | None = Field(None, alias="ContactsRequest")
    entity_request: PEntity | None = Field(None, alias="EntityRequest")
    person_request: PPerson | None = Field(None, alias="PersonRequest")


class PNewIdentifier(_Base):
    identifier_type: int = Field(alias="identifierType")
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


def ours(body: bytes = EXAMPLE) -> bytes:
    return orjson.dumps(to_wire(from_wire(CreatePersonRequest, orjson.loads(body))))


def theirs(body: bytes = EXAMPLE) -> bytes:
    return (
        PCreatePerson.model_validate_json(body)
        .model_dump_json(by_alias=True, exclude_none=True)
        .encode()
    )


def main() -> int:
    expected = orjson.loads(EXAMPLE)
    assert orjson.loads(ours()) == expected, "our round trip differs from the example"
    assert orjson.loads(theirs()) == expected, "pydantic's round trip differs from the example"
    number, rounds = 5_000, 9
    timings: dict[str, list[float]] = {"wsone_async": [], "pydantic": []}
    gc.collect()
    for _ in range(rounds):  # alternate, so drift on a noisy machine hits both alike
        for name, func in (("wsone_async", ours), ("pydantic", theirs)):
            best = min(timeit.repeat(func, number=number, repeat=3))
            timings[name].append(best / number * 1e6)
    ours_us = statistics.median(timings["wsone_async"])
    theirs_us = statistics.median(timings["pydantic"])
    print(f"createPerson example, bytes -> model -> bytes ({len(EXAMPLE)} bytes of JSON)")
    print(f"  wsone_async (attrs + generated fast path + orjson): {ours_us:6.2f} us/op")
    print(f"  pydantic v2 (model_validate_json/model_dump_json):  {theirs_us:6.2f} us/op")
    print(
        f"  throughput ratio, wsone_async / pydantic: {theirs_us / ours_us:.2f}x (target >= 1.2x)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
