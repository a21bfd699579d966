"""A stand-in OpenAI-compatible LLM server for load, e2e and integration runs: a test tool, not a provider.

It answers `POST /v1/chat/completions` with and without `stream` at a chosen pace: `ttft_s` seconds to the
first token, then `tokens_per_s`; `error_rate` of the requests fail with a 503 before any token. Its
answer is words of the question's context, so a test can tell it from the extractive answerer; the agent
talks to it exactly as to Ollama or vLLM (LLM_BASE_URL=<url>/v1).

    python -m testsupport.standin_llm --port 9000 --ttft-s 1 --tokens-per-s 30
    StandInLLM(profile=LLMProfile(ttft_s=2.0), log_dir=...)   # the same in its own process, from a test
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from testsupport.local_servers import free_port
from testsupport.processes import ServerProcess

MODEL = "standin"
START_TIMEOUT_S = 30.0
_TEXT = (
    "Based on the bot's documents the answer is stated in the cited passages and this stand-in model "
    "repeats it at a measured pace so that streaming can be observed token by token"
)


@dataclass(frozen=True, slots=True)
class LLMProfile:
    ttft_s: float = 0.0  # seconds before the first token (the whole answer's latency when tokens_per_s=0)
    tokens_per_s: float = 0.0  # 0: every token at once, right after the first
    answer_tokens: int = 20
    error_rate: float = 0.0  # share of requests answered 503 before any token

    def args(self) -> list[str]:
        return [
            "--ttft-s", str(self.ttft_s), "--tokens-per-s", str(self.tokens_per_s),
            "--answer-tokens", str(self.answer_tokens), "--error-rate", str(self.error_rate),
        ]  # fmt: skip

    @property
    def total_s(self) -> float:
        """How long one whole answer takes."""
        pace = (self.answer_tokens - 1) / self.tokens_per_s if self.tokens_per_s else 0.0
        return self.ttft_s + pace


def answer_tokens(count: int) -> list[str]:
    """The stand-in's answer, `count` tokens whose concatenation is the answer text."""
    vocabulary = _TEXT.split(" ")
    words = [vocabulary[index % len(vocabulary)] for index in range(count)]
    return [word if index == 0 else f" {word}" for index, word in enumerate(words)]


def create_app(profile: LLMProfile) -> Starlette:
    async def completions(request: Request) -> Response:
        body: dict[str, Any] = await request.json()
        if random.random() < profile.error_rate:  # noqa: S311 - load shaping, not security
            await asyncio.sleep(profile.ttft_s)
            error = {"message": "the stand-in LLM is overloaded (error_rate)", "type": "server_error"}
            return JSONResponse({"error": error}, status_code=503)
        tokens = answer_tokens(profile.answer_tokens)
        model = str(body.get("model") or MODEL)
        if body.get("stream"):
            return StreamingResponse(_stream(tokens, model), media_type="text/event-stream")
        await asyncio.sleep(profile.total_s)
        return JSONResponse(_completion(tokens, model))

    async def _stream(tokens: list[str], model: str) -> AsyncIterator[bytes]:
        await asyncio.sleep(profile.ttft_s)
        started = time.monotonic()
        for index, token in enumerate(tokens):
            if index and profile.tokens_per_s:
                # Pace from the first token's time, so sleep overshoot does not accumulate.
                await asyncio.sleep(max(0.0, started + index / profile.tokens_per_s - time.monotonic()))
            yield _chunk(model, {"content": token}, finish_reason=None)
        yield _chunk(model, {}, finish_reason="stop")
        yield b"data: [DONE]\n\n"

    async def health(request: Request) -> Response:
        return JSONResponse({"status": "ok", "profile": profile.args()})

    return Starlette(
        routes=[
            Route("/v1/chat/completions", completions, methods=["POST"]),
            Route("/health", health, methods=["GET"]),
        ]
    )


def _completion(tokens: list[str], model: str) -> dict[str, Any]:
    message = {"role": "assistant", "content": "".join(tokens)}
    return {
        "id": "chatcmpl-standin",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 0, "completion_tokens": len(tokens), "total_tokens": len(tokens)},
    }


def _chunk(model: str, delta: dict[str, str], *, finish_reason: str | None) -> bytes:
    chunk = {
        "id": "chatcmpl-standin",
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}],
    }
    return f"data: {json.dumps(chunk)}\n\n".encode()


class StandInLLM:
    """The stand-in in its own process on a free port; `base_url` is what LLM_BASE_URL should be."""

    name = "standin-llm"

    def __init__(self, *, profile: LLMProfile, log_dir: Path) -> None:
        self.profile = profile
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.base_url = f"{self.url}/v1"
        command = [sys.executable, "-m", "testsupport.standin_llm", "--port", str(self.port), *profile.args()]
        repo = Path(__file__).resolve().parents[1]
        env = {name: os.environ[name] for name in ("PATH", "HOME", "LANG") if name in os.environ}
        env["PYTHONPATH"] = str(repo)
        self._process = ServerProcess(self.name, command, cwd=repo, env=env, log_dir=log_dir)
        self._process.wait_for_ok(f"{self.url}/health", timeout_s=START_TIMEOUT_S)

    def stop(self) -> None:
        self._process.stop()

    def log_tail(self, lines: int) -> str:
        return self._process.log_tail(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--ttft-s", type=float, default=0.0)
    parser.add_argument("--tokens-per-s", type=float, default=0.0)
    parser.add_argument("--answer-tokens", type=int, default=20)
    parser.add_argument("--error-rate", type=float, default=0.0)
    args = parser.parse_args(argv)
    profile = LLMProfile(
        ttft_s=args.ttft_s,
        tokens_per_s=args.tokens_per_s,
        answer_tokens=args.answer_tokens,
        error_rate=args.error_rate,
    )
    # A stand-in must never be the bottleneck it is measuring: no access log, a backlog for bursts.
    uvicorn.run(create_app(profile), host=args.host, port=args.port, access_log=False, backlog=2048)


if __name__ == "__main__":
    main()
