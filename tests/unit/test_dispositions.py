"""Every error says what to do with it (disposition), and what a web app answers for it."""

from __future__ import annotations

import re

import pytest

import wsone_async
from tests._support.errors import DuplicateError
from tests._support.readme import README
from wsone_async import web
from wsone_async.errors import (
    APIConnectionError,
    APIError,
    APITimeoutError,
    AuthenticationError,
    ClientClosedError,
    ClientStateError,
    Disposition,
    HTTPStatusError,
    NotFoundError,
    OutcomeUnknownError,
    RateLimitError,
    ResponseDecodeError,
    ResponseTooLargeError,
    ServerError,
    WsOneError,
    disposition_of,
    register_error_code,
    unregister_error_code,
)
from wsone_async.web import HTTP_ANSWERS, http_answer

RETRY_LATER = Disposition.RETRY_LATER
CHECK_FIRST = Disposition.CHECK_FIRST
DO_NOT_RETRY = Disposition.DO_NOT_RETRY


class RetryableCodeError(APIError):
    """Test-only: a code a deployment knows to be transient."""

    retryable = True


# One example of each case the README's table names: (label, error, disposition, status).
CASES: list[tuple[str, WsOneError, Disposition, int]] = [
    ("`APIConnectionError`", APIConnectionError("reset", request_sent=False), RETRY_LATER, 502),
    ("`APITimeoutError`", APITimeoutError("read", request_sent=True), RETRY_LATER, 504),
    ("`RateLimitError` (429)", RateLimitError(retry_after=2.0), RETRY_LATER, 503),
    ("`ServerError` 503", ServerError(503, retry_after=1.0), RETRY_LATER, 503),
    ("`ServerError`, other 5xx", ServerError(502), RETRY_LATER, 502),
    ("`HTTPStatusError` 408", HTTPStatusError(408), RETRY_LATER, 502),
    ("`ResponseDecodeError`, not JSON (`.path` None)", ResponseDecodeError("html"), RETRY_LATER, 502),
    ("`ClientClosedError`", ClientClosedError("closed"), RETRY_LATER, 503),
    ("`APIError` registered `retryable = True`", RetryableCodeError("7"), RETRY_LATER, 502),
    ("`OutcomeUnknownError`", OutcomeUnknownError("createPerson", None, reason="x"), CHECK_FIRST, 502),
    ("`NotFoundError` (a registered code)", NotFoundError("101"), DO_NOT_RETRY, 404),
    ("`APIError`, any other code", APIError("102"), DO_NOT_RETRY, 502),
    ("`AuthenticationError` (401, 403)", AuthenticationError(401), DO_NOT_RETRY, 502),
    ("`HTTPStatusError`, other 4xx", HTTPStatusError(404), DO_NOT_RETRY, 502),
    ("`ResponseDecodeError`, JSON that does not fit (`.path` set)", ResponseDecodeError("bad", path="$.x"), DO_NOT_RETRY, 502),
    ("`ResponseTooLargeError`", ResponseTooLargeError("big"), DO_NOT_RETRY, 502),
    ("`ClientStateError` (another event loop)", ClientStateError("loop"), DO_NOT_RETRY, 500),
]  # fmt: skip


@pytest.mark.parametrize(("label", "error", "disposition", "status"), CASES)
def test_each_error_has_its_disposition_and_status(
    label: str, error: WsOneError, disposition: Disposition, status: int
) -> None:
    assert error.disposition is disposition is disposition_of(error)
    assert error.retryable is (disposition is RETRY_LATER)
    assert http_answer(error).status == status


def _rendered_table() -> str:
    rows = ["| error | `.disposition` | `http_answer(error).status` |", "| --- | --- | --- |"]
    for label, error, _, _ in CASES:
        answer = http_answer(error)
        retry = ", `Retry-After` when WsOne sent one" if "Retry-After" in answer.headers else ""
        rows.append(f"| {label} | `{error.disposition.name}` | {answer.status}{retry} |")
    return "\n".join(rows)


def test_the_readme_table_is_what_the_code_does() -> None:
    section = README.split("<!-- dispositions:start -->", 1)[1].split("<!-- dispositions:end -->")
    assert section[0].strip() == _rendered_table(), _rendered_table()


def test_every_error_class_appears_in_the_table() -> None:
    classes = {
        value
        for value in vars(wsone_async.errors).values()
        if isinstance(value, type) and issubclass(value, WsOneError)
    }
    assert classes <= {type(error) for _, error, _, _ in CASES} | {WsOneError}
    assert {rule.error_type for rule in HTTP_ANSWERS} <= classes


def test_every_row_of_the_http_table_decides_something(monkeypatch: pytest.MonkeyPatch) -> None:
    # One table, each row once: a row whose errors the rows after it answer alike is noise.
    for index, rule in enumerate(HTTP_ANSWERS[:-1]):
        mine = [error for _, error, _, _ in CASES if web._rule_for(error) is rule]
        assert mine, f"no example of the row {rule.error_type.__name__}"
        with monkeypatch.context() as patched:
            patched.setattr(web, "HTTP_ANSWERS", HTTP_ANSWERS[:index] + HTTP_ANSWERS[index + 1 :])
            without = [http_answer(error) for error in mine]
        assert without != [http_answer(error) for error in mine], rule


def test_retry_after_is_on_every_error() -> None:
    assert RateLimitError(retry_after=3.0).retry_after == 3.0
    assert ServerError(503, retry_after=4.0).retry_after == 4.0
    assert APIError("1").retry_after is None
    assert APITimeoutError("t", request_sent=True).retry_after is None
    assert OutcomeUnknownError("createPerson", None, reason="x").retry_after is None


def test_registered_not_found_code_gives_404_and_no_personal_data() -> None:
    register_error_code("E404", NotFoundError)
    try:
        error = wsone_async.errors.error_class_for("E404")(
            "E404", "Person DUPOND Jean jean@example.fr not found", operation="getPerson"
        )
    finally:
        unregister_error_code("E404")
    answer = http_answer(error)
    assert answer.status == 404
    assert answer.body == {
        "error": "not_found",
        "message": "Not found.",
        "retryable": False,
        "disposition": "do_not_retry",
        "operation": "getPerson",
        "code": "E404",
    }
    assert not re.search(r"DUPOND|jean", repr(answer), flags=re.IGNORECASE)


def test_outcome_unknown_body_leaves_the_request_out() -> None:
    error = OutcomeUnknownError("createPerson", {"email": "jean@example.fr"}, reason="reset")
    answer = http_answer(error)
    assert answer.status == 502
    assert answer.body["error"] == "outcome_unknown"
    assert answer.body["disposition"] == "check_first"
    assert "jean" not in repr(answer)


@pytest.mark.parametrize(("seconds", "header"), [(0.2, "1"), (2.0, "2"), (2.5, "3"), (0.0, "0")])
def test_retry_after_is_whole_seconds_rounded_up(seconds: float, header: str) -> None:
    answer = http_answer(RateLimitError(retry_after=seconds))
    assert answer.status == 503
    assert answer.headers == {"Retry-After": header}


def test_no_retry_after_header_without_a_delay() -> None:
    assert http_answer(RateLimitError()).headers == {}
    assert http_answer(ServerError(503)).headers == {}


def test_statuses_give_your_own_classes_a_status() -> None:
    class SpecialDuplicateError(DuplicateError):
        """Test-only: a subclass of a mapped class."""

    statuses = {DuplicateError: 409}
    assert http_answer(DuplicateError("102"), statuses=statuses).status == 409
    assert http_answer(SpecialDuplicateError("102"), statuses=statuses).status == 409
    assert http_answer(APIError("102"), statuses=statuses).status == 502
    assert http_answer(NotFoundError("101"), statuses={NotFoundError: 410}).status == 410


def test_web_module_is_public_and_documented() -> None:
    assert web.__all__ == ["HTTP_ANSWERS", "HTTPAnswer", "HTTPRule", "http_answer"]
    assert wsone_async.http_answer is http_answer
