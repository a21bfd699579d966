"""The product as the end-to-end suite runs it: the real agent and the real Django, both under uvicorn.

    Django (scripts/serve_django.sh: uvicorn, ASGI, PostgreSQL, Celery eager) ──HTTP──▶ agent (uvicorn,
    MiniLM + Chroma + extractive, or the stand-in LLM via LLM_BASE_URL)

Both read the same environment, built by `stack_environment`. The agent keeps its port for its whole life
so that it can be stopped and started again behind Django's AGENT_SERVICE_URL (the outage test does).
Process groups, log files and readiness waits come from testsupport.processes.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

import httpx

from testsupport.local_servers import free_port
from testsupport.processes import ProcessError, ServerProcess

REPO = Path(__file__).resolve().parents[2]
BACKEND = REPO / "backend"
BIN = Path(sys.executable).parent
SERVE_DJANGO = REPO / "scripts" / "serve_django.sh"
AGENT_START_TIMEOUT_S = 180.0  # the first start loads the MiniLM model
DJANGO_START_TIMEOUT_S = 60.0
MIGRATE_TIMEOUT_S = 300.0
_INHERITED = ("PATH", "HOME", "LANG", "TMPDIR")


def stack_environment(*, database_url: str, state_dir: Path) -> dict[str, str]:
    """What both services read; every setting that matters is explicit, so a developer's .env cannot leak in.

    The providers are forced rather than derived from (absent) keys: an empty GOOGLE_API_KEY in the
    environment would not hide one set in the repo's .env from the agent's settings.
    """
    inherited = {name: os.environ[name] for name in _INHERITED if name in os.environ}
    return inherited | {
        "PYTHONDONTWRITEBYTECODE": "1",
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "ANONYMIZED_TELEMETRY": "False",
        "AGENT_SERVICE_TOKEN": secrets.token_urlsafe(32),
        "AGENT_DATA_DIR": str(state_dir / "agent"),
        "LOCAL_MODEL_CACHE_DIR": str(REPO / "var" / "models"),  # exported once, not per fresh data dir
        "EMBEDDINGS_PROVIDER": "local",
        "VECTOR_STORE": "chroma",
        "LLM_PROVIDER": "extractive",
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DJANGO_DEBUG": "false",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
        "DATABASE_URL": database_url,
        "MEDIA_ROOT": str(state_dir / "media"),
        "STATIC_ROOT": str(state_dir / "static"),
        "CELERY_BROKER_URL": "",  # no broker: ingestion runs in the request (Celery eager)
        "REDIS_URL": "",  # in-process cache: one Django worker counts the throttle on its own
        "CHAT_THROTTLE_RATE": "1000/min",  # the suite chats fast; throttling has its own tests
        "LOGIN_IP_THROTTLE_RATE": "1000000/min",  # every client logs in from 127.0.0.1; fuzzers hammer these
        "LOGIN_USERNAME_THROTTLE_RATE": "1000000/min",
        "REFRESH_THROTTLE_RATE": "1000000/min",
        "REGISTER_THROTTLE_RATE": "1000000/min",
        "DJANGO_SECURE_SSL_REDIRECT": "false",  # plain HTTP on 127.0.0.1, no TLS proxy in front
        "AGENT_BACKEND": "http",
        "LOG_LEVEL": "INFO",
    }


class _Server:
    """One service on a free port, fixed for the object's life; `start()` is each service's own."""

    name: str

    def __init__(self, *, env: Mapping[str, str], log_dir: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._env = dict(env)
        self._log_dir = log_dir
        self._process: ServerProcess | None = None

    def stop(self) -> None:
        if self._process is not None:
            self._process.stop()

    def running(self) -> bool:
        return self._process is not None and self._process.running()

    @property
    def pid(self) -> int:
        """The server's main process: fault tests pause it (SIGSTOP) to simulate a hung service."""
        if self._process is None:
            raise RuntimeError(f"{self.name} was never started")
        return self._process.pid

    def kill(self) -> None:
        """SIGKILL, like a crash: in-flight requests and streams break off."""
        if self._process is not None:
            self._process.kill()

    def log_tail(self, lines: int) -> str:
        return self._process.log_tail(lines) if self._process is not None else "(never started)"


class AgentServer(_Server):
    """The agent on one fixed port; `stop()` and `start()` again simulate an outage and a recovery."""

    name = "agent"

    def start(self) -> None:
        if self.running():
            raise RuntimeError("the agent is already running")
        command = [str(BIN / "uvicorn"), "chatsphere_agent.main:app", "--host", "127.0.0.1",
                   "--port", str(self.port)]  # fmt: skip
        self._process = ServerProcess(self.name, command, cwd=BACKEND, env=self._env, log_dir=self._log_dir)
        self._process.wait_until(self._healthy, timeout_s=AGENT_START_TIMEOUT_S, what="200 from /health")

    def _healthy(self) -> bool:
        try:
            return httpx.get(f"{self.url}/health", timeout=2.0).status_code == httpx.codes.OK
        except httpx.TransportError:
            return False


class DjangoServer(_Server):
    """Django as scripts/serve_django.sh serves it (as `make run` does), on a free port, after migrate.

    `workers` uvicorn worker processes (1 by default, as production runs it).
    """

    name = "django"

    def __init__(self, *, env: Mapping[str, str], log_dir: Path, workers: int = 1) -> None:
        super().__init__(env=env, log_dir=log_dir)
        self._workers = workers

    def start(self) -> None:
        self._migrate()
        command = ["bash", str(SERVE_DJANGO), f"127.0.0.1:{self.port}", "--no-access-log"]
        env = {"VENV_BIN": str(BIN)} | self._env | {"DJANGO_WORKERS": str(self._workers)}
        self._process = ServerProcess(self.name, command, cwd=BACKEND, env=env, log_dir=self._log_dir)
        # An anonymous GET is a 401 once Django answers: proof that settings loaded and URLs resolve.
        self._process.wait_for_http(f"{self.url}/api/users/me/", timeout_s=DJANGO_START_TIMEOUT_S)

    def _migrate(self) -> None:
        migrate = subprocess.run(
            [str(BIN / "python"), "manage.py", "migrate", "--noinput"],
            cwd=BACKEND,
            env=self._env,
            capture_output=True,
            text=True,
            timeout=MIGRATE_TIMEOUT_S,
            check=False,
        )
        if migrate.returncode != 0:
            raise ProcessError(f"manage.py migrate failed ({migrate.returncode}):\n{migrate.stderr[-3000:]}")
