import psycopg
import pytest
import redis

from testsupport import databases
from testsupport.local_servers import LocalServer


@pytest.mark.parametrize(
    ("worker_id", "expected"),
    [("gw0", "chatsphere_gw0"), ("gw11", "chatsphere_gw11"), ("main", "chatsphere_main")],
)
def test_worker_database_name(worker_id: str, expected: str):
    assert databases.worker_database_name("chatsphere", worker_id) == expected


@pytest.mark.parametrize("name", ["Robert'); DROP TABLE", "UPPER", "with space", "x" * 64])
def test_unsafe_database_names_are_refused(name: str):
    with pytest.raises(ValueError, match="plain lower-case"):
        databases.worker_database_name(name, "gw0")


def test_with_database_keeps_credentials_host_and_port():
    url = "postgresql://user:secret@db.internal:6543/chatsphere?sslmode=disable"

    assert (
        databases.with_database(url, "other")
        == "postgresql://user:secret@db.internal:6543/other?sslmode=disable"
    )


@pytest.mark.parametrize(("worker_id", "db"), [("main", 0), ("gw0", 1), ("gw14", 15), ("gw15", 1)])
def test_each_worker_gets_its_own_redis_database(worker_id: str, db: int):
    assert databases.worker_redis_db(worker_id) == db
    assert databases.redis_url_with_db("redis://127.0.0.1:6379/0", db) == f"redis://127.0.0.1:6379/{db}"


def test_redis_database_out_of_range_is_refused():
    with pytest.raises(ValueError, match=r"outside 0\.\.15"):
        databases.redis_url_with_db("redis://127.0.0.1:6379/0", 16)


def _create_table(url: str, table: str) -> None:
    with psycopg.connect(url) as connection:
        connection.execute(f"CREATE TABLE {table} (id int)")


def _tables_named(url: str, table: str) -> int:
    with psycopg.connect(url) as connection:
        found = connection.execute("SELECT count(*) FROM pg_tables WHERE tablename = %s", (table,)).fetchone()
    assert found is not None
    return int(found[0])


def test_recreate_database_gives_an_empty_database_each_time(throwaway_postgres: LocalServer):
    url = databases.recreate_database(throwaway_postgres.url, "scratch_gw0")
    _create_table(url, "leftover")

    again = databases.recreate_database(throwaway_postgres.url, "scratch_gw0")

    assert _tables_named(again, "leftover") == 0
    databases.drop_database(throwaway_postgres.url, "scratch_gw0")


def test_ensure_database_creates_only_when_missing(throwaway_postgres: LocalServer):
    url = databases.with_database(throwaway_postgres.url, "ensured")
    databases.ensure_database(url)
    _create_table(url, "kept")

    databases.ensure_database(url)

    assert _tables_named(url, "kept") == 1
    databases.drop_database(throwaway_postgres.url, "ensured")


def test_drop_database_closes_open_sessions(throwaway_postgres: LocalServer):
    url = databases.recreate_database(throwaway_postgres.url, "busy")
    with psycopg.connect(url) as still_open:
        databases.drop_database(throwaway_postgres.url, "busy")
        with pytest.raises(psycopg.OperationalError):
            still_open.execute("SELECT 1")
    with psycopg.connect(throwaway_postgres.url) as connection:
        left = connection.execute("SELECT count(*) FROM pg_database WHERE datname = 'busy'").fetchone()
        assert left == (0,)


def test_redis_worker_databases_do_not_share_keys(throwaway_redis: LocalServer):
    first = redis.Redis.from_url(databases.redis_url_with_db(throwaway_redis.url, 1))
    second = redis.Redis.from_url(databases.redis_url_with_db(throwaway_redis.url, 2))
    try:
        first.set("throttle", "1")
        assert second.get("throttle") is None
    finally:
        first.close()
        second.close()
