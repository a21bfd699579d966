import pytest
from django.db import IntegrityError

from chatsphere.models import Chunk, Message
from chatsphere.tests.factories import BotFactory, ConversationFactory, DocumentFactory, MessageFactory

pytestmark = pytest.mark.django_db


def test_bot_temperature_outside_range_is_refused_by_the_database():
    with pytest.raises(IntegrityError):
        BotFactory.create(temperature=2.5)


def test_chunk_index_is_unique_per_document():
    document = DocumentFactory.create()
    Chunk.objects.create(document=document, index=0, content="a", vector_id=f"{document.id}#0")
    with pytest.raises(IntegrityError):
        Chunk.objects.create(document=document, index=0, content="b", vector_id=f"{document.id}#0")


def test_messages_come_back_in_the_order_they_were_written():
    conversation = ConversationFactory.create()
    written = [MessageFactory.create(conversation=conversation, content=f"m{i}").content for i in range(4)]
    assert [m.content for m in Message.objects.filter(conversation=conversation)] == written


def test_deleting_a_bot_deletes_its_documents_chunks_and_conversations():
    document = DocumentFactory.create()
    Chunk.objects.create(document=document, index=0, content="a", vector_id=f"{document.id}#0")
    conversation = ConversationFactory.create(bot=document.bot)
    MessageFactory.create(conversation=conversation)
    document.bot.delete()
    assert not Chunk.objects.exists()
    assert not Message.objects.exists()
