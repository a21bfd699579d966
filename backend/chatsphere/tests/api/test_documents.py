from typing import Any
from uuid import UUID

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from chatsphere.models import Chunk, Document
from chatsphere.tests.factories import BotFactory, DocumentFactory
from chatsphere.tests.helpers import assert_error
from chatsphere.tests.services.test_document_service import HTML_PAGE, pptx_with, xlsx_with

pytestmark = pytest.mark.django_db

TEXT = "Penguins live in the southern hemisphere.\n\nThey eat fish and krill."


@pytest.fixture
def bot(user):
    return BotFactory.create(owner=user)


def upload(client: APIClient, bot_id: UUID, name: str, content: bytes) -> Any:
    return client.post("/api/documents/", {"bot": str(bot_id), "file": SimpleUploadedFile(name, content)})


def test_upload_is_accepted_processing_then_ingested_ready(
    api, bot, agent, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = upload(api, bot.id, "penguins.txt", TEXT.encode())
    assert response.status_code == 202
    assert response.json()["status"] == "PROCESSING"

    document = Document.objects.get(pk=response.json()["id"])
    assert document.status == Document.Status.READY
    assert document.chunk_count == Chunk.objects.filter(document=document).count() >= 1
    assert Chunk.objects.get(document=document, index=0).vector_id == f"{document.id}#0"
    assert "southern hemisphere" in " ".join(agent.vectors[bot.id][document.id])
    assert api.get(f"/api/documents/{document.id}/").json()["status"] == "READY"


@pytest.mark.parametrize(
    ("name", "build", "content_type", "expected"),
    [
        ("hours.html", lambda: HTML_PAGE, "text/html", "opens at nine in the morning"),
        ("prices.csv", lambda: b"product,price\nkayak,899\n", "text/csv", "kayak | 899"),
        (
            "prices.xlsx",
            lambda: xlsx_with({"Prices": [["product", "price"], ["kayak", 899]]}),
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            "kayak | 899",
        ),
        (
            "roadmap.pptx",
            lambda: pptx_with([("Roadmap", "Ship the kayak rental in May.")]),
            "application/vnd.openxmlformats-officedocument.presentationml.presentation",
            "Ship the kayak rental in May.",
        ),
    ],
)
def test_each_new_file_type_is_ingested_through_the_api(
    api, bot, agent, django_capture_on_commit_callbacks, name, build, content_type, expected
):
    with django_capture_on_commit_callbacks(execute=True):
        response = upload(api, bot.id, name, build())
    assert response.status_code == 202, response.content
    assert response.json()["content_type"] == content_type

    document = api.get(f"/api/documents/{response.json()['id']}/").json()
    assert document["status"] == "READY", document["error_message"]
    assert expected in " ".join(agent.vectors[bot.id][UUID(document["id"])])


def test_a_spreadsheet_past_the_row_limit_ends_in_error_saying_so(
    api, bot, settings, django_capture_on_commit_callbacks
):
    settings.MAX_SHEET_ROWS = 3
    with django_capture_on_commit_callbacks(execute=True):
        response = upload(api, bot.id, "big.xlsx", xlsx_with({"Rows": [[n] for n in range(4)]}))

    document = api.get(f"/api/documents/{response.json()['id']}/").json()
    assert document["status"] == "ERROR"
    assert document["error_message"] == "The spreadsheet has more than 3 rows; split it into smaller files."


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("virus.exe", b"MZ\x90\x00"),
        ("fake.pdf", b"just text, not a pdf"),
        ("fake.docx", b"plain"),
        ("fake.xlsx", b"plain"),
        ("fake.pptx", b"plain"),
        ("bin.txt", b"a\x00b"),
        ("bin.csv", b"a,\x00b"),
        ("bin.html", b"<p>\x00</p>"),
    ],
)
def test_wrong_file_type_is_415_and_stores_nothing(api, bot, name, content):
    assert_error(upload(api, bot.id, name, content), 415, "unsupported_file_type")
    assert not Document.objects.exists()


def test_file_over_the_limit_is_413(api, bot, settings):
    settings.MAX_UPLOAD_BYTES = 100
    assert_error(upload(api, bot.id, "big.txt", b"x" * 101), 413, "file_too_large")
    assert not Document.objects.exists()


def test_body_over_the_limit_is_413_before_parsing(api, bot, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    assert_error(upload(api, bot.id, "big.txt", b"x" * 5000), 413, "payload_too_large")


def test_empty_document_ends_in_error_with_a_readable_message(api, bot, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = upload(api, bot.id, "blank.md", b"   \n\n ")
    document = Document.objects.get(pk=response.json()["id"])
    assert document.status == Document.Status.ERROR
    assert document.error_message == "The document contains no text."


def test_cannot_attach_a_document_to_another_users_bot(other_api):
    foreign_bot = BotFactory.create()
    error = assert_error(upload(other_api, foreign_bot.id, "a.txt", b"hello"), 400, "validation_error")
    assert error["details"][0]["field"] == "bot"
    response = other_api.post(
        "/api/documents/train_text/", {"bot": str(foreign_bot.id), "text": "hello"}, format="json"
    )
    assert_error(response, 400, "validation_error")
    assert not Document.objects.exists()


def test_train_text_is_ingested(api, bot, agent, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post("/api/documents/train_text/", {"bot": str(bot.id), "text": TEXT}, format="json")
    assert response.status_code == 202
    assert response.json()["name"] == "Penguins live in the southern hemisphere."
    assert Document.objects.get(pk=response.json()["id"]).status == Document.Status.READY


def test_train_text_with_empty_text_is_400(api, bot):
    response = api.post("/api/documents/train_text/", {"bot": str(bot.id), "text": "  "}, format="json")
    error = assert_error(response, 400, "validation_error")
    assert error["details"][0]["field"] == "text"


def test_agent_failure_ends_in_error_and_retry_makes_it_ready(
    api, bot, agent, django_capture_on_commit_callbacks
):
    agent.unavailable = True
    with django_capture_on_commit_callbacks(execute=True):
        response = upload(api, bot.id, "penguins.txt", TEXT.encode())
    document = Document.objects.get(pk=response.json()["id"])
    assert document.status == Document.Status.ERROR
    assert "AI service" in document.error_message
    assert not Chunk.objects.filter(document=document).exists()

    agent.unavailable = False
    with django_capture_on_commit_callbacks(execute=True):
        retried = api.post(f"/api/documents/{document.id}/retry/")
    assert retried.status_code == 202
    assert retried.json()["status"] == "PROCESSING"
    document.refresh_from_db()
    assert document.status == Document.Status.READY
    assert document.chunk_count == len(agent.vectors[bot.id][document.id])


def test_retry_of_a_ready_document_is_409(api, bot):
    document = DocumentFactory.create(bot=bot, status=Document.Status.READY)
    assert_error(api.post(f"/api/documents/{document.id}/retry/"), 409, "document_not_retryable")


def test_list_filters_by_bot_and_rejects_a_malformed_filter(api, bot, user):
    mine = DocumentFactory.create(bot=bot)
    DocumentFactory.create(bot=BotFactory.create(owner=user))
    DocumentFactory.create()  # another user's
    assert api.get("/api/documents/").json()["count"] == 2
    assert [d["id"] for d in api.get(f"/api/documents/?bot={bot.id}").json()["results"]] == [str(mine.id)]
    assert_error(api.get("/api/documents/?bot=nope"), 400, "validation_error")


@pytest.mark.parametrize("url", ["/api/documents/", "/api/conversations/"])
@pytest.mark.parametrize(
    "value", ["", "{12345678-1234-1234-1234-123456789012}", "12345678123412341234123456789012"]
)
def test_a_bot_filter_that_is_not_a_canonical_uuid_is_400(api, url, value):
    # Found by schemathesis (negative_data_rejection): `?bot=` (empty) listed everything, unfiltered.
    error = assert_error(api.get(url, {"bot": value}), 400, "validation_error")
    assert [detail["field"] for detail in error["details"]] == ["bot"]


@pytest.mark.parametrize("method", ["get", "delete"])
def test_train_text_is_not_a_document_id_and_its_405_is_documented(api, client, method):
    # Found by schemathesis (status_code_conformance): GET /api/documents/{id}/ with id "train_text" hit
    # the pasted-text route and answered an undocumented 405.
    assert_error(getattr(api, method)("/api/documents/train_text/"), 405, "method_not_allowed")
    operation = client.get("/api/schema/?format=json").json()["paths"]["/api/documents/{id}/"][method]
    assert "405" in operation["responses"]


def test_delete_drops_the_vectors(api, bot, agent, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        document_id = upload(api, bot.id, "penguins.txt", TEXT.encode()).json()["id"]
    assert api.delete(f"/api/documents/{document_id}/").status_code == 204
    assert not agent.vectors[bot.id]
    assert not Document.objects.filter(pk=document_id).exists()


def test_delete_with_agent_down_is_503_and_keeps_the_document(api, bot, agent):
    document = DocumentFactory.create(bot=bot)
    agent.unavailable = True
    assert_error(api.delete(f"/api/documents/{document.id}/"), 503, "agent_unavailable")
    assert Document.objects.filter(pk=document.id).exists()


def test_another_users_document_is_404(other_api):
    document = DocumentFactory.create(status=Document.Status.ERROR)
    assert_error(other_api.get(f"/api/documents/{document.id}/"), 404)
    assert_error(other_api.post(f"/api/documents/{document.id}/retry/"), 404)
    assert_error(other_api.delete(f"/api/documents/{document.id}/"), 404)
    assert Document.objects.filter(pk=document.id, status=Document.Status.ERROR).exists()
