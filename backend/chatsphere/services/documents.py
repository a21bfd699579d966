"""A document's life: created PROCESSING → ingested (extract, chunk, embed) → READY or ERROR → deleted."""

import hashlib
import logging
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import PurePath
from uuid import UUID

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.db.models import F, QuerySet
from django.utils import timezone

from chatsphere.models import Bot, Chunk, Document
from chatsphere.services.agent_client import AgentError, AgentGateway, AgentUnavailableError, get_agent
from chatsphere.services.document_service import (
    SNIFF_BYTES,
    DocumentKind,
    detect_kind,
    extract_text,
    split_text,
)
from chatsphere.services.exceptions import (
    DocumentContentError,
    DocumentNotRetryableError,
    FileTooLargeError,
)
from chatsphere.tasks import ingest_document

logger = logging.getLogger(__name__)

MAX_NAME_CHARS = 255
AGENT_POLL_SECONDS = 1.0  # how often an ingestion asks an agent that went away whether it is back


def document_create_from_file(*, bot: Bot, uploaded_file: UploadedFile[bytes]) -> Document:
    """Validate and store an upload, then queue its ingestion. Returns the PROCESSING document."""
    filename = PurePath(uploaded_file.name or "").name
    if uploaded_file.size is not None and uploaded_file.size > settings.MAX_UPLOAD_BYTES:
        raise FileTooLargeError(
            f"The file is {uploaded_file.size} bytes; the limit is {settings.MAX_UPLOAD_BYTES} bytes."
        )
    uploaded_file.seek(0)
    kind = detect_kind(filename=filename, head=uploaded_file.read(SNIFF_BYTES))
    uploaded_file.seek(0)
    digest = hashlib.sha256()
    for block in uploaded_file.chunks():
        digest.update(block)
    uploaded_file.seek(0)

    document = Document(
        bot=bot,
        name=filename[:MAX_NAME_CHARS],
        content_type=kind.content_type,
        content_hash=digest.hexdigest(),
    )
    document.file.save(filename, uploaded_file, save=False)
    document.save()
    document_schedule_ingest(document)
    return document


def document_create_from_text(*, bot: Bot, text: str, name: str | None = None) -> Document:
    """Store pasted text as a document and queue its ingestion. Returns the PROCESSING document."""
    if not text.strip():
        raise ValidationError({"text": "The text is empty."})
    encoded = text.encode("utf-8")
    if len(encoded) > settings.MAX_UPLOAD_BYTES:
        raise FileTooLargeError(
            f"The text is {len(encoded)} bytes; the limit is {settings.MAX_UPLOAD_BYTES} bytes."
        )
    title = (name or "").strip() or text.strip().splitlines()[0]
    document = Document(
        bot=bot,
        name=title[:MAX_NAME_CHARS],
        text=text,
        content_type=DocumentKind.TEXT.content_type,
        content_hash=hashlib.sha256(encoded).hexdigest(),
    )
    document.full_clean()
    document.save()
    document_schedule_ingest(document)
    return document


def document_ingest(*, document_id: UUID, bot_id: UUID | None = None) -> Document | None:
    """Extract, chunk and embed a document; it ends READY or ERROR (with a message for the user, and none of
    its chunks left at the agent as far as the agent can be reached: `index_check --repair` does the rest).

    Idempotent: running it again replaces the Chunk rows and the agent's vectors. Returns None when
    the document was deleted in the meantime; deletion wins: no batch is sent once it started, and
    whatever an in-flight batch stored is deleted again (with `bot_id`, even when the row is gone:
    a worker killed after storing a batch of a deleted document is swept on redelivery).
    Each start counts; past MAX_INGEST_ATTEMPTS (every start killed its worker) the document ends ERROR.
    """
    Document.objects.filter(pk=document_id).update(ingest_attempts=F("ingest_attempts") + 1)
    document = Document.objects.select_related("bot").filter(pk=document_id).first()
    if document is None or document.deleting:
        logger.info("document %s was deleted before ingestion", document_id)
        if bot_id is not None:
            _document_vectors_sweep(bot_id=bot_id, document_id=document_id)
        return None
    if document.ingest_attempts > settings.MAX_INGEST_ATTEMPTS:
        logger.error("document %s: ingestion started %s times", document.id, document.ingest_attempts)
        return _document_fail(
            document=document,
            message=f"Processing was interrupted {document.ingest_attempts - 1} times (the document may "
            "need more memory than a worker has). Split it into smaller documents, or retry.",
        )
    try:
        chunks = split_text(_source_text(document))
        with transaction.atomic():
            document.chunks.all().delete()
            Chunk.objects.bulk_create(
                Chunk(document=document, index=index, content=content, vector_id=f"{document.id}#{index}")
                for index, content in enumerate(chunks)
            )
        _document_embed(document=document, chunks=chunks)
        error = ""
    except DocumentContentError as exc:
        error = exc.message
    except AgentError as exc:
        error = f"The AI service could not index this document ({exc.message}). Retry later."
    except SoftTimeLimitExceeded:
        logger.error("ingestion of document %s hit the task's time limit", document.id)
        error = "Processing took too long. Split the document into smaller ones, or retry."
    except Exception:
        # A bug must not leave the document PROCESSING forever: record it and let the user retry.
        logger.exception("ingestion of document %s failed unexpectedly", document.id)
        error = "Processing failed unexpectedly. Retry, or contact support."
    if not _document_wanted(document_id=document.id):
        # Deleted while a batch was in flight (or timing out): it may have landed after the deletion's own.
        _document_vectors_sweep(bot_id=document.bot_id, document_id=document.id)
        return _document_mark_error(document=document, message="The document was deleted while processing.")
    if error:
        return _document_fail(document=document, message=error)
    return _document_set_state(
        document=document, status=Document.Status.READY, chunk_count=len(chunks), error_message=""
    )


def document_retry(*, document: Document) -> Document:
    """Queue a failed document for ingestion again."""
    if document.source_id is not None and not document.text:
        raise DocumentNotRetryableError(
            "This page could not be read from its website; crawl the website again to retry it."
        )
    claimed = Document.objects.filter(pk=document.pk, status=Document.Status.ERROR, deleting=False).update(
        status=Document.Status.PROCESSING,
        error_message="",
        chunk_count=0,
        ingest_attempts=0,
        updated_at=timezone.now(),
    )
    if not claimed:
        raise DocumentNotRetryableError(
            f"Only documents in status {Document.Status.ERROR} can be retried; this one is {document.status}."
        )
    document.refresh_from_db()
    document_schedule_ingest(document)
    return document


def document_reingest(*, document: Document) -> bool:
    """Queue a READY document whose chunks the agent lost for ingestion again; False if it is not READY now
    (being deleted, already re-ingesting): the index check's repair never races a user's own action. A website
    page whose text was not kept is not re-ingested here either: re-crawling its website does it."""
    if document.source_id is not None and not document.text:
        return False
    claimed = Document.objects.filter(pk=document.pk, status=Document.Status.READY, deleting=False).update(
        status=Document.Status.PROCESSING, ingest_attempts=0, updated_at=timezone.now()
    )
    if claimed:
        document_schedule_ingest(document)
    return bool(claimed)


def document_delete(*, document: Document) -> None:
    """Drop the vectors first: if the agent is down nothing is deleted and the user can retry.

    The document is flagged `deleting` before its vectors go, so a running ingestion sends no more
    batches and sweeps whatever it stored after this deletion's own call.
    """
    with documents_deleting(documents=Document.objects.filter(pk=document.pk)):
        get_agent().call_delete_document(bot_id=document.bot_id, document_id=document.id)
    document.delete()
    document_files_delete(documents=[document])


@contextmanager
def documents_deleting(*, documents: QuerySet[Document]) -> Iterator[None]:
    """Flag `documents` as being deleted for the block; unflag them if it raises (nothing was deleted)."""
    flagged = list(documents.filter(deleting=False).values_list("pk", flat=True))
    Document.objects.filter(pk__in=flagged).update(deleting=True)
    try:
        yield
    except BaseException:
        Document.objects.filter(pk__in=flagged).update(deleting=False)
        raise


def document_files_delete(*, documents: Iterable[Document]) -> None:
    for document in documents:
        if document.file:
            document.file.delete(save=False)


def _document_embed(*, document: Document, chunks: list[str]) -> None:
    """Send the chunks to the agent; if it went away mid-document (its connection dropped or was refused:
    a crash, a restart), wait up to INGEST_AGENT_WAIT_SECONDS for it and send the whole document again.

    Not after a timeout or an error answer: the agent may still be at work, or would answer the same. Only in
    a worker: an ingestion run in the request (no broker) must not hold the request.
    """
    wait = 0.0 if settings.CELERY_TASK_ALWAYS_EAGER else settings.INGEST_AGENT_WAIT_SECONDS
    deadline = time.monotonic() + wait
    while True:
        try:
            get_agent().call_embed_and_store(
                bot_id=document.bot_id,
                document_id=document.id,
                chunks=chunks,
                document_name=document.name,
                keep_going=lambda: _document_wanted(document_id=document.id),
            )
            return
        except AgentUnavailableError as exc:
            if exc.code != "agent_unreachable" or not _agent_back(deadline=deadline):
                raise
            if not _document_wanted(document_id=document.id):
                return
            logger.warning("document %s: the agent is back, sending the document again", document.id)


def _agent_back(*, deadline: float) -> bool:
    while time.monotonic() < deadline:
        try:
            get_agent().health()
            return True
        except AgentError:
            time.sleep(AGENT_POLL_SECONDS)
    return False


def _document_wanted(*, document_id: UUID) -> bool:
    return Document.objects.filter(pk=document_id, deleting=False).exists()


def _document_vectors_sweep(*, bot_id: UUID, document_id: UUID) -> None:
    try:
        get_agent().call_delete_document(bot_id=bot_id, document_id=document_id)
    except AgentError as exc:
        # The task is not retried for this: the document is gone for users either way; log for operators.
        logger.error("vectors of deleted document %s may remain: %s", document_id, exc.code)


def _source_text(document: Document) -> str:
    if not document.file:
        return extract_text(data=document.text.encode("utf-8"), kind=DocumentKind.TEXT)
    try:
        with document.file.open("rb") as stored:
            data = stored.read()
    except FileNotFoundError as exc:
        raise DocumentContentError("The uploaded file is missing from storage; upload it again.") from exc
    return extract_text(data=data, kind=DocumentKind(document.content_type))


def _document_fail(*, document: Document, message: str) -> Document | None:
    """End the ingestion ERROR, then purge what it (or a killed earlier attempt, or the READY version being
    re-ingested) stored at the agent, which would be searchable in the bot's chats.

    ERROR first: a user sees the failure at once, even while the agent hangs on the purge. Best effort: an
    agent that is down keeps the chunks until `index_check --repair` purges them the same way.
    """
    failed = _document_mark_error(document=document, message=message)
    if failed is not None:
        try:
            document_purge_failed(agent=get_agent(), document_id=document.id)
        except AgentError as exc:
            logger.warning(
                "document %s failed; its chunks may remain at the agent: %s", document.id, exc.code
            )
    return failed


def document_purge_failed(*, agent: AgentGateway, document_id: UUID) -> bool:
    """Purge an ERROR document's chunks at the agent (not a deletion: its owner may retry it); False if it is
    no longer ERROR (retried or being deleted since).

    The row stays locked while the agent purges: a retry (or a deletion) claims the row with an UPDATE, which
    waits, so the purge can never drop chunks of a retry's ingestion (that would leave it READY with half).
    """
    with transaction.atomic():
        failed = (
            Document.objects.select_for_update()
            .filter(pk=document_id, status=Document.Status.ERROR, deleting=False)
            .first()
        )
        if failed is None:
            return False
        agent.call_purge_document(bot_id=failed.bot_id, document_id=failed.id)
    return True


def _document_mark_error(*, document: Document, message: str) -> Document | None:
    Chunk.objects.filter(document_id=document.id).delete()
    return _document_set_state(
        document=document, status=Document.Status.ERROR, chunk_count=0, error_message=message
    )


def _document_set_state(
    *, document: Document, status: Document.Status, chunk_count: int, error_message: str
) -> Document | None:
    # update() rather than save(): a document deleted during ingestion must stay deleted.
    updated = Document.objects.filter(pk=document.pk).update(
        status=status, chunk_count=chunk_count, error_message=error_message, updated_at=timezone.now()
    )
    if not updated:
        return None
    document.refresh_from_db()
    return document


def document_schedule_ingest(document: Document) -> None:
    """Queue `document`'s ingestion once the current transaction commits (ERROR if it cannot be queued)."""
    document_id, bot_id = document.id, document.bot_id

    def enqueue() -> None:
        try:
            ingest_document.delay(str(document_id), str(bot_id))
        except Exception:
            logger.exception("could not queue ingestion of document %s", document_id)
            Document.objects.filter(pk=document_id).update(
                status=Document.Status.ERROR,
                error_message="Processing could not be started. Retry in a moment.",
                updated_at=timezone.now(),
            )

    transaction.on_commit(enqueue)
