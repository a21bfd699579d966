"""What Django's agent client sends to the agent and relies on in its answers, as a Pact.

Every test drives the real `HttpAgentClient` against the Pact mock server and asserts what Django
gets back (typed results, typed errors). Example values are fixed so the generated pact is
byte-stable; matchers say which parts are only examples.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from uuid import UUID

import pytest
from pact import Pact, match

from chatsphere.services.agent_client import (
    MAX_CHAT_MESSAGE_CHARS,
    MAX_CHUNKS_PER_REQUEST,
    AgentHealth,
    AgentRejectedError,
    AgentUnavailableError,
    ChatCall,
    ChatEvent,
    ChatResult,
    ChatSource,
    EmbedResult,
    HistoryItem,
    HttpAgentClient,
    SearchHit,
    SearchResult,
)
from contracts.pactfile import SERVICE_TOKEN, WRONG_SERVICE_TOKEN

BOT_WITH_DOCUMENTS = UUID("5b8f0a3e-2c4d-4e6f-8a1b-9c0d1e2f3a4b")
BOT_WITHOUT_DOCUMENTS = UUID("0d2e4f6a-8b1c-4d3e-9f5a-7b9c1d3e5f7a")
DOCUMENT = UUID("a1c3e5f7-0b2d-4f6a-8c1e-3a5b7d9f1c2e")
REFUND_POLICY = (
    "Refunds are accepted within 30 days of purchase. "
    "Contact support with your order number to start a refund."
)
REFUND_QUESTION = "How many days do I have to ask for a refund?"
REFUND_ANSWER = "Refunds are accepted within 30 days of purchase."
SNAKE_CASE = r"^[a-z][a-z0-9]*(_[a-z0-9]+)*$"


def _bearer(token: str = SERVICE_TOKEN) -> Any:
    return match.regex(f"Bearer {token}", regex=r"^Bearer \S+$")


def _uuid_path(prefix: str, value: UUID) -> Any:
    return match.regex(f"{prefix}/{value}", regex=rf"^{prefix}/[0-9a-fA-F-]{{36}}$")


def _error(code: str, message: str, *, details: object = ...) -> dict[str, Any]:
    error: dict[str, Any] = {"code": match.regex(code, regex=SNAKE_CASE), "message": match.str(message)}
    if details is not ...:
        error["details"] = details
    return {"error": error}


def _stored(count: int) -> dict[str, Any]:
    return {
        "status": "success",
        "document_id": match.uuid(str(DOCUMENT)),
        "stored_vector_count": match.int(count),
    }


def _stored_document(bot_id: UUID, *chunks: str) -> dict[str, Any]:
    return {"bot_id": str(bot_id), "document_id": str(DOCUMENT), "chunks": list(chunks)}


def _chat(client: HttpAgentClient, **call: Any) -> ChatResult:
    """The JSON chat as production calls it (the async chat view): `acall_chat` on an event loop."""

    async def chat() -> ChatResult:
        try:
            return await client.acall_chat(call=ChatCall(**call))
        finally:
            await client.aclose()

    return asyncio.run(chat())


def _stream(client: HttpAgentClient, **call: Any) -> list[ChatEvent]:
    """Every event of a streamed chat, as the streaming chat view relays them."""

    async def stream() -> list[ChatEvent]:
        try:
            return [event async for event in await client.open_chat_stream(call=ChatCall(**call))]
        finally:
            await client.aclose()

    return asyncio.run(stream())


def _model_down(interaction: Any, *, stream: bool) -> None:
    """A chat (JSON or streamed) while the model provider is down: the agent's JSON 503, before any event."""
    request = interaction.given(
        "bot {bot_id} has documents", _stored_document(BOT_WITH_DOCUMENTS, REFUND_POLICY)
    ).given("the model provider is unavailable")
    request = request.with_request("POST", "/chat/stream" if stream else "/chat").with_header(
        "Authorization", _bearer()
    )
    if stream:
        request = request.with_header("Accept", "text/event-stream")
    (
        request.with_body(
            {
                "bot_id": match.uuid(str(BOT_WITH_DOCUMENTS)),
                "message": match.str(REFUND_QUESTION),
                "history": [],
            },
            content_type="application/json",
        )
        .will_respond_with(503)
        .with_body(
            _error(
                "provider_unavailable",
                "The llm provider is unavailable right now; retry later.",
                details=None,
            ),
            content_type="application/json",
        )
    )


@contextmanager
def _client(pact: Pact, *, token: str = SERVICE_TOKEN) -> Iterator[HttpAgentClient]:
    with pact.serve() as server:
        client = HttpAgentClient(base_url=str(server.url), token=token, timeout=5.0)
        try:
            yield client
        finally:
            client.close()


def test_health_reports_the_providers(pact: Pact) -> None:
    (
        pact.upon_receiving("a health check")
        .with_request("GET", "/health")
        .will_respond_with(200)
        .with_body(
            {
                "status": "ok",
                "providers": {
                    "embeddings": match.str("local:all-MiniLM-L6-v2"),
                    "vector_store": match.str("chroma:/var/lib/chatsphere"),
                    "llm": match.str("extractive"),
                },
            },
            content_type="application/json",
        )
    )

    with _client(pact) as client:
        health = client.health()

    assert health == AgentHealth(
        status="ok",
        providers={
            "embeddings": "local:all-MiniLM-L6-v2",
            "vector_store": "chroma:/var/lib/chatsphere",
            "llm": "extractive",
        },
    )


def test_embed_and_store_returns_the_stored_vector_count(pact: Pact) -> None:
    (
        pact.upon_receiving("a request to embed and store a document's chunks")
        .with_request("POST", "/embed_and_store")
        .with_header("Authorization", _bearer())
        .with_body(
            {
                "bot_id": match.uuid(str(BOT_WITHOUT_DOCUMENTS)),
                "document_id": match.uuid(str(DOCUMENT)),
                "chunks": match.each_like(match.str(REFUND_POLICY), min=1),
                "first_chunk_index": 0,
                "last_batch": True,
            },
            content_type="application/json",
        )
        .will_respond_with(200)
        .with_body(_stored(1), content_type="application/json")
    )

    with _client(pact) as client:
        result = client.call_embed_and_store(
            bot_id=BOT_WITHOUT_DOCUMENTS, document_id=DOCUMENT, chunks=[REFUND_POLICY]
        )

    assert result == EmbedResult(document_id=DOCUMENT, stored_vector_count=1)


def test_embed_and_store_sends_the_document_name_for_the_chunk_headers(pact: Pact) -> None:
    (
        pact.upon_receiving("a request to embed and store a named document's chunks")
        .with_request("POST", "/embed_and_store")
        .with_header("Authorization", _bearer())
        .with_body(
            {
                "bot_id": match.uuid(str(BOT_WITHOUT_DOCUMENTS)),
                "document_id": match.uuid(str(DOCUMENT)),
                "chunks": match.each_like(match.str(REFUND_POLICY), min=1),
                "first_chunk_index": 0,
                "last_batch": True,
                "document_name": match.str("refunds.md"),
            },
            content_type="application/json",
        )
        .will_respond_with(200)
        .with_body(_stored(1), content_type="application/json")
    )

    with _client(pact) as client:
        result = client.call_embed_and_store(
            bot_id=BOT_WITHOUT_DOCUMENTS,
            document_id=DOCUMENT,
            chunks=[REFUND_POLICY],
            document_name="refunds.md",
        )

    assert result == EmbedResult(document_id=DOCUMENT, stored_vector_count=1)


def test_search_ranks_the_bots_chunks_with_their_scores(pact: Pact) -> None:
    (
        pact.upon_receiving("a hybrid search of a bot with documents")
        .given("bot {bot_id} has documents", _stored_document(BOT_WITH_DOCUMENTS, REFUND_POLICY))
        .with_request("POST", "/search")
        .with_header("Authorization", _bearer())
        .with_body(
            {
                "bot_id": match.uuid(str(BOT_WITH_DOCUMENTS)),
                "query": match.str(REFUND_QUESTION),
                "top_k": match.int(10),
                "mode": match.regex("hybrid", regex="^(dense|lexical|hybrid)$"),
            },
            content_type="application/json",
        )
        .will_respond_with(200)
        .with_body(
            {
                "mode": match.regex("hybrid", regex="^(dense|lexical|hybrid)$"),
                "results": match.each_like(
                    {
                        "document_id": match.uuid(str(DOCUMENT)),
                        "chunk_index": match.int(0),
                        "text": match.str(REFUND_POLICY),
                        "score": match.number(1.0),
                        "dense_score": match.number(0.71),
                        "lexical_score": match.number(2.5),
                    },
                    min=1,
                ),
            },
            content_type="application/json",
        )
    )

    with _client(pact) as client:
        result = client.call_search(bot_id=BOT_WITH_DOCUMENTS, query=REFUND_QUESTION, top_k=10, mode="hybrid")

    assert result == SearchResult(
        mode="hybrid",
        hits=(
            SearchHit(
                document_id=DOCUMENT,
                chunk_index=0,
                text=REFUND_POLICY,
                score=1.0,
                dense_score=0.71,
                lexical_score=2.5,
            ),
        ),
    )


def test_embed_and_store_of_a_long_document_goes_in_batches(pact: Pact) -> None:
    full_batch = MAX_CHUNKS_PER_REQUEST
    # The first batch always starts the document; a later one's offset is whatever came before it.
    for description, first_chunk_index, last_batch, stored in [
        ("a request to embed and store the first batch of a long document", 0, False, full_batch),
        ("a request to embed and store the last batch of a long document", match.int(full_batch), True, 1),
    ]:
        (
            pact.upon_receiving(description)
            .with_request("POST", "/embed_and_store")
            .with_header("Authorization", _bearer())
            .with_body(
                {
                    "bot_id": match.uuid(str(BOT_WITHOUT_DOCUMENTS)),
                    "document_id": match.uuid(str(DOCUMENT)),
                    "chunks": match.each_like(match.str(REFUND_POLICY), min=1),
                    "first_chunk_index": first_chunk_index,
                    "last_batch": last_batch,
                },
                content_type="application/json",
            )
            .will_respond_with(200)
            .with_body(_stored(stored), content_type="application/json")
        )

    with _client(pact) as client:
        result = client.call_embed_and_store(
            bot_id=BOT_WITHOUT_DOCUMENTS, document_id=DOCUMENT, chunks=[REFUND_POLICY] * (full_batch + 1)
        )

    assert result == EmbedResult(document_id=DOCUMENT, stored_vector_count=full_batch + 1)


def test_embed_and_store_of_no_chunks_is_rejected(pact: Pact) -> None:
    (
        pact.upon_receiving("a request to embed and store an empty chunk list")
        .with_request("POST", "/embed_and_store")
        .with_header("Authorization", _bearer())
        .with_body(
            {
                "bot_id": match.uuid(str(BOT_WITHOUT_DOCUMENTS)),
                "document_id": match.uuid(str(DOCUMENT)),
                "chunks": [],
                "first_chunk_index": 0,
                "last_batch": True,
            },
            content_type="application/json",
        )
        .will_respond_with(422)
        .with_body(
            _error("validation_error", "The request is invalid; see details."),
            content_type="application/json",
        )
    )

    with _client(pact) as client, pytest.raises(AgentRejectedError) as rejected:
        client.call_embed_and_store(bot_id=BOT_WITHOUT_DOCUMENTS, document_id=DOCUMENT, chunks=[])

    assert (rejected.value.status_code, rejected.value.code) == (422, "validation_error")
    assert rejected.value.message == "The request is invalid; see details."


def test_chat_with_a_bot_that_has_documents_answers_with_sources(pact: Pact) -> None:
    (
        pact.upon_receiving("a chat message to a bot with documents")
        .given("bot {bot_id} has documents", _stored_document(BOT_WITH_DOCUMENTS, REFUND_POLICY))
        .with_request("POST", "/chat")
        .with_header("Authorization", _bearer())
        .with_body(
            {
                "bot_id": match.uuid(str(BOT_WITH_DOCUMENTS)),
                "message": match.str(REFUND_QUESTION),
                "history": match.each_like(
                    {
                        "role": match.regex("assistant", regex="^(user|assistant)$"),
                        "content": match.str("Hi! Ask me."),
                    }
                ),
                "system_prompt": match.str("You answer questions about our shop."),
                "temperature": match.number(0.2),
                "user_id": match.str("42"),
                "top_k": match.int(4),
                "min_score": match.number(0.25),
            },
            content_type="application/json",
        )
        .will_respond_with(200)
        .with_body(
            {
                "response": match.str(REFUND_ANSWER),
                "sources": match.each_like(
                    {
                        "document_id": match.uuid(str(DOCUMENT)),
                        "chunk_index": match.int(0),
                        "score": match.number(0.71),
                        "text": match.str(REFUND_POLICY),
                    },
                    min=1,
                ),
                "model": match.str("extractive"),
            },
            content_type="application/json",
        )
    )

    with _client(pact) as client:
        result = _chat(
            client,
            bot_id=BOT_WITH_DOCUMENTS,
            message=REFUND_QUESTION,
            history=[HistoryItem(role="assistant", content="Hi! Ask me.")],
            system_prompt="You answer questions about our shop.",
            temperature=0.2,
            user_id="42",
            top_k=4,
            min_score=0.25,
        )

    assert result == ChatResult(
        response=REFUND_ANSWER,
        sources=(ChatSource(document_id=DOCUMENT, chunk_index=0, score=0.71, text=REFUND_POLICY),),
        model="extractive",
    )


def test_chat_with_a_bot_without_documents_answers_without_sources(pact: Pact) -> None:
    (
        pact.upon_receiving("a chat message to a bot without documents")
        .given("bot {bot_id} has no documents", {"bot_id": str(BOT_WITHOUT_DOCUMENTS)})
        .with_request("POST", "/chat")
        .with_header("Authorization", _bearer())
        .with_body(
            {
                "bot_id": match.uuid(str(BOT_WITHOUT_DOCUMENTS)),
                "message": match.str(REFUND_QUESTION),
                "history": [],
            },
            content_type="application/json",
        )
        .will_respond_with(200)
        .with_body(
            {
                "response": match.str("I couldn't find anything about that in this bot's documents."),
                "sources": [],
                "model": match.str("extractive"),
            },
            content_type="application/json",
        )
    )

    with _client(pact) as client:
        result = _chat(client, bot_id=BOT_WITHOUT_DOCUMENTS, message=REFUND_QUESTION, history=[])

    assert result == ChatResult(
        response="I couldn't find anything about that in this bot's documents.",
        sources=(),
        model="extractive",
    )


# A streamed answer is text/event-stream, which Pact's matchers cannot take apart event by event: the body is
# matched by a regular expression of the event grammar the client parses (contracts/README.md).
_STREAMED_ANSWER = (
    r"^(: heartbeat\n\n)*event: sources\ndata: \{[^\n]*\}\n\n((: heartbeat\n\n)|(event: token\ndata: "
    r"\{[^\n]*\}\n\n))*event: (done|error)\ndata: \{[^\n]*\}\n\n$"
)


def _sse(*events: tuple[str, str]) -> str:
    return "".join(f"event: {name}\ndata: {data}\n\n" for name, data in events)


def test_a_streamed_chat_sends_sources_then_tokens_then_done(pact: Pact) -> None:
    source = f'{{"document_id":"{DOCUMENT}","chunk_index":0,"score":0.71,"text":"{REFUND_POLICY}"}}'
    example = _sse(
        ("sources", f'{{"sources":[{source}]}}'),
        ("token", '{"text":"Refunds are accepted "}'),
        ("token", '{"text":"within 30 days of purchase."}'),
        ("done", f'{{"response":"{REFUND_ANSWER}","model":"extractive"}}'),
    )
    (
        pact.upon_receiving("a streamed chat message to a bot with documents")
        .given("bot {bot_id} has documents", _stored_document(BOT_WITH_DOCUMENTS, REFUND_POLICY))
        .with_request("POST", "/chat/stream")
        .with_header("Authorization", _bearer())
        .with_header("Accept", "text/event-stream")
        .with_body(
            {
                "bot_id": match.uuid(str(BOT_WITH_DOCUMENTS)),
                "message": match.str(REFUND_QUESTION),
                "history": [],
            },
            content_type="application/json",
        )
        .will_respond_with(200)
        .with_header(
            "Content-Type",
            match.regex("text/event-stream; charset=utf-8", regex=r"^text/event-stream(; ?charset=utf-8)?$"),
        )
        .with_body(example, content_type="text/event-stream")
        .with_matching_rules(
            {"body": {"$": {"combine": "AND", "matchers": [{"match": "regex", "regex": _STREAMED_ANSWER}]}}},
            part="Response",
        )
    )

    with _client(pact) as client:
        events = _stream(client, bot_id=BOT_WITH_DOCUMENTS, message=REFUND_QUESTION, history=[])

    assert [event.name for event in events] == ["sources", "token", "token", "done"]
    assert events[0].sources() == (
        ChatSource(document_id=DOCUMENT, chunk_index=0, score=0.71, text=REFUND_POLICY),
    )
    assert "".join(event.data["text"] for event in events[1:3]) == REFUND_ANSWER
    assert events[-1].data == {"response": REFUND_ANSWER, "model": "extractive"}


def test_a_streamed_chat_while_the_model_provider_is_down_is_unavailable_before_any_event(
    pact: Pact,
) -> None:
    _model_down(pact.upon_receiving("a streamed chat message while the model provider is down"), stream=True)

    with _client(pact) as client, pytest.raises(AgentUnavailableError) as unavailable:
        _stream(client, bot_id=BOT_WITH_DOCUMENTS, message=REFUND_QUESTION, history=[])

    assert (unavailable.value.status_code, unavailable.value.code) == (503, "provider_unavailable")


def test_chat_with_the_longest_message_django_accepts_is_answered(pact: Pact) -> None:
    """Django's chat limit is part of the contract: a message as long as Django lets through must be one the
    agent accepts, or a user would get a 502 instead of Django's own 400 (the provider check fails on 422)."""
    longest = "How many days do I have to ask for a refund? ".ljust(MAX_CHAT_MESSAGE_CHARS, "?")
    (
        pact.upon_receiving("a chat message as long as Django accepts")
        .given("bot {bot_id} has no documents", {"bot_id": str(BOT_WITHOUT_DOCUMENTS)})
        .with_request("POST", "/chat")
        .with_header("Authorization", _bearer())
        .with_body(
            {"bot_id": match.uuid(str(BOT_WITHOUT_DOCUMENTS)), "message": longest, "history": []},
            content_type="application/json",
        )
        .will_respond_with(200)
        .with_body(
            {
                "response": match.str("I couldn't find anything about that."),
                "sources": [],
                "model": match.str("extractive"),
            },
            content_type="application/json",
        )
    )

    with _client(pact) as client:
        result = _chat(client, bot_id=BOT_WITHOUT_DOCUMENTS, message=longest, history=[])

    assert len(longest) == MAX_CHAT_MESSAGE_CHARS
    assert result.sources == ()


def test_chat_while_the_model_provider_is_down_is_unavailable(pact: Pact) -> None:
    _model_down(pact.upon_receiving("a chat message while the model provider is down"), stream=False)

    with _client(pact) as client, pytest.raises(AgentUnavailableError) as unavailable:
        _chat(client, bot_id=BOT_WITH_DOCUMENTS, message=REFUND_QUESTION, history=[])

    assert (unavailable.value.status_code, unavailable.value.code) == (503, "provider_unavailable")
    assert unavailable.value.message == "The llm provider is unavailable right now; retry later."


def test_a_call_with_a_wrong_service_token_is_rejected(pact: Pact) -> None:
    (
        pact.upon_receiving("a chat message with a wrong service token")
        .with_request("POST", "/chat")
        .with_header("Authorization", f"Bearer {WRONG_SERVICE_TOKEN}")
        .with_body(
            {
                "bot_id": match.uuid(str(BOT_WITHOUT_DOCUMENTS)),
                "message": match.str(REFUND_QUESTION),
                "history": [],
            },
            content_type="application/json",
        )
        .will_respond_with(401)
        .with_body(_error("unauthorized", "Missing or wrong service token."), content_type="application/json")
    )

    with _client(pact, token=WRONG_SERVICE_TOKEN) as client, pytest.raises(AgentRejectedError) as rejected:
        _chat(client, bot_id=BOT_WITHOUT_DOCUMENTS, message=REFUND_QUESTION, history=[])

    assert (rejected.value.status_code, rejected.value.code) == (401, "unauthorized")


def test_delete_document_returns_the_deleted_vector_count(pact: Pact) -> None:
    chunks = (REFUND_POLICY, "Shipping is free for orders over 50 euros.")
    (
        pact.upon_receiving("a request to delete a document's vectors")
        .given(
            "document {document_id} of bot {bot_id} is stored", _stored_document(BOT_WITH_DOCUMENTS, *chunks)
        )
        .with_request("DELETE", _uuid_path("/documents", DOCUMENT))
        .with_query_parameter("bot_id", match.uuid(str(BOT_WITH_DOCUMENTS)))
        .with_header("Authorization", _bearer())
        .will_respond_with(200)
        .with_body(
            {"document_id": match.uuid(str(DOCUMENT)), "deleted_vector_count": match.int(2)},
            content_type="application/json",
        )
    )

    with _client(pact) as client:
        deleted = client.call_delete_document(bot_id=BOT_WITH_DOCUMENTS, document_id=DOCUMENT)

    assert deleted == 2


def test_purge_document_returns_the_purged_vector_count(pact: Pact) -> None:
    """What an ingestion that ends ERROR sends (services/documents.py), and index_check's repair of one."""
    chunks = (REFUND_POLICY, "Shipping is free for orders over 50 euros.")
    (
        pact.upon_receiving("a request to purge a failed document's chunks")
        .given(
            "document {document_id} of bot {bot_id} is stored", _stored_document(BOT_WITH_DOCUMENTS, *chunks)
        )
        .with_request(
            "DELETE",
            match.regex(f"/documents/{DOCUMENT}/chunks", regex=r"^/documents/[0-9a-fA-F-]{36}/chunks$"),
        )
        .with_query_parameter("bot_id", match.uuid(str(BOT_WITH_DOCUMENTS)))
        .with_header("Authorization", _bearer())
        .will_respond_with(200)
        .with_body(
            {"document_id": match.uuid(str(DOCUMENT)), "deleted_vector_count": match.int(2)},
            content_type="application/json",
        )
    )

    with _client(pact) as client:
        purged = client.call_purge_document(bot_id=BOT_WITH_DOCUMENTS, document_id=DOCUMENT)

    assert purged == 2


def test_delete_bot_reports_whether_vectors_were_dropped(pact: Pact) -> None:
    (
        pact.upon_receiving("a request to delete a bot's vectors")
        .given("bot {bot_id} has documents", _stored_document(BOT_WITH_DOCUMENTS, REFUND_POLICY))
        .with_request("DELETE", _uuid_path("/bots", BOT_WITH_DOCUMENTS))
        .with_header("Authorization", _bearer())
        .will_respond_with(200)
        .with_body(
            {"bot_id": match.uuid(str(BOT_WITH_DOCUMENTS)), "deleted": match.bool(True)},
            content_type="application/json",
        )
    )

    with _client(pact) as client:
        deleted = client.call_delete_bot(bot_id=BOT_WITH_DOCUMENTS)

    assert deleted is True
