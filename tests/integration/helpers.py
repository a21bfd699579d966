"""Small steps of the product's REST API, shared by the integration tests."""

from __future__ import annotations

import time
from typing import Any

import httpx

FACT = "The lighthouse keeper of Vardø island feeds her three cats smoked herring every Thursday."
QUESTION = "What does the lighthouse keeper feed her cats?"


def create_bot(client: httpx.Client) -> str:
    answer = client.post("/bots/", json={"name": "Integration bot"})
    assert answer.status_code == 201, answer.text
    bot_id: str = answer.json()["id"]
    return bot_id


def upload_document(client: httpx.Client, *, bot_id: str, text: str = FACT) -> dict[str, Any]:
    answer = client.post(
        "/documents/", data={"bot": bot_id}, files={"file": ("keeper.txt", text.encode(), "text/plain")}
    )
    assert answer.status_code == 202, answer.text
    document: dict[str, Any] = answer.json()
    assert document["status"] == "PROCESSING"
    return document


def document_status(client: httpx.Client, document_id: str) -> dict[str, Any]:
    answer = client.get(f"/documents/{document_id}/")
    assert answer.status_code == 200, answer.text
    document: dict[str, Any] = answer.json()
    return document


def wait_for_document(client: httpx.Client, document_id: str, *, timeout_s: float) -> dict[str, Any]:
    """Poll until the document leaves PROCESSING; fail with its last state after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while True:
        document = document_status(client, document_id)
        if document["status"] != "PROCESSING" or time.monotonic() > deadline:
            return document
        time.sleep(0.25)


def start_conversation(client: httpx.Client, *, bot_id: str) -> str:
    answer = client.post("/conversations/", json={"bot": bot_id})
    assert answer.status_code == 201, answer.text
    conversation_id: str = answer.json()["id"]
    return conversation_id


def chat(client: httpx.Client, conversation_id: str, message: str) -> httpx.Response:
    return client.post(f"/conversations/{conversation_id}/chat/", json={"message": message})
