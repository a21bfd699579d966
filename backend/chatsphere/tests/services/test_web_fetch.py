"""The crawler's fetcher against a real loopback server: what it fetches, and every address it refuses.

Refusals never need the network: an address is refused before any connection, and the names that lead to
private addresses come from a StaticResolver (the real resolver's seam), never from DNS.
"""

import ipaddress
import ssl

import pytest
import trustme

from chatsphere.services.web_fetch import (
    HTML_TYPES,
    FetchError,
    FetchRefusedError,
    PageGoneError,
    SafeFetcher,
    StaticResolver,
    address_refusal,
)
from chatsphere.tests.conftest import TEST_FETCH_MAX_BYTES
from testsupport.fixture_site import RETURNS_TEXT, FixtureSite, Route, help_centre, serving


def test_a_page_on_the_loopback_site_is_fetched_when_loopback_is_allowed(fetcher, help_site):
    page = fetcher.fetch(f"{help_site.url}/returns", accept=HTML_TYPES)

    assert page.content_type == "text/html"
    assert RETURNS_TEXT.split("\n")[0].encode() in page.body
    assert page.url == f"{help_site.url}/returns"


def test_redirects_are_followed_to_the_final_address(fetcher, help_site):
    help_site.redirect("/old-returns", "/returns", status=301)

    page = fetcher.fetch(f"{help_site.url}/old-returns", accept=HTML_TYPES)

    assert page.url == f"{help_site.url}/returns"
    assert help_site.requests[-2:] == ["/old-returns", "/returns"]


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/",  # loopback
        "http://127.1.2.3/",
        "http://localhost/",  # a name that resolves to loopback (the system's resolver)
        "http://2130706433/",  # 127.0.0.1 spelled as one number
        "http://[::1]/",  # IPv6 loopback
        "http://[::ffff:127.0.0.1]/",  # IPv4-mapped IPv6
        "http://10.0.0.8/",  # private
        "http://172.16.5.4/",
        "http://192.168.1.1/",
        "http://[fd12:3456::1]/",  # IPv6 unique local
        "http://169.254.169.254/latest/meta-data/",  # cloud metadata
        "http://[::ffff:169.254.169.254]/",
        "http://169.254.10.10/",  # link-local
        "http://[fe80::1]/",
        "http://0.0.0.0/",  # unspecified
        "http://[::]/",
        "http://100.64.0.1/",  # carrier-grade NAT: not public
    ],
)
def test_private_loopback_link_local_and_metadata_addresses_are_refused_before_connecting(url):
    # The default fetcher: loopback not allowed, as in production.
    strict = SafeFetcher()
    try:
        with pytest.raises(FetchRefusedError, match="never fetched"):
            strict.fetch(url, accept=HTML_TYPES)
    finally:
        strict.close()


def test_the_metadata_address_is_named_as_such():
    assert address_refusal(ipaddress.ip_address("169.254.169.254"), allow_loopback=True) == (
        "a cloud metadata address"
    )
    assert address_refusal(ipaddress.ip_address("93.184.215.14"), allow_loopback=False) is None


def test_a_name_that_resolves_to_a_private_address_is_refused():
    resolver = StaticResolver({"intranet.example": [["10.1.2.3"]]})
    fetcher = SafeFetcher(resolver=resolver)
    try:
        with pytest.raises(
            FetchRefusedError, match=r"intranet.example leads to a private address \(10.1.2.3\)"
        ):
            fetcher.fetch("https://intranet.example/wiki", accept=HTML_TYPES)
    finally:
        fetcher.close()


def test_a_name_with_one_private_address_among_public_ones_is_refused():
    resolver = StaticResolver({"mixed.example": [["93.184.215.14", "192.168.0.7"]]})
    fetcher = SafeFetcher(resolver=resolver)
    try:
        with pytest.raises(FetchRefusedError, match="private address"):
            fetcher.fetch("http://mixed.example/", accept=HTML_TYPES)
    finally:
        fetcher.close()


def test_a_redirect_to_a_private_address_is_refused(fetcher, help_site):
    help_site.redirect("/to-intranet", "http://10.0.0.8/admin")

    with pytest.raises(FetchRefusedError, match="private address"):
        fetcher.fetch(f"{help_site.url}/to-intranet", accept=HTML_TYPES)


def test_a_redirect_to_the_metadata_address_is_refused(fetcher, help_site):
    help_site.redirect("/to-metadata", "http://169.254.169.254/latest/meta-data/")

    with pytest.raises(FetchRefusedError, match="metadata address"):
        fetcher.fetch(f"{help_site.url}/to-metadata", accept=HTML_TYPES)


def test_the_connection_goes_to_the_address_that_was_checked_no_second_lookup(help_site):
    # DNS rebinding: the name answers a permitted address first, another one after. The request must go
    # to the first (the fixture site listens on 127.0.0.1 only; 127.0.0.2 would refuse the connection).
    port = help_site.url.rsplit(":", 1)[1]
    resolver = StaticResolver({"help.example": [["127.0.0.1"], ["127.0.0.2"], ["127.0.0.2"]]})
    fetcher = SafeFetcher(resolver=resolver, allow_loopback=True)
    try:
        page = fetcher.fetch(f"http://help.example:{port}/returns", accept=HTML_TYPES)
    finally:
        fetcher.close()

    assert RETURNS_TEXT.split("\n")[0].encode() in page.body
    assert resolver.lookups == ["help.example"]


def test_the_host_header_names_the_site_not_the_address(help_site):
    port = help_site.url.rsplit(":", 1)[1]
    fetcher = SafeFetcher(resolver=StaticResolver({"help.example": [["127.0.0.1"]]}), allow_loopback=True)
    try:
        fetcher.fetch(f"http://help.example:{port}/returns", accept=HTML_TYPES)
    finally:
        fetcher.close()

    assert help_site.hosts == [f"help.example:{port}"]


def test_https_goes_to_the_checked_address_and_verifies_the_sites_name_not_the_address():
    ca = trustme.CA()
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("help.example").configure_cert(server_context)
    client_context = ssl.create_default_context()
    ca.configure_trust(client_context)
    resolver = StaticResolver({"help.example": [["127.0.0.1"]], "other.example": [["127.0.0.1"]]})
    fetcher = SafeFetcher(resolver=resolver, allow_loopback=True, verify=client_context)
    with serving(help_centre(FixtureSite()), tls=server_context) as site:
        port = site.url.rsplit(":", 1)[1]
        try:
            page = fetcher.fetch(f"https://help.example:{port}/returns", accept=HTML_TYPES)
            # The same address under another name: the certificate does not name it, so no page.
            with pytest.raises(FetchError, match="could not be reached"):
                fetcher.fetch(f"https://other.example:{port}/returns", accept=HTML_TYPES)
        finally:
            fetcher.close()

    assert RETURNS_TEXT.split("\n")[0].encode() in page.body
    assert site.hosts == [f"help.example:{port}"]


@pytest.mark.parametrize(
    "url",
    ["file:///etc/passwd", "ftp://example.com/file", "gopher://127.0.0.1:6379/_INFO", "javascript:alert(1)"],
)
def test_only_http_and_https_are_fetched(fetcher, url):
    with pytest.raises(FetchRefusedError, match="Only http and https"):
        fetcher.fetch(url, accept=HTML_TYPES)


def test_a_body_past_the_limit_is_refused_while_reading(fetcher, help_site):
    # No Content-Length to trust: the limit holds on the bytes as they arrive.
    help_site.routes["/endless"] = Route(
        body=b"<p>" + b"y" * (TEST_FETCH_MAX_BYTES * 2), declare_length=False
    )

    with pytest.raises(FetchRefusedError, match=f"larger than the limit of {TEST_FETCH_MAX_BYTES} bytes"):
        fetcher.fetch(f"{help_site.url}/endless", accept=HTML_TYPES)


def test_a_declared_length_past_the_limit_is_refused_before_reading(fetcher, help_site):
    with pytest.raises(FetchRefusedError, match=f"the limit is {TEST_FETCH_MAX_BYTES} bytes"):
        fetcher.fetch(f"{help_site.url}/huge", accept=HTML_TYPES)


def test_a_wrong_content_type_is_refused(fetcher, help_site):
    help_site.routes["/photo"] = Route(content_type="image/png", body=b"\x89PNG")

    with pytest.raises(FetchRefusedError, match="image/png, not text/html or application/xhtml"):
        fetcher.fetch(f"{help_site.url}/photo", accept=HTML_TYPES)


def test_a_missing_page_is_gone_and_a_redirect_loop_ends(fetcher, help_site):
    with pytest.raises(PageGoneError, match="404"):
        fetcher.fetch(f"{help_site.url}/missing", accept=HTML_TYPES)
    with pytest.raises(FetchError, match="redirects more than 5 times"):
        fetcher.fetch(f"{help_site.url}/loop-a", accept=HTML_TYPES)


def test_a_slow_page_times_out(fetcher, help_site):
    with pytest.raises(FetchError, match="did not answer in time"):
        fetcher.fetch(f"{help_site.url}/slow", accept=HTML_TYPES)
