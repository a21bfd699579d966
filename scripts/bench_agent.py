"""Benchmark the agent's embedded stack and print the numbers for docs/benchmarks.md.

    HF_HUB_OFFLINE=1 ANONYMIZED_TELEMETRY=False .venv/bin/python scripts/bench_agent.py          # full
    HF_HUB_OFFLINE=1 ANONYMIZED_TELEMETRY=False .venv/bin/python scripts/bench_agent.py --quick  # ~1 min

1. Embedding throughput: all-MiniLM-L6-v2 on the CPU over synthetic ~100-word chunks.
2. Retrieval: ChromaStore.query latency and recall@5 against exact (numpy brute-force) cosine search.
   --retrieval-data text (the default): a corpus of distinct generated passages (support-desk facts
   from templates and word lists, seeded) embedded with the product's LocalEmbeddings, queried with
   embedded questions that paraphrase stored passages in other words. The embeddings are cached under
   var/bench/. Sizes above the corpus are filled by interpolating between each real vector and one of
   its nearest real neighbours (see `interpolated_vectors`), which stays on the embeddings' manifold.
   --retrieval-data synthetic: random topic centroids plus isotropic Gaussian noise, normalized; kept
   to compare with earlier figures, not as a stand-in for text.
3. /chat latency over HTTP (in-process TestClient) on the full embedded stack: MiniLM query
   embedding, Chroma search, the extractive answerer.
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from pydantic import SecretStr

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))
sys.path.insert(0, str(REPO_ROOT / "backend"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

from fastapi.testclient import TestClient  # noqa: E402

from chatsphere_agent.config import (  # noqa: E402
    AgentSettings,
)
from chatsphere_agent.main import create_app  # noqa: E402
from chatsphere_agent.providers.base import ChunkBatch  # noqa: E402
from chatsphere_agent.providers.chroma_store import ChromaStore  # noqa: E402
from chatsphere_agent.providers.extractive import ExtractiveAnswerer  # noqa: E402
from chatsphere_agent.providers.factory import Providers  # noqa: E402
from chatsphere_agent.providers.local_embeddings import LocalEmbeddings, bundled_model_dir  # noqa: E402
from chatsphere_agent.providers.sqlite_lexical import SqliteLexicalIndex  # noqa: E402
from testsupport.stack import HARNESS_MODEL_CACHE_DIR  # noqa: E402

DIMENSION = 384
TOP_K = 5
CACHE_DIR = REPO_ROOT / "var" / "bench"
INTERPOLATION_NEIGHBOURS = 10
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


@dataclass(frozen=True)
class Template:
    """A fact as a stored passage and as a question asking for it in other words, over shared slots."""

    passage: str
    question: str


SLOTS: dict[str, list[str]] = {
    "team": [
        "billing",
        "onboarding",
        "security",
        "logistics",
        "support",
        "research",
        "payroll",
        "marketing",
        "legal",
        "warehouse",
        "design",
        "infrastructure",
        "procurement",
        "training",
        "quality",
    ],
    "city": [
        "Lisbon",
        "Oslo",
        "Denver",
        "Nairobi",
        "Osaka",
        "Lyon",
        "Porto",
        "Tallinn",
        "Austin",
        "Leeds",
        "Quito",
        "Perth",
        "Gdansk",
        "Dublin",
        "Seville",
        "Cork",
        "Turin",
        "Bergen",
        "Halifax",
        "Adelaide",
    ],
    "artifact": [
        "budget",
        "roadmap",
        "incident",
        "hiring",
        "vendor",
        "pricing",
        "compliance",
        "capacity",
        "release",
        "security",
        "quarterly",
        "onboarding",
    ],
    "day": ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday"],
    "reason": [
        "the auditors asked for more time",
        "half the team was travelling",
        "the data export was late",
        "a public holiday fell that week",
        "the new manager wanted to attend",
        "the meeting room was being renovated",
        "the figures had to be checked twice",
        "a customer escalation took priority",
    ],
    "plan": ["Free", "Starter", "Team", "Business", "Enterprise", "Education", "Nonprofit"],
    "product": [
        "mobile app",
        "invoice portal",
        "shared calendar",
        "reporting dashboard",
        "file archive",
        "chat widget",
        "payment gateway",
        "analytics export",
        "admin console",
        "public API",
        "email digest",
        "survey builder",
    ],
    "limit": [
        "up to five times a day",
        "for ten users at most",
        "only after two-factor login",
        "without any extra charge",
        "during business hours only",
        "once the trial has ended",
        "from any country except embargoed ones",
        "with a 50 megabyte limit per file",
    ],
    "person": [
        "Amara",
        "Bruno",
        "Chen",
        "Dalia",
        "Emeka",
        "Farah",
        "Goran",
        "Hana",
        "Ivan",
        "Jonas",
        "Keiko",
        "Luis",
        "Mei",
        "Nadia",
        "Omar",
        "Priya",
    ],
    "problem": [
        "logs users out after a minute",
        "shows prices in the wrong currency",
        "drops attachments larger than 2 MB",
        "sends duplicate notifications",
        "freezes while loading the monthly report",
        "rejects valid postcodes",
        "forgets the language setting",
        "times out on slow connections",
    ],
    "version": [f"{major}.{minor}" for major in range(3, 8) for minor in range(6)],
    "task": [
        "export all invoices",
        "reset a forgotten password",
        "invite a new colleague",
        "change the billing address",
        "turn off email alerts",
        "archive an old project",
        "download the audit log",
        "connect a calendar",
    ],
    "menu": ["Settings", "Account", "Workspace", "Billing", "Profile", "Integrations", "Security", "Reports"],
    "item": [
        "annual subscriptions",
        "gift cards",
        "hardware keys",
        "extra storage",
        "training seats",
        "premium support",
        "printed manuals",
        "event tickets",
    ],
    "channel": ["the web shop", "a reseller", "the mobile store", "a sales invoice", "the phone line"],
    "days": [str(count) for count in (2, 3, 5, 7, 10, 14, 21, 30)],
}
TEMPLATES = [
    Template(
        "The {team} team in {city} moved the {artifact} review to {day} because {reason}.",
        "Why is the {artifact} review of the {city} {team} group now held on {day}?",
    ),
    Template(
        "Customers on the {plan} plan can use the {product} {limit}.",
        "What restrictions apply to the {product} for {plan} plan customers?",
    ),
    Template(
        "{person} from {team} reported that the {product} {problem} since version {version}.",
        "Which bug in the {product} did {person} of the {team} department report after {version}?",
    ),
    Template(
        "To {task} in the {product}, open {menu}, pick the {team} section and confirm the change.",
        "How do I {task} from the {menu} page of the {product}?",
    ),
    Template(
        "Refunds for {item} bought through {channel} are paid back within {days} working days in {city}.",
        "How long does a refund take in {city} for {item} purchased via {channel}?",
    ),
    Template(
        "In {city}, {person} runs the {artifact} check for the {product} every {day} for the {plan} tier.",
        "Who does the weekly {artifact} check of the {product} for {plan} customers in {city}?",
    ),
]


def corpus_texts(count: int, questions: int, seed: int = 13) -> tuple[list[str], list[str]]:
    """`count` distinct passages, and `questions` questions each paraphrasing a random one of them."""
    rng = np.random.default_rng(seed)
    seen: set[str] = set()
    passages: list[str] = []
    slot_values: list[tuple[Template, dict[str, str]]] = []
    for attempt in itertools.count():
        if len(passages) == count:
            break
        if attempt > 20 * count:
            raise RuntimeError(f"the templates cannot make {count} distinct passages")
        template = TEMPLATES[rng.integers(len(TEMPLATES))]
        values = {slot: words[rng.integers(len(words))] for slot, words in SLOTS.items()}
        passage = template.passage.format(**values)
        if passage not in seen:
            seen.add(passage)
            passages.append(passage)
            slot_values.append((template, values))
    asked = rng.choice(count, size=questions, replace=False)
    asked_questions = [slot_values[index][0].question.format(**slot_values[index][1]) for index in asked]
    return passages, asked_questions


def embedded_corpus(
    embeddings: LocalEmbeddings, count: int, questions: int
) -> tuple[NDArray[np.float32], NDArray[np.float32]]:
    """The corpus and question embeddings, from the cache under var/bench/ when the texts are unchanged."""
    passages, asked = corpus_texts(count, questions)
    digest = hashlib.sha256("\n".join([embeddings.name, *passages, *asked]).encode()).hexdigest()[:16]
    cache = CACHE_DIR / f"corpus-{count}-{questions}-{digest}.npz"
    if cache.exists():
        with np.load(cache) as stored:
            return stored["passages"], stored["questions"]
    started = time.perf_counter()
    passage_vectors = np.asarray(embeddings.embed_documents(passages), dtype=np.float32)
    question_vectors = np.asarray(embeddings.embed_documents(asked), dtype=np.float32)
    elapsed = time.perf_counter() - started
    print(
        f"corpus: embedded {count} passages + {questions} questions in {elapsed:.0f} s "
        f"({(count + questions) / elapsed:.0f} texts/s), cached in {cache.relative_to(REPO_ROOT)}"
    )
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    np.savez(cache, passages=passage_vectors, questions=question_vectors)
    return passage_vectors, question_vectors


def interpolated_vectors(
    real: NDArray[np.float32], size: int, rng: np.random.Generator
) -> NDArray[np.float32]:
    """`real` followed by points between real vectors and their near neighbours, `size` rows in all.

    Each added vector is normalize(a + t * (b - a)), b one of a's INTERPOLATION_NEIGHBOURS nearest real
    vectors and t uniform in [0.2, 0.8] (the SMOTE recipe). It lies between two passages the model
    placed close together, so the set keeps the real embeddings' few dominant directions and their
    uneven density; isotropic noise would instead spread points over all 384 dimensions, where
    distances concentrate and nearest neighbours become near-ties. The 0.2 floor keeps every added
    vector clear of a copy of a real one.
    """
    if size <= len(real):
        return real[:size]
    neighbours = np.empty((len(real), INTERPOLATION_NEIGHBOURS), dtype=np.int64)
    for start in range(0, len(real), 1000):
        similarities = real[start : start + 1000] @ real.T
        for offset in range(len(similarities)):
            similarities[offset, start + offset] = -np.inf
        neighbours[start : start + 1000] = np.argpartition(-similarities, INTERPOLATION_NEIGHBOURS, axis=1)[
            :, :INTERPOLATION_NEIGHBOURS
        ]
    extra = size - len(real)
    anchors = rng.integers(0, len(real), size=extra)
    partners = neighbours[anchors, rng.integers(0, INTERPOLATION_NEIGHBOURS, size=extra)]
    steps = rng.uniform(0.2, 0.8, size=(extra, 1)).astype(np.float32)
    added = real[anchors] + steps * (real[partners] - real[anchors])
    added /= np.linalg.norm(added, axis=1, keepdims=True)
    return np.concatenate([real, added]).astype(np.float32)


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


def synthetic_retrieval_set(size: int, queries: int) -> tuple[NDArray[np.float32], NDArray[np.float32]]:
    """Clustered isotropic vectors, queried with noisy copies of stored ones (the original set).

    The query noise (norm about 5.9 added to a unit vector) swamps the stored vector: a query's cosine
    to its source is about 0.2, so each query is a near-random direction whose neighbours are near-ties.
    Kept as it was so its figures stay comparable with the earlier ones in docs/benchmarks.md.
    """
    rng = np.random.default_rng(size)
    vectors = clustered_vectors(rng, size, clusters=max(8, size // 500))
    picks = rng.integers(0, size, size=queries)
    query_vectors = vectors[picks] + 0.3 * rng.standard_normal((queries, DIMENSION)).astype(np.float32)
    query_vectors /= np.linalg.norm(query_vectors, axis=1, keepdims=True)
    return vectors, query_vectors


def bench_retrieval(
    vectors: NDArray[np.float32], query_vectors: NDArray[np.float32], data_dir: Path, label: str
) -> None:
    size = len(vectors)
    store = ChromaStore(path=data_dir / f"retrieval-{size}")
    bot_id = str(uuid.uuid4())
    started = time.perf_counter()
    for start in range(0, size, CHUNKS_PER_DOCUMENT):
        block = vectors[start : start + CHUNKS_PER_DOCUMENT]
        store.upsert(
            ChunkBatch(
                bot_id=bot_id,
                document_id=f"doc-{start // CHUNKS_PER_DOCUMENT}",
                chunks=[f"chunk {start + offset}" for offset in range(len(block))],
                vectors=block.tolist(),
            ),
        )
    insert_seconds = time.perf_counter() - started

    latencies, recalls = [], []
    for query in query_vectors:
        exact = set(np.argsort(-(vectors @ query))[:TOP_K].tolist())
        started = time.perf_counter()
        found = store.query(bot_id=bot_id, vector=query.tolist(), top_k=TOP_K)
        latencies.append((time.perf_counter() - started) * 1000)
        found_ids = {int(chunk.text.removeprefix("chunk ")) for chunk in found}
        recalls.append(len(found_ids & exact) / TOP_K)
    print(
        f"retrieval ({label}) @ {size:>6} chunks: insert {size / insert_seconds:,.0f} vectors/s, "
        f"query p50 {percentile(latencies, 0.5):.1f} ms, p95 {percentile(latencies, 0.95):.1f} ms, "
        f"recall@{TOP_K} {statistics.mean(recalls):.3f} over {len(query_vectors)} queries"
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
        lexical_index=SqliteLexicalIndex.from_settings(settings),  # the embedded default: hybrid retrieval
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
    parser.add_argument(
        "--retrieval-data",
        choices=["text", "synthetic"],
        default="text",
        help="embedded generated passages (default) or isotropic synthetic vectors",
    )
    parser.add_argument(
        "--corpus",
        type=int,
        default=10_000,
        help="real passages to embed; larger retrieval sizes are filled by interpolation",
    )
    args = parser.parse_args()
    sizes = args.sizes or ([2_000] if args.quick else [10_000, 100_000])
    embed_chunks = args.embed_chunks or (64 if args.quick else 512)
    queries = args.queries or (50 if args.quick else 200)
    chat_requests = args.chat_requests or (20 if args.quick else 100)

    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs visible")
    embeddings = LocalEmbeddings(
        model_dir=bundled_model_dir(),
        slice_size=32,
        short_slice_size=32,
        quiet_slices=1,
        max_query_batch=32,
        cache_dir=HARNESS_MODEL_CACHE_DIR,
    )
    with tempfile.TemporaryDirectory(prefix="bench-agent-") as scratch:
        data_dir = Path(scratch)
        bench_embeddings(embeddings, embed_chunks)
        if args.retrieval_data == "text":
            real, question_vectors = embedded_corpus(embeddings, min(args.corpus, max(sizes)), queries)
            for size in sizes:
                vectors = interpolated_vectors(real, size, np.random.default_rng(size))
                label = "text" if size <= len(real) else f"text, {len(real)} real + interpolated"
                bench_retrieval(vectors, question_vectors, data_dir, label)
        else:
            for size in sizes:
                vectors, query_vectors = synthetic_retrieval_set(size, queries)
                bench_retrieval(vectors, query_vectors, data_dir, "synthetic")
        bench_chat(embeddings, chat_requests, data_dir)


if __name__ == "__main__":
    main()
