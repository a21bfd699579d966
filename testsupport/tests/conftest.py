from collections.abc import Iterator

import pytest

from testsupport import local_servers

pytest_plugins = ["pytester"]


@pytest.fixture(scope="session")
def throwaway_postgres() -> Iterator[local_servers.LocalServer]:
    server = local_servers.start_local_postgres(bindir=local_servers.postgres_bindir())
    yield server
    server.stop()


@pytest.fixture(scope="session")
def throwaway_redis() -> Iterator[local_servers.LocalServer]:
    server = local_servers.start_local_redis(binary=local_servers.redis_server_binary())
    yield server
    server.stop()


@pytest.fixture
def closed_port_url() -> str:
    """A PostgreSQL URL on a port nothing listens on."""
    return f"postgresql://postgres@127.0.0.1:{local_servers.free_port()}/chatsphere"
