"""The OpenAI-compatible chat model against a fake server at the HTTP boundary (httpx.MockTransport)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from langchain_openai import ChatOpenAI
from pydantic import SecretStr

from chatsphere_agent.providers.base import AnswerRequest, ProviderError, RetrievedChunk
from chatsphere_agent.providers.openai_compatible import OpenAICompatibleChatModel
from chatsphere_agent.tests.fakes import answer_now, stream_now

Handler = Callable[[httpx.Request], httpx.Response]


def completion(text: str) -> dict[str, Any]:
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 0,
        "model": "whatever",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
    }


def model_behind(handler: Handler) -> OpenAICompatibleChatModel:
    chat_model = ChatOpenAI(
        model_name="llama3.2",
        openai_api_base="http://llm.test/v1",
        openai_api_key=SecretStr("k"),
        max_retries=0,
        http_async_client=httpx.AsyncClient(transport=httpx.MockTransport(handler)),
    )
    return OpenAICompatibleChatModel(chat_model=chat_model, default_model="llama3.2")


def ask(chat_model: OpenAICompatibleChatModel, **overrides: Any) -> str:
    arguments: dict[str, Any] = {
        "question": "How wide is the mirror?",
        "context": [RetrievedChunk(document_id="d", chunk_index=0, text="It is 4.2 m wide.", score=0.8)],
        "history": [],
        "system_prompt": None,
        "model": None,
        "temperature": None,
    }
    arguments.update(overrides)
    answer = answer_now(chat_model, AnswerRequest(**arguments))
    return f"{answer.model}|{answer.text}"


def test_sends_the_shared_prompt_and_the_default_model() -> None:
    sent: list[dict[str, Any]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(json.loads(request.content))
        return httpx.Response(200, json=completion("  4.2 m.  "))

    assert ask(model_behind(handler)) == "llama3.2|4.2 m."
    assert sent[0]["model"] == "llama3.2"
    assert [m["role"] for m in sent[0]["messages"]] == ["system", "user"]
    assert "It is 4.2 m wide." in sent[0]["messages"][0]["content"]


def test_a_request_may_pick_its_own_model_and_temperature_on_the_same_client() -> None:
    sent: list[dict[str, Any]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(json.loads(request.content))
        return httpx.Response(200, json=completion("ok"))

    model = model_behind(handler)

    assert ask(model, model="qwen2.5", temperature=0.1) == "qwen2.5|ok"
    assert ask(model) == "llama3.2|ok"
    assert (sent[0]["model"], sent[0]["temperature"]) == ("qwen2.5", 0.1)
    assert sent[1]["model"] == "llama3.2"


@pytest.mark.parametrize(
    ("status", "retryable"), [(503, True), (429, True), (501, False), (404, False), (400, False)]
)
def test_server_errors_become_provider_errors(status: int, retryable: bool) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, json={"error": {"message": "nope"}})

    with pytest.raises(ProviderError) as raised:
        ask(model_behind(handler))

    assert raised.value.retryable is retryable
    assert str(status) in str(raised.value)


def test_an_unreachable_server_is_retryable() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    with pytest.raises(ProviderError) as raised:
        ask(model_behind(handler))

    assert raised.value.retryable is True
    assert raised.value.provider == "openai"


def test_an_empty_answer_is_an_unusable_reply_as_with_every_chat_model() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=completion("   "))

    with pytest.raises(ProviderError) as raised:
        ask(model_behind(handler))

    assert (raised.value.provider, raised.value.retryable) == ("openai", False)
    assert "no answer text" in str(raised.value)


def sse_chunks(*pieces: str) -> bytes:
    events = [
        {
            "id": "chatcmpl-1",
            "object": "chat.completion.chunk",
            "created": 0,
            "model": "whatever",
            "choices": [{"index": 0, "delta": {"content": piece}, "finish_reason": None}],
        }
        for piece in pieces
    ]
    return b"".join(f"data: {json.dumps(event)}\n\n".encode() for event in events) + b"data: [DONE]\n\n"


def test_streams_the_servers_deltas_in_order_from_one_streaming_request() -> None:
    sent: list[dict[str, Any]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(json.loads(request.content))
        return httpx.Response(
            200,
            content=sse_chunks("It is ", "4.2 m ", "wide."),
            headers={"content-type": "text/event-stream"},
        )

    request = AnswerRequest(question="How wide?", context=[], model="qwen")
    deltas = stream_now(model_behind(handler), request)

    assert [delta.text for delta in deltas] == ["It is ", "4.2 m ", "wide."]
    assert {delta.model for delta in deltas} == {"qwen"}
    assert len(sent) == 1
    assert sent[0]["stream"] is True


def test_a_stream_that_fails_is_a_provider_error() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(503, json={"error": {"message": "overloaded"}})

    with pytest.raises(ProviderError) as caught:
        stream_now(model_behind(handler), AnswerRequest(question="How wide?", context=[]))

    assert caught.value.retryable
