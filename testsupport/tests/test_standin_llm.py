"""The stand-in LLM in its own process: OpenAI's wire format with and without streaming, at the set pace."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from testsupport.standin_llm import LLMProfile, StandInLLM, answer_tokens

REQUEST = {"model": "llama3.2", "messages": [{"role": "user", "content": "How wide is the mirror?"}]}


@pytest.fixture(scope="module")
def paced(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StandInLLM]:
    server = StandInLLM(
        profile=LLMProfile(ttft_s=0.3, tokens_per_s=20, answer_tokens=5),
        log_dir=tmp_path_factory.mktemp("llm"),
    )
    yield server
    server.stop()


def test_a_completion_takes_the_whole_answers_time(paced: StandInLLM) -> None:
    started = time.monotonic()
    response = httpx.post(f"{paced.base_url}/chat/completions", json=REQUEST, timeout=10)
    elapsed = time.monotonic() - started

    assert response.status_code == 200
    assert response.json()["choices"][0]["message"]["content"] == "".join(answer_tokens(5))
    assert elapsed >= paced.profile.total_s


def test_a_stream_sends_its_first_token_after_ttft_then_paces_the_rest(paced: StandInLLM) -> None:
    arrivals: list[float] = []
    pieces: list[str] = []
    started = time.monotonic()
    with httpx.stream(
        "POST", f"{paced.base_url}/chat/completions", json={**REQUEST, "stream": True}
    ) as response:
        for line in response.iter_lines():
            if not line.startswith("data: {"):
                continue
            content = json.loads(line[len("data: ") :])["choices"][0]["delta"].get("content")
            if content:
                arrivals.append(time.monotonic() - started)
                pieces.append(content)

    assert pieces == answer_tokens(5)
    assert arrivals[0] >= 0.3
    assert arrivals[-1] - arrivals[0] >= 4 / 20 - 0.01


def test_an_error_rate_of_one_fails_every_request(tmp_path: Path) -> None:
    server = StandInLLM(profile=LLMProfile(error_rate=1.0), log_dir=tmp_path)
    try:
        response = httpx.post(f"{server.base_url}/chat/completions", json=REQUEST, timeout=10)
    finally:
        server.stop()

    assert response.status_code == 503
    assert "error" in response.json()
