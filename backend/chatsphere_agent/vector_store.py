"""Document-side services: embed and store a document's chunks, retrieve a bot's relevant chunks,
delete a document's or a bot's vectors. Every function works through the provider Protocols only."""

from __future__ import annotations

from collections.abc import Sequence

from chatsphere_agent.providers.base import (
    EmbeddingsProvider,
    RetrievedChunk,
    VectorStoreProvider,
    check_vectors,
)


def _embed_in_batches(
    *, embeddings: EmbeddingsProvider, chunks: Sequence[str], batch_size: int
) -> list[list[float]]:
    vectors: list[list[float]] = []
    for start in range(0, len(chunks), batch_size):
        batch = chunks[start : start + batch_size]
        batch_vectors = embeddings.embed_documents(batch)
        check_vectors(
            batch_vectors, expected_count=len(batch), dimension=embeddings.dimension, provider=embeddings.name
        )
        vectors.extend(batch_vectors)
    return vectors


def embed_and_store_chunks(
    *,
    embeddings: EmbeddingsProvider,
    vector_store: VectorStoreProvider,
    bot_id: str,
    document_id: str,
    chunks: Sequence[str],
    batch_size: int,
    first_chunk_index: int = 0,
    last_batch: bool = True,
) -> int:
    """Embed every chunk, then store them in one store call; returns how many were stored.

    Chunk i becomes the document's chunk `first_chunk_index + i`; a `last_batch` also drops the
    document's chunks past these (see VectorStoreProvider.upsert). Nothing is written until every chunk
    is embedded, so an embedding failure leaves the document's previous vectors untouched.
    """
    vectors = _embed_in_batches(embeddings=embeddings, chunks=chunks, batch_size=batch_size)
    return vector_store.upsert(
        bot_id=bot_id,
        document_id=document_id,
        chunks=chunks,
        vectors=vectors,
        first_chunk_index=first_chunk_index,
        last_batch=last_batch,
    )


def get_relevant_chunks(
    *,
    embeddings: EmbeddingsProvider,
    vector_store: VectorStoreProvider,
    bot_id: str,
    query: str,
    top_k: int,
    min_score: float,
) -> list[RetrievedChunk]:
    """The bot's chunks closest to the query that clear `min_score`, best first."""
    vector = embeddings.embed_query(query)
    candidates = vector_store.query(bot_id=bot_id, vector=vector, top_k=top_k)
    relevant = [chunk for chunk in candidates if chunk.score >= min_score]
    return sorted(relevant, key=lambda chunk: chunk.score, reverse=True)


def document_delete(*, vector_store: VectorStoreProvider, bot_id: str, document_id: str) -> int:
    return vector_store.delete_document(bot_id=bot_id, document_id=document_id)


def bot_delete(*, vector_store: VectorStoreProvider, bot_id: str) -> bool:
    return vector_store.delete_bot(bot_id=bot_id)
