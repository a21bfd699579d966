"""Where the tests' PostgreSQL and Redis come from: the decision, kept apart from pytest.

Sources are tried in order; the first that provides a server wins, and the reasons of the ones passed
over are kept for the report:
  1. docker  testcontainers, when a Docker engine answers a short ping;
  2. env     TEST_DATABASE_URL / TEST_REDIS_URL, when set and the server answers;
  3. local   throwaway servers from the machine's own binaries, on free ports.
TESTSUPPORT_SERVICES=docker|env|local narrows the choice to one source (default: auto).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Protocol

import psycopg

from testsupport import databases, local_servers, probes

MODE_ENV = "TESTSUPPORT_SERVICES"
DATABASE_URL_ENV = "TEST_DATABASE_URL"
REDIS_URL_ENV = "TEST_REDIS_URL"
DEFAULT_DATABASE = "chatsphere"
POSTGRES_IMAGE = "postgres:15-alpine"
REDIS_IMAGE = "redis:7-alpine"


class ServiceKind(StrEnum):
    POSTGRES = "postgres"
    REDIS = "redis"


class SourceUnavailable(Exception):  # noqa: N818 - a reason to pass a source over, not a program error
    """This source cannot provide the service; the message says why, in one line."""


class ServiceUnavailable(Exception):  # noqa: N818
    def __init__(self, kind: ServiceKind, reasons: Sequence[str]) -> None:
        self.kind = kind
        self.reasons = list(reasons)
        super().__init__(f"no {kind} for the tests: " + "; ".join(reasons))


@dataclass(frozen=True, slots=True)
class Service:
    kind: ServiceKind
    url: str
    source: str
    stop: Callable[[], None] = field(repr=False, compare=False)
    passed_over: tuple[str, ...] = ()  # why each earlier source was not used

    def describe(self) -> str:
        text = f"{self.kind}: {probes.redact(self.url)} ({self.source})"
        return f"{text}; passed over: {'; '.join(self.passed_over)}" if self.passed_over else text


class ServiceSource(Protocol):
    name: str

    def provide(self, kind: ServiceKind) -> Service:
        """Return a running service, or raise SourceUnavailable with the reason."""
        ...


def _nothing_to_stop() -> None:
    """Servers the tests did not start are not theirs to stop."""


class DockerSource:
    name = "docker"

    def __init__(
        self,
        *,
        engine_problem: Callable[[], str | None] = probes.docker_engine_problem,
        database: str = DEFAULT_DATABASE,
    ) -> None:
        self._engine_problem = engine_problem
        self._database = database
        self._known_problem: str | None = None
        self._probed = False

    def provide(self, kind: ServiceKind) -> Service:
        if not self._probed:
            self._known_problem = self._engine_problem()
            self._probed = True
        if self._known_problem is not None:
            raise SourceUnavailable(self._known_problem)
        try:
            return self._start(kind)
        except Exception as error:  # any container failure (pull, start, wait) means "try the next source"
            raise SourceUnavailable(f"{kind} container did not start: {error}") from error

    def _start(self, kind: ServiceKind) -> Service:
        if kind is ServiceKind.POSTGRES:
            from testcontainers.community.postgres import PostgresContainer

            postgres = PostgresContainer(
                POSTGRES_IMAGE,
                username=self._database,
                password=secrets.token_hex(12),
                dbname=self._database,
                driver=None,
            ).start()
            return Service(kind, postgres.get_connection_url(), f"docker {POSTGRES_IMAGE}", postgres.stop)
        from testcontainers.community.redis import RedisContainer

        redis_container = RedisContainer(REDIS_IMAGE).start()
        host, port = redis_container.get_container_host_ip(), redis_container.get_exposed_port(6379)
        return Service(kind, f"redis://{host}:{port}/0", f"docker {REDIS_IMAGE}", redis_container.stop)


class EnvironmentSource:
    name = "env"

    def __init__(self, environ: Mapping[str, str], *, timeout_s: float = probes.DEFAULT_TIMEOUT_S) -> None:
        self._environ = environ
        self._timeout_s = timeout_s

    def provide(self, kind: ServiceKind) -> Service:
        variable = DATABASE_URL_ENV if kind is ServiceKind.POSTGRES else REDIS_URL_ENV
        url = self._environ.get(variable, "").strip()
        if not url:
            raise SourceUnavailable(f"{variable} is not set")
        if kind is ServiceKind.POSTGRES:
            # The server is probed through its maintenance database: the named one may not exist yet.
            server = databases.with_database(url, databases.MAINTENANCE_DATABASE)
            problem = probes.postgres_problem(server, timeout_s=self._timeout_s)
            if problem is None:
                try:
                    databases.ensure_database(url, timeout_s=self._timeout_s)
                except (psycopg.Error, ValueError) as error:
                    problem = f"cannot create the database of {variable}: {error}"
        else:
            problem = probes.redis_problem(url, timeout_s=self._timeout_s)
        if problem is not None:
            raise SourceUnavailable(f"{variable}: {problem}")
        return Service(kind, url, f"from ${variable}", _nothing_to_stop)


class LocalSource:
    name = "local"

    def __init__(self, environ: Mapping[str, str], *, database: str = DEFAULT_DATABASE) -> None:
        self._environ = dict(environ)
        self._database = database

    def provide(self, kind: ServiceKind) -> Service:
        try:
            if kind is ServiceKind.POSTGRES:
                bindir = local_servers.postgres_bindir(self._environ)
                postgres = local_servers.start_local_postgres(bindir=bindir)
                try:
                    url = databases.ensure_database(databases.with_database(postgres.url, self._database))
                except Exception:
                    postgres.stop()
                    raise
                return Service(kind, url, f"local throwaway server from {bindir}", postgres.stop)
            binary = local_servers.redis_server_binary(self._environ)
            redis_server = local_servers.start_local_redis(binary=binary)
            return Service(kind, redis_server.url, f"local throwaway {binary}", redis_server.stop)
        except local_servers.LocalServerError as error:
            raise SourceUnavailable(f"local {kind}: {error}") from error


def default_sources(environ: Mapping[str, str], *, database: str = DEFAULT_DATABASE) -> list[ServiceSource]:
    """The sources TESTSUPPORT_SERVICES selects, in the order they are tried."""
    mode = environ.get(MODE_ENV, "auto").strip().lower() or "auto"
    every: dict[str, ServiceSource] = {
        "docker": DockerSource(database=database),
        "env": EnvironmentSource(environ),
        "local": LocalSource(environ, database=database),
    }
    if mode == "auto":
        return list(every.values())
    if mode not in every:
        raise ValueError(f"{MODE_ENV}={mode!r}: expected one of auto, {', '.join(every)}")
    return [every[mode]]


def provision(kind: ServiceKind, sources: Sequence[ServiceSource]) -> Service:
    reasons: list[str] = []
    for source in sources:
        try:
            return replace(source.provide(kind), passed_over=tuple(reasons))
        except SourceUnavailable as unavailable:
            reasons.append(f"{source.name}: {unavailable}")
    raise ServiceUnavailable(kind, reasons or ["no source configured"])
