"""Crawling testsupport's loopback help centre in-process: pages as documents, robots.txt, limits, sync."""

from collections.abc import Sequence
from datetime import timedelta
from typing import Any
from uuid import UUID

import pytest
from django.utils import timezone

from chatsphere.models import Bot, Chunk, Document, WebsiteSource
from chatsphere.services.agent_client import EmbedResult, InMemoryAgent, set_agent
from chatsphere.services.exceptions import CrawlInProgressError
from chatsphere.services.web_fetch import SafeFetcher, set_fetcher
from chatsphere.services.website_sources import (
    website_source_create,
    website_source_recrawl,
    website_sources_recrawl_due,
)
from chatsphere.tests.factories import BotFactory
from testsupport.fixture_site import FOOTER_TEXT, HOME_LINKS, HOME_TEXT, NAV, FixtureSite, serving

pytestmark = pytest.mark.django_db

READY_TITLES = {"Help centre", "Membership pricing", "Returns and refunds", "Shipping times", "Warranty"}


class CountingAgent(InMemoryAgent):
    """The in-process agent, recording which documents were sent to be embedded."""

    def __init__(self) -> None:
        super().__init__()
        self.embedded: list[UUID] = []

    def call_embed_and_store(
        self, *, document_id: UUID, chunks: Sequence[str], **kwargs: object
    ) -> EmbedResult:
        self.embedded.append(document_id)
        return super().call_embed_and_store(document_id=document_id, chunks=chunks, **kwargs)  # type: ignore[arg-type]


@pytest.fixture
def agent():
    counting = CountingAgent()
    set_agent(counting)
    yield counting
    set_agent(None)


@pytest.fixture
def bot():
    return BotFactory.create()


def crawl(callbacks: Any, *, bot: Bot, url: str, with_sitemap: bool = False) -> WebsiteSource:
    """A source of `url` (and the fixture site's sitemap), crawled with its pages ingested."""
    sitemap_url = f"{url}/sitemap.xml" if with_sitemap else ""
    with callbacks(execute=True):
        source = website_source_create(bot=bot, start_url=url, sitemap_url=sitemap_url)
    source.refresh_from_db()
    return source


def recrawl(callbacks: Any, source: WebsiteSource) -> WebsiteSource:
    with callbacks(execute=True):
        website_source_recrawl(source=source)
    source.refresh_from_db()
    return source


def pages(source: WebsiteSource) -> dict[str, Document]:
    return {page.url.rsplit(":", 1)[1].split("/", 1)[1]: page for page in source.pages.all()}


def test_each_page_is_a_document_named_by_its_title_with_its_main_text_only(
    bot, help_site, agent, django_capture_on_commit_callbacks
):
    source = crawl(django_capture_on_commit_callbacks, bot=bot, url=help_site.url, with_sitemap=True)

    assert source.status == WebsiteSource.Status.READY, source.message
    stored = pages(source)
    ready = {page.name for page in stored.values() if page.status == Document.Status.READY}
    assert ready == READY_TITLES
    returns = stored["returns"]
    assert returns.url == f"{help_site.url}/returns"
    assert returns.bot_id == bot.id
    text = " ".join(agent.vectors[bot.id][returns.id])
    assert "45 days of delivery" in text
    assert FOOTER_TEXT.split(".")[0] not in text  # no footer...
    assert "Pricing Returns Shipping" not in text  # ...and no navigation
    assert Chunk.objects.filter(document=returns).count() == returns.chunk_count >= 1


def test_robots_txt_is_obeyed_and_problem_pages_say_why(bot, help_site, django_capture_on_commit_callbacks):
    source = crawl(django_capture_on_commit_callbacks, bot=bot, url=help_site.url)

    assert "/private/contact" not in help_site.requests  # Disallow: /private/
    stored = pages(source)
    assert "private/contact" not in stored
    assert "missing" not in stored  # a 404 is no page
    assert "warranty" not in stored  # only the sitemap leads there, and none was given
    errors = {
        path: page.error_message for path, page in stored.items() if page.status == Document.Status.ERROR
    }
    assert set(errors) == {"loop-a", "slow", "huge"}
    assert "redirects more than" in errors["loop-a"]
    assert "did not answer in time" in errors["slow"]
    assert "bytes; the limit is" in errors["huge"]


def test_a_recrawl_updates_changed_pages_removes_gone_ones_adds_new_ones_and_embeds_nothing_else(
    bot, help_site, agent, django_capture_on_commit_callbacks
):
    source = crawl(django_capture_on_commit_callbacks, bot=bot, url=help_site.url, with_sitemap=True)
    before = pages(source)
    unchanged_chunks = {
        path: list(Chunk.objects.filter(document=before[path]).values_list("pk", flat=True))
        for path in ("", "pricing", "warranty")
    }
    help_site.page(
        "/returns", title="Returns and refunds", text="Returns are now accepted within 60 days.", links=NAV
    )
    del help_site.routes["/shipping"]
    help_site.page("/", title="Help centre", text=HOME_TEXT, links=(*HOME_LINKS, "/careers"))
    help_site.page(
        "/careers", title="Careers", text="The Tromso warehouse is hiring seasonal packers.", links=NAV
    )
    agent.embedded.clear()

    source = recrawl(django_capture_on_commit_callbacks, source)

    assert source.status == WebsiteSource.Status.READY, source.message
    after = pages(source)
    assert after["returns"].id == before["returns"].id
    assert after["returns"].status == Document.Status.READY
    returns_text = " ".join(agent.vectors[bot.id][after["returns"].id])
    assert "within 60 days" in returns_text
    assert "45 days" not in returns_text
    assert "shipping" not in after
    assert before["shipping"].id not in agent.vectors[bot.id]
    assert after["careers"].status == Document.Status.READY
    # Only the changed and the new page were embedded; the others kept their chunks.
    assert set(agent.embedded) == {after["returns"].id, after["careers"].id}
    for path, chunk_ids in unchanged_chunks.items():
        assert list(Chunk.objects.filter(document=after[path]).values_list("pk", flat=True)) == chunk_ids


def test_the_page_limit_stops_the_crawl_and_a_cut_short_crawl_deletes_nothing(
    bot, help_site, settings, django_capture_on_commit_callbacks
):
    source = crawl(django_capture_on_commit_callbacks, bot=bot, url=help_site.url)
    count = source.pages.count()
    settings.CRAWL_MAX_PAGES = 2

    source = recrawl(django_capture_on_commit_callbacks, source)

    assert source.status == WebsiteSource.Status.READY
    assert source.message == "Stopped at the page limit (2 pages); pages not reached were kept."
    assert source.pages.count() == count
    assert [path for path in help_site.requests if path != "/robots.txt"][-2:] == ["/", "/pricing"]


def test_the_depth_limit_keeps_the_crawl_near_the_start(
    bot, help_site, settings, django_capture_on_commit_callbacks
):
    settings.CRAWL_MAX_DEPTH = 0

    source = crawl(django_capture_on_commit_callbacks, bot=bot, url=f"{help_site.url}/returns")

    assert set(pages(source)) == {"returns"}


def test_the_time_limit_stops_the_crawl(bot, help_site, settings, django_capture_on_commit_callbacks):
    settings.CRAWL_TIME_LIMIT_SECONDS = 0

    source = crawl(django_capture_on_commit_callbacks, bot=bot, url=help_site.url)

    assert source.message == "Stopped at the time limit (0 s); pages not reached were kept."
    assert not source.pages.exists()


def test_a_start_url_on_loopback_is_refused_by_default(bot, help_site, django_capture_on_commit_callbacks):
    strict = SafeFetcher()
    set_fetcher(strict)
    try:
        source = crawl(django_capture_on_commit_callbacks, bot=bot, url=help_site.url)
    finally:
        strict.close()

    assert source.status == WebsiteSource.Status.ERROR
    assert "loopback address" in source.message
    assert help_site.requests == []
    assert not source.pages.exists()


def test_a_start_page_that_is_gone_fails_the_crawl_and_deletes_nothing(
    bot, help_site, django_capture_on_commit_callbacks
):
    source = crawl(django_capture_on_commit_callbacks, bot=bot, url=help_site.url)
    count = source.pages.count()
    del help_site.routes["/"]

    source = recrawl(django_capture_on_commit_callbacks, source)

    assert source.status == WebsiteSource.Status.ERROR
    assert "answered 404" in source.message
    assert source.pages.count() == count


def test_the_site_is_where_the_start_page_redirects(bot, help_site, django_capture_on_commit_callbacks):
    # As http://site/ → https://site/: the crawl follows the start page's final address, not the one typed.
    moved = FixtureSite()
    moved.redirect("/", f"{help_site.url}/returns")
    with serving(moved):
        source = crawl(django_capture_on_commit_callbacks, bot=bot, url=moved.url)

    assert source.status == WebsiteSource.Status.READY, source.message
    assert {"returns", "pricing", "shipping"} <= set(pages(source))
    assert "/private/contact" not in help_site.requests  # the robots.txt of the site it landed on


def test_a_crawl_in_progress_cannot_be_started_again(bot, help_site, django_capture_on_commit_callbacks):
    source = website_source_create(bot=bot, start_url=help_site.url)  # its crawl is not run: still CRAWLING

    with pytest.raises(CrawlInProgressError):
        website_source_recrawl(source=source)


def test_sources_whose_schedule_is_due_are_crawled_again(bot, help_site, django_capture_on_commit_callbacks):
    del help_site.routes["/slow"]  # three crawls: none need wait for its timeout
    scheduled = crawl(django_capture_on_commit_callbacks, bot=bot, url=help_site.url)
    unscheduled = crawl(django_capture_on_commit_callbacks, bot=bot, url=f"{help_site.url}/pricing")
    WebsiteSource.objects.filter(pk=scheduled.pk).update(recrawl_interval_hours=1)
    assert website_sources_recrawl_due() == 0  # crawled just now

    long_ago = timezone.now() - timedelta(hours=2)
    WebsiteSource.objects.update(crawled_at=long_ago)
    with django_capture_on_commit_callbacks(execute=True):
        assert website_sources_recrawl_due() == 1

    scheduled.refresh_from_db()
    unscheduled.refresh_from_db()
    assert scheduled.crawled_at is not None
    assert scheduled.crawled_at > long_ago
    assert unscheduled.crawled_at == long_ago  # no schedule: crawled only when asked
