"""Website sources through the REST API: create, follow, re-crawl, list pages, delete; owner-only."""

from typing import Any

import pytest
from rest_framework.test import APIClient

from chatsphere.models import Bot, Document, WebsiteSource
from chatsphere.tests.factories import BotFactory
from chatsphere.tests.helpers import assert_error

pytestmark = pytest.mark.django_db


@pytest.fixture
def bot(user):
    return BotFactory.create(owner=user)


def add_website(api: APIClient, bot: Bot, url: str, **fields: object) -> Any:
    return api.post("/api/sources/", {"bot": str(bot.id), "start_url": url, **fields}, format="json")


def test_a_website_is_crawled_and_its_pages_are_listed_with_their_status(
    api, bot, help_site, agent, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = add_website(api, bot, help_site.url, sitemap_url=f"{help_site.url}/sitemap.xml")
    assert response.status_code == 202, response.content
    assert response.json()["status"] == "CRAWLING"
    source_id = response.json()["id"]

    source = api.get(f"/api/sources/{source_id}/").json()
    assert source["status"] == "READY"
    assert source["page_count"] == 8  # 5 pages READY, the redirect loop, the slow and the huge page ERROR
    listed = api.get(f"/api/documents/?source={source_id}").json()
    assert listed["count"] == 8
    by_url = {page["url"]: page for page in listed["results"]}
    assert by_url[f"{help_site.url}/returns"]["name"] == "Returns and refunds"
    assert by_url[f"{help_site.url}/returns"]["status"] == "READY"
    assert by_url[f"{help_site.url}/returns"]["source"] == source_id
    assert by_url[f"{help_site.url}/huge"]["status"] == "ERROR"
    assert by_url[f"{help_site.url}/huge"]["error_message"]
    assert api.get(f"/api/sources/?bot={bot.id}").json()["count"] == 1


def test_a_recrawl_is_202_and_409_while_one_runs(api, bot, help_site, django_capture_on_commit_callbacks):
    source_id = add_website(api, bot, help_site.url).json()["id"]  # its crawl not run yet: CRAWLING

    assert_error(api.post(f"/api/sources/{source_id}/crawl/"), 409, "crawl_in_progress")
    WebsiteSource.objects.filter(pk=source_id).update(status=WebsiteSource.Status.READY)
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(f"/api/sources/{source_id}/crawl/")
    assert response.status_code == 202
    assert api.get(f"/api/sources/{source_id}/").json()["status"] == "READY"


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"start_url": "ftp://files.example/"}, "start_url"),
        ({"start_url": "not a url"}, "start_url"),
        (
            {"start_url": "https://help.example/", "sitemap_url": "https://other.example/sitemap.xml"},
            "sitemap_url",
        ),
        ({"start_url": "https://help.example/", "recrawl_interval_hours": 0}, "recrawl_interval_hours"),
    ],
)
def test_invalid_addresses_are_400_on_their_field(api, bot, fields, field):
    response = api.post("/api/sources/", {"bot": str(bot.id), **fields}, format="json")

    error = assert_error(response, 400, "validation_error")
    assert {detail["field"] for detail in error["details"]} == {field}
    assert not WebsiteSource.objects.exists()


def test_another_users_sources_are_invisible(api, other_api, bot, help_site):
    source_id = add_website(api, bot, help_site.url).json()["id"]

    assert_error(other_api.get(f"/api/sources/{source_id}/"), 404)
    assert_error(other_api.post(f"/api/sources/{source_id}/crawl/"), 404)
    assert_error(other_api.delete(f"/api/sources/{source_id}/"), 404)
    assert other_api.get("/api/sources/").json()["count"] == 0
    error = assert_error(add_website(other_api, bot, help_site.url), 400, "validation_error")
    assert error["details"][0]["field"] == "bot"


def test_deleting_a_source_deletes_its_pages_and_their_vectors(
    api, bot, help_site, agent, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        source_id = add_website(api, bot, help_site.url).json()["id"]
    assert agent.vectors[bot.id]

    assert api.delete(f"/api/sources/{source_id}/").status_code == 204

    assert not WebsiteSource.objects.exists()
    assert not Document.objects.exists()
    assert not any(agent.vectors[bot.id].values())


def test_deleting_a_source_with_the_agent_down_is_503_and_keeps_it(
    api, bot, help_site, agent, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        source_id = add_website(api, bot, help_site.url).json()["id"]
    agent.unavailable = True

    assert_error(api.delete(f"/api/sources/{source_id}/"), 503, "agent_unavailable")
    assert WebsiteSource.objects.filter(pk=source_id).exists()


def test_a_page_that_could_not_be_read_is_retried_by_a_crawl_not_by_retry(
    api, bot, help_site, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        source_id = add_website(api, bot, help_site.url).json()["id"]
    huge = Document.objects.get(source_id=source_id, url=f"{help_site.url}/huge")

    error = assert_error(api.post(f"/api/documents/{huge.id}/retry/"), 409, "document_not_retryable")
    assert "crawl the website again" in error["message"]
