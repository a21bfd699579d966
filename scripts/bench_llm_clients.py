"""The CPU an OpenAI-compatible client spends per streamed answer: the agent's own chat model against the
libraries it replaced, on the same stand-in LLM.

    .venv/bin/python scripts/bench_llm_clients.py [--chats 100] [--rounds 3]

Starts testsupport's stand-in LLM (0.2 s to the first token, then 20 tokens at 50 tokens/s), then streams
`--chats` answers at once through each client in turn, `--rounds` times: LangChain's `ChatOpenAI.astream`
(over openai's aiohttp client, as the agent used it), openai's SDK alone, and the agent's
`OpenAICompatibleChatModel.stream` (providers/openai_compatible.py). It prints this process's CPU time per
answer (`time.process_time`, the event loop's work: the client is the only thing running in it) and the
batch's wall time.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import openai
from langchain_openai import ChatOpenAI
from pydantic import SecretStr

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "backend")]

from chatsphere_agent.providers.base import AnswerRequest  # noqa: E402
from chatsphere_agent.providers.openai_compatible import OpenAICompatibleChatModel  # noqa: E402
from testsupport.standin_llm import LLMProfile, StandInLLM  # noqa: E402

QUESTION = "How wide is the mirror?"
Stream = Callable[[], AsyncIterator[str]]


def clients(base_url: str) -> dict[str, Stream]:
    langchain = ChatOpenAI(
        model_name="standin",
        openai_api_base=base_url,
        openai_api_key=SecretStr("k"),
        max_retries=0,
        http_async_client=openai.DefaultAioHttpClient(timeout=60),
    )
    sdk = openai.AsyncOpenAI(
        base_url=base_url, api_key="k", max_retries=0, http_client=openai.DefaultAioHttpClient(timeout=60)
    )
    agent = OpenAICompatibleChatModel(
        base_url=base_url,
        api_key="k",
        default_model="standin",
        timeout_seconds=60.0,
        max_retries=0,
        backoff_seconds=0.5,
    )

    async def through_langchain() -> AsyncIterator[str]:
        async for chunk in langchain.astream([("user", QUESTION)]):
            yield chunk.text

    async def through_sdk() -> AsyncIterator[str]:
        stream = await sdk.chat.completions.create(
            model="standin", messages=[{"role": "user", "content": QUESTION}], stream=True
        )
        async for chunk in stream:
            if chunk.choices and chunk.choices[0].delta.content:
                yield chunk.choices[0].delta.content

    async def through_the_agent() -> AsyncIterator[str]:
        async for delta in agent.stream(request=AnswerRequest(question=QUESTION, context=[])):
            yield delta.text

    return {
        "LangChain ChatOpenAI.astream": through_langchain,
        "openai SDK, streamed": through_sdk,
        "the agent's chat model": through_the_agent,
    }


async def _answer(stream: Stream) -> int:
    return len([piece async for piece in stream() if piece])


async def _run(base_url: str, *, chats: int, rounds: int) -> None:
    streams = clients(base_url)
    print(f"{'client':32} {'CPU ms per answer':>18} {'wall s':>7} {'pieces':>7}")
    for round_number in range(rounds):
        for name, stream in streams.items():
            cpu, started = time.process_time(), time.monotonic()
            pieces = await asyncio.gather(*(_answer(stream) for _ in range(chats)))
            wall = time.monotonic() - started
            per_answer_ms = (time.process_time() - cpu) * 1000 / chats
            print(f"{name:32} {per_answer_ms:18.2f} {wall:7.2f} {sum(pieces):7d}  (round {round_number + 1})")


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--chats", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="chatsphere-bench-llm-clients-") as logs:
        llm = StandInLLM(
            profile=LLMProfile(ttft_s=0.2, tokens_per_s=50.0, answer_tokens=20), log_dir=Path(logs)
        )
        try:
            asyncio.run(_run(llm.base_url, chats=args.chats, rounds=args.rounds))
        finally:
            llm.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
