"""Background work, run by Celery workers (or eagerly in-process when no broker is configured)."""

from uuid import UUID

from celery import shared_task


@shared_task(name="chatsphere.ingest_document", acks_late=True, reject_on_worker_lost=True)  # type: ignore[untyped-decorator]  # celery ships no types
def ingest_document(document_id: str) -> str | None:
    """Extract, chunk and embed one document; returns its final status (None if it was deleted)."""
    # Imported in the body (Django-Styleguide, Celery): the service imports this task at module level.
    from chatsphere.services.documents import document_ingest

    document = document_ingest(document_id=UUID(document_id))
    return None if document is None else document.status
