"""The agent app with both real providers, built exactly as production builds them, replayed."""

from __future__ import annotations

from fastapi.testclient import TestClient

from chatsphere_agent.main import create_app
from chatsphere_agent.providers.factory import build_providers
from chatsphere_agent.tests.cassettes import scenario
from chatsphere_agent.tests.cassettes.replay import paths, response_json

AUTH = {"Authorization": f"Bearer {scenario.SERVICE_TOKEN}"}
CHAT_BODY = {"bot_id": scenario.BOT_ID, "message": scenario.QUESTION}


def test_embed_and_store_then_chat_with_gemini_and_pinecone(settings, use_cassette):
    with use_cassette("app/embed_and_chat.yaml") as cassette:
        client = TestClient(create_app(providers=build_providers(settings), settings=settings))
        stored = client.post(
            "/embed_and_store",
            json={"bot_id": scenario.BOT_ID, "document_id": scenario.DOCUMENT_ID, "chunks": scenario.CHUNKS},
            headers=AUTH,
        )
        chat = client.post(
            "/chat",
            json={
                **CHAT_BODY,
                "history": [{"role": turn.role, "content": turn.content} for turn in scenario.HISTORY],
                "system_prompt": scenario.SYSTEM_PROMPT,
            },
            headers=AUTH,
        )

    assert cassette.all_played
    assert stored.status_code == 200, stored.text
    assert stored.json()["stored_vector_count"] == len(scenario.CHUNKS)
    assert chat.status_code == 200, chat.text
    gemini_reply = response_json(
        cassette, paths(cassette).index("/v1beta/models/gemini-2.5-flash:generateContent")
    )
    assert chat.json()["response"] == gemini_reply["candidates"][0]["content"]["parts"][0]["text"]
    assert chat.json()["model"] == gemini_reply["modelVersion"]
    matches = response_json(cassette, paths(cassette).index("/query"))["matches"]
    relevant = [match for match in matches if match["score"] >= settings.min_relevance_score]
    assert [(source["chunk_index"], source["score"]) for source in chat.json()["sources"]] == [
        (int(match["metadata"]["chunk_index"]), match["score"]) for match in relevant
    ]


def test_chat_while_pinecone_stays_unavailable_answers_503(settings, use_cassette):
    with use_cassette("app/chat_pinecone_unavailable.yaml") as cassette:
        client = TestClient(create_app(providers=build_providers(settings), settings=settings))
        response = client.post("/chat", json=CHAT_BODY, headers=AUTH)

    assert cassette.all_played
    assert paths(cassette).count("/query") == settings.provider_max_retries + 1
    assert response.status_code == 503
    error = response.json()["error"]
    assert error["code"] == "provider_unavailable"
    assert "pinecone" in error["message"]
    assert "503" in error["message"]


def test_chat_with_a_malformed_gemini_reply_answers_502(settings, use_cassette):
    with use_cassette("app/chat_gemini_malformed.yaml") as cassette:
        client = TestClient(create_app(providers=build_providers(settings), settings=settings))
        response = client.post("/chat", json=CHAT_BODY, headers=AUTH)

    assert cassette.all_played
    assert response.status_code == 502
    error = response.json()["error"]
    assert error["code"] == "provider_error"
    assert "gemini" in error["message"]
    assert "could not read" in error["message"]
