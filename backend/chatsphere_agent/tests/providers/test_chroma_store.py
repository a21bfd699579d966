from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from chatsphere_agent.providers.chroma_store import ChromaStore


def unit(*components: float) -> list[float]:
    return list(components)


@pytest.fixture
def store(tmp_path: Path) -> ChromaStore:
    return ChromaStore(path=tmp_path / "chroma")


@pytest.fixture
def bot_id() -> str:
    return str(uuid.uuid4())


def test_query_scores_are_cosine_similarity_best_first(store: ChromaStore, bot_id: str) -> None:
    store.upsert(
        bot_id=bot_id,
        document_id="doc",
        chunks=["x", "y", "xy"],
        vectors=[unit(1, 0, 0), unit(0, 1, 0), unit(0.6, 0.8, 0)],
    )

    results = store.query(bot_id=bot_id, vector=unit(1, 0, 0), top_k=3)

    assert [(r.text, r.chunk_index) for r in results] == [("x", 0), ("xy", 2), ("y", 1)]
    assert [r.score for r in results] == pytest.approx([1.0, 0.6, 0.0], abs=1e-5)
    assert {r.document_id for r in results} == {"doc"}


def test_metadata_carries_bot_document_index_and_text(store: ChromaStore, bot_id: str) -> None:
    store.upsert(bot_id=bot_id, document_id="doc", chunks=["hello"], vectors=[unit(1, 0)])

    record = store._client.get_collection(bot_id).get(ids=["doc#0"], include=["metadatas"])

    assert record["metadatas"] == [
        {"bot_id": bot_id, "document_id": "doc", "chunk_index": 0, "text": "hello"}
    ]


def test_re_upserting_a_shorter_document_removes_the_tail(store: ChromaStore, bot_id: str) -> None:
    store.upsert(bot_id=bot_id, document_id="doc", chunks=["a", "b", "c"], vectors=[unit(1, 0)] * 3)
    store.upsert(bot_id=bot_id, document_id="other", chunks=["z"], vectors=[unit(0, 1)])

    store.upsert(bot_id=bot_id, document_id="doc", chunks=["a2"], vectors=[unit(1, 0)])

    results = store.query(bot_id=bot_id, vector=unit(1, 0), top_k=10)
    assert sorted((r.document_id, r.chunk_index, r.text) for r in results) == [
        ("doc", 0, "a2"),
        ("other", 0, "z"),
    ]


def test_batches_are_stored_at_their_document_wide_indexes(store: ChromaStore, bot_id: str) -> None:
    store.upsert(
        bot_id=bot_id, document_id="doc", chunks=["a", "b"], vectors=[unit(1, 0)] * 2, last_batch=False
    )

    store.upsert(bot_id=bot_id, document_id="doc", chunks=["c"], vectors=[unit(1, 0)], first_chunk_index=2)

    records = store._client.get_collection(bot_id).get(include=["metadatas"])
    assert sorted(records["ids"]) == ["doc#0", "doc#1", "doc#2"]
    assert sorted((m["chunk_index"], m["text"]) for m in records["metadatas"] or []) == [
        (0, "a"),
        (1, "b"),
        (2, "c"),
    ]


def test_only_the_last_batch_drops_a_longer_earlier_version(store: ChromaStore, bot_id: str) -> None:
    store.upsert(bot_id=bot_id, document_id="doc", chunks=list("abcde"), vectors=[unit(1, 0)] * 5)
    store.upsert(bot_id=bot_id, document_id="other", chunks=list("xyz"), vectors=[unit(0, 1)] * 3)

    store.upsert(
        bot_id=bot_id,
        document_id="doc",
        chunks=["A"],
        vectors=[unit(1, 0)],
        first_chunk_index=0,
        last_batch=False,
    )
    midway = store.query(bot_id=bot_id, vector=unit(1, 0), top_k=10)
    store.upsert(bot_id=bot_id, document_id="doc", chunks=["B"], vectors=[unit(1, 0)], first_chunk_index=1)

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

    stored = store.upsert(bot_id=bot_id, document_id="doc", chunks=list("abcde"), vectors=[unit(1, 0)] * 5)
    shorter = store.upsert(bot_id=bot_id, document_id="doc", chunks=["a"], vectors=[unit(1, 0)])

    assert (stored, shorter) == (5, 1)
    assert store.delete_document(bot_id=bot_id, document_id="doc") == 1


def test_bots_are_isolated(store: ChromaStore) -> None:
    first, second = str(uuid.uuid4()), str(uuid.uuid4())
    store.upsert(bot_id=first, document_id="doc-1", chunks=["one"], vectors=[unit(1, 0)])
    store.upsert(bot_id=second, document_id="doc-2", chunks=["two"], vectors=[unit(1, 0)])

    assert [r.document_id for r in store.query(bot_id=first, vector=unit(1, 0), top_k=5)] == ["doc-1"]
    assert store.delete_document(bot_id=first, document_id="doc-2") == 0
    assert store.delete_bot(bot_id=first) is True
    assert [r.document_id for r in store.query(bot_id=second, vector=unit(1, 0), top_k=5)] == ["doc-2"]


def test_unknown_bots_are_empty_not_errors(store: ChromaStore, bot_id: str) -> None:
    assert store.query(bot_id=bot_id, vector=unit(1, 0), top_k=3) == []
    assert store.delete_document(bot_id=bot_id, document_id="doc") == 0
    assert store.delete_bot(bot_id=bot_id) is False


def test_index_dimension_reflects_existing_data_across_restarts(tmp_path: Path, bot_id: str) -> None:
    path = tmp_path / "chroma"
    empty = ChromaStore(path=path)
    assert empty.index_dimension() is None
    empty.upsert(bot_id=bot_id, document_id="doc", chunks=["a"], vectors=[unit(1, 0, 0)])

    assert ChromaStore(path=path).index_dimension() == 3
