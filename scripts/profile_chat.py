"""Where a chat's time goes: the Django side (cProfile) and the agent's own work (timed stage by stage).

    .venv/bin/python scripts/profile_chat.py [--database sqlite|postgres] [--chats 200]

Django runs in this process (django.test.Client, DEBUG off, the chat throttle lifted) on a fresh SQLite
file or a throwaway local PostgreSQL, calling the real agent under uvicorn (testsupport/stack) over
HTTP, as in production. Printed per chat: the whole request, then the parts named in issue 13
(authentication, the message writes, the history read, the document-name lookup, serialization, the
HTTP hop to the agent) as cumulative time under cProfile, which inflates Python-heavy parts; the
unprofiled request time is printed too. Then the agent's stages in-process on the same embedded
providers: query embedding, store query, answerer.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import sys
import tempfile
import time
import uuid
from contextlib import ExitStack
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))
sys.path.insert(0, str(REPO_ROOT / "backend"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from bench_stack import BENCH_AGENT_TIMEOUT_S, QUESTIONS, UNTHROTTLED_CHAT_RATE, database, paragraphs  # noqa: E402

from testsupport.stack import HARNESS_MODEL_CACHE_DIR, AgentServer, stack_environment  # noqa: E402

# (label, end of the source path, function name) as cProfile keys them.
DJANGO_PARTS = [
    ("whole request (handler)", "django/core/handlers/base.py", "get_response"),
    ("JWT authentication", "rest_framework_simplejwt/authentication.py", "authenticate"),
    ("  of it: user lookup", "rest_framework_simplejwt/authentication.py", "get_user"),
    ("throttle check", "rest_framework/views.py", "check_throttles"),
    ("conversation lookup (get_object)", "rest_framework/generics.py", "get_object"),
    ("conversation_reply (service)", "chatsphere/services/conversations.py", "conversation_reply"),
    ("  history read", "chatsphere/selectors.py", "message_history"),
    ("  message writes (2 x create)", "django/db/models/query.py", "create"),
    ("  HTTP hop to the agent (acall_chat)", "chatsphere/services/agent_client/http.py", "acall_chat"),
    ("  document-name lookup", "chatsphere/selectors.py", "document_names"),
    ("reply serialization (.data)", "rest_framework/serializers.py", "data"),
    ("JSON rendering", "rest_framework/renderers.py", "render"),
    ("all SQL (cursor execute)", "django/db/backends/utils.py", "execute"),
    ("transaction commits", "django/db/backends/base/base.py", "commit"),
]


def django_profile(*, chats: int) -> None:
    import django

    django.setup()
    from django.contrib.auth.models import User
    from django.core.management import call_command
    from django.test import Client
    from rest_framework_simplejwt.tokens import RefreshToken

    call_command("migrate", verbosity=0)
    user = User.objects.create_user(username=f"p{uuid.uuid4().hex[:8]}", password=uuid.uuid4().hex)
    client = Client(HTTP_AUTHORIZATION=f"Bearer {RefreshToken.for_user(user).access_token}")

    def post(path: str, body: dict[str, Any]) -> dict[str, Any]:
        answer = client.post(f"/api/{path}", body, content_type="application/json")
        if answer.status_code >= 300:
            raise RuntimeError(f"{path} answered {answer.status_code}: {answer.content[:300]!r}")
        result: dict[str, Any] = answer.json()
        return result

    bot = post("bots/", {"name": "Profiled"})["id"]
    post("documents/train_text/", {"bot": bot, "name": "facts.txt", "text": "\n\n".join(paragraphs(20, 1))})
    conversation = post("conversations/", {"bot": bot})["id"]

    def chat(index: int) -> None:
        post(f"conversations/{conversation}/chat/", {"message": QUESTIONS[index % len(QUESTIONS)]})

    for index in range(20):  # warm-up: history fills to CHAT_HISTORY_TURNS, connections open
        chat(index)
    started = time.perf_counter()
    for index in range(chats):
        chat(index)
    wall_ms = (time.perf_counter() - started) * 1000 / chats
    profiler = cProfile.Profile()
    profiler.enable()
    for index in range(chats):
        chat(index)
    profiler.disable()
    stats: dict[tuple[str, int, str], tuple[int, int, float, float, Any]] = pstats.Stats(profiler).stats  # type: ignore[attr-defined]
    print(f"Django, per chat: {wall_ms:.1f} ms unprofiled (in-process client, real agent over HTTP)")
    for label, path, function in DJANGO_PARTS:
        calls, cumulative = 0, 0.0
        for (filename, _, name), (_, total_calls, _, cum, _) in stats.items():
            if name == function and filename.endswith(path):
                calls += total_calls
                cumulative += cum
        print(f"  {label:<40} {cumulative * 1000 / chats:7.2f} ms  ({calls / chats:.1f} calls)")


def agent_stages(*, chats: int, state_dir: Path) -> None:
    from chatsphere_agent.providers.base import AnswerRequest, ChunkBatch
    from chatsphere_agent.providers.chroma_store import ChromaStore
    from chatsphere_agent.providers.extractive import ExtractiveAnswerer
    from chatsphere_agent.providers.local_embeddings import LocalEmbeddings, bundled_model_dir

    embeddings = LocalEmbeddings(
        model_dir=bundled_model_dir(),
        slice_size=4,
        short_slice_size=4,
        quiet_slices=1,
        max_query_batch=32,
        cache_dir=HARNESS_MODEL_CACHE_DIR,
    )
    store = ChromaStore(path=state_dir / "profile-chroma")
    answerer = ExtractiveAnswerer()
    bot_id = str(uuid.uuid4())
    chunks = paragraphs(200, 3)
    store.upsert(
        ChunkBatch(
            bot_id=bot_id,
            document_id=str(uuid.uuid4()),
            chunks=chunks,
            vectors=embeddings.embed_documents(chunks),
        ),
    )
    totals = {"query embedding": 0.0, "store query (top 4)": 0.0, "extractive answerer": 0.0}
    for index in range(10 + chats):
        question = QUESTIONS[index % len(QUESTIONS)]
        first = time.perf_counter()
        vector = embeddings.embed_query(question)
        second = time.perf_counter()
        found = store.query(bot_id=bot_id, vector=vector, top_k=4)
        third = time.perf_counter()
        answerer.quote(request=AnswerRequest(question=question, context=found))
        fourth = time.perf_counter()
        if index >= 10:  # after a warm-up
            for key, seconds in zip(totals, (second - first, third - second, fourth - third), strict=True):
                totals[key] += seconds
    print(f"agent, per chat, in-process (200 chunks stored, {chats} chats):")
    for key, seconds in totals.items():
        print(f"  {key:<40} {seconds * 1000 / chats:7.2f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--chats", type=int, default=200)
    args = parser.parse_args()
    with ExitStack() as cleanup:
        state_dir = Path(cleanup.enter_context(tempfile.TemporaryDirectory(prefix="profile-chat-")))
        database_url = cleanup.enter_context(database(args.database, state_dir))
        env = stack_environment(database_url=database_url, state_dir=state_dir)
        agent = AgentServer(env=env, log_dir=state_dir / "logs")
        cleanup.callback(agent.stop)
        agent.start()
        os.environ.update(
            env
            | {
                "AGENT_SERVICE_URL": agent.url,
                "CHAT_THROTTLE_RATE": UNTHROTTLED_CHAT_RATE,
                "AGENT_TIMEOUT_SECONDS": BENCH_AGENT_TIMEOUT_S,
                "DJANGO_ALLOWED_HOSTS": "testserver",
                "LOG_LEVEL": "WARNING",
            }
        )
        print(f"database: {args.database}")
        django_profile(chats=args.chats)
        agent_stages(chats=args.chats, state_dir=state_dir)


if __name__ == "__main__":
    main()
