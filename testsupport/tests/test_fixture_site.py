import httpx

from testsupport.fixture_site import FOOTER_TEXT, FixtureSite, Route, help_centre, serving, sitemap


def test_the_help_centre_serves_its_pages_robots_and_sitemap_and_records_each_request():
    with serving(help_centre(FixtureSite())) as site, httpx.Client(base_url=site.url) as client:
        sitemap(site)
        returns = client.get("/returns")
        robots = client.get("/robots.txt")
        listed = client.get("/sitemap.xml")
        missing = client.get("/missing")
        loop = client.get("/loop-a")

    assert returns.status_code == 200
    assert "<nav" in returns.text
    assert FOOTER_TEXT in returns.text
    assert "Disallow: /private/" in robots.text
    assert f"<loc>{site.url}/warranty</loc>" in listed.text
    assert missing.status_code == 404
    assert (loop.status_code, loop.headers["Location"]) == (302, "/loop-b")
    assert site.requests == ["/returns", "/robots.txt", "/sitemap.xml", "/missing", "/loop-a"]
    assert set(site.hosts) == {site.url.removeprefix("http://")}


def test_a_route_may_change_while_served_and_leave_its_length_unsaid():
    with serving(FixtureSite()) as site, httpx.Client(base_url=site.url) as client:
        site.routes["/page"] = Route(body=b"first")
        first = client.get("/page")
        site.routes["/page"] = Route(body=b"second", declare_length=False)
        second = client.get("/page")

    assert first.text == "first"
    assert (second.text, "content-length" in second.headers) == ("second", False)
