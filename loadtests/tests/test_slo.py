from loadtests.config import (
    AGENT_STREAM_FIRST_TOKEN,
    AGENT_STREAM_TOTAL,
    DJANGO_STREAM_FIRST_TOKEN,
    DJANGO_STREAM_TOTAL,
    LoadSettings,
    service_levels,
)
from loadtests.slo import RequestStats, ServiceLevels, result_from_json, result_to_json, slo_breaches

DJANGO_CHAT = "POST /api/conversations/[id]/chat/"
AGENT_CHAT = "POST /chat"
LEVELS = ServiceLevels(p95_ms=300, max_error_ratio=0.0, latency_checked=(DJANGO_CHAT, AGENT_CHAT))


def _row(label: str, *, requests: int = 100, failures: int = 0, p95_ms: float = 200.0) -> RequestStats:
    return RequestStats(
        label=label, requests=requests, failures=failures, p50_ms=p95_ms / 2, p95_ms=p95_ms,
        p99_ms=p95_ms * 2, requests_per_s=5.0,
    )  # fmt: skip


def _total(rows: list[RequestStats]) -> RequestStats:
    return _row("Aggregated", requests=sum(r.requests for r in rows), failures=sum(r.failures for r in rows))


def test_a_run_within_every_level_has_no_breach():
    rows = [_row(DJANGO_CHAT, p95_ms=300), _row(AGENT_CHAT, p95_ms=120)]

    assert slo_breaches(requests=rows, total=_total(rows), levels=LEVELS) == []


def test_a_slow_p95_is_named_with_its_request_and_both_numbers():
    rows = [_row(DJANGO_CHAT, p95_ms=412), _row(AGENT_CHAT, p95_ms=120)]

    assert slo_breaches(requests=rows, total=_total(rows), levels=LEVELS) == [
        "SLO breached: p95 of 'POST /api/conversations/[id]/chat/' is 412 ms > 300 ms"
    ]


def test_a_slow_request_that_is_not_a_chat_request_is_not_judged_on_latency():
    rows = [_row(DJANGO_CHAT), _row(AGENT_CHAT), _row("POST /api/register/", p95_ms=5000)]

    assert slo_breaches(requests=rows, total=_total(rows), levels=LEVELS) == []


def test_one_failure_breaches_a_zero_error_budget():
    rows = [_row(DJANGO_CHAT, requests=400, failures=1), _row(AGENT_CHAT, requests=100)]

    assert slo_breaches(requests=rows, total=_total(rows), levels=LEVELS) == [
        "SLO breached: error ratio is 0.20% (1 of 500 requests failed) > 0.00%"
    ]


def test_failures_within_a_configured_error_budget_pass():
    rows = [_row(DJANGO_CHAT, requests=400, failures=1), _row(AGENT_CHAT, requests=100)]
    levels = ServiceLevels(p95_ms=300, max_error_ratio=0.01, latency_checked=LEVELS.latency_checked)

    assert slo_breaches(requests=rows, total=_total(rows), levels=levels) == []


def test_a_chat_request_that_never_ran_is_a_breach_not_a_pass():
    rows = [_row(AGENT_CHAT), _row("POST /api/register/")]

    assert slo_breaches(requests=rows, total=_total(rows), levels=LEVELS) == [
        "SLO breached: no 'POST /api/conversations/[id]/chat/' request was made, so its p95 cannot be judged"
    ]


def test_a_run_without_requests_is_a_breach():
    empty = _row("Aggregated", requests=0)

    assert slo_breaches(requests=[], total=empty, levels=LEVELS) == [
        "SLO breached: the run made no requests at all"
    ]


def test_every_breach_is_reported_not_only_the_first():
    rows = [_row(DJANGO_CHAT, p95_ms=900, failures=3), _row(AGENT_CHAT, p95_ms=301)]

    breaches = slo_breaches(requests=rows, total=_total(rows), levels=LEVELS)

    assert breaches == [
        "SLO breached: error ratio is 1.50% (3 of 200 requests failed) > 0.00%",
        "SLO breached: p95 of 'POST /api/conversations/[id]/chat/' is 900 ms > 300 ms",
        "SLO breached: p95 of 'POST /chat' is 301 ms > 300 ms",
    ]


FINAL_TALLY = (
    [
        RequestStats(
            DJANGO_CHAT, requests=240, failures=2, p50_ms=150, p95_ms=310, p99_ms=640, requests_per_s=4.0
        ),
        RequestStats(
            AGENT_CHAT, requests=180, failures=0, p50_ms=61, p95_ms=120, p99_ms=210, requests_per_s=3.0
        ),
    ],
    RequestStats(
        "Aggregated", requests=420, failures=2, p50_ms=110, p95_ms=280, p99_ms=600, requests_per_s=7.0
    ),
)


def test_the_final_tally_survives_the_json_handoff_unchanged():
    rows, total = FINAL_TALLY

    assert result_from_json(result_to_json(requests=rows, total=total)) == FINAL_TALLY


def test_the_handed_off_tally_is_judged_like_the_original():
    rows, total = result_from_json(result_to_json(requests=FINAL_TALLY[0], total=FINAL_TALLY[1]))

    assert slo_breaches(requests=rows, total=total, levels=LEVELS) == [
        "SLO breached: error ratio is 0.48% (2 of 420 requests failed) > 0.00%",
        "SLO breached: p95 of 'POST /api/conversations/[id]/chat/' is 310 ms > 300 ms",
    ]


def _streamed(label: str, *, p50_ms: float, p95_ms: float) -> RequestStats:
    return RequestStats(label, requests=50, failures=0, p50_ms=p50_ms, p95_ms=p95_ms, p99_ms=p95_ms,
                        requests_per_s=2.0)  # fmt: skip


STREAMING_USERS = ["DjangoStreamingUser", "AgentStreamingUser"]


def test_the_first_token_delay_of_issue_20_breaches_the_default_levels():
    """+2,678 ms at p50 through Django (issue 20's measurement) must fail a load run, smoke included."""
    rows = [
        _streamed(AGENT_STREAM_FIRST_TOKEN, p50_ms=1334, p95_ms=1500),
        _streamed(DJANGO_STREAM_FIRST_TOKEN, p50_ms=1334 + 2678, p95_ms=4400),
        _streamed(AGENT_STREAM_TOTAL, p50_ms=2100, p95_ms=2400),
        _streamed(DJANGO_STREAM_TOTAL, p50_ms=4800, p95_ms=5600),
    ]
    levels = service_levels(settings=LoadSettings(), user_classes=STREAMING_USERS)

    assert slo_breaches(requests=rows, total=_total(rows), levels=levels) == [
        f"SLO breached: p95 of '{DJANGO_STREAM_TOTAL}' is 5600 ms > 4000 ms",
        f"SLO breached: p95 of '{DJANGO_STREAM_FIRST_TOKEN}' is 4400 ms > 2000 ms",
        "SLO breached: Django adds 2678 ms to the first token at p50 > 250 ms",
    ]


def test_a_django_hop_of_milliseconds_meets_the_first_token_levels():
    rows = [
        _streamed(AGENT_STREAM_FIRST_TOKEN, p50_ms=1050, p95_ms=1200),
        _streamed(DJANGO_STREAM_FIRST_TOKEN, p50_ms=1090, p95_ms=1300),
        _streamed(AGENT_STREAM_TOTAL, p50_ms=2050, p95_ms=2300),
        _streamed(DJANGO_STREAM_TOTAL, p50_ms=2100, p95_ms=2400),
    ]
    levels = service_levels(settings=LoadSettings(), user_classes=STREAMING_USERS)

    assert slo_breaches(requests=rows, total=_total(rows), levels=levels) == []


def test_a_streaming_user_whose_first_token_never_came_is_a_breach():
    rows = [_streamed(AGENT_STREAM_TOTAL, p50_ms=2050, p95_ms=2300)]
    levels = service_levels(settings=LoadSettings(), user_classes=["AgentStreamingUser"])

    assert slo_breaches(requests=rows, total=_total(rows), levels=levels) == [
        f"SLO breached: no '{AGENT_STREAM_FIRST_TOKEN}' was measured, so its p95 cannot be judged"
    ]
