"""With the agent process stopped nothing is lost; once it is back, the same requests succeed."""

import pytest

from tests.e2e.api import cited_documents, error_of
from tests.e2e.conftest import UserFactory
from tests.e2e.facts import BAKERY, LIGHTHOUSE
from testsupport.stack import AgentServer

pytestmark = pytest.mark.slow


def test_an_agent_outage_answers_503_keeps_everything_and_recovers(
    make_user: UserFactory, agent: AgentServer
):
    user = make_user()
    bot = user.create_bot()
    document = user.upload_ready(bot_id=bot, name=LIGHTHOUSE.file_name, text=LIGHTHOUSE.text)
    conversation = user.start_conversation(bot_id=bot)

    agent.stop()
    try:
        chat_during_outage = user.chat(conversation, LIGHTHOUSE.question)
        messages_during_outage = user.messages(conversation)
        delete_during_outage = user.client.delete(f"/documents/{document}/")
        upload_during_outage = user.upload(bot_id=bot, name=BAKERY.file_name, text=BAKERY.text)
        processed_during_outage = user.wait_processed(upload_during_outage["id"])
    finally:
        agent.start()

    assert chat_during_outage.status_code == 503, chat_during_outage.text
    assert error_of(chat_during_outage)["code"] == "agent_unavailable"
    assert [(m["role"], m["content"]) for m in messages_during_outage] == [("USER", LIGHTHOUSE.question)]
    assert delete_during_outage.status_code == 503, delete_during_outage.text
    assert error_of(delete_during_outage)["code"] == "agent_unavailable"
    assert user.document(document)["status"] == "READY"
    assert processed_during_outage["status"] == "ERROR"
    assert processed_during_outage["error_message"]

    answer = user.ask(conversation, LIGHTHOUSE.question)
    assert LIGHTHOUSE.answer_words in answer["content"]
    assert document in cited_documents(answer)
    assert [m["role"] for m in user.messages(conversation)] == ["USER", "USER", "BOT"]
    retried = user.client.post(f"/documents/{upload_during_outage['id']}/retry/")
    assert retried.status_code == 202, retried.text
    assert user.wait_processed(upload_during_outage["id"])["status"] == "READY"
