"""The product in a real browser: Debian's headless Chromium driven by Playwright, against the e2e stack.

The stack (agent + Django on a fresh PostgreSQL database) is testsupport.stack.plugin's. A second
small HTTP server plays the third-party site that embeds the widget: reached as http://localhost:<port>
and as http://127.0.0.1:<port> it is two different origins, one allowed and one not. Screenshots of each
step go to reports/browser/.
"""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator
from html import escape
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from testsupport.local_servers import free_port
from testsupport.services import running_in_ci

REPO = Path(__file__).resolve().parents[2]
SCREENSHOTS = REPO / "reports" / "browser"
# Without the networking flags Chromium keeps calling Google's hosts, which this network refuses.
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    executable = shutil.which("chromium")
    if executable is None:
        problem = "Debian's chromium is not installed (scripts/bootstrap.sh installs it)"
        if running_in_ci():
            pytest.fail(f"CI is set and {problem}", pytrace=False)
        pytest.skip(problem)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_FLAGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A fresh browser profile (no storage shared with other tests)."""
    context = browser.new_context(viewport={"width": 1280, "height": 860})
    context.set_default_timeout(30_000)
    page = context.new_page()
    # Shown with a failing test's captured output: the page's own errors explain most failures.
    page.on("console", lambda message: print(f"console {message.type}: {message.text}"))
    page.on("pageerror", lambda error: print(f"page error: {error}"))
    yield page
    context.close()


class Screenshots:
    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.step = 0
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    def take(self, page: Page, name: str) -> Path:
        self.step += 1
        path = SCREENSHOTS / f"{self.prefix}-{self.step:02d}-{name}.png"
        page.screenshot(path=str(path))
        return path


@pytest.fixture
def shots(request: pytest.FixtureRequest) -> Screenshots:
    return Screenshots(request.node.name)


class ThirdPartySite:
    """A page on another origin that embeds the widget: /?key=<publishable key>."""

    def __init__(self, *, widget_src: str) -> None:
        self.port = free_port()
        handler = _embedding_page_handler(widget_src)
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        self.allowed_origin = f"http://localhost:{self.port}"
        self.other_origin = f"http://127.0.0.1:{self.port}"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def _embedding_page_handler(widget_src: str) -> type[BaseHTTPRequestHandler]:
    class EmbeddingPage(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            key = parse_qs(urlparse(self.path).query).get("key", [""])[0]
            body = (
                "<!doctype html><html lang='en'><head><meta charset='utf-8'><title>Kestrel Lane shop</title>"
                "</head><body style='font-family:sans-serif'><h1>Kestrel Lane shop</h1>"
                "<p>Questions? Ask our assistant.</p>"
                f"<script src='{escape(widget_src)}' data-bot-key='{escape(key)}' async></script>"
                "</body></html>"
            ).encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    return EmbeddingPage


@pytest.fixture(scope="session")
def third_party_site(django_url: str) -> Iterator[ThirdPartySite]:
    site = ThirdPartySite(widget_src=f"{django_url}/static/chatsphere/widget.js")
    yield site
    site.close()
