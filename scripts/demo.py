"""ChatSphere end to end over the real REST API: a new user trains a bot on a document and asks it a question.

Start the product first (`make run`), then in another terminal:

    make demo                                   # or: .venv/bin/python scripts/demo.py
    .venv/bin/python scripts/demo.py --base-url http://127.0.0.1:8000

Steps: register a fresh user → get a JWT → create a bot → upload a Markdown document → wait until it is
READY → open a conversation → ask a question the document answers → print the answer and its sources.
Exits 0 when the answer cites the document, 1 on any failure (with the reason), 2 on bad arguments.
"""

from __future__ import annotations

import argparse
import os
import secrets
import sys
import time
from dataclasses import dataclass
from typing import Any

import httpx

DEFAULT_BASE_URL = "http://127.0.0.1:8000"
BASE_URL_ENV = "CHATSPHERE_URL"
REQUEST_TIMEOUT = httpx.Timeout(120.0, connect=5.0)  # the first upload may wait for the model to load
POLL_INTERVAL_S = 0.5
SNIPPET_CHARS = 160

DOCUMENT_NAME = "juniper-hollow-observatory.md"
DOCUMENT_TEXT = """\
# Juniper Hollow Community Observatory: visitor guide

The Juniper Hollow Community Observatory stands on Marten Ridge, 14 km north of the village of Alderbrook.
It is run by volunteers of the Alderbrook Astronomical Society, founded in 1987.

## The telescope
The observatory's main telescope is a 50 cm reflector nicknamed "Old Wren".
Old Wren was installed in the east dome in 2019, paid for by a village crowdfunding campaign.

## Public nights
Public stargazing nights run every Friday from 20:30 to 23:30, from April to October.
Visitors should bring a red-light torch; white torches spoil everyone's night vision.

## Tickets
Adult tickets cost 12 euros. Children under 12 and members of the society enter free.
"""
QUESTION = "What is the nickname of the observatory's main telescope?"


class DemoError(Exception):
    """A step failed; the message says which and what to do about it."""


@dataclass(frozen=True, slots=True)
class Source:
    document_id: str
    document_name: str | None
    chunk_index: int
    score: float
    text: str


class ChatSphereApi:
    """The few REST calls the demo makes, each turning a failure into a DemoError that reads well."""

    def __init__(self, *, base_url: str) -> None:
        self.base_url = base_url.rstrip("/")
        self._client = httpx.Client(base_url=f"{self.base_url}/api", timeout=REQUEST_TIMEOUT)

    def close(self) -> None:
        self._client.close()

    def check_reachable(self) -> None:
        """An anonymous GET users/me/ must be a 401 from ChatSphere, not a refused connection or a 404."""
        answer = self._send("GET", "/users/me/", step="reach the server")
        if answer.status_code != httpx.codes.UNAUTHORIZED:
            raise DemoError(
                f"{self.base_url} answered {answer.status_code} to GET /api/users/me/ (expected 401); "
                "is this ChatSphere's Django server?"
            )

    def register_and_log_in(self, *, username: str, password: str) -> None:
        self._expect(
            self._send(
                "POST",
                "/register/",
                step="register",
                json={"username": username, "email": f"{username}@example.com", "password": password},
            ),
            httpx.codes.CREATED,
            step="register",
        )
        tokens = self._expect(
            self._send("POST", "/token/", step="log in", json={"username": username, "password": password}),
            httpx.codes.OK,
            step="log in",
        )
        self._client.headers["Authorization"] = f"Bearer {tokens['access']}"

    def create_bot(self, *, name: str) -> str:
        bot = self._expect(
            self._send(
                "POST",
                "/bots/",
                step="create a bot",
                json={"name": name, "description": "Answers visitors' questions about the observatory."},
            ),
            httpx.codes.CREATED,
            step="create a bot",
        )
        return str(bot["id"])

    def upload_document(self, *, bot_id: str, name: str, text: str) -> dict[str, Any]:
        return self._expect(
            self._send(
                "POST",
                "/documents/",
                step="upload the document",
                data={"bot": bot_id},
                files={"file": (name, text.encode("utf-8"), "text/markdown")},
            ),
            httpx.codes.ACCEPTED,
            step="upload the document",
        )

    def wait_until_ready(self, *, document_id: str, timeout_s: float) -> dict[str, Any]:
        deadline = time.monotonic() + timeout_s
        while True:
            document = self._expect(
                self._send("GET", f"/documents/{document_id}/", step="check the document"),
                httpx.codes.OK,
                step="check the document",
            )
            if document["status"] == "READY":
                return document
            if document["status"] == "ERROR":
                raise DemoError(
                    f"processing the document failed: {document['error_message']} "
                    "(is the agent service up? `make run` starts it together with Django)"
                )
            if time.monotonic() > deadline:
                raise DemoError(
                    f"the document is still {document['status']} after {timeout_s:.0f} s; "
                    "check the logs of `make run` (pass --ready-timeout to wait longer)"
                )
            time.sleep(POLL_INTERVAL_S)

    def start_conversation(self, *, bot_id: str) -> str:
        conversation = self._expect(
            self._send(
                "POST", "/conversations/", step="open a conversation", json={"bot": bot_id, "title": "Demo"}
            ),
            httpx.codes.CREATED,
            step="open a conversation",
        )
        return str(conversation["id"])

    def ask(self, *, conversation_id: str, message: str) -> tuple[str, list[Source]]:
        reply = self._expect(
            self._send(
                "POST", f"/conversations/{conversation_id}/chat/", step="chat", json={"message": message}
            ),
            httpx.codes.OK,
            step="chat",
        )
        bot_message = reply["bot_message"]
        sources = [
            Source(
                document_id=str(source["document_id"]),
                document_name=source.get("document_name"),
                chunk_index=int(source["chunk_index"]),
                score=float(source["score"]),
                text=str(source["text"]),
            )
            for source in bot_message["sources"]
        ]
        return str(bot_message["content"]), sources

    def _send(self, method: str, path: str, *, step: str, **kwargs: Any) -> httpx.Response:
        try:
            return self._client.request(method, path, **kwargs)
        except httpx.ConnectError:
            raise DemoError(
                f"cannot connect to ChatSphere at {self.base_url} to {step}. Start it with `make run` "
                f"in another terminal, or point --base-url / {BASE_URL_ENV} at a running server."
            ) from None
        except httpx.TimeoutException:
            raise DemoError(f"{self.base_url} did not answer in time to {step}.") from None
        except httpx.TransportError as error:
            raise DemoError(f"the connection to {self.base_url} failed to {step}: {error}") from None

    @staticmethod
    def _expect(answer: httpx.Response, status: int, *, step: str) -> dict[str, Any]:
        if answer.status_code != status:
            raise DemoError(f"could not {step}: HTTP {answer.status_code}, {_error_text(answer)}")
        try:
            body = answer.json()
        except ValueError:
            raise DemoError(f"could not {step}: the server sent something other than JSON") from None
        if not isinstance(body, dict):
            raise DemoError(f"could not {step}: unexpected reply {body!r}")
        return body


def _error_text(answer: httpx.Response) -> str:
    """The API's {"error": {"code", "message", "details"}} in one line, or the start of the raw body."""
    try:
        error = answer.json()["error"]
        text = f"{error['code']}: {error['message']}"
        if error.get("details"):
            text += f" {error['details']}"
        return str(text)
    except (ValueError, KeyError, TypeError):
        return answer.text[:200] or "(empty body)"


def _snippet(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= SNIPPET_CHARS else flat[: SNIPPET_CHARS - 1] + "…"


def run_demo(*, base_url: str, ready_timeout_s: float) -> None:
    api = ChatSphereApi(base_url=base_url)
    try:
        print(f"==> ChatSphere at {api.base_url}")
        api.check_reachable()

        username = f"demo_{secrets.token_hex(4)}"
        api.register_and_log_in(username=username, password=secrets.token_urlsafe(16))
        print(f"==> registered user {username} and obtained a JWT")

        bot_id = api.create_bot(name="Observatory guide")
        print(f"==> created bot {bot_id}")

        document = api.upload_document(bot_id=bot_id, name=DOCUMENT_NAME, text=DOCUMENT_TEXT)
        print(f"==> uploaded {DOCUMENT_NAME} ({document['status']}); waiting until it is READY")
        started = time.monotonic()
        ready = api.wait_until_ready(document_id=str(document["id"]), timeout_s=ready_timeout_s)
        print(f"==> READY in {time.monotonic() - started:.1f} s: {ready['chunk_count']} chunk(s)")

        conversation_id = api.start_conversation(bot_id=bot_id)
        print(f"==> opened conversation {conversation_id}")
        print(f"\nQuestion: {QUESTION}")
        answer, sources = api.ask(conversation_id=conversation_id, message=QUESTION)
        print(f"Answer:   {answer}\n")

        if not sources:
            raise DemoError("the answer cites no source; the document was not retrieved")
        print("Sources:")
        for number, source in enumerate(sources, start=1):
            name = source.document_name or source.document_id
            print(f"  [{number}] {name}  chunk {source.chunk_index}  score {source.score:.3f}")
            print(f"      {_snippet(source.text)}")
    finally:
        api.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--base-url",
        default=os.environ.get(BASE_URL_ENV) or DEFAULT_BASE_URL,
        help=f"Django's address (default: ${BASE_URL_ENV} or {DEFAULT_BASE_URL})",
    )
    parser.add_argument(
        "--ready-timeout",
        type=float,
        default=180.0,
        metavar="SECONDS",
        help="how long to wait for the document to be processed (default: 180)",
    )
    arguments = parser.parse_args(argv)
    try:
        run_demo(base_url=arguments.base_url, ready_timeout_s=arguments.ready_timeout)
    except DemoError as error:
        print(f"\ndemo failed: {error}", file=sys.stderr)
        return 1
    print("\n==> demo finished: the answer came from the uploaded document")
    return 0


if __name__ == "__main__":
    sys.exit(main())
