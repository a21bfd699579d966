"""Findings 7 and 8: nothing private shown or served to anonymous callers; production TLS settings."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.integration.helpers import create_bot, upload_document
from testsupport.stack import Account, DjangoServer

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def debug_django(django_env: dict[str, str], stack_dir: Path, django: DjangoServer) -> Iterator[DjangoServer]:
    """The same stack with DJANGO_DEBUG=true, as a developer may turn it on (migrations already applied)."""
    server = DjangoServer(env=django_env | {"DJANGO_DEBUG": "true"}, log_dir=stack_dir / "logs-debug")
    try:
        server.start()
        yield server
    finally:
        server.stop()


def test_anonymous_health_shows_no_paths(django: DjangoServer, stack_dir: Path):
    """Must hold: /api/health/ names each provider's kind but no file system path (finding 7)."""
    # The question here is what health shows, not how fast: after the earlier faults (connections dropped,
    # Redis paused) its probes may each wait out their own deadlines (pool 10 s, Redis and broker 1 s, agent
    # 2 s), past httpx's default of 5 s.
    health = httpx.get(f"{django.url}/api/health/", timeout=20.0)

    assert health.status_code == 200, health.text
    assert str(stack_dir) not in health.text
    assert all("/" not in value for value in health.json()["agent"]["providers"].values())


def test_uploaded_files_are_not_served_even_with_debug_on(account: Account, debug_django: DjangoServer):
    """Must hold: an uploaded file cannot be downloaded without logging in, with DEBUG on too (finding 7:
    /media/ served every upload to anyone)."""
    bot_id = create_bot(account.client)
    document = upload_document(account.client, bot_id=bot_id)

    leaked = httpx.get(f"{debug_django.url}/media/documents/{bot_id}/{document['id']}.txt")

    assert leaked.status_code == 404, leaked.text[:200]


def test_behind_the_tls_proxy_links_are_https_and_plain_http_is_redirected(
    account: Account, django: DjangoServer
):
    """Must hold: with the proxy's X-Forwarded-Proto: https, pagination links are https:// and HSTS is sent;
    a plain-HTTP request is redirected to HTTPS (finding 8: links stayed http://)."""
    for _ in range(3):
        create_bot(account.client)  # API_PAGE_SIZE is 2 in this suite: a second page exists

    page = account.client.get("/bots/")
    plain = httpx.get(
        f"{django.url}/api/bots/", headers={"Authorization": account.client.headers["Authorization"]}
    )

    assert page.status_code == 200, page.text
    assert page.json()["next"].startswith("https://")
    assert "max-age" in page.headers["Strict-Transport-Security"]
    assert plain.status_code == 301
    assert plain.headers["Location"].startswith("https://")
