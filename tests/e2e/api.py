"""One registered user of the running product, speaking its REST API over real HTTP."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx

from testsupport.stack import Account, register_account

INGEST_TIMEOUT_S = 120.0


class ApiUser:
    """A registered, logged-in user. Steps that must succeed assert their status; `client` is raw."""

    def __init__(self, account: Account) -> None:
        self.username = account.username
        self.client = account.client

    @classmethod
    def register(cls, *, base_url: str) -> ApiUser:
        """A new user of the product at `base_url`; the caller closes its client."""
        client = httpx.Client(base_url=f"{base_url}/api", timeout=httpx.Timeout(120.0, connect=5.0))
        return cls(register_account(client, prefix="e2e"))

    def close(self) -> None:
        self.client.close()

    def create_bot(self, *, name: str = "E2E bot") -> str:
        answer = self.client.post("/bots/", json={"name": name})
        assert answer.status_code == 201, answer.text
        return str(answer.json()["id"])

    def upload(self, *, bot_id: str, name: str, text: str) -> dict[str, Any]:
        answer = self.client.post(
            "/documents/", data={"bot": bot_id}, files={"file": (name, text.encode(), "text/plain")}
        )
        assert answer.status_code == 202, answer.text
        document: dict[str, Any] = answer.json()
        return document

    def document(self, document_id: str) -> dict[str, Any]:
        answer = self.client.get(f"/documents/{document_id}/")
        assert answer.status_code == 200, answer.text
        document: dict[str, Any] = answer.json()
        return document

    def wait_processed(self, document_id: str) -> dict[str, Any]:
        """The document once it has left PROCESSING (or as it is after INGEST_TIMEOUT_S)."""
        deadline = time.monotonic() + INGEST_TIMEOUT_S
        while True:
            document = self.document(document_id)
            if document["status"] != "PROCESSING" or time.monotonic() > deadline:
                return document
            time.sleep(0.2)

    def upload_ready(self, *, bot_id: str, name: str, text: str) -> str:
        document_id = str(self.upload(bot_id=bot_id, name=name, text=text)["id"])
        processed = self.wait_processed(document_id)
        assert processed["status"] == "READY", processed
        assert processed["chunk_count"] >= 1, processed
        return document_id

    def add_website(self, *, bot_id: str, start_url: str, sitemap_url: str) -> str:
        answer = self.client.post(
            "/sources/", json={"bot": bot_id, "start_url": start_url, "sitemap_url": sitemap_url}
        )
        assert answer.status_code == 202, answer.text
        return str(answer.json()["id"])

    def crawl_again(self, source_id: str) -> None:
        answer = self.client.post(f"/sources/{source_id}/crawl/")
        assert answer.status_code == 202, answer.text

    def wait_crawled(self, source_id: str) -> list[dict[str, Any]]:
        """The source's pages once it has finished crawling and they have left PROCESSING."""
        deadline = time.monotonic() + INGEST_TIMEOUT_S
        while True:
            source = self.client.get(f"/sources/{source_id}/").json()
            pages: list[dict[str, Any]] = self.client.get(f"/documents/?source={source_id}").json()["results"]
            settled = source["status"] != "CRAWLING" and all(page["status"] != "PROCESSING" for page in pages)
            if settled or time.monotonic() > deadline:
                assert source["status"] == "READY", source
                return pages
            time.sleep(0.2)

    def start_conversation(self, *, bot_id: str) -> str:
        answer = self.client.post("/conversations/", json={"bot": bot_id})
        assert answer.status_code == 201, answer.text
        return str(answer.json()["id"])

    def chat(self, conversation_id: str, message: str) -> httpx.Response:
        return self.client.post(f"/conversations/{conversation_id}/chat/", json={"message": message})

    def ask(self, conversation_id: str, message: str) -> dict[str, Any]:
        """The bot's message (content, sources) for a chat that must succeed."""
        answer = self.chat(conversation_id, message)
        assert answer.status_code == 200, answer.text
        bot_message: dict[str, Any] = answer.json()["bot_message"]
        return bot_message

    def stream_chat(
        self, conversation_id: str, message: str, *, leave_after_first_token: bool = False
    ) -> list[tuple[str, Any]]:
        """The events of a streamed chat (heartbeats left out), up to the first token when leaving early."""
        events: list[tuple[str, Any]] = []
        with self.client.stream(
            "POST",
            f"/conversations/{conversation_id}/chat/",
            json={"message": message},
            headers={"Accept": "text/event-stream"},
        ) as answer:
            assert answer.status_code == 200, answer.read()
            assert answer.headers["content-type"].startswith("text/event-stream")
            name = ""
            for line in answer.iter_lines():
                if line.startswith("event: "):
                    name = line[len("event: ") :]
                elif line.startswith("data: "):
                    events.append((name, json.loads(line[len("data: ") :])))
                    if leave_after_first_token and name == "token":
                        break  # closing the response hangs up mid-answer
        return events

    def messages(self, conversation_id: str) -> list[dict[str, Any]]:
        answer = self.client.get(f"/conversations/{conversation_id}/")
        assert answer.status_code == 200, answer.text
        messages: list[dict[str, Any]] = answer.json()["messages"]
        return messages


def cited_documents(bot_message: dict[str, Any]) -> list[str]:
    """Document ids of the message's sources, best first."""
    return [str(source["document_id"]) for source in bot_message["sources"]]


def error_of(answer: httpx.Response) -> dict[str, Any]:
    """The `error` object of the product's error shape; fails when the body has another shape."""
    body = answer.json()
    assert set(body) == {"error"}, body
    error: dict[str, Any] = body["error"]
    assert set(error) == {"code", "message", "details"}, error
    assert isinstance(error["code"], str), error
    assert isinstance(error["message"], str), error
    assert error["message"], error
    return error
