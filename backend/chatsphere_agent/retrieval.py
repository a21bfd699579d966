"""Retrieval: a bot's chunks ranked for a query, dense, lexical (BM25) or both fused.

Hybrid retrieval takes the dense and the lexical ranking, each `candidates` deep, and fuses them by
weighted reciprocal rank fusion: a chunk scores sum(weight / (rrf_k + rank)) over the rankings it is in.
Ranks, not scores, are fused, because cosine similarities and BM25 scores live on unrelated scales. The
fused score is divided by its maximum (first in every ranking), so it lies in (0, 1].
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING

from chatsphere_agent.providers.base import (
    EmbeddingsProvider,
    LexicalIndexProvider,
    RetrievedChunk,
    VectorStoreProvider,
)

if TYPE_CHECKING:
    from chatsphere_agent.config import AgentSettings, RetrievalMode

ChunkKey = tuple[str, int]
# The lexical legs of hybrid searches (chunks_search); a BM25 query is tens of milliseconds of SQLite.
_LEXICAL_LEGS = ThreadPoolExecutor(max_workers=16, thread_name_prefix="lexical-leg")


@dataclass(frozen=True, slots=True)
class Fusion:
    candidates: int
    rrf_k: int
    dense_weight: float
    lexical_weight: float

    @classmethod
    def from_settings(cls, settings: AgentSettings) -> Fusion:
        return cls(
            candidates=settings.retrieval_candidates,
            rrf_k=settings.rrf_k,
            dense_weight=settings.rrf_dense_weight,
            lexical_weight=settings.rrf_lexical_weight,
        )


@dataclass(frozen=True, slots=True)
class RankedChunk:
    chunk: RetrievedChunk  # its score is the score of the mode searched
    dense_score: float | None  # cosine similarity, when the dense ranking holds the chunk
    lexical_score: float | None  # BM25, when the lexical ranking holds the chunk


@dataclass(frozen=True, slots=True)
class SearchResult:
    mode: RetrievalMode  # the mode searched: "dense" whenever the deployment has no lexical index
    hits: list[RankedChunk]


def chunks_search(
    *,
    embeddings: EmbeddingsProvider,
    vector_store: VectorStoreProvider,
    lexical_index: LexicalIndexProvider | None,
    bot_id: str,
    query: str,
    top_k: int,
    mode: RetrievalMode,
    fusion: Fusion,
) -> SearchResult:
    """The bot's `top_k` best chunks for `query`, best first; no language model is involved."""
    if lexical_index is None:
        mode = "dense"
    depth = max(top_k, fusion.candidates) if mode == "hybrid" else top_k
    dense: list[RetrievedChunk] = []
    lexical: list[RetrievedChunk] = []
    lexical_leg: Future[list[RetrievedChunk]] | None = None
    if lexical_index is not None and mode == "hybrid":
        # BM25 on a thread of its own while this one embeds and asks the vector store: a hybrid search takes
        # the longer of the two legs, not their sum (SQLite and the vector store release the GIL).
        lexical_leg = _LEXICAL_LEGS.submit(lexical_index.query, bot_id=bot_id, text=query, top_k=depth)
    if mode != "lexical":
        found = vector_store.query(bot_id=bot_id, vector=embeddings.embed_query(query), top_k=depth)
        dense = sorted(found, key=lambda chunk: chunk.score, reverse=True)
    if lexical_leg is not None:
        lexical = lexical_leg.result()
    elif lexical_index is not None and mode == "lexical":
        lexical = lexical_index.query(bot_id=bot_id, text=query, top_k=depth)
    dense_scores = {_key(chunk): chunk.score for chunk in dense}
    lexical_scores = {_key(chunk): chunk.score for chunk in lexical}
    if mode == "hybrid":
        ranked = _fuse(dense=dense, lexical=lexical, fusion=fusion)
    else:
        ranked = dense if mode == "dense" else lexical
    hits = [
        RankedChunk(
            chunk=chunk,
            dense_score=dense_scores.get(_key(chunk)),
            lexical_score=lexical_scores.get(_key(chunk)),
        )
        for chunk in ranked[:top_k]
    ]
    return SearchResult(mode=mode, hits=hits)


def get_relevant_chunks(
    *,
    embeddings: EmbeddingsProvider,
    vector_store: VectorStoreProvider,
    lexical_index: LexicalIndexProvider | None,
    bot_id: str,
    query: str,
    top_k: int,
    min_score: float,
    mode: RetrievalMode,
    fusion: Fusion,
) -> list[RetrievedChunk]:
    """The chunks a chat turn is answered from, best first; none when the documents do not speak to it.

    `min_score` is a cosine similarity. Dense retrieval keeps the chunks that clear it. Hybrid retrieval
    asks it whether the bot's documents are about the question at all (some chunk clears it by meaning),
    then takes the fused ranking, which may add chunks found by their words. Lexical retrieval has no
    cosine to ask: a shared word is its evidence.
    """
    result = chunks_search(
        embeddings=embeddings,
        vector_store=vector_store,
        lexical_index=lexical_index,
        bot_id=bot_id,
        query=query,
        top_k=top_k,
        mode=mode,
        fusion=fusion,
    )
    if result.mode == "dense":
        return [hit.chunk for hit in result.hits if hit.chunk.score >= min_score]
    if result.mode == "hybrid" and not any((hit.dense_score or 0.0) >= min_score for hit in result.hits):
        return []
    return [hit.chunk for hit in result.hits]


def _key(chunk: RetrievedChunk) -> ChunkKey:
    return (chunk.document_id, chunk.chunk_index)


def _fuse(
    *, dense: Sequence[RetrievedChunk], lexical: Sequence[RetrievedChunk], fusion: Fusion
) -> list[RetrievedChunk]:
    scores: dict[ChunkKey, float] = {}
    chunks: dict[ChunkKey, RetrievedChunk] = {}
    ranks: list[dict[ChunkKey, int]] = []
    for ranking, weight in ((dense, fusion.dense_weight), (lexical, fusion.lexical_weight)):
        ranks.append({})
        for rank, chunk in enumerate(ranking, start=1):
            key = _key(chunk)
            scores[key] = scores.get(key, 0.0) + weight / (fusion.rrf_k + rank)
            chunks.setdefault(key, chunk)
            ranks[-1][key] = rank
    best_possible = (fusion.dense_weight + fusion.lexical_weight) / (fusion.rrf_k + 1) or 1.0
    # Ties are common (mirrored ranks under equal weights). They go to the better dense rank, then the
    # better lexical rank: decided by the content, never by ids, which are random per upload.
    dense_ranks, lexical_ranks = ranks
    unranked = len(dense) + len(lexical) + 1
    order = sorted(
        scores,
        key=lambda key: (-scores[key], dense_ranks.get(key, unranked), lexical_ranks.get(key, unranked)),
    )
    return [_rescored(chunks[key], scores[key] / best_possible) for key in order]


def _rescored(chunk: RetrievedChunk, score: float) -> RetrievedChunk:
    return RetrievedChunk(
        document_id=chunk.document_id, chunk_index=chunk.chunk_index, text=chunk.text, score=score
    )
