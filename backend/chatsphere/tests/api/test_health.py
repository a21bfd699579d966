from collections.abc import Callable
from typing import Any

import pytest
from django.db import OperationalError, connection
from django.test import override_settings

from chatsphere.services.agent_client import AgentHealth
from chatsphere.tests.helpers import UNREACHABLE_REDIS_CACHE, assert_error

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("agent_up", "status", "agent_status"),
    [
        # The kind of each provider, never its location (this answer is public).
        (True, "ok", {"status": "ok", "providers": {"vector_store": "chroma", "llm": "y"}}),
        (False, "degraded", {"status": "unavailable", "providers": None}),
    ],
    ids=["all-well", "agent-down"],
)
def test_health_is_200_and_names_each_dependency(client, agent, monkeypatch, agent_up, status, agent_status):
    if agent_up:
        health = AgentHealth("ok", {"vector_store": "chroma:/srv/x", "llm": "y"})
        monkeypatch.setattr(agent, "health", lambda: health)
    else:
        agent.unavailable = True

    response = client.get("/api/health/")

    assert response.status_code == 200
    assert response.json() == {
        "status": status,
        "database": "ok",
        "redis": "ok",  # the testsupport plugin gives the suite a Redis cache
        "broker": "not_configured",
        "agent": agent_status,
    }


def test_needs_no_credentials_and_ignores_bad_ones(client):
    assert client.get("/api/health/", HTTP_AUTHORIZATION="Bearer not-a-jwt").status_code == 200


def _unreachable_database(execute: Callable[..., Any], *args: Any) -> Any:
    raise OperationalError("connection refused")


def test_database_down_is_503_in_the_error_shape(client):
    with connection.execute_wrapper(_unreachable_database):
        response = client.get("/api/health/")

    assert_error(response, 503, "database_unavailable")


def test_redis_down_is_200_degraded(client):
    with override_settings(CACHES=UNREACHABLE_REDIS_CACHE):
        response = client.get("/api/health/")

    assert response.status_code == 200
    assert response.json()["status"] == "degraded"
    assert response.json()["redis"] == "unavailable"
