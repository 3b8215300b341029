"""The generated code and the one table of field kinds it is built from.

Generated functions (decoders, encoders, construction checks, ``__init__``) are registered in
``linecache``: a traceback through them shows the failing line, and ``inspect.getsource``
works. The table's fast expressions agree with its full rules, value by value. cattrs is
imported only once a body is refused. ``wire_schema`` describes every key the codec writes.
"""

from __future__ import annotations

import copy
import datetime as dt
import inspect
import math
import subprocess
import sys
import traceback
from typing import Any

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import wsone_async.models
from tests._support.builders import run_steps
from tests._support.data import example
from tests._support.strategies import json_values, models
from wsone_async import _codec, from_wire, to_wire
from wsone_async._codec import WireField, _decoder, _encoder, wire_name, wire_schema
from wsone_async.models import (
    AccountResponse,
    CreatePersonRequest,
    IdentifierRequest,
    IdentifierType,
    Model,
    OfferResponse,
    OffersResponse,
    PersonRequest,
    Title,
)
from wsone_async.models._base import model_fields
from wsone_async.models._kinds import HELPERS, RULES, BadValue, Kind, expression

MODEL_CLASSES = [
    cls
    for name in wsone_async.models.__all__
    if isinstance(cls := getattr(wsone_async.models, name), type)
    and issubclass(cls, Model)
    and cls is not Model
]

# ------------------------------------------------------------------ tracebacks, source


def _traceback_of(call: Any) -> str:
    try:
        call()
    except Exception as exc:  # the test looks at whatever it raised
        return "".join(traceback.format_exception(exc))
    pytest.fail("the call did not raise")


def test_a_traceback_through_a_generated_decoder_shows_its_source_line() -> None:
    decode = _decoder(IdentifierRequest)
    text = _traceback_of(lambda: decode({"identifierValue": "x"}))
    assert "<wsone_async generated decode wsone_async.models._blocks.IdentifierRequest" in text
    assert "raise _Bad('required field identifierType is missing')" in text


def test_a_traceback_through_a_generated_encoder_shows_its_source_line() -> None:
    request = PersonRequest(birth_date=dt.date(2000, 1, 31))
    object.__setattr__(request, "birth_date", "31/01/2000")  # bypasses the checks
    text = _traceback_of(lambda: to_wire(request))
    assert "<wsone_async generated encode wsone_async.models._blocks.PersonRequest" in text
    assert "_k_D2[v" in text and ".day]" in text  # the line that reads the date's day


def test_a_traceback_through_generated_construction_checks_shows_its_source_line() -> None:
    text = _traceback_of(lambda: PersonRequest(first_name=12))
    assert "ValueError: PersonRequest.first_name: expected str" in text
    assert "<wsone_async generated " in text
    assert "first_name = _check_one" in text


def test_inspect_getsource_reads_generated_functions() -> None:
    from_wire(CreatePersonRequest, example("createPerson_request"))
    source = inspect.getsource(_decoder(CreatePersonRequest))
    assert source.startswith("def decode(d):")
    assert "'person_profil_request': v" in source
    assert inspect.getsource(_encoder(CreatePersonRequest)).startswith("def encode(o):")
    IdentifierRequest(identifier_type=IdentifierType.CARD, identifier_value="1")
    init = inspect.getsource(IdentifierRequest.__init__)
    assert init.startswith("def __init__(self, *, wire_extra=")
    assert "'IdentifierRequest.identifier_value is required'" in init


def test_the_generated_init_keeps_attrs_signature() -> None:
    @attrs.frozen(kw_only=True, slots=False, repr=False, eq=False)
    class Probe(Model):
        code: Title | None = None
        name: str = attrs.field()

    before = inspect.signature(Probe)
    Probe(name="first")  # attrs' __init__ runs once, then the generated one is installed
    assert inspect.signature(Probe) == before
    assert Probe.__init__.__qualname__.endswith("Probe.__init__")
    assert Probe(name="x", code=1).code is Title.MR
    with pytest.raises(TypeError, match="missing 1 required keyword-only argument: 'name'"):
        Probe()  # type: ignore[call-arg]
    with pytest.raises(ValueError, match=r"^Probe\.name is required$"):
        Probe(name=None)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="wire_extra must be a mapping"):
        Probe(name="x", wire_extra={1: 2})  # type: ignore[dict-item]


def test_a_class_with_its_own_hook_keeps_attrs_init_and_the_checks() -> None:
    seen = []

    @attrs.frozen(kw_only=True, slots=False, repr=False, eq=False)
    class Hooked(Model):
        name: str | None = None

        def __attrs_post_init__(self) -> None:
            seen.append(self.name)
            super().__attrs_post_init__()

    Hooked(name="a")
    Hooked(name="b")
    assert seen == ["a", "b"]
    with pytest.raises(ValueError, match=r"Hooked\.name: expected str"):
        Hooked(name=3)  # type: ignore[arg-type]


@settings(max_examples=30, deadline=None)
@given(data=st.data())
def test_decoded_and_built_models_are_equal_and_hash_alike(data: st.DataObject) -> None:
    cls = data.draw(st.sampled_from(MODEL_CLASSES))
    model = data.draw(models(cls))
    built = cls(**{a.name: getattr(model, a.name) for a in attrs.fields(cls)})
    decoded = from_wire(cls, to_wire(model))
    assert built == model == decoded
    try:
        expected = hash(model)
    except TypeError:  # raw JSON lists inside: unhashable, as a tuple holding a list is
        return
    assert hash(built) == expected == hash(decoded)


def test_models_of_different_classes_or_extras_differ() -> None:
    a = PersonRequest(first_name="Jean")
    assert a != PersonRequest(first_name="Jean", wire_extra={"x": 1})
    assert a != PersonRequest(first_name="Jeanne")
    assert (a == "Jean") is False
    assert a.__eq__(object()) is NotImplemented


# ------------------------------------------------------------- the table agrees with itself


def _compiled(template: str, kind: Kind) -> Any:
    target, members = "", ""
    namespace: dict[str, Any] = dict(HELPERS)
    if kind is Kind.ENUM:
        namespace["_T"], namespace["_M"] = Title, Title._value2member_map_
        target, members = "_T", "_M"
    return eval(f"lambda v: {expression(template, 'v', target, members)}", namespace)


PYTHON_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**65), 2**65),
    st.floats(),
    st.text(max_size=5),
    st.dates(),
    st.datetimes(),
    st.datetimes(timezones=st.just(dt.UTC)),
    st.sampled_from(list(Title)),
)


@pytest.mark.parametrize("kind", [k for k in Kind if k is not Kind.MODEL], ids=str)
@settings(max_examples=150, deadline=None)
@given(value=PYTHON_VALUES)
def test_a_value_the_fast_check_accepts_the_full_rule_keeps(kind: Kind, value: Any) -> None:
    rule = RULES[kind]
    target = Title if kind is Kind.ENUM else None
    if value is None:  # None means "not set": the checks never see it
        return
    stored, error = rule.check(value, target)
    fast = _compiled(rule.accepts, kind)
    if fast(value):
        assert error is None and stored is value
    elif error is None:
        # What the full rule takes and the fast test does not, it converts to what the fast
        # test takes (an int to an enum member), or keeps as it is (an int in a float field,
        # an instance of a subclass such as an IntEnum member in an int field).
        assert fast(stored) or stored is value


WIRE_VALUES = json_values | st.sampled_from(
    [
        "31/01/2000",
        "31/02/2000",
        "2000-01-31",
        "24/09/2025 11:20:00",
        "24/09/2025 25:20:00",
        "2025-09-24 11:20:00.000",
        "2025-09-24T11:20:00.000",
        "ab/cd/efgh",
        0,
        1,
        2,
        "1",
        math.nan,
        math.inf,
        10**30,
    ]
)


@pytest.mark.parametrize("kind", [k for k in Kind if k is not Kind.MODEL], ids=str)
@settings(max_examples=200, deadline=None)
@given(value=WIRE_VALUES)
def test_a_canonical_wire_value_decodes_as_the_reader_reads_it_and_encodes_back(
    kind: Kind, value: Any
) -> None:
    rule = RULES[kind]
    target = Title if kind is Kind.ENUM else None
    try:
        read = rule.read(value, target)
    except BadValue:
        read = BadValue
    if value is None or rule.canonical is None or not _compiled(rule.canonical, kind)(value):
        return
    decode = _compiled(rule.decode or "$v", kind)
    try:
        decoded = decode(value)
    except (ValueError, KeyError):  # the decoder leaves it to the explainer, which refuses
        assert read is BadValue
        return
    assert decoded == read and type(decoded) is type(read)
    assert _compiled(rule.encode or "$v", kind)(decoded) == value


# ------------------------------------------------------------------------ wire_schema


def test_wire_schema_names_kinds_models_and_lists() -> None:
    schema = wire_schema(OffersResponse)
    assert schema == {"GetOffersResponses": WireField(Kind.MODEL, OfferResponse, True)}
    offer = wire_schema(OfferResponse)
    assert offer["startDate"] == WireField(Kind.DATETIME, None, False)
    assert offer["classifications"] == WireField(Kind.RAW, None, True)
    assert wire_schema(IdentifierRequest)["identifierType"].kind is Kind.ENUM
    assert wire_schema(OfferResponse) is offer  # cached


@pytest.mark.parametrize("cls", MODEL_CLASSES, ids=lambda c: c.__name__)
def test_wire_schema_holds_every_key_the_encoder_writes(cls: type[Model]) -> None:
    schema = wire_schema(cls)
    assert len(schema) == len(model_fields(cls))
    for key, field in schema.items():
        assert isinstance(key, str)
        assert (field.model is not None) == (field.kind is Kind.MODEL)


@settings(max_examples=20, deadline=None)
@given(data=st.data())
def test_encoded_keys_are_schema_keys(data: st.DataObject) -> None:
    cls = data.draw(st.sampled_from(MODEL_CLASSES))
    body = to_wire(data.draw(models(cls, extra=False)))
    assert set(body) <= set(wire_schema(cls))


# ------------------------------------------------------------------- explicit nulls


@attrs.frozen(kw_only=True, slots=False, repr=False, eq=False)
class _XThenY(Model):
    x: str | None = None
    y: str | None = None


@attrs.frozen(kw_only=True, slots=False, repr=False, eq=False)
class _YThenX(Model):
    y: str | None = None
    x: str | None = None


def test_blocks_of_the_same_keys_in_other_classes_keep_their_own_nulls() -> None:
    # A decoder finds a block's shared mapping of nulls by its shape: the bits of its fields
    # without a value mean other keys in a class whose fields come in another order.
    first = from_wire(_XThenY, {"x": None, "y": "1"}).wire_extra
    second = from_wire(_YThenX, {"x": "1", "y": None}).wire_extra
    assert dict(first) == {"x": None}
    assert dict(second) == {"y": None}
    # Seen again, each class finds its own.
    assert from_wire(_XThenY, {"x": None, "y": "1"}).wire_extra is first
    assert from_wire(_YThenX, {"x": "1", "y": None}).wire_extra is second


def test_past_the_bound_of_shapes_nulls_are_still_shared(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_codec, "_MAX_SHAPES", len(_codec._SHAPES))
    shapes = len(_codec._SHAPES)
    body = {"unit": None, "name": None, "value": 3}
    first = from_wire(AccountResponse, body).wire_extra
    assert from_wire(AccountResponse, body).wire_extra is first
    assert len(_codec._SHAPES) == shapes
    assert dict(first) == {"unit": None, "name": None}


@st.composite
def _answers(draw: st.DrawFn, cls: type[Model], body: Any, noisy: bool) -> Any:
    """``body`` (a block of ``cls``, as the encoder writes it) as WsOne may send it: keys
    nulled, dropped, in any order; if ``noisy``, keys added (null or not) and numbers as
    text; blocks likewise."""
    if body.__class__ is not dict:
        return body
    schema = wire_schema(cls)
    required = {wire_name(cls, i) for i in model_fields(cls) if i.required}
    out: dict[str, Any] = {}
    for key in [*schema, *(k for k in body if k not in schema)]:
        change = draw(st.sampled_from(["keep", "keep", "null", "drop"]))
        if change == "null" and key not in required:
            out[key] = None
        elif key in body and (change == "keep" or key in required):
            value, field = body[key], schema.get(key)
            if field is not None and field.model is not None:
                if field.many and value.__class__ is list:
                    value = [draw(_answers(field.model, item, noisy)) for item in value]
                else:
                    value = draw(_answers(field.model, value, noisy))
            elif noisy and value.__class__ is int and draw(st.booleans()):
                value = str(value)  # kept as spelled, where the field is not text
            out[key] = value
    unknown = st.lists(st.sampled_from(["pending", "Unknown"]), max_size=2, unique=True)
    for key in draw(unknown) if noisy else ():
        out[key] = draw(st.none() | st.integers(0, 3))
    return dict(draw(st.permutations(list(out.items()))))


def _check_blocks(cls: type[Any], body: Any, model: Any, again: Any) -> None:
    """Each block's ``wire_extra`` is what its body says: spellings kept, unknown keys and
    explicit nulls; explicit nulls of fields only are the shared mapping, in body order,
    the same object in ``again`` (the same body decoded again), listed in NULLS_ONLY."""
    schema = wire_schema(cls)
    spelled = {
        key: value
        for key, value in body.items()
        if (field := schema.get(key)) is not None
        and field.model is None
        and value is not None
        and not (
            all(map(_codec._canonical_test(field.kind), value))
            if field.many
            else _codec._canonical_test(field.kind)(value)
        )
    }
    left = {key: value for key, value in body.items() if value is None or key not in schema}
    extra = model.wire_extra
    assert dict(extra) == {**spelled, **left}
    nulls_only = not spelled and all(key in schema and left[key] is None for key in left)
    if left and nulls_only:
        assert again.wire_extra is extra
        assert list(extra) == [key for key in body if body[key] is None]
        assert id(extra) in _codec.NULLS_ONLY
    else:
        assert id(extra) not in _codec.NULLS_ONLY and id(again.wire_extra) not in _codec.NULLS_ONLY
    for key, field in schema.items():
        value = body.get(key)
        if field.model is None or value is None:
            continue
        name = _codec._fields_by_wire(cls)[key].name
        blocks, decoded, decoded_again = value, getattr(model, name), getattr(again, name)
        if not field.many:
            blocks, decoded, decoded_again = [blocks], [decoded], [decoded_again]
        for item, one, one_again in zip(blocks, decoded, decoded_again, strict=True):
            _check_blocks(field.model, item, one, one_again)


def _reshaped(cls: type[Model], body: Any, null: bool) -> Any:
    """``body`` with the keys of each block in reverse order, or (``null``) the first of its
    optional values that is not a block null: the same keys with other nulls."""
    if body.__class__ is not dict:
        return body
    schema = wire_schema(cls)
    optional = {wire_name(cls, i) for i in model_fields(cls) if not i.required}
    items = list(body.items()) if null else list(reversed(body.items()))
    out, to_null = {}, null
    for key, value in items:
        field = schema.get(key)
        if field is not None and field.model is not None and value is not None:
            if field.many and value.__class__ is list:
                value = [_reshaped(field.model, item, null) for item in value]
            else:
                value = _reshaped(field.model, value, null)
        elif to_null and key in optional and value is not None:
            value, to_null = None, False
        out[key] = value
    return out


@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_every_blocks_nulls_are_found_from_its_body_alone(data: st.DataObject) -> None:
    cls = data.draw(st.sampled_from(MODEL_CLASSES))
    encoded = to_wire(data.draw(models(cls, extra=False)))
    body = data.draw(_answers(cls, encoded, noisy=data.draw(st.booleans())))
    # Bodies of blocks of the same keys in other orders, or with other nulls, decoded one
    # after the other: each must find its own nulls, not those of a block seen before.
    for each in (body, _reshaped(cls, body, False), _reshaped(cls, body, True)):
        first = from_wire(cls, each)
        # Again in steps: the long lists come decoded beforehand, the rest by its shape.
        steps = _codec.decode_in_steps(cls, copy.deepcopy(each), lambda each=each: each, step=1)
        again, _ = run_steps(steps)
        _check_blocks(cls, each, first, again)
        assert to_wire(first) == to_wire(again) == each


@attrs.frozen(kw_only=True, slots=False, repr=False, eq=False)
class _Unfiled(Model):
    unfiled: str | None = None  # a key no other test's body holds


def test_past_the_bound_of_nulls_no_shape_leads_to_a_mapping_drift_would_count(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(_codec, "_MAX_NULL_SHAPES", len(_codec._NULLS))
    extras = [from_wire(_Unfiled, {"unfiled": None}).wire_extra for _ in range(2)]
    assert [dict(extra) for extra in extras] == [{"unfiled": None}] * 2
    # Not shared, so not listed: and no shape may lead a decoder to it as if it were.
    assert all(id(mapping) in _codec.NULLS_ONLY for mapping in _codec._SHAPES.values())


@attrs.frozen(kw_only=True, slots=False, repr=False, eq=False)
class _Raced(Model):
    racedfield: str | None = None  # a key no other test's body holds


def test_a_mapping_of_nulls_is_listed_before_another_thread_can_find_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The decoding thread may be stopped between filing a new mapping of nulls and listing
    # it; the loop's decoder then finds it in the cache and drift detection looks it up in
    # NULLS_ONLY: it must be there, or an explicit null is counted as drift.
    found: list[tuple[bool, bool]] = []

    class Paused(dict[tuple[str, ...], Any]):  # the filing thread, stopped right after filing
        def setdefault(self, key: tuple[str, ...], default: Any = None) -> Any:
            shared = super().setdefault(key, default)
            other = from_wire(_Raced, {"racedfield": None}).wire_extra
            found.append((other is shared, id(other) in _codec.NULLS_ONLY))
            return shared

    cache = _codec._NULLS
    paused = Paused(cache)
    monkeypatch.setattr(_codec, "_NULLS", paused)
    try:
        first = from_wire(_Raced, {"racedfield": None}).wire_extra
    finally:
        cache.update(paused)  # what was listed stays alive, as the module's cache keeps it
    assert found == [(True, True)]
    assert id(first) in _codec.NULLS_ONLY


# ---------------------------------------------------------------------- lazy cattrs


def test_cattrs_is_imported_only_to_explain_a_refusal() -> None:
    script = (
        "import sys\n"
        "from wsone_async import from_wire, ResponseDecodeError\n"
        "from wsone_async.models import PersonRequest\n"
        "from_wire(PersonRequest, {'firstName': 'Jean', 'birthDate': '31/01/2000'})\n"
        "assert 'cattrs' not in sys.modules, 'imported too early'\n"
        "try:\n"
        "    from_wire(PersonRequest, {'birthDate': 'yesterday'})\n"
        "except ResponseDecodeError as exc:\n"
        "    assert exc.path == '$.birthDate', exc.path\n"
        "else:\n"
        "    raise AssertionError('the refusal was not raised')\n"
        "assert 'cattrs' in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", script], check=True, timeout=60)
