import pytest

from chatsphere.models import Chunk
from chatsphere.tests.factories import BotFactory, DocumentFactory
from chatsphere.tests.helpers import assert_error

pytestmark = pytest.mark.django_db


def test_the_owner_reads_a_documents_chunks_in_order(api, user):
    document = DocumentFactory.create(bot=BotFactory.create(owner=user))
    for index in (1, 0):
        Chunk.objects.create(document=document, index=index, content=f"part {index}", vector_id=f"x#{index}")
    body = api.get(f"/api/documents/{document.id}/chunks/").json()
    assert body["count"] == 2
    assert body["results"] == [{"index": 0, "content": "part 0"}, {"index": 1, "content": "part 1"}]


def test_another_users_document_chunks_are_404(other_api, user):
    document = DocumentFactory.create(bot=BotFactory.create(owner=user))
    assert_error(other_api.get(f"/api/documents/{document.id}/chunks/"), 404)
