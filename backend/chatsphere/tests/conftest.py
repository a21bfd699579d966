"""Test-wide seams: PostgreSQL availability, the in-process agent, isolated media and cache.

config/settings.py points a pytest process at TEST_DATABASE_URL (postgres://postgres@127.0.0.1:5432/
chatsphere) when DATABASE_URL is unset: pytest-django imports the settings before any conftest runs.
"""

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.core.cache import cache
from pytest_django.fixtures import Settings
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import RefreshToken

from chatsphere.services.agent_client import InMemoryAgent, set_agent
from chatsphere.tests.factories import UserFactory

_DB_ERROR_KEY = pytest.StashKey[str | None]()


def _postgres_error() -> str | None:
    database = settings.DATABASES["default"]
    if database["ENGINE"] != "django.db.backends.postgresql":
        return f"the test suite needs PostgreSQL, DATABASE_URL selects {database['ENGINE']}"
    try:
        psycopg.connect(
            host=database.get("HOST") or None,
            port=database.get("PORT") or None,
            user=database.get("USER") or None,
            password=database.get("PASSWORD") or None,
            dbname="postgres",
            connect_timeout=3,
        ).close()
    except psycopg.OperationalError as exc:
        return f"PostgreSQL at {database.get('HOST')}:{database.get('PORT')} is unreachable: {exc}"
    return None


def pytest_configure(config: pytest.Config) -> None:
    error = _postgres_error()
    if error and os.environ.get("CI"):
        raise pytest.UsageError(f"CI is set and {error}")
    config.stash[_DB_ERROR_KEY] = error


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    error = config.stash.get(_DB_ERROR_KEY, None)
    if not error:
        return
    skip = pytest.mark.skip(reason=error)
    for item in items:
        if item.get_closest_marker("django_db") or "db" in getattr(item, "fixturenames", ()):
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def agent() -> Iterator[InMemoryAgent]:
    """Every test talks to a fresh in-process agent; set `agent.unavailable = True` to simulate an outage."""
    in_memory = InMemoryAgent()
    set_agent(in_memory)
    yield in_memory
    set_agent(None)


@pytest.fixture(autouse=True)
def _isolated_media_and_cache(settings: Settings, tmp_path: Path) -> Iterator[None]:
    settings.MEDIA_ROOT = tmp_path / "media"
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def client_for() -> Callable[[User], APIClient]:
    """An API client authenticated (with a real JWT) as the given user."""

    def build(user: User) -> APIClient:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {RefreshToken.for_user(user).access_token}")
        return client

    return build


@pytest.fixture
def user(db: None) -> User:
    return UserFactory.create()


@pytest.fixture
def other_user(db: None) -> User:
    return UserFactory.create()


@pytest.fixture
def api(client_for: Callable[[User], APIClient], user: User) -> APIClient:
    return client_for(user)


@pytest.fixture
def other_api(client_for: Callable[[User], APIClient], other_user: User) -> APIClient:
    return client_for(other_user)
