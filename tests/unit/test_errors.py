"""The error tree, the code registry, and messages free of personal data."""

from __future__ import annotations

import pytest

from wsone_async import errors
from wsone_async.errors import (
    APIConnectionError,
    APIError,
    APITimeoutError,
    AuthenticationError,
    ClientClosedError,
    ClientStateError,
    HTTPStatusError,
    OutcomeUnknownError,
    RateLimitError,
    ResponseDecodeError,
    ResponseTooLargeError,
    ServerError,
    WsOneError,
    error_class_for,
    register_error_code,
    unregister_error_code,
)


@pytest.mark.parametrize(
    ("cls", "bases"),
    [
        (APIError, (WsOneError,)),
        (APIConnectionError, (WsOneError,)),
        (APITimeoutError, (APIConnectionError, TimeoutError)),
        (OutcomeUnknownError, (WsOneError,)),
        (HTTPStatusError, (WsOneError,)),
        (AuthenticationError, (HTTPStatusError,)),
        (RateLimitError, (HTTPStatusError,)),
        (ServerError, (HTTPStatusError,)),
        (ResponseDecodeError, (WsOneError,)),
        (ResponseTooLargeError, (WsOneError,)),
        (ClientStateError, (WsOneError, RuntimeError)),
        (ClientClosedError, (ClientStateError,)),
    ],
)
def test_tree(cls: type[Exception], bases: tuple[type[Exception], ...]) -> None:
    for base in bases:
        assert issubclass(cls, base)


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


class DuplicateError(APIError):
    """Test-only: the identifier is taken."""


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
