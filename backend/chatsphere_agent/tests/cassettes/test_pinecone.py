from __future__ import annotations

import pytest
from vcr.errors import CannotOverwriteExistingCassetteException

from chatsphere_agent.providers.base import ChunkBatch
from chatsphere_agent.providers.base import RetrievedChunk, VectorStoreProvider
from chatsphere_agent.providers.pinecone_store import PineconeStore
from chatsphere_agent.tests.cassettes import scenario
from chatsphere_agent.tests.cassettes.replay import paths, request_json, response_json
from chatsphere_agent.tests.cassettes.vcr_config import CASSETTE_PINECONE_INDEX

DESCRIBE_PATH = f"/indexes/{CASSETTE_PINECONE_INDEX}"
CHUNK_VECTORS = [scenario.vector(seed, 768) for seed in range(len(scenario.CHUNKS))]
QUESTION_VECTOR = scenario.vector(100, 768)


def _expected_chunks(matches: list[dict[str, object]]) -> list[RetrievedChunk]:
    return [
        RetrievedChunk(
            document_id=str(match["metadata"]["document_id"]),  # type: ignore[index]
            chunk_index=int(match["metadata"]["chunk_index"]),  # type: ignore[index]
            text=str(match["metadata"]["text"]),  # type: ignore[index]
            score=float(match["score"]),  # type: ignore[arg-type]
        )
        for match in matches
    ]


def test_store_upserts_queries_and_deletes_in_the_bots_namespace(settings, use_cassette):
    store = PineconeStore.from_settings(settings)
    assert isinstance(store, VectorStoreProvider)
    assert store.name == f"pinecone:{CASSETTE_PINECONE_INDEX}"

    with use_cassette("pinecone/index_lifecycle.yaml") as cassette:
        dimension = store.index_dimension()
        stored = store.upsert(ChunkBatch(
            bot_id=scenario.BOT_ID,
            document_id=scenario.DOCUMENT_ID,
            chunks=scenario.CHUNKS,
            vectors=CHUNK_VECTORS),
        )
        found = store.query(bot_id=scenario.BOT_ID, vector=QUESTION_VECTOR, top_k=3)
        deleted = store.delete_document(bot_id=scenario.BOT_ID, document_id=scenario.DOCUMENT_ID)
        bot_deleted = store.delete_bot(bot_id=scenario.BOT_ID)

    assert cassette.all_played
    assert paths(cassette).count(DESCRIBE_PATH) == 1, "the index host is resolved once and cached"
    assert dimension == response_json(cassette, 0)["dimension"]
    upserts = [
        request_json(cassette, index)
        for index, path in enumerate(paths(cassette))
        if path == "/vectors/upsert"
    ]
    assert [len(upsert["vectors"]) for upsert in upserts] == [2, 1]
    assert {upsert["namespace"] for upsert in upserts} == {scenario.BOT_ID}
    assert [vector["id"] for upsert in upserts for vector in upsert["vectors"]] == [
        f"{scenario.DOCUMENT_ID}#{index}" for index in range(3)
    ]
    assert stored == 3
    query_index = paths(cassette).index("/query")
    assert request_json(cassette, query_index)["namespace"] == scenario.BOT_ID
    assert found == _expected_chunks(response_json(cassette, query_index)["matches"])
    deletes = [
        request_json(cassette, index)
        for index, path in enumerate(paths(cassette))
        if path == "/vectors/delete"
    ]
    assert deletes == [
        {"ids": [f"{scenario.DOCUMENT_ID}#{index}" for index in range(3)], "namespace": scenario.BOT_ID},
        {"deleteAll": True, "namespace": scenario.BOT_ID},
    ]
    assert (deleted, bot_deleted) == (3, True)


def test_a_shorter_version_sent_in_batches_drops_the_stale_tail_once(settings, use_cassette):
    store = PineconeStore.from_settings(settings)

    with use_cassette("pinecone/batched_reingest.yaml") as cassette:
        first = store.upsert(ChunkBatch(
            bot_id=scenario.BOT_ID,
            document_id=scenario.DOCUMENT_ID,
            chunks=scenario.CHUNKS[:1],
            vectors=CHUNK_VECTORS[:1],
            last_batch=False),
        )
        last = store.upsert(ChunkBatch(
            bot_id=scenario.BOT_ID,
            document_id=scenario.DOCUMENT_ID,
            chunks=scenario.CHUNKS[1:2],
            vectors=CHUNK_VECTORS[1:2],
            first_chunk_index=1),
        )

    assert cassette.all_played
    assert (first, last) == (1, 1)
    assert paths(cassette) == [
        DESCRIBE_PATH,
        "/vectors/upsert",
        "/vectors/upsert",
        "/vectors/list",
        "/vectors/list",
        "/vectors/delete",
    ], "only the last batch lists the document, following every page, then deletes"
    upserted = [request_json(cassette, index)["vectors"] for index in (1, 2)]
    assert [[(v["id"], v["metadata"]["chunk_index"]) for v in vectors] for vectors in upserted] == [
        [(f"{scenario.DOCUMENT_ID}#0", 0)],
        [(f"{scenario.DOCUMENT_ID}#1", 1)],
    ]
    listed = [vector["id"] for index in (3, 4) for vector in response_json(cassette, index)["vectors"]]
    assert f"{scenario.DOCUMENT_ID}#draft" in listed
    assert request_json(cassette, 5) == {
        "ids": [f"{scenario.DOCUMENT_ID}#{index}" for index in [10, *range(2, 10)]],
        "namespace": scenario.BOT_ID,
    }, "every listed id past the new end, in listed order, and none the agent did not write"


def test_query_retries_a_429_with_backoff_and_then_answers(settings, use_cassette):
    store = PineconeStore.from_settings(settings)

    with use_cassette("pinecone/query_429_then_success.yaml") as cassette:
        found = store.query(bot_id=scenario.BOT_ID, vector=QUESTION_VECTOR, top_k=3)

    assert [response["status"]["code"] for response in cassette.responses] == [200, 429, 200]
    assert cassette.play_count == 3
    assert found == _expected_chunks(response_json(cassette, 2)["matches"])


def test_a_query_outside_the_recorded_namespace_does_not_replay(settings, use_cassette):
    store = PineconeStore.from_settings(settings)

    with (
        use_cassette("pinecone/query_429_then_success.yaml") as cassette,
        pytest.raises(CannotOverwriteExistingCassetteException, match="json_body differs"),
    ):
        store.query(bot_id=scenario.OTHER_BOT_ID, vector=QUESTION_VECTOR, top_k=3)

    assert paths(cassette) == [f"/indexes/{CASSETTE_PINECONE_INDEX}", "/query", "/query"]
    assert cassette.play_count == 1, "only describe-index matched; the other namespace's query did not"
