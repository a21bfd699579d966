"""Throwaway PostgreSQL and Redis servers started from the machine's own binaries.

Each lives in a fresh temporary folder on a free port and is stopped (and its folder removed) by
`stop()`. PostgreSQL refuses to run as root, so under root the data folder is handed to the
`postgres` user and initdb/pg_ctl run as that user.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import redis

from testsupport.probes import postgres_problem

PG_BINDIR_ENV = "TESTSUPPORT_PG_BINDIR"
REDIS_SERVER_ENV = "TESTSUPPORT_REDIS_SERVER"
_PG_SYSTEM_USER = "postgres"


# Every command here is built from a binary path chosen by the developer (TESTSUPPORT_* or the system's
# PostgreSQL/Redis install) and arguments this module makes, never from outside input: hence the S603 waivers.


class LocalServerError(RuntimeError):
    """The binaries are missing or the server did not come up; the message says which."""


@dataclass(frozen=True, slots=True)
class LocalServer:
    url: str
    workdir: Path
    _stop_command: tuple[str, ...] | None = None
    _process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int | None:
        """The server's process (None for a pg_ctl-managed PostgreSQL): fault tests pause it with SIGSTOP."""
        return None if self._process is None else self._process.pid

    def stop(self) -> None:
        try:
            if self._stop_command is not None:
                subprocess.run(self._stop_command, check=False, capture_output=True, timeout=30)  # noqa: S603
            if self._process is not None:
                self._process.terminate()
                try:
                    self._process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    self._process.kill()
                    self._process.wait(timeout=10)
        finally:
            shutil.rmtree(self.workdir, ignore_errors=True)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def postgres_bindir(environ: dict[str, str] | None = None) -> Path:
    """TESTSUPPORT_PG_BINDIR, else the newest /usr/lib/postgresql/<n>/bin, else wherever initdb is on PATH."""
    env = os.environ if environ is None else environ
    if configured := env.get(PG_BINDIR_ENV):
        return Path(configured)
    versions = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=_version_key)
    if versions:
        return Path(versions[-1])
    on_path = shutil.which("initdb")
    if on_path is None:
        raise LocalServerError(f"no PostgreSQL binaries found (set {PG_BINDIR_ENV})")
    return Path(on_path).resolve().parent


def redis_server_binary(environ: dict[str, str] | None = None) -> Path:
    env = os.environ if environ is None else environ
    configured = env.get(REDIS_SERVER_ENV) or shutil.which("redis-server")
    if not configured:
        raise LocalServerError(f"no redis-server binary found (set {REDIS_SERVER_ENV})")
    return Path(configured)


def start_local_postgres(*, bindir: Path, startup_timeout_s: float = 30.0) -> LocalServer:
    for tool in ("initdb", "pg_ctl"):
        if not (bindir / tool).is_file():
            raise LocalServerError(f"{bindir / tool} does not exist")
    workdir = Path(tempfile.mkdtemp(prefix="testsupport-pg-"))
    run_as = _postgres_runner(workdir)
    data, sockets, log = workdir / "data", workdir / "sockets", workdir / "postgres.log"
    port = free_port()
    try:
        sockets.mkdir()
        if os.geteuid() == 0:
            shutil.chown(sockets, user=_PG_SYSTEM_USER)
        _run([*run_as, str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "-A", "trust",
              "-E", "UTF8", "--locale=C", "--no-sync"], "initdb")  # fmt: skip
        # Durability is pointless for a server that dies with the test run; fsync off makes it fast.
        server_options = f"-p {port} -k {sockets} -c listen_addresses=127.0.0.1 -c fsync=off"
        _run([*run_as, str(bindir / "pg_ctl"), "-D", str(data), "-l", str(log), "-o", server_options,
              "-w", "-t", str(round(startup_timeout_s)), "start"], "pg_ctl start")  # fmt: skip
    except LocalServerError as error:
        raise LocalServerError(f"{error}; server log: {_tail(log)}") from None
    finally:
        if not (data / "postmaster.pid").exists():
            shutil.rmtree(workdir, ignore_errors=True)
    url = f"postgresql://postgres@127.0.0.1:{port}/postgres"
    stop = (*run_as, str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop")
    server = LocalServer(url=url, workdir=workdir, _stop_command=stop)
    if problem := postgres_problem(url):
        server.stop()
        raise LocalServerError(problem)
    return server


def start_local_redis(*, binary: Path, startup_timeout_s: float = 10.0) -> LocalServer:
    if not binary.is_file():
        raise LocalServerError(f"{binary} does not exist")
    workdir = Path(tempfile.mkdtemp(prefix="testsupport-redis-"))
    port = free_port()
    log = workdir / "redis.log"
    command = [str(binary), "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
               "--dir", str(workdir), "--logfile", str(log)]  # fmt: skip
    process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)  # noqa: S603
    server = LocalServer(url=f"redis://127.0.0.1:{port}/0", workdir=workdir, _process=process)
    client = redis.Redis(host="127.0.0.1", port=port, socket_connect_timeout=0.5, socket_timeout=0.5)
    deadline = time.monotonic() + startup_timeout_s
    try:
        while True:
            with contextlib.suppress(redis.ConnectionError):
                if client.ping():
                    return server
            if process.poll() is not None or time.monotonic() > deadline:
                reason = f"redis-server did not answer on port {port}; log: {_tail(log)}"
                server.stop()
                raise LocalServerError(reason)
            time.sleep(0.02)
    finally:
        client.close()


def _postgres_runner(workdir: Path) -> list[str]:
    """The command prefix that runs PostgreSQL tools as a non-root user (initdb refuses root)."""
    if os.geteuid() != 0:
        return []
    try:
        pwd.getpwnam(_PG_SYSTEM_USER)
    except KeyError:
        raise LocalServerError(f"running as root and there is no {_PG_SYSTEM_USER!r} user") from None
    shutil.chown(workdir, user=_PG_SYSTEM_USER)
    runuser = shutil.which("runuser")
    if runuser is None:
        raise LocalServerError("running as root and runuser is missing")
    return [runuser, "-u", _PG_SYSTEM_USER, "--"]


def _run(command: list[str], what: str) -> None:
    try:
        subprocess.run(command, check=True, capture_output=True, timeout=60)  # noqa: S603
    except subprocess.CalledProcessError as error:
        output = (error.stderr or error.stdout or b"").decode(errors="replace").strip()
        raise LocalServerError(f"{what} failed: {output.splitlines()[-1] if output else error}") from None
    except (OSError, subprocess.TimeoutExpired) as error:
        raise LocalServerError(f"{what} failed: {error}") from None


def _tail(log: Path, lines: int = 3) -> str:
    try:
        return " | ".join(log.read_text(errors="replace").strip().splitlines()[-lines:]) or "(empty)"
    except OSError:
        return "(no log)"


def _version_key(path: str) -> tuple[int, ...]:
    digits = Path(path).parent.name
    return tuple(int(part) for part in digits.split(".") if part.isdigit())
