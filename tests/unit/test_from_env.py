"""WsOneClient.from_env: the three variables, a clear refusal, options passed through."""

from __future__ import annotations

import pytest

from wsone_async import RetryPolicy, Timeouts, WsOneClient

ENV = {
    "WSONE_BASE_URL": "https://loyalty.example.fr",
    "WSONE_USER": "api-user",
    "WSONE_PASSWORD": "s3cret-pw",
}


def test_reads_the_process_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    client = WsOneClient.from_env(timeout=Timeouts(total=5), retry=RetryPolicy(max_retries=0))
    assert repr(client) == (
        "WsOneClient(base_url='https://loyalty.example.fr', username='api-user', "
        "state='not opened')"
    )
    assert client.timeouts.total == 5
    assert client.retry_policy.max_retries == 0


def test_a_mapping_can_stand_for_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ENV:
        monkeypatch.delenv(name, raising=False)
    assert not WsOneClient.from_env(ENV).closed


@pytest.mark.parametrize(
    ("missing", "named"),
    [
        (("WSONE_BASE_URL",), "WSONE_BASE_URL not set"),
        (("WSONE_USER", "WSONE_PASSWORD"), "WSONE_USER, WSONE_PASSWORD not set"),
        (tuple(ENV), "WSONE_BASE_URL, WSONE_USER, WSONE_PASSWORD not set"),
    ],
)
def test_refuses_naming_every_missing_variable(missing: tuple[str, ...], named: str) -> None:
    env = {name: value for name, value in ENV.items() if name not in missing}
    with pytest.raises(ValueError, match=named) as caught:
        WsOneClient.from_env(env)
    assert "s3cret" not in str(caught.value)


def test_an_empty_variable_counts_as_missing() -> None:
    with pytest.raises(ValueError, match="WSONE_PASSWORD not set"):
        WsOneClient.from_env({**ENV, "WSONE_PASSWORD": ""})


def test_the_base_url_is_checked_as_usual() -> None:
    with pytest.raises(ValueError, match="plain http"):
        WsOneClient.from_env({**ENV, "WSONE_BASE_URL": "http://loyalty.example.fr"})
    client = WsOneClient.from_env(
        {**ENV, "WSONE_BASE_URL": "http://loyalty.example.fr"}, allow_insecure_http=True
    )
    assert not client.closed
