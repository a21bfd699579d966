"""Short, bounded checks of whether a Docker engine, a PostgreSQL server or a Redis server answers.

Each probe returns None when the service answers and a one-line reason when it does not, so callers
can report why a source was passed over instead of failing with a library's confusing traceback.
"""

from __future__ import annotations

import psycopg
import redis

DEFAULT_TIMEOUT_S = 2.0


def docker_engine_problem(*, timeout_s: float = DEFAULT_TIMEOUT_S) -> str | None:
    """Ping the Docker engine named by DOCKER_HOST (or the default socket) within `timeout_s`."""
    import docker
    from docker.errors import DockerException

    try:
        client = docker.from_env(timeout=max(1, round(timeout_s)))
        try:
            client.ping()
        finally:
            client.close()
    except (DockerException, OSError) as error:
        return f"no Docker engine answers ({_first_line(error)})"
    return None


def postgres_problem(url: str, *, timeout_s: float = DEFAULT_TIMEOUT_S) -> str | None:
    try:
        with psycopg.connect(url, connect_timeout=max(1, round(timeout_s))) as connection:
            connection.execute("SELECT 1")
    except psycopg.Error as error:
        return f"PostgreSQL at {redact(url)} does not answer ({_first_line(error)})"
    return None


def redis_problem(url: str, *, timeout_s: float = DEFAULT_TIMEOUT_S) -> str | None:
    client = redis.Redis.from_url(url, socket_connect_timeout=timeout_s, socket_timeout=timeout_s)
    try:
        client.ping()
    except redis.RedisError as error:
        return f"Redis at {redact(url)} does not answer ({_first_line(error)})"
    finally:
        client.close()
    return None


def redact(url: str) -> str:
    """The URL without its password, fit for a log line or a report header."""
    scheme, separator, rest = url.partition("://")
    credentials, at, location = rest.rpartition("@")
    if not separator or not at or ":" not in credentials:
        return url
    user = credentials.split(":", 1)[0]
    return f"{scheme}://{user}:***@{location}"


def _first_line(error: BaseException) -> str:
    text = str(error).strip() or type(error).__name__
    return text.splitlines()[0]
