"""How long a chat's query embedding waits while a document is embedded, for each way of sharing the model.

    .venv/bin/python scripts/bench_embedding_options.py [--chunks 160] [--slices 1,2,4,8]

In one process, on the real all-MiniLM-L6-v2 (the agent's default backend): one thread embeds a document
of ~1,000-character chunks (the product's CHUNK_SIZE) while another sends one-line queries back to back;
printed per option are the query latency p50/p95 during the ingestion and the ingestion's throughput
against the raw model encoding the same chunks in batches of 32 (what ingestion did before). Options:

  lock, batch B   one lock around the model, documents encoded B chunks per call (B=32: the old code)
  queue, slice S  the product's QueryFirstScheduler: queries first, documents S chunks per call
  adaptive        the product's settings: slices of LOCAL_EMBEDDING_BATCH_SIZE chunks, the short batch
                  while queries come (here they always do); its last column is the document alone
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT / "backend"))
sys.path.insert(0, str(REPO_ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from bench_agent import percentile, synthetic_chunk  # noqa: E402

from chatsphere_agent.config import DEFAULT_LOCAL_EMBEDDING_BACKEND, AgentSettings  # noqa: E402
from chatsphere_agent.providers.embedding_scheduler import QueryFirstScheduler  # noqa: E402
from chatsphere_agent.providers.local_embeddings import (  # noqa: E402
    SentenceEncoder,
    build_encoder,
    bundled_model_dir,
)
from testsupport.stack import HARNESS_MODEL_CACHE_DIR  # noqa: E402

OLD_BATCH = 32
CHUNK_CHARS = 1000
QUERY = "What does the railway report say about the repair schedule?"


def document_chunks(count: int) -> list[str]:
    rng = np.random.default_rng(160)
    return [synthetic_chunk(rng, words=200)[:CHUNK_CHARS] for _ in range(count)]


def encoder(model: SentenceEncoder) -> Callable[[list[str]], list[list[float]]]:
    def encode(texts: list[str]) -> list[list[float]]:
        rows: list[list[float]] = model.encode(texts).tolist()
        return rows

    return encode


def raw_seconds(model: SentenceEncoder, chunks: list[str]) -> float:
    started = time.perf_counter()
    for start in range(0, len(chunks), OLD_BATCH):
        model.encode(chunks[start : start + OLD_BATCH])
    return time.perf_counter() - started


def measure(ingest: Callable[[], object], query: Callable[[], object]) -> tuple[list[float], float]:
    """Query latencies (ms) while `ingest` runs in another thread, and how long `ingest` took (s)."""
    done = threading.Event()
    took: list[float] = []

    def run_ingestion() -> None:
        started = time.perf_counter()
        ingest()
        took.append(time.perf_counter() - started)
        done.set()

    thread = threading.Thread(target=run_ingestion)
    thread.start()
    latencies = []
    while not done.is_set():
        started = time.perf_counter()
        query()
        latencies.append((time.perf_counter() - started) * 1000)
    thread.join()
    return latencies, took[0]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--chunks", type=int, default=160)
    parser.add_argument("--slices", type=lambda text: [int(s) for s in text.split(",")], default=[1, 2, 4, 8])
    args = parser.parse_args()
    model = build_encoder(
        DEFAULT_LOCAL_EMBEDDING_BACKEND, model_dir=bundled_model_dir(), cache_dir=HARNESS_MODEL_CACHE_DIR
    )
    encode = encoder(model)
    chunks = document_chunks(args.chunks)
    raw_seconds(model, chunks[:OLD_BATCH])  # warm-up
    raw = min(raw_seconds(model, chunks) for _ in range(2))
    idle = [0.0] * 30
    for index in range(len(idle)):
        started = time.perf_counter()
        encode([QUERY])
        idle[index] = (time.perf_counter() - started) * 1000
    print(
        f"{len(chunks)} chunks of {CHUNK_CHARS} chars; "
        f"raw model, batch {OLD_BATCH}: {len(chunks) / raw:.1f} chunks/s"
    )
    print(f"query alone: p50 {percentile(idle, 0.5):.1f} ms, p95 {percentile(idle, 0.95):.1f} ms")
    print(
        f"{'option':<16} {'query p50 ms':>12} {'query p95 ms':>12} {'queries':>8} {'ingest/raw':>10} "
        f"{'alone/raw':>10}"
    )

    lock = threading.Lock()

    def locked(texts: list[str]) -> list[list[float]]:
        with lock:
            return encode(texts)

    for batch in sorted({OLD_BATCH, *args.slices}, reverse=True):

        def ingest_locked(size: int = batch) -> None:
            for start in range(0, len(chunks), size):
                locked(chunks[start : start + size])

        latencies, seconds = measure(ingest_locked, lambda: locked([QUERY]))
        report(f"lock, batch {batch}", latencies, raw / seconds)
    for size in args.slices:
        scheduler = QueryFirstScheduler(
            encode=encode,
            slice_size=size,
            short_slice_size=size,
            quiet_slices=1,
            max_query_batch=32,
            name="bench",
        )
        latencies, seconds = measure(
            partial(lambda queue: queue.submit_documents(chunks).result(), scheduler),
            partial(lambda queue: queue.submit_query(QUERY).result(), scheduler),
        )
        report(f"queue, slice {size}", latencies, raw / seconds)
    defaults = AgentSettings.model_fields
    adaptive = QueryFirstScheduler(
        encode=encode,
        slice_size=defaults["local_embedding_batch_size"].default,
        short_slice_size=defaults["local_embedding_short_batch_size"].default,
        quiet_slices=defaults["local_embedding_quiet_slices"].default,
        max_query_batch=defaults["local_query_batch_size"].default,
        name="bench",
    )
    latencies, seconds = measure(
        lambda: adaptive.submit_documents(chunks).result(), lambda: adaptive.submit_query(QUERY).result()
    )
    started = time.perf_counter()
    adaptive.submit_documents(chunks).result()
    alone = time.perf_counter() - started
    report("adaptive", latencies, raw / seconds, alone=raw / alone)


def report(option: str, latencies: list[float], ratio: float, *, alone: float | None = None) -> None:
    print(
        f"{option:<16} {percentile(latencies, 0.5):>12.1f} {percentile(latencies, 0.95):>12.1f} "
        f"{len(latencies):>8} {ratio:>10.2f}" + ("" if alone is None else f" {alone:>10.2f}")
    )


if __name__ == "__main__":
    main()
