"""pytest plugin: one real agent and one real Django per test session, on a fresh PostgreSQL database.

Load it with `-p testsupport.services -p testsupport.stack.plugin` (tox.ini does for every suite over real
processes). A suite shapes its stack by overriding fixtures in its conftest, never by starting servers of
its own:

- `stack_settings`: environment on top of `stack_environment` (limits, chunk sizes, a Redis);
- `agent_url_for_django`: what Django calls the agent through (a fault proxy, a gate), the agent by default;
- `django_workers`: uvicorn worker processes (1: a suite needs no more; production runs one per core);
- `api_client`: how a test's HTTP client is built (e.g. with X-Forwarded-For as from a TLS proxy).

Each session gets a database of its own (`chatsphere_stack_<random>`, dropped at the end), so suites can run
side by side on one PostgreSQL. A failing test's report carries the tail of every server's log.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Generator, Iterator
from pathlib import Path
from typing import TypeVar

import httpx
import pytest

from testsupport import databases
from testsupport.local_servers import LocalServer, redis_server_binary, start_local_redis
from testsupport.processes import ServerProcess
from testsupport.stack import Account, AgentServer, DjangoServer, register_account, stack_environment
from testsupport.stack import start_celery_worker as _start_celery_worker

LOG_LINES_ON_FAILURE = 60
_servers_key = pytest.StashKey[list[AgentServer | DjangoServer | ServerProcess]]()

Server = TypeVar("Server", AgentServer, DjangoServer)
AccountFactory = Callable[[], Account]
ClientFactory = Callable[[], httpx.Client]
WorkerFactory = Callable[..., ServerProcess]


def _show_logs_on_failure(config: pytest.Config, server: AgentServer | DjangoServer | ServerProcess) -> None:
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
def stack_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("stack")


@pytest.fixture(scope="session")
def stack_database_url(postgres_url: str) -> Iterator[str]:
    """An empty database of this session alone on the PostgreSQL that testsupport.services chose."""
    name = f"chatsphere_stack_{secrets.token_hex(4)}"
    url = databases.recreate_database(postgres_url, name)
    yield url
    databases.drop_database(postgres_url, name)


@pytest.fixture(scope="session")
def stack_redis() -> Iterator[LocalServer]:
    """A Redis of this session's own (cache, throttles, broker): tests may pause it, and no other run
    on the machine shares its counters."""
    server = start_local_redis(binary=redis_server_binary())
    yield server
    server.stop()


@pytest.fixture(scope="session")
def stack_redis_settings(stack_redis: LocalServer) -> dict[str, str]:
    """Settings that put the session's own Redis under the stack: cache and throttles, Celery's broker."""
    return {"REDIS_URL": stack_redis.url, "CELERY_BROKER_URL": stack_redis.url}


@pytest.fixture(scope="session")
def stack_settings() -> dict[str, str]:
    """Overridden by a suite's conftest: its settings on top of the stack's defaults."""
    return {}


@pytest.fixture(scope="session")
def stack_env(stack_database_url: str, stack_dir: Path, stack_settings: dict[str, str]) -> dict[str, str]:
    return stack_environment(database_url=stack_database_url, state_dir=stack_dir) | stack_settings


def _serving(config: pytest.Config, server: Server) -> Iterator[Server]:
    """Starts `server` for a fixture's life, its log in the report of any test that fails meanwhile."""
    _show_logs_on_failure(config, server)
    try:
        server.start()
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def agent(pytestconfig: pytest.Config, stack_env: dict[str, str], stack_dir: Path) -> Iterator[AgentServer]:
    yield from _serving(pytestconfig, AgentServer(env=stack_env, log_dir=stack_dir / "logs"))


@pytest.fixture(scope="session")
def agent_url_for_django(agent: AgentServer) -> str:
    return agent.url


@pytest.fixture(scope="session")
def django_env(stack_env: dict[str, str], agent_url_for_django: str) -> dict[str, str]:
    return stack_env | {"AGENT_SERVICE_URL": agent_url_for_django}


@pytest.fixture(scope="session")
def django_workers() -> int:
    return 1


@pytest.fixture(scope="session")
def django(
    pytestconfig: pytest.Config, django_env: dict[str, str], stack_dir: Path, django_workers: int
) -> Iterator[DjangoServer]:
    yield from _serving(
        pytestconfig, DjangoServer(env=django_env, log_dir=stack_dir / "logs", workers=django_workers)
    )


@pytest.fixture(scope="session")
def django_url(django: DjangoServer) -> str:
    return django.url


@pytest.fixture(scope="session")
def api_client(django: DjangoServer) -> ClientFactory:
    """A new HTTP client of the API (its base is `/api`); a suite overrides it to add headers."""
    return lambda: httpx.Client(base_url=f"{django.url}/api", timeout=httpx.Timeout(120.0, connect=5.0))


@pytest.fixture
def make_account(api_client: ClientFactory) -> Iterator[AccountFactory]:
    """Brand-new registered, logged-in users: tests share no data. Their clients close after the test."""
    clients: list[httpx.Client] = []

    def make() -> Account:
        client = api_client()
        clients.append(client)
        return register_account(client)

    yield make
    for client in clients:
        client.close()


@pytest.fixture
def account(make_account: AccountFactory) -> Account:
    return make_account()


@pytest.fixture
def start_worker(
    pytestconfig: pytest.Config, django_env: dict[str, str], stack_dir: Path
) -> Iterator[WorkerFactory]:
    """Starts Celery workers on the real app; all are stopped after the test."""
    started: list[ServerProcess] = []

    def start(*, pool: str = "solo", concurrency: int = 1, **env: str) -> ServerProcess:
        worker = _start_celery_worker(
            env=django_env | env, log_dir=stack_dir / "logs", pool=pool, concurrency=concurrency
        )
        started.append(worker)
        _show_logs_on_failure(pytestconfig, worker)
        return worker

    yield start
    for worker in started:
        worker.stop()
