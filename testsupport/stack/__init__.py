"""The product as real processes, started one way for every suite, load run, benchmark and script.

    Django (scripts/serve_django.sh: uvicorn, ASGI) ──HTTP──▶ agent (uvicorn: MiniLM + Chroma + extractive,
        │                                                       or the stand-in LLM via LLM_BASE_URL)
        └─ Redis broker ──▶ Celery workers (`start_celery_worker`), when CELERY_BROKER_URL is set

Every process reads one environment built by `stack_environment`: every setting that matters is explicit,
so a developer's .env cannot leak in. Servers keep their port for their whole life, so the agent can be
stopped and started again behind Django's AGENT_SERVICE_URL. `register_account` is the one way a test or a
script gets a logged-in user. The pytest fixtures over these pieces are in `testsupport.stack.plugin`.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from testsupport.local_servers import free_port
from testsupport.processes import ProcessError, ServerProcess

REPO = Path(__file__).resolve().parents[2]
BACKEND = REPO / "backend"
BIN = Path(sys.executable).parent
SERVE_DJANGO = REPO / "scripts" / "serve_django.sh"
# Where the harness's agents (stacks, agent tests, benchmarks) keep the exported ONNX model: its files are
# named by what they were made from, so every run shares them instead of exporting into each fresh data dir.
HARNESS_MODEL_CACHE_DIR = REPO / "var" / "models"
AGENT_START_TIMEOUT_S = 180.0  # the first start loads the MiniLM model
DJANGO_START_TIMEOUT_S = 60.0
WORKER_START_TIMEOUT_S = 60.0
MIGRATE_TIMEOUT_S = 300.0
# For rates a run must never hit: fuzzers and load runs hammer login and chat; limits have tests of their own.
UNLIMITED_RATE = "1000000/min"
_INHERITED = ("PATH", "HOME", "LANG", "TMPDIR")


def sqlite_url(path: Path) -> str:
    """A SQLite database as the embedded run uses it: the settings' own options (WAL, IMMEDIATE transactions,
    synchronous=NORMAL), so the harness measures and tests what `make run` serves."""
    return f"sqlite:///{path}"


def stack_environment(*, database_url: str, state_dir: Path) -> dict[str, str]:
    """What every process of the stack reads: embedded providers, fresh secrets, no broker, no limits in
    the way.

    The providers are forced rather than derived from (absent) keys: an empty GOOGLE_API_KEY in the
    environment would not hide one set in the repo's .env from the agent's settings.
    """
    inherited = {name: os.environ[name] for name in _INHERITED if name in os.environ}
    return inherited | {
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "ANONYMIZED_TELEMETRY": "False",
        "AGENT_SERVICE_TOKEN": secrets.token_urlsafe(32),
        "AGENT_DATA_DIR": str(state_dir / "agent"),
        "LOCAL_MODEL_CACHE_DIR": str(HARNESS_MODEL_CACHE_DIR),  # exported to ONNX once, not per data dir
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
        "REDIS_URL": "",  # in-process cache: each Django worker counts the throttles on its own
        "CHAT_THROTTLE_RATE": "1000/min",  # suites chat fast; throttling has its own tests
        "LOGIN_IP_THROTTLE_RATE": UNLIMITED_RATE,  # every client logs in from 127.0.0.1
        "LOGIN_USERNAME_THROTTLE_RATE": UNLIMITED_RATE,
        "REFRESH_THROTTLE_RATE": UNLIMITED_RATE,
        "REGISTER_THROTTLE_RATE": UNLIMITED_RATE,
        "DJANGO_SECURE_SSL_REDIRECT": "false",  # plain HTTP on 127.0.0.1, no TLS proxy in front
        "AGENT_BACKEND": "http",
        "LOG_LEVEL": "INFO",
    }


class _Server:
    """One service on a free port, fixed for the object's life; `start()` is each service's own."""

    name: str

    def __init__(self, *, env: Mapping[str, str], log_dir: Path, workers: int | None = 1) -> None:
        """`workers` None: as many processes as the service's own launcher picks, as in production."""
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.workers = workers
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
                   "--port", str(self.port), "--no-access-log", "--timeout-keep-alive", "75"]  # fmt: skip
        if self.workers is not None:
            command += ["--workers", str(self.workers)]
        self._process = ServerProcess(self.name, command, cwd=BACKEND, env=self._env, log_dir=self._log_dir)
        self._process.wait_for_ok(f"{self.url}/health", timeout_s=AGENT_START_TIMEOUT_S)


class DjangoServer(_Server):
    """Django as scripts/serve_django.sh serves it (as `make run` does), on a free port, after migrate."""

    name = "django"

    def start(self) -> None:
        migrate(self._env)
        command = ["bash", str(SERVE_DJANGO), f"127.0.0.1:{self.port}", "--no-access-log"]
        # Without a count, serve_django.sh's own default (one process per core) applies, as in production.
        workers = {} if self.workers is None else {"DJANGO_WORKERS": str(self.workers)}
        env = {"VENV_BIN": str(BIN)} | self._env | workers
        self._process = ServerProcess(self.name, command, cwd=BACKEND, env=env, log_dir=self._log_dir)
        # An anonymous GET is a 401 once Django answers: proof that settings loaded and URLs resolve.
        self._process.wait_for_http(f"{self.url}/api/users/me/", timeout_s=DJANGO_START_TIMEOUT_S)


def manage(env: Mapping[str, str], *args: str, timeout_s: float = 120.0) -> subprocess.CompletedProcess[str]:
    """`manage.py <args>` as its own process, with the stack's environment."""
    return subprocess.run(  # noqa: S603 - our own venv's python and manage.py
        [str(BIN / "python"), "manage.py", *args],
        cwd=BACKEND,
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
    )


def migrate(env: Mapping[str, str]) -> None:
    done = manage(env, "migrate", "--noinput", timeout_s=MIGRATE_TIMEOUT_S)
    if done.returncode != 0:
        raise ProcessError(f"manage.py migrate failed ({done.returncode}):\n{done.stderr[-3000:]}")


def start_celery_worker(
    *, env: Mapping[str, str], log_dir: Path, pool: str = "solo", concurrency: int = 1
) -> ServerProcess:
    """A Celery worker on the real app (`celery -A config worker`), ready to take tasks when this returns."""
    name = f"worker-{uuid.uuid4().hex[:8]}"
    command = [str(BIN / "celery"), "-A", "config", "worker", "--loglevel", "INFO", "--pool", pool,
               "--concurrency", str(concurrency), "--hostname", f"{name}@%h",
               "--without-gossip", "--without-mingle", "--without-heartbeat"]  # fmt: skip
    worker = ServerProcess(name, command, cwd=BACKEND, env=env, log_dir=log_dir)
    try:
        worker.wait_for_log(" ready.", timeout_s=WORKER_START_TIMEOUT_S)
    except ProcessError:
        worker.stop()
        raise
    return worker


@dataclass
class Account:
    """A registered user; `client` speaks to the API (`/api` is its base) with the user's access token."""

    username: str
    password: str
    client: httpx.Client
    access: str
    refresh: str


def register_account(client: httpx.Client, *, prefix: str = "user") -> Account:
    """Registers a brand-new user through `client` (based at the API's root), logs in, and from then on
    `client` sends that user's access token. Fails with the answer's body when either step does."""
    username = f"{prefix}_{uuid.uuid4().hex[:12]}"
    password = secrets.token_urlsafe(16)
    registered = client.post(
        "/register/", json={"username": username, "email": f"{username}@example.com", "password": password}
    )
    if registered.status_code != httpx.codes.CREATED:
        raise AssertionError(f"registering {username}: {registered.status_code} {registered.text}")
    tokens = client.post("/token/", json={"username": username, "password": password})
    if tokens.status_code != httpx.codes.OK:
        raise AssertionError(f"logging {username} in: {tokens.status_code} {tokens.text}")
    access, refresh = tokens.json()["access"], tokens.json()["refresh"]
    client.headers["Authorization"] = f"Bearer {access}"
    return Account(username=username, password=password, client=client, access=access, refresh=refresh)


@contextmanager
def running_stack(
    env: Mapping[str, str], *, log_dir: Path, agent_workers: int = 1, django_workers: int = 1
) -> Iterator[tuple[AgentServer, DjangoServer]]:
    """The agent, then Django pointed at it; both stopped however the block ends (scripts and load runs)."""
    agent = AgentServer(env=env, log_dir=log_dir, workers=agent_workers)
    django = DjangoServer(
        env={**env, "AGENT_SERVICE_URL": agent.url}, log_dir=log_dir, workers=django_workers
    )
    try:
        agent.start()
        django.start()
        yield agent, django
    finally:
        django.stop()
        agent.stop()
