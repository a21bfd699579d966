import asyncio
import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from chatsphere.services.agent_client import (
    DEFAULT_TIMEOUT,
    HEALTH_TIMEOUT_SECONDS,
    MAX_CHUNKS_PER_REQUEST,
    AgentProtocolError,
    AgentRejectedError,
    AgentUnavailableError,
    ChatCall,
    ChatResult,
    EmbedResult,
    HistoryItem,
    HttpAgentClient,
)

BOT_ID = uuid.uuid4()
DOCUMENT_ID = uuid.uuid4()


def client_answering(handler) -> HttpAgentClient:
    return HttpAgentClient(
        base_url="http://agent.test",
        token="s3cret",
        transport=httpx.MockTransport(handler),
        async_transport=httpx.MockTransport(handler),
    )


def chat(client: HttpAgentClient, **call: Any) -> ChatResult:
    """The JSON chat as the chat view makes it: awaited."""
    return asyncio.run(client.acall_chat(call=ChatCall(**call)))


def test_chat_sends_bearer_token_and_settings_and_parses_sources():
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(
            200,
            json={
                "response": "Krill.",
                "model": "extractive",
                "error_message": None,
                "sources": [
                    {"document_id": str(DOCUMENT_ID), "chunk_index": 2, "score": 0.9, "text": "krill"}
                ],
            },
        )

    result = chat(
        client_answering(handler),
        bot_id=BOT_ID,
        message="What do penguins eat?",
        history=[HistoryItem(role="assistant", content="Hi")],
        temperature=0.2,
    )
    assert result.response == "Krill."
    assert result.sources[0].document_id == DOCUMENT_ID
    assert result.sources[0].chunk_index == 2
    request = seen[0]
    assert request.url.path == "/chat"
    assert request.headers["Authorization"] == "Bearer s3cret"
    assert json.loads(request.content) == {
        "bot_id": str(BOT_ID),
        "message": "What do penguins eat?",
        "history": [{"role": "assistant", "content": "Hi"}],
        "temperature": 0.2,
    }


def test_embed_purge_and_delete_calls_hit_the_contract_paths():
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/embed_and_store":
            return httpx.Response(
                200, json={"status": "success", "document_id": str(DOCUMENT_ID), "stored_vector_count": 3}
            )
        if request.url.path == f"/documents/{DOCUMENT_ID}":
            assert request.url.params["bot_id"] == str(BOT_ID)
            return httpx.Response(200, json={"document_id": str(DOCUMENT_ID), "deleted_vector_count": 3})
        if request.url.path == f"/documents/{DOCUMENT_ID}/chunks":
            assert (request.method, request.url.params["bot_id"]) == ("DELETE", str(BOT_ID))
            return httpx.Response(200, json={"document_id": str(DOCUMENT_ID), "deleted_vector_count": 2})
        return httpx.Response(200, json={"bot_id": str(BOT_ID), "deleted": True})

    client = client_answering(handler)
    stored = client.call_embed_and_store(bot_id=BOT_ID, document_id=DOCUMENT_ID, chunks=["a", "b", "c"])
    assert stored.stored_vector_count == 3
    assert client.call_purge_document(bot_id=BOT_ID, document_id=DOCUMENT_ID) == 2
    assert client.call_delete_document(bot_id=BOT_ID, document_id=DOCUMENT_ID) == 3
    assert client.call_delete_bot(bot_id=BOT_ID) is True


def embed_reply(request: httpx.Request) -> httpx.Response:
    """The agent's answer to one /embed_and_store: it stored every chunk it was sent."""
    body = json.loads(request.content)
    return httpx.Response(
        200,
        json={
            "status": "success",
            "document_id": body["document_id"],
            "stored_vector_count": len(body["chunks"]),
            "error_message": None,
        },
    )


def test_a_long_document_goes_in_batches_naming_their_offsets_and_the_last():
    sent: list[dict[str, Any]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(json.loads(request.content))
        return embed_reply(request)

    chunks = [f"chunk {index}" for index in range(600)]

    result = client_answering(handler).call_embed_and_store(
        bot_id=BOT_ID, document_id=DOCUMENT_ID, chunks=chunks
    )

    assert MAX_CHUNKS_PER_REQUEST == 256, "mirrors chatsphere_agent.schemas.MAX_CHUNKS_PER_REQUEST"
    assert [(body["first_chunk_index"], len(body["chunks"]), body["last_batch"]) for body in sent] == [
        (0, 256, False),
        (256, 256, False),
        (512, 88, True),
    ]
    assert [chunk for body in sent for chunk in body["chunks"]] == chunks
    assert {(body["bot_id"], body["document_id"]) for body in sent} == {(str(BOT_ID), str(DOCUMENT_ID))}
    assert result == EmbedResult(document_id=DOCUMENT_ID, stored_vector_count=600)


def test_the_batch_size_is_the_clients_to_choose():
    sent: list[dict[str, Any]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(json.loads(request.content))
        return embed_reply(request)

    client = HttpAgentClient(
        base_url="http://agent.test", token="s3cret", transport=httpx.MockTransport(handler), batch_chunks=2
    )

    client.call_embed_and_store(bot_id=BOT_ID, document_id=DOCUMENT_ID, chunks=["a", "b", "c", "d", "e"])

    assert [(body["first_chunk_index"], body["chunks"]) for body in sent] == [
        (0, ["a", "b"]),
        (2, ["c", "d"]),
        (4, ["e"]),
    ]


@pytest.mark.parametrize(("count", "requests"), [(1, 1), (256, 1), (257, 2)])
def test_only_the_request_holding_the_final_chunk_is_the_last_batch(count, requests):
    sent: list[dict[str, object]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(json.loads(request.content))
        return embed_reply(request)

    client_answering(handler).call_embed_and_store(
        bot_id=BOT_ID, document_id=DOCUMENT_ID, chunks=["text"] * count
    )

    assert len(sent) == requests
    assert [body["last_batch"] for body in sent] == [False] * (requests - 1) + [True]


def test_a_failing_batch_stops_the_document_there():
    sent: list[int] = []

    def handler(request: httpx.Request) -> httpx.Response:
        first_chunk_index = json.loads(request.content)["first_chunk_index"]
        sent.append(first_chunk_index)
        if first_chunk_index > 0:
            body = {"error": {"code": "provider_unavailable", "message": "down", "details": None}}
            return httpx.Response(503, json=body)
        return embed_reply(request)

    with pytest.raises(AgentUnavailableError):
        client_answering(handler).call_embed_and_store(
            bot_id=BOT_ID, document_id=DOCUMENT_ID, chunks=["text"] * 600
        )

    assert sent == [0, 256]


def test_no_chunks_is_still_sent_for_the_agent_to_refuse():
    sent: list[dict[str, object]] = []
    refusal = {"error": {"code": "validation_error", "message": "no chunks", "details": []}}

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(json.loads(request.content))
        return httpx.Response(422, json=refusal)

    with pytest.raises(AgentRejectedError) as rejected:
        client_answering(handler).call_embed_and_store(bot_id=BOT_ID, document_id=DOCUMENT_ID, chunks=[])

    assert rejected.value.status_code == 422
    assert [(body["chunks"], body["first_chunk_index"], body["last_batch"]) for body in sent] == [
        ([], 0, True)
    ]


def test_a_reply_about_another_document_is_a_protocol_error():
    reply = {"status": "success", "document_id": str(uuid.uuid4()), "stored_vector_count": 1}

    with pytest.raises(AgentProtocolError):
        client_answering(lambda request: httpx.Response(200, json=reply)).call_embed_and_store(
            bot_id=BOT_ID, document_id=DOCUMENT_ID, chunks=["text"]
        )


@pytest.mark.parametrize("status", [502, 503])
def test_agent_outage_statuses_are_unavailable_with_the_agents_message(status):
    body = {"error": {"code": "provider_unavailable", "message": "Pinecone is down", "details": None}}
    client = client_answering(lambda request: httpx.Response(status, json=body))
    with pytest.raises(AgentUnavailableError) as raised:
        client.health()
    assert (raised.value.status_code, raised.value.code, raised.value.message) == (
        status,
        "provider_unavailable",
        "Pinecone is down",
    )


def test_a_4xx_is_rejected():
    body = {"error": {"code": "unauthorized", "message": "bad token", "details": None}}
    with pytest.raises(AgentRejectedError) as raised:
        client_answering(lambda request: httpx.Response(401, json=body)).call_delete_bot(bot_id=BOT_ID)
    assert raised.value.status_code == 401
    assert raised.value.code == "unauthorized"


@pytest.mark.parametrize("error", [httpx.ConnectError("refused"), httpx.ReadTimeout("slow")])
def test_connection_failures_are_unavailable(error):
    def handler(request: httpx.Request) -> httpx.Response:
        raise error

    with pytest.raises(AgentUnavailableError):
        client_answering(handler).call_delete_bot(bot_id=BOT_ID)


@pytest.mark.parametrize(
    "response",
    [
        httpx.Response(200, text="<html>"),
        httpx.Response(200, json=[1]),
        httpx.Response(200, json={"response": "x"}),
    ],
)
def test_unparseable_replies_are_protocol_errors(response):
    with pytest.raises(AgentProtocolError):
        chat(client_answering(lambda request: response), bot_id=BOT_ID, message="hi", history=[])


def test_repr_never_shows_the_token():
    assert "s3cret" not in repr(client_answering(lambda request: httpx.Response(200)))


def test_health_has_a_short_deadline_of_its_own_while_search_keeps_the_long_one():
    deadlines: dict[str, float] = {}

    def handler(request: httpx.Request) -> httpx.Response:
        deadlines[request.url.path] = request.extensions["timeout"]["read"]
        if request.url.path == "/health":
            return httpx.Response(200, json={"status": "ok", "providers": {"llm": "extractive"}})
        return httpx.Response(200, json={"mode": "hybrid", "results": []})

    client = client_answering(handler)
    assert client.health().providers == {"llm": "extractive"}
    client.call_search(bot_id=BOT_ID, query="hi")

    assert deadlines["/health"] == HEALTH_TIMEOUT_SECONDS
    assert deadlines["/search"] == DEFAULT_TIMEOUT.read


class _DrippingBody(httpx.SyncByteStream):
    """A body arriving a byte every `gap_s`: each read is quick, the whole answer is not."""

    def __init__(self, body: bytes, gap_s: float) -> None:
        self._body, self._gap_s = body, gap_s

    def __iter__(self) -> Iterator[bytes]:
        for byte in self._body:
            time.sleep(self._gap_s)
            yield bytes([byte])


def test_an_answer_slower_than_the_total_deadline_is_a_timeout_though_every_byte_is_prompt():
    body = json.dumps({"mode": "hybrid", "results": [], "padding": "x" * 100}).encode()
    client = HttpAgentClient(
        base_url="http://agent.test",
        token="s3cret",
        total_timeout=0.3,
        transport=httpx.MockTransport(lambda request: httpx.Response(200, stream=_DrippingBody(body, 0.02))),
    )

    started = time.monotonic()
    with pytest.raises(AgentUnavailableError) as raised:
        client.call_search(bot_id=uuid.uuid4(), query="hi")

    assert raised.value.code == "agent_timeout"
    assert time.monotonic() - started < 1.0


def test_embed_sends_the_document_name_as_the_chunks_header():
    bodies: list[dict[str, Any]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        bodies.append(json.loads(request.content))
        return httpx.Response(
            200, json={"status": "success", "document_id": str(DOCUMENT_ID), "stored_vector_count": 1}
        )

    client_answering(handler).call_embed_and_store(
        bot_id=BOT_ID, document_id=DOCUMENT_ID, chunks=["a"], document_name="Handbook.pdf"
    )
    assert bodies[0]["document_name"] == "Handbook.pdf"


def test_search_sends_query_top_k_mode_and_parses_hits():
    seen: list[dict[str, Any]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/search"
        seen.append(json.loads(request.content))
        hit = {"document_id": str(DOCUMENT_ID), "chunk_index": 1, "text": "krill", "score": 0.8}
        return httpx.Response(
            200, json={"mode": "lexical", "results": [hit | {"dense_score": None, "lexical_score": 3.5}]}
        )

    result = client_answering(handler).call_search(bot_id=BOT_ID, query="krill?", top_k=5, mode="lexical")

    assert seen == [{"bot_id": str(BOT_ID), "query": "krill?", "top_k": 5, "mode": "lexical"}]
    assert result.mode == "lexical"
    assert [(h.document_id, h.chunk_index, h.score, h.dense_score, h.lexical_score) for h in result.hits] == [
        (DOCUMENT_ID, 1, 0.8, None, 3.5)
    ]


def test_search_reply_without_results_is_a_protocol_error():
    with pytest.raises(AgentProtocolError):
        client_answering(lambda request: httpx.Response(200, json={"mode": "dense"})).call_search(
            bot_id=BOT_ID, query="q"
        )
