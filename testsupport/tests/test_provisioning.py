import psycopg
import pytest

from testsupport import databases
from testsupport.local_servers import LocalServer
from testsupport.provisioning import (
    DATABASE_URL_ENV,
    MODE_ENV,
    REDIS_URL_ENV,
    DockerSource,
    EnvironmentSource,
    LocalSource,
    Service,
    ServiceKind,
    ServiceUnavailable,
    SourceUnavailable,
    default_sources,
    provision,
)


class FakeSource:
    """A source whose answer the test decides; records what it was asked for."""

    def __init__(self, name: str, *, url: str | None = None, reason: str = "") -> None:
        self.name = name
        self._url = url
        self._reason = reason
        self.asked: list[ServiceKind] = []

    def provide(self, kind: ServiceKind) -> Service:
        self.asked.append(kind)
        if self._url is None:
            raise SourceUnavailable(self._reason)
        return Service(kind, self._url, self.name, stop=lambda: None)


def test_first_source_that_provides_wins_and_later_ones_are_not_asked():
    docker = FakeSource("docker", reason="no Docker engine answers")
    env = FakeSource("env", url="postgresql://postgres@127.0.0.1:5432/chatsphere")
    local = FakeSource("local", url="postgresql://postgres@127.0.0.1:6000/chatsphere")

    service = provision(ServiceKind.POSTGRES, [docker, env, local])

    assert service.source == "env"
    assert service.passed_over == ("docker: no Docker engine answers",)
    assert local.asked == []


def test_every_reason_is_kept_when_no_source_provides():
    sources = [FakeSource("docker", reason="no engine"), FakeSource("env", reason="TEST_REDIS_URL unset")]

    with pytest.raises(ServiceUnavailable) as raised:
        provision(ServiceKind.REDIS, sources)

    assert raised.value.kind is ServiceKind.REDIS
    assert raised.value.reasons == ["docker: no engine", "env: TEST_REDIS_URL unset"]


def test_docker_source_without_an_engine_passes_on_and_pings_only_once():
    pings: list[None] = []

    def engine_down() -> str:
        pings.append(None)
        return "no Docker engine answers (connection refused)"

    docker = DockerSource(engine_problem=engine_down)

    for kind in ServiceKind:
        with pytest.raises(SourceUnavailable, match="no Docker engine answers"):
            docker.provide(kind)
    assert len(pings) == 1


def test_docker_probe_answers_quickly_when_the_socket_is_absent(monkeypatch: pytest.MonkeyPatch):
    from testsupport.probes import docker_engine_problem

    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")

    assert "no Docker engine answers" in (docker_engine_problem(timeout_s=1) or "")


def test_unset_environment_urls_are_a_reason_not_an_error():
    with pytest.raises(SourceUnavailable, match=f"{DATABASE_URL_ENV} is not set"):
        EnvironmentSource({}).provide(ServiceKind.POSTGRES)
    with pytest.raises(SourceUnavailable, match=f"{REDIS_URL_ENV} is not set"):
        EnvironmentSource({}).provide(ServiceKind.REDIS)


def test_environment_url_that_does_not_answer_is_passed_over(closed_port_url: str):
    source = EnvironmentSource({DATABASE_URL_ENV: closed_port_url}, timeout_s=1)

    with pytest.raises(SourceUnavailable, match="does not answer"):
        source.provide(ServiceKind.POSTGRES)


def test_environment_url_that_answers_is_used_and_its_database_created(throwaway_postgres: LocalServer):
    url = databases.with_database(throwaway_postgres.url, "from_env")
    source = EnvironmentSource({DATABASE_URL_ENV: url})

    service = source.provide(ServiceKind.POSTGRES)

    assert service.url == url
    with psycopg.connect(url) as connection:
        assert connection.execute("SELECT current_database()").fetchone() == ("from_env",)
    databases.drop_database(throwaway_postgres.url, "from_env")


def test_environment_redis_that_answers_is_used(throwaway_redis: LocalServer):
    service = EnvironmentSource({REDIS_URL_ENV: throwaway_redis.url}).provide(ServiceKind.REDIS)

    assert service.url == throwaway_redis.url
    assert service.source == f"from ${REDIS_URL_ENV}"


def test_local_source_starts_a_server_with_the_base_database_and_stops_it():
    service = LocalSource({}, database="chatsphere").provide(ServiceKind.POSTGRES)
    try:
        with psycopg.connect(service.url, connect_timeout=2) as connection:
            assert connection.execute("SELECT current_database()").fetchone() == ("chatsphere",)
    finally:
        service.stop()
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(service.url, connect_timeout=2)


def test_local_source_without_binaries_says_where_it_looked(tmp_path):
    source = LocalSource({"TESTSUPPORT_PG_BINDIR": str(tmp_path)})

    with pytest.raises(SourceUnavailable, match="initdb does not exist"):
        source.provide(ServiceKind.POSTGRES)


@pytest.mark.parametrize(
    ("mode", "names"),
    [("", ["docker", "env", "local"]), ("auto", ["docker", "env", "local"]), ("local", ["local"])],
)
def test_mode_selects_the_sources(mode: str, names: list[str]):
    assert [source.name for source in default_sources({MODE_ENV: mode})] == names


def test_unknown_mode_is_refused():
    with pytest.raises(ValueError, match="expected one of auto, docker, env, local"):
        default_sources({MODE_ENV: "kubernetes"})


def test_service_description_hides_the_password():
    service = Service(ServiceKind.POSTGRES, "postgresql://user:s3cret@h:5/db", "docker", stop=lambda: None)

    assert "s3cret" not in service.describe()
    assert "postgresql://user:***@h:5/db" in service.describe()
