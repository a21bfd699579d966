"""Ingestion: documents longer than one agent request (over the real HTTP client, httpx.MockTransport),
failures and deletions."""

import json
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from django.db import connection
from pytest_django.fixtures import Settings

from chatsphere.models import Chunk, Document
from chatsphere.services.agent_client import (
    MAX_CHUNKS_PER_REQUEST,
    AgentUnavailableError,
    EmbedResult,
    HttpAgentClient,
    InMemoryAgent,
    set_agent,
)
from chatsphere.services.documents import document_ingest, document_retry
from chatsphere.tests.factories import DocumentFactory

pytestmark = pytest.mark.django_db

# Far more chunks than the 2000 a document was once limited to, so several agent requests.
CHUNK_COUNT = 2100


class RecordingAgent:
    """The agent's /embed_and_store over HTTP: records every body; answers 503 from a given offset on.
    Records the documents whose chunks were purged (DELETE /documents/{id}/chunks) too."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []
        self.purged: list[str] = []
        self.down_from_chunk_index: int | None = None

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.method == "DELETE" and request.url.path.endswith("/chunks"):
            document_id = request.url.path.split("/")[2]
            self.purged.append(document_id)
            return httpx.Response(200, json={"document_id": document_id, "deleted_vector_count": 256})
        body = json.loads(request.content)
        self.bodies.append(body)
        if self.down_from_chunk_index is not None and body["first_chunk_index"] >= self.down_from_chunk_index:
            error = {"code": "provider_unavailable", "message": "Pinecone is down", "details": None}
            return httpx.Response(503, json={"error": error})
        stored = {
            "status": "success",
            "document_id": body["document_id"],
            "stored_vector_count": len(body["chunks"]),
        }
        return httpx.Response(200, json=stored)


@pytest.fixture
def recording_agent(agent: InMemoryAgent) -> Iterator[RecordingAgent]:
    recording = RecordingAgent()
    client = HttpAgentClient(
        base_url="http://agent.test", token="s3cret", transport=httpx.MockTransport(recording)
    )
    set_agent(client)
    yield recording
    client.close()


@pytest.fixture
def long_document(settings: Settings) -> Document:
    settings.CHUNK_SIZE = 20
    settings.CHUNK_OVERLAP = 0
    document: Document = DocumentFactory.create(
        status=Document.Status.PROCESSING,
        text="\n\n".join(f"Paragraph {number:05d}." for number in range(CHUNK_COUNT)),
    )
    return document


def test_a_document_longer_than_one_request_goes_in_batches_and_ends_ready(recording_agent, long_document):
    ingested = document_ingest(document_id=long_document.id)

    assert ingested is not None
    assert ingested.status == Document.Status.READY
    rows = Chunk.objects.filter(document=long_document).order_by("index")
    assert ingested.chunk_count == CHUNK_COUNT == rows.count()
    bodies = recording_agent.bodies
    assert [body["first_chunk_index"] for body in bodies] == list(
        range(0, CHUNK_COUNT, MAX_CHUNKS_PER_REQUEST)
    )
    assert [body["last_batch"] for body in bodies] == [False] * (len(bodies) - 1) + [True]
    assert [chunk for body in bodies for chunk in body["chunks"]] == [row.content for row in rows]


def test_a_batch_failing_midway_ends_in_error_without_chunks(recording_agent, long_document):
    recording_agent.down_from_chunk_index = MAX_CHUNKS_PER_REQUEST

    ingested = document_ingest(document_id=long_document.id)

    assert ingested is not None
    assert ingested.status == Document.Status.ERROR
    assert ingested.error_message == (
        "The AI service could not index this document (Pinecone is down). Retry later."
    )
    assert (ingested.chunk_count, Chunk.objects.filter(document=long_document).count()) == (0, 0)
    assert [body["first_chunk_index"] for body in recording_agent.bodies] == [0, MAX_CHUNKS_PER_REQUEST]
    assert recording_agent.purged == [str(long_document.id)]  # the first batch had landed


class StoresThenTimesOut(InMemoryAgent):
    """An agent that stores the chunks but whose answer never reaches Django (its deadline passed)."""

    def call_embed_and_store(self, **call: Any) -> EmbedResult:
        super().call_embed_and_store(**call)
        raise AgentUnavailableError("The AI service took too long to answer.", code="agent_timeout")


def test_an_ingestion_ending_error_leaves_none_of_its_chunks_at_the_agent():
    agent = StoresThenTimesOut()
    set_agent(agent)
    document = DocumentFactory.create(status=Document.Status.PROCESSING, text="Refunds: 30 days.")

    ingested = document_ingest(document_id=document.id)

    assert ingested is not None
    assert ingested.status == Document.Status.ERROR
    assert agent.vectors == {document.bot_id: {}}  # not searchable in the bot's chats


def test_an_ingestion_started_too_often_ends_error_and_purges_what_its_killed_attempts_stored(
    agent, settings
):
    settings.MAX_INGEST_ATTEMPTS = 2
    document = DocumentFactory.create(status=Document.Status.PROCESSING, ingest_attempts=2)
    agent.vectors[document.bot_id] = {document.id: ["stored by an attempt whose worker was killed"]}

    ingested = document_ingest(document_id=document.id)

    assert ingested is not None
    assert ingested.status == Document.Status.ERROR
    assert "interrupted 2 times" in ingested.error_message
    assert agent.vectors == {document.bot_id: {}}


def test_an_ingestion_whose_agent_stays_down_ends_error_and_leaves_its_chunks_to_the_index_check(
    agent, caplog
):
    agent.unavailable = True
    document = DocumentFactory.create(status=Document.Status.PROCESSING)

    ingested = document_ingest(document_id=document.id)

    assert ingested is not None
    assert ingested.status == Document.Status.ERROR
    assert "could not index this document" in ingested.error_message
    assert f"document {document.id} failed; its chunks may remain at the agent" in caplog.text


def test_a_retry_starts_the_attempt_count_again(agent, settings, django_capture_on_commit_callbacks):
    settings.MAX_INGEST_ATTEMPTS = 1
    document = DocumentFactory.create(status=Document.Status.ERROR, ingest_attempts=5)

    with django_capture_on_commit_callbacks(execute=True):
        document_retry(document=document)  # runs eagerly: no broker in the tests

    document.refresh_from_db()
    assert document.status == Document.Status.READY
    assert document.ingest_attempts == 1


def test_a_document_flagged_deleting_is_not_ingested_and_its_vectors_are_swept(agent):
    document = DocumentFactory.create(status=Document.Status.PROCESSING, deleting=True)
    agent.vectors[document.bot_id] = {document.id: ["left by an earlier batch"]}

    assert document_ingest(document_id=document.id, bot_id=document.bot_id) is None
    assert agent.vectors[document.bot_id] == {}


def test_a_redelivered_task_of_a_deleted_document_sweeps_its_vectors(agent):
    document = DocumentFactory.create(status=Document.Status.PROCESSING)
    bot_id, document_id = document.bot_id, document.id
    agent.vectors[bot_id] = {document_id: ["stored by a worker that died"]}
    Document.objects.filter(pk=document_id).delete()

    assert document_ingest(document_id=document_id, bot_id=bot_id) is None
    assert agent.vectors[bot_id] == {}


def test_a_deletion_during_the_batches_stops_them_and_sweeps_what_landed(
    recording_agent: RecordingAgent, long_document: Document
):
    """The deletion lands while batch 1 is in flight: no batch 2, and batch 1's vectors are deleted again."""
    sent: list[int] = []

    def delete_after_first_batch(request: httpx.Request) -> httpx.Response:
        if request.method == "DELETE":
            sent.append(-1)
            return httpx.Response(
                200, json={"document_id": str(long_document.id), "deleted_vector_count": 256}
            )
        sent.append(json.loads(request.content)["first_chunk_index"])
        Document.objects.filter(pk=long_document.pk).update(deleting=True)
        return recording_agent(request)

    client = HttpAgentClient(
        base_url="http://agent.test", token="s3cret", transport=httpx.MockTransport(delete_after_first_batch)
    )
    set_agent(client)

    ingested = document_ingest(document_id=long_document.id)

    assert ingested is not None
    assert ingested.status == Document.Status.ERROR
    assert sent == [0, -1]  # one batch, then the sweep
    client.close()


def test_a_document_deleted_as_its_ingestion_finishes_stays_deleted(agent: InMemoryAgent):
    """The owner's DELETE lands between the ingestion's last check and its final write: that write must not
    bring the document back (a save() would update no row, then insert the document again)."""
    document: Document = DocumentFactory.create(status=Document.Status.PROCESSING, text="Refunds: 30 days.")
    deleted: list[str] = []

    def delete_just_before_the_ready_write(
        execute: Callable[..., Any], sql: str, params: Any, many: bool, context: dict[str, Any]
    ) -> Any:
        if not deleted and sql.startswith('UPDATE "chatsphere_document"') and Document.Status.READY in params:
            deleted.append(sql)
            Document.objects.filter(pk=document.pk).delete()
        return execute(sql, params, many, context)

    with connection.execute_wrapper(delete_just_before_the_ready_write):
        ingested = document_ingest(document_id=document.id)

    assert len(deleted) == 1
    assert ingested is None
    assert not Document.objects.filter(pk=document.pk).exists()
    assert not Chunk.objects.filter(document_id=document.pk).exists()
