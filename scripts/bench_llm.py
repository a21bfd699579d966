"""Chat at LLM speed: N simultaneous chats through Django vs straight to the agent, JSON and streamed.

    make bench-llm            (.venv/bin/python scripts/bench_llm.py [--chats 100] [--ttft-s 1.0] ...)

One run starts a throwaway PostgreSQL, the stand-in OpenAI-compatible LLM (testsupport.standin_llm: by
default 1 s to the first token, then 20 tokens/s for 20 tokens, so one answer takes 2 s), the agent
pointed at it with LLM_BASE_URL, and Django under uvicorn exactly as production runs it (the server
classes of testsupport/stack; chat throttle lifted via CHAT_THROTTLE_RATE). It seeds one bot with one
document, then sends N chats at once, four times: JSON to the agent, JSON through Django, streamed to the
agent, streamed through Django. It prints each batch's wall time and errors, the Django/agent ratios, and
the time to first token (p50, p95) of both streamed batches.

    .venv/bin/python scripts/bench_llm.py --only agent --rounds 3

`--only agent` starts neither PostgreSQL nor Django: the document goes straight to the agent's
/embed_and_store, and only the two agent batches run (profiling the agent alone, e.g. with py-spy on the
agent's pid, which it prints). `--rounds N` runs the batches N times in turn, reporting each round.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import httpx

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from testsupport.databases import recreate_database  # noqa: E402
from testsupport.local_servers import postgres_bindir, start_local_postgres  # noqa: E402
from testsupport.stack import (  # noqa: E402
    AgentServer,
    DjangoServer,
    register_account,
    stack_environment,
)
from testsupport.standin_llm import LLMProfile, StandInLLM  # noqa: E402

DOCUMENT = (
    "The Halden lighthouse was built in 1874 on the northern cliff. Its lamp is visible for 22 nautical "
    "miles. The keeper's cottage next to it is a museum open every weekend from May to September."
)
QUESTION = "How far can the Halden lighthouse lamp be seen?"
TIMEOUT = httpx.Timeout(120.0, connect=10.0)
TIMEOUT_S = 120.0


@dataclass
class Batch:
    name: str
    wall_s: float = 0.0
    errors: list[str] = field(default_factory=list)
    ttft_s: list[float] = field(default_factory=list)
    total_s: list[float] = field(default_factory=list)


async def _stream(
    client: aiohttp.ClientSession, url: str, *, json_body: dict[str, Any], headers: dict[str, str]
) -> tuple[float, float, str | None]:
    """(time to first token, total time, error) of one streamed chat."""
    started = time.monotonic()
    first_token: float | None = None
    last_event = ""
    async with client.post(
        url, json=json_body, headers={**headers, "Accept": "text/event-stream"}
    ) as response:
        if response.status != 200:
            return 0.0, time.monotonic() - started, f"{response.status} {(await response.text())[:200]}"
        async for line in response.content:
            if line.startswith(b"event: "):
                last_event = line[len(b"event: ") :].strip().decode()
                if last_event == "token" and first_token is None:
                    first_token = time.monotonic() - started
    total = time.monotonic() - started
    if last_event != "done" or first_token is None:
        return first_token or 0.0, total, f"stream ended with {last_event!r}"
    return first_token, total, None


async def _json(
    client: aiohttp.ClientSession, url: str, *, json_body: dict[str, Any], headers: dict[str, str]
) -> tuple[float, float, str | None]:
    started = time.monotonic()
    async with client.post(url, json=json_body, headers=headers) as response:
        body = await response.read()
    total = time.monotonic() - started
    return 0.0, total, None if response.status == 200 else f"{response.status} {body[:200]!r}"


Call = Callable[[aiohttp.ClientSession, int], Awaitable[tuple[float, float, str | None]]]


async def _batch(name: str, chats: int, call: Call) -> Batch:
    """`chats` calls at once from one aiohttp session: httpx's async pool added ~0.5 s to 100 streams by
    itself (docs/benchmarks.md), which a benchmark of the servers must not measure."""
    batch = Batch(name)
    timeout = aiohttp.ClientTimeout(total=TIMEOUT_S, sock_connect=10.0)
    async with aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=chats * 2), timeout=timeout
    ) as client:
        started = time.monotonic()
        results = await asyncio.gather(
            *(call(client, index) for index in range(chats)), return_exceptions=True
        )
        batch.wall_s = time.monotonic() - started
    for result in results:
        if isinstance(result, BaseException):
            batch.errors.append(f"{type(result).__name__}: {result}")
            continue
        ttft, total, error = result
        if error:
            batch.errors.append(error)
        else:
            batch.total_s.append(total)
            if ttft:
                batch.ttft_s.append(ttft)
    return batch


def _seed(django_url: str, chats: int) -> tuple[str, str, list[str]]:
    """(token, bot id, one conversation per simulated user) of a fresh user with one READY document."""
    with httpx.Client(base_url=f"{django_url}/api", timeout=TIMEOUT) as api:
        token = register_account(api, prefix="bench").access
        bot = api.post("/bots/", json={"name": "Bench"}).json()["id"]
        document = api.post(
            "/documents/train_text/", json={"bot": bot, "name": "halden.md", "text": DOCUMENT}
        ).json()["id"]
        deadline = time.monotonic() + 120
        while (
            api.get(f"/documents/{document}/").json()["status"] == "PROCESSING"
            and time.monotonic() < deadline
        ):
            time.sleep(0.2)
        conversations = [api.post("/conversations/", json={"bot": bot}).json()["id"] for _ in range(chats)]
    return token, bot, conversations


def _seed_agent(agent_url: str, agent_token: str) -> str:
    """The id of a fresh bot holding the one document, stored straight at the agent (no Django)."""
    bot = str(uuid.uuid4())
    with httpx.Client(base_url=agent_url, timeout=TIMEOUT) as api:
        stored = api.post(
            "/embed_and_store",
            json={
                "bot_id": bot,
                "document_id": str(uuid.uuid4()),
                "chunks": [DOCUMENT],
                "document_name": "halden.md",
            },
            headers={"Authorization": f"Bearer {agent_token}"},
        )
        stored.raise_for_status()
    return bot


async def _run(
    *, chats: int, rounds: int, agent: AgentServer, django_url: str | None, agent_token: str
) -> list[list[Batch]]:
    """`rounds` lists of batches: the agent's JSON, Django's JSON, the agent's stream, Django's stream
    (without Django, the agent's two)."""
    conversations: list[str] = []
    if django_url is None:
        token, bot = "", _seed_agent(agent.url, agent_token)
    else:
        token, bot, conversations = _seed(django_url, chats)
    agent_headers = {"Authorization": f"Bearer {agent_token}"}
    django_headers = {"Authorization": f"Bearer {token}"}
    agent_body = {"bot_id": bot, "message": QUESTION, "history": []}

    def to_agent(kind: Callable[..., Awaitable[tuple[float, float, str | None]]], path: str) -> Call:
        return lambda client, index: kind(
            client, f"{agent.url}{path}", json_body=agent_body, headers=agent_headers
        )

    def to_django(kind: Callable[..., Awaitable[tuple[float, float, str | None]]]) -> Call:
        return lambda client, index: kind(
            client,
            f"{django_url}/api/conversations/{conversations[index]}/chat/",
            json_body={"message": QUESTION},
            headers=django_headers,
        )

    # Warm both paths (model loading, connection pools) before measuring.
    if django_url is not None:
        await _batch("warm-up", 4, to_django(_stream))
    await _batch("warm-up", 4, to_agent(_json, "/chat"))
    plan = [
        ("JSON, straight to the agent", to_agent(_json, "/chat")),
        ("JSON, through Django", to_django(_json)),
        ("streamed, straight to the agent", to_agent(_stream, "/chat/stream")),
        ("streamed, through Django", to_django(_stream)),
    ]
    if django_url is None:
        plan = [step for step in plan if "agent" in step[0]]
    results = []
    for _ in range(rounds):
        batches = []
        for name, call in plan:
            batches.append(await _batch(name, chats, call))
            await asyncio.sleep(1.0)  # let the previous batch's stragglers (saves, logs) settle
        results.append(batches)
    return results


def _p(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[round(q * 100) - 1]


def _report(batches: list[Batch], *, chats: int, profile: LLMProfile) -> str:
    lines = [
        f"{chats} simultaneous chats; stand-in LLM: {profile.ttft_s:.1f} s to the first token, "
        f"{profile.tokens_per_s:g} tokens/s, {profile.answer_tokens} tokens "
        f"({profile.total_s:.2f} s per answer)",
        "",
        f"{'batch':34} {'wall s':>7} {'errors':>6} {'p50 s':>6} {'p95 s':>6} {'TTFT p50':>9} {'TTFT p95':>9}",
    ]
    for batch in batches:
        ttft = (
            f"{_p(batch.ttft_s, 0.5) * 1000:7.0f}ms {_p(batch.ttft_s, 0.95) * 1000:7.0f}ms"
            if batch.ttft_s
            else ""
        )
        lines.append(
            f"{batch.name:34} {batch.wall_s:7.2f} {len(batch.errors):6d} {_p(batch.total_s, 0.5):6.2f} "
            f"{_p(batch.total_s, 0.95):6.2f} {ttft}"
        )
    agent_json = batches[0]
    lines += ["", f"agent wall for {chats} JSON chats:     {agent_json.wall_s:.2f} s  (aim <= 2.5 s)"]
    if len(batches) == 4:
        _, django_json, agent_stream, django_stream = batches
        ttft_gap_ms = (_p(django_stream.ttft_s, 0.5) - _p(agent_stream.ttft_s, 0.5)) * 1000
        json_ratio = django_json.wall_s / agent_json.wall_s
        stream_ratio = django_stream.wall_s / agent_stream.wall_s
        lines += [
            f"Django/agent wall ratio, JSON:      {json_ratio:.2f}x  (aim <= 1.25x)",
            f"Django/agent wall ratio, streamed:  {stream_ratio:.2f}x  (aim <= 1.25x)",
            f"TTFT p50, Django minus agent:       {ttft_gap_ms:+.0f} ms  (aim <= 250 ms)",
        ]
    lines.append(
        f"errors:                             {sum(len(batch.errors) for batch in batches)}  (aim 0)"
    )
    for batch in batches:
        for error in batch.errors[:3]:
            lines.append(f"  {batch.name}: {error}")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--chats", type=int, default=100)
    parser.add_argument("--ttft-s", type=float, default=1.0)
    parser.add_argument("--tokens-per-s", type=float, default=20.0)
    parser.add_argument("--answer-tokens", type=int, default=20)
    parser.add_argument(
        "--only", choices=["all", "agent"], default="all", help="agent: the agent's batches alone, no Django"
    )
    parser.add_argument("--rounds", type=int, default=1, help="run the batches this many times in turn")
    args = parser.parse_args()
    profile = LLMProfile(ttft_s=args.ttft_s, tokens_per_s=args.tokens_per_s, answer_tokens=args.answer_tokens)

    with tempfile.TemporaryDirectory(prefix="chatsphere-bench-llm-") as tmp:
        state_dir = Path(tmp)
        logs = state_dir / "logs"
        postgres = start_local_postgres(bindir=postgres_bindir()) if args.only == "all" else None
        servers: list[Any] = []
        try:
            database_url = "" if postgres is None else recreate_database(postgres.url, "chatsphere_bench")
            llm = StandInLLM(profile=profile, log_dir=logs)
            servers.append(llm)
            env = stack_environment(database_url=database_url, state_dir=state_dir) | {
                "LLM_PROVIDER": "openai",
                "LLM_BASE_URL": llm.base_url,
                "LLM_MODEL": "standin",
                "CHAT_THROTTLE_RATE": "1000000/min",  # one user sends every chat: measure latency, not abuse
                "LOG_LEVEL": "WARNING",
            }
            agent = AgentServer(env=env, log_dir=logs)
            servers.append(agent)
            agent.start()
            django_url = None
            if args.only == "all":
                django = DjangoServer(env=env | {"AGENT_SERVICE_URL": agent.url}, log_dir=logs, workers=None)
                servers.append(django)
                django.start()
                django_url = django.url
            print(
                f"==> stand-in LLM, agent (pid {agent.pid}){'' if django_url is None else ' and Django'} "
                f"are up; {args.chats} chats per batch",
                flush=True,
            )
            rounds = asyncio.run(
                _run(
                    chats=args.chats,
                    rounds=args.rounds,
                    agent=agent,
                    django_url=django_url,
                    agent_token=env["AGENT_SERVICE_TOKEN"],
                )
            )
            for number, batches in enumerate(rounds, start=1):
                if args.rounds > 1:
                    print(f"\n--- round {number} of {args.rounds}")
                print(_report(batches, chats=args.chats, profile=profile))
        finally:
            for server in reversed(servers):
                server.stop()
            if postgres is not None:
                postgres.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
