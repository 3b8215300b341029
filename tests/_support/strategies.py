"""Hypothesis strategies: valid models of every class, and arbitrary JSON."""

from __future__ import annotations

import datetime as dt
import functools
from typing import Any

from hypothesis import strategies as st

from wsone_async._codec import wire_name
from wsone_async.models import _checks
from wsone_async.models._base import FieldInfo, Kind, Model, model_fields

INT64 = st.integers(min_value=-(2**63), max_value=2**63 - 1)
FINITE = st.floats(allow_nan=False, allow_infinity=False)

# JSON parsers give ints up to 2**64 - 1 (orjson does): the codec must take them all alike.
json_scalars = (
    st.none() | st.booleans() | st.integers(-(2**63), 2**64 - 1) | FINITE | st.text(max_size=20)
)
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
json_objects = st.dictionaries(st.text(max_size=12), json_values, max_size=6)

_BY_CHECK: dict[Any, st.SearchStrategy[Any]] = {
    _checks.email: st.emails(),
    _checks.phone_number: st.from_regex(r"\A\+?\d{4,15}\Z"),
    _checks.dialing_code: st.from_regex(r"\A\d{1,4}\Z"),
    _checks.birth_date: st.dates(min_value=dt.date(1900, 1, 1), max_value=dt.date.today()),
    _checks.not_blank: st.text(min_size=1, max_size=30).filter(lambda s: s.strip() != ""),
    _checks.not_negative: st.integers(min_value=0, max_value=10**9)
    | st.floats(min_value=0, max_value=1e9),
}


def _scalar(info: FieldInfo) -> st.SearchStrategy[Any]:
    if info.check in _BY_CHECK:
        return _BY_CHECK[info.check]
    kind = info.kind
    if kind is Kind.STR:
        return st.text(max_size=30)
    if kind is Kind.INT:
        return INT64
    if kind is Kind.FLOAT:
        return FINITE
    if kind is Kind.NUMBER:
        return INT64 | FINITE
    if kind in (Kind.BOOL, Kind.FLAG):
        return st.booleans()
    if kind is Kind.DATE:
        return st.dates()
    if kind is Kind.DATETIME:  # the wire format has whole seconds
        return st.datetimes().map(lambda d: d.replace(microsecond=0))
    if kind is Kind.TIMESTAMP:  # the wire format has milliseconds
        return st.datetimes().map(lambda d: d.replace(microsecond=d.microsecond // 1000 * 1000))
    if kind is Kind.ENUM:
        assert info.target is not None
        target = info.target
        return st.sampled_from(list(target)) | st.integers(-1000, 1000).map(target)
    if kind is Kind.RAW:
        return json_values
    assert info.target is not None
    return models(info.target)


def _field(info: FieldInfo) -> st.SearchStrategy[Any]:
    one = _scalar(info)
    value = st.lists(one, max_size=3).map(tuple) if info.many else one
    return value if info.required else st.none() | value


@functools.cache
def models(cls: type[Model], *, extra: bool = True) -> st.SearchStrategy[Any]:
    """Valid instances of ``cls``, with unknown keys in wire_extra when ``extra``."""
    infos = model_fields(cls)
    known = {wire_name(cls, info) for info in infos}
    unknown = st.dictionaries(
        st.text(min_size=1, max_size=10).filter(lambda k: k not in known),
        json_values.filter(lambda v: v is not None),
        max_size=2,
    )
    kwargs = {info.name: st.deferred(lambda info=info: _field(info)) for info in infos}
    if extra:
        kwargs["wire_extra"] = unknown
    return st.builds(cls, **kwargs)
