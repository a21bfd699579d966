import subprocess
import sys
from pathlib import Path

from loadtests.config import CHAT_REQUEST_OF_USER, LoadSettings
from loadtests.run_load import _locust_command, _summary, load_environment
from loadtests.slo import result_to_json
from loadtests.tests.test_slo import FINAL_TALLY
from testsupport.stack import REPO

RESULT_JSON = result_to_json(requests=FINAL_TALLY[0], total=FINAL_TALLY[1])


def test_the_locustfile_defines_exactly_the_user_classes_the_runner_judges():
    listed = subprocess.run(
        [str(Path(sys.executable).parent / "locust"), "-f", "loadtests/locustfile.py", "--list"],
        cwd=REPO, env={"PYTHONPATH": str(REPO), "PATH": ""}, capture_output=True, text=True,
        timeout=60, check=True,
    )  # fmt: skip

    user_classes = {line.strip() for line in listed.stdout.splitlines()[1:] if line.strip()}
    assert user_classes == set(CHAT_REQUEST_OF_USER)


def test_locust_runs_headless_with_the_configured_load_and_writes_reports(tmp_path):
    settings = LoadSettings(users=5, spawn_rate=5, duration="10s")

    command = _locust_command(settings, run_dir=tmp_path, user_classes=["AgentChatUser"])

    assert command[-1] == "AgentChatUser"
    assert {"--headless", "--users=5", "--spawn-rate=5.0", "--run-time=10s"} <= set(command)
    assert {f"--csv={tmp_path / 'stats'}", f"--html={tmp_path / 'report.html'}"} <= set(command)


def test_the_stack_runs_on_fresh_secrets_embedded_providers_and_the_widget_limits_it_is_given(
    tmp_path, monkeypatch
):
    for name, value in {
        "GOOGLE_API_KEY": "a-real-key",
        "DJANGO_DEBUG": "true",
        "WIDGET_KEY_THROTTLE_RATE": "7/min",
    }.items():
        monkeypatch.setenv(name, value)

    first, second = load_environment(tmp_path), load_environment(tmp_path)

    assert "GOOGLE_API_KEY" not in first
    assert (first["DJANGO_DEBUG"], first["REDIS_URL"], first["LLM_PROVIDER"]) == ("false", "", "extractive")
    assert first["WIDGET_KEY_THROTTLE_RATE"] == "7/min"
    assert first["DJANGO_SECRET_KEY"] != second["DJANGO_SECRET_KEY"]
    assert str(tmp_path) in first["DATABASE_URL"]
    assert str(tmp_path) in first["AGENT_DATA_DIR"]


def test_the_summary_compares_the_two_chat_paths_and_names_each_breach():
    settings = LoadSettings(p95_ms=300, max_error_ratio=0)

    summary = _summary(RESULT_JSON, settings, user_classes=[])

    assert "Django path / direct agent path, JSON: p50 x2.46, p95 x2.58" in summary
    assert "SLO breached: p95 of 'POST /api/conversations/[id]/chat/' is 310 ms > 300 ms" in summary
    assert "SLO breached: error ratio is 0.48% (2 of 420 requests failed) > 0.00%" in summary


def test_the_summary_judges_only_the_user_classes_that_ran():
    settings = LoadSettings(p95_ms=1000, max_error_ratio=0.01)

    summary = _summary(RESULT_JSON, settings, user_classes=["AgentChatUser"])

    assert "/api/conversations/[id]/chat/" not in summary
    assert summary.endswith(
        "SLOs met: chat p95 <= 1000 ms, first token p95 <= 2000 ms and Django adding <= 250 ms to it at p50,"
        " error ratio <= 0.01"
    )
