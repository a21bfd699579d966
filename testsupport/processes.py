"""Real server processes for integration and end-to-end tests: started, awaited, stopped or killed.

Each process writes its output to a log file; when it fails to come up, the error carries the log's
tail so the reason is in the test report rather than lost.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import httpx


class ProcessError(RuntimeError):
    """A process exited or did not become ready in time; the message ends with its log's tail."""


class ServerProcess:
    def __init__(
        self, name: str, command: Sequence[str], *, cwd: Path, env: Mapping[str, str], log_dir: Path
    ) -> None:
        self.name = name
        self.log_path = log_dir / f"{name}.log"
        log_dir.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            # A session of its own: stop() and kill() reach the whole process group (uvicorn, celery pools).
            self._popen = subprocess.Popen(  # noqa: S603 - commands are built by the test suite itself
                list(command),
                cwd=cwd,
                env=dict(env),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    @property
    def pid(self) -> int:
        return self._popen.pid

    def running(self) -> bool:
        return self._popen.poll() is None

    def wait_until(self, ready: Callable[[], bool], *, timeout_s: float, what: str) -> None:
        deadline = time.monotonic() + timeout_s
        while not ready():
            if not self.running():
                raise ProcessError(
                    f"{self.name} exited ({self._popen.returncode}) before {what}; {self.log_tail()}"
                )
            if time.monotonic() > deadline:
                raise ProcessError(f"{self.name}: no {what} within {timeout_s:.0f} s; {self.log_tail()}")
            time.sleep(0.1)

    def wait_for_http(self, url: str, *, timeout_s: float) -> None:
        """Until `url` answers with any status below 500."""

        def answers() -> bool:
            try:
                return httpx.get(url, timeout=2.0).status_code < 500
            except httpx.TransportError:
                return False

        self.wait_until(answers, timeout_s=timeout_s, what=f"answer from {url}")

    def wait_for_ok(self, url: str, *, timeout_s: float) -> None:
        """Until `url` answers 200 (a health endpoint saying the server is ready)."""

        def ok() -> bool:
            try:
                return httpx.get(url, timeout=2.0).status_code == httpx.codes.OK
            except httpx.TransportError:
                return False

        self.wait_until(ok, timeout_s=timeout_s, what=f"200 from {url}")

    def wait_for_log(self, text: str, *, timeout_s: float) -> None:
        self.wait_until(lambda: text in self.log(), timeout_s=timeout_s, what=f"{text!r} in its log")

    def stop(self, *, timeout_s: float = 15.0) -> None:
        """SIGTERM the process group (a graceful shutdown), SIGKILL it if it lingers."""
        self._signal_group(signal.SIGTERM)
        try:
            self._popen.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            self.kill()

    def kill(self) -> None:
        """SIGKILL the process group: no cleanup, like a crash or the OOM killer."""
        self._signal_group(signal.SIGKILL)
        self._popen.wait(timeout=15)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def log_tail(self, lines: int = 25) -> str:
        tail = "\n".join(self.log().splitlines()[-lines:])
        return f"last lines of {self.log_path}:\n{tail}"

    def _signal_group(self, signum: signal.Signals) -> None:
        if self.running():
            try:
                os.killpg(self._popen.pid, signum)
            except ProcessLookupError:
                return
