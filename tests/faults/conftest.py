"""The product as real processes, with faults injected where they happen in production (tox -e faults):

    clients ──(X-Forwarded-For/-Proto, as from a TLS proxy)──▶ Django (uvicorn, 3 worker processes)
        Django ──▶ FaultProxy (testsupport.faultproxy) ──▶ agent (uvicorn, MiniLM + Chroma + extractive)
        Django, Celery worker (prefork) ──▶ a Redis of this suite alone (cache, throttles, broker)
        Django ──▶ PostgreSQL (testsupport.services)

Limits are set low (short agent deadlines, 3 chats a minute, 5 logins per username) so each fault shows in
seconds. Every client comes from an address of its own (X-Forwarded-For, DJANGO_NUM_PROXIES=1), so the
per-address limits of one test never throttle another. Run with `-p testsupport.services`.
"""

from __future__ import annotations

import secrets
import subprocess
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.e2e.stack import BACKEND, BIN, AgentServer, DjangoServer, stack_environment
from testsupport.faultproxy import FaultProxy
from testsupport.local_servers import LocalServer, redis_server_binary, start_local_redis
from testsupport.processes import ServerProcess

CHAT_LIMIT_PER_MINUTE = 5
LOGIN_LIMIT_PER_USERNAME = 5
REGISTER_LIMIT_PER_ADDRESS = 3
AGENT_FIRST_BYTE_TIMEOUT_S = 3.0
AGENT_TOTAL_TIMEOUT_S = 5.0
MAX_INGEST_ATTEMPTS = 2
CHUNK_SIZE = 60
DJANGO_WORKERS = 3


@pytest.fixture(scope="session")
def state_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("faults")


@pytest.fixture(scope="session")
def redis_server() -> Iterator[LocalServer]:
    """A Redis of this suite's own: tests pause it, which must not disturb any other suite."""
    server = start_local_redis(binary=redis_server_binary())
    yield server
    server.stop()


@pytest.fixture(scope="session")
def stack_env(worker_postgres_url: str, redis_server: LocalServer, state_dir: Path) -> dict[str, str]:
    return stack_environment(database_url=worker_postgres_url, state_dir=state_dir) | {
        "REDIS_URL": redis_server.url,
        "CELERY_BROKER_URL": redis_server.url,
        "CHAT_THROTTLE_RATE": f"{CHAT_LIMIT_PER_MINUTE}/min",
        "LOGIN_USERNAME_THROTTLE_RATE": f"{LOGIN_LIMIT_PER_USERNAME}/min",
        "LOGIN_IP_THROTTLE_RATE": "20/min",
        "REGISTER_THROTTLE_RATE": f"{REGISTER_LIMIT_PER_ADDRESS}/min",
        "REFRESH_THROTTLE_RATE": "20/min",
        "DJANGO_NUM_PROXIES": "1",
        "DJANGO_SECURE_SSL_REDIRECT": "true",  # production's setting: the clients come "through TLS"
        "AGENT_CONNECT_TIMEOUT_SECONDS": "1",
        "AGENT_FIRST_BYTE_TIMEOUT_SECONDS": str(AGENT_FIRST_BYTE_TIMEOUT_S),
        "AGENT_TIMEOUT_SECONDS": str(AGENT_TOTAL_TIMEOUT_S),
        "MAX_INGEST_ATTEMPTS": str(MAX_INGEST_ATTEMPTS),
        "CHUNK_SIZE": str(CHUNK_SIZE),  # small chunks, quick to embed: 20 KB of text is two embed batches
        "CHUNK_OVERLAP": "0",
        "API_PAGE_SIZE": "2",
    }


@pytest.fixture(scope="session")
def agent(stack_env: dict[str, str], state_dir: Path) -> Iterator[AgentServer]:
    server = AgentServer(env=stack_env, log_dir=state_dir / "logs")
    try:
        server.start()
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def proxy_session(agent: AgentServer) -> Iterator[FaultProxy]:
    proxy = FaultProxy(upstream_host="127.0.0.1", upstream_port=agent.port)
    yield proxy
    proxy.close()


@pytest.fixture
def proxy(proxy_session: FaultProxy) -> Iterator[FaultProxy]:
    """The fault proxy between Django (and the worker) and the agent, healed after each test."""
    proxy_session.heal()
    yield proxy_session
    proxy_session.heal()


@pytest.fixture(scope="session")
def django_env(stack_env: dict[str, str], proxy_session: FaultProxy) -> dict[str, str]:
    return stack_env | {"AGENT_SERVICE_URL": proxy_session.url}


@pytest.fixture(scope="session")
def django(django_env: dict[str, str], state_dir: Path) -> Iterator[DjangoServer]:
    # Several worker processes: the throttle finding is about limits that must hold across processes.
    server = DjangoServer(env=django_env, log_dir=state_dir / "logs", workers=DJANGO_WORKERS)
    try:
        server.start()
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def worker(django_env: dict[str, str], state_dir: Path) -> Iterator[ServerProcess]:
    """One Celery worker with a prefork pool of one child, which tests kill.

    Its agent deadlines are long: embedding a 256-chunk batch through a slowed proxy on a loaded machine
    takes longer than the API's short ones, and the ingestion tests are not about timeouts.
    """
    command = [str(BIN / "celery"), "-A", "config", "worker", "--loglevel", "INFO", "--pool", "prefork",
               "--concurrency", "1", "--hostname", f"faults-{uuid.uuid4().hex[:6]}@%h",
               "--without-gossip", "--without-mingle", "--without-heartbeat"]  # fmt: skip
    env = django_env | {"AGENT_FIRST_BYTE_TIMEOUT_SECONDS": "50", "AGENT_TIMEOUT_SECONDS": "55"}
    process = ServerProcess("worker", command, cwd=BACKEND, env=env, log_dir=state_dir / "logs")
    try:
        process.wait_for_log(" ready.", timeout_s=60)
        yield process
    finally:
        process.stop()


@dataclass
class Account:
    username: str
    password: str
    client: httpx.Client  # logged in (access token in its headers)
    refresh: str


AccountFactory = Callable[[], Account]


def anonymous_client(base_url: str) -> httpx.Client:
    """A client as a TLS proxy forwards it: an address of its own in X-Forwarded-For, and HTTPS."""
    address = f"10.{secrets.randbelow(256)}.{secrets.randbelow(256)}.{secrets.randbelow(254) + 1}"
    headers = {"X-Forwarded-For": address, "X-Forwarded-Proto": "https"}
    return httpx.Client(base_url=f"{base_url}/api", headers=headers, timeout=30.0)


@pytest.fixture
def make_account(django: DjangoServer) -> Iterator[AccountFactory]:
    clients: list[httpx.Client] = []

    def make() -> Account:
        username = f"user_{uuid.uuid4().hex[:12]}"
        password = secrets.token_urlsafe(16)
        client = anonymous_client(django.url)
        clients.append(client)
        registered = client.post(
            "/register/",
            json={"username": username, "email": f"{username}@example.com", "password": password},
        )
        assert registered.status_code == 201, registered.text
        tokens = client.post("/token/", json={"username": username, "password": password})
        assert tokens.status_code == 200, tokens.text
        client.headers["Authorization"] = f"Bearer {tokens.json()['access']}"
        return Account(username=username, password=password, client=client, refresh=tokens.json()["refresh"])

    yield make
    for client in clients:
        client.close()


@pytest.fixture
def account(make_account: AccountFactory) -> Account:
    return make_account()


def manage(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """`manage.py <args>` as its own process, with the stack's environment."""
    return subprocess.run(
        [str(BIN / "python"), "manage.py", *args],
        cwd=BACKEND,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
