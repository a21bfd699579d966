import os

import pytest
from pydantic import ValidationError

from loadtests.config import LoadSettings


@pytest.fixture(autouse=True)
def _clean_load_environment(monkeypatch):
    for name in list(os.environ):
        if name.startswith("LOAD_") or name == "AGENT_SERVICE_TOKEN":
            monkeypatch.delenv(name)


def test_defaults_are_those_of_a_full_run():
    settings = LoadSettings()

    assert (settings.users, settings.duration, settings.max_error_ratio) == (20, "60s", 0.0)
    assert settings.agent_token is None


def test_every_level_comes_from_its_environment_variable(monkeypatch):
    monkeypatch.setenv("LOAD_USERS", "5")
    monkeypatch.setenv("LOAD_SPAWN_RATE", "2.5")
    monkeypatch.setenv("LOAD_DURATION", "1m30s")
    monkeypatch.setenv("LOAD_P95_MS", "250")
    monkeypatch.setenv("LOAD_MAX_ERROR_RATIO", "0.01")

    settings = LoadSettings()

    assert (settings.users, settings.spawn_rate, settings.duration) == (5, 2.5, "1m30s")
    assert (settings.p95_ms, settings.max_error_ratio) == (250.0, 0.01)


def test_the_agent_token_is_the_services_own_variable_and_stays_secret(monkeypatch):
    monkeypatch.setenv("AGENT_SERVICE_TOKEN", "a-real-looking-token-1234")

    settings = LoadSettings()

    assert settings.agent_token is not None
    assert settings.agent_token.get_secret_value() == "a-real-looking-token-1234"
    assert "a-real-looking-token-1234" not in repr(settings)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("LOAD_USERS", "0"),
        ("LOAD_DURATION", "60"),  # locust would read a bare number as seconds; we insist on a unit
        ("LOAD_DURATION", "soon"),
        ("LOAD_MAX_ERROR_RATIO", "1.5"),
        ("LOAD_P95_MS", "-1"),
    ],
)
def test_a_nonsensical_value_fails_at_start_up(monkeypatch, name, value):
    monkeypatch.setenv(name, value)

    with pytest.raises(ValidationError, match=name.removeprefix("LOAD_").lower()):
        LoadSettings()


def test_think_time_must_be_a_range(monkeypatch):
    monkeypatch.setenv("LOAD_THINK_MIN_S", "3")
    monkeypatch.setenv("LOAD_THINK_MAX_S", "1")

    with pytest.raises(ValidationError, match="LOAD_THINK_MAX_S"):
        LoadSettings()
