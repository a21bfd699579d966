"""One real agent and one real Django per session, on a fresh PostgreSQL database; users per test.

PostgreSQL comes from TEST_DATABASE_URL (any database on the server; the suite creates and drops its
own `chatsphere_e2e_<random>`), else postgres://postgres@127.0.0.1:5432. When it does not answer the
suite is skipped, or fails when the environment variable CI is set. A failing test's report carries the
tail of both servers' logs.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Generator, Iterator
from pathlib import Path
from typing import Protocol

import pytest

from tests.e2e.api import ApiUser
from tests.e2e.stack import AgentServer, DjangoServer, stack_environment
from testsupport.databases import MAINTENANCE_DATABASE, drop_database, recreate_database, with_database
from testsupport.probes import postgres_problem
from testsupport.services import running_in_ci

DEFAULT_POSTGRES_URL = "postgres://postgres@127.0.0.1:5432/postgres"
LOG_LINES_ON_FAILURE = 60


class LoggedServer(Protocol):
    name: str

    def log_tail(self, lines: int) -> str: ...


_servers_key = pytest.StashKey[list[LoggedServer]]()


def _show_logs_on_failure(config: pytest.Config, server: LoggedServer) -> None:
    config.stash.setdefault(_servers_key, []).append(server)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    if report.failed:
        for server in item.config.stash.get(_servers_key, []):
            report.sections.append((f"{server.name} log", server.log_tail(LOG_LINES_ON_FAILURE)))
    return report


@pytest.fixture(scope="session")
def database_url() -> Iterator[str]:
    server_url = os.environ.get("TEST_DATABASE_URL") or DEFAULT_POSTGRES_URL
    if problem := postgres_problem(with_database(server_url, MAINTENANCE_DATABASE)):
        if running_in_ci():
            pytest.fail(f"CI is set and {problem}", pytrace=False)
        pytest.skip(problem)
    name = f"chatsphere_e2e_{secrets.token_hex(4)}"
    url = recreate_database(server_url, name)
    yield url
    drop_database(server_url, name)


@pytest.fixture(scope="session")
def state_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("e2e")


@pytest.fixture(scope="session")
def stack_env(database_url: str, state_dir: Path) -> dict[str, str]:
    return stack_environment(database_url=database_url, state_dir=state_dir)


@pytest.fixture(scope="session")
def agent(pytestconfig: pytest.Config, stack_env: dict[str, str], state_dir: Path) -> Iterator[AgentServer]:
    server = AgentServer(env=stack_env, log_dir=state_dir / "logs")
    _show_logs_on_failure(pytestconfig, server)
    try:
        server.start()
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def django_url(
    pytestconfig: pytest.Config, stack_env: dict[str, str], state_dir: Path, agent: AgentServer
) -> Iterator[str]:
    server = DjangoServer(env=stack_env | {"AGENT_SERVICE_URL": agent.url}, log_dir=state_dir / "logs")
    _show_logs_on_failure(pytestconfig, server)
    try:
        server.start()
        yield server.url
    finally:
        server.stop()


UserFactory = Callable[[], ApiUser]


@pytest.fixture
def make_user(django_url: str) -> Iterator[UserFactory]:
    """Brand-new registered users: tests share no data."""
    users: list[ApiUser] = []

    def make() -> ApiUser:
        user = ApiUser(base_url=django_url)
        users.append(user)
        return user

    yield make
    for user in users:
        user.close()
