"""The async half of HttpAgentClient (the chat view's): /chat and /chat/stream against httpx.MockTransport."""

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest

from chatsphere.services.agent_client import (
    HEARTBEAT,
    AgentUnavailableError,
    ChatCall,
    ChatEvent,
    ChatSource,
    HistoryItem,
    HttpAgentClient,
)
from testsupport.sse_endpoint import sse_endpoint

BOT_ID = uuid.uuid4()
DOCUMENT_ID = uuid.uuid4()
CALL = ChatCall(
    bot_id=BOT_ID, message="What do penguins eat?", history=[HistoryItem(role="user", content="hi")]
)
SOURCE = {"document_id": str(DOCUMENT_ID), "chunk_index": 0, "score": 0.8, "text": "Penguins eat krill."}

Handler = Callable[[httpx.Request], httpx.Response]


def sse(*events: tuple[str, Any]) -> bytes:
    return b"".join(f"event: {name}\ndata: {json.dumps(data)}\n\n".encode() for name, data in events)


def stream_events(handler: Handler) -> list[ChatEvent]:
    async def run() -> list[ChatEvent]:
        client = HttpAgentClient(
            base_url="http://agent.test", token="s3cret", async_transport=httpx.MockTransport(handler)
        )
        events: AsyncIterator[ChatEvent] = await client.open_chat_stream(call=CALL)
        return [event async for event in events]

    return asyncio.run(run())


def test_a_stream_is_parsed_into_events_and_sent_with_the_turn() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        body = sse(("sources", {"sources": [SOURCE]}), ("token", {"text": "Krill"}))
        body += b": heartbeat\n\n" + sse(
            ("token", {"text": "."}), ("done", {"response": "Krill.", "model": "m"})
        )
        return httpx.Response(200, content=body, headers={"content-type": "text/event-stream"})

    events = stream_events(handler)

    assert events == [
        ChatEvent("sources", {"sources": [SOURCE]}),
        ChatEvent("token", {"text": "Krill"}),
        HEARTBEAT,
        ChatEvent("token", {"text": "."}),
        ChatEvent("done", {"response": "Krill.", "model": "m"}),
    ]
    assert events[0].sources() == (ChatSource(DOCUMENT_ID, 0, 0.8, "Penguins eat krill."),)
    assert seen[0].url.path == "/chat/stream"
    assert seen[0].headers["Authorization"] == "Bearer s3cret"
    assert seen[0].headers["Accept"] == "text/event-stream"
    assert json.loads(seen[0].content)["history"] == [{"role": "user", "content": "hi"}]


def test_an_agent_error_before_the_stream_raises() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(503, json={"error": {"code": "provider_unavailable", "message": "down"}})

    with pytest.raises(AgentUnavailableError) as raised:
        stream_events(handler)

    assert raised.value.code == "provider_unavailable"


def test_a_stream_that_stops_before_done_ends_with_an_error_event() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=sse(("sources", {"sources": []}), ("token", {"text": "Kr"})))

    events = stream_events(handler)

    assert events[-1] == ChatEvent.failure(
        code="agent_error", message="The AI service ended its answer early.", retryable=True
    )


def test_the_json_chat_has_an_async_twin() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"response": "Krill.", "model": "m", "sources": [SOURCE]})

    async def run() -> Any:
        client = HttpAgentClient(
            base_url="http://agent.test", token="s3cret", async_transport=httpx.MockTransport(handler)
        )
        return await client.acall_chat(call=CALL)

    result = asyncio.run(run())

    assert (result.response, result.model, len(result.sources)) == ("Krill.", "m", 1)


# The production transport (aiohttp's pool under httpx's API) against real sockets: how each way an agent can
# fail reaches the user.


async def _listening(handle: Callable[[asyncio.StreamReader, asyncio.StreamWriter], Any]) -> asyncio.Server:
    return await asyncio.start_server(handle, "127.0.0.1", 0)


def _client_for(server: asyncio.Server | None, *, port: int = 0) -> HttpAgentClient:
    if server is not None:
        port = server.sockets[0].getsockname()[1]
    return HttpAgentClient(
        base_url=f"http://127.0.0.1:{port}", token="s3cret", timeout=httpx.Timeout(0.5, connect=0.5)
    )


def _json_chat_failure(
    agent: Callable[[asyncio.StreamReader, asyncio.StreamWriter], Any],
) -> AgentUnavailableError:
    """The error of one JSON chat against `agent`, a raw socket server standing in for the agent."""

    async def run() -> AgentUnavailableError:
        server = await _listening(agent)
        client = _client_for(server)
        with pytest.raises(AgentUnavailableError) as failure:
            await client.acall_chat(call=CALL)
        await client.aclose()
        server.close()
        return failure.value

    return asyncio.run(run())


def test_a_refused_connection_is_unreachable_not_a_timeout() -> None:
    async def run() -> AgentUnavailableError:
        server = await _listening(lambda reader, writer: None)
        port = server.sockets[0].getsockname()[1]
        server.close()
        await server.wait_closed()
        client = _client_for(None, port=port)
        with pytest.raises(AgentUnavailableError) as failure:
            await client.acall_chat(call=CALL)
        await client.aclose()
        return failure.value

    assert asyncio.run(run()).code == "agent_unreachable"


def test_an_agent_that_never_answers_is_a_timeout() -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(65536)
        await asyncio.sleep(5)

    assert _json_chat_failure(silent).code == "agent_timeout"


def test_an_agent_dying_mid_stream_ends_it_with_the_unavailable_error_of_a_json_chat() -> None:
    async def dies_after_sources(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(65536)
        writer.write(
            b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n"
        )
        event = sse(("sources", {"sources": [SOURCE]}))
        writer.write(b"%x\r\n%s\r\n" % (len(event), event))
        await writer.drain()
        writer.transport.abort()

    async def run() -> list[ChatEvent]:
        server = await _listening(dies_after_sources)
        client = _client_for(server)
        events = await client.open_chat_stream(call=CALL)
        received = [event async for event in events]
        await client.aclose()
        server.close()
        return received

    received = asyncio.run(run())
    assert received[0].name == "sources"
    assert received[-1].name == "error"
    # The JSON answer's code for the same failure.
    assert received[-1].data["error"]["code"] == "agent_unavailable"


def test_a_stream_of_heartbeats_only_is_cut_at_the_total_deadline() -> None:
    async def heartbeats_forever() -> AsyncIterator[bytes]:
        while True:
            await asyncio.sleep(0.01)
            yield b": heartbeat\n\n"

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            200, content=heartbeats_forever(), headers={"content-type": "text/event-stream"}
        )

    async def run() -> list[ChatEvent]:
        client = HttpAgentClient(
            base_url="http://agent.test",
            token="s3cret",
            stream_timeout=0.3,
            async_transport=httpx.MockTransport(handler),
        )
        events = await client.open_chat_stream(call=CALL)
        return [event async for event in events]

    received = asyncio.run(run())
    assert received[0] == HEARTBEAT
    assert received[-1] == ChatEvent.failure(
        code="agent_unavailable", message="The AI service took too long to answer.", retryable=True
    )


@pytest.mark.parametrize(
    "malformed",
    [
        ("token", {"text": 3}),
        ("done", {"response": "Krill."}),
        ("sources", {"sources": [{"document_id": "not-a-uuid", "chunk_index": 0, "score": 1, "text": "x"}]}),
        ("error", {"error": {"code": "x", "message": "y"}}),
        ("answer", {"text": "an event the client does not know"}),
    ],
)
def test_an_event_the_client_cannot_read_ends_the_stream_as_an_agent_error(
    malformed: tuple[str, Any],
) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=sse(("sources", {"sources": []}), malformed))

    events = stream_events(handler)

    assert events[-1] == ChatEvent.failure(
        code="agent_error", message="The AI service sent an invalid reply.", retryable=False
    )


def test_an_answer_that_is_not_http_is_unavailable_not_a_crash() -> None:
    async def garbage(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(65536)
        writer.write(b"\x16\x03\x01 garbage, then the connection closes")
        await writer.drain()
        writer.close()

    assert _json_chat_failure(garbage).code == "agent_unreachable"


def test_streamed_chats_one_after_another_share_one_connection_to_the_agent() -> None:
    """Over the production transport: a stream left unread after its last event cannot go back to the pool,
    and each chat opened a new connection (a socket, a handshake and an accept on both sides)."""
    body = sse(("token", {"text": "Hi"}), ("done", {"response": "Hi", "model": "m"}))

    async def run() -> list[int]:
        async with sse_endpoint("/chat/stream", body) as agent:
            client = HttpAgentClient(base_url=agent.url, token="s3cret")
            for _ in range(3):
                events = await client.open_chat_stream(call=CALL)
                assert [event.name async for event in events] == ["token", "done"]
        return agent.client_ports

    client_ports = asyncio.run(run())

    assert len(client_ports) == 3
    assert len(set(client_ports)) == 1
