from __future__ import annotations

import pytest

from chatsphere_agent.providers.base import ProviderError, RetrievedChunk
from chatsphere_agent.tests.fakes import FixedDimensionStore, RecordingEmbeddings
from chatsphere_agent.vector_store import embed_and_store_chunks, get_relevant_chunks


def test_embeds_in_batches_of_the_configured_size() -> None:
    embeddings = RecordingEmbeddings()
    chunks = [f"chunk {i}" for i in range(7)]

    stored = embed_and_store_chunks(
        embeddings=embeddings,
        vector_store=FixedDimensionStore(dimension=4),
        bot_id="bot",
        document_id="doc",
        chunks=chunks,
        batch_size=3,
    )

    assert stored == 7
    assert embeddings.batches == [chunks[0:3], chunks[3:6], chunks[6:7]]


def test_hands_the_batch_position_to_the_store() -> None:
    store = FixedDimensionStore(dimension=4)

    stored = embed_and_store_chunks(
        embeddings=RecordingEmbeddings(),
        vector_store=store,
        bot_id="bot",
        document_id="doc",
        chunks=["a", "b"],
        batch_size=10,
        first_chunk_index=256,
        last_batch=False,
    )

    assert stored == 2
    assert store.upserts == [{"chunks": ["a", "b"], "first_chunk_index": 256, "last_batch": False}]


def test_a_provider_returning_the_wrong_vectors_is_a_provider_error() -> None:
    class ShortEmbeddings(RecordingEmbeddings):
        def embed_documents(self, texts: object) -> list[list[float]]:
            return [[1.0, 0.0]]

    with pytest.raises(ProviderError, match="1 vectors for 2 texts, not all of dimension 4"):
        embed_and_store_chunks(
            embeddings=ShortEmbeddings(),
            vector_store=FixedDimensionStore(dimension=4),
            bot_id="bot",
            document_id="doc",
            chunks=["a", "b"],
            batch_size=10,
        )


def test_relevant_chunks_drop_those_under_the_threshold_best_first() -> None:
    def chunk(index: int, score: float) -> RetrievedChunk:
        return RetrievedChunk(document_id="doc", chunk_index=index, text=f"t{index}", score=score)

    store = FixedDimensionStore(dimension=4, results=[chunk(0, 0.31), chunk(1, 0.9), chunk(2, 0.1)])

    relevant = get_relevant_chunks(
        embeddings=RecordingEmbeddings(),
        vector_store=store,
        bot_id="bot-7",
        query="q",
        top_k=3,
        min_score=0.3,
    )

    assert [c.chunk_index for c in relevant] == [1, 0]
    assert store.queries == [("bot-7", 3)]
