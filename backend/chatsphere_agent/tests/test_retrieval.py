from __future__ import annotations

import pytest

from chatsphere_agent.providers.base import RetrievedChunk
from chatsphere_agent.retrieval import Fusion, chunks_search, get_relevant_chunks
from chatsphere_agent.tests.fakes import FixedDimensionStore, FixedLexicalIndex, RecordingEmbeddings

FUSION = Fusion(candidates=10, rrf_k=60, dense_weight=1.0, lexical_weight=1.0)


def chunk(index: int, score: float, document_id: str = "doc") -> RetrievedChunk:
    return RetrievedChunk(document_id=document_id, chunk_index=index, text=f"t{index}", score=score)


def test_dense_relevant_chunks_drop_those_under_the_threshold_best_first() -> None:
    store = FixedDimensionStore(dimension=4, results=[chunk(0, 0.31), chunk(1, 0.9), chunk(2, 0.1)])

    relevant = get_relevant_chunks(
        embeddings=RecordingEmbeddings(),
        vector_store=store,
        lexical_index=FixedLexicalIndex(results=[chunk(2, 7.0)]),
        bot_id="bot-7",
        query="q",
        top_k=3,
        min_score=0.3,
        mode="dense",
        fusion=FUSION,
    )

    assert [c.chunk_index for c in relevant] == [1, 0]
    assert store.queries == [("bot-7", 3)]


def test_hybrid_fuses_ranks_and_scales_the_score_to_one() -> None:
    dense = [chunk(0, 0.9), chunk(1, 0.8), chunk(2, 0.7)]
    lexical = FixedLexicalIndex(results=[chunk(2, 9.0), chunk(3, 5.0), chunk(0, 1.0)])

    result = chunks_search(
        embeddings=RecordingEmbeddings(),
        vector_store=FixedDimensionStore(dimension=4, results=dense),
        lexical_index=lexical,
        bot_id="bot",
        query="q",
        top_k=4,
        mode="hybrid",
        fusion=FUSION,
    )

    # doc#0: 1/61 + 1/63; doc#2: 1/63 + 1/61 (a tie, won by the better dense rank); doc#1: 1/62; doc#3: 1/62.
    assert [hit.chunk.chunk_index for hit in result.hits] == [0, 2, 1, 3]
    assert result.hits[0].chunk.score == pytest.approx((1 / 61 + 1 / 63) / (2 / 61))
    assert (result.hits[0].dense_score, result.hits[0].lexical_score) == (0.9, 1.0)
    assert (result.hits[3].dense_score, result.hits[3].lexical_score) == (None, 5.0)
    assert lexical.queries == [("bot", "q", 10)]


def test_weights_tilt_the_fusion() -> None:
    tilted = Fusion(candidates=10, rrf_k=60, dense_weight=1.0, lexical_weight=3.0)

    result = chunks_search(
        embeddings=RecordingEmbeddings(),
        vector_store=FixedDimensionStore(dimension=4, results=[chunk(0, 0.9), chunk(1, 0.8)]),
        lexical_index=FixedLexicalIndex(results=[chunk(1, 9.0)]),
        bot_id="bot",
        query="q",
        top_k=2,
        mode="hybrid",
        fusion=tilted,
    )

    assert [hit.chunk.chunk_index for hit in result.hits] == [1, 0]


def test_lexical_mode_never_embeds_the_query() -> None:
    embeddings = RecordingEmbeddings()
    store = FixedDimensionStore(dimension=4, results=[chunk(0, 0.9)])

    result = chunks_search(
        embeddings=embeddings,
        vector_store=store,
        lexical_index=FixedLexicalIndex(results=[chunk(5, 3.0)]),
        bot_id="bot",
        query="q",
        top_k=5,
        mode="lexical",
        fusion=FUSION,
    )

    assert result.mode == "lexical"
    assert [(hit.chunk.chunk_index, hit.chunk.score) for hit in result.hits] == [(5, 3.0)]
    assert store.queries == []


def test_without_a_lexical_index_every_mode_is_dense() -> None:
    result = chunks_search(
        embeddings=RecordingEmbeddings(),
        vector_store=FixedDimensionStore(dimension=4, results=[chunk(0, 0.9)]),
        lexical_index=None,
        bot_id="bot",
        query="q",
        top_k=5,
        mode="hybrid",
        fusion=FUSION,
    )

    assert result.mode == "dense"
    assert [hit.chunk.score for hit in result.hits] == [0.9]


def test_hybrid_chat_context_is_empty_when_no_chunk_is_close_in_meaning() -> None:
    def relevant(dense_score: float) -> list[RetrievedChunk]:
        return get_relevant_chunks(
            embeddings=RecordingEmbeddings(),
            vector_store=FixedDimensionStore(dimension=4, results=[chunk(0, dense_score)]),
            lexical_index=FixedLexicalIndex(results=[chunk(1, 4.0)]),
            bot_id="bot",
            query="q",
            top_k=4,
            min_score=0.3,
            mode="hybrid",
            fusion=FUSION,
        )

    assert relevant(0.1) == []
    assert [c.chunk_index for c in relevant(0.5)] == [0, 1]


def test_ties_go_to_the_better_dense_rank_not_to_the_smaller_id() -> None:
    result = chunks_search(
        embeddings=RecordingEmbeddings(),
        vector_store=FixedDimensionStore(dimension=4, results=[chunk(5, 0.9, document_id="z")]),
        lexical_index=FixedLexicalIndex(results=[chunk(1, 4.0, document_id="a")]),
        bot_id="bot",
        query="q",
        top_k=2,
        mode="hybrid",
        fusion=FUSION,
    )

    assert [(hit.chunk.document_id, hit.chunk.chunk_index) for hit in result.hits] == [("z", 5), ("a", 1)]
