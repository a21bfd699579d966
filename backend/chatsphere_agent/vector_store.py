"""Document-side services: embed and index a document's chunks, delete a document's or a bot's vectors and
lexical entries (retrieval is in retrieval.py). Every function works through the provider Protocols only."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from chatsphere_agent.providers.base import (
    ChunkBatch,
    EmbeddingsProvider,
    LexicalIndexProvider,
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


def with_header(chunks: Sequence[str], document_name: str | None) -> list[str]:
    """Contextual chunk headers: a chunk rarely names what it is about; its document's name often does."""
    if not document_name:
        return list(chunks)
    return [f"{document_name}\n\n{chunk}" for chunk in chunks]


def embed_and_store_chunks(
    *,
    embeddings: EmbeddingsProvider,
    vector_store: VectorStoreProvider,
    lexical_index: LexicalIndexProvider | None = None,
    batch: ChunkBatch,
    batch_size: int,
) -> int:
    """Embed every chunk of `batch`, then store the vectors and index the words; returns how many were stored.

    Each chunk is embedded with the document's name in front of it, and the lexical index holds the name
    beside it; the stored text, the one quoted and cited, is the chunk alone. A last batch also drops the
    document's chunks past these (see ChunkBatch). Nothing is written until every chunk is embedded, so an
    embedding failure leaves the document's previous state untouched; a write that fails midway is repaired
    by sending the document again, which replaces both stores' chunks.
    """
    vectors = _embed_in_batches(
        embeddings=embeddings, chunks=with_header(batch.chunks, batch.document_name), batch_size=batch_size
    )
    embedded = replace(batch, vectors=vectors)
    stored = vector_store.upsert(embedded)
    if lexical_index is not None:
        lexical_index.upsert(embedded)
    return stored


def document_delete(
    *,
    vector_store: VectorStoreProvider,
    lexical_index: LexicalIndexProvider | None = None,
    bot_id: str,
    document_id: str,
) -> int:
    """Drops the document's vectors and lexical entries; returns how many vectors were dropped."""
    deleted = vector_store.delete_document(bot_id=bot_id, document_id=document_id)
    if lexical_index is not None:
        lexical_index.delete_document(bot_id=bot_id, document_id=document_id)
    return deleted


def bot_delete(
    *, vector_store: VectorStoreProvider, lexical_index: LexicalIndexProvider | None = None, bot_id: str
) -> bool:
    """Drops the bot's vectors and lexical index; True when it had vectors."""
    deleted = vector_store.delete_bot(bot_id=bot_id)
    if lexical_index is not None:
        lexical_index.delete_bot(bot_id=bot_id)
    return deleted
