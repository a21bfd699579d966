"""Streamed chat over real processes: Django (uvicorn) relays the agent's stream from the stand-in LLM.

This module runs its own agent and Django against the session's database, the agent answering through a
stand-in OpenAI-compatible LLM (testsupport.standin_llm) paced so that an answer takes about two seconds:
long enough to hang up or kill the agent in the middle of it.
"""

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.api import ApiUser
from tests.e2e.facts import LIGHTHOUSE
from testsupport.stack import AgentServer, DjangoServer
from testsupport.standin_llm import LLMProfile, StandInLLM, answer_tokens

pytestmark = pytest.mark.slow

PROFILE = LLMProfile(ttft_s=0.3, tokens_per_s=10, answer_tokens=20)
SAVE_TIMEOUT_S = 15.0


@pytest.fixture(scope="module")
def standin_llm(stack_dir: Path) -> Iterator[StandInLLM]:
    llm = StandInLLM(profile=PROFILE, log_dir=stack_dir / "logs-streaming")
    yield llm
    llm.stop()


@pytest.fixture(scope="module")
def streaming_agent(
    stack_env: dict[str, str], stack_dir: Path, standin_llm: StandInLLM
) -> Iterator[AgentServer]:
    env = stack_env | {"LLM_PROVIDER": "openai", "LLM_BASE_URL": standin_llm.base_url, "LLM_MODEL": "standin"}
    server = AgentServer(env=env, log_dir=stack_dir / "logs-streaming")
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def streaming_django(
    stack_env: dict[str, str], stack_dir: Path, streaming_agent: AgentServer, django_url: str
) -> Iterator[DjangoServer]:
    # After the session's Django (django_url), which has migrated the shared database.
    server = DjangoServer(
        env=stack_env | {"AGENT_SERVICE_URL": streaming_agent.url}, log_dir=stack_dir / "logs-streaming"
    )
    server.start()
    yield server
    server.stop()


@pytest.fixture
def user(streaming_django: DjangoServer) -> Iterator[ApiUser]:
    user = ApiUser.register(base_url=streaming_django.url)
    yield user
    user.close()


def conversation_with_a_document(user: ApiUser) -> str:
    bot = user.create_bot()
    user.upload_ready(bot_id=bot, name=LIGHTHOUSE.file_name, text=LIGHTHOUSE.text)
    return user.start_conversation(bot_id=bot)


def messages_once_there_are(user: ApiUser, conversation: str, count: int) -> list[dict[str, Any]]:
    deadline = time.monotonic() + SAVE_TIMEOUT_S
    messages = user.messages(conversation)
    while len(messages) < count and time.monotonic() < deadline:
        time.sleep(0.2)
        messages = user.messages(conversation)
    return messages


def test_a_streamed_chat_arrives_as_sources_tokens_done_and_is_saved_as_streamed(user: ApiUser) -> None:
    conversation = conversation_with_a_document(user)

    events = user.stream_chat(conversation, LIGHTHOUSE.question)

    names = [name for name, _ in events]
    assert names[:2] == ["user_message", "sources"]
    assert names[2:-1] == ["token"] * PROFILE.answer_tokens
    assert names[-1] == "done"
    assert events[1][1]["sources"][0]["document_name"] == LIGHTHOUSE.file_name
    streamed = "".join(data["text"] for name, data in events if name == "token")
    assert streamed == "".join(answer_tokens(PROFILE.answer_tokens))
    saved = user.messages(conversation)
    assert [(m["role"], m["content"]) for m in saved] == [("USER", LIGHTHOUSE.question), ("BOT", streamed)]
    assert events[-1][1]["bot_message"]["id"] == saved[1]["id"]


def test_a_client_hanging_up_after_the_first_token_leaves_the_whole_answer_saved(user: ApiUser) -> None:
    conversation = conversation_with_a_document(user)

    events = user.stream_chat(conversation, LIGHTHOUSE.question, leave_after_first_token=True)

    assert events[-1][0] == "token"
    saved = messages_once_there_are(user, conversation, 2)
    assert [(m["role"], m["content"], m["complete"]) for m in saved] == [
        ("USER", LIGHTHOUSE.question, True),
        ("BOT", "".join(answer_tokens(PROFILE.answer_tokens)), True),
    ]


def test_the_agent_killed_mid_stream_gives_an_error_event_and_keeps_the_users_message(
    user: ApiUser, streaming_agent: AgentServer
) -> None:
    conversation = conversation_with_a_document(user)
    events: list[tuple[str, Any]] = []
    try:
        with user.client.stream(
            "POST",
            f"/conversations/{conversation}/chat/",
            json={"message": LIGHTHOUSE.question},
            headers={"Accept": "text/event-stream"},
        ) as answer:
            lines = answer.iter_lines()
            for line in lines:
                if line.startswith("event: "):
                    events.append((line[len("event: ") :], None))
                    if events[-1][0] == "token":
                        streaming_agent.kill()
                        break
            events.extend((line[len("event: ") :], None) for line in lines if line.startswith("event: "))
    finally:
        streaming_agent.start()

    names = [name for name, _ in events]
    assert names[:3] == ["user_message", "sources", "token"]
    assert names[-1] == "error"
    assert "done" not in names
    assert [(m["role"], m["content"]) for m in user.messages(conversation)] == [("USER", LIGHTHOUSE.question)]
