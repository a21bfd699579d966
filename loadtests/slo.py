"""Service levels of a load run, judged from plain numbers.

The locustfile judges its final in-memory stats at `quitting` and hands the same numbers to run_load.py
as JSON (locust's own stats CSV trails the final tally by up to a second), so the runner's summary and
locust's verdict agree. Nothing here imports locust, which monkey-patches the standard library with
gevent as soon as it is imported: the tests call these functions directly.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass


@dataclass(frozen=True, slots=True)
class RequestStats:
    """One row of locust's statistics: a request name (method and grouped URL) or the aggregate."""

    label: str  # "POST /chat", or "Aggregated" for every request together
    requests: int
    failures: int
    p50_ms: float
    p95_ms: float
    p99_ms: float
    requests_per_s: float

    @property
    def error_ratio(self) -> float:
        return self.failures / self.requests if self.requests else 0.0


@dataclass(frozen=True, slots=True)
class ServiceLevels:
    p95_ms: float
    max_error_ratio: float
    latency_checked: tuple[str, ...]  # labels whose p95 must stay under p95_ms; each must have run
    first_token_p95_ms: float = 0.0
    first_token_checked: tuple[str, ...] = ()  # labels whose p95 must stay under first_token_p95_ms
    # (Django's first-token label, the agent's): Django may add at most max_first_token_added_ms at p50.
    first_token_pair: tuple[str, str] | None = None
    max_first_token_added_ms: float = 0.0


def first_token_added_ms(*, requests: Sequence[RequestStats], pair: tuple[str, str]) -> float | None:
    """Django's first-token p50 minus the agent's; None unless both ran."""
    by_label = {row.label: row for row in requests}
    django, agent = by_label.get(pair[0]), by_label.get(pair[1])
    if django is None or agent is None or not django.requests or not agent.requests:
        return None
    return django.p50_ms - agent.p50_ms


def slo_breaches(
    *, requests: Sequence[RequestStats], total: RequestStats, levels: ServiceLevels
) -> list[str]:
    """Every breached level as a sentence for a person; an empty list means the run passed."""
    if total.requests == 0:
        return ["SLO breached: the run made no requests at all"]
    breaches = []
    if total.error_ratio > levels.max_error_ratio:
        breaches.append(
            f"SLO breached: error ratio is {total.error_ratio:.2%} ({total.failures} of {total.requests}"
            f" requests failed) > {levels.max_error_ratio:.2%}"
        )
    by_label = {row.label: row for row in requests}
    for label in levels.latency_checked:
        row = by_label.get(label)
        if row is None or row.requests == 0:
            breaches.append(f"SLO breached: no '{label}' request was made, so its p95 cannot be judged")
        elif row.p95_ms > levels.p95_ms:
            breaches.append(f"SLO breached: p95 of '{label}' is {row.p95_ms:.0f} ms > {levels.p95_ms:.0f} ms")
    for label in levels.first_token_checked:
        row = by_label.get(label)
        if row is None or row.requests == 0:
            breaches.append(f"SLO breached: no '{label}' was measured, so its p95 cannot be judged")
        elif row.p95_ms > levels.first_token_p95_ms:
            breaches.append(
                f"SLO breached: p95 of '{label}' is {row.p95_ms:.0f} ms > {levels.first_token_p95_ms:.0f} ms"
            )
    if levels.first_token_pair is not None:
        added = first_token_added_ms(requests=requests, pair=levels.first_token_pair)
        if added is not None and added > levels.max_first_token_added_ms:
            breaches.append(
                f"SLO breached: Django adds {added:.0f} ms to the first token at p50"
                f" > {levels.max_first_token_added_ms:.0f} ms"
            )
    return breaches


def result_to_json(*, requests: Sequence[RequestStats], total: RequestStats) -> str:
    """The final tally of a run, as the locustfile hands it to run_load.py."""
    return json.dumps({"requests": [asdict(row) for row in requests], "total": asdict(total)}, indent=2)


def result_from_json(text: str) -> tuple[list[RequestStats], RequestStats]:
    document = json.loads(text)
    return [RequestStats(**row) for row in document["requests"]], RequestStats(**document["total"])
