"""The agent over HTTP, on the embedded stack (MiniLM + Chroma on disk + the extractive answerer)."""

from __future__ import annotations

import uuid
from dataclasses import replace
from typing import Any

import pytest
from fastapi.testclient import TestClient

from chatsphere_agent.config import AgentSettings
from chatsphere_agent.main import create_app
from chatsphere_agent.providers.base import ProviderError
from chatsphere_agent.providers.extractive import NOTHING_FOUND
from chatsphere_agent.providers.factory import Providers
from chatsphere_agent.schemas import MAX_CHUNK_INDEX, MAX_CHUNKS_PER_REQUEST, NOT_BLANK
from chatsphere_agent.tests.conftest import SERVICE_TOKEN, client_for
from chatsphere_agent.tests.factories import chat_payload, embed_payload
from chatsphere_agent.tests.fakes import (
    FailingChatModel,
    FailingEmbeddings,
    FixedDimensionStore,
    RecordingChatModel,
    RecordingEmbeddings,
)

TELESCOPE_DOC = [
    "The Zephyr-9 observatory sits on a ridge in the Atacama desert.",
    "The Zephyr-9 telescope has a primary mirror 4.2 meters wide, polished over three years.",
    "Visitors may tour the observatory on the first Saturday of each month.",
]
BAKERY_DOC = [
    "Marigold Bakery bakes its sourdough with a rye starter called Henrietta.",
    "The bakery opens at 6 am and sells out of croissants by noon most days.",
]


def assert_error_shape(body: dict[str, Any], code: str) -> None:
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "details"}
    assert body["error"]["code"] == code
    assert body["error"]["message"]


def embed(client: TestClient, *, bot_id: str, document_id: str, chunks: list[str]) -> dict[str, Any]:
    response = client.post(
        "/embed_and_store", json={"bot_id": bot_id, "document_id": document_id, "chunks": chunks}
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def ask(client: TestClient, *, bot_id: str, message: str) -> dict[str, Any]:
    response = client.post("/chat", json=chat_payload(bot_id=bot_id, message=message))
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def cited_documents(answer: dict[str, Any]) -> set[str]:
    return {source["document_id"] for source in answer["sources"]}


class TestHealth:
    def test_names_the_embedded_providers(self, client: TestClient, settings: AgentSettings) -> None:
        response = client.get("/health", headers={"Authorization": ""})

        assert response.status_code == 200
        assert response.json() == {
            "status": "ok",
            "providers": {
                "embeddings": "local:all-MiniLM-L6-v2:onnx",  # the default LOCAL_EMBEDDING_BACKEND
                "vector_store": f"chroma:{settings.agent_data_dir / 'chroma'}",
                "llm": "extractive",
                "lexical_index": f"sqlite-fts5:{settings.agent_data_dir / 'lexical' / 'lexical.sqlite3'}",
                "retrieval": "hybrid",
            },
        }

    def test_is_503_before_the_providers_are_built(self, settings: AgentSettings) -> None:
        # Without entering the client's context the lifespan never runs: the app is up, not ready.
        not_started = TestClient(create_app(settings=settings))

        response = not_started.get("/health")

        assert response.status_code == 503
        assert_error_shape(response.json(), "service_not_ready")
        protected = not_started.post(
            "/chat", json=chat_payload(), headers={"Authorization": f"Bearer {SERVICE_TOKEN}"}
        )
        assert protected.status_code == 503
        assert_error_shape(protected.json(), "service_not_ready")


class TestRetrieval:
    def test_each_bot_answers_only_from_its_own_documents(self, client: TestClient) -> None:
        telescope_bot, bakery_bot = str(uuid.uuid4()), str(uuid.uuid4())
        telescope_doc, bakery_doc = str(uuid.uuid4()), str(uuid.uuid4())
        embed(client, bot_id=telescope_bot, document_id=telescope_doc, chunks=TELESCOPE_DOC)
        embed(client, bot_id=bakery_bot, document_id=bakery_doc, chunks=BAKERY_DOC)

        telescope_answer = ask(client, bot_id=telescope_bot, message="How wide is the Zephyr-9 mirror?")
        bakery_answer = ask(client, bot_id=bakery_bot, message="What is the sourdough starter called?")

        assert "4.2 meters" in telescope_answer["response"]
        assert cited_documents(telescope_answer) == {telescope_doc}
        assert telescope_answer["sources"][0]["chunk_index"] == 1
        assert telescope_answer["model"] == "extractive"
        assert "Henrietta" in bakery_answer["response"]
        assert cited_documents(bakery_answer) == {bakery_doc}

    def test_a_bot_never_cites_another_bots_document_on_the_same_topic(self, client: TestClient) -> None:
        early_bot, late_bot = str(uuid.uuid4()), str(uuid.uuid4())
        early_doc, late_doc = str(uuid.uuid4()), str(uuid.uuid4())
        embed(client, bot_id=early_bot, document_id=early_doc, chunks=["The library opens at 7 am daily."])
        embed(client, bot_id=late_bot, document_id=late_doc, chunks=["The library opens at 11 am daily."])

        early = ask(client, bot_id=early_bot, message="When does the library open?")
        late = ask(client, bot_id=late_bot, message="When does the library open?")

        assert cited_documents(early) == {early_doc}
        assert "7 am" in early["response"]
        assert "11 am" not in early["response"]
        assert cited_documents(late) == {late_doc}
        assert "11 am" in late["response"]

    def test_an_unrelated_question_gets_a_plain_no_and_no_sources(self, client: TestClient) -> None:
        bot_id = str(uuid.uuid4())
        embed(client, bot_id=bot_id, document_id=str(uuid.uuid4()), chunks=BAKERY_DOC)

        answer = ask(client, bot_id=bot_id, message="What is the orbital period of Jupiter's moon Io?")

        assert answer["response"] == NOTHING_FOUND
        assert answer["sources"] == []

    def test_sources_are_best_first_and_respect_top_k(self, client: TestClient) -> None:
        bot_id = str(uuid.uuid4())
        embed(client, bot_id=bot_id, document_id=str(uuid.uuid4()), chunks=TELESCOPE_DOC)

        response = client.post(
            "/chat",
            json=chat_payload(bot_id=bot_id, message="Tell me about the Zephyr-9 telescope", top_k=2),
        )

        scores = [source["score"] for source in response.json()["sources"]]
        assert 1 <= len(scores) <= 2
        assert scores == sorted(scores, reverse=True)

    def test_a_bots_relevance_floor_drops_weaker_sources(self, client: TestClient) -> None:
        bot_id = str(uuid.uuid4())
        embed(client, bot_id=bot_id, document_id=str(uuid.uuid4()), chunks=TELESCOPE_DOC)
        question = "Tell me about the Zephyr-9 telescope"

        loose = client.post("/chat", json=chat_payload(bot_id=bot_id, message=question, min_score=0.0)).json()
        best = max(source["score"] for source in loose["sources"])
        strict = client.post(
            "/chat", json=chat_payload(bot_id=bot_id, message=question, min_score=min(best + 0.01, 1.0))
        ).json()

        assert len(loose["sources"]) >= 1
        assert strict["sources"] == []


class TestDocumentLifecycle:
    def test_re_embedding_replaces_instead_of_adding(self, client: TestClient) -> None:
        payload = embed_payload(chunks=TELESCOPE_DOC)

        first = client.post("/embed_and_store", json=payload).json()
        second = client.post("/embed_and_store", json=payload).json()
        deleted = client.delete(
            f"/documents/{payload['document_id']}", params={"bot_id": payload["bot_id"]}
        ).json()

        assert first == {
            "status": "success",
            "document_id": payload["document_id"],
            "stored_vector_count": 3,
            "error_message": None,
        }
        assert second["stored_vector_count"] == 3
        assert deleted == {"document_id": payload["document_id"], "deleted_vector_count": 3}

    def test_a_shorter_re_chunk_leaves_no_stale_vectors(self, client: TestClient) -> None:
        payload = embed_payload(chunks=TELESCOPE_DOC)
        client.post("/embed_and_store", json=payload)

        client.post("/embed_and_store", json={**payload, "chunks": ["Zephyr-9 was decommissioned."]})
        answer = ask(client, bot_id=payload["bot_id"], message="How wide is the Zephyr-9 telescope mirror?")
        deleted = client.delete(
            f"/documents/{payload['document_id']}", params={"bot_id": payload["bot_id"]}
        ).json()

        assert {source["chunk_index"] for source in answer["sources"]} <= {0}
        assert "4.2" not in answer["response"]
        assert deleted["deleted_vector_count"] == 1

    def test_a_deleted_document_is_never_cited_again(self, client: TestClient) -> None:
        bot_id = str(uuid.uuid4())
        kept_doc, deleted_doc = str(uuid.uuid4()), str(uuid.uuid4())
        embed(client, bot_id=bot_id, document_id=kept_doc, chunks=BAKERY_DOC)
        embed(client, bot_id=bot_id, document_id=deleted_doc, chunks=TELESCOPE_DOC)
        before = ask(client, bot_id=bot_id, message="How wide is the Zephyr-9 mirror?")

        response = client.delete(f"/documents/{deleted_doc}", params={"bot_id": bot_id})
        after = ask(client, bot_id=bot_id, message="How wide is the Zephyr-9 mirror?")

        assert deleted_doc in cited_documents(before)
        assert response.json() == {"document_id": deleted_doc, "deleted_vector_count": 3}
        assert deleted_doc not in cited_documents(after)
        assert "4.2" not in after["response"]

    def test_deleting_a_bot_drops_all_its_vectors(self, client: TestClient) -> None:
        payload = embed_payload(chunks=TELESCOPE_DOC)
        client.post("/embed_and_store", json=payload)

        first = client.delete(f"/bots/{payload['bot_id']}")
        second = client.delete(f"/bots/{payload['bot_id']}")
        answer = ask(client, bot_id=payload["bot_id"], message="How wide is the Zephyr-9 mirror?")

        assert first.json() == {"bot_id": payload["bot_id"], "deleted": True}
        assert second.json() == {"bot_id": payload["bot_id"], "deleted": False}
        assert answer["sources"] == []

    def test_deleting_an_unknown_document_reports_zero(self, client: TestClient) -> None:
        document_id = str(uuid.uuid4())

        response = client.delete(f"/documents/{document_id}", params={"bot_id": str(uuid.uuid4())})

        assert response.status_code == 200
        assert response.json() == {"document_id": document_id, "deleted_vector_count": 0}


class TestDeletedStayDeleted:
    @pytest.mark.parametrize("deletion", ["document", "bot"])
    def test_a_batch_of_a_deleted_document_is_a_409_and_stores_nothing(
        self, client: TestClient, deletion: str
    ) -> None:
        payload = embed_payload(chunks=TELESCOPE_DOC)
        client.post("/embed_and_store", json=payload)
        if deletion == "document":
            client.delete(f"/documents/{payload['document_id']}", params={"bot_id": payload["bot_id"]})
        else:
            client.delete(f"/bots/{payload['bot_id']}")

        late = client.post("/embed_and_store", json={**payload, "first_chunk_index": 3, "last_batch": False})
        index = client.get(f"/bots/{payload['bot_id']}/index").json()

        assert late.status_code == 409
        assert_error_shape(late.json(), "document_deleted")
        assert index == {"bot_id": payload["bot_id"], "vectors": [], "lexical": []}

    def test_a_deleted_documents_bot_still_stores_its_other_documents(self, client: TestClient) -> None:
        bot_id, deleted, kept = str(uuid.uuid4()), str(uuid.uuid4()), str(uuid.uuid4())
        embed(client, bot_id=bot_id, document_id=deleted, chunks=TELESCOPE_DOC)
        client.delete(f"/documents/{deleted}", params={"bot_id": bot_id})

        stored = embed(client, bot_id=bot_id, document_id=kept, chunks=BAKERY_DOC)

        assert stored["stored_vector_count"] == len(BAKERY_DOC)


class TestPurge:
    """A failed ingestion's chunks are purged: unlike a deletion, the document may be stored again."""

    def test_a_purged_document_is_in_neither_index_and_a_retry_stores_it(self, client: TestClient) -> None:
        payload = embed_payload(chunks=TELESCOPE_DOC)
        kept = embed_payload(bot_id=payload["bot_id"], chunks=BAKERY_DOC)
        client.post("/embed_and_store", json=payload)
        client.post("/embed_and_store", json=kept)

        purged = client.delete(
            f"/documents/{payload['document_id']}/chunks", params={"bot_id": payload["bot_id"]}
        )
        index = client.get(f"/bots/{payload['bot_id']}/index").json()
        retried = client.post("/embed_and_store", json=payload)
        answer = ask(client, bot_id=payload["bot_id"], message="How wide is the Zephyr-9 mirror?")

        assert purged.json() == {"document_id": payload["document_id"], "deleted_vector_count": 3}
        held = [{"document_id": kept["document_id"], "chunk_count": 2, "last_chunk_index": 1}]
        assert index == {"bot_id": payload["bot_id"], "vectors": held, "lexical": held}
        assert retried.status_code == 200, retried.text
        assert payload["document_id"] in cited_documents(answer)

    def test_purging_an_unknown_document_reports_zero(self, client: TestClient) -> None:
        document_id = str(uuid.uuid4())

        response = client.delete(f"/documents/{document_id}/chunks", params={"bot_id": str(uuid.uuid4())})

        assert response.status_code == 200
        assert response.json() == {"document_id": document_id, "deleted_vector_count": 0}


class TestIndexInventory:
    def test_lists_the_bots_held_and_each_documents_chunks_in_both_indexes(self, client: TestClient) -> None:
        bot_id, other_bot = str(uuid.uuid4()), str(uuid.uuid4())
        telescope, bakery = sorted([str(uuid.uuid4()), str(uuid.uuid4())])
        embed(client, bot_id=bot_id, document_id=telescope, chunks=TELESCOPE_DOC)
        embed(client, bot_id=bot_id, document_id=bakery, chunks=BAKERY_DOC[:2])
        embed(client, bot_id=other_bot, document_id=telescope, chunks=TELESCOPE_DOC)

        bots = client.get("/index/bots").json()
        index = client.get(f"/bots/{bot_id}/index").json()

        assert bots == {"bot_ids": sorted([bot_id, other_bot])}
        held = [
            {"document_id": telescope, "chunk_count": len(TELESCOPE_DOC), "last_chunk_index": 2},
            {"document_id": bakery, "chunk_count": 2, "last_chunk_index": 1},
        ]
        assert index == {"bot_id": bot_id, "vectors": held, "lexical": held}

    def test_an_unknown_bot_holds_nothing(self, client: TestClient) -> None:
        bot_id = str(uuid.uuid4())

        assert client.get(f"/bots/{bot_id}/index").json() == {"bot_id": bot_id, "vectors": [], "lexical": []}


class TestBatchedIngestion:
    """A document longer than one request allows arrives as consecutive batches."""

    def test_a_document_sent_in_three_batches_is_stored_whole(self, client: TestClient) -> None:
        bot_id, document_id = str(uuid.uuid4()), str(uuid.uuid4())

        counts = [
            client.post(
                "/embed_and_store",
                json={
                    "bot_id": bot_id,
                    "document_id": document_id,
                    "chunks": [chunk],
                    "first_chunk_index": index,
                    "last_batch": index == len(TELESCOPE_DOC) - 1,
                },
            ).json()["stored_vector_count"]
            for index, chunk in enumerate(TELESCOPE_DOC)
        ]
        mirror = ask(client, bot_id=bot_id, message="How wide is the Zephyr-9 mirror?")
        tours = ask(client, bot_id=bot_id, message="When may visitors tour the observatory?")
        deleted = client.delete(f"/documents/{document_id}", params={"bot_id": bot_id}).json()

        assert counts == [1, 1, 1]
        assert "4.2 meters" in mirror["response"]
        assert (mirror["sources"][0]["document_id"], mirror["sources"][0]["chunk_index"]) == (document_id, 1)
        assert "first Saturday" in tours["response"]
        assert (tours["sources"][0]["document_id"], tours["sources"][0]["chunk_index"]) == (document_id, 2)
        assert deleted["deleted_vector_count"] == 3

    def test_a_shorter_version_sent_in_batches_leaves_no_stale_vectors(self, client: TestClient) -> None:
        payload = embed_payload(chunks=[*BAKERY_DOC, *TELESCOPE_DOC])
        client.post("/embed_and_store", json=payload)
        question = "How wide is the Zephyr-9 telescope mirror?"

        first = client.post(
            "/embed_and_store", json={**payload, "chunks": BAKERY_DOC[:1], "last_batch": False}
        ).json()
        midway = ask(client, bot_id=payload["bot_id"], message=question)
        last = client.post(
            "/embed_and_store", json={**payload, "chunks": BAKERY_DOC[1:], "first_chunk_index": 1}
        ).json()
        after = ask(client, bot_id=payload["bot_id"], message=question)
        deleted = client.delete(
            f"/documents/{payload['document_id']}", params={"bot_id": payload["bot_id"]}
        ).json()

        assert (first["stored_vector_count"], last["stored_vector_count"]) == (1, 1)
        assert "4.2 meters" in midway["response"], "a batch that is not the last leaves the rest alone"
        assert after["sources"] == []
        assert deleted["deleted_vector_count"] == len(BAKERY_DOC)


class TestAuthentication:
    @pytest.mark.parametrize(
        "authorization",
        [None, "", "Bearer wrong-token-0123456789", f"Basic {SERVICE_TOKEN}", f"Bearer {SERVICE_TOKEN}x"],
    )
    @pytest.mark.parametrize(
        ("method", "path", "payload"),
        [
            ("POST", "/embed_and_store", embed_payload()),
            ("POST", "/chat", chat_payload()),
            ("DELETE", f"/documents/{uuid.uuid4()}?bot_id={uuid.uuid4()}", None),
            ("DELETE", f"/documents/{uuid.uuid4()}/chunks?bot_id={uuid.uuid4()}", None),
            ("DELETE", f"/bots/{uuid.uuid4()}", None),
            ("GET", "/index/bots", None),
            ("GET", f"/bots/{uuid.uuid4()}/index", None),
        ],
    )
    def test_every_protected_route_rejects_a_missing_or_wrong_token(
        self, client: TestClient, authorization: str | None, method: str, path: str, payload: Any
    ) -> None:
        headers = {} if authorization is None else {"Authorization": authorization}
        anonymous = TestClient(client.app)

        response = anonymous.request(method, path, json=payload, headers=headers)

        assert response.status_code == 401
        assert response.headers["WWW-Authenticate"] == "Bearer"
        assert_error_shape(response.json(), "unauthorized")


class TestValidation:
    @pytest.mark.parametrize(
        "chunks",
        [[], [""], ["   \n\t"], ["fine", " "], [42]],
        ids=["none", "empty", "blank", "one-blank", "int"],
    )
    def test_bad_chunks_are_422(self, client: TestClient, chunks: list[Any]) -> None:
        response = client.post("/embed_and_store", json=embed_payload(chunks=chunks))

        assert response.status_code == 422
        body = response.json()
        assert_error_shape(body, "validation_error")
        assert body["error"]["details"][0]["loc"][:2] == ["body", "chunks"]

    @pytest.mark.parametrize("blank", ["\u0085", "\ufeff", "\u00a0", "\u2028", "\u3000"])
    def test_a_chunk_or_message_of_whitespace_in_either_regex_dialect_is_422_as_the_schema_says(
        self, client: TestClient, blank: str
    ) -> None:
        schema = client.get("/openapi.json").json()["components"]["schemas"]
        chunk = client.post("/embed_and_store", json=embed_payload(chunks=["fine", blank * 2]))
        message = client.post("/chat", json=chat_payload(message=blank))

        assert (chunk.status_code, message.status_code) == (422, 422)
        assert schema["EmbedRequest"]["properties"]["chunks"]["items"]["pattern"] == NOT_BLANK
        assert schema["ChatRequest"]["properties"]["message"]["pattern"] == NOT_BLANK

    def test_more_chunks_than_one_request_allows_are_422(self, client: TestClient) -> None:
        chunks = [f"chunk {index}" for index in range(MAX_CHUNKS_PER_REQUEST + 1)]

        response = client.post("/embed_and_store", json=embed_payload(chunks=chunks))

        assert response.status_code == 422
        body = response.json()
        assert_error_shape(body, "validation_error")
        assert body["error"]["details"][0]["loc"] == ["body", "chunks"]

    def test_a_full_batch_is_accepted(self, embedded_providers: Providers, settings: AgentSettings) -> None:
        store = FixedDimensionStore(dimension=None)
        client = client_for(
            replace(embedded_providers, embeddings=RecordingEmbeddings(), vector_store=store), settings
        )
        chunks = [f"chunk {index}" for index in range(MAX_CHUNKS_PER_REQUEST)]

        response = client.post(
            "/embed_and_store", json=embed_payload(chunks=chunks, first_chunk_index=512, last_batch=False)
        )

        assert response.status_code == 200, response.text
        assert response.json()["stored_vector_count"] == MAX_CHUNKS_PER_REQUEST
        assert store.upserts == [{"chunks": chunks, "first_chunk_index": 512, "last_batch": False}]

    @pytest.mark.parametrize(
        ("field", "value"),
        [
            ("first_chunk_index", -1),
            ("first_chunk_index", MAX_CHUNK_INDEX + 1),
            ("first_chunk_index", "3"),
            ("first_chunk_index", True),
            ("first_chunk_index", 1.5),
            ("first_chunk_index", None),
            ("last_batch", "false"),
            ("last_batch", 0),
            ("last_batch", None),
        ],
    )
    def test_a_bad_batch_position_is_422(self, client: TestClient, field: str, value: Any) -> None:
        response = client.post("/embed_and_store", json={**embed_payload(), field: value})

        assert response.status_code == 422
        body = response.json()
        assert_error_shape(body, "validation_error")
        assert body["error"]["details"][0]["loc"][:2] == ["body", field]

    @pytest.mark.parametrize("message", ["", "   ", "\n"])
    def test_an_empty_message_is_422(self, client: TestClient, message: str) -> None:
        response = client.post("/chat", json=chat_payload(message=message))

        assert response.status_code == 422
        assert_error_shape(response.json(), "validation_error")

    def test_details_never_echo_the_submitted_values(self, client: TestClient) -> None:
        secret = "sk-live-do-not-echo-me"

        response = client.post("/chat", json=chat_payload(message=secret, history=[{"role": secret}]))

        assert response.status_code == 422
        assert secret not in response.text

    def test_malformed_json_is_422(self, client: TestClient) -> None:
        response = client.post("/chat", content=b'{"bot_id": ', headers={"Content-Type": "application/json"})

        assert response.status_code == 422
        assert_error_shape(response.json(), "validation_error")

    @pytest.mark.parametrize("path", ["/chat", "/embed_and_store"])
    def test_a_body_that_is_not_utf8_is_a_documented_400(self, client: TestClient, path: str) -> None:
        # Found by schemathesis (status_code_conformance): Starlette's 400 was not in the schema.
        response = client.post(path, content=b"\x17p\xff\xfe", headers={"Content-Type": "application/json"})

        assert response.status_code == 400
        assert_error_shape(response.json(), "bad_request")
        assert "400" in client.get("/openapi.json").json()["paths"][path]["post"]["responses"]

    @pytest.mark.parametrize(
        "field", [{"temperature": False}, {"temperature": "0.5"}, {"top_k": True}, {"top_k": "2"}]
    )
    def test_booleans_and_strings_are_not_numbers(self, client: TestClient, field: dict[str, Any]) -> None:
        # Found by schemathesis (negative_data_rejection): lax pydantic read `false` as temperature 0.0.
        response = client.post("/chat", json={**chat_payload(), **field})

        assert response.status_code == 422
        assert_error_shape(response.json(), "validation_error")

    def test_an_integral_float_is_a_valid_top_k(self, client: TestClient) -> None:
        # JSON Schema counts 1.0 as an integer (positive_data_acceptance), so the agent must take it.
        response = client.post("/chat", json={**chat_payload(), "top_k": 2.0, "temperature": 1})

        assert response.status_code == 200, response.text

    @pytest.mark.parametrize("path", ["/documents/{id}", "/documents/{id}/chunks"])
    def test_delete_and_purge_document_require_a_uuid_bot_id(self, client: TestClient, path: str) -> None:
        missing = client.delete(path.format(id=uuid.uuid4()))
        malformed = client.delete(path.format(id=uuid.uuid4()), params={"bot_id": "not-a-uuid"})

        assert missing.status_code == 422
        assert malformed.status_code == 422
        assert_error_shape(malformed.json(), "validation_error")

    def test_unknown_fields_are_rejected(self, client: TestClient) -> None:
        response = client.post("/chat", json={**chat_payload(), "temperture": 0.3})

        assert response.status_code == 422


class TestRoutingErrors:
    def test_unknown_path_is_404_in_the_error_shape(self, client: TestClient) -> None:
        response = client.get("/nope")

        assert response.status_code == 404
        assert_error_shape(response.json(), "not_found")

    def test_wrong_method_is_405_in_the_error_shape(self, client: TestClient) -> None:
        response = client.get("/chat")

        assert response.status_code == 405
        assert_error_shape(response.json(), "method_not_allowed")


class TestProviderFailures:
    def test_an_unreachable_embeddings_provider_is_503_and_nothing_is_stored(
        self, embedded_providers: Providers, settings: AgentSettings
    ) -> None:
        healthy = client_for(embedded_providers, settings)
        payload = embed_payload(chunks=TELESCOPE_DOC)
        healthy.post("/embed_and_store", json=payload)
        broken = client_for(
            replace(embedded_providers, embeddings=FailingEmbeddings(retryable=True)), settings
        )

        failed = broken.post("/embed_and_store", json={**payload, "chunks": ["replacement"]})
        answer = ask(healthy, bot_id=payload["bot_id"], message="How wide is the Zephyr-9 mirror?")

        assert failed.status_code == 503
        assert failed.headers["Retry-After"]
        assert_error_shape(failed.json(), "provider_unavailable")
        assert "failing-embeddings" in failed.json()["error"]["message"]
        assert "4.2 meters" in answer["response"]

    def test_a_refusing_llm_is_502(self, embedded_providers: Providers, settings: AgentSettings) -> None:
        refusal = ProviderError("the model refused the prompt", provider="gemini", retryable=False)
        client = client_for(replace(embedded_providers, chat_model=FailingChatModel(error=refusal)), settings)

        response = client.post("/chat", json=chat_payload())

        assert response.status_code == 502
        assert_error_shape(response.json(), "provider_error")

    def test_an_unexpected_exception_is_a_500_in_the_error_shape(
        self, embedded_providers: Providers, settings: AgentSettings
    ) -> None:
        bug = FailingChatModel(error=RuntimeError("a bug"))
        app = create_app(providers=replace(embedded_providers, chat_model=bug), settings=settings)
        client = TestClient(
            app, raise_server_exceptions=False, headers={"Authorization": f"Bearer {SERVICE_TOKEN}"}
        )

        response = client.post("/chat", json=chat_payload())

        assert response.status_code == 500
        assert_error_shape(response.json(), "internal_error")
        assert "a bug" not in response.text


class TestChatTurn:
    def test_makes_exactly_one_llm_call_with_the_turn_as_sent(
        self, embedded_providers: Providers, settings: AgentSettings
    ) -> None:
        llm = RecordingChatModel()
        client = client_for(replace(embedded_providers, chat_model=llm), settings)
        payload = embed_payload(chunks=TELESCOPE_DOC)
        client.post("/embed_and_store", json=payload)

        response = client.post(
            "/chat",
            json={
                "bot_id": payload["bot_id"],
                "message": "How wide is the mirror?",
                "history": [
                    {"role": "user", "content": "Hi"},
                    {"role": "assistant", "content": "Hello! Ask me about Zephyr-9."},
                ],
                "system_prompt": "Answer like an astronomer.",
                "model": "my-model",
                "temperature": 0.2,
            },
        )

        assert response.status_code == 200
        assert len(llm.calls) == 1
        call = llm.calls[0]
        assert call["question"] == "How wide is the mirror?"
        assert call["system_prompt"] == "Answer like an astronomer."
        assert (call["model"], call["temperature"]) == ("my-model", 0.2)
        assert [turn.role for turn in call["history"]] == ["user", "assistant"]  # type: ignore[attr-defined]
        given = [(chunk.document_id, chunk.chunk_index) for chunk in call["context"]]  # type: ignore[attr-defined]
        returned = [(source["document_id"], source["chunk_index"]) for source in response.json()["sources"]]
        assert given == returned
        assert response.json()["response"] == llm.reply
        assert response.json()["model"] == "my-model"


class TestOpenAPI:
    def test_declares_every_error_status_with_the_error_model(self, client: TestClient) -> None:
        schema = client.get("/openapi.json").json()
        error_ref = "#/components/schemas/ErrorResponse"

        for path, method, statuses in [
            ("/embed_and_store", "post", {"200", "400", "401", "409", "422", "502", "503"}),
            ("/chat", "post", {"200", "400", "401", "422", "502", "503"}),
            ("/documents/{document_id}", "delete", {"200", "401", "422", "502", "503"}),
            ("/bots/{bot_id}", "delete", {"200", "401", "422", "502", "503"}),
            ("/index/bots", "get", {"200", "401", "422", "502", "503"}),
            ("/bots/{bot_id}/index", "get", {"200", "401", "422", "502", "503"}),
        ]:
            responses = schema["paths"][path][method]["responses"]
            assert set(responses) == statuses, path
            for status in statuses - {"200"}:
                assert responses[status]["content"]["application/json"]["schema"]["$ref"] == error_ref
        assert set(schema["paths"]["/health"]["get"]["responses"]) == {"200", "503"}
        bot_id_param = next(
            p
            for p in schema["paths"]["/documents/{document_id}"]["delete"]["parameters"]
            if p["name"] == "bot_id"
        )
        assert bot_id_param["required"] is True
        assert bot_id_param["schema"]["format"] == "uuid"
        assert "HTTPBearer" in schema["components"]["securitySchemes"]

    def test_a_stored_document_links_to_chat_search_and_deletion(self, client: TestClient) -> None:
        # Without OpenAPI links schemathesis' stateful phase had nothing to chain (NoLinksFound).
        schema = client.get("/openapi.json").json()
        operation_ids = {
            operation["operationId"] for path in schema["paths"].values() for operation in path.values()
        }

        links = schema["paths"]["/embed_and_store"]["post"]["responses"]["200"]["links"]

        assert {link["operationId"] for link in links.values()} == {
            "chat",
            "search",
            "delete_document",
            "delete_bot",
        }
        assert {link["operationId"] for link in links.values()} <= operation_ids
        assert links["DeleteTheDocument"]["parameters"] == {
            "path.document_id": "$response.body#/document_id",
            "query.bot_id": "$request.body#/bot_id",
        }
