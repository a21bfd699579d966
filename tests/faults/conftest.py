"""The product as real processes, with faults injected where they happen in production (tox -e faults):

    clients ──(X-Forwarded-For/-Proto, as from a TLS proxy)──▶ Django (uvicorn, 3 worker processes)
        Django ──▶ FaultProxy (testsupport.faultproxy) ──▶ agent (uvicorn, MiniLM + Chroma + extractive)
        Django, Celery worker (prefork) ──▶ a Redis of this suite alone (cache, throttles, broker)
        Django ──▶ PostgreSQL (testsupport.services)

Limits are set low (short agent deadlines, 3 chats a minute, 5 logins per username) so each fault shows in
seconds. Every client comes from an address of its own (X-Forwarded-For, DJANGO_NUM_PROXIES=1), so the
per-address limits of one test never throttle another.
Run with `-p testsupport.services -p testsupport.stack.plugin`.
"""

from __future__ import annotations

import secrets
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from testsupport.faultproxy import FaultProxy
from testsupport.processes import ServerProcess
from testsupport.stack import AgentServer, start_celery_worker
from testsupport.stack.plugin import ClientFactory

CHAT_LIMIT_PER_MINUTE = 5
LOGIN_LIMIT_PER_USERNAME = 5
REGISTER_LIMIT_PER_ADDRESS = 3
AGENT_FIRST_BYTE_TIMEOUT_S = 3.0
AGENT_TOTAL_TIMEOUT_S = 5.0
MAX_INGEST_ATTEMPTS = 2
CHUNK_SIZE = 60
DJANGO_WORKERS = 3
WARM_POOL_SIZE = 8
AGENT_DATA_DISK_MB = 256
# Chunks per /embed_and_store: a document of a few batches stays quick to embed.
EMBED_BATCH_CHUNKS = 64
FINAL_CHECK = "test_after_the_whole_suite_the_indexes_hold_exactly_what_django_has"
# The workers' agent deadlines: embedding a 256-chunk batch through a slowed proxy on a loaded machine takes
# longer than the API's short ones, and the ingestion tests are not about timeouts.
WORKER_SETTINGS = {"AGENT_FIRST_BYTE_TIMEOUT_SECONDS": "50", "AGENT_TIMEOUT_SECONDS": "55"}


# Low limits and short deadlines, so each fault shows in seconds; production's TLS and proxy settings.
FAULTS_SETTINGS = {
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
    "CHUNK_SIZE": str(CHUNK_SIZE),  # small chunks, quick to embed
    "CHUNK_OVERLAP": "0",
    "AGENT_EMBED_BATCH_CHUNKS": str(EMBED_BATCH_CHUNKS),
    "API_PAGE_SIZE": "2",
    # A warm pool in every worker: after a failover all of them are dead at once.
    "DATABASE_POOL_MIN_SIZE": str(WARM_POOL_SIZE),
}


@pytest.fixture(scope="session")
def checkpoint_dir(stack_dir: Path) -> Path:
    """Where tests hold the agent at named points of storing a batch (chatsphere_agent/checkpoints.py)."""
    directory = stack_dir / "checkpoints"
    directory.mkdir()
    return directory


@pytest.fixture(scope="session")
def agent_data_disk(stack_dir: Path) -> Iterator[Path | None]:
    """The agent's data directory (AGENT_DATA_DIR) on a filesystem of its own, which a test fills up: a tmpfs
    of AGENT_DATA_DISK_MB (the suite runs as root). None when it cannot be mounted; the test that needs it
    fails under CI."""
    directory = stack_dir / "agent"
    directory.mkdir()
    command = ["mount", "-t", "tmpfs", "-o", f"size={AGENT_DATA_DISK_MB}m", "tmpfs", str(directory)]
    if subprocess.run(command, capture_output=True, check=False).returncode != 0:
        yield None
        return
    yield directory
    subprocess.run(["umount", str(directory)], check=False)


@pytest.fixture(scope="session")
def stack_settings(
    stack_redis_settings: dict[str, str], checkpoint_dir: Path, agent_data_disk: Path | None
) -> dict[str, str]:
    # agent_data_disk: mounted before the agent starts on it.
    return stack_redis_settings | FAULTS_SETTINGS | {"AGENT_TEST_CHECKPOINT_DIR": str(checkpoint_dir)}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The index check of the whole session's work runs after every other test of the suite."""
    last = [item for item in items if item.name == FINAL_CHECK]
    items[:] = [item for item in items if item.name != FINAL_CHECK] + last


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
def agent_url_for_django(proxy_session: FaultProxy) -> str:
    return proxy_session.url


@pytest.fixture(scope="session")
def django_workers() -> int:
    # Several worker processes: the throttle finding is about limits that must hold across processes.
    return DJANGO_WORKERS


@pytest.fixture(scope="session")
def worker(django_env: dict[str, str], stack_dir: Path) -> Iterator[ServerProcess]:
    """One Celery worker with a prefork pool of one child, which tests kill; long agent deadlines
    (WORKER_SETTINGS)."""
    process = start_celery_worker(
        env=django_env | WORKER_SETTINGS, log_dir=stack_dir / "logs", pool="prefork"
    )
    yield process
    process.stop()


def anonymous_client(base_url: str) -> httpx.Client:
    """A client as a TLS proxy forwards it: an address of its own in X-Forwarded-For, and HTTPS."""
    address = f"10.{secrets.randbelow(256)}.{secrets.randbelow(256)}.{secrets.randbelow(254) + 1}"
    headers = {"X-Forwarded-For": address, "X-Forwarded-Proto": "https"}
    return httpx.Client(base_url=f"{base_url}/api", headers=headers, timeout=30.0)


@pytest.fixture(scope="session")
def api_client(django_url: str) -> ClientFactory:
    return lambda: anonymous_client(django_url)
