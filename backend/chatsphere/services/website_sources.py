"""A website as a bot's knowledge: crawl one site politely, store each page as a document, keep it in sync.

A crawl (a Celery task) starts at the source's start URL and its sitemap, follows links of the same scheme
and host only, obeys robots.txt (protego), and stops at CRAWL_MAX_PAGES pages, CRAWL_MAX_DEPTH links from
the start, or CRAWL_TIME_LIMIT_SECONDS, waiting CRAWL_DELAY_SECONDS (or robots.txt's Crawl-delay, if longer)
between requests. Every request goes through web_fetch.SafeFetcher. Each page's main text (trafilatura)
is a Document of the bot, named by the page's title, ingested like an upload (PROCESSING → READY | ERROR).

Sync: a page whose text is unchanged (sha256) keeps its document, chunks and vectors untouched; a changed
one is ingested again (its chunks and vectors replaced); a page that now answers 404/410 or is no longer
linked is deleted with its vectors, but only after a crawl that was not cut short by a limit.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from urllib.parse import urldefrag, urlsplit
from uuid import UUID

import lxml.html
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from lxml.etree import LxmlError
from protego import Protego
from usp.tree import sitemap_from_str

from chatsphere.models import Bot, Document, WebsiteSource
from chatsphere.services.agent_client import AgentError
from chatsphere.services.document_service import DocumentKind, html_text
from chatsphere.services.documents import (
    MAX_NAME_CHARS,
    document_delete,
    document_schedule_ingest,
)
from chatsphere.services.exceptions import CrawlInProgressError, DocumentContentError
from chatsphere.services.web_fetch import (
    HTML_TYPES,
    ROBOTS_TYPES,
    SITEMAP_TYPES,
    USER_AGENT,
    FetchError,
    PageGoneError,
    get_fetcher,
)
from chatsphere.tasks import crawl_website_source

logger = logging.getLogger(__name__)


def website_source_create(
    *, bot: Bot, start_url: str, sitemap_url: str = "", recrawl_interval_hours: int | None = None
) -> WebsiteSource:
    """Record a website source and queue its first crawl. Returns it CRAWLING."""
    start_url = _page_address(start_url)
    errors: dict[str, str] = {}
    if urlsplit(start_url).scheme not in ("http", "https"):
        errors["start_url"] = "Only http and https sites can be crawled."
    if sitemap_url and not _same_site(sitemap_url, start_url):
        errors["sitemap_url"] = "The sitemap must be on the start URL's site (same scheme and host)."
    if errors:
        raise ValidationError(errors)
    source = WebsiteSource(
        bot=bot,
        start_url=start_url,
        sitemap_url=sitemap_url,
        recrawl_interval_hours=recrawl_interval_hours,
        crawl_started_at=timezone.now(),
    )
    source.full_clean()
    source.save()
    _schedule_crawl(source.pk)
    return source


def website_source_recrawl(*, source: WebsiteSource) -> WebsiteSource:
    """Queue a crawl that brings the source's pages up to date; 409 while one runs."""
    if not _claim(source.pk):
        raise CrawlInProgressError("This website is being crawled; wait for it to finish.")
    source.refresh_from_db()
    _schedule_crawl(source.pk)
    return source


def website_sources_recrawl_due() -> int:
    """Queue the crawl of every source whose schedule is due (the periodic task); returns how many."""
    now = timezone.now()
    due = [
        source.pk
        for source in WebsiteSource.objects.filter(recrawl_interval_hours__isnull=False).exclude(
            status=WebsiteSource.Status.CRAWLING
        )
        if source.crawled_at is None
        or source.crawled_at + timedelta(hours=source.recrawl_interval_hours or 0) <= now
    ]
    queued = 0
    for source_id in due:
        if _claim(source_id):
            _schedule_crawl(source_id)
            queued += 1
    return queued


def website_source_delete(*, source: WebsiteSource) -> None:
    """Delete every page (with its vectors; 503 if the agent is down, the rest kept), then the source."""
    for page in list(source.pages.all()):
        document_delete(document=page)
    source.delete()


@dataclass
class _Crawl:
    source: WebsiteSource
    origin: tuple[str, str]
    robots: Protego
    delay_s: float
    deadline: float
    queue: deque[tuple[str, int]] = field(default_factory=deque)
    queued: set[str] = field(default_factory=set)
    seen: set[str] = field(default_factory=set)  # pages whose documents stay
    fetches: int = 0
    stopped_by: str = ""

    def enqueue(self, url: str, depth: int) -> None:
        url = _page_address(url)
        if url not in self.queued and _origin(url) == self.origin:
            self.queued.add(url)
            self.queue.append((url, depth))


def website_source_crawl(*, source_id: UUID) -> WebsiteSource | None:
    """The crawl itself (the task's body); ends the source READY or ERROR. None if it was deleted."""
    source = WebsiteSource.objects.filter(pk=source_id).first()
    if source is None:
        return None
    try:
        crawl = _crawl_start(source)
        _crawl_pages(crawl)
    except FetchError as exc:
        return _source_finish(source, status=WebsiteSource.Status.ERROR, message=exc.message)
    except SoftTimeLimitExceeded:
        return _source_finish(
            source, status=WebsiteSource.Status.ERROR, message="The crawl took too long; try again later."
        )
    except _SourceGoneError:
        return None
    except Exception:
        # A bug must not leave the source CRAWLING: record it and let the owner crawl again.
        logger.exception("crawl of website source %s failed unexpectedly", source.pk)
        return _source_finish(
            source,
            status=WebsiteSource.Status.ERROR,
            message="The crawl failed unexpectedly. Crawl again later.",
        )
    message = f"Stopped at {crawl.stopped_by}; pages not reached were kept." if crawl.stopped_by else ""
    if not crawl.stopped_by:
        try:
            for page in source.pages.exclude(url__in=crawl.seen):
                document_delete(document=page)
        except AgentError as exc:
            message = f"Pages gone from the site could not all be removed ({exc.message}); crawl again later."
    return _source_finish(source, status=WebsiteSource.Status.READY, message=message)


class _SourceGoneError(Exception):
    """The source (or its bot) was deleted while it was being crawled."""


def _crawl_start(source: WebsiteSource) -> _Crawl:
    crawl = _Crawl(
        source=source,
        origin=_origin(source.start_url),
        robots=Protego.parse(""),
        delay_s=settings.CRAWL_DELAY_SECONDS,
        deadline=time.monotonic() + settings.CRAWL_TIME_LIMIT_SECONDS,
    )
    _crawl_obey_robots(crawl)
    crawl.enqueue(source.start_url, 0)
    if source.sitemap_url:
        for url in _sitemap_pages(source.sitemap_url):
            crawl.enqueue(url, 1)
    return crawl


def _crawl_obey_robots(crawl: _Crawl) -> None:
    """Read the site's robots.txt (none, or none readable: everything is allowed) and its Crawl-delay."""
    scheme, host = crawl.origin
    try:
        robots_txt = get_fetcher().fetch(f"{scheme}://{host}/robots.txt", accept=ROBOTS_TYPES)
        crawl.robots = Protego.parse(robots_txt.body.decode("utf-8", errors="replace"))
    except FetchError as exc:
        if not isinstance(exc, PageGoneError):
            logger.info("website source %s: no usable robots.txt (%s)", crawl.source.pk, exc.message)
        crawl.robots = Protego.parse("")
    crawl.delay_s = max(settings.CRAWL_DELAY_SECONDS, float(crawl.robots.crawl_delay(USER_AGENT) or 0))


def _sitemap_pages(sitemap_url: str) -> list[str]:
    sitemap = get_fetcher().fetch(sitemap_url, accept=SITEMAP_TYPES)
    parsed = sitemap_from_str(sitemap.body.decode("utf-8", errors="replace"))
    return [page.url for page in parsed.all_pages()]


def _crawl_pages(crawl: _Crawl) -> None:
    existing = {page.url: page for page in crawl.source.pages.all()}
    while crawl.queue:
        if crawl.fetches >= settings.CRAWL_MAX_PAGES:
            crawl.stopped_by = f"the page limit ({settings.CRAWL_MAX_PAGES} pages)"
            return
        if time.monotonic() >= crawl.deadline:
            crawl.stopped_by = f"the time limit ({settings.CRAWL_TIME_LIMIT_SECONDS} s)"
            return
        url, depth = crawl.queue.popleft()
        if not crawl.robots.can_fetch(url, USER_AGENT):
            continue
        if crawl.fetches:
            time.sleep(crawl.delay_s)  # politeness: one request at a time, this far apart
        crawl.fetches += 1
        try:
            fetched = get_fetcher().fetch(url, accept=HTML_TYPES)
        except FetchError as exc:
            if crawl.fetches == 1:
                raise  # the start page: the whole source fails, with the reason
            if not isinstance(exc, PageGoneError):  # gone: not a page (any more), deleted after the crawl
                crawl.seen.add(url)
                _page_failed(crawl.source, url=url, message=exc.message, existing=existing.get(url))
            continue
        final_url = _page_address(fetched.url)
        if crawl.fetches == 1 and _origin(final_url) != crawl.origin:
            # The site is where the start page lives (http → https, a www. host...), with its own robots.txt.
            crawl.origin = _origin(final_url)
            _crawl_obey_robots(crawl)
            if not crawl.robots.can_fetch(final_url, USER_AGENT):
                continue
        if _origin(final_url) != crawl.origin or final_url in crawl.seen:
            continue  # redirected off the site, or to a page already stored
        crawl.seen.add(final_url)
        crawl.queued.add(final_url)
        if depth < settings.CRAWL_MAX_DEPTH:
            for link in _links(fetched.body, base_url=final_url):
                crawl.enqueue(link, depth + 1)
        try:
            page = html_text(fetched.body, url=final_url)
        except DocumentContentError as exc:
            _page_failed(crawl.source, url=final_url, message=exc.message, existing=existing.get(final_url))
            continue
        if not page.text.strip():
            _page_failed(
                crawl.source,
                url=final_url,
                message="The page has no main text.",
                existing=existing.get(final_url),
            )
            continue
        _page_store(
            crawl.source, url=final_url, title=page.title, text=page.text, existing=existing.get(final_url)
        )


def _links(body: bytes, *, base_url: str) -> list[str]:
    try:
        document = lxml.html.document_fromstring(body, base_url=base_url)
    except (LxmlError, ValueError):
        return []
    document.make_links_absolute(base_url, resolve_base_href=True, handle_failures="discard")
    return [
        link
        for element, attribute, link, _ in document.iterlinks()
        if element.tag == "a" and attribute == "href"
    ]


def _page_store(source: WebsiteSource, *, url: str, title: str, text: str, existing: Document | None) -> None:
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    if existing is not None and existing.content_hash == digest and existing.status == Document.Status.READY:
        return  # unchanged: its chunks and vectors stay as they are, nothing is embedded again
    fields = {
        "name": (title or url)[:MAX_NAME_CHARS],
        "text": text,
        "content_type": DocumentKind.HTML.content_type,
        "content_hash": digest,
        "status": Document.Status.PROCESSING,
        "error_message": "",
        "ingest_attempts": 0,
    }
    document = _page_save(source, url=url, existing=existing, fields=fields)
    document_schedule_ingest(document)


def _page_failed(source: WebsiteSource, *, url: str, message: str, existing: Document | None) -> None:
    """A page that could not be read: a new one is recorded in ERROR; a known one keeps what it had."""
    if existing is not None:
        return
    fields = {
        "name": url[:MAX_NAME_CHARS],
        "content_type": DocumentKind.HTML.content_type,
        "status": Document.Status.ERROR,
        "error_message": message,
    }
    _page_save(source, url=url, existing=None, fields=fields)


def _page_save(
    source: WebsiteSource, *, url: str, existing: Document | None, fields: Mapping[str, object]
) -> Document:
    try:
        with transaction.atomic():
            if existing is not None and Document.objects.filter(pk=existing.pk).update(
                updated_at=timezone.now(), **fields
            ):
                existing.refresh_from_db()
                return existing
            # New, or deleted by its owner during the crawl: the site still has it.
            return Document.objects.create(bot_id=source.bot_id, source=source, url=url, **fields)
    except IntegrityError as exc:
        if not WebsiteSource.objects.filter(pk=source.pk).exists():
            raise _SourceGoneError from exc
        raise


def _source_finish(
    source: WebsiteSource, *, status: WebsiteSource.Status, message: str
) -> WebsiteSource | None:
    updated = WebsiteSource.objects.filter(pk=source.pk).update(
        status=status, message=message, crawled_at=timezone.now(), updated_at=timezone.now()
    )
    if not updated:
        return None
    source.refresh_from_db()
    return source


def _claim(source_id: UUID) -> bool:
    """Mark the source CRAWLING unless a crawl runs; one whose crawl outlived the task's hard time limit
    (its worker was killed) may be claimed again. False: a crawl runs."""
    stale = timezone.now() - timedelta(seconds=settings.CELERY_TASK_TIME_LIMIT)
    return bool(
        WebsiteSource.objects.filter(pk=source_id)
        .filter(~Q(status=WebsiteSource.Status.CRAWLING) | Q(crawl_started_at__lt=stale))
        .update(
            status=WebsiteSource.Status.CRAWLING,
            message="",
            crawl_started_at=timezone.now(),
            updated_at=timezone.now(),
        )
    )


def _schedule_crawl(source_id: UUID) -> None:
    def enqueue() -> None:
        try:
            crawl_website_source.delay(str(source_id))
        except Exception:
            logger.exception("could not queue the crawl of website source %s", source_id)
            WebsiteSource.objects.filter(pk=source_id).update(
                status=WebsiteSource.Status.ERROR,
                message="The crawl could not be started. Retry in a moment.",
            )

    transaction.on_commit(enqueue)


def _page_address(url: str) -> str:
    """The URL a page is known by: without its #fragment, with a path."""
    address = urldefrag(url.strip()).url
    parts = urlsplit(address)
    return parts._replace(
        scheme=parts.scheme.lower(), netloc=parts.netloc.lower(), path=parts.path or "/"
    ).geturl()


def _origin(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.scheme.lower(), parts.netloc.lower()


def _same_site(url: str, other: str) -> bool:
    return _origin(url) == _origin(other)
