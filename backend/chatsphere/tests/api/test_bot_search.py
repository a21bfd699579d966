import pytest

from chatsphere.tests.factories import BotFactory, DocumentFactory
from chatsphere.tests.helpers import assert_error

pytestmark = pytest.mark.django_db


def test_owner_searches_the_bots_chunks_with_scores_and_document_names(api, user, agent):
    bot = BotFactory.create(owner=user)
    notes = DocumentFactory.create(bot=bot, name="penguins.md")
    agent.call_embed_and_store(
        bot_id=bot.id, document_id=notes.id, chunks=["Penguins eat krill.", "Seals swim."]
    )

    answer = api.post(
        f"/api/bots/{bot.id}/search/", {"query": "what do penguins eat", "top_k": 5}, format="json"
    )

    assert answer.status_code == 200, answer.content
    body = answer.json()
    assert body["mode"] == "lexical"
    assert [(hit["document_name"], hit["chunk_index"], hit["text"]) for hit in body["results"]] == [
        ("penguins.md", 0, "Penguins eat krill.")
    ]
    assert set(body["results"][0]) == {
        "document_id", "document_name", "chunk_index", "text", "score", "dense_score", "lexical_score"
    }  # fmt: skip
    assert agent.chat_requests == []  # no language model


def test_top_k_goes_up_to_100_and_the_schema_says_so(api, user, agent):
    bot = BotFactory.create(owner=user)
    notes = DocumentFactory.create(bot=bot, name="walrus.md")
    agent.call_embed_and_store(
        bot_id=bot.id, document_id=notes.id, chunks=[f"Walrus fact {i}." for i in range(120)]
    )

    answer = api.post(f"/api/bots/{bot.id}/search/", {"query": "walrus", "top_k": 100}, format="json")

    assert answer.status_code == 200, answer.content
    assert len(answer.json()["results"]) == 100
    schema = api.get("/api/schema/?format=json").json()
    body = schema["paths"]["/api/bots/{id}/search/"]["post"]["requestBody"]["content"]["application/json"]
    top_k = schema["components"]["schemas"][body["schema"]["$ref"].rsplit("/", 1)[1]]["properties"]["top_k"]
    assert top_k["maximum"] == 100
    assert "1 to 100" in top_k["description"]


def test_another_users_bot_is_404(other_api, user, agent):
    bot = BotFactory.create(owner=user)
    assert_error(other_api.post(f"/api/bots/{bot.id}/search/", {"query": "x"}, format="json"), 404)


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"query": ""}, "query"),
        ({"query": "x", "top_k": 101}, "top_k"),
        ({"query": "x", "top_k": "5"}, "top_k"),
        ({"query": "x", "top_k": True}, "top_k"),
        ({"query": "x", "mode": "fuzzy"}, "mode"),
    ],
)
def test_bad_search_is_400_with_the_field_named(api, user, payload, field):
    bot = BotFactory.create(owner=user)
    error = assert_error(
        api.post(f"/api/bots/{bot.id}/search/", payload, format="json"), 400, "validation_error"
    )
    assert field in {detail["field"] for detail in error["details"]}


def test_agent_down_is_503(api, user, agent):
    bot = BotFactory.create(owner=user)
    agent.unavailable = True
    assert_error(
        api.post(f"/api/bots/{bot.id}/search/", {"query": "x"}, format="json"), 503, "agent_unavailable"
    )
