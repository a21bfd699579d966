"""The whole product as real processes on the test PostgreSQL and Redis (from testsupport.services):

    Django (uvicorn, ASGI) ──▶ AgentGate ──▶ agent (uvicorn, local embeddings + Chroma + extractive answers)
        │                     ▲
        └─ Redis broker ──▶ Celery worker(s), started per test (tests kill them)

Run with `-p testsupport.services` (see tox.ini [testenv:integration]).
"""

from __future__ import annotations

import secrets
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.stack import AgentServer, DjangoServer, stack_environment
from tests.integration.agent_gate import AgentGate
from testsupport.processes import ServerProcess

REPO = Path(__file__).resolve().parents[2]
BACKEND = REPO / "backend"
BIN = Path(sys.executable).parent
CHAT_LIMIT_PER_MINUTE = 3
INGEST_TIMEOUT_S = 120.0


@pytest.fixture(scope="session")
def state_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("stack")


@pytest.fixture(scope="session")
def stack_env(worker_postgres_url: str, worker_redis_url: str, state_dir: Path) -> dict[str, str]:
    """The e2e stack's environment (fresh secrets, embedded providers forced) on this xdist worker's
    database, with Redis as the Celery broker and the throttle's cache, and a low chat limit."""
    return stack_environment(database_url=worker_postgres_url, state_dir=state_dir) | {
        "REDIS_URL": worker_redis_url,
        "CELERY_BROKER_URL": worker_redis_url,
        "CHAT_THROTTLE_RATE": f"{CHAT_LIMIT_PER_MINUTE}/min",
    }


@pytest.fixture(scope="session")
def agent(stack_env: dict[str, str], state_dir: Path) -> Iterator[str]:
    server = AgentServer(env=stack_env, log_dir=state_dir / "logs")
    try:
        server.start()
        yield server.url
    finally:
        server.stop()


@pytest.fixture(scope="session")
def agent_gate(agent: str) -> Iterator[AgentGate]:
    gate = AgentGate(agent_url=agent).start()
    yield gate
    gate.close()


@pytest.fixture(scope="session")
def django_env(stack_env: dict[str, str], agent_gate: AgentGate) -> dict[str, str]:
    return stack_env | {"AGENT_BACKEND": "http", "AGENT_SERVICE_URL": agent_gate.url}


@pytest.fixture(scope="session")
def django_url(django_env: dict[str, str], state_dir: Path) -> Iterator[str]:
    server = DjangoServer(env=django_env, log_dir=state_dir / "logs")
    try:
        server.start()
        yield server.url
    finally:
        server.stop()


WorkerFactory = Callable[..., ServerProcess]


@pytest.fixture
def start_worker(django_env: dict[str, str], state_dir: Path) -> Iterator[WorkerFactory]:
    """Starts Celery workers on the real app (`celery -A config worker`); all are stopped after the test."""
    started: list[ServerProcess] = []

    def start(*, pool: str = "solo", concurrency: int = 1) -> ServerProcess:
        name = f"worker-{uuid.uuid4().hex[:8]}"
        command = [str(BIN / "celery"), "-A", "config", "worker", "--loglevel", "INFO", "--pool", pool,
                   "--concurrency", str(concurrency), "--hostname", f"{name}@%h",
                   "--without-gossip", "--without-mingle", "--without-heartbeat"]  # fmt: skip
        worker = ServerProcess(name, command, cwd=BACKEND, env=django_env, log_dir=state_dir / "logs")
        started.append(worker)
        worker.wait_for_log(" ready.", timeout_s=60)
        return worker

    yield start
    for worker in started:
        worker.stop()


ClientFactory = Callable[[], httpx.Client]


@pytest.fixture
def make_user_client(django_url: str) -> Iterator[ClientFactory]:
    """API clients, each logged in (JWT) as a brand-new user: no state shared with other tests."""
    clients: list[httpx.Client] = []

    def make() -> httpx.Client:
        username = f"user_{uuid.uuid4().hex[:12]}"
        password = secrets.token_urlsafe(16)
        client = httpx.Client(base_url=f"{django_url}/api", timeout=30.0)
        clients.append(client)
        registered = client.post(
            "/register/",
            json={"username": username, "email": f"{username}@example.com", "password": password},
        )
        assert registered.status_code == 201, registered.text
        token = client.post("/token/", json={"username": username, "password": password})
        assert token.status_code == 200, token.text
        client.headers["Authorization"] = f"Bearer {token.json()['access']}"
        return client

    yield make
    for client in clients:
        client.close()


@pytest.fixture
def user_client(make_user_client: ClientFactory) -> httpx.Client:
    return make_user_client()
