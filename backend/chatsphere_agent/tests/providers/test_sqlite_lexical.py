"""SqliteLexicalIndex against the LexicalIndexProvider contract, including two processes on one file."""

from __future__ import annotations

import multiprocessing
import uuid
from pathlib import Path

import pytest

from chatsphere_agent.providers.base import ChunkBatch, DocumentChunks, LexicalIndexProvider, ProviderError
from chatsphere_agent.providers.sqlite_lexical import SqliteLexicalIndex


@pytest.fixture
def index(tmp_path: Path) -> SqliteLexicalIndex:
    return SqliteLexicalIndex(path=tmp_path / "lexical")


@pytest.fixture
def bot_id() -> str:
    return str(uuid.uuid4())


def found(index: SqliteLexicalIndex, bot_id: str, text: str) -> list[tuple[str, int, str]]:
    return [(c.document_id, c.chunk_index, c.text) for c in index.query(bot_id=bot_id, text=text, top_k=50)]


def test_conforms_to_the_protocol(index: SqliteLexicalIndex) -> None:
    assert isinstance(index, LexicalIndexProvider)
    assert index.name.startswith("sqlite-fts5:")


def test_bm25_ranks_rarer_words_higher_and_stems(index: SqliteLexicalIndex, bot_id: str) -> None:
    index.upsert(
        ChunkBatch(
            bot_id=bot_id,
            document_id="d",
            chunks=["copies of the licence", "you may charge a price for each copy", "the the the"],
        ),
    )

    results = index.query(bot_id=bot_id, text="Can I charge for copies?", top_k=5)

    assert [r.chunk_index for r in results] == [1, 0]  # "charged"/"copies" stem; "the" matches nothing asked
    assert results[0].score > results[1].score > 0


def test_the_document_name_is_searchable_and_weighted(tmp_path: Path, bot_id: str) -> None:
    index = SqliteLexicalIndex(path=tmp_path / "weighted", title_weight=5.0)
    index.upsert(
        ChunkBatch(
            bot_id=bot_id, document_id="named", chunks=["nothing else"], document_name="Vacation policy"
        )
    )
    index.upsert(
        ChunkBatch(bot_id=bot_id, document_id="body", chunks=["the vacation days are listed in the appendix"])
    )

    assert [r.document_id for r in index.query(bot_id=bot_id, text="vacation", top_k=5)] == ["named", "body"]
    assert found(index, bot_id, "policy") == [("named", 0, "nothing else")]


def test_query_syntax_in_user_text_is_only_words(index: SqliteLexicalIndex, bot_id: str) -> None:
    index.upsert(ChunkBatch(bot_id=bot_id, document_id="d", chunks=["near the body of water"]))

    assert found(index, bot_id, 'body: NEAR("water" AND) *"') == [("d", 0, "near the body of water")]
    assert found(index, bot_id, "?!") == []


def test_reupsert_replaces_and_last_batch_prunes(index: SqliteLexicalIndex, bot_id: str) -> None:
    index.upsert(ChunkBatch(bot_id=bot_id, document_id="d", chunks=["alpha one", "alpha two", "alpha three"]))
    index.upsert(ChunkBatch(bot_id=bot_id, document_id="other", chunks=["alpha other"]))

    index.upsert(ChunkBatch(bot_id=bot_id, document_id="d", chunks=["alpha new"]))

    assert sorted(found(index, bot_id, "alpha")) == [("d", 0, "alpha new"), ("other", 0, "alpha other")]


def test_batches_that_are_not_last_keep_the_rest(index: SqliteLexicalIndex, bot_id: str) -> None:
    index.upsert(ChunkBatch(bot_id=bot_id, document_id="d", chunks=["beta 0", "beta 1", "beta 2"]))

    index.upsert(
        ChunkBatch(bot_id=bot_id, document_id="d", chunks=["beta 1b"], first_chunk_index=1, last_batch=False)
    )

    assert sorted(found(index, bot_id, "beta")) == [
        ("d", 0, "beta 0"),
        ("d", 1, "beta 1b"),
        ("d", 2, "beta 2"),
    ]


def test_delete_document_and_bot(index: SqliteLexicalIndex, bot_id: str) -> None:
    other_bot = str(uuid.uuid4())
    index.upsert(ChunkBatch(bot_id=bot_id, document_id="d", chunks=["gamma", "gamma again"]))
    index.upsert(ChunkBatch(bot_id=bot_id, document_id="e", chunks=["gamma e"]))
    index.upsert(ChunkBatch(bot_id=other_bot, document_id="d", chunks=["gamma elsewhere"]))

    assert index.delete_document(bot_id=bot_id, document_id="d") == 2
    assert found(index, bot_id, "gamma") == [("e", 0, "gamma e")]
    assert index.delete_bot(bot_id=bot_id) is True
    assert index.delete_bot(bot_id=bot_id) is False
    assert found(index, bot_id, "gamma") == []
    assert index.delete_document(bot_id=bot_id, document_id="e") == 0
    assert found(index, other_bot, "gamma") == [("d", 0, "gamma elsewhere")]


def test_it_lists_the_bots_it_holds_and_how_much_of_each_document(
    index: SqliteLexicalIndex, bot_id: str
) -> None:
    other_bot = str(uuid.uuid4())
    index.upsert(ChunkBatch(bot_id=bot_id, document_id="d", chunks=["a", "b", "c"]))
    index.upsert(
        ChunkBatch(bot_id=bot_id, document_id="e", chunks=["f"], first_chunk_index=4, last_batch=False)
    )
    index.upsert(ChunkBatch(bot_id=other_bot, document_id="d", chunks=["g"]))
    index.delete_bot(bot_id=other_bot)

    held = sorted(index.document_chunks(bot_id=bot_id), key=lambda document: document.document_id)

    assert held == [
        DocumentChunks(document_id="d", count=3, last_index=2),
        DocumentChunks(document_id="e", count=1, last_index=4),
    ]
    assert index.bot_ids() == [bot_id]
    assert index.document_chunks(bot_id=other_bot) == []


def test_a_bot_id_never_becomes_sql(index: SqliteLexicalIndex) -> None:
    with pytest.raises(ProviderError):
        index.query(bot_id="x; DROP TABLE y", text="a", top_k=1)


def _write_documents(path: str, bot_id: str, worker: int) -> None:
    index = SqliteLexicalIndex(path=Path(path))
    for document in range(20):
        index.upsert(
            ChunkBatch(bot_id=bot_id, document_id=f"w{worker}-{document}", chunks=["shared word", "more"])
        )


def test_two_processes_on_one_file_lose_nothing(tmp_path: Path, bot_id: str) -> None:
    path = tmp_path / "shared"
    SqliteLexicalIndex(path=path)
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_write_documents, args=(str(path), bot_id, n)) for n in range(2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)
        assert worker.exitcode == 0

    fresh = SqliteLexicalIndex(path=path)
    assert len(fresh.query(bot_id=bot_id, text="shared", top_k=100)) == 40


def test_a_write_is_refused_before_it_starts_when_the_disk_is_nearly_full(
    tmp_path: Path, bot_id: str
) -> None:
    index = SqliteLexicalIndex(path=tmp_path / "lexical", min_free_bytes=1 << 62)

    with pytest.raises(ProviderError, match="disk is full"):
        index.upsert(ChunkBatch(bot_id=bot_id, document_id="d", chunks=["alpha"]))

    assert index.document_chunks(bot_id=bot_id) == []
