from __future__ import annotations

import pytest

from chatsphere_agent.providers.base import ChunkBatch, ProviderError
from chatsphere_agent.tests.fakes import FixedDimensionStore, RecordingEmbeddings
from chatsphere_agent.vector_store import embed_and_store_chunks


def test_embeds_in_batches_of_the_configured_size() -> None:
    embeddings = RecordingEmbeddings()
    chunks = [f"chunk {i}" for i in range(7)]

    stored = embed_and_store_chunks(
        embeddings=embeddings,
        vector_store=FixedDimensionStore(dimension=4),
        batch_size=3,
        batch=ChunkBatch(bot_id="bot", document_id="doc", chunks=chunks),
    )

    assert stored == 7
    assert embeddings.batches == [chunks[0:3], chunks[3:6], chunks[6:7]]


def test_hands_the_batch_position_to_the_store() -> None:
    store = FixedDimensionStore(dimension=4)

    stored = embed_and_store_chunks(
        embeddings=RecordingEmbeddings(),
        vector_store=store,
        batch_size=10,
        batch=ChunkBatch(
            bot_id="bot", document_id="doc", chunks=["a", "b"], first_chunk_index=256, last_batch=False
        ),
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
            batch_size=10,
            batch=ChunkBatch(bot_id="bot", document_id="doc", chunks=["a", "b"]),
        )


def test_chunks_are_embedded_under_their_document_name_and_stored_bare() -> None:
    embeddings = RecordingEmbeddings()
    store = FixedDimensionStore(dimension=4)

    embed_and_store_chunks(
        embeddings=embeddings,
        vector_store=store,
        batch_size=10,
        batch=ChunkBatch(
            bot_id="bot", document_id="doc", chunks=["Opens at nine."], document_name="Bakery hours"
        ),
    )

    assert embeddings.batches == [["Bakery hours\n\nOpens at nine."]]
    assert store.upserts[0]["chunks"] == ["Opens at nine."]
