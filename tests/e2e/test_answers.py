"""Answers come from the asking user's own documents, cite them, and stop citing a deleted one."""

import pytest

from tests.e2e.api import cited_documents
from tests.e2e.conftest import UserFactory
from tests.e2e.facts import BAKERY, FERRY, LIGHTHOUSE

pytestmark = pytest.mark.slow


def test_each_user_is_answered_from_their_own_documents_only(make_user: UserFactory):
    alice, bob = make_user(), make_user()
    alice_bot, bob_bot = alice.create_bot(), bob.create_bot()
    alice_document = alice.upload_ready(bot_id=alice_bot, name=LIGHTHOUSE.file_name, text=LIGHTHOUSE.text)
    bob_document = bob.upload_ready(bot_id=bob_bot, name=FERRY.file_name, text=FERRY.text)
    alice_conversation = alice.start_conversation(bot_id=alice_bot)
    bob_conversation = bob.start_conversation(bot_id=bob_bot)

    alice_answer = alice.ask(alice_conversation, LIGHTHOUSE.question)
    bob_answer = bob.ask(bob_conversation, FERRY.question)
    bob_asks_about_alices_fact = bob.ask(bob.start_conversation(bot_id=bob_bot), LIGHTHOUSE.question)

    assert LIGHTHOUSE.answer_words in alice_answer["content"]
    assert set(cited_documents(alice_answer)) == {alice_document}
    source = alice_answer["sources"][0]
    assert source["chunk_index"] == 0
    assert source["document_name"] == LIGHTHOUSE.file_name
    assert LIGHTHOUSE.answer_words in source["text"]
    assert 0.0 < source["score"] <= 1.0
    assert FERRY.answer_words in bob_answer["content"]
    assert set(cited_documents(bob_answer)) == {bob_document}
    assert alice_document not in cited_documents(bob_asks_about_alices_fact)
    assert LIGHTHOUSE.answer_words not in bob_asks_about_alices_fact["content"]


def test_a_bot_cites_the_document_that_answers_the_question(make_user: UserFactory):
    user = make_user()
    bot = user.create_bot()
    lighthouse = user.upload_ready(bot_id=bot, name=LIGHTHOUSE.file_name, text=LIGHTHOUSE.text)
    bakery = user.upload_ready(bot_id=bot, name=BAKERY.file_name, text=BAKERY.text)
    conversation = user.start_conversation(bot_id=bot)

    about_lighthouse = user.ask(conversation, LIGHTHOUSE.question)
    about_bakery = user.ask(conversation, BAKERY.question)

    assert cited_documents(about_lighthouse)[0] == lighthouse
    assert LIGHTHOUSE.answer_words in about_lighthouse["content"]
    assert cited_documents(about_bakery)[0] == bakery
    assert BAKERY.answer_words in about_bakery["content"]


def test_a_deleted_document_is_no_longer_cited(make_user: UserFactory):
    user = make_user()
    bot = user.create_bot()
    lighthouse = user.upload_ready(bot_id=bot, name=LIGHTHOUSE.file_name, text=LIGHTHOUSE.text)
    bakery = user.upload_ready(bot_id=bot, name=BAKERY.file_name, text=BAKERY.text)
    before = user.ask(user.start_conversation(bot_id=bot), LIGHTHOUSE.question)

    deleted = user.client.delete(f"/documents/{lighthouse}/")

    assert lighthouse in cited_documents(before)
    assert deleted.status_code == 204, deleted.text
    assert user.client.get(f"/documents/{lighthouse}/").status_code == 404
    # A new conversation: no earlier answer in the history can carry the deleted fact along.
    conversation = user.start_conversation(bot_id=bot)
    after = user.ask(conversation, LIGHTHOUSE.question)
    assert lighthouse not in cited_documents(after)
    assert LIGHTHOUSE.answer_words not in after["content"]
    still_answered = user.ask(conversation, BAKERY.question)
    assert cited_documents(still_answered)[0] == bakery
