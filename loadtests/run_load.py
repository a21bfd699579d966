"""Start ChatSphere the way production runs it, load it with locust, report, and stop everything.

    python -m loadtests.run_load [USER_CLASS ...]      (tox -e load, tox -e load-smoke)

The stack runs on embedded defaults in a fresh temporary directory: Django under uvicorn (ASGI) with
LOAD_DJANGO_WORKERS workers on a new SQLite file (WAL, IMMEDIATE transactions) with migrations applied,
the agent under uvicorn with LOAD_AGENT_WORKERS workers (local embeddings, Chroma, extractive answers),
a generated agent token and Django secret key, DEBUG off, Celery eager, the chat throttle raised out of
the way. Both listen on free ports. Locust runs headless in its own process (importing it here would
monkey-patch this process with gevent); its CSV/HTML reports and the services' logs go to
LOAD_REPORT_DIR/<timestamp>/. The exit status is locust's: non-zero when a service level is breached.
"""

from __future__ import annotations

import io
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import replace
from pathlib import Path
from types import FrameType

from loadtests.config import (
    AGENT_CHAT_REQUEST,
    CHAT_REQUEST_OF_USER,
    DEFAULT_USER_CLASSES,
    DJANGO_CHAT_REQUEST,
    LoadSettings,
    load_settings,
)
from loadtests.slo import RequestStats, ServiceLevels, result_from_json, slo_breaches
from testsupport.local_servers import free_port

REPO_ROOT = Path(__file__).resolve().parent.parent
BACKEND_DIR = REPO_ROOT / "backend"
VENV_BIN = Path(sys.executable).parent
STOP_GRACE_S = 20.0
# Load from a handful of simulated users must measure latency, not the abuse throttle.
UNTHROTTLED_CHAT_RATE = "1000000/min"


class StackError(RuntimeError):
    """The stack could not be started; the message says which part and where its log is."""


def main(argv: Sequence[str]) -> int:
    if isinstance(sys.stdout, io.TextIOWrapper):
        sys.stdout.reconfigure(line_buffering=True)  # our lines stay in order with locust's in a CI log
    settings = load_settings()
    user_classes = list(argv) or list(DEFAULT_USER_CLASSES)
    run_dir = (REPO_ROOT / settings.report_dir / time.strftime("%Y%m%d-%H%M%S")).resolve()
    run_dir.mkdir(parents=True, exist_ok=True)
    _stop_on_sigterm()
    try:
        with ExitStack() as cleanup:
            state_dir = Path(cleanup.enter_context(tempfile.TemporaryDirectory(prefix="chatsphere-load-")))
            agent_port, django_port = free_port(), free_port()
            env = _stack_env(
                base=os.environ,
                state_dir=state_dir,
                agent_url=f"http://127.0.0.1:{agent_port}",
                agent_token=secrets.token_urlsafe(32),
            )
            _run_step(
                [str(VENV_BIN / "python"), "manage.py", "migrate", "--noinput"],
                env=env,
                log=run_dir / "migrate.log",
            )
            print(f"==> starting the agent ({settings.agent_workers} uvicorn workers) on :{agent_port}")
            agent = cleanup.enter_context(
                _service(
                    [
                        str(VENV_BIN / "uvicorn"),
                        "chatsphere_agent.main:app",
                        "--host=127.0.0.1",
                        f"--port={agent_port}",
                        f"--workers={settings.agent_workers}",
                        "--no-access-log",
                    ],
                    env=env,
                    log=run_dir / "agent.log",
                )
            )
            print(f"==> starting Django ({settings.django_workers} uvicorn workers) on :{django_port}")
            django = cleanup.enter_context(
                _service(
                    [
                        str(VENV_BIN / "uvicorn"),
                        "config.asgi:application",
                        "--host=127.0.0.1",
                        f"--port={django_port}",
                        f"--workers={settings.django_workers}",
                        "--no-access-log",
                    ],
                    env=env,
                    log=run_dir / "django.log",
                )
            )
            deadline = time.monotonic() + settings.startup_timeout_s
            _wait_ready(f"{env['AGENT_SERVICE_URL']}/health", agent, run_dir / "agent.log", deadline)
            _wait_ready(
                f"http://127.0.0.1:{django_port}/api/schema/", django, run_dir / "django.log", deadline
            )
            print("==> both services are ready")
            locust_env = {
                **env,
                "PYTHONPATH": str(REPO_ROOT),
                "LOAD_DJANGO_URL": f"http://127.0.0.1:{django_port}",
                "LOAD_AGENT_URL": env["AGENT_SERVICE_URL"],
                "LOAD_RESULT_FILE": str(run_dir / "result.json"),
            }
            exit_code = _run_locust(
                _locust_command(settings, run_dir=run_dir, user_classes=user_classes), env=locust_env
            )
    except StackError as error:
        print(f"load run aborted: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\nload run interrupted; every process it started is stopped", file=sys.stderr)
        return 130
    result_file = run_dir / "result.json"
    if result_file.is_file():
        print(_summary(result_file.read_text(), settings, user_classes=user_classes))
    print(f"reports and logs: {run_dir}")
    return exit_code


def _stack_env(
    *, base: Mapping[str, str], state_dir: Path, agent_url: str, agent_token: str
) -> dict[str, str]:
    """Both services' environment: embedded defaults, fresh secrets, nothing borrowed from a local .env."""
    database = state_dir / "chatsphere.sqlite3"
    return {
        **base,
        "PYTHONDONTWRITEBYTECODE": "1",
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "ANONYMIZED_TELEMETRY": "False",
        # Django
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DJANGO_DEBUG": "false",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
        "DATABASE_URL": (
            f"sqlite:///{database}?transaction_mode=IMMEDIATE&timeout=20"
            "&init_command=PRAGMA+journal_mode%3DWAL"
        ),
        "MEDIA_ROOT": str(state_dir / "media"),
        "REDIS_URL": "",
        "CELERY_BROKER_URL": "",
        "CHAT_THROTTLE_RATE": UNTHROTTLED_CHAT_RATE,
        "LOGIN_IP_THROTTLE_RATE": UNTHROTTLED_CHAT_RATE,  # every simulated user logs in from 127.0.0.1
        "REGISTER_THROTTLE_RATE": UNTHROTTLED_CHAT_RATE,
        "REFRESH_THROTTLE_RATE": UNTHROTTLED_CHAT_RATE,
        "DJANGO_SECURE_SSL_REDIRECT": "false",
        # Every simulated widget visitor shares one address: only the per-address limit on new
        # conversations is lifted; the per-visitor and per-key limits stay as configured.
        "WIDGET_START_THROTTLE_RATE": UNTHROTTLED_CHAT_RATE,
        "AGENT_BACKEND": "http",
        "AGENT_SERVICE_URL": agent_url,
        "AGENT_SERVICE_TOKEN": agent_token,
        "LOG_LEVEL": "WARNING",
        # the agent
        "AGENT_DATA_DIR": str(state_dir / "agent"),
        "LOCAL_MODEL_CACHE_DIR": str(REPO_ROOT / "var" / "models"),  # exported once, not per fresh data dir
        "GOOGLE_API_KEY": "",
        "PINECONE_API_KEY": "",
        "LLM_BASE_URL": "",
        "EMBEDDINGS_PROVIDER": "local",
        "VECTOR_STORE": "chroma",
        "LLM_PROVIDER": "extractive",
    }


def _locust_command(settings: LoadSettings, *, run_dir: Path, user_classes: Sequence[str]) -> list[str]:
    return [
        str(VENV_BIN / "locust"),
        f"--locustfile={REPO_ROOT / 'loadtests' / 'locustfile.py'}",
        "--headless",
        "--only-summary",
        f"--users={settings.users}",
        f"--spawn-rate={settings.spawn_rate}",
        f"--run-time={settings.duration}",
        f"--stop-timeout={STOP_GRACE_S:.0f}",
        f"--csv={run_dir / 'stats'}",
        f"--html={run_dir / 'report.html'}",
        *user_classes,
    ]


def _run_step(command: list[str], *, env: Mapping[str, str], log: Path) -> None:
    with log.open("wb") as output:
        finished = subprocess.run(  # noqa: S603 - our own venv's executables, no shell
            command, cwd=BACKEND_DIR, env=env, stdout=output, stderr=subprocess.STDOUT, check=False
        )
    if finished.returncode != 0:
        raise StackError(f"`{' '.join(command[1:])}` failed ({finished.returncode}); see {log}")


@contextmanager
def _service(command: list[str], *, env: Mapping[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """A server in its own process group (it and its workers), stopped with the group however we leave."""
    with log.open("wb") as output:
        process = subprocess.Popen(  # noqa: S603 - our own venv's executables, no shell
            command, cwd=BACKEND_DIR, env=env, stdout=output, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        yield process
    finally:
        _stop_group(process)


def _run_locust(command: list[str], *, env: Mapping[str, str]) -> int:
    print(f"==> {' '.join(Path(command[0]).name if i == 0 else part for i, part in enumerate(command))}")
    process = subprocess.Popen(command, cwd=REPO_ROOT, env=env, start_new_session=True)  # noqa: S603
    try:
        return process.wait()
    finally:
        # Only reached early on Ctrl-C or SIGTERM: let locust write its reports, then make sure it is gone.
        _stop_group(process)


def _stop_group(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    for sig, grace in ((signal.SIGTERM, STOP_GRACE_S), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            continue
        return


def _wait_ready(url: str, process: subprocess.Popen[bytes], log: Path, deadline: float) -> None:
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise StackError(f"{url} never came up: the process exited with {process.returncode}; see {log}")
        try:
            with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 - a loopback URL we built
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.5)
    raise StackError(f"{url} was not ready in time (LOAD_STARTUP_TIMEOUT_S); see {log}")


def _stop_on_sigterm() -> None:
    """tox and CI stop a run with SIGTERM: unwind like Ctrl-C so every started process is stopped."""

    def interrupt(_signum: int, _frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)
    signal.signal(signal.SIGHUP, interrupt)


def _summary(result_json: str, settings: LoadSettings, *, user_classes: Sequence[str]) -> str:
    """The chat rows of both paths, the Django/direct ratio, and the verdict, as printed text."""
    rows, total = result_from_json(result_json)
    checked = tuple(
        request for user, request in CHAT_REQUEST_OF_USER.items() if not user_classes or user in user_classes
    )
    by_label = {row.label: row for row in rows}
    lines = ["", _table_line("chat request", "requests", "fails", "p50 ms", "p95 ms", "p99 ms", "req/s")]
    lines += [_stats_line(by_label[label]) for label in checked if label in by_label]
    lines.append(_stats_line(replace(total, label="all requests")))
    django, direct = by_label.get(DJANGO_CHAT_REQUEST), by_label.get(AGENT_CHAT_REQUEST)
    if django and direct and direct.p50_ms and direct.p95_ms:
        lines.append(
            f"Django path / direct agent path: p50 x{django.p50_ms / direct.p50_ms:.2f},"
            f" p95 x{django.p95_ms / direct.p95_ms:.2f}"
        )
    levels = ServiceLevels(
        p95_ms=settings.p95_ms, max_error_ratio=settings.max_error_ratio, latency_checked=checked
    )
    breaches = slo_breaches(requests=rows, total=total, levels=levels)
    lines += breaches or [
        f"SLOs met: chat p95 <= {settings.p95_ms:.0f} ms, error ratio <= {settings.max_error_ratio}"
    ]
    return "\n".join(lines)


def _stats_line(row: RequestStats) -> str:
    return _table_line(
        row.label,
        str(row.requests),
        str(row.failures),
        f"{row.p50_ms:.0f}",
        f"{row.p95_ms:.0f}",
        f"{row.p99_ms:.0f}",
        f"{row.requests_per_s:.1f}",
    )


def _table_line(label: str, *cells: str) -> str:
    return f"{label:<40}" + "".join(f"{cell:>10}" for cell in cells)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
