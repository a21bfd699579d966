"""The chat path on the product's real servers: every row of issue 13's table from one run, side by side.

    make bench                                                     # SQLite, as `make run` serves it
    .venv/bin/python scripts/bench_stack.py --database postgres    # a throwaway local PostgreSQL

Starts the agent under uvicorn and Django as scripts/serve_django.sh serves it (testsupport/stack's
servers: local MiniLM, Chroma, extractive answers, Celery eager, the chat throttle lifted) in a fresh
temporary directory, then measures:

  1. chat latency, agent direct and through Django, idle and while another user's ~160-chunk document is
     being embedded (the upload request runs the ingestion, Celery being eager);
  2. what the Django hop adds to a sequential chat (p50 difference and ratio);
  3. chats/s at concurrency 8, through Django and straight at the agent;
  4. ingestion (the agent's /embed_and_store of that document) against the raw model encoding the same
     chunks in this process in batches of 32.

The figures are printed, never asserted: they depend on the machine (see docs/benchmarks.md).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))
sys.path.insert(0, str(REPO_ROOT / "backend"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from bench_agent import percentile, synthetic_chunk  # noqa: E402

from tests.e2e.api import ApiUser  # noqa: E402
from testsupport.local_servers import LocalServer, postgres_bindir, start_local_postgres  # noqa: E402
from testsupport.stack import (  # noqa: E402
    HARNESS_MODEL_CACHE_DIR,
    AgentServer,
    DjangoServer,
    stack_environment,
)

CHUNK_CHARS = 990  # one paragraph per chunk under Django's default CHUNK_SIZE (1000)
KNOWLEDGE_CHUNKS = 20
RAW_BATCH = 32
CONCURRENCY = 8
UNTHROTTLED_CHAT_RATE = "1000000/min"
# A loaded machine embeds a document slowly; the bench measures that, so every deadline is the longest
# production allows (under a reverse proxy's 60 s, config/settings.py).
BENCH_AGENT_TIMEOUT_S = "59"
QUESTIONS = [
    f"What does the {topic} report say about the schedule?" for topic in ("railway", "bakery", "harbour")
]


def paragraphs(count: int, seed: int) -> list[str]:
    rng = np.random.default_rng(seed)
    return [synthetic_chunk(rng, words=200)[:CHUNK_CHARS] for _ in range(count)]


@dataclass
class Latencies:
    samples: list[float]

    @property
    def p50(self) -> float:
        return percentile(self.samples, 0.5)

    @property
    def p95(self) -> float:
        return percentile(self.samples, 0.95)

    def __str__(self) -> str:
        return f"p50 {self.p50:,.1f} ms / p95 {self.p95:,.1f} ms (n={len(self.samples)})"


class Chatter:
    """Sends chats one way (agent direct or through Django) with one pooled client per thread."""

    def __init__(
        self, send: Callable[[httpx.Client, str], httpx.Response], client: Callable[[], httpx.Client]
    ):
        self._send = send
        self._new_client = client

    def sequential(self, *, count: int | None = None, until: threading.Event | None = None) -> Latencies:
        samples: list[float] = []
        with self._new_client() as client:
            for index in range(10**9):
                if (count is not None and index >= count) or (until is not None and until.is_set()):
                    break
                samples.append(self._timed(client, QUESTIONS[index % len(QUESTIONS)]))
        return Latencies(samples)

    def _timed(self, client: httpx.Client, question: str) -> float:
        started = time.perf_counter()
        answer = self._send(client, question)
        elapsed = (time.perf_counter() - started) * 1000
        if answer.status_code != httpx.codes.OK:
            raise RuntimeError(f"chat answered {answer.status_code}: {answer.text[:300]}")
        return elapsed


@contextmanager
def database(kind: str, state_dir: Path) -> Iterator[str]:
    if kind == "sqlite":
        # As `make run` has it: config/settings.py picks the SQLite options.
        yield f"sqlite:///{state_dir / 'chatsphere.sqlite3'}"
        return
    server: LocalServer = start_local_postgres(bindir=postgres_bindir())
    try:
        yield server.url
    finally:
        server.stop()


def raw_model_seconds(chunks: list[str]) -> float:
    """The agent's default backend encoding the chunks RAW_BATCH per call, without the agent around it."""
    from chatsphere_agent.config import DEFAULT_LOCAL_EMBEDDING_BACKEND
    from chatsphere_agent.providers.local_embeddings import build_encoder, bundled_model_dir

    encoder = build_encoder(
        DEFAULT_LOCAL_EMBEDDING_BACKEND, model_dir=bundled_model_dir(), cache_dir=HARNESS_MODEL_CACHE_DIR
    )
    encoder.encode(chunks[:RAW_BATCH])  # warm-up
    started = time.perf_counter()
    for start in range(0, len(chunks), RAW_BATCH):
        encoder.encode(chunks[start : start + RAW_BATCH])
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--document-chunks", type=int, default=160)
    parser.add_argument("--sequential", type=int, default=100, help="chats per idle latency series")
    parser.add_argument("--per-thread", type=int, default=25, help="chats per thread at concurrency 8")
    parser.add_argument(
        "--uploads", type=int, default=2, help="documents ingested per 'while embedding' series"
    )
    args = parser.parse_args()

    with ExitStack() as cleanup:
        state_dir = Path(cleanup.enter_context(tempfile.TemporaryDirectory(prefix="bench-stack-")))
        database_url = cleanup.enter_context(database(args.database, state_dir))
        env = stack_environment(database_url=database_url, state_dir=state_dir) | {
            "CHAT_THROTTLE_RATE": UNTHROTTLED_CHAT_RATE,
            "AGENT_FIRST_BYTE_TIMEOUT_SECONDS": BENCH_AGENT_TIMEOUT_S,
            "AGENT_TIMEOUT_SECONDS": BENCH_AGENT_TIMEOUT_S,
            "LOG_LEVEL": "WARNING",
        }
        agent = AgentServer(env=env, log_dir=state_dir / "logs")
        cleanup.callback(agent.stop)
        agent.start()
        django = DjangoServer(
            env=env | {"AGENT_SERVICE_URL": agent.url},
            log_dir=state_dir / "logs",
            workers=None,
        )
        cleanup.callback(django.stop)
        django.start()
        print(f"stack up: agent {agent.url}, Django {django.url} on {args.database}; {os.cpu_count()} CPUs")
        run(args, agent_url=agent.url, django_url=django.url, token=env["AGENT_SERVICE_TOKEN"])


def run(args: argparse.Namespace, *, agent_url: str, django_url: str, token: str) -> None:
    reader, uploader = ApiUser.register(base_url=django_url), ApiUser.register(base_url=django_url)
    for user in (reader, uploader):  # an upload answers once its document is embedded (Celery eager)
        user.client.timeout = httpx.Timeout(float(BENCH_AGENT_TIMEOUT_S), connect=5.0)
    bot_id = reader.create_bot(name="Knowledge")
    reader.upload_ready(
        bot_id=bot_id, name="knowledge.txt", text="\n\n".join(paragraphs(KNOWLEDGE_CHUNKS, 1))
    )
    upload_bot = uploader.create_bot(name="Uploads")
    document = paragraphs(args.document_chunks, 2)
    agent_headers = {"Authorization": f"Bearer {token}"}

    def agent_client() -> httpx.Client:
        return httpx.Client(base_url=agent_url, headers=agent_headers, timeout=120.0)

    def django_client() -> httpx.Client:
        return httpx.Client(base_url=f"{django_url}/api", headers=dict(reader.client.headers), timeout=120.0)

    conversations = iter([reader.start_conversation(bot_id=bot_id) for _ in range(CONCURRENCY + 2)])
    direct = Chatter(
        lambda client, q: client.post("/chat", json={"bot_id": bot_id, "message": q}), agent_client
    )

    def django_chatter() -> Chatter:
        conversation = next(conversations)
        return Chatter(
            lambda client, q: client.post(f"/conversations/{conversation}/chat/", json={"message": q}),
            django_client,
        )

    # Warm both paths (model, Chroma collection, DB connections) before anything is timed.
    direct.sequential(count=10)
    via_django = django_chatter()
    via_django.sequential(count=10)

    idle_direct = direct.sequential(count=args.sequential)
    idle_django = via_django.sequential(count=args.sequential)
    busy_direct, upload_direct = while_uploading(direct, uploader, upload_bot, document, args.uploads)
    busy_django, upload_django = while_uploading(via_django, uploader, upload_bot, document, args.uploads)

    pool_direct = throughput([direct] * CONCURRENCY, per_thread=args.per_thread)
    # Each Django thread in a conversation of its own, as separate users would be.
    pool_django = throughput([django_chatter() for _ in range(CONCURRENCY)], per_thread=args.per_thread)

    with agent_client() as client:
        started = time.perf_counter()
        stored = client.post(
            "/embed_and_store",
            json={"bot_id": str(uuid.uuid4()), "document_id": str(uuid.uuid4()), "chunks": document},
        )
        ingest_s = time.perf_counter() - started
        stored.raise_for_status()
    raw_s = raw_model_seconds(document)

    hop = idle_django.p50 - idle_direct.p50
    print()
    print("| what | figure | aim |")
    print("|---|---|---|")
    print(f"| chat, agent direct, idle | {idle_direct} | |")
    print(
        f"| chat, agent direct, while a {len(document)}-chunk document is embedded | {busy_direct} "
        f"(x{busy_direct.p95 / idle_direct.p95:.1f} idle p95; uploads {upload_direct}) | p95 <= 3x idle |"
    )
    print(f"| chat through Django, idle | {idle_django} | |")
    print(
        f"| chat through Django, while a {len(document)}-chunk document is embedded | {busy_django} "
        f"(x{busy_django.p95 / idle_django.p95:.1f} idle p95; uploads {upload_django}) | p95 <= 3x idle |"
    )
    print(
        f"| what the Django hop adds, sequential | +{hop:.1f} ms at p50 ({idle_django.p50:.1f} vs "
        f"{idle_direct.p50:.1f} ms, x{idle_django.p50 / idle_direct.p50:.2f}) | <= +5 ms |"
    )
    print(
        f"| chats/s at concurrency {CONCURRENCY}, extractive | Django {pool_django:.1f}, agent direct "
        f"{pool_direct:.1f} (x{pool_django / pool_direct:.2f}) | Django >= 0.9x direct |"
    )
    print(
        f"| ingestion vs the raw model on the same {len(document)} chunks | {raw_s / ingest_s:.2f} "
        f"({len(document) / ingest_s:.1f} vs {len(document) / raw_s:.1f} chunks/s) | >= 0.9 |"
    )
    reader.close()
    uploader.close()


def while_uploading(
    chatter: Chatter, uploader: ApiUser, bot_id: str, document: list[str], uploads: int
) -> tuple[Latencies, str]:
    """Chats sent back to back while `uploads` documents are ingested one after another."""
    done = threading.Event()
    took: list[float] = []

    def upload_all() -> None:
        try:
            for number in range(uploads):
                started = time.perf_counter()
                uploader.upload_ready(bot_id=bot_id, name=f"upload-{number}.txt", text="\n\n".join(document))
                took.append(time.perf_counter() - started)
        finally:
            done.set()

    thread = threading.Thread(target=upload_all)
    thread.start()
    latencies = chatter.sequential(until=done)
    thread.join()
    if len(took) != uploads:
        raise RuntimeError("an upload failed; see the Django and agent logs")
    return latencies, f"{statistics.mean(took):.1f} s each"


def throughput(chatters: list[Chatter], *, per_thread: int) -> float:
    """Chats per second with one thread per chatter, each sending `per_thread` chats back to back."""
    started = time.perf_counter()
    with ThreadPoolExecutor(len(chatters)) as pool:
        list(pool.map(lambda chatter: chatter.sequential(count=per_thread), chatters))
    return len(chatters) * per_thread / (time.perf_counter() - started)


if __name__ == "__main__":
    main()
