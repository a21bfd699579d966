from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from chatsphere_agent.checkpoints import NO_CHECKPOINTS
from chatsphere_agent.providers.base import Checkpoints, ChunkBatch, DocumentChunks, ProviderError
from chatsphere_agent.providers.chroma_store import ChromaStore
from chatsphere_agent.providers.sqlite_lexical import SqliteLexicalIndex
from chatsphere_agent.providers.sqlite_tombstones import MemoryDeletionRegistry, SqliteDeletionRegistry
from chatsphere_agent.tests.fakes import FixedDimensionStore, RecordingEmbeddings
from chatsphere_agent.vector_store import (
    DocumentDeletedError,
    bot_delete,
    document_delete,
    document_purge,
    embed_and_store_chunks,
)


def test_embeds_in_batches_of_the_configured_size() -> None:
    embeddings = RecordingEmbeddings()
    chunks = [f"chunk {i}" for i in range(7)]

    stored = embed_and_store_chunks(
        embeddings=embeddings,
        vector_store=FixedDimensionStore(dimension=4),
        deletions=MemoryDeletionRegistry(),
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
        deletions=MemoryDeletionRegistry(),
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
            deletions=MemoryDeletionRegistry(),
            batch_size=10,
            batch=ChunkBatch(bot_id="bot", document_id="doc", chunks=["a", "b"]),
        )


def test_chunks_are_embedded_under_their_document_name_and_stored_bare() -> None:
    embeddings = RecordingEmbeddings()
    store = FixedDimensionStore(dimension=4)

    embed_and_store_chunks(
        embeddings=embeddings,
        vector_store=store,
        deletions=MemoryDeletionRegistry(),
        batch_size=10,
        batch=ChunkBatch(
            bot_id="bot", document_id="doc", chunks=["Opens at nine."], document_name="Bakery hours"
        ),
    )

    assert embeddings.batches == [["Bakery hours\n\nOpens at nine."]]
    assert store.upserts[0]["chunks"] == ["Opens at nine."]


BOT = "1a7c2b3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"
DOCUMENT = "2b3c4d5e-6f7a-4b8c-9d0e-1f2a3b4c5d6e"
OTHER_DOCUMENT = "6f7a8b9c-0d1e-4f2a-8b3c-4d5e6f7a8b9c"


@dataclass
class Indexes:
    vector_store: ChromaStore
    lexical_index: SqliteLexicalIndex
    deletions: SqliteDeletionRegistry

    def held(self) -> tuple[list[DocumentChunks], list[DocumentChunks]]:
        return self.vector_store.document_chunks(bot_id=BOT), self.lexical_index.document_chunks(bot_id=BOT)

    def store(self, document_id: str, *, checkpoints: Checkpoints = NO_CHECKPOINTS) -> int:
        return embed_and_store_chunks(
            embeddings=RecordingEmbeddings(),
            vector_store=self.vector_store,
            lexical_index=self.lexical_index,
            deletions=self.deletions,
            checkpoints=checkpoints,
            batch_size=10,
            batch=ChunkBatch(bot_id=BOT, document_id=document_id, chunks=["one", "two"], last_batch=False),
        )


@pytest.fixture
def indexes(tmp_path: Path) -> Indexes:
    return Indexes(
        vector_store=ChromaStore(path=tmp_path / "chroma"),
        lexical_index=SqliteLexicalIndex(path=tmp_path / "lexical"),
        deletions=SqliteDeletionRegistry(path=tmp_path / "deletions"),
    )


class DeleteAt:
    """Checkpoints that run a deletion when the write reaches `point`, as a concurrent request would."""

    def __init__(self, point: str, delete: Callable[[], object]) -> None:
        self.point = point
        self.delete = delete
        self.reached: list[str] = []

    def reach(self, point: str, batch: ChunkBatch) -> None:
        self.reached.append(point)
        if point == self.point:
            self.delete()


def _delete_document(indexes: Indexes) -> int:
    return document_delete(
        vector_store=indexes.vector_store,
        lexical_index=indexes.lexical_index,
        deletions=indexes.deletions,
        bot_id=BOT,
        document_id=DOCUMENT,
    )


def _delete_bot(indexes: Indexes) -> bool:
    return bot_delete(
        vector_store=indexes.vector_store,
        lexical_index=indexes.lexical_index,
        deletions=indexes.deletions,
        bot_id=BOT,
    )


@pytest.mark.parametrize("point", ["vectors", "lexical"])
@pytest.mark.parametrize("deleting", [_delete_document, _delete_bot])
def test_a_deletion_while_a_batch_is_written_leaves_nothing_of_it(
    indexes: Indexes, point: str, deleting: Callable[[Indexes], object]
) -> None:
    with pytest.raises(DocumentDeletedError):
        indexes.store(DOCUMENT, checkpoints=DeleteAt(point, lambda: deleting(indexes)))

    assert indexes.held() == ([], [])


def test_a_deleted_documents_batch_is_refused_before_it_is_embedded(indexes: Indexes) -> None:
    _delete_document(indexes)
    checkpoints = DeleteAt("never", lambda: None)

    with pytest.raises(DocumentDeletedError):
        indexes.store(DOCUMENT, checkpoints=checkpoints)

    assert checkpoints.reached == ["settled"]
    assert indexes.held() == ([], [])


def test_a_documents_deletion_spares_its_bots_other_documents(indexes: Indexes) -> None:
    indexes.store(OTHER_DOCUMENT)
    _delete_document(indexes)

    assert indexes.store(OTHER_DOCUMENT) == 2
    whole = [DocumentChunks(document_id=OTHER_DOCUMENT, count=2, last_index=1)]
    assert indexes.held() == (whole, whole)


def test_a_bots_deletion_is_remembered_by_a_registry_opened_later(indexes: Indexes, tmp_path: Path) -> None:
    _delete_bot(indexes)

    reopened = SqliteDeletionRegistry(path=tmp_path / "deletions")

    assert reopened.is_deleted(bot_id=BOT, document_id=OTHER_DOCUMENT)
    assert not reopened.is_deleted(bot_id=OTHER_DOCUMENT, document_id=DOCUMENT)


def test_a_purge_empties_both_indexes_of_the_document_and_leaves_it_writable(indexes: Indexes) -> None:
    indexes.store(DOCUMENT)
    indexes.store(OTHER_DOCUMENT)

    purged = document_purge(
        vector_store=indexes.vector_store,
        lexical_index=indexes.lexical_index,
        bot_id=BOT,
        document_id=DOCUMENT,
    )
    emptied = indexes.held()

    assert purged == 2
    other = [DocumentChunks(document_id=OTHER_DOCUMENT, count=2, last_index=1)]
    assert emptied == (other, other)
    assert not indexes.deletions.is_deleted(bot_id=BOT, document_id=DOCUMENT)
    assert indexes.store(DOCUMENT) == 2  # a retry of the failed document stores it again
