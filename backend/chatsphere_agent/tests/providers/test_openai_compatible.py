"""The OpenAI-compatible chat model against a fake server at the HTTP boundary (httpx.MockTransport), and
once over its production transport against testsupport's stand-in LLM."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from chatsphere_agent.providers.base import AnswerRequest, HistoryTurn, ProviderError, RetrievedChunk
from chatsphere_agent.providers.openai_compatible import OpenAICompatibleChatModel
from chatsphere_agent.tests.fakes import answer_now, stream_now
from testsupport.sse_endpoint import sse_endpoint
from testsupport.standin_llm import LLMProfile, StandInLLM

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


def model_behind(handler: Handler, *, max_retries: int = 0) -> OpenAICompatibleChatModel:
    return OpenAICompatibleChatModel(
        base_url="http://llm.test/v1",
        api_key="k",
        default_model="llama3.2",
        timeout_seconds=5.0,
        max_retries=max_retries,
        backoff_seconds=0.01,
        transport=lambda: httpx.MockTransport(handler),
    )


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
    sent: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(200, json=completion("  4.2 m.  "))

    assert ask(model_behind(handler)) == "llama3.2|4.2 m."
    assert str(sent[0].url) == "http://llm.test/v1/chat/completions"
    assert sent[0].headers["Authorization"] == "Bearer k"
    body = json.loads(sent[0].content)
    assert (body["model"], body["stream"]) == ("llama3.2", False)
    assert "temperature" not in body
    assert [m["role"] for m in body["messages"]] == ["system", "user"]
    assert "It is 4.2 m wide." in body["messages"][0]["content"]


def test_history_goes_out_as_user_and_assistant_turns_before_the_question() -> None:
    sent: list[dict[str, Any]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(json.loads(request.content))
        return httpx.Response(200, json=completion("ok"))

    ask(
        model_behind(handler),
        history=[HistoryTurn(role="user", content="Hi"), HistoryTurn(role="assistant", content="Hello!")],
    )

    assert [(m["role"], m["content"]) for m in sent[0]["messages"][1:3]] == [
        ("user", "Hi"),
        ("assistant", "Hello!"),
    ]
    assert sent[0]["messages"][-1]["role"] == "user"


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


def test_a_retryable_failure_is_tried_again_until_the_server_answers() -> None:
    statuses = iter([503, 429, 200])

    def handler(request: httpx.Request) -> httpx.Response:
        status = next(statuses)
        return httpx.Response(status, json=completion("4.2 m.") if status == 200 else {"error": "busy"})

    assert ask(model_behind(handler, max_retries=2)) == "llama3.2|4.2 m."


def test_a_refused_request_is_not_tried_again() -> None:
    calls: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return httpx.Response(400, json={"error": {"message": "bad model"}})

    with pytest.raises(ProviderError) as raised:
        ask(model_behind(handler, max_retries=3))

    assert len(calls) == 1
    assert "bad model" in str(raised.value)


def test_a_reply_that_is_not_a_completion_is_unusable() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=b"<html>proxy login</html>")

    with pytest.raises(ProviderError) as raised:
        ask(model_behind(handler))

    assert raised.value.retryable is False


def test_an_error_reported_mid_stream_is_a_provider_error() -> None:
    body = sse_chunks("It is ")[: -len(b"data: [DONE]\n\n")] + b'data: {"error": {"message": "OOM"}}\n\n'

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=body, headers={"content-type": "text/event-stream"})

    with pytest.raises(ProviderError) as raised:
        stream_now(model_behind(handler), AnswerRequest(question="How wide?", context=[]))

    assert "OOM" in str(raised.value)
    assert raised.value.retryable is False


def test_a_stream_the_server_drops_midway_is_unavailable() -> None:
    async def dropped() -> AsyncIterator[bytes]:
        yield sse_chunks("It is ")[: -len(b"data: [DONE]\n\n")]
        raise httpx.ReadError("connection reset by peer")

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=dropped(), headers={"content-type": "text/event-stream"})

    with pytest.raises(ProviderError) as raised:
        stream_now(model_behind(handler), AnswerRequest(question="How wide?", context=[]))

    assert raised.value.retryable is True


@pytest.fixture(scope="module")
def standin_llm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StandInLLM]:
    llm = StandInLLM(
        profile=LLMProfile(ttft_s=0.05, tokens_per_s=200.0, answer_tokens=5),
        log_dir=Path(tmp_path_factory.mktemp("standin")),
    )
    yield llm
    llm.stop()


@pytest.mark.slow
def test_over_the_production_transport_both_calls_reach_a_real_server(standin_llm: StandInLLM) -> None:
    model = OpenAICompatibleChatModel(
        base_url=standin_llm.base_url,
        api_key="k",
        default_model="standin",
        timeout_seconds=10.0,
        max_retries=0,
        backoff_seconds=0.01,
    )
    request = AnswerRequest(question="How wide?", context=[])

    answer = answer_now(model, request)
    deltas = stream_now(model, request)

    assert answer.text
    assert len(deltas) == 5
    assert "".join(delta.text for delta in deltas).strip() == answer.text


def test_streamed_answers_one_after_another_share_one_connection_to_the_server() -> None:
    """Over the production transport: a stream closed at [DONE], before the body's end, cannot go back to the
    pool, and each answer opened a new connection to the LLM server."""

    async def run() -> list[int]:
        async with sse_endpoint("/v1/chat/completions", sse_chunks("It is ", "4.2 m.")) as server:
            model = OpenAICompatibleChatModel(
                base_url=f"{server.url}/v1",
                api_key="k",
                default_model="m",
                timeout_seconds=5.0,
                max_retries=0,
                backoff_seconds=0.01,
            )
            for _ in range(3):
                request = AnswerRequest(question="How wide?", context=[])
                assert [delta.text async for delta in model.stream(request=request)] == ["It is ", "4.2 m."]
        return server.client_ports

    client_ports = asyncio.run(run())

    assert len(client_ports) == 3
    assert len(set(client_ports)) == 1
