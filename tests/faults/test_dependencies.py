"""Findings 6 and 11 (Redis down; a limit that must hold across processes) and a dropped database link."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import psycopg
import pytest

from tests.faults.conftest import CHAT_LIMIT_PER_MINUTE, DJANGO_WORKERS, anonymous_client
from tests.integration.helpers import chat, create_bot, start_conversation
from testsupport.faultproxy import Fault, FaultProxy
from testsupport.local_servers import LocalServer
from testsupport.stack import Account, DjangoServer

pytestmark = pytest.mark.slow


@pytest.fixture
def paused_redis(stack_redis: LocalServer) -> Iterator[None]:
    assert stack_redis.pid is not None
    os.kill(stack_redis.pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.kill(stack_redis.pid, signal.SIGCONT)


def test_with_redis_down_chat_still_answers_and_health_says_so(
    account: Account, django: DjangoServer, paused_redis: None
):
    """Must hold: with Redis frozen, chat answers 200 (the throttle fails open and logs it) and /api/health/
    reports Redis and the broker unavailable, status degraded (finding 6: a 500, and health said "ok")."""
    conversation_id = start_conversation(account.client, bot_id=create_bot(account.client))

    started = time.monotonic()
    answer = chat(account.client, conversation_id, "Still there without Redis?")
    health = anonymous_client(django.url).get("/health/")

    assert answer.status_code == 200, answer.text
    assert time.monotonic() - started < 15
    assert health.status_code == 200, health.text
    assert health.json() | {"agent": None} == {
        "status": "degraded",
        "database": "ok",
        "redis": "unavailable",
        "broker": "unavailable",
        "agent": None,
    }


def test_the_chat_limit_holds_across_worker_processes(account: Account, proxy: FaultProxy):
    """Must hold: one user firing many chats at once, spread over the server's worker processes (each chat
    is slowed by the agent, so they overlap), gets exactly CHAT_THROTTLE_RATE answers (finding 11: a
    per-process counter passed the old suite)."""
    conversation_id = start_conversation(account.client, bot_id=create_bot(account.client))
    proxy.set(Fault(mode="latency", delay_s=0.5))
    attempts = CHAT_LIMIT_PER_MINUTE * DJANGO_WORKERS

    with ThreadPoolExecutor(max_workers=attempts) as pool:
        statuses = sorted(
            pool.map(
                lambda n: chat(account.client, conversation_id, f"question {n}").status_code, range(attempts)
            )
        )

    assert statuses == [200] * CHAT_LIMIT_PER_MINUTE + [429] * (attempts - CHAT_LIMIT_PER_MINUTE)


def test_dropped_database_connections_are_replaced(account: Account, stack_database_url: str):
    """Must hold: when PostgreSQL drops every connection of the app (a restart, a failover), the next
    requests are answered, not 500s. Each worker's pool holds WARM_POOL_SIZE connections, all dead at once:
    the pool tried them one by one, backing off 1, 2, 4, 8 s between them, past its 10 s timeout (a 500).
    The requests come once the server's backends are gone (`pg_terminate_backend` waits up to 10 s for each),
    as after a restart: a request racing a connection's own termination is not this test's case."""
    with psycopg.connect(stack_database_url, autocommit=True) as admin:
        dropped = admin.execute(
            "SELECT count(pg_terminate_backend(pid, 10000)) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        ).fetchone()
    assert dropped is not None
    assert dropped[0] >= 1

    answers = [account.client.get("/users/me/").status_code for _ in range(DJANGO_WORKERS * 2)]

    assert answers == [200] * (DJANGO_WORKERS * 2)
