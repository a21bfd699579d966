import pytest

from chatsphere.tests.helpers import assert_error


@pytest.mark.parametrize("debug", [False, True])
@pytest.mark.parametrize("method", ["get", "post", "delete"])
def test_an_unknown_api_path_is_the_json_404_even_in_debug(client, settings, debug, method):
    settings.DEBUG = debug  # Django's DEBUG 404 page is HTML

    response = getattr(client, method)("/api/no/such/thing/")

    assert_error(response, 404, "not_found")


def test_a_missing_trailing_slash_is_named(client):
    error = assert_error(client.post("/api/bots", {}, content_type="application/json"), 404, "not_found")
    assert "slash" in error["message"]
