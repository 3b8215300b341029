"""Properties of the codec, over every model class and arbitrary JSON."""

from __future__ import annotations

import cattrs
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import wsone_async.models
from tests._support.strategies import json_objects, json_values, models
from wsone_async import ResponseDecodeError, from_wire, to_wire
from wsone_async._codec import _cattrs_converter
from wsone_async.models import Model
from wsone_async.models._kinds import BadValue

MODEL_CLASSES = sorted(
    (
        cls
        for name in wsone_async.models.__all__
        if isinstance(cls := getattr(wsone_async.models, name), type)
        and issubclass(cls, Model)
        and cls is not Model
    ),
    key=lambda cls: cls.__name__,
)
SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.mark.parametrize("cls", MODEL_CLASSES, ids=lambda c: c.__name__)
@SETTINGS
@given(data=st.data())
def test_any_valid_model_round_trips(cls: type[Model], data: st.DataObject) -> None:
    model = data.draw(models(cls))
    wire = to_wire(model)
    # Through real JSON bytes, as on the network.
    decoded = from_wire(cls, orjson.loads(orjson.dumps(wire)))
    assert decoded == model
    assert to_wire(decoded) == wire


@pytest.mark.parametrize("cls", MODEL_CLASSES, ids=lambda c: c.__name__)
@SETTINGS
@given(body=json_objects | json_values)
def test_arbitrary_json_decodes_or_raises_response_decode_error(
    cls: type[Model], body: object
) -> None:
    try:
        decoded = from_wire(cls, body)
    except ResponseDecodeError as exc:
        # The fast path and the cattrs converter agree on what they refuse: the converter
        # refuses a non-object outright, and anything else field by field.
        assert "refused by the fast path" not in str(exc)
        with pytest.raises((cattrs.ClassValidationError, BadValue)):
            _cattrs_converter().structure(body, cls)
    else:
        # Whatever decodes is written back exactly as it came.
        assert to_wire(decoded) == body


@SETTINGS
@given(data=st.data())
def test_mutated_valid_bodies_decode_or_raise_only_response_decode_error(
    data: st.DataObject,
) -> None:
    cls = data.draw(st.sampled_from(MODEL_CLASSES))
    body = to_wire(data.draw(models(cls)))
    if body:
        key = data.draw(st.sampled_from(sorted(body)))
        body[key] = data.draw(json_values)
    try:
        decoded = from_wire(cls, body)
    except ResponseDecodeError as exc:
        assert exc.path is not None and exc.path.startswith("$")
        assert "refused by the fast path" not in str(exc)
    else:
        assert to_wire(decoded) == body
