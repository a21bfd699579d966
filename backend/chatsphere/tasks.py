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


@shared_task(name="chatsphere.crawl_website_source", acks_late=True, reject_on_worker_lost=True)  # type: ignore[untyped-decorator]  # celery ships no types
def crawl_website_source(source_id: str) -> str | None:
    """Crawl one website source, storing its pages as documents; returns its final status (None if deleted).

    Bounded by CRAWL_* settings well inside CELERY_TASK_SOFT_TIME_LIMIT_SECONDS.
    """
    # Imported in the body (Django-Styleguide, Celery): the service imports this task at module level.
    from chatsphere.services.website_sources import website_source_crawl

    source = website_source_crawl(source_id=UUID(source_id))
    return None if source is None else source.status


@shared_task(name="chatsphere.recrawl_due_sources")  # type: ignore[untyped-decorator]  # celery ships no types
def recrawl_due_sources() -> int:
    """Queue the crawls whose schedule (recrawl_interval_hours) is due; run by celery beat."""
    from chatsphere.services.website_sources import website_sources_recrawl_due

    return website_sources_recrawl_due()
