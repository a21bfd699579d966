"""config/settings.py decides at import time, so each case imports it in a fresh interpreter."""

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

BACKEND_DIR = Path(__file__).resolve().parents[2]
SAFE_KEY = "a-random-enough-secret-key-for-these-tests-0123456789"


def load_settings(**overrides: str) -> subprocess.CompletedProcess[str]:
    environment = {
        name: value for name, value in os.environ.items() if not name.startswith(("DJANGO_", "DATABASE"))
    }
    environment.update(overrides)
    probe = (
        "import json; from config import settings as s; "
        "print(json.dumps({'engine': s.DATABASES['default']['ENGINE'], 'media': str(s.MEDIA_ROOT), "
        "'hasher': getattr(s, 'PASSWORD_HASHERS', ['default'])[0]}))"
    )
    return _backend_python(["-c", probe], env=environment)


def _backend_python(arguments: list[str], *, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """This interpreter, started fresh in backend/ with `env`: settings are read once, at import."""
    return subprocess.run(
        [sys.executable, *arguments], cwd=BACKEND_DIR, env=env, capture_output=True, text=True, check=False
    )


def test_empty_variables_fall_back_to_the_defaults() -> None:
    result = load_settings(DJANGO_SECRET_KEY=SAFE_KEY, DATABASE_URL="", MEDIA_ROOT="", AGENT_BACKEND="memory")

    assert result.returncode == 0, result.stderr
    loaded = json.loads(result.stdout)
    assert loaded["engine"] == "django.db.backends.sqlite3"
    assert loaded["media"].endswith("var/media")


def test_refuses_to_start_without_a_secret_key_outside_debug() -> None:
    result = load_settings(DJANGO_SECRET_KEY="", DJANGO_DEBUG="false", AGENT_BACKEND="memory")

    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY is required" in result.stderr


def test_refuses_a_short_secret_key() -> None:
    result = load_settings(DJANGO_SECRET_KEY="short", AGENT_BACKEND="memory")

    assert result.returncode != 0
    assert "at least 32 characters" in result.stderr


def test_refuses_debug_with_public_hosts() -> None:
    result = load_settings(
        DJANGO_DEBUG="true", DJANGO_ALLOWED_HOSTS="chatsphere.example.com", AGENT_BACKEND="memory"
    )

    assert result.returncode != 0
    assert "only allowed with localhost" in result.stderr


def test_refuses_the_http_agent_without_its_token_outside_debug() -> None:
    result = load_settings(DJANGO_SECRET_KEY=SAFE_KEY, AGENT_BACKEND="http", AGENT_SERVICE_TOKEN="")

    assert result.returncode != 0
    assert "AGENT_SERVICE_TOKEN is required" in result.stderr


def test_the_default_sqlite_database_is_set_up_for_concurrent_chats(tmp_path: Path) -> None:
    probe = (
        "import django, json; django.setup(); from django.db import connection; c = connection.cursor(); "
        "pragmas = {p: c.execute(f'PRAGMA {p}').fetchone()[0] for p in ('journal_mode', 'synchronous')}; "
        "print(json.dumps(pragmas | {'mode': connection.transaction_mode}))"
    )
    environment = {
        name: value for name, value in os.environ.items() if not name.startswith(("DJANGO_", "DATABASE"))
    }
    environment |= {
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DJANGO_SECRET_KEY": SAFE_KEY,
        "AGENT_BACKEND": "memory",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
    }
    result = _backend_python(["-c", probe], env=environment)

    assert result.returncode == 0, result.stderr
    # synchronous 1 is NORMAL: no fsync per commit in WAL mode.
    assert json.loads(result.stdout.splitlines()[-1]) == {
        "journal_mode": "wal",
        "synchronous": 1,
        "mode": "IMMEDIATE",
    }


def test_the_fast_password_hasher_is_for_local_test_servers_only() -> None:
    public = load_settings(
        DJANGO_SECRET_KEY=SAFE_KEY,
        DJANGO_FAST_PASSWORD_HASHER="true",
        DJANGO_ALLOWED_HOSTS="chatsphere.example.com",
        AGENT_BACKEND="memory",
    )
    local = load_settings(
        DJANGO_SECRET_KEY=SAFE_KEY, DJANGO_FAST_PASSWORD_HASHER="true", AGENT_BACKEND="memory"
    )

    assert public.returncode != 0
    assert "for test runs on localhost" in public.stderr
    assert local.returncode == 0, local.stderr


def test_the_crawler_may_reach_loopback_only_on_local_test_servers() -> None:
    public = load_settings(
        DJANGO_SECRET_KEY=SAFE_KEY,
        WEB_FETCH_ALLOW_LOOPBACK="true",
        DJANGO_ALLOWED_HOSTS="chatsphere.example.com",
        AGENT_BACKEND="memory",
    )
    local = load_settings(DJANGO_SECRET_KEY=SAFE_KEY, WEB_FETCH_ALLOW_LOOPBACK="true", AGENT_BACKEND="memory")

    assert public.returncode != 0
    assert "WEB_FETCH_ALLOW_LOOPBACK is for test runs on localhost" in public.stderr
    assert local.returncode == 0, local.stderr


def test_a_crawl_must_end_before_the_tasks_soft_time_limit() -> None:
    loaded = load_settings(DJANGO_SECRET_KEY=SAFE_KEY, CRAWL_TIME_LIMIT_SECONDS="300", AGENT_BACKEND="memory")

    assert loaded.returncode != 0
    assert "Need CRAWL_TIME_LIMIT_SECONDS < CELERY_TASK_SOFT_TIME_LIMIT_SECONDS" in loaded.stderr


def test_passwords_keep_djangos_hashers_unless_the_fast_one_is_asked_for() -> None:
    default = load_settings(DJANGO_SECRET_KEY=SAFE_KEY, AGENT_BACKEND="memory")
    fast = load_settings(
        DJANGO_SECRET_KEY=SAFE_KEY, DJANGO_FAST_PASSWORD_HASHER="true", AGENT_BACKEND="memory"
    )

    assert json.loads(default.stdout)["hasher"] == "default", default.stderr
    assert json.loads(fast.stdout)["hasher"] == "django.contrib.auth.hashers.MD5PasswordHasher", fast.stderr


def _production(tmp_path: Path) -> dict[str, str]:
    """What a production deployment sets: a strong key, public hosts, the agent's token; nothing else."""
    environment = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("DJANGO_", "DATABASE", "AGENT_", "REDIS", "CELERY"))
    }
    return environment | {
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
        "DJANGO_ALLOWED_HOSTS": "chatsphere.example.com",
        "AGENT_SERVICE_TOKEN": secrets.token_urlsafe(32),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'production.sqlite3'}",
    }


def test_the_agent_timeouts_in_production_stay_under_a_proxy_s_60_seconds(tmp_path: Path) -> None:
    """With nothing configured, the deadline of an agent call is below a reverse proxy's default 60 s, so a
    user gets our 503 rather than the proxy's 504 (faults finding 5: 60 s)."""
    shown = _backend_python(
        ["-c", "from config import settings as s; print(s.AGENT_TIMEOUT_SECONDS)"], env=_production(tmp_path)
    )

    assert shown.returncode == 0, shown.stderr
    assert 0 < float(shown.stdout) < 60


def test_production_settings_pass_the_deploy_check(tmp_path: Path) -> None:
    """`manage.py check --deploy` warns of nothing with production defaults (faults finding 8: W004/8)."""
    checked = _backend_python(
        ["manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        env=_production(tmp_path) | {"DJANGO_SETTINGS_MODULE": "config.settings"},
    )

    assert checked.returncode == 0, checked.stdout + checked.stderr
