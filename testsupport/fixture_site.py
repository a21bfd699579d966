"""A small website on loopback for the crawler's tests: the one home of the fixture site.

`FixtureSite` serves whatever `routes` holds (a test may change a page, delete one, add one while it
runs); `help_centre()` fills it with a help centre shaped like the real ones the crawler meets: pages with
navigation and footers, a robots.txt that forbids a path, a sitemap, a redirect loop, a link to a page that
does not exist, a slow page and a huge one.
"""

from __future__ import annotations

import ssl
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from html import escape
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HTML = "text/html; charset=utf-8"
FOOTER_TEXT = "Copyright Example Outfitters. All rights reserved. Privacy notice and cookie settings."


@dataclass(frozen=True)
class Route:
    status: int = 200
    content_type: str = HTML
    body: bytes = b""
    headers: tuple[tuple[str, str], ...] = ()
    delay_s: float = 0.0  # before the answer starts: a slow page
    declare_length: bool = True  # False: no Content-Length, the body ends when the connection closes


@dataclass
class FixtureSite:
    """An HTTP server on 127.0.0.1 answering `routes` by path; each request's path is kept in `requests`,
    its Host header in `hosts`."""

    routes: dict[str, Route] = field(default_factory=dict)
    requests: list[str] = field(default_factory=list)
    hosts: list[str] = field(default_factory=list)
    url: str = ""

    def page(self, path: str, *, title: str, text: str, links: tuple[str, ...] = ()) -> None:
        """Serve an HTML page at `path`: navigation to `links`, `text` as its article, a footer."""
        self.routes[path] = Route(body=page_html(title=title, text=text, links=links).encode())

    def redirect(self, path: str, to: str, *, status: int = 302) -> None:
        self.routes[path] = Route(status=status, headers=(("Location", to),))


def page_html(*, title: str, text: str, links: tuple[str, ...] = ()) -> str:
    nav = " ".join(f'<a href="{escape(link)}">{escape(_link_name(link))}</a>' for link in links)
    paragraphs = "".join(f"<p>{escape(paragraph)}</p>" for paragraph in text.split("\n\n"))
    return (
        f"<!doctype html><html><head><title>{escape(title)}</title></head><body>"
        f'<header><nav class="menu">{nav}</nav></header>'
        f"<main><article><h1>{escape(title)}</h1>{paragraphs}</article></main>"
        f"<footer><p>{FOOTER_TEXT}</p></footer></body></html>"
    )


def _link_name(path: str) -> str:
    return path.rstrip("/").rsplit("/", 1)[-1].capitalize() or "Home"


class _Handler(BaseHTTPRequestHandler):
    site: FixtureSite

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        self.site.requests.append(path)
        self.site.hosts.append(self.headers.get("Host", ""))
        route = self.site.routes.get(path, Route(status=404, content_type="text/plain", body=b"not found"))
        if route.delay_s:
            time.sleep(route.delay_s)
        try:
            self.send_response(route.status)
            self.send_header("Content-Type", route.content_type)
            if route.declare_length:
                self.send_header("Content-Length", str(len(route.body)))
            for name, value in route.headers:
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(route.body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the crawler hung up (a body past its limit, a timeout): what a real server sees too

    def log_message(self, format: str, *args: object) -> None:
        pass


@contextmanager
def serving(site: FixtureSite, *, tls: ssl.SSLContext | None = None) -> Iterator[FixtureSite]:
    """Serves `site` on a free loopback port for the block; `site.url` is its origin (http://127.0.0.1:N, or
    https:// with `tls`, a server context holding the site's certificate)."""
    handler = type("Handler", (_Handler,), {"site": site})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    if tls is not None:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    site.url = f"{'https' if tls else 'http'}://127.0.0.1:{server.server_address[1]}"
    # A short poll: shutdown() waits up to one poll interval, paid by every test that serves the site.
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="fixture-site", daemon=True
    )
    thread.start()
    try:
        yield site
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


# The help centre's pages: each answers one question in words found nowhere else on the site.
RETURNS_TEXT = (
    "Unworn boots can be returned within 45 days of delivery for a full refund.\n\n"
    "Print the prepaid label from your order page and drop the parcel at any post office."
)
SHIPPING_TEXT = (
    "Orders leave our warehouse in Tromso within two working days.\n\n"
    "Express delivery by courier reaches most addresses in Norway the next morning."
)
PRICING_TEXT = (
    "The trail membership costs 12 euros a month and includes free resoling of one pair a year.\n\n"
    "Members also get early access to the winter collection."
)
WARRANTY_TEXT = (
    "Every boot carries a three year warranty against broken seams and detached soles.\n\n"
    "Claims are handled by the repair workshop in Bergen."
)
HOME_TEXT = (
    "Welcome to the Example Outfitters help centre for hiking boots and outdoor gear.\n\n"
    "Browse the topics in the menu to find answers about orders, returns and memberships."
)
SLOW_PAGE_DELAY_S = 3.0
HUGE_PAGE_BYTES = 400_000
NAV = ("/", "/pricing", "/returns", "/shipping", "/private/contact")
HOME_LINKS = (*NAV, "/missing", "/loop-a", "/slow", "/huge")


def help_centre(site: FixtureSite) -> FixtureSite:
    """Fill `site` with the help centre (see the module's docstring); returns it."""
    site.page("/", title="Help centre", text=HOME_TEXT, links=HOME_LINKS)
    site.page("/pricing", title="Membership pricing", text=PRICING_TEXT, links=NAV)
    site.page("/returns", title="Returns and refunds", text=RETURNS_TEXT, links=NAV)
    site.page("/shipping", title="Shipping times", text=SHIPPING_TEXT, links=NAV)
    # Linked from every page but forbidden by robots.txt: never fetched.
    site.page("/private/contact", title="Staff contacts", text="Internal phone list.", links=NAV)
    site.redirect("/loop-a", "/loop-b")
    site.redirect("/loop-b", "/loop-a")
    site.routes["/slow"] = Route(
        body=page_html(title="Slow", text="Slow page.").encode(), delay_s=SLOW_PAGE_DELAY_S
    )
    site.routes["/huge"] = Route(body=page_html(title="Huge", text="x" * HUGE_PAGE_BYTES).encode())
    site.routes["/robots.txt"] = Route(
        content_type="text/plain", body=b"User-agent: *\nDisallow: /private/\n"
    )
    # Linked from nowhere: only the sitemap leads to it.
    site.page("/warranty", title="Warranty", text=WARRANTY_TEXT, links=NAV)
    return site


def sitemap(site: FixtureSite, paths: tuple[str, ...] = ("/", "/warranty")) -> None:
    """Serve /sitemap.xml listing `paths` (absolute URLs on the site, as sitemaps require): call it once
    the site is served, when its address is known."""
    entries = "".join(f"<url><loc>{escape(site.url + path)}</loc></url>" for path in paths)
    body = f'<?xml version="1.0" encoding="UTF-8"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{entries}</urlset>'
    site.routes["/sitemap.xml"] = Route(content_type="application/xml", body=body.encode())
