"""The whole product as real processes (testsupport.stack.plugin) on the test PostgreSQL, a Redis of its own:

    Django (uvicorn, ASGI) ──▶ AgentGate ──▶ agent (uvicorn, local embeddings + Chroma + extractive answers)
        │                     ▲
        └─ Redis broker ──▶ Celery worker(s), started per test (tests kill them)

Run with `-p testsupport.services -p testsupport.stack.plugin` (see tox.ini [testenv:integration]).
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.integration.agent_gate import AgentGate
from testsupport.stack import AgentServer
from testsupport.stack.plugin import AccountFactory

CHAT_LIMIT_PER_MINUTE = 3
INGEST_TIMEOUT_S = 120.0


@pytest.fixture(scope="session")
def stack_settings(stack_redis_settings: dict[str, str]) -> dict[str, str]:
    """Redis as the Celery broker and the throttle's cache, and a low chat limit."""
    return stack_redis_settings | {
        "CHAT_THROTTLE_RATE": f"{CHAT_LIMIT_PER_MINUTE}/min",
    }


@pytest.fixture(scope="session")
def agent_gate(agent: AgentServer) -> Iterator[AgentGate]:
    gate = AgentGate(agent_url=agent.url).start()
    yield gate
    gate.close()


@pytest.fixture(scope="session")
def agent_url_for_django(agent_gate: AgentGate) -> str:
    return agent_gate.url


@pytest.fixture
def user_client(make_account: AccountFactory) -> httpx.Client:
    """An API client logged in (JWT) as a brand-new user: no state shared with other tests."""
    return make_account().client
