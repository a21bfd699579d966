"""Background work, run by Celery workers (or eagerly in-process when no broker is configured)."""

from uuid import UUID

from celery import shared_task


@shared_task(name="chatsphere.ingest_document", acks_late=True, reject_on_worker_lost=True)  # type: ignore[untyped-decorator]  # celery ships no types
def ingest_document(document_id: str, bot_id: str | None = None) -> str | None:
    """Extract, chunk and embed one document; returns its final status (None if it was deleted).

    `bot_id` lets a redelivery sweep the vectors of a document deleted meanwhile (None: queued by an
    older release). Time limits: CELERY_TASK_SOFT_TIME_LIMIT / CELERY_TASK_TIME_LIMIT in settings.
    """
    # Imported in the body (Django-Styleguide, Celery): the service imports this task at module level.
    from chatsphere.services.documents import document_ingest

    document = document_ingest(document_id=UUID(document_id), bot_id=None if bot_id is None else UUID(bot_id))
    return None if document is None else document.status
