"""The behaviour every VectorStoreProvider must have, written once (as LangChain's standard tests are).

A store's test module subclasses VectorStoreConformance and supplies the `store` fixture: Chroma live in a
temporary directory (tests/providers/test_chroma_store.py), Pinecone replayed from hand-written cassettes
(tests/cassettes/test_pinecone_conformance.py), and any later store the same way. Ids are fixed, not random,
so a store that talks HTTP sends exactly what its cassettes hold.
"""

from __future__ import annotations

import pytest

from chatsphere_agent.providers.base import ChunkBatch, DocumentChunks, ProviderError, VectorStoreProvider

BOT = "1a7c2b3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"
OTHER_BOT = "5e6f7a8b-9c0d-4e1f-8a2b-3c4d5e6f7a8b"
DOCUMENT = "2b3c4d5e-6f7a-4b8c-9d0e-1f2a3b4c5d6e"
OTHER_DOCUMENT = "6f7a8b9c-0d1e-4f2a-8b3c-4d5e6f7a8b9c"
# Small on purpose: it keeps the Pinecone cassettes readable. A store fixed to another dimension says so
# through index_dimension().
DIMENSION = 8


def axis(position: int, dimension: int) -> list[float]:
    """A unit vector along one axis: cosine similarity 1 with itself, 0 with every other axis."""
    return [1.0 if index == position else 0.0 for index in range(dimension)]


def between(first: int, second: int, dimension: int) -> list[float]:
    """A unit vector at cosine 0.8 to axis `first` and 0.6 to axis `second`."""
    return [0.8 if index == first else 0.6 if index == second else 0.0 for index in range(dimension)]


class VectorStoreConformance:
    @pytest.fixture
    def store(self) -> VectorStoreProvider:
        raise NotImplementedError("a store's conformance class supplies its store")

    @pytest.fixture
    def dimension(self, store: VectorStoreProvider) -> int:
        return store.index_dimension() or DIMENSION

    def test_a_query_returns_the_bots_chunks_best_first_with_their_metadata(
        self, store: VectorStoreProvider, dimension: int
    ) -> None:
        chunks = ["alpha", "beta", "mostly alpha"]
        vectors = [axis(0, dimension), axis(1, dimension), between(0, 1, dimension)]

        stored = store.upsert(ChunkBatch(bot_id=BOT, document_id=DOCUMENT, chunks=chunks, vectors=vectors))
        found = store.query(bot_id=BOT, vector=axis(0, dimension), top_k=3)

        assert stored == 3
        assert [(chunk.document_id, chunk.chunk_index, chunk.text) for chunk in found] == [
            (DOCUMENT, 0, "alpha"),
            (DOCUMENT, 2, "mostly alpha"),
            (DOCUMENT, 1, "beta"),
        ]
        assert [chunk.score for chunk in found] == pytest.approx([1.0, 0.8, 0.0], abs=1e-3)

    def test_storing_a_document_again_replaces_it_and_drops_the_longer_versions_tail(
        self, store: VectorStoreProvider, dimension: int
    ) -> None:
        store.upsert(
            ChunkBatch(
                bot_id=BOT,
                document_id=DOCUMENT,
                chunks=["one", "two", "three"],
                vectors=[axis(0, dimension)] * 3,
            ),
        )

        stored = store.upsert(
            ChunkBatch(bot_id=BOT, document_id=DOCUMENT, chunks=["uno"], vectors=[axis(0, dimension)])
        )
        found = store.query(bot_id=BOT, vector=axis(0, dimension), top_k=5)

        assert stored == 1
        assert [(chunk.chunk_index, chunk.text) for chunk in found] == [(0, "uno")]

    def test_a_query_never_sees_another_bots_chunks(self, store: VectorStoreProvider, dimension: int) -> None:
        store.upsert(
            ChunkBatch(bot_id=BOT, document_id=DOCUMENT, chunks=["mine"], vectors=[axis(0, dimension)])
        )
        store.upsert(
            ChunkBatch(
                bot_id=OTHER_BOT, document_id=OTHER_DOCUMENT, chunks=["theirs"], vectors=[axis(0, dimension)]
            )
        )

        mine = store.query(bot_id=BOT, vector=axis(0, dimension), top_k=5)
        theirs = store.query(bot_id=OTHER_BOT, vector=axis(0, dimension), top_k=5)

        assert [(chunk.document_id, chunk.text) for chunk in mine] == [(DOCUMENT, "mine")]
        assert [(chunk.document_id, chunk.text) for chunk in theirs] == [(OTHER_DOCUMENT, "theirs")]

    def test_deleting_a_document_removes_its_chunks_and_only_its_chunks(
        self, store: VectorStoreProvider, dimension: int
    ) -> None:
        store.upsert(
            ChunkBatch(bot_id=BOT, document_id=DOCUMENT, chunks=["a", "b"], vectors=[axis(0, dimension)] * 2)
        )
        store.upsert(
            ChunkBatch(bot_id=BOT, document_id=OTHER_DOCUMENT, chunks=["c"], vectors=[axis(0, dimension)])
        )

        deleted = store.delete_document(bot_id=BOT, document_id=DOCUMENT)
        found = store.query(bot_id=BOT, vector=axis(0, dimension), top_k=5)
        deleted_again = store.delete_document(bot_id=BOT, document_id=DOCUMENT)

        assert (deleted, deleted_again) == (2, 0)
        assert [(chunk.document_id, chunk.text) for chunk in found] == [(OTHER_DOCUMENT, "c")]

    def test_deleting_a_bot_removes_everything_it_stored_and_says_whether_there_was_anything(
        self, store: VectorStoreProvider, dimension: int
    ) -> None:
        store.upsert(ChunkBatch(bot_id=BOT, document_id=DOCUMENT, chunks=["a"], vectors=[axis(0, dimension)]))
        store.upsert(
            ChunkBatch(
                bot_id=OTHER_BOT, document_id=OTHER_DOCUMENT, chunks=["b"], vectors=[axis(0, dimension)]
            )
        )

        deleted = store.delete_bot(bot_id=BOT)
        found = store.query(bot_id=BOT, vector=axis(0, dimension), top_k=5)
        deleted_again = store.delete_bot(bot_id=BOT)
        others = store.query(bot_id=OTHER_BOT, vector=axis(0, dimension), top_k=5)

        assert (deleted, found, deleted_again) == (True, [], False)
        assert [chunk.text for chunk in others] == ["b"]

    def test_a_vector_of_another_dimension_is_refused_and_changes_nothing(
        self, store: VectorStoreProvider, dimension: int
    ) -> None:
        store.upsert(
            ChunkBatch(bot_id=BOT, document_id=DOCUMENT, chunks=["kept"], vectors=[axis(0, dimension)])
        )

        with pytest.raises(ProviderError) as raised:
            store.upsert(
                ChunkBatch(
                    bot_id=BOT, document_id=DOCUMENT, chunks=["wider"], vectors=[axis(0, dimension + 1)]
                )
            )
        found = store.query(bot_id=BOT, vector=axis(0, dimension), top_k=5)

        assert raised.value.retryable is False
        assert [chunk.text for chunk in found] == ["kept"]

    def test_chunks_and_vectors_that_do_not_pair_up_are_refused_before_anything_is_written(
        self, store: VectorStoreProvider
    ) -> None:
        with pytest.raises(ProviderError) as raised:
            store.upsert(
                ChunkBatch(bot_id=BOT, document_id=DOCUMENT, chunks=["a", "b"], vectors=[axis(0, DIMENSION)])
            )

        assert raised.value.retryable is False

    def test_it_lists_the_bots_it_holds_and_how_much_of_each_document(
        self, store: VectorStoreProvider, dimension: int
    ) -> None:
        store.upsert(
            ChunkBatch(
                bot_id=BOT, document_id=DOCUMENT, chunks=["a", "b", "c"], vectors=[axis(0, dimension)] * 3
            )
        )
        store.upsert(
            ChunkBatch(
                bot_id=BOT,
                document_id=OTHER_DOCUMENT,
                chunks=["d"],
                vectors=[axis(1, dimension)],
                first_chunk_index=4,
                last_batch=False,
            )
        )
        store.upsert(
            ChunkBatch(bot_id=OTHER_BOT, document_id=DOCUMENT, chunks=["e"], vectors=[axis(0, dimension)])
        )
        store.delete_bot(bot_id=OTHER_BOT)

        held = sorted(store.document_chunks(bot_id=BOT), key=lambda document: document.document_id)

        assert held == [
            DocumentChunks(document_id=DOCUMENT, count=3, last_index=2),
            DocumentChunks(document_id=OTHER_DOCUMENT, count=1, last_index=4),
        ]
        assert store.bot_ids() == [BOT]
        assert store.document_chunks(bot_id=OTHER_BOT) == []
