"""The chat endpoint streaming under `Accept: text/event-stream`, through Django's ASGI handler."""

import asyncio
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
from django.test import AsyncClient
from rest_framework_simplejwt.tokens import RefreshToken

from chatsphere.asyncdb import in_db_thread
from chatsphere.models import Conversation, Message
from chatsphere.services.agent_client import InMemoryAgent
from chatsphere.tests.factories import BotFactory, ConversationFactory, DocumentFactory

# The view's database steps run on other threads than the test: they must see committed data.
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]

Event = tuple[str, Any]


@pytest.fixture
def conversation(user: Any, agent: InMemoryAgent) -> Conversation:
    bot = BotFactory.create(owner=user)
    notes = DocumentFactory.create(bot=bot, name="penguins.md")
    agent.call_embed_and_store(
        bot_id=bot.id, document_id=notes.id, chunks=["Penguins eat krill and small fish every day."]
    )
    conversation: Conversation = ConversationFactory.create(bot=bot, owner=user)
    return conversation


@dataclass
class ChatClient:
    client: AsyncClient
    token: str


@pytest.fixture
def client(user: Any) -> ChatClient:
    return ChatClient(client=AsyncClient(), token=str(RefreshToken.for_user(user).access_token))


async def post_chat(client: ChatClient, conversation: Conversation, body: dict[str, Any]) -> Any:
    return await client.client.post(
        f"/api/conversations/{conversation.id}/chat/",
        body,
        content_type="application/json",
        headers={"authorization": f"Bearer {client.token}", "accept": "text/event-stream"},
    )


async def events_of(content: AsyncIterator[bytes]) -> AsyncIterator[Event]:
    buffer = b""
    async for chunk in content:
        buffer += chunk
        while b"\n\n" in buffer:
            block, buffer = buffer.split(b"\n\n", 1)
            if block.startswith(b":"):
                continue
            fields = dict(line.split(": ", 1) for line in block.decode().splitlines())
            yield fields["event"], json.loads(fields["data"])


async def all_events(response: Any) -> list[Event]:
    return [event async for event in events_of(response.streaming_content)]


def messages(conversation: Conversation) -> list[tuple[str, str, bool]]:
    return list(conversation.messages.values_list("role", "content", "complete"))


async def saved_messages_once_there_are(
    count: int, conversation: Conversation
) -> list[tuple[str, str, bool]]:
    deadline = time.monotonic() + 10
    saved = await in_db_thread(messages)(conversation)
    for _ in range(200):
        if len(saved) >= count or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.05)
        saved = await in_db_thread(messages)(conversation)
    return saved


async def test_a_turn_streams_the_user_message_sources_tokens_and_the_saved_answer(
    client: ChatClient, conversation: Conversation
) -> None:
    response = await post_chat(client, conversation, {"message": "What do penguins eat?"})

    assert response.status_code == 200
    assert response["Content-Type"] == "text/event-stream"
    events = await all_events(response)
    names = [name for name, _ in events]
    assert names[:2] == ["user_message", "sources"]
    assert names[-1] == "done"
    assert set(names[2:-1]) == {"token"}
    assert len(names) > 4
    assert events[0][1]["content"] == "What do penguins eat?"
    assert events[1][1]["sources"][0]["document_name"] == "penguins.md"
    streamed = "".join(data["text"] for name, data in events if name == "token")
    bot_message = events[-1][1]["bot_message"]
    assert bot_message["content"] == streamed
    assert bot_message["sources"] == events[1][1]["sources"]
    saved = await in_db_thread(messages)(conversation)
    assert saved == [("USER", "What do penguins eat?", True), ("BOT", streamed, True)]


async def test_an_agent_down_before_the_stream_is_a_json_503_and_keeps_the_message(
    client: ChatClient, conversation: Conversation, agent: InMemoryAgent
) -> None:
    agent.unavailable = True

    response = await post_chat(client, conversation, {"message": "What do penguins eat?"})

    assert response.status_code == 503
    assert response["Content-Type"] == "application/json"
    assert response.json()["error"]["code"] == "agent_unavailable"
    assert await in_db_thread(messages)(conversation) == [("USER", "What do penguins eat?", True)]


async def test_a_failure_mid_stream_is_an_error_event_and_keeps_the_message(
    client: ChatClient, conversation: Conversation, agent: InMemoryAgent
) -> None:
    agent.fail_stream_after_tokens = 2

    events = await all_events(await post_chat(client, conversation, {"message": "What do penguins eat?"}))

    assert [name for name, _ in events] == ["user_message", "sources", "token", "token", "error"]
    assert events[-1][1]["error"]["retryable"] is True
    assert await in_db_thread(messages)(conversation) == [("USER", "What do penguins eat?", True)]


async def test_bad_input_is_a_json_400_not_a_stream(client: ChatClient, conversation: Conversation) -> None:
    response = await post_chat(client, conversation, {"message": "   "})

    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"
    assert response.json()["error"]["code"] == "validation_error"
    assert await in_db_thread(messages)(conversation) == []


async def test_a_client_leaving_after_the_first_token_still_gets_the_whole_answer_saved(
    client: ChatClient, conversation: Conversation, agent: InMemoryAgent
) -> None:
    agent.stream_token_delay_s = 0.05
    response = await post_chat(client, conversation, {"message": "What do penguins eat?"})
    content = response.streaming_content
    async for name, _ in events_of(content):
        if name == "token":
            break
    await content.aclose()  # the client is gone

    saved = await saved_messages_once_there_are(2, conversation)
    assert saved == [
        ("USER", "What do penguins eat?", True),
        ("BOT", "Penguins eat krill and small fish every day.", True),
    ]
    assert await in_db_thread(Message.objects.filter(role=Message.Role.BOT).count)() == 1
