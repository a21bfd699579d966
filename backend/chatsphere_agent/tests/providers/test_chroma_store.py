"""ChromaStore: the shared vector-store conformance suite, then what only the embedded store does."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from chatsphere_agent.providers.base import ChunkBatch, ProviderError, VectorStoreProvider
from chatsphere_agent.providers.chroma_store import ChromaStore
from chatsphere_agent.tests.providers.vector_store_conformance import VectorStoreConformance


def unit(*components: float) -> list[float]:
    return list(components)


@pytest.fixture
def store(tmp_path: Path) -> ChromaStore:
    return ChromaStore(path=tmp_path / "chroma")


class TestChromaConformance(VectorStoreConformance):
    @pytest.fixture
    def store(self, tmp_path: Path) -> VectorStoreProvider:
        return ChromaStore(path=tmp_path / "chroma")


@pytest.fixture
def bot_id() -> str:
    return str(uuid.uuid4())


def test_metadata_carries_bot_document_index_and_text(store: ChromaStore, bot_id: str) -> None:
    store.upsert(ChunkBatch(bot_id=bot_id, document_id="doc", chunks=["hello"], vectors=[unit(1, 0)]))

    record = store._client.get_collection(bot_id).get(ids=["doc#0"], include=["metadatas"])

    assert record["metadatas"] == [
        {"bot_id": bot_id, "document_id": "doc", "chunk_index": 0, "text": "hello"}
    ]


def test_re_upserting_a_shorter_document_removes_the_tail(store: ChromaStore, bot_id: str) -> None:
    store.upsert(
        ChunkBatch(bot_id=bot_id, document_id="doc", chunks=["a", "b", "c"], vectors=[unit(1, 0)] * 3)
    )
    store.upsert(ChunkBatch(bot_id=bot_id, document_id="other", chunks=["z"], vectors=[unit(0, 1)]))

    store.upsert(ChunkBatch(bot_id=bot_id, document_id="doc", chunks=["a2"], vectors=[unit(1, 0)]))

    results = store.query(bot_id=bot_id, vector=unit(1, 0), top_k=10)
    assert sorted((r.document_id, r.chunk_index, r.text) for r in results) == [
        ("doc", 0, "a2"),
        ("other", 0, "z"),
    ]


def test_batches_are_stored_at_their_document_wide_indexes(store: ChromaStore, bot_id: str) -> None:
    store.upsert(
        ChunkBatch(
            bot_id=bot_id, document_id="doc", chunks=["a", "b"], vectors=[unit(1, 0)] * 2, last_batch=False
        )
    )

    store.upsert(
        ChunkBatch(bot_id=bot_id, document_id="doc", chunks=["c"], vectors=[unit(1, 0)], first_chunk_index=2)
    )

    records = store._client.get_collection(bot_id).get(include=["metadatas"])
    assert sorted(records["ids"]) == ["doc#0", "doc#1", "doc#2"]
    assert sorted((m["chunk_index"], m["text"]) for m in records["metadatas"] or []) == [
        (0, "a"),
        (1, "b"),
        (2, "c"),
    ]


def test_only_the_last_batch_drops_a_longer_earlier_version(store: ChromaStore, bot_id: str) -> None:
    store.upsert(ChunkBatch(bot_id=bot_id, document_id="doc", chunks=list("abcde"), vectors=[unit(1, 0)] * 5))
    store.upsert(ChunkBatch(bot_id=bot_id, document_id="other", chunks=list("xyz"), vectors=[unit(0, 1)] * 3))

    store.upsert(
        ChunkBatch(
            bot_id=bot_id,
            document_id="doc",
            chunks=["A"],
            vectors=[unit(1, 0)],
            first_chunk_index=0,
            last_batch=False,
        ),
    )
    midway = store.query(bot_id=bot_id, vector=unit(1, 0), top_k=10)
    store.upsert(
        ChunkBatch(bot_id=bot_id, document_id="doc", chunks=["B"], vectors=[unit(1, 0)], first_chunk_index=1)
    )

    after = store.query(bot_id=bot_id, vector=unit(1, 0), top_k=10)
    assert sorted(r.text for r in midway if r.document_id == "doc") == ["A", "b", "c", "d", "e"]
    assert sorted((r.document_id, r.chunk_index, r.text) for r in after) == [
        ("doc", 0, "A"),
        ("doc", 1, "B"),
        ("other", 0, "x"),
        ("other", 1, "y"),
        ("other", 2, "z"),
    ]


def test_upserts_larger_than_chromas_batch_limit(store: ChromaStore, bot_id: str) -> None:
    store._max_batch = 2  # exercise the batching path without writing thousands of records

    stored = store.upsert(
        ChunkBatch(bot_id=bot_id, document_id="doc", chunks=list("abcde"), vectors=[unit(1, 0)] * 5)
    )
    shorter = store.upsert(ChunkBatch(bot_id=bot_id, document_id="doc", chunks=["a"], vectors=[unit(1, 0)]))

    assert (stored, shorter) == (5, 1)
    assert store.delete_document(bot_id=bot_id, document_id="doc") == 1


def test_unknown_bots_are_empty_not_errors(store: ChromaStore, bot_id: str) -> None:
    assert store.query(bot_id=bot_id, vector=unit(1, 0), top_k=3) == []
    assert store.delete_document(bot_id=bot_id, document_id="doc") == 0
    assert store.delete_bot(bot_id=bot_id) is False


def test_index_dimension_reflects_existing_data_across_restarts(tmp_path: Path, bot_id: str) -> None:
    path = tmp_path / "chroma"
    empty = ChromaStore(path=path)
    assert empty.index_dimension() is None
    empty.upsert(ChunkBatch(bot_id=bot_id, document_id="doc", chunks=["a"], vectors=[unit(1, 0, 0)]))

    assert ChromaStore(path=path).index_dimension() == 3


def test_index_space_is_recorded_with_the_data_across_restarts(tmp_path: Path, bot_id: str) -> None:
    path = tmp_path / "chroma"
    empty = ChromaStore(path=path, space="all-MiniLM-L6-v2+int8")
    assert empty.index_space() is None
    empty.upsert(ChunkBatch(bot_id=bot_id, document_id="doc", chunks=["a"], vectors=[unit(1, 0, 0)]))

    assert ChromaStore(path=path).index_space() == "all-MiniLM-L6-v2+int8"
    assert ChromaStore(path=tmp_path / "unrecorded", space=None).index_space() is None


def test_a_write_is_refused_before_it_starts_when_the_disk_is_nearly_full(
    tmp_path: Path, bot_id: str
) -> None:
    store = ChromaStore(path=tmp_path / "chroma", min_free_bytes=1 << 62)

    with pytest.raises(ProviderError, match="disk is full") as refused:
        store.upsert(ChunkBatch(bot_id=bot_id, document_id="doc", chunks=["a"], vectors=[[1.0, 0.0]]))

    assert refused.value.retryable is True
    assert store.document_chunks(bot_id=bot_id) == []
