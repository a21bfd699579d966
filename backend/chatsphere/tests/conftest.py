"""Test-wide seams: the in-process agent, isolated media and cache, authenticated API clients.

The database is PostgreSQL from the testsupport plugin (`-p testsupport.services`), which sets
DATABASE_URL before pytest-django reads the settings and fails the run under CI when no server answers.
"""

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.core.cache import cache
from pytest_django.fixtures import Settings
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import RefreshToken

from chatsphere.services.agent_client import InMemoryAgent, set_agent
from chatsphere.services.web_fetch import SafeFetcher, set_fetcher
from chatsphere.tests.factories import UserFactory
from testsupport.fixture_site import FixtureSite, help_centre, serving, sitemap

# What the crawler's tests allow themselves: the loopback fixture site, a body limit the huge page exceeds,
# a timeout the slow page exceeds.
TEST_FETCH_MAX_BYTES = 100_000
TEST_FETCH_TIMEOUT_S = 0.5


def pytest_configure(config: pytest.Config) -> None:
    engine = settings.DATABASES["default"]["ENGINE"]
    if engine not in {"django.db.backends.postgresql", "config.postgresql"}:
        raise pytest.UsageError(
            f"the backend tests run on PostgreSQL, the database production uses, but DATABASE_URL selects "
            f"{engine}: run them with `-p testsupport.services` (tox -e backend does)."
        )


@pytest.fixture(autouse=True)
def agent() -> Iterator[InMemoryAgent]:
    """Every test talks to a fresh in-process agent; set `agent.unavailable = True` to simulate an outage."""
    in_memory = InMemoryAgent()
    set_agent(in_memory)
    yield in_memory
    set_agent(None)


@pytest.fixture(autouse=True)
def fetcher(settings: Settings) -> Iterator[SafeFetcher]:
    """The crawler's fetcher for every test: loopback allowed (the fixture site), small limits, no delay."""
    settings.CRAWL_DELAY_SECONDS = 0
    loopback = SafeFetcher(
        allow_loopback=True, timeout_s=TEST_FETCH_TIMEOUT_S, max_bytes=TEST_FETCH_MAX_BYTES
    )
    set_fetcher(loopback)
    yield loopback
    set_fetcher(None)
    loopback.close()


@pytest.fixture
def help_site() -> Iterator[FixtureSite]:
    """testsupport's help centre on loopback, with its sitemap."""
    with serving(help_centre(FixtureSite())) as site:
        sitemap(site)
        yield site


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
