import re

import pytest

from chatsphere.api.serializers import NO_NUL_PATTERN, NOT_BLANK_PATTERN
from chatsphere.models import Bot
from chatsphere.tests.factories import BotFactory
from chatsphere.tests.helpers import assert_error

pytestmark = pytest.mark.django_db


def test_create_list_update_bot(api, user):
    created = api.post("/api/bots/", {"name": "Helper", "temperature": 0.2}, format="json")
    assert created.status_code == 201
    bot_id = created.json()["id"]
    assert Bot.objects.get(pk=bot_id).owner == user

    listing = api.get("/api/bots/").json()
    assert set(listing) == {"count", "next", "previous", "results"}
    assert [bot["id"] for bot in listing["results"]] == [bot_id]

    updated = api.patch(
        f"/api/bots/{bot_id}/", {"system_prompt": "Be brief.", "is_active": False}, format="json"
    )
    assert updated.status_code == 200
    assert updated.json()["system_prompt"] == "Be brief."
    assert Bot.objects.get(pk=bot_id).is_active is False


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"name": "x", "temperature": 2.5}, "temperature"),
        ({"name": ""}, "name"),
        ({"name": "x", "model": "bad model!"}, "model"),
        ({"name": "x", "retrieval_top_k": 0}, "retrieval_top_k"),
        ({"name": "x", "retrieval_top_k": 21}, "retrieval_top_k"),
        ({"name": "x", "retrieval_min_score": 1.5}, "retrieval_min_score"),
    ],
)
def test_invalid_bot_is_400_with_the_field_named(api, payload, field):
    error = assert_error(api.post("/api/bots/", payload, format="json"), 400, "validation_error")
    assert field in {detail["field"] for detail in error["details"]}
    assert not Bot.objects.exists()


@pytest.mark.parametrize("is_active", [0, 1, "true", "yes", None])
def test_is_active_takes_only_a_json_boolean(api, is_active):
    # Found by schemathesis (negative_data_rejection): `"is_active": 0` created an inactive bot.
    response = api.post("/api/bots/", {"name": "x", "is_active": is_active}, format="json")

    error = assert_error(response, 400, "validation_error")
    assert {detail["field"] for detail in error["details"]} == {"is_active"}
    assert not Bot.objects.exists()


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("temperature", False),
        ("temperature", "0.5"),
        ("temperature", None),
        ("model", 0),
        ("name", 1),
        ("retrieval_top_k", "4"),
        ("retrieval_top_k", 4.5),
        ("retrieval_top_k", True),
    ],
)
def test_each_field_takes_only_its_json_type(api, field, value):
    # Found by schemathesis (negative_data_rejection): `"temperature": false` made a bot with temperature 0,
    # `"model": 0` one with model "0".
    response = api.post("/api/bots/", {"name": "x", field: value}, format="json")

    error = assert_error(response, 400, "validation_error")
    assert {detail["field"] for detail in error["details"]} == {field}
    assert not Bot.objects.exists()


@pytest.mark.parametrize("field", ["name", "description", "welcome_message", "system_prompt"])
def test_the_schema_says_text_fields_refuse_null_characters(api, client, field):
    # Found by schemathesis (positive_data_acceptance): a NUL was a 400 that the schema did not explain.
    response = api.post("/api/bots/", {"name": "x", field: "a\u0000b"}, format="json")
    schema = client.get("/api/schema/?format=json").json()["components"]["schemas"]["BotRequest"]

    error = assert_error(response, 400, "validation_error")
    assert {detail["field"] for detail in error["details"]} == {field}
    described = schema["properties"][field]
    patterns = {branch.get("pattern") for branch in described.get("oneOf", [described])}
    assert patterns & {NO_NUL_PATTERN, NOT_BLANK_PATTERN}


@pytest.mark.parametrize("blank", ["\r", " \u0085 ", "\u001c", "\u3000"])
def test_a_name_of_only_whitespace_is_refused_as_the_schema_says(api, client, blank):
    # Found by schemathesis at CI's budget (issue 14): `"name": "\r"` passed the schema's NUL-only pattern,
    # then DRF trimmed it to "" and refused it.
    response = api.post("/api/bots/", {"name": blank}, format="json")
    schema = client.get("/api/schema/?format=json").json()["components"]["schemas"]["BotRequest"]

    error = assert_error(response, 400, "validation_error")
    assert {detail["field"] for detail in error["details"]} == {"name"}
    assert schema["properties"]["name"]["pattern"] == NOT_BLANK_PATTERN
    assert re.fullmatch(NOT_BLANK_PATTERN, blank) is None


def test_an_integral_float_is_a_valid_top_k(api):
    # JSON Schema counts 3.0 as an integer, so the schema's `integer` takes it.
    response = api.post("/api/bots/", {"name": "x", "retrieval_top_k": 3.0}, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["retrieval_top_k"] == 3


def test_an_integer_is_a_valid_temperature(api):
    response = api.post("/api/bots/", {"name": "x", "temperature": 1}, format="json")

    assert response.status_code == 201, response.content
    assert response.json()["temperature"] == 1.0


def test_another_users_bot_is_404_for_every_operation(other_api):
    bot = BotFactory.create()
    url = f"/api/bots/{bot.id}/"
    assert_error(other_api.get(url), 404, "not_found")
    assert_error(other_api.patch(url, {"name": "mine"}, format="json"), 404)
    assert_error(other_api.delete(url), 404)
    assert other_api.get("/api/bots/").json()["count"] == 0
    bot.refresh_from_db()
    assert bot.name != "mine"


def test_delete_bot_drops_its_vectors_in_the_agent(api, user, agent):
    bot = BotFactory.create(owner=user)
    agent.call_embed_and_store(bot_id=bot.id, document_id=bot.id, chunks=["some text"])
    assert api.delete(f"/api/bots/{bot.id}/").status_code == 204
    assert bot.id not in agent.vectors
    assert not Bot.objects.filter(pk=bot.id).exists()


def test_delete_bot_with_agent_down_is_503_and_deletes_nothing(api, user, agent):
    bot = BotFactory.create(owner=user)
    agent.unavailable = True
    assert_error(api.delete(f"/api/bots/{bot.id}/"), 503, "agent_unavailable")
    assert Bot.objects.filter(pk=bot.id).exists()

    agent.unavailable = False
    assert api.delete(f"/api/bots/{bot.id}/").status_code == 204


def test_non_uuid_id_is_404(api):
    assert_error(api.get("/api/bots/not-a-uuid/"), 404)


def test_unsupported_method_is_405_in_the_error_shape(api):
    assert_error(api.put("/api/bots/", {}, format="json"), 405, "method_not_allowed")


def test_the_not_blank_pattern_refuses_exactly_what_drf_trims_to_nothing():
    pattern = re.compile(NOT_BLANK_PATTERN)
    characters = (chr(point) for point in range(1, 0x110000))

    disagreeing = [hex(ord(c)) for c in characters if (pattern.fullmatch(c) is None) != (c.strip() == "")]

    assert disagreeing == []
