import logging
from typing import Any

import pytest
from rest_framework.test import APIClient

from chatsphere.models import Conversation, Message
from chatsphere.tests.factories import BotFactory, ConversationFactory, DocumentFactory, MessageFactory
from chatsphere.tests.helpers import assert_error

# Committed data: the chat views' database steps run on the server's database threads (chatsphere/asyncdb.py).
pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def conversation(user, agent):
    bot = BotFactory.create(owner=user, system_prompt="Be kind.", model="gemini-2.5-flash", temperature=0.3)
    agent.call_embed_and_store(
        bot_id=bot.id, document_id=bot.id, chunks=["Penguins eat krill.", "Paris is in France."]
    )
    return ConversationFactory.create(bot=bot)


def chat(client: APIClient, conversation: Conversation, message: str) -> Any:
    return client.post(f"/api/conversations/{conversation.id}/chat/", {"message": message}, format="json")


def test_create_and_list_conversations(api, user):
    bot = BotFactory.create(owner=user)
    created = api.post("/api/conversations/", {"bot": str(bot.id)}, format="json")
    assert created.status_code == 201
    assert created.json()["bot"] == str(bot.id)
    assert api.get(f"/api/conversations/?bot={bot.id}").json()["count"] == 1


def test_cannot_start_a_conversation_with_another_users_bot(other_api):
    error = assert_error(
        other_api.post("/api/conversations/", {"bot": str(BotFactory.create().id)}, format="json"),
        400,
        "validation_error",
    )
    assert error["details"][0]["field"] == "bot"
    assert not Conversation.objects.exists()


def test_chat_saves_both_messages_with_sources(api, conversation, agent):
    response = chat(api, conversation, "What do penguins eat?")
    assert response.status_code == 200
    body = response.json()
    assert body["user_message"]["role"] == "USER"
    assert body["bot_message"]["role"] == "BOT"
    assert body["bot_message"]["content"] == "Penguins eat krill."
    assert body["bot_message"]["sources"][0]["text"] == "Penguins eat krill."
    assert set(body["bot_message"]["sources"][0]) == {
        "document_id",
        "document_name",
        "chunk_index",
        "score",
        "text",
    }

    detail = api.get(f"/api/conversations/{conversation.id}/").json()
    assert [m["role"] for m in detail["messages"]] == ["USER", "BOT"]
    # The chat renders its messages without DRF (api/chat.py): exactly as the conversation shows them.
    assert detail["messages"] == [body["user_message"], body["bot_message"]]
    sent = agent.chat_requests[-1]
    assert (sent["system_prompt"], sent["model"], sent["temperature"]) == (
        "Be kind.",
        "gemini-2.5-flash",
        0.3,
    )


def test_chat_sends_recent_history_with_assistant_roles(api, conversation, agent, settings):
    settings.CHAT_HISTORY_TURNS = 2
    MessageFactory.create(conversation=conversation, role=Message.Role.USER, content="first")
    MessageFactory.create(conversation=conversation, role=Message.Role.USER, content="hi")
    MessageFactory.create(conversation=conversation, role=Message.Role.BOT, content="hello")
    chat(api, conversation, "Where is Paris?")
    history = agent.chat_requests[-1]["history"]
    assert [(item.role, item.content) for item in history] == [("user", "hi"), ("assistant", "hello")]


def test_agent_down_is_503_keeps_the_user_message_and_a_resend_works(api, conversation, agent):
    agent.unavailable = True
    assert_error(chat(api, conversation, "What do penguins eat?"), 503, "agent_unavailable")
    assert list(conversation.messages.values_list("role", "content")) == [("USER", "What do penguins eat?")]

    agent.unavailable = False
    assert chat(api, conversation, "What do penguins eat?").status_code == 200
    assert conversation.messages.filter(role=Message.Role.BOT).count() == 1


def test_chat_with_an_inactive_bot_is_409(api, conversation):
    conversation.bot.is_active = False
    conversation.bot.save()
    assert_error(chat(api, conversation, "hello"), 409, "bot_inactive")
    assert not conversation.messages.exists()


def test_empty_or_missing_message_is_400(api, conversation):
    assert_error(chat(api, conversation, "   "), 400, "validation_error")
    assert_error(api.post(f"/api/conversations/{conversation.id}/chat/", {}, format="json"), 400)
    assert not conversation.messages.exists()


def test_chat_is_throttled_after_the_rate_with_retry_after(api, conversation, settings):
    settings.CHAT_THROTTLE_RATE = "3/min"
    for _ in range(3):
        assert chat(api, conversation, "hello").status_code == 200
    throttled = chat(api, conversation, "hello")
    assert_error(throttled, 429, "throttled")
    assert int(throttled["Retry-After"]) > 0


def test_another_users_conversation_is_404(other_api, conversation):
    assert_error(other_api.get(f"/api/conversations/{conversation.id}/"), 404)
    assert_error(chat(other_api, conversation, "hello"), 404)
    assert_error(other_api.delete(f"/api/conversations/{conversation.id}/"), 404)
    assert not conversation.messages.exists()
    assert other_api.get("/api/conversations/").json()["count"] == 0


def test_a_deactivated_users_token_is_401_and_stores_nothing(api, user, conversation):
    user.is_active = False
    user.save(update_fields=["is_active"])
    assert_error(chat(api, conversation, "hello"), 401)
    assert not conversation.messages.exists()


def test_a_common_chat_turn_checks_its_user_inside_the_conversations_query(
    api, conversation, settings, caplog
):
    settings.DEBUG = True  # Django then logs each query, on whichever thread runs it
    with caplog.at_level(logging.DEBUG, logger="django.db.backends"):
        assert chat(api, conversation, "What do penguins eat?").status_code == 200
    queries = [str(getattr(record, "sql", "")) for record in caplog.records]
    selects = [sql for sql in queries if sql.startswith("SELECT")]
    assert not [sql for sql in selects if 'FROM "auth_user"' in sql], "a query of its own for the user"
    assert any('FROM "chatsphere_conversation"' in sql and 'JOIN "auth_user"' in sql for sql in selects)


@pytest.mark.parametrize(
    "accept", ["application/json;q=0.9, text/event-stream;q=0.1", "application/*", "text/html, */*;q=0.1"]
)
def test_other_accept_headers_are_negotiated_as_drf_does(api, conversation, accept):
    response = api.post(
        f"/api/conversations/{conversation.id}/chat/",
        {"message": "What do penguins eat?"},
        format="json",
        HTTP_ACCEPT=accept,
    )
    assert response.status_code == 200
    assert response.json()["bot_message"]["content"] == "Penguins eat krill."


def test_a_message_with_surrounding_spaces_is_stored_trimmed_as_the_serializer_does(api, conversation):
    assert chat(api, conversation, "  What do penguins eat?  ").json()["user_message"]["content"] == (
        "What do penguins eat?"
    )


def test_sources_name_their_documents_of_this_bot_only(api, user, agent):
    bot = BotFactory.create(owner=user)
    notes = DocumentFactory.create(bot=bot, name="penguins.md")
    elsewhere = DocumentFactory.create(bot=BotFactory.create(owner=user), name="secret.md")
    agent.call_embed_and_store(bot_id=bot.id, document_id=notes.id, chunks=["Penguins eat krill."])
    agent.call_embed_and_store(bot_id=bot.id, document_id=elsewhere.id, chunks=["Penguins eat fish."])

    sources = chat(api, ConversationFactory.create(bot=bot), "What do penguins eat?").json()["bot_message"][
        "sources"
    ]

    names = {source["document_id"]: source["document_name"] for source in sources}
    assert names == {str(notes.id): "penguins.md", str(elsewhere.id): None}


def _send(client: APIClient, conversation: Conversation, message: str, key: str) -> Any:
    return client.post(
        f"/api/conversations/{conversation.id}/chat/",
        {"message": message},
        format="json",
        HTTP_IDEMPOTENCY_KEY=key,
    )


def test_resending_with_the_same_idempotency_key_reuses_the_stored_question(api, conversation, agent):
    agent.unavailable = True
    assert_error(_send(api, conversation, "Where do penguins live?", "k-1"), 503)
    assert_error(_send(api, conversation, "Where do penguins live?", "k-1"), 503)
    agent.unavailable = False

    answered = _send(api, conversation, "Where do penguins live?", "k-1")
    replayed = _send(api, conversation, "Where do penguins live?", "k-1")

    assert answered.status_code == 200
    assert replayed.json() == answered.json()
    assert list(conversation.messages.values_list("role", flat=True)) == [Message.Role.USER, Message.Role.BOT]
    assert len(agent.chat_requests) == 1
    assert agent.chat_requests[0]["history"] == []  # the question is not history of itself


def test_an_idempotency_key_used_for_another_message_is_409(api, conversation):
    assert _send(api, conversation, "first", "k-2").status_code == 200

    assert_error(_send(api, conversation, "second", "k-2"), 409, "idempotency_key_reused")
    assert conversation.messages.count() == 2


def test_a_malformed_idempotency_key_is_400_and_stores_nothing(api, conversation):
    assert_error(_send(api, conversation, "hello", "has space"), 400, "validation_error")
    assert_error(_send(api, conversation, "hello", "x" * 101), 400, "validation_error")
    assert not conversation.messages.exists()


def test_chat_sends_the_bots_retrieval_settings(api, conversation, agent):
    bot = conversation.bot
    bot.retrieval_top_k, bot.retrieval_min_score = 7, 0.6
    bot.save()
    chat(api, conversation, "What do penguins eat?")
    sent = agent.chat_requests[-1]
    assert (sent["top_k"], sent["min_score"]) == (7, 0.6)
