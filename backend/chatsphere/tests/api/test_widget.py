"""The public chat widget: owner switches it on and off; visitors chat through a key, within its limits."""

from typing import Any

import pytest
from rest_framework.test import APIClient

from chatsphere.models import Bot, Conversation
from chatsphere.tests.factories import BotFactory, ConversationFactory
from chatsphere.tests.helpers import assert_error

# Committed data: the chat views' database steps run on the server's database threads (chatsphere/asyncdb.py).
pytestmark = pytest.mark.django_db(transaction=True)

SHOP = "https://shop.example"


@pytest.fixture
def bot(user, agent) -> Bot:
    bot = BotFactory.create(owner=user, name="Shop helper", welcome_message="Hi there!")
    agent.call_embed_and_store(bot_id=bot.id, document_id=bot.id, chunks=["Returns are free for 30 days."])
    return bot


def enable(api: APIClient, bot: Bot, origins: list[str]) -> dict[str, Any]:
    response = api.post(f"/api/bots/{bot.id}/widget/", {"allowed_origins": origins}, format="json")
    assert response.status_code == 200, response.content
    body: dict[str, Any] = response.json()
    return body


def start(key: str, origin: str | None = SHOP) -> tuple[APIClient, dict[str, Any]]:
    visitor = APIClient()
    headers: dict[str, Any] = {"HTTP_ORIGIN": origin} if origin else {}
    response = visitor.post(f"/api/widget/{key}/conversations/", **headers)
    assert response.status_code == 201, response.content
    body: dict[str, Any] = response.json()
    visitor.credentials(HTTP_X_VISITOR_TOKEN=body["visitor_token"], **headers)
    return visitor, body


def chat(visitor: APIClient, key: str, message: str, idempotency_key: str | None = None) -> Any:
    headers: dict[str, Any] = {"HTTP_IDEMPOTENCY_KEY": idempotency_key} if idempotency_key is not None else {}
    return visitor.post(f"/api/widget/{key}/chat/", {"message": message}, format="json", **headers)


def test_enabling_gives_a_key_and_keeps_it_when_origins_change(api, bot):
    first = enable(api, bot, [SHOP + "/", "HTTPS://Blog.Example"])
    assert first["widget_key"].startswith("pk_")
    assert first["widget_origins"] == ["https://blog.example", SHOP]
    second = enable(api, bot, [SHOP])
    assert second["widget_key"] == first["widget_key"]
    assert second["widget_origins"] == [SHOP]


@pytest.mark.parametrize("origins", [["shop.example"], ["https://shop.example/path"], "https://x.example"])
def test_an_origin_that_is_not_scheme_host_port_is_refused(api, bot, origins):
    response = api.post(f"/api/bots/{bot.id}/widget/", {"allowed_origins": origins}, format="json")
    assert_error(response, 400, "validation_error")
    bot.refresh_from_db()
    assert bot.widget_key is None


def test_only_the_owner_manages_the_widget(other_api, bot):
    assert_error(other_api.post(f"/api/bots/{bot.id}/widget/", {"allowed_origins": []}, format="json"), 404)
    assert_error(other_api.delete(f"/api/bots/{bot.id}/widget/"), 404)


def test_a_visitor_chats_with_the_bot_and_sees_only_their_conversation(api, bot):
    key = enable(api, bot, [SHOP])["widget_key"]
    assert APIClient().get(f"/api/widget/{key}/", HTTP_ORIGIN=SHOP).json() == {
        "name": "Shop helper",
        "welcome_message": "Hi there!",
    }
    ann, started = start(key)
    assert started["conversation"]["messages"] == []
    reply = chat(ann, key, "Are returns free?")
    assert reply.status_code == 200, reply.content
    assert reply.json()["bot_message"]["content"] == "Returns are free for 30 days."
    assert reply["Access-Control-Allow-Origin"] == SHOP

    bob, _ = start(key)
    assert bob.get(f"/api/widget/{key}/conversation/").json()["messages"] == []
    mine = ann.get(f"/api/widget/{key}/conversation/").json()
    assert [message["role"] for message in mine["messages"]] == ["USER", "BOT"]
    # Visitors' conversations are not the owner's: they never show up in the owner's list.
    assert api.get("/api/conversations/").json()["count"] == 0


def test_without_a_visitor_token_or_with_a_wrong_one_is_401(api, bot):
    key = enable(api, bot, [SHOP])["widget_key"]
    response = APIClient().get(f"/api/widget/{key}/conversation/")
    assert_error(response, 401)
    assert response["WWW-Authenticate"] == "Visitor"
    forged = APIClient()
    forged.credentials(HTTP_X_VISITOR_TOKEN="not-a-token")
    assert_error(chat(forged, key, "hello"), 401)


def test_a_key_of_one_bot_never_opens_another_bots_conversation(api, bot, user):
    other_bot = BotFactory.create(owner=user)
    key = enable(api, bot, [SHOP])["widget_key"]
    other_key = enable(api, other_bot, [SHOP])["widget_key"]
    visitor, _ = start(other_key)
    assert_error(visitor.get(f"/api/widget/{key}/conversation/"), 401)
    assert_error(chat(visitor, key, "Are returns free?"), 401)


def test_an_origin_not_on_the_list_is_403_without_cors_headers(api, bot):
    key = enable(api, bot, [SHOP])["widget_key"]
    response = APIClient().post(f"/api/widget/{key}/conversations/", HTTP_ORIGIN="https://evil.example")
    assert_error(response, 403, "origin_not_allowed")
    assert "Access-Control-Allow-Origin" not in response
    assert not Conversation.objects.filter(bot=bot).exists()


LOOKALIKE_ORIGINS = [
    "https://shop.example.evil.com",  # the allowed origin as a prefix
    "https://evilshop.example",  # ... as a suffix
    "https://shop.exampl",  # a prefix of the allowed origin
    "http://shop.example",  # another scheme
    "https://shop.example:8443",  # another port
    "https://shop.example.",  # a trailing dot
    "null",  # a sandboxed iframe or a file:// page
]


@pytest.mark.parametrize("origin", LOOKALIKE_ORIGINS)
def test_an_origin_that_only_looks_like_an_allowed_one_is_refused(api, bot, origin):
    key = enable(api, bot, [SHOP])["widget_key"]

    for response in (
        APIClient().get(f"/api/widget/{key}/", HTTP_ORIGIN=origin),
        APIClient().post(f"/api/widget/{key}/conversations/", HTTP_ORIGIN=origin),
    ):
        assert_error(response, 403, "origin_not_allowed")
        assert "Access-Control-Allow-Origin" not in response
    assert not Conversation.objects.filter(bot=bot).exists()


def test_the_allowed_origin_is_matched_whatever_the_case_of_its_host(api, bot):
    key = enable(api, bot, [SHOP])["widget_key"]

    response = APIClient().get(f"/api/widget/{key}/", HTTP_ORIGIN="https://Shop.Example")

    assert response.status_code == 200, response.content


def test_the_preflight_admits_the_allowed_origin_only(api, bot):
    key = enable(api, bot, [SHOP])["widget_key"]
    allowed = APIClient().options(
        f"/api/widget/{key}/chat/", HTTP_ORIGIN=SHOP, HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST"
    )
    assert allowed.status_code == 204
    assert allowed["Access-Control-Allow-Origin"] == SHOP
    assert "X-Visitor-Token" in allowed["Access-Control-Allow-Headers"]
    assert "Idempotency-Key" in allowed["Access-Control-Allow-Headers"]
    refused = APIClient().options(f"/api/widget/{key}/chat/", HTTP_ORIGIN="https://evil.example")
    assert_error(refused, 403)


def test_a_visitor_resending_with_the_same_idempotency_key_stores_the_question_once(api, bot, agent):
    key = enable(api, bot, [SHOP])["widget_key"]
    visitor, started = start(key)
    agent.unavailable = True
    assert_error(chat(visitor, key, "Are returns free?", "k-1"), 503, "agent_unavailable")
    agent.unavailable = False

    answered = chat(visitor, key, "Are returns free?", "k-1")
    replayed = chat(visitor, key, "Are returns free?", "k-1")

    assert answered.status_code == 200, answered.content
    assert replayed.json() == answered.json()
    conversation = Conversation.objects.get(pk=started["conversation"]["id"])
    assert [message.content for message in conversation.messages.filter(role="USER")] == ["Are returns free?"]
    assert len(agent.chat_requests) == 1


def test_a_visitors_idempotency_key_used_for_another_message_is_409(api, bot):
    key = enable(api, bot, [SHOP])["widget_key"]
    visitor, _ = start(key)
    assert chat(visitor, key, "first", "k-2").status_code == 200

    assert_error(chat(visitor, key, "second", "k-2"), 409, "idempotency_key_reused")
    assert_error(chat(visitor, key, "third", "has space"), 400, "validation_error")


def test_revoking_stops_the_key_at_once_and_removes_visitor_conversations(api, bot):
    key = enable(api, bot, [SHOP])["widget_key"]
    visitor, _ = start(key)
    owners = ConversationFactory.create(bot=bot)
    revoked = api.delete(f"/api/bots/{bot.id}/widget/")
    assert revoked.status_code == 200
    assert revoked.json()["widget_key"] is None
    assert_error(chat(visitor, key, "hello"), 404, "widget_not_found")
    assert_error(APIClient().get(f"/api/widget/{key}/", HTTP_ORIGIN=SHOP), 404, "widget_not_found")
    assert list(Conversation.objects.filter(bot=bot)) == [owners]
    assert enable(api, bot, [SHOP])["widget_key"] != key


def test_the_key_grants_nothing_of_the_owner_api(api, bot):
    key = enable(api, bot, [SHOP])["widget_key"]
    visitor, _ = start(key)
    visitor.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    assert_error(visitor.get("/api/bots/"), 401)
    assert_error(visitor.get(f"/api/documents/?bot={bot.id}"), 401)


def test_a_visitor_above_the_rate_gets_429_with_retry_after(api, bot, settings):
    settings.WIDGET_VISITOR_THROTTLE_RATE = "2/min"
    key = enable(api, bot, [SHOP])["widget_key"]
    visitor, _ = start(key)
    assert [chat(visitor, key, "Are returns free?").status_code for _ in range(2)] == [200, 200]
    limited = chat(visitor, key, "Are returns free?")
    assert_error(limited, 429)
    assert int(limited["Retry-After"]) > 0
    assert limited["Access-Control-Allow-Origin"] == SHOP  # the widget can read the wait
    other, _ = start(key)
    assert chat(other, key, "Are returns free?").status_code == 200


def test_a_key_above_its_rate_gets_429_for_every_visitor(api, bot, settings):
    settings.WIDGET_KEY_THROTTLE_RATE = "3/min"
    key = enable(api, bot, [SHOP])["widget_key"]
    visitor, _ = start(key)
    assert chat(visitor, key, "Are returns free?").status_code == 200
    assert APIClient().get(f"/api/widget/{key}/").status_code == 200
    limited = APIClient().post(f"/api/widget/{key}/conversations/")
    assert_error(limited, 429)
    assert int(limited["Retry-After"]) > 0


def test_new_conversations_are_limited_per_client_address(api, bot, settings):
    settings.WIDGET_START_THROTTLE_RATE = "1/min"
    key = enable(api, bot, [SHOP])["widget_key"]
    start(key)
    assert_error(APIClient().post(f"/api/widget/{key}/conversations/"), 429)
