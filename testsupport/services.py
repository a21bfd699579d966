"""pytest plugin: a PostgreSQL and a Redis server for the tests, and where they came from.

Load it with `-p testsupport.services` (or `pytest_plugins = ["testsupport.services"]` in a suite that
does not use pytest-django). It provisions both servers once per run (see testsupport.provisioning for
the order: Docker, TEST_DATABASE_URL/TEST_REDIS_URL, throwaway local servers), prints the choice in the
report header and stops what it started at the end.

With `-p`, it runs before pytest-django reads Django's settings and points them at the chosen servers
through DATABASE_URL and REDIS_URL; pytest-django then creates `test_<name>[_gw<n>]` per xdist worker and
rolls every test back. The controller exports the URLs (and TESTSUPPORT_SERVICES=env) so xdist workers
and the server processes tests start use the same servers instead of provisioning their own.

A missing server fails the run when the environment variable CI is set; elsewhere the tests that need
it are skipped with the reason.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator, MutableMapping

import pytest
import redis

from testsupport import databases
from testsupport.provisioning import (
    DATABASE_URL_ENV,
    DEFAULT_DATABASE,
    MODE_ENV,
    REDIS_URL_ENV,
    Service,
    ServiceKind,
    ServiceSource,
    ServiceUnavailable,
    default_sources,
    provision,
)

# What Django's settings (django-environ) read; set before pytest-django imports them.
DJANGO_DATABASE_ENV = "DATABASE_URL"
DJANGO_REDIS_ENV = "REDIS_URL"
XDIST_WORKER_ENV = "PYTEST_XDIST_WORKER"


def running_in_ci(environ: MutableMapping[str, str] | None = None) -> bool:
    value = (os.environ if environ is None else environ).get("CI", "")
    return value.strip().lower() not in {"", "0", "false", "no"}


class TestServices:
    """The servers of one pytest process: provisioned once, described for the header, stopped at the end."""

    __test__ = False  # a helper, not a test class

    def __init__(self, sources: list[ServiceSource], *, environ: MutableMapping[str, str]) -> None:
        self._sources = sources
        self._environ = environ
        self._outcomes: dict[ServiceKind, Service | ServiceUnavailable] = {}
        self._saved_environ: dict[str, str | None] = {}

    def provision_all(self) -> None:
        for kind in ServiceKind:
            if kind not in self._outcomes:
                try:
                    self._outcomes[kind] = provision(kind, self._sources)
                except ServiceUnavailable as unavailable:
                    self._outcomes[kind] = unavailable

    def get(self, kind: ServiceKind) -> Service:
        self.provision_all()
        outcome = self._outcomes[kind]
        if isinstance(outcome, ServiceUnavailable):
            raise outcome
        return outcome

    def problems(self) -> list[ServiceUnavailable]:
        return [outcome for outcome in self._outcomes.values() if isinstance(outcome, ServiceUnavailable)]

    def header_lines(self) -> list[str]:
        lines = []
        for kind, outcome in self._outcomes.items():
            if isinstance(outcome, Service):
                lines.append(f"testsupport {outcome.describe()}")
            else:
                lines.append(f"testsupport {kind}: UNAVAILABLE ({'; '.join(outcome.reasons)})")
        return lines

    def export(self, *, worker_id: str | None) -> None:
        """Point this process's children (xdist workers, servers, Django settings) at the chosen servers."""
        values: dict[str, str] = {}
        if isinstance(postgres := self._outcomes.get(ServiceKind.POSTGRES), Service):
            values |= {DATABASE_URL_ENV: postgres.url, DJANGO_DATABASE_ENV: postgres.url}
        if isinstance(redis_service := self._outcomes.get(ServiceKind.REDIS), Service):
            worker_redis = databases.redis_url_with_db(
                redis_service.url, databases.worker_redis_db(worker_id or "main")
            )
            values |= {REDIS_URL_ENV: redis_service.url, DJANGO_REDIS_ENV: worker_redis}
        if values:
            values[MODE_ENV] = "env"
        for name, value in values.items():
            self._saved_environ.setdefault(name, self._environ.get(name))
            self._environ[name] = value

    def close(self) -> None:
        for name, previous in self._saved_environ.items():
            if previous is None:
                self._environ.pop(name, None)
            else:
                self._environ[name] = previous
        for outcome in self._outcomes.values():
            if isinstance(outcome, Service):
                outcome.stop()
        self._outcomes.clear()


_services_key = pytest.StashKey[TestServices]()


def _start(config: pytest.Config) -> TestServices:
    services = TestServices(default_sources(os.environ, database=DEFAULT_DATABASE), environ=os.environ)
    config.stash[_services_key] = services
    services.provision_all()
    services.export(worker_id=os.environ.get(XDIST_WORKER_ENV))
    if running_in_ci() and (problems := services.problems()):
        services.close()
        raise pytest.UsageError("CI is set and a test service is missing: " + " | ".join(map(str, problems)))
    return services


def _only_asks_for_help(args: list[str]) -> bool:
    return any(arg in {"-h", "--help", "--version", "-V"} for arg in args)


@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests(early_config: pytest.Config, args: list[str]) -> None:
    # tryfirst: pytest-django imports Django's settings in its own implementation of this hook.
    if not _only_asks_for_help(args):
        _start(early_config)


def pytest_configure(config: pytest.Config) -> None:
    if _services_key in config.stash or config.option.help or config.option.version:
        return
    django_conf = sys.modules.get("django.conf")
    if django_conf is not None and django_conf.settings.configured:
        raise pytest.UsageError(
            "testsupport.services was loaded after pytest-django read Django's settings; "
            "load it with `-p testsupport.services` so DATABASE_URL points at the test servers in time"
        )
    _start(config)


def pytest_report_header(config: pytest.Config) -> list[str]:
    services = config.stash.get(_services_key, None)
    return services.header_lines() if services is not None else []


def pytest_unconfigure(config: pytest.Config) -> None:
    services = config.stash.get(_services_key, None)
    if services is not None:
        services.close()


def _require(config: pytest.Config, kind: ServiceKind) -> Service:
    try:
        return config.stash[_services_key].get(kind)
    except ServiceUnavailable as unavailable:
        if running_in_ci():
            pytest.fail(f"CI is set and {unavailable}", pytrace=False)
        pytest.skip(str(unavailable))


def _worker_id() -> str:
    return os.environ.get(XDIST_WORKER_ENV, "main")


@pytest.fixture(scope="session")
def postgres_url(pytestconfig: pytest.Config) -> str:
    """URL of the run's base database (`chatsphere`) on the chosen PostgreSQL server."""
    return _require(pytestconfig, ServiceKind.POSTGRES).url


@pytest.fixture(scope="session")
def redis_url(pytestconfig: pytest.Config) -> str:
    """URL of logical database 0 of the chosen Redis server."""
    return _require(pytestconfig, ServiceKind.REDIS).url


@pytest.fixture(scope="session")
def worker_postgres_url(postgres_url: str) -> Iterator[str]:
    """A fresh, empty database `<base>_gw<n>` (or `<base>_main`) for this xdist worker, dropped at the end."""
    name = databases.worker_database_name(databases.database_name(postgres_url), _worker_id())
    url = databases.recreate_database(postgres_url, name)
    yield url
    databases.drop_database(postgres_url, name)


@pytest.fixture(scope="session")
def worker_redis_url(redis_url: str) -> str:
    """A Redis logical database of this xdist worker alone, emptied before the first use."""
    url = databases.redis_url_with_db(redis_url, databases.worker_redis_db(_worker_id()))
    client = redis.Redis.from_url(url)
    try:
        client.flushdb()
    finally:
        client.close()
    return url
