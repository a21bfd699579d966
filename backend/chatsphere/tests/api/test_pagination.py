import pytest

from chatsphere.api.pagination import StrictPageNumberPagination
from chatsphere.tests.factories import BotFactory
from chatsphere.tests.helpers import assert_error

pytestmark = pytest.mark.django_db

LISTS = ["/api/bots/", "/api/documents/", "/api/conversations/"]


@pytest.mark.parametrize("url", LISTS)
@pytest.mark.parametrize("page", ["", "x", "0", "-1", "1.0", " 2", "last", "\u0663"])
def test_a_page_that_is_not_a_positive_integer_is_400(api, url, page):
    # Found by schemathesis (negative_data_rejection): `?page=` (empty) was read as page 1.
    error = assert_error(api.get(url, {"page": page}), 400, "validation_error")
    assert [detail["field"] for detail in error["details"]] == ["page"]


def test_pages_from_one_and_a_page_past_the_last_is_404(api, user):
    page_size = StrictPageNumberPagination.page_size
    assert page_size
    BotFactory.create_batch(page_size + 1, owner=user)

    first, second = api.get("/api/bots/", {"page": "1"}).json(), api.get("/api/bots/", {"page": "2"}).json()

    assert (first["count"], len(first["results"]), len(second["results"])) == (page_size + 1, page_size, 1)
    assert second["next"] is None
    assert_error(api.get("/api/bots/", {"page": "3"}), 404, "not_found")


def test_the_schema_says_pages_start_at_one(client):
    paths = client.get("/api/schema/?format=json").json()["paths"]
    for url in LISTS:
        operation = paths[url]["get"]
        page = next(parameter for parameter in operation["parameters"] if parameter["name"] == "page")
        assert page["schema"] == {"type": "integer", "minimum": 1}
        assert {"400", "404"} <= set(operation["responses"])
