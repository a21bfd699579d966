"""Chat load on ChatSphere, through Django and straight at the agent, in one run.

`DjangoChatUser` is a product user: it registers, builds a bot, trains it on a short handbook holding a
fact only that bot knows, waits for the document to be READY, then holds conversations of a few turns.
`AgentChatUser` sends the same kind of questions to the agent's /chat directly (after seeding its own
bot with /embed_and_store), so the difference between the two chat rows is what the Django hop costs.
`DjangoStreamingUser` and `AgentStreamingUser` do the same with streamed answers (server-sent events),
each turn recorded twice: the time to its first token and to its end, so the first-token rows show what
the Django hop adds to the wait a person feels.

Run it through `python -m loadtests.run_load` (it starts the stack), or against a running stack:
    PYTHONPATH=. LOAD_DJANGO_URL=... LOAD_AGENT_URL=... AGENT_SERVICE_TOKEN=... \
        locust -f loadtests/locustfile.py --headless -u 20 -r 5 -t 60s
Every knob is in loadtests/config.py.
"""

from __future__ import annotations

import json
import logging
import random
import secrets
import threading
import time
import uuid
from typing import Any

import httpx
from locust import FastHttpUser, between, events, task
from locust.env import Environment
from locust.exception import StopUser
from locust.stats import StatsEntry

from loadtests.config import (
    AGENT_CHAT_PATH,
    AGENT_CHAT_REQUEST,
    AGENT_STREAM_FIRST_TOKEN,
    AGENT_STREAM_PATH,
    AGENT_STREAM_TOTAL,
    DJANGO_CHAT_PATH,
    DJANGO_CHAT_REQUEST,
    DJANGO_STREAM_FIRST_TOKEN,
    DJANGO_STREAM_TOTAL,
    WIDGET_CHAT_PATH,
    WIDGET_CHAT_REQUEST,
    load_settings,
    service_levels,
)
from loadtests.slo import RequestStats, result_to_json, slo_breaches

SETTINGS = load_settings()
logger = logging.getLogger("loadtests")

QUESTIONS = (
    "Where is the spare telescope mirror kept?",
    "Which vault holds the spare mirror?",
    "What is the door code of the mirror vault?",
    "When is the observatory closed?",
    "Who do I call if the dome motor fails?",
)


def handbook(*, secret: str) -> str:
    """A short operations handbook; `secret` makes the mirror-vault fact unique to one bot."""
    return (
        "Lumen Ridge Observatory operations handbook.\n\n"
        f"The spare telescope mirror is kept in vault {secret} under the east dome. "
        f"The door code of the mirror vault is {secret}.\n\n"
        "The observatory is closed to visitors every Monday and during full-moon maintenance nights.\n\n"
        "If the dome motor fails, call the night engineer on extension 4410 before touching the gearbox."
    )


def _problem(response: Any) -> str:
    """What went wrong, for the failure report: the HTTP status and body, or the connection error."""
    if not response.status_code:
        return f"no HTTP answer: {response.error!r}"
    return f"status {response.status_code}: {(response.text or '')[:200]}"


def _check_sources(response: Any, sources: Any, own_handbook: str) -> None:
    """The reply must cite passages, and only passages of the asking user's own bot."""
    if not sources:
        response.failure("no sources: the answer is not grounded in the handbook")
    elif not all(str(source.get("text") or "").strip() in own_handbook for source in sources):
        response.failure("a source is not from this bot's handbook: retrieval crossed bots")


def _json_or_none(response: Any) -> Any:
    try:
        return response.json()
    except (ValueError, TypeError):
        return None


class ChatUser(FastHttpUser):
    """What both user kinds share: think time between actions, and the chat request they are judged by."""

    abstract = True
    wait_time = between(SETTINGS.think_min_s, SETTINGS.think_max_s)
    chat_request: str

    def think(self) -> None:
        self.wait()  # type: ignore[no-untyped-call]  # locust's User.wait is unannotated


class DjangoChatUser(ChatUser):
    """A person using the product's REST API end to end."""

    host = SETTINGS.django_url
    chat_request = DJANGO_CHAT_REQUEST

    def on_start(self) -> None:
        username = f"load-{uuid.uuid4().hex[:16]}"
        password = secrets.token_urlsafe(18)
        self._call(
            "POST",
            "/api/register/",
            expect=201,
            body={"username": username, "email": f"{username}@load.invalid", "password": password},
        )
        tokens = self._call(
            "POST", "/api/token/", expect=200, body={"username": username, "password": password}
        )
        self.client.auth_header = f"Bearer {tokens['access']}"
        bot = self._call(
            "POST",
            "/api/bots/",
            expect=201,
            body={"name": f"Observatory helper {username}", "description": "answers from the handbook"},
        )
        self.handbook = handbook(secret=f"MV-{secrets.randbelow(10**6):06d}")
        document = self._call(
            "POST",
            "/api/documents/train_text/",
            expect=202,
            body={"bot": bot["id"], "name": "handbook.txt", "text": self.handbook},
        )
        self._wait_until_ready(document["id"])
        self.bot_id = bot["id"]

    @task
    def converse(self) -> None:
        conversation = self._call(
            "POST", "/api/conversations/", expect=201, body={"bot": self.bot_id, "title": "load test"}
        )
        for question in random.sample(QUESTIONS, k=min(SETTINGS.chat_turns, len(QUESTIONS))):
            self._chat(conversation["id"], question)
            self.think()
        self._call(
            "GET", f"/api/conversations/{conversation['id']}/", expect=200, name="/api/conversations/[id]/"
        )

    def _chat(self, conversation_id: object, question: str) -> None:
        with self.client.post(
            f"/api/conversations/{conversation_id}/chat/",
            json={"message": question},
            name=DJANGO_CHAT_PATH,
            catch_response=True,
        ) as response:
            if response.status_code != 200:
                response.failure(_problem(response))
                return
            reply = (_json_or_none(response) or {}).get("bot_message") or {}
            if not str(reply.get("content") or "").strip():
                response.failure("bot_message.content is empty")
            else:
                _check_sources(response, reply.get("sources"), self.handbook)

    def _wait_until_ready(self, document_id: object) -> None:
        deadline = time.monotonic() + SETTINGS.document_ready_timeout_s
        while True:
            with self.client.get(
                f"/api/documents/{document_id}/", name="/api/documents/[id]/", catch_response=True
            ) as response:
                status = (_json_or_none(response) or {}).get("status")
                if status == "READY":
                    return
                if status != "PROCESSING" or time.monotonic() > deadline:
                    response.failure(f"document is {status}, not READY in time ({_problem(response)})")
                    raise StopUser
            time.sleep(0.5)

    def _call(
        self, method: str, path: str, *, expect: int, body: object = None, name: str | None = None
    ) -> Any:
        """One JSON request, checked; a wrong answer is a failure and ends this user (it cannot go on)."""
        with self.client.request(method, path, json=body, name=name or path, catch_response=True) as response:
            payload = _json_or_none(response)
            if response.status_code != expect or not isinstance(payload, dict):
                response.failure(f"expected {expect}, got {_problem(response)}")
                raise StopUser
        return payload


class AgentChatUser(ChatUser):
    """A caller of the agent's /chat with no Django in between: the baseline of the chat path."""

    host = SETTINGS.agent_url
    chat_request = AGENT_CHAT_REQUEST

    def on_start(self) -> None:
        if SETTINGS.agent_token is None:
            raise RuntimeError("AgentChatUser needs the agent's bearer token: set AGENT_SERVICE_TOKEN")
        self.client.auth_header = f"Bearer {SETTINGS.agent_token.get_secret_value()}"
        self.bot_id = str(uuid.uuid4())
        self.handbook = handbook(secret=f"MV-{secrets.randbelow(10**6):06d}")
        chunks = [paragraph for paragraph in self.handbook.split("\n\n") if paragraph.strip()]
        with self.client.post(
            "/embed_and_store",
            json={"bot_id": self.bot_id, "document_id": str(uuid.uuid4()), "chunks": chunks},
            catch_response=True,
        ) as response:
            stored = (_json_or_none(response) or {}).get("stored_vector_count")
            if response.status_code != 200 or stored != len(chunks):
                response.failure(f"stored {stored} of {len(chunks)} chunks ({_problem(response)})")
                raise StopUser

    @task
    def converse(self) -> None:
        history: list[dict[str, str]] = []
        for question in random.sample(QUESTIONS, k=min(SETTINGS.chat_turns, len(QUESTIONS))):
            answer = self._chat(question, history)
            history += [{"role": "user", "content": question}, {"role": "assistant", "content": answer}]
            self.think()

    def _chat(self, question: str, history: list[dict[str, str]]) -> str:
        with self.client.post(
            AGENT_CHAT_PATH,
            json={"bot_id": self.bot_id, "message": question, "history": history},
            catch_response=True,
        ) as response:
            payload = _json_or_none(response) or {}
            answer = str(payload.get("response") or "")
            if response.status_code != 200:
                response.failure(_problem(response))
            elif not answer.strip():
                response.failure("response is empty")
            else:
                _check_sources(response, payload.get("sources"), self.handbook)
        return answer


def stream_turn(
    user: ChatUser, path: str, body: dict[str, Any], *, grouped: str, first_token: str, whole: str
) -> tuple[str, Any]:
    """One streamed chat: its time to the first token and to its end as two entries of their own; returns
    the answer's text and its sources. A stream that fails or ends without `done` fails both entries."""
    started = time.perf_counter()
    first_at: float | None = None
    last_event, text, sources, problem = "", "", None, ""
    response = user.client.request(
        "POST",
        path,
        json=body,
        headers={"Accept": "text/event-stream"},
        stream=True,
        name=f"{grouped} (opened)",
    )
    if response.status_code != 200:
        problem = _problem(response)
    else:
        # Locust's readers wait for whole chunks of 1 kB; a line is here as soon as it arrives.
        reader = response._response
        while reader is not None and (line := reader.readline(b"\n")):
            if line.startswith(b"event: "):
                last_event = line[len(b"event: ") :].strip().decode()
            elif line.startswith(b"data: ") and last_event in {"token", "sources", "done", "error"}:
                data = json.loads(line[len(b"data: ") :])
                if last_event == "token":
                    first_at = first_at or time.perf_counter()
                    text += data["text"]
                elif last_event == "sources":
                    sources = data["sources"]
                elif last_event == "error":
                    problem = f"error event {data['error']['code']}"
        if not problem and last_event != "done":
            problem = f"the stream ended with {last_event!r}, not done"
        elif not problem and sources is None:
            problem = "the stream sent no sources"
    ended = time.perf_counter()
    failure = RuntimeError(problem) if problem else None
    for name, at in ((first_token, first_at or ended), (whole, ended)):
        user.environment.events.request.fire(
            request_type="SSE",
            name=name.removeprefix("SSE "),
            response_time=(at - started) * 1000,
            response_length=len(text),
            exception=failure,
            context={},
        )
    return text, sources


class DjangoStreamingUser(DjangoChatUser):
    """A product user whose answers stream, as the web app shows them."""

    chat_request = DJANGO_STREAM_TOTAL

    def _chat(self, conversation_id: object, question: str) -> None:
        stream_turn(
            self,
            f"/api/conversations/{conversation_id}/chat/",
            {"message": question},
            grouped=DJANGO_CHAT_PATH,
            first_token=DJANGO_STREAM_FIRST_TOKEN,
            whole=DJANGO_STREAM_TOTAL,
        )


class AgentStreamingUser(AgentChatUser):
    """A caller of the agent's /chat/stream with no Django in between: the baseline of the first token."""

    chat_request = AGENT_STREAM_TOTAL

    def _chat(self, question: str, history: list[dict[str, str]]) -> str:
        answer, _ = stream_turn(
            self,
            AGENT_STREAM_PATH,
            {"bot_id": self.bot_id, "message": question, "history": history},
            grouped=AGENT_STREAM_PATH,
            first_token=AGENT_STREAM_FIRST_TOKEN,
            whole=AGENT_STREAM_TOTAL,
        )
        return answer


WIDGET_ORIGIN = "https://shop.load.invalid"


class _Widget:
    """The one embedded bot every WidgetVisitor talks to, set up once when the run starts."""

    key: str | None = None
    handbook = ""
    rate_limited = 0  # 429 answers, each with a Retry-After
    lock = threading.Lock()


@events.test_start.add_listener
def set_up_the_widget(environment: Environment, **_kwargs: object) -> None:
    """An owner builds a bot, trains it and switches on its widget for WIDGET_ORIGIN."""
    if not any(user.__name__ == "WidgetVisitor" for user in environment.user_classes):
        return
    username, password = f"load-owner-{uuid.uuid4().hex[:12]}", secrets.token_urlsafe(18)
    with httpx.Client(base_url=f"{SETTINGS.django_url}/api", timeout=60.0) as owner:
        owner.post(
            "/register/",
            json={"username": username, "email": f"{username}@load.invalid", "password": password},
        ).raise_for_status()
        tokens = owner.post("/token/", json={"username": username, "password": password})
        owner.headers["Authorization"] = f"Bearer {tokens.raise_for_status().json()['access']}"
        bot = owner.post("/bots/", json={"name": "Shop helper"}).raise_for_status().json()
        _Widget.handbook = handbook(secret=f"MV-{secrets.randbelow(10**6):06d}")
        document = owner.post(
            "/documents/train_text/",
            json={"bot": bot["id"], "name": "handbook.txt", "text": _Widget.handbook},
        ).raise_for_status()
        deadline = time.monotonic() + SETTINGS.document_ready_timeout_s
        while owner.get(f"/documents/{document.json()['id']}/").json()["status"] != "READY":
            if time.monotonic() > deadline:
                raise RuntimeError("the widget bot's handbook did not become READY in time")
            time.sleep(0.5)
        enabled = owner.post(f"/bots/{bot['id']}/widget/", json={"allowed_origins": [WIDGET_ORIGIN]})
        _Widget.key = enabled.raise_for_status().json()["widget_key"]


class WidgetVisitor(ChatUser):
    """An anonymous visitor of a site that embeds the widget: their own conversation, a few questions.

    The per-visitor and per-key limits are on, as in production: a 429 with a positive Retry-After is the
    right answer to a visitor who is too fast (counted, not a failure); a 429 without it is a failure.
    """

    host = SETTINGS.django_url
    chat_request = WIDGET_CHAT_REQUEST

    def on_start(self) -> None:
        if _Widget.key is None:
            raise StopUser
        self.base = f"/api/widget/{_Widget.key}"
        with self.client.post(
            f"{self.base}/conversations/",
            headers={"Origin": WIDGET_ORIGIN},
            name="/api/widget/[key]/conversations/",
            catch_response=True,
        ) as response:
            token = (_json_or_none(response) or {}).get("visitor_token")
            if response.status_code != 201 or not token:
                response.failure(f"expected 201 with a visitor token, got {_problem(response)}")
                raise StopUser
        self.headers = {"Origin": WIDGET_ORIGIN, "X-Visitor-Token": str(token)}

    @task
    def converse(self) -> None:
        for question in random.sample(QUESTIONS, k=min(SETTINGS.chat_turns, len(QUESTIONS))):
            self._chat(question)
            self.think()

    def _chat(self, question: str) -> None:
        with self.client.post(
            f"{self.base}/chat/",
            json={"message": question},
            headers=self.headers,
            name=WIDGET_CHAT_PATH,
            catch_response=True,
        ) as response:
            if response.status_code == 429:
                retry_after = str(response.headers.get("Retry-After") or "")
                if retry_after.isdigit() and int(retry_after) > 0:
                    response.success()
                    with _Widget.lock:
                        _Widget.rate_limited += 1
                else:
                    response.failure(f"429 without a positive Retry-After ({retry_after!r})")
                return
            if response.status_code != 200:
                response.failure(_problem(response))
                return
            if response.headers.get("Access-Control-Allow-Origin") != WIDGET_ORIGIN:
                response.failure("no CORS header for the allowed origin")
                return
            reply = (_json_or_none(response) or {}).get("bot_message") or {}
            _check_sources(response, reply.get("sources"), _Widget.handbook)


@events.quitting.add_listener
def check_service_levels(environment: Environment, **_kwargs: object) -> None:
    """Judge the final tally: any breached level makes locust exit 1, with the level named in the log."""
    levels = service_levels(
        settings=SETTINGS,
        user_classes=[user.__name__ for user in environment.user_classes if issubclass(user, ChatUser)],
    )
    rows = [_as_row(f"{entry.method} {entry.name}", entry) for entry in environment.stats.entries.values()]
    total = _as_row("Aggregated", environment.stats.total)
    if SETTINGS.result_file is not None:
        SETTINGS.result_file.write_text(result_to_json(requests=rows, total=total))
    if _Widget.key is not None:
        logger.info(
            "widget: %d answers were 429 with Retry-After (rate limits at work)", _Widget.rate_limited
        )
    breaches = slo_breaches(requests=rows, total=total, levels=levels)
    for breach in breaches:
        logger.error(breach)
    if not breaches:
        logger.info(
            "SLOs met (p95 <= %.0f ms, first token p95 <= %.0f ms, error ratio <= %s)",
            levels.p95_ms,
            levels.first_token_p95_ms,
            levels.max_error_ratio,
        )
    environment.process_exit_code = 1 if breaches else 0


def _as_row(label: str, entry: StatsEntry) -> RequestStats:
    return RequestStats(
        label=label,
        requests=entry.num_requests,
        failures=entry.num_failures,
        p50_ms=entry.get_response_time_percentile(0.50),
        p95_ms=entry.get_response_time_percentile(0.95),
        p99_ms=entry.get_response_time_percentile(0.99),
        requests_per_s=entry.total_rps,
    )
