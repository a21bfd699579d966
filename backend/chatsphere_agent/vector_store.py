"""Document-side services: embed and index a document's chunks, delete a document's or a bot's vectors and
lexical entries (or purge a document's, leaving it writable), and list what both indexes hold (retrieval is in
retrieval.py). Every function works through the provider Protocols only.

Deletion and storing race: Django's worker may stop waiting for a batch (its deadline, a dropped connection)
and sweep the document's vectors while the agent is still embedding that batch, which then lands after the
sweep. So a deletion is recorded (DeletionRegistry) before anything is dropped, and a write looks at the
record after it wrote: either it wrote before the record was made, and the deletion that follows the record
drops what it wrote, or it sees the record and drops it itself. Nothing of a deleted document remains in
either order, with any number of agent processes on one data directory.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from chatsphere_agent.checkpoints import NO_CHECKPOINTS
from chatsphere_agent.providers.base import (
    Checkpoints,
    ChunkBatch,
    DeletionRegistry,
    DocumentChunks,
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


class DocumentDeletedError(Exception):
    """The document, or its bot, was deleted: nothing of this batch is stored."""

    def __init__(self, document_id: str) -> None:
        super().__init__(f"Document {document_id} (or its bot) was deleted; nothing of it is stored.")


def embed_and_store_chunks(
    *,
    embeddings: EmbeddingsProvider,
    vector_store: VectorStoreProvider,
    lexical_index: LexicalIndexProvider | None = None,
    deletions: DeletionRegistry,
    checkpoints: Checkpoints = NO_CHECKPOINTS,
    batch: ChunkBatch,
    batch_size: int,
) -> int:
    """Embed every chunk of `batch`, then store the vectors and index the words; returns how many were stored.

    Each chunk is embedded with the document's name in front of it, and the lexical index holds the name
    beside it; the stored text, the one quoted and cited, is the chunk alone. A last batch also drops the
    document's chunks past these (see ChunkBatch). Nothing is written until every chunk is embedded, so an
    embedding failure leaves the document's previous state untouched; a write that fails midway is repaired
    by sending the document again, which replaces both stores' chunks. A deleted document (or bot) is
    refused (DocumentDeletedError), also when it is deleted while this batch is being written (module doc).
    """
    try:
        if deletions.is_deleted(bot_id=batch.bot_id, document_id=batch.document_id):
            raise DocumentDeletedError(batch.document_id)
        vectors = _embed_in_batches(
            embeddings=embeddings,
            chunks=with_header(batch.chunks, batch.document_name),
            batch_size=batch_size,
        )
        embedded = replace(batch, vectors=vectors)
        checkpoints.reach("vectors", batch)
        stored = vector_store.upsert(embedded)
        checkpoints.reach("lexical", batch)
        if lexical_index is not None:
            lexical_index.upsert(embedded)
        if deletions.is_deleted(bot_id=batch.bot_id, document_id=batch.document_id):
            _drop_document(
                vector_store=vector_store,
                lexical_index=lexical_index,
                bot_id=batch.bot_id,
                document_id=batch.document_id,
            )
            raise DocumentDeletedError(batch.document_id)
        return stored
    finally:
        checkpoints.reach("settled", batch)


def document_delete(
    *,
    vector_store: VectorStoreProvider,
    lexical_index: LexicalIndexProvider | None = None,
    deletions: DeletionRegistry,
    bot_id: str,
    document_id: str,
) -> int:
    """Drops the document's vectors and lexical entries for good; returns how many vectors were dropped."""
    deletions.record_document(bot_id=bot_id, document_id=document_id)
    return _drop_document(
        vector_store=vector_store, lexical_index=lexical_index, bot_id=bot_id, document_id=document_id
    )


def document_purge(
    *,
    vector_store: VectorStoreProvider,
    lexical_index: LexicalIndexProvider | None = None,
    bot_id: str,
    document_id: str,
) -> int:
    """Drops the document's vectors and lexical entries but records no deletion, so the document may be stored
    again: Django purges a document whose ingestion failed (ERROR, which its owner may retry) of the batches
    that landed. Returns how many vectors were dropped."""
    return _drop_document(
        vector_store=vector_store, lexical_index=lexical_index, bot_id=bot_id, document_id=document_id
    )


def bot_delete(
    *,
    vector_store: VectorStoreProvider,
    lexical_index: LexicalIndexProvider | None = None,
    deletions: DeletionRegistry,
    bot_id: str,
) -> bool:
    """Drops the bot's vectors and lexical index for good; True when it had vectors."""
    deletions.record_bot(bot_id=bot_id)
    deleted = vector_store.delete_bot(bot_id=bot_id)
    if lexical_index is not None:
        lexical_index.delete_bot(bot_id=bot_id)
    return deleted


def _drop_document(
    *,
    vector_store: VectorStoreProvider,
    lexical_index: LexicalIndexProvider | None,
    bot_id: str,
    document_id: str,
) -> int:
    deleted = vector_store.delete_document(bot_id=bot_id, document_id=document_id)
    if lexical_index is not None:
        lexical_index.delete_document(bot_id=bot_id, document_id=document_id)
    return deleted


@dataclass(frozen=True, slots=True)
class BotInventory:
    """What each index holds of one bot; `lexical` is None where there is no lexical index (Pinecone)."""

    bot_id: str
    vectors: list[DocumentChunks]
    lexical: list[DocumentChunks] | None


def indexed_bot_ids(
    *, vector_store: VectorStoreProvider, lexical_index: LexicalIndexProvider | None
) -> list[str]:
    """Every bot either index holds something of, sorted."""
    found = set(vector_store.bot_ids())
    if lexical_index is not None:
        found.update(lexical_index.bot_ids())
    return sorted(found)


def bot_inventory(
    *, vector_store: VectorStoreProvider, lexical_index: LexicalIndexProvider | None, bot_id: str
) -> BotInventory:
    return BotInventory(
        bot_id=bot_id,
        vectors=vector_store.document_chunks(bot_id=bot_id),
        lexical=None if lexical_index is None else lexical_index.document_chunks(bot_id=bot_id),
    )
