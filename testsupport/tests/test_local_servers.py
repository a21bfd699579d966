import socket
from pathlib import Path

import psycopg
import pytest
import redis

from testsupport import local_servers


def _port_accepts(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.5)
        return probe.connect_ex(("127.0.0.1", port)) == 0


def test_throwaway_postgres_answers_sql_and_is_gone_after_stop():
    server = local_servers.start_local_postgres(bindir=local_servers.postgres_bindir())
    port = psycopg.conninfo.conninfo_to_dict(server.url)["port"]
    try:
        with psycopg.connect(server.url) as connection:
            connection.execute("CREATE TABLE probe (value int)")
            connection.execute("INSERT INTO probe VALUES (41), (1)")
            assert connection.execute("SELECT sum(value) FROM probe").fetchone() == (42,)
    finally:
        server.stop()
    assert not _port_accepts(int(str(port)))
    assert not server.workdir.exists()


def test_throwaway_redis_answers_and_is_gone_after_stop():
    server = local_servers.start_local_redis(binary=local_servers.redis_server_binary())
    client = redis.Redis.from_url(server.url)
    try:
        client.set("key", "value")
        assert client.get("key") == b"value"
    finally:
        client.close()
        server.stop()
    port = int(server.url.rsplit(":", 1)[1].split("/", 1)[0])
    assert not _port_accepts(port)
    assert not server.workdir.exists()


def test_missing_postgres_binaries_are_reported_by_path(tmp_path: Path):
    with pytest.raises(local_servers.LocalServerError, match=r"initdb does not exist"):
        local_servers.start_local_postgres(bindir=tmp_path)


def test_missing_redis_binary_is_reported_by_path(tmp_path: Path):
    with pytest.raises(local_servers.LocalServerError, match=r"redis-server does not exist"):
        local_servers.start_local_redis(binary=tmp_path / "redis-server")


def test_configured_binary_locations_win_over_discovery(tmp_path: Path):
    environ = {
        local_servers.PG_BINDIR_ENV: str(tmp_path / "pg"),
        local_servers.REDIS_SERVER_ENV: str(tmp_path / "redis-server"),
    }

    assert local_servers.postgres_bindir(environ) == tmp_path / "pg"
    assert local_servers.redis_server_binary(environ) == tmp_path / "redis-server"
