"""A website as a bot's knowledge, end to end: crawl testsupport's loopback help centre through the REST
API, answer from the right page with its citation, re-crawl after the site changed."""

from __future__ import annotations

from typing import Any

from tests.e2e.conftest import UserFactory
from testsupport.fixture_site import NAV, FixtureSite

RETURNS_QUESTION = "How many days do I have to return unworn boots?"


def _by_path(pages: list[dict[str, Any]], site: FixtureSite) -> dict[str, dict[str, Any]]:
    return {page["url"].removeprefix(site.url): page for page in pages}


def test_a_crawled_site_answers_with_the_right_page_and_a_recrawl_keeps_it_in_sync(
    make_user: UserFactory, help_site: FixtureSite
) -> None:
    user = make_user()
    bot_id = user.create_bot(name="Help centre bot")
    source_id = user.add_website(
        bot_id=bot_id, start_url=help_site.url, sitemap_url=f"{help_site.url}/sitemap.xml"
    )
    pages = _by_path(user.wait_crawled(source_id), help_site)
    assert {path for path, page in pages.items() if page["status"] == "READY"} == {
        "/",
        "/pricing",
        "/returns",
        "/shipping",
        "/warranty",
    }
    assert "/private/contact" not in help_site.requests  # robots.txt

    conversation_id = user.start_conversation(bot_id=bot_id)
    answer = user.ask(conversation_id, RETURNS_QUESTION)
    assert answer["sources"], answer
    assert answer["sources"][0]["document_name"] == "Returns and refunds"
    assert "45 days" in answer["content"]

    help_site.page(
        "/returns",
        title="Returns and refunds",
        text="Unworn boots can now be returned within 60 days.",
        links=NAV,
    )
    del help_site.routes["/shipping"]
    user.crawl_again(source_id)
    after = _by_path(user.wait_crawled(source_id), help_site)

    assert after["/returns"]["id"] == pages["/returns"]["id"]
    assert after["/returns"]["updated_at"] != pages["/returns"]["updated_at"]
    assert "/shipping" not in after
    for unchanged in ("/", "/pricing", "/warranty"):  # not processed, so not embedded, again
        assert after[unchanged]["updated_at"] == pages[unchanged]["updated_at"], unchanged
    search = user.client.post(
        f"/bots/{bot_id}/search/", json={"query": "express courier delivery Norway", "top_k": 50}
    )
    assert search.status_code == 200, search.text
    assert pages["/shipping"]["id"] not in {hit["document_id"] for hit in search.json()["results"]}
    answer = user.ask(conversation_id, RETURNS_QUESTION)
    assert answer["sources"][0]["document_name"] == "Returns and refunds"
    assert "60 days" in answer["content"]
