"""`POST /chat/stream` over HTTP: event order, mid-stream failures, heartbeats, JSON errors up front."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

from fastapi.testclient import TestClient

from chatsphere_agent.config import AgentSettings
from chatsphere_agent.providers.base import ProviderError
from chatsphere_agent.providers.factory import Providers
from chatsphere_agent.tests.conftest import SettingsFactory, client_for
from chatsphere_agent.tests.factories import chat_payload, embed_payload
from chatsphere_agent.tests.fakes import (
    FailingChatModel,
    FailingEmbeddings,
    RecordingChatModel,
    SlowChatModel,
)
from chatsphere_agent.tests.test_main import TELESCOPE_DOC, assert_error_shape

Event = tuple[str, Any]


def parse_events(body: str) -> tuple[list[Event], int]:
    """(events, heartbeats) of a complete event stream."""
    events: list[Event] = []
    heartbeats = 0
    for block in body.split("\n\n"):
        if not block.strip():
            continue
        if block.startswith(":"):
            heartbeats += 1
            continue
        fields = dict(line.split(": ", 1) for line in block.splitlines())
        events.append((fields["event"], json.loads(fields["data"])))
    return events, heartbeats


def stream(client: TestClient, payload: dict[str, Any]) -> tuple[list[Event], int]:
    response = client.post("/chat/stream", json=payload)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/event-stream")
    return parse_events(response.text)


def test_sources_then_tokens_then_done_with_the_whole_answer(
    embedded_providers: Providers, settings: AgentSettings
) -> None:
    client = client_for(embedded_providers, settings)
    payload = embed_payload(chunks=TELESCOPE_DOC)
    client.post("/embed_and_store", json=payload)
    question = chat_payload(bot_id=payload["bot_id"], message="How wide is the Zephyr-9 mirror?")
    answer = client.post("/chat", json=question).json()

    events, _ = stream(client, question)

    names = [name for name, _ in events]
    assert (names[0], names[-1]) == ("sources", "done")
    assert set(names[1:-1]) == {"token"}
    assert events[0][1]["sources"] == answer["sources"]
    streamed = "".join(data["text"] for name, data in events if name == "token")
    assert streamed == events[-1][1]["response"] == answer["response"]
    assert events[-1][1]["model"] == "extractive"


def test_one_llm_call_per_streamed_turn(embedded_providers: Providers, settings: AgentSettings) -> None:
    llm = RecordingChatModel(reply="four point two meters")
    client = client_for(replace(embedded_providers, chat_model=llm), settings)

    events, _ = stream(client, chat_payload(model="my-model"))

    assert len(llm.calls) == 1
    assert [data["text"] for name, data in events if name == "token"] == ["four ", "point ", "two ", "meters"]
    assert events[-1] == ("done", {"response": "four point two meters", "model": "my-model"})


def test_the_done_text_is_exactly_the_streamed_tokens(
    embedded_providers: Providers, settings: AgentSettings
) -> None:
    llm = RecordingChatModel(reply="It is 4.2 m wide. \n")
    client = client_for(replace(embedded_providers, chat_model=llm), settings)

    events, _ = stream(client, chat_payload())

    streamed = "".join(data["text"] for name, data in events if name == "token")
    assert streamed == llm.reply
    assert events[-1][1]["response"] == streamed


def test_a_model_failing_mid_stream_ends_it_with_an_error_event(
    embedded_providers: Providers, settings: AgentSettings
) -> None:
    outage = ProviderError("connection reset", provider="openai", retryable=True)
    llm = FailingChatModel(error=outage, deltas_before_failing=2)
    client = client_for(replace(embedded_providers, chat_model=llm), settings)

    events, _ = stream(client, chat_payload())

    assert [name for name, _ in events] == ["sources", "token", "token", "error"]
    error = events[-1][1]["error"]
    assert (error["code"], error["retryable"]) == ("provider_unavailable", True)
    assert "openai" in error["message"]


def test_a_silent_model_gets_heartbeats(
    embedded_providers: Providers, make_settings: SettingsFactory
) -> None:
    slow = SlowChatModel(delay_s=0.35)
    client = client_for(
        replace(embedded_providers, chat_model=slow), make_settings(stream_heartbeat_seconds=0.1)
    )

    events, heartbeats = stream(client, chat_payload())

    assert heartbeats >= 2
    assert [name for name, _ in events] == ["sources", "token", "done"]


def test_failures_before_the_stream_are_json_errors(
    embedded_providers: Providers, settings: AgentSettings
) -> None:
    client = client_for(replace(embedded_providers, embeddings=FailingEmbeddings(retryable=True)), settings)

    down = client.post("/chat/stream", json=chat_payload())
    invalid = client.post("/chat/stream", json={**chat_payload(), "message": ""})
    unauthorized = client.post("/chat/stream", json=chat_payload(), headers={"Authorization": "Bearer nope"})

    assert (down.status_code, invalid.status_code, unauthorized.status_code) == (503, 422, 401)
    assert_error_shape(down.json(), "provider_unavailable")
    assert_error_shape(invalid.json(), "validation_error")
    assert_error_shape(unauthorized.json(), "unauthorized")


def test_the_schema_declares_an_event_stream(embedded_providers: Providers, settings: AgentSettings) -> None:
    schema = client_for(embedded_providers, settings).get("/openapi.json").json()

    operation = schema["paths"]["/chat/stream"]["post"]

    assert operation["operationId"] == "chat_stream"
    assert "text/event-stream" in operation["responses"]["200"]["content"]
    assert {"400", "401", "422", "502", "503"} <= set(operation["responses"])
