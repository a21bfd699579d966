"""The plugin end to end, in a separate pytest process each time (it reads and exports os.environ)."""

from pathlib import Path

import pytest

from testsupport.databases import with_database
from testsupport.local_servers import LocalServer, free_port

REPO_ROOT = Path(__file__).resolve().parents[2]

USES_BOTH = """
import os
import psycopg
import redis


def test_services_answer(postgres_url, redis_url, worker_postgres_url):
    with psycopg.connect(worker_postgres_url) as connection:
        assert connection.execute("SELECT current_database()").fetchone() == ("chatsphere_main",)
    assert redis.Redis.from_url(redis_url).ping()
    assert os.environ["DATABASE_URL"] == postgres_url
    assert os.environ["TESTSUPPORT_SERVICES"] == "env"
"""


@pytest.fixture
def inner_env(monkeypatch: pytest.MonkeyPatch, closed_port_url: str) -> pytest.MonkeyPatch:
    """An inner run with no Docker engine, no Django and dead TEST_* URLs unless a test says otherwise."""
    monkeypatch.setenv("PYTHONPATH", str(REPO_ROOT))
    # Only the plugins under test: the venv's other plugins (schemathesis, pact, locust) take seconds to load.
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    monkeypatch.setenv("TEST_DATABASE_URL", closed_port_url)
    monkeypatch.setenv("TEST_REDIS_URL", f"redis://127.0.0.1:{free_port()}/0")
    for name in ("CI", "DJANGO_SETTINGS_MODULE", "DATABASE_URL", "REDIS_URL", "TESTSUPPORT_SERVICES"):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def _run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest_subprocess("-p", "testsupport.services", "-p", "no:cacheprovider", *args)


def test_under_ci_a_missing_service_fails_the_run(pytester: pytest.Pytester, inner_env: pytest.MonkeyPatch):
    inner_env.setenv("CI", "true")
    inner_env.setenv("TESTSUPPORT_SERVICES", "env")
    pytester.makepyfile(USES_BOTH)

    result = _run(pytester)

    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*CI is set and a test service is missing*TEST_DATABASE_URL*not answer*"])


def test_outside_ci_a_missing_service_skips_with_the_reason(
    pytester: pytest.Pytester, inner_env: pytest.MonkeyPatch
):
    inner_env.setenv("TESTSUPPORT_SERVICES", "env")
    pytester.makepyfile(USES_BOTH)

    result = _run(pytester, "-rs")

    result.assert_outcomes(skipped=1)
    result.stdout.fnmatch_lines(
        ["testsupport postgres: UNAVAILABLE (env: TEST_DATABASE_URL*not answer*", "*SKIPPED*no postgres*"]
    )


def test_without_docker_or_env_it_falls_back_to_throwaway_servers(
    pytester: pytest.Pytester, inner_env: pytest.MonkeyPatch
):
    pytester.makepyfile(USES_BOTH)

    result = _run(pytester)

    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(
        [
            "testsupport postgres: postgresql://postgres@127.0.0.1:*/chatsphere (local throwaway server*)"
            "; passed over: docker: no Docker engine answers*; env: TEST_DATABASE_URL*not answer*",
            "testsupport redis: redis://127.0.0.1:*/0 (local throwaway *redis-server)*",
        ]
    )


def test_answering_environment_urls_are_used_as_given(
    pytester: pytest.Pytester,
    inner_env: pytest.MonkeyPatch,
    throwaway_postgres: LocalServer,
    throwaway_redis: LocalServer,
):
    inner_env.setenv("TEST_DATABASE_URL", with_database(throwaway_postgres.url, "chatsphere"))
    inner_env.setenv("TEST_REDIS_URL", throwaway_redis.url)
    pytester.makepyfile(USES_BOTH)

    result = _run(pytester)

    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["testsupport postgres: *(from $TEST_DATABASE_URL); passed over: docker: *"])


def test_xdist_workers_share_the_servers_but_not_databases(
    pytester: pytest.Pytester, inner_env: pytest.MonkeyPatch
):
    pytester.makepyfile(
        """
        import os

        def test_one(postgres_url, worker_postgres_url, worker_redis_url):
            worker = os.environ["PYTEST_XDIST_WORKER"]
            assert worker_postgres_url.endswith("/chatsphere_" + worker)
            assert worker_redis_url.endswith("/" + str(1 + int(worker[2:])))
            assert os.environ["REDIS_URL"] == worker_redis_url

        test_two = test_one
        """
    )

    result = _run(pytester, "-p", "xdist.plugin", "-n", "2")

    result.assert_outcomes(passed=2)
    assert result.stdout.str().count("testsupport postgres: ") == 1
