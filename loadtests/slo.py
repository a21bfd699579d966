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
    return breaches


def result_to_json(*, requests: Sequence[RequestStats], total: RequestStats) -> str:
    """The final tally of a run, as the locustfile hands it to run_load.py."""
    return json.dumps({"requests": [asdict(row) for row in requests], "total": asdict(total)}, indent=2)


def result_from_json(text: str) -> tuple[list[RequestStats], RequestStats]:
    document = json.loads(text)
    return [RequestStats(**row) for row in document["requests"]], RequestStats(**document["total"])
