"""config/postgresql: how a pooled connection is judged at checkout, on the run's real PostgreSQL."""

import time

import psycopg

from config.postgresql.base import server_has_spoken


def test_a_live_idle_connection_is_quiet_and_one_the_server_dropped_is_not(postgres_url: str) -> None:
    with (
        psycopg.connect(postgres_url, autocommit=True) as pooled,
        psycopg.connect(postgres_url, autocommit=True) as admin,
    ):
        pooled.execute("SELECT 1").fetchone()
        quiet_while_alive = server_has_spoken(pooled)

        admin.execute("SELECT pg_terminate_backend(%s)", [pooled.info.backend_pid])
        deadline = time.monotonic() + 10
        while not server_has_spoken(pooled) and time.monotonic() < deadline:
            time.sleep(0.05)

        assert not quiet_while_alive
        assert server_has_spoken(pooled)


def test_a_closed_connection_has_spoken(postgres_url: str) -> None:
    connection = psycopg.connect(postgres_url, autocommit=True)
    connection.close()

    assert server_has_spoken(connection)
