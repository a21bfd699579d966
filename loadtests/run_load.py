"""Start ChatSphere the way production runs it, load it with locust, report, and stop everything.

    python -m loadtests.run_load [USER_CLASS ...]      (tox -e load, tox -e load-smoke)

The stack is testsupport.stack's, on embedded defaults in a fresh temporary directory: Django as
scripts/serve_django.sh serves it with LOAD_DJANGO_WORKERS workers on a new SQLite file (WAL, IMMEDIATE
transactions) with migrations applied, the agent under uvicorn with LOAD_AGENT_WORKERS workers (local
embeddings, Chroma), answering with testsupport's stand-in OpenAI-compatible LLM at the pace of
LOAD_LLM_* (a real model's seconds, which the extractive answerer's milliseconds would hide), generated
secrets, DEBUG off, Celery eager, the chat throttle raised out of the way. Both listen on free ports.
Locust runs headless in its own process (importing it here would monkey-patch this process with gevent);
its CSV/HTML reports and the services' logs go to LOAD_REPORT_DIR/<timestamp>/. The exit status is
locust's: non-zero when a service level is breached.
"""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import replace
from pathlib import Path
from types import FrameType

from loadtests.config import (
    AGENT_CHAT_REQUEST,
    AGENT_STREAM_TOTAL,
    DEFAULT_USER_CLASSES,
    DJANGO_CHAT_REQUEST,
    DJANGO_STREAM_TOTAL,
    LoadSettings,
    load_settings,
    service_levels,
)
from loadtests.slo import RequestStats, first_token_added_ms, result_from_json, slo_breaches
from testsupport.processes import ProcessError
from testsupport.stack import BIN, REPO, UNLIMITED_RATE, running_stack, sqlite_url, stack_environment
from testsupport.standin_llm import LLMProfile, StandInLLM

STOP_GRACE_S = 20.0
# The per-visitor and per-key widget limits a load run may set (tox -e load-widget does).
_WIDGET_LIMITS = ("WIDGET_VISITOR_THROTTLE_RATE", "WIDGET_KEY_THROTTLE_RATE")


def main(argv: Sequence[str]) -> int:
    if isinstance(sys.stdout, io.TextIOWrapper):
        sys.stdout.reconfigure(line_buffering=True)  # our lines stay in order with locust's in a CI log
    settings = load_settings()
    user_classes = list(argv) or list(DEFAULT_USER_CLASSES)
    run_dir = (REPO / settings.report_dir / time.strftime("%Y%m%d-%H%M%S")).resolve()
    run_dir.mkdir(parents=True, exist_ok=True)
    _stop_on_sigterm()
    try:
        with ExitStack() as cleanup:
            state_dir = Path(cleanup.enter_context(tempfile.TemporaryDirectory(prefix="chatsphere-load-")))
            llm = cleanup.enter_context(
                _standin_llm(
                    LLMProfile(
                        ttft_s=settings.llm_ttft_s,
                        tokens_per_s=settings.llm_tokens_per_s,
                        answer_tokens=settings.llm_answer_tokens,
                    ),
                    log_dir=run_dir,
                )
            )
            env = load_environment(state_dir) | {
                "LLM_PROVIDER": "openai",
                "LLM_BASE_URL": llm.base_url,
                "LLM_MODEL": "standin",
            }
            print(
                f"==> starting the agent ({settings.agent_workers} uvicorn workers) and Django"
                f" ({settings.django_workers} uvicorn workers)"
            )
            agent, django = cleanup.enter_context(
                running_stack(
                    env,
                    log_dir=run_dir,
                    agent_workers=settings.agent_workers,
                    django_workers=settings.django_workers,
                )
            )
            print(f"==> both services are ready: agent {agent.url}, Django {django.url}")
            locust_env = {
                **os.environ,  # the LOAD_* settings the locustfile reads
                **env,
                "PYTHONPATH": str(REPO),
                "LOAD_DJANGO_URL": django.url,
                "LOAD_AGENT_URL": agent.url,
                "LOAD_RESULT_FILE": str(run_dir / "result.json"),
            }
            exit_code = _run_locust(
                _locust_command(settings, run_dir=run_dir, user_classes=user_classes), env=locust_env
            )
    except ProcessError as error:
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


def load_environment(state_dir: Path) -> dict[str, str]:
    """The stack's environment on a fresh SQLite file, with the limits a crowd from one address would hit
    lifted: load measures latency, not the abuse throttles. Every simulated widget visitor shares one
    address, so only the per-address limit on new conversations is lifted; the per-visitor and per-key
    limits stay as configured (LOAD_* runs set them)."""
    widget_limits = {name: os.environ[name] for name in _WIDGET_LIMITS if name in os.environ}
    return (
        stack_environment(database_url=sqlite_url(state_dir / "chatsphere.sqlite3"), state_dir=state_dir)
        | {
            "CHAT_THROTTLE_RATE": UNLIMITED_RATE,
            "WIDGET_START_THROTTLE_RATE": UNLIMITED_RATE,
            "LOG_LEVEL": "WARNING",
        }
        | widget_limits
    )


@contextmanager
def _standin_llm(profile: LLMProfile, *, log_dir: Path) -> Iterator[StandInLLM]:
    llm = StandInLLM(profile=profile, log_dir=log_dir)
    try:
        yield llm
    finally:
        llm.stop()


def _locust_command(settings: LoadSettings, *, run_dir: Path, user_classes: Sequence[str]) -> list[str]:
    return [
        str(BIN / "locust"),
        f"--locustfile={REPO / 'loadtests' / 'locustfile.py'}",
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


def _run_locust(command: list[str], *, env: Mapping[str, str]) -> int:
    print(f"==> {' '.join(Path(command[0]).name if i == 0 else part for i, part in enumerate(command))}")
    process = subprocess.Popen(command, cwd=REPO, env=env, start_new_session=True)  # noqa: S603
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


def _stop_on_sigterm() -> None:
    """tox and CI stop a run with SIGTERM: unwind like Ctrl-C so every started process is stopped."""

    def interrupt(_signum: int, _frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)
    signal.signal(signal.SIGHUP, interrupt)


def _summary(result_json: str, settings: LoadSettings, *, user_classes: Sequence[str]) -> str:
    """The chat rows of both paths, the Django/direct ratio, and the verdict, as printed text."""
    rows, total = result_from_json(result_json)
    levels = service_levels(settings=settings, user_classes=user_classes)
    checked = levels.latency_checked + levels.first_token_checked
    by_label = {row.label: row for row in rows}
    lines = ["", _table_line("chat request", "requests", "fails", "p50 ms", "p95 ms", "p99 ms", "req/s")]
    lines += [_stats_line(by_label[label]) for label in checked if label in by_label]
    lines.append(_stats_line(replace(total, label="all requests")))
    for kind, (django_label, agent_label) in {
        "JSON": (DJANGO_CHAT_REQUEST, AGENT_CHAT_REQUEST),
        "streamed": (DJANGO_STREAM_TOTAL, AGENT_STREAM_TOTAL),
    }.items():
        django, direct = by_label.get(django_label), by_label.get(agent_label)
        if django and direct and direct.p50_ms and direct.p95_ms:
            lines.append(
                f"Django path / direct agent path, {kind}: p50 x{django.p50_ms / direct.p50_ms:.2f},"
                f" p95 x{django.p95_ms / direct.p95_ms:.2f}"
            )
    if levels.first_token_pair is not None:
        added = first_token_added_ms(requests=rows, pair=levels.first_token_pair)
        if added is not None:
            lines.append(f"Django adds {added:.0f} ms to the first token at p50")
    breaches = slo_breaches(requests=rows, total=total, levels=levels)
    lines += breaches or [
        f"SLOs met: chat p95 <= {settings.p95_ms:.0f} ms,"
        f" first token p95 <= {settings.first_token_p95_ms:.0f} ms"
        f" and Django adding <= {settings.max_first_token_added_ms:.0f} ms to it at p50,"
        f" error ratio <= {settings.max_error_ratio}"
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
    return f"{label:<48}" + "".join(f"{cell:>10}" for cell in cells)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
