"""Databases inside a PostgreSQL server, and Redis logical databases, for isolated test runs."""

from __future__ import annotations

import re
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import sql

_SAFE_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
MAINTENANCE_DATABASE = "postgres"


def with_database(url: str, name: str) -> str:
    """The same server URL, pointing at database `name`."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


def database_name(url: str) -> str:
    return urlsplit(url).path.lstrip("/") or MAINTENANCE_DATABASE


def worker_database_name(base: str, worker_id: str) -> str:
    """`<base>_gw0`, `<base>_gw1`… under pytest-xdist; `<base>_main` in a run without workers."""
    suffix = worker_id if worker_id.startswith("gw") else "main"
    return _checked_name(f"{base}_{suffix}")


def ensure_database(url: str, *, timeout_s: float = 5.0) -> str:
    """Create the database `url` names if the server lacks it; return `url` unchanged."""
    name = _checked_name(database_name(url))
    with _maintenance_connection(url, timeout_s) as connection:
        exists = connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if exists is None:
            connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return url


def recreate_database(url: str, name: str, *, timeout_s: float = 5.0) -> str:
    """Drop database `name` on the server of `url` (closing its sessions), create it empty, return its URL."""
    checked = _checked_name(name)
    with _maintenance_connection(url, timeout_s) as connection:
        connection.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(checked)))
        connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(checked)))
    return with_database(url, checked)


def drop_database(url: str, name: str, *, timeout_s: float = 5.0) -> None:
    checked = _checked_name(name)
    with _maintenance_connection(url, timeout_s) as connection:
        connection.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(checked)))


def redis_url_with_db(url: str, db: int) -> str:
    """The same Redis server, logical database `db` (0-15 on a default server)."""
    if not 0 <= db <= 15:
        raise ValueError(f"Redis logical database {db} is outside 0..15")
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{db}"))


def worker_redis_db(worker_id: str) -> int:
    """Logical database 0 without workers, 1 + n for xdist worker gw<n>: workers never share keys."""
    if not worker_id.startswith("gw"):
        return 0
    return 1 + int(worker_id.removeprefix("gw")) % 15


def _maintenance_connection(url: str, timeout_s: float) -> psycopg.Connection[tuple[object, ...]]:
    # CREATE/DROP DATABASE cannot run inside a transaction block, hence autocommit.
    return psycopg.connect(
        with_database(url, MAINTENANCE_DATABASE), autocommit=True, connect_timeout=max(1, round(timeout_s))
    )


def _checked_name(name: str) -> str:
    if not _SAFE_NAME.match(name):
        raise ValueError(f"{name!r} is not a plain lower-case PostgreSQL database name")
    return name
