"""Fuzz both services as production runs them, with the schemathesis CLI: `python -m fuzz.run_cli`.

The agent runs under uvicorn on its embedded stack (local MiniLM, Chroma in a temporary directory, the
extractive answerer) and Django under uvicorn on a fresh SQLite file, both built by testsupport/stack with
generated secrets. Two users register; the first one's JWT authenticates the run, the second one's
(FUZZ_PEER_TOKEN) lets fuzz.checks.owner_only_access replay every successful request on an object as a
stranger. Every check runs (`--checks all`), stateful phase included; how many examples, the seed and the
per-operation expectations come from fuzz/schemathesis.toml, the examples per operation from FUZZ_MAX_EXAMPLES
when it is set (`make fuzz-deep`). Prints each service's verdict and time, stops every process it started
however it ends, and exits non-zero when either run found anything.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

import httpx

from fuzz.checks import PEER_TOKEN_ENV
from fuzz.config import CONFIG_PATH, max_examples_override
from testsupport.processes import ProcessError
from testsupport.stack import (
    BIN,
    REPO,
    AgentServer,
    DjangoServer,
    register_account,
    sqlite_url,
    stack_environment,
)

# The fuzzer chats as fast as it can; throttling has tests of its own.
UNTHROTTLED_CHAT_RATE = "1000000/min"


@dataclass(frozen=True, slots=True)
class FuzzRun:
    service: str
    exit_code: int
    seconds: float


def main() -> int:
    _stop_on_sigterm()
    runs: list[FuzzRun] = []
    try:
        with ExitStack() as cleanup:
            state_dir = Path(cleanup.enter_context(tempfile.TemporaryDirectory(prefix="chatsphere-fuzz-")))
            env = stack_environment(
                database_url=sqlite_url(state_dir / "chatsphere.sqlite3"), state_dir=state_dir
            )
            env["CHAT_THROTTLE_RATE"] = UNTHROTTLED_CHAT_RATE
            # register_create hashes a password per example: PBKDF2's deliberate cost buys the fuzzer nothing.
            env["DJANGO_FAST_PASSWORD_HASHER"] = "true"  # noqa: S105 - a switch, not a password
            env["LOG_LEVEL"] = "WARNING"
            log_dir = state_dir / "logs"
            agent = AgentServer(env=env, log_dir=log_dir)
            django = DjangoServer(env={**env, "AGENT_SERVICE_URL": agent.url}, log_dir=log_dir)
            print(f"==> starting the agent on {agent.url} and Django on {django.url}", flush=True)
            cleanup.callback(agent.stop)
            agent.start()
            cleanup.callback(django.stop)
            django.start()
            owner_token, peer_token = (_access_token(django.url) for _ in range(2))

            runs.append(
                _fuzz(
                    "agent",
                    schema=f"{agent.url}/openapi.json",
                    base_url=agent.url,
                    token=env["AGENT_SERVICE_TOKEN"],
                    env=env,
                )
            )
            runs.append(
                _fuzz(
                    "django",
                    schema=f"{django.url}/api/schema/",
                    base_url=django.url,
                    token=owner_token,
                    env={**env, PEER_TOKEN_ENV: peer_token, "SCHEMATHESIS_HOOKS": "fuzz.checks"},
                )
            )
            if any(run.exit_code for run in runs):
                print(f"service logs: {log_dir} (removed on exit)")
                for server in (agent, django):
                    print(server.log_tail(40))
    except (ProcessError, httpx.HTTPError) as error:
        print(f"fuzz run aborted: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\nfuzz run interrupted; every process it started is stopped", file=sys.stderr)
        return 130
    print(_summary(runs))
    return 0 if all(run.exit_code == 0 for run in runs) else 1


def _access_token(django_url: str) -> str:
    """A new user's access token."""
    with httpx.Client(base_url=f"{django_url}/api", timeout=30.0) as client:
        return register_account(client, prefix="fuzz").access


def _fuzz(service: str, *, schema: str, base_url: str, token: str, env: Mapping[str, str]) -> FuzzRun:
    command = [
        str(BIN / "schemathesis"),
        f"--config-file={CONFIG_PATH}",
        "run",
        schema,
        f"--url={base_url}",
        "--checks=all",
        f"--header=Authorization: Bearer {token}",
    ]
    max_examples = max_examples_override()
    if max_examples is not None:
        command.append(f"--max-examples={max_examples}")
    print(f"\n==> schemathesis on the {service}: {schema}", flush=True)
    started = time.monotonic()
    exit_code = _run(command, env=env)
    return FuzzRun(service=service, exit_code=exit_code, seconds=time.monotonic() - started)


def _run(command: Sequence[str], *, env: Mapping[str, str]) -> int:
    process = subprocess.Popen(list(command), cwd=REPO, env=dict(env))  # noqa: S603 - our own venv's CLI
    try:
        return process.wait()
    finally:
        if process.poll() is None:  # interrupted: do not leave the fuzzer running against dead servers
            process.terminate()
            process.wait(timeout=15)


def _summary(runs: Sequence[FuzzRun]) -> str:
    lines = ["", f"{'service':<10}{'result':<10}{'seconds':>10}"]
    lines += [
        f"{run.service:<10}{'passed' if run.exit_code == 0 else 'FAILED':<10}{run.seconds:>10.0f}"
        for run in runs
    ]
    return "\n".join(lines)


def _stop_on_sigterm() -> None:
    """tox and CI stop a run with SIGTERM: unwind like Ctrl-C so every started process is stopped."""

    def interrupt(_signum: int, _frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)
    signal.signal(signal.SIGHUP, interrupt)


if __name__ == "__main__":
    sys.exit(main())
