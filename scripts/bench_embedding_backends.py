"""The local model's backends side by side: raw speed on 1,000-character chunks and nDCG@10 on SciFact.

    .venv/bin/python -m scripts.bench_embedding_backends [--chunks 128] [--passes 3]
        [--backends torch,onnx,onnx-int8,onnx-qint8] [--scifact ../shared/eval/scifact] [--other-papers N]
        [--no-quality]

In one process, each LOCAL_EMBEDDING_BACKEND's encoder as the agent builds it (the ONNX files exported
from the shipped weights into var/models/ on the first run): chunks/s encoding synthetic
~1,000-character chunks (the product's CHUNK_SIZE) in calls of 32 and in calls of 4 (the default
LOCAL_EMBEDDING_BATCH_SIZE, what ingestion does), a one-line query's latency, and the vectors' cosine
to the first backend's. The passes over the chunks take turns between the backends and each keeps its best,
so a load that changes during the run (a shared machine) weighs on every backend alike. Then
retrieval quality: every SciFact train query against the abstracts (title + " " + text, as MTEB embeds them),
cosine top 10 by brute force, nDCG@10 over the qrels; no chunking, no BM25, no agent: the model alone.
By default the whole corpus (5,183 abstracts); --other-papers N keeps the judged papers plus N others.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))
sys.path.insert(0, str(REPO_ROOT / "backend"))
sys.path.insert(0, str(REPO_ROOT / "scripts"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

from bench_agent import synthetic_chunk  # noqa: E402

from chatsphere_agent.config import LocalEmbeddingBackend  # noqa: E402
from chatsphere_agent.providers.local_embeddings import (  # noqa: E402
    SentenceEncoder,
    Vectors,
    build_encoder,
    bundled_model_dir,
)
from tests.e2e.scifact import Dataset, load_dataset, ndcg_at_10, slice_of  # noqa: E402
from testsupport.stack import HARNESS_MODEL_CACHE_DIR  # noqa: E402

CHUNK_CHARS = 1000
INGEST_SLICE = 4
QUERY = "What does the railway report say about the repair schedule?"
BACKENDS: tuple[LocalEmbeddingBackend, ...] = ("torch", "onnx", "onnx-int8", "onnx-qint8")


def chunks_per_second(
    encoders: dict[LocalEmbeddingBackend, SentenceEncoder], *, chunks: list[str], size: int, passes: int
) -> dict[LocalEmbeddingBackend, float]:
    """Each encoder's best of `passes` passes over the chunks in calls of `size`, encoders taking turns."""
    best = dict.fromkeys(encoders, float("inf"))
    for _ in range(passes):
        for backend, encoder in encoders.items():
            started = time.perf_counter()
            for start in range(0, len(chunks), size):
                encoder.encode(chunks[start : start + size])
            best[backend] = min(best[backend], time.perf_counter() - started)
    return {backend: len(chunks) / seconds for backend, seconds in best.items()}


def query_ms(encoder: SentenceEncoder) -> float:
    samples = []
    for _ in range(20):
        started = time.perf_counter()
        encoder.encode([QUERY])
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


def encode_all(encoder: SentenceEncoder, texts: list[str], batch: int = 32) -> Vectors:
    return np.concatenate(
        [encoder.encode(texts[start : start + batch]) for start in range(0, len(texts), batch)]
    )


def scifact_ndcg(encoder: SentenceEncoder, dataset: Dataset) -> float:
    paper_ids = list(dataset.corpus)
    papers = encode_all(encoder, [f"{paper.title} {paper.text}" for paper in dataset.corpus.values()])
    query_ids = list(dataset.queries)
    queries = encode_all(encoder, [dataset.queries[query_id] for query_id in query_ids])
    top = np.argsort(-(queries @ papers.T), axis=1)[:, :10]
    scores = [
        ndcg_at_10([paper_ids[index] for index in row], dataset.qrels[query_id])
        for query_id, row in zip(query_ids, top, strict=True)
    ]
    return statistics.fmean(scores)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--chunks", type=int, default=128)
    parser.add_argument("--passes", type=int, default=3, help="passes per backend and call size; best kept")
    parser.add_argument("--backends", type=lambda text: text.split(","), default=list(BACKENDS))
    parser.add_argument("--scifact", type=Path, default=REPO_ROOT.parent / "shared" / "eval" / "scifact")
    parser.add_argument("--other-papers", type=int, default=None)
    parser.add_argument("--no-quality", action="store_true", help="speed only")
    args = parser.parse_args()
    unknown = set(args.backends) - set(BACKENDS)
    if unknown:
        parser.error(f"unknown backends {sorted(unknown)}; choose from {', '.join(BACKENDS)}")

    rng = np.random.default_rng(160)
    chunks = [synthetic_chunk(rng, words=200)[:CHUNK_CHARS] for _ in range(args.chunks)]
    dataset = None
    if not args.no_quality:
        dataset = load_dataset(args.scifact)
        if args.other_papers is not None:
            dataset = slice_of(dataset, queries=len(dataset.queries), other_papers=args.other_papers)
    print(
        f"{len(chunks)} chunks of {CHUNK_CHARS} chars; load average {os.getloadavg()[0]:.1f} at start",
        flush=True,
    )
    if dataset is not None:
        print(f"SciFact train: {len(dataset.corpus)} abstracts, {len(dataset.queries)} queries", flush=True)
    header = (
        f"{'backend':<10} {'load s':>7} {'chunks/s b32':>12} {'chunks/s b4':>11} {'x torch b4':>10} "
        f"{'query ms':>8} {'min cos':>8} {'nDCG@10':>8}"
    )
    print(header, flush=True)
    encoders: dict[LocalEmbeddingBackend, SentenceEncoder] = {}
    load_seconds: dict[LocalEmbeddingBackend, float] = {}
    for backend in args.backends:
        started = time.perf_counter()
        encoders[backend] = build_encoder(
            backend, model_dir=bundled_model_dir(), cache_dir=HARNESS_MODEL_CACHE_DIR
        )
        load_seconds[backend] = time.perf_counter() - started
        encoders[backend].encode(chunks[:8])  # warm-up
    batch_rates = chunks_per_second(encoders, chunks=chunks, size=32, passes=args.passes)
    slice_rates = chunks_per_second(encoders, chunks=chunks, size=INGEST_SLICE, passes=args.passes)
    reference = encode_all(encoders[args.backends[0]], chunks)
    for backend, encoder in encoders.items():
        cosine = float(np.min(np.sum(encode_all(encoder, chunks) * reference, axis=1)))
        ndcg = f"{scifact_ndcg(encoder, dataset):.4f}" if dataset is not None else "-"
        speedup = f"{slice_rates[backend] / slice_rates['torch']:.2f}" if "torch" in slice_rates else "-"
        print(
            f"{backend:<10} {load_seconds[backend]:>7.1f} {batch_rates[backend]:>12.1f} "
            f"{slice_rates[backend]:>11.1f} {speedup:>10} {query_ms(encoder):>8.1f} {cosine:>8.5f} {ndcg:>8}",
            flush=True,
        )
    print(f"load average {os.getloadavg()[0]:.1f} at the end; min cos is against the first backend listed")


if __name__ == "__main__":
    main()
