"""Upload → Celery worker embeds through the agent → READY → chat cites it, and what a dying worker leaves."""

import os
import signal

import httpx
import psutil
import pytest
import redis

from tests.integration.agent_gate import AgentGate
from tests.integration.conftest import INGEST_TIMEOUT_S
from tests.integration.helpers import (
    QUESTION,
    chat,
    create_bot,
    document_status,
    start_conversation,
    upload_document,
    wait_for_document,
)
from testsupport.local_servers import LocalServer
from testsupport.stack.plugin import WorkerFactory

pytestmark = pytest.mark.slow


def _assert_cited(client: httpx.Client, *, bot_id: str, document_id: str) -> None:
    conversation_id = start_conversation(client, bot_id=bot_id)
    answer = chat(client, conversation_id, QUESTION)
    assert answer.status_code == 200, answer.text
    bot_message = answer.json()["bot_message"]
    assert "smoked herring" in bot_message["content"]
    assert document_id in {source["document_id"] for source in bot_message["sources"]}


def test_uploaded_document_is_embedded_by_the_worker_and_cited_in_chat(
    user_client: httpx.Client, start_worker: WorkerFactory
):
    start_worker()
    bot_id = create_bot(user_client)

    document = upload_document(user_client, bot_id=bot_id)
    ready = wait_for_document(user_client, document["id"], timeout_s=INGEST_TIMEOUT_S)

    assert ready["status"] == "READY", ready
    assert ready["chunk_count"] >= 1
    _assert_cited(user_client, bot_id=bot_id, document_id=document["id"])


def test_upload_while_no_worker_runs_waits_in_the_queue_and_completes_later(
    user_client: httpx.Client, start_worker: WorkerFactory, stack_redis: LocalServer
):
    bot_id = create_bot(user_client)
    broker = redis.Redis.from_url(stack_redis.url)

    # The 202 comes back after the task is queued (on commit, inside the request): nothing to wait for.
    document = upload_document(user_client, bot_id=bot_id)

    assert document_status(user_client, document["id"])["status"] == "PROCESSING"
    assert broker.llen("celery") == 1  # the task waits in Redis, not in a process that could die
    start_worker()
    assert wait_for_document(user_client, document["id"], timeout_s=INGEST_TIMEOUT_S)["status"] == "READY"
    assert broker.llen("celery") == 0
    broker.close()


def test_worker_process_killed_mid_ingestion_loses_nothing(
    user_client: httpx.Client, start_worker: WorkerFactory, agent_gate: AgentGate
):
    """SIGKILL the pool process while it waits on the agent: the task goes back to the queue and completes."""
    worker = start_worker(pool="prefork", concurrency=1)
    bot_id = create_bot(user_client)
    agent_gate.hold_embeds()
    try:
        document = upload_document(user_client, bot_id=bot_id)
        assert agent_gate.embed_held.wait(INGEST_TIMEOUT_S), worker.log_tail()
        [busy_child] = psutil.Process(worker.pid).children()
        os.kill(busy_child.pid, signal.SIGKILL)
        worker.wait_for_log("WorkerLostError", timeout_s=30)
        assert document_status(user_client, document["id"])["status"] == "PROCESSING"
    finally:
        agent_gate.release_embeds()

    # The requeued task runs on the pool's replacement process at once; a minute is ample.
    final = wait_for_document(user_client, document["id"], timeout_s=60)

    assert final["status"] == "READY", f"{final}\n{worker.log_tail()}"
    _assert_cited(user_client, bot_id=bot_id, document_id=document["id"])
