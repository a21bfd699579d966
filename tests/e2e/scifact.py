"""Retrieval evaluation on BEIR SciFact through the product's REST API: load, ingest, search, score.

Each abstract becomes one document of one bot, sent like pasted text (`POST documents/train_text/` with the
paper's title as the document's name), so it goes through the same chunking, embedding and indexing as any
upload, the title in front of every chunk. Every query is asked through `POST bots/{id}/search/`; a paper
counts once, at its best-ranked chunk; relevance is binary (the qrels). Used by `make eval`
(scripts/eval_retrieval.py, the whole train split) and by the e2e suite (a committed slice, with a floor).
"""

from __future__ import annotations

import gzip
import json
import math
import statistics
import time
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx

MODES = ("dense", "lexical", "hybrid")
SEARCH_DEPTH = 100  # the API's largest top_k (MAX_SEARCH_TOP_K)
MAX_NAME_CHARS = 255  # Document.name


@dataclass(frozen=True, slots=True)
class Paper:
    title: str
    text: str


@dataclass(frozen=True, slots=True)
class Dataset:
    corpus: dict[str, Paper]
    queries: dict[str, str]  # only the queries that have judgements
    qrels: dict[str, set[str]]


@dataclass(frozen=True, slots=True)
class ModeResult:
    mode: str
    ndcg_at_10: float
    recall_at_10: float
    recall_at_50: float
    recall_at_100: float
    latencies_ms: list[float]

    @property
    def p50_ms(self) -> float:
        return statistics.median(self.latencies_ms)

    @property
    def p95_ms(self) -> float:
        return statistics.quantiles(self.latencies_ms, n=20, method="inclusive")[18]


def load_dataset(directory: Path, *, max_queries: int | None = None) -> Dataset:
    """BEIR layout: corpus.jsonl.gz, queries.jsonl, qrels/train.tsv (header line, query, paper, score)."""
    with gzip.open(directory / "corpus.jsonl.gz", "rt", encoding="utf-8") as corpus_file:
        corpus = {
            str(row["_id"]): Paper(title=str(row["title"]), text=str(row["text"]))
            for row in map(json.loads, corpus_file)
        }
    qrels: dict[str, set[str]] = {}
    lines = (directory / "qrels" / "train.tsv").read_text(encoding="utf-8").splitlines()[1:]
    for query_id, paper_id, score in (line.split("\t") for line in lines if line.strip()):
        if int(score) > 0 and paper_id in corpus:
            qrels.setdefault(query_id, set()).add(paper_id)
    with (directory / "queries.jsonl").open(encoding="utf-8") as queries_file:
        queries = {
            str(row["_id"]): str(row["text"])
            for row in map(json.loads, queries_file)
            if str(row["_id"]) in qrels
        }
    if max_queries is not None:
        queries = dict(list(queries.items())[:max_queries])
    return Dataset(corpus=corpus, queries=queries, qrels={key: qrels[key] for key in queries})


def slice_of(dataset: Dataset, *, queries: int, other_papers: int) -> Dataset:
    """The first `queries` judged queries over their judged papers plus `other_papers` unjudged ones."""
    kept_queries = dict(list(dataset.queries.items())[:queries])
    judged = set().union(*(dataset.qrels[query_id] for query_id in kept_queries))
    others = [paper_id for paper_id in dataset.corpus if paper_id not in judged][:other_papers]
    return Dataset(
        corpus={
            paper_id: dataset.corpus[paper_id]
            for paper_id in dataset.corpus
            if paper_id in judged or paper_id in others
        },
        queries=kept_queries,
        qrels={query_id: dataset.qrels[query_id] for query_id in kept_queries},
    )


@dataclass(frozen=True, slots=True)
class Ingestion:
    papers: dict[str, str]  # document id: paper id
    chunks: int  # the READY documents' chunk_count, summed


def ingest(client: httpx.Client, *, bot_id: str, corpus: dict[str, Paper], workers: int = 3) -> Ingestion:
    """Every paper as one READY document of the bot, `workers` uploads at a time, as users upload."""

    def send(paper_id: str) -> tuple[str, str, int]:
        paper = corpus[paper_id]
        answer = client.post(
            "/documents/train_text/",
            json={
                "bot": bot_id,
                "name": (paper.title or paper_id)[:MAX_NAME_CHARS],
                "text": paper.text or paper.title,
            },
        )
        answer.raise_for_status()
        document_id = str(answer.json()["id"])
        return document_id, paper_id, _wait_ready(client, document_id)

    pool = ThreadPoolExecutor(max_workers=workers)
    try:
        sent = list(pool.map(send, corpus))
        return Ingestion(
            papers={document_id: paper_id for document_id, paper_id, _ in sent},
            chunks=sum(chunks for _, _, chunks in sent),
        )
    finally:
        # On a failure or Ctrl-C, the papers not yet sent are dropped rather than sent one by one anyway.
        pool.shutdown(cancel_futures=True)


def _wait_ready(client: httpx.Client, document_id: str, timeout_s: float = 600.0) -> int:
    """The document's chunk count once it is READY."""
    deadline = time.monotonic() + timeout_s
    while True:
        document = client.get(f"/documents/{document_id}/").json()
        if document["status"] == "READY":
            return int(document["chunk_count"])
        if document["status"] == "ERROR" or time.monotonic() > deadline:
            raise RuntimeError(f"document {document_id} did not become READY: {document}")
        time.sleep(0.2)


def evaluate(
    client: httpx.Client, *, bot_id: str, dataset: Dataset, papers: dict[str, str], mode: str
) -> ModeResult:
    """Ask every query in `mode`; `papers` maps document ids to paper ids (what `ingest` returned)."""
    ndcgs: list[float] = []
    recalls_10: list[float] = []
    recalls_50: list[float] = []
    recalls_100: list[float] = []
    latencies: list[float] = []
    for query_id, query in dataset.queries.items():
        started = time.perf_counter()
        answer = client.post(
            f"/bots/{bot_id}/search/", json={"query": query, "top_k": SEARCH_DEPTH, "mode": mode}
        )
        latencies.append((time.perf_counter() - started) * 1000)
        answer.raise_for_status()
        body = answer.json()
        if body["mode"] != mode:
            raise RuntimeError(f"asked for {mode}, the API searched {body['mode']}")
        ranked = distinct(papers[hit["document_id"]] for hit in body["results"])
        relevant = dataset.qrels[query_id]
        ndcgs.append(ndcg_at_10(ranked, relevant))
        recalls_10.append(recall_at(ranked, relevant, 10))
        recalls_50.append(recall_at(ranked, relevant, 50))
        recalls_100.append(recall_at(ranked, relevant, 100))
    return ModeResult(
        mode=mode,
        ndcg_at_10=statistics.fmean(ndcgs),
        recall_at_10=statistics.fmean(recalls_10),
        recall_at_50=statistics.fmean(recalls_50),
        recall_at_100=statistics.fmean(recalls_100),
        latencies_ms=latencies,
    )


def distinct(paper_ids: Iterable[str]) -> list[str]:
    """Papers in order of their best-ranked chunk."""
    return list(dict.fromkeys(paper_ids))


def ndcg_at_10(ranked: Sequence[str], relevant: set[str]) -> float:
    gain = sum(1 / math.log2(rank + 2) for rank, paper in enumerate(ranked[:10]) if paper in relevant)
    ideal = sum(1 / math.log2(rank + 2) for rank in range(min(len(relevant), 10)))
    return gain / ideal


def recall_at(ranked: Sequence[str], relevant: set[str], depth: int) -> float:
    return len(relevant & set(ranked[:depth])) / len(relevant)
