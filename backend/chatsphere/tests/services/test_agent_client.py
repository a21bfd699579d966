import json
import uuid

import httpx
import pytest

from chatsphere.services.agent_client import (
    AgentProtocolError,
    AgentRejectedError,
    AgentUnavailableError,
    HistoryItem,
    HttpAgentClient,
)

BOT_ID = uuid.uuid4()
DOCUMENT_ID = uuid.uuid4()


def client_answering(handler) -> HttpAgentClient:
    return HttpAgentClient(
        base_url="http://agent.test", token="s3cret", transport=httpx.MockTransport(handler)
    )


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

    result = client_answering(handler).call_chat(
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


def test_embed_and_delete_calls_hit_the_contract_paths():
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/embed_and_store":
            return httpx.Response(
                200, json={"status": "success", "document_id": str(DOCUMENT_ID), "stored_vector_count": 3}
            )
        if request.url.path == f"/documents/{DOCUMENT_ID}":
            assert request.url.params["bot_id"] == str(BOT_ID)
            return httpx.Response(200, json={"document_id": str(DOCUMENT_ID), "deleted_vector_count": 3})
        return httpx.Response(200, json={"bot_id": str(BOT_ID), "deleted": True})

    client = client_answering(handler)
    stored = client.call_embed_and_store(bot_id=BOT_ID, document_id=DOCUMENT_ID, chunks=["a", "b", "c"])
    assert stored.stored_vector_count == 3
    assert client.call_delete_document(bot_id=BOT_ID, document_id=DOCUMENT_ID) == 3
    assert client.call_delete_bot(bot_id=BOT_ID) is True


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
        client_answering(lambda request: response).call_chat(bot_id=BOT_ID, message="hi", history=[])


def test_repr_never_shows_the_token():
    assert "s3cret" not in repr(client_answering(lambda request: httpx.Response(200)))
