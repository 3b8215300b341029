"""The error tree, the code registry, and messages free of personal data."""

from __future__ import annotations

import builtins
import pathlib
import re

import pytest

from tests._support.errors import DuplicateError
from wsone_async import WsOneClient, errors
from wsone_async.errors import (
    APIConnectionError,
    APIError,
    APITimeoutError,
    NotFoundError,
    OutcomeUnknownError,
    RateLimitError,
    error_class_for,
    register_error_code,
    unregister_error_code,
)

README = pathlib.Path(__file__).resolve().parents[2] / "README.md"


def _drawn_tree() -> list[tuple[str, str | None, str | None]]:
    """(class, parent drawn above it, the built-in named in "also a X") for each line."""
    block = README.read_text(encoding="utf-8").split("## Errors", 1)[1].split("```")[1]
    drawn: list[tuple[str, str | None, str | None]] = []
    stack: list[str] = []
    for line in block.strip().splitlines():
        found = re.match(r"^([\s│├└─]*)(\w+)", line)
        if found is None:  # "(your subclasses)"
            continue
        depth = len(found.group(1)) // 4
        name = found.group(2)
        del stack[depth:]
        also = re.search(r"also an? (\w+)", line)
        drawn.append((name, stack[-1] if stack else None, also.group(1) if also else None))
        stack.append(name)
    return drawn


def test_the_tree_drawn_in_the_readme_is_the_class_tree() -> None:
    drawn = _drawn_tree()
    classes = {name for name in errors.__all__ if name.endswith("Error")}
    assert {name for name, _, _ in drawn} == classes
    for name, parent, also in drawn:
        cls = getattr(errors, name)
        expected = getattr(errors, parent) if parent else Exception
        assert expected in cls.__bases__, (name, parent)
        if also is not None:
            assert issubclass(cls, getattr(builtins, also)), (name, also)


def test_tree_is_drawn_in_the_module_docstring() -> None:
    doc = errors.__doc__ or ""
    for name in errors.__all__:
        if name[0].isupper():
            assert name in doc, name


def test_every_error_class_has_a_one_line_docstring() -> None:
    for name in errors.__all__:
        value = getattr(errors, name)
        if isinstance(value, type):
            assert value.__doc__ and "\n" not in value.__doc__.strip(), name


def test_registry_maps_codes_to_classes() -> None:
    assert error_class_for("E42") is APIError
    register_error_code("E42", DuplicateError)
    try:
        assert error_class_for("E42") is DuplicateError
    finally:
        unregister_error_code("E42")
    assert error_class_for("E42") is APIError


@pytest.mark.parametrize(
    ("code", "cls"), [("", DuplicateError), (42, DuplicateError), ("E1", ValueError)]
)
def test_registry_refuses_bad_registrations(code: object, cls: object) -> None:
    with pytest.raises(TypeError):
        register_error_code(code, cls)  # type: ignore[arg-type]


def test_the_success_code_cannot_be_registered_as_an_error() -> None:
    # It would never be consulted: a "not found" given as "000" by mistake settled nothing.
    with pytest.raises(ValueError, match="success"):
        register_error_code("000", NotFoundError)
    assert error_class_for("000") is APIError
    with pytest.raises(ValueError, match="success"):
        WsOneClient(
            "https://wsone.example.fr", username="u", password="p", codes={"000": NotFoundError}
        )


def test_api_error_message_leaves_the_vendors_text_out_but_keeps_it() -> None:
    infos = "Person DUPOND Jean (jean.dupond@example.fr, 0612345678, born 01/01/2000) exists"
    error = APIError("101", infos, operation="createPerson")
    text = f"{error} {error!r}"
    for secret in ("DUPOND", "Jean", "jean.dupond@example.fr", "0612345678", "01/01/2000"):
        assert secret not in text
    assert str(error) == "createPerson: WsOne responseCode '101' (WsOne's text is in .infos)"
    assert (error.code, error.infos, error.operation) == ("101", infos, "createPerson")


def test_a_huge_code_is_cut_in_the_message() -> None:
    assert len(str(APIError("9" * 10_000))) < 100


def test_outcome_unknown_keeps_the_request_out_of_its_message() -> None:
    request = {"lastName": "DUPOND"}
    error = OutcomeUnknownError("createPerson", request, reason="read timeout")
    assert error.request is request and error.operation == "createPerson"
    assert "DUPOND" not in f"{error} {error!r}"
    assert "getPerson" in str(error)


def test_rate_limit_error_carries_retry_after() -> None:
    error = RateLimitError(operation="getPerson", retry_after=30.0)
    assert error.status == 429 and error.retry_after == 30.0
    assert "30" in str(error)


def test_connection_errors_say_whether_the_request_was_sent() -> None:
    assert APIConnectionError("refused", request_sent=False).request_sent is False
    assert APITimeoutError("read timeout", request_sent=True).request_sent is True
