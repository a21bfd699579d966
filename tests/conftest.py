"""What the e2e session's stack is shaped by: tests/e2e and tests/browser share one stack (tox -e e2e), so
its settings live here, above both. The other suites over real processes override `stack_settings`."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from testsupport.fixture_site import FixtureSite, help_centre, serving, sitemap


@pytest.fixture(scope="session")
def stack_settings() -> dict[str, str]:
    """The crawler may fetch the loopback fixture site (never in production), quickly: no politeness
    delay to speak of, the slow page given up after a second, the huge page refused past 100 kB."""
    return {
        "WEB_FETCH_ALLOW_LOOPBACK": "true",
        "CRAWL_DELAY_SECONDS": "0.01",
        "WEB_FETCH_TIMEOUT_SECONDS": "1",
        "WEB_FETCH_CONNECT_TIMEOUT_SECONDS": "1",
        "WEB_FETCH_MAX_BYTES": "100000",
    }


@pytest.fixture
def help_site() -> Iterator[FixtureSite]:
    """testsupport's help centre on loopback, with its sitemap; a test may change it."""
    with serving(help_centre(FixtureSite())) as site:
        sitemap(site)
        yield site
