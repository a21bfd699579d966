"""Another user's bot, document and conversation do not exist for you: 404 (or 400 on a `bot` field)."""

import pytest

from tests.e2e.api import error_of
from tests.e2e.conftest import UserFactory
from tests.e2e.facts import FERRY, LIGHTHOUSE

pytestmark = pytest.mark.slow


def test_every_request_on_another_users_objects_is_not_found_and_changes_nothing(make_user: UserFactory):
    alice, bob = make_user(), make_user()
    bot = alice.create_bot(name="Alice's bot")
    document = alice.upload_ready(bot_id=bot, name=LIGHTHOUSE.file_name, text=LIGHTHOUSE.text)
    conversation = alice.start_conversation(bot_id=bot)
    alice.ask(conversation, LIGHTHOUSE.question)
    client = bob.client

    answers = {
        "GET bot": client.get(f"/bots/{bot}/"),
        "PUT bot": client.put(f"/bots/{bot}/", json={"name": "Bob's now"}),
        "PATCH bot": client.patch(f"/bots/{bot}/", json={"is_active": False}),
        "GET document": client.get(f"/documents/{document}/"),
        "retry document": client.post(f"/documents/{document}/retry/"),
        "GET conversation": client.get(f"/conversations/{conversation}/"),
        "chat in conversation": bob.chat(conversation, "What does the lighthouse keeper feed her cats?"),
        "DELETE conversation": client.delete(f"/conversations/{conversation}/"),
        "DELETE document": client.delete(f"/documents/{document}/"),
        "DELETE bot": client.delete(f"/bots/{bot}/"),
    }

    assert {what: answer.status_code for what, answer in answers.items()} == dict.fromkeys(answers, 404)
    assert {error_of(answer)["code"] for answer in answers.values()} == {"not_found"}
    assert alice.client.get(f"/bots/{bot}/").json()["name"] == "Alice's bot"
    assert alice.client.get(f"/bots/{bot}/").json()["is_active"] is True
    assert alice.document(document)["status"] == "READY"
    assert [message["role"] for message in alice.messages(conversation)] == ["USER", "BOT"]


def test_another_users_bot_cannot_be_trained_or_chatted_with(make_user: UserFactory):
    alice, bob = make_user(), make_user()
    bot = alice.create_bot()
    client = bob.client

    upload = client.post(
        "/documents/", data={"bot": bot}, files={"file": (FERRY.file_name, FERRY.text.encode(), "text/plain")}
    )
    train_text = client.post("/documents/train_text/", json={"bot": bot, "text": FERRY.text})
    conversation = client.post("/conversations/", json={"bot": bot})

    for answer in (upload, train_text, conversation):
        assert answer.status_code == 400, answer.text
        error = error_of(answer)
        assert error["code"] == "validation_error"
        assert [detail["field"] for detail in error["details"]] == ["bot"]
    assert client.get("/documents/", params={"bot": bot}).json()["count"] == 0
    assert client.get("/conversations/", params={"bot": bot}).json()["count"] == 0
    assert alice.client.get("/documents/", params={"bot": bot}).json()["count"] == 0
