"""Benchmark the agent's embedded stack and print the numbers for docs/benchmarks.md.

    HF_HUB_OFFLINE=1 ANONYMIZED_TELEMETRY=False .venv/bin/python scripts/bench_agent.py          # full
    HF_HUB_OFFLINE=1 ANONYMIZED_TELEMETRY=False .venv/bin/python scripts/bench_agent.py --quick  # ~1 min

1. Embedding throughput: all-MiniLM-L6-v2 on the CPU over synthetic ~100-word chunks.
2. Retrieval: ChromaStore.query latency and recall@5 against exact (numpy brute-force) cosine search.
   The vectors are synthetic, 384-d and clustered (topic centroids plus per-chunk noise, normalized):
   embedding 100k real chunks would take most of an hour on this CPU, and what retrieval speed and
   recall depend on is the vectors' count, dimension and clustering, which these reproduce.
3. /chat latency over HTTP (in-process TestClient) on the full embedded stack: MiniLM query
   embedding, Chroma search, the extractive answerer.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from pydantic import SecretStr

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT / "backend"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

from fastapi.testclient import TestClient  # noqa: E402

from chatsphere_agent.config import AgentSettings  # noqa: E402
from chatsphere_agent.main import create_app  # noqa: E402
from chatsphere_agent.providers.chroma_store import ChromaStore  # noqa: E402
from chatsphere_agent.providers.extractive import ExtractiveAnswerer  # noqa: E402
from chatsphere_agent.providers.factory import Providers  # noqa: E402
from chatsphere_agent.providers.local_embeddings import LocalEmbeddings, bundled_model_dir  # noqa: E402

DIMENSION = 384
TOP_K = 5
CHUNKS_PER_DOCUMENT = 1000
TOPICS = ["telescope", "bakery", "railway", "orchard", "harbour", "library", "glacier", "foundry"]
VOCABULARY = (
    "the a of and to in is was for on with as by at from that this it its which are were be has have "
    "system mirror bread train apple ship book ice metal light water stone wind season market "
    "station repair schedule engine recipe harvest cargo archive survey furnace lens dough track "
    "branch tide shelf measure build open close north south early late warm cold heavy bright narrow "
    "wide ancient modern"
)
WORDS = VOCABULARY.split()


def percentile(samples: Sequence[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def synthetic_chunk(rng: np.random.Generator, words: int = 100) -> str:
    topic = TOPICS[rng.integers(len(TOPICS))]
    body = " ".join(WORDS[index] for index in rng.integers(len(WORDS), size=words - 10))
    return f"The {topic} report notes that {body}. More about the {topic} follows in the next section."


def bench_embeddings(embeddings: LocalEmbeddings, count: int) -> None:
    rng = np.random.default_rng(7)
    chunks = [synthetic_chunk(rng) for _ in range(count)]
    embeddings.embed_documents(chunks[:8])  # warm-up: first call pays one-off allocation costs
    started = time.perf_counter()
    embeddings.embed_documents(chunks)
    elapsed = time.perf_counter() - started
    print(f"embed: {count} chunks of ~100 words in {elapsed:.1f} s -> {count / elapsed:.1f} chunks/s")


def clustered_vectors(rng: np.random.Generator, count: int, clusters: int) -> NDArray[np.float32]:
    centroids = rng.standard_normal((clusters, DIMENSION)).astype(np.float32)
    labels = rng.integers(0, clusters, size=count)
    vectors = centroids[labels] + 0.6 * rng.standard_normal((count, DIMENSION)).astype(np.float32)
    normalized: NDArray[np.float32] = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    return normalized


def bench_retrieval(size: int, queries: int, data_dir: Path) -> None:
    rng = np.random.default_rng(size)
    vectors = clustered_vectors(rng, size, clusters=max(8, size // 500))
    store = ChromaStore(path=data_dir / f"retrieval-{size}")
    bot_id = str(uuid.uuid4())
    started = time.perf_counter()
    for start in range(0, size, CHUNKS_PER_DOCUMENT):
        block = vectors[start : start + CHUNKS_PER_DOCUMENT]
        store.upsert(
            bot_id=bot_id,
            document_id=f"doc-{start // CHUNKS_PER_DOCUMENT}",
            chunks=[f"chunk {start + offset}" for offset in range(len(block))],
            vectors=block.tolist(),
        )
    insert_seconds = time.perf_counter() - started

    # Queries near stored chunks (a question close to some passage), not copies of them.
    picks = rng.integers(0, size, size=queries)
    query_vectors = vectors[picks] + 0.3 * rng.standard_normal((queries, DIMENSION)).astype(np.float32)
    query_vectors /= np.linalg.norm(query_vectors, axis=1, keepdims=True)
    latencies, recalls = [], []
    for query in query_vectors:
        exact = set(np.argsort(-(vectors @ query))[:TOP_K].tolist())
        started = time.perf_counter()
        found = store.query(bot_id=bot_id, vector=query.tolist(), top_k=TOP_K)
        latencies.append((time.perf_counter() - started) * 1000)
        found_ids = {int(chunk.text.removeprefix("chunk ")) for chunk in found}
        recalls.append(len(found_ids & exact) / TOP_K)
    print(
        f"retrieval @ {size:>6} chunks: insert {size / insert_seconds:,.0f} vectors/s, "
        f"query p50 {percentile(latencies, 0.5):.1f} ms, p95 {percentile(latencies, 0.95):.1f} ms, "
        f"recall@{TOP_K} {statistics.mean(recalls):.3f} over {queries} queries"
    )


def bench_chat(embeddings: LocalEmbeddings, requests: int, data_dir: Path) -> None:
    token = "bench-" + uuid.uuid4().hex
    settings = AgentSettings(
        _env_file=None, agent_service_token=SecretStr(token), agent_data_dir=data_dir / "chat"
    )
    providers = Providers(
        embeddings=embeddings,
        vector_store=ChromaStore.from_settings(settings),
        chat_model=ExtractiveAnswerer(),
    )
    rng = np.random.default_rng(11)
    bot_id = str(uuid.uuid4())
    with TestClient(create_app(providers, settings), headers={"Authorization": f"Bearer {token}"}) as client:
        for _ in range(10):
            chunks = [synthetic_chunk(rng) for _ in range(20)]
            payload = {"bot_id": bot_id, "document_id": str(uuid.uuid4()), "chunks": chunks}
            client.post("/embed_and_store", json=payload).raise_for_status()
        latencies = []
        for index in range(requests):
            question = f"What does the {TOPICS[index % len(TOPICS)]} report say about the schedule?"
            started = time.perf_counter()
            client.post("/chat", json={"bot_id": bot_id, "message": question}).raise_for_status()
            latencies.append((time.perf_counter() - started) * 1000)
    print(
        f"/chat (200 chunks stored, top_k 4): p50 {percentile(latencies, 0.5):.1f} ms, "
        f"p95 {percentile(latencies, 0.95):.1f} ms over {requests} requests"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    parser.add_argument("--sizes", type=lambda text: [int(s) for s in text.split(",")], default=None)
    parser.add_argument("--embed-chunks", type=int, default=None)
    parser.add_argument("--queries", type=int, default=None)
    parser.add_argument("--chat-requests", type=int, default=None)
    args = parser.parse_args()
    sizes = args.sizes or ([2_000] if args.quick else [10_000, 100_000])
    embed_chunks = args.embed_chunks or (64 if args.quick else 512)
    queries = args.queries or (50 if args.quick else 200)
    chat_requests = args.chat_requests or (20 if args.quick else 100)

    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs visible")
    embeddings = LocalEmbeddings(model_dir=bundled_model_dir(), batch_size=32)
    with tempfile.TemporaryDirectory(prefix="bench-agent-") as scratch:
        data_dir = Path(scratch)
        bench_embeddings(embeddings, embed_chunks)
        for size in sizes:
            bench_retrieval(size, queries, data_dir)
        bench_chat(embeddings, chat_requests, data_dir)


if __name__ == "__main__":
    main()
