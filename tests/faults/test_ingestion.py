"""Findings 1-3: bounded ingestion, a worker that keeps dying, and deletion racing a slow ingestion."""

from __future__ import annotations

import time

import httpx
import psutil
import pytest

from tests.faults.bombs import docx_bomb, pdf_bomb
from tests.faults.conftest import CHUNK_SIZE, EMBED_BATCH_CHUNKS, MAX_INGEST_ATTEMPTS
from tests.integration.helpers import create_bot, wait_for_document
from testsupport.faultproxy import Fault, FaultProxy
from testsupport.processes import ServerProcess
from testsupport.stack import Account, AgentServer, DjangoServer

pytestmark = pytest.mark.slow

BOUNDED_S = (
    30.0  # a refused bomb ends ERROR in seconds; before the fix it ran for minutes or killed the worker
)


def _upload(client: httpx.Client, *, bot_id: str, name: str, content: bytes) -> str:
    answer = client.post("/documents/", data={"bot": bot_id}, files={"file": (name, content)})
    assert answer.status_code == 202, answer.text
    document_id: str = answer.json()["id"]
    return document_id


def test_a_docx_zip_bomb_is_refused_before_it_is_inflated(account: Account, worker: ServerProcess):
    """Must hold: a 0.3 MB .docx inflating to 64 MB ends ERROR with the limit named, within seconds,
    and the worker's process stays small (finding 1: 1.8 KB → 1.1 GB took a worker from 121 MB to 2.2 GB)."""
    bot_id = create_bot(account.client)
    document_id = _upload(account.client, bot_id=bot_id, name="bomb.docx", content=docx_bomb(inflated_mb=64))

    final = wait_for_document(account.client, document_id, timeout_s=BOUNDED_S)

    assert final["status"] == "ERROR", final
    assert "unpacks to" in final["error_message"], final
    [child] = psutil.Process(worker.pid).children()
    assert child.memory_info().rss < 600 * 1024 * 1024


def test_a_pdf_of_thousands_of_pages_on_one_stream_is_refused(account: Account, worker: ServerProcess):
    """Must hold: 2,000 pages sharing one content stream end ERROR naming the page limit, within seconds
    (finding 2: 14,000 chunks, still PROCESSING after 60 s)."""
    bot_id = create_bot(account.client)
    document_id = _upload(account.client, bot_id=bot_id, name="pages.pdf", content=pdf_bomb(pages=2000))

    final = wait_for_document(account.client, document_id, timeout_s=BOUNDED_S)

    assert final["status"] == "ERROR", final
    assert "2000 pages" in final["error_message"], final


def test_a_task_that_keeps_killing_its_worker_ends_error_instead_of_looping(
    account: Account, worker: ServerProcess, proxy: FaultProxy
):
    """Must hold: a document whose ingestion kills the worker's process each time (as the OOM killer does)
    is redelivered at most MAX_INGEST_ATTEMPTS times, then ends ERROR at once, even while the agent hangs on
    the purge of its chunks; it never stays PROCESSING."""
    proxy.set(Fault(mode="blackhole"))  # each attempt waits on the agent: the moment to kill it
    bot_id = create_bot(account.client)
    seen = proxy.connections
    document_id = _upload(account.client, bot_id=bot_id, name="notes.txt", content=b"Some notes to index.")

    for attempt in range(1, MAX_INGEST_ATTEMPTS + 1):
        assert proxy.wait_for_connections(seen + attempt, timeout_s=30), worker.log_tail()
        for child in psutil.Process(worker.pid).children():
            child.kill()
    final = wait_for_document(account.client, document_id, timeout_s=30)

    assert final["status"] == "ERROR", final
    assert "interrupted" in final["error_message"], final
    # The last delivery did not embed again: at most one more connection, its purge of what the killed
    # attempts may have stored (made after the status turned ERROR, so it may not have started yet).
    assert proxy.connections <= seen + MAX_INGEST_ATTEMPTS + 1


def _long_text(marker: str, *, chunks: int) -> bytes:
    """About `chunks` chunks of CHUNK_SIZE characters, every one about the marker."""
    sentence = f"The {marker} archive logs storms.\n"
    assert len(sentence) <= CHUNK_SIZE
    return (sentence * chunks).encode()


def _agent_sources(agent: AgentServer, token: str, *, bot_id: str, question: str) -> set[str]:
    answer = httpx.post(
        f"{agent.url}/chat",
        json={"bot_id": bot_id, "message": question, "history": []},
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )
    assert answer.status_code == 200, answer.text
    return {source["document_id"] for source in answer.json()["sources"]}


@pytest.mark.parametrize("deleted", ["document", "bot"])
def test_deletion_during_a_slow_ingestion_wins(
    deleted: str,
    account: Account,
    worker: ServerProcess,
    proxy: FaultProxy,
    agent: AgentServer,
    django_env: dict[str, str],
    django: DjangoServer,
):
    """Must hold: once a document (or its bot) is deleted while its batches are still being sent through a
    slow agent, no vector of it is left, so no chat can cite it (finding 3)."""
    bot_id = create_bot(account.client)
    proxy.set(Fault(mode="latency", delay_s=0.5))
    seen, finished = proxy.connections, worker.log().count(" succeeded in ")
    document_id = _upload(
        account.client,
        bot_id=bot_id,
        name="ledger.txt",
        content=_long_text("Halvorsen", chunks=EMBED_BATCH_CHUNKS + 20),
    )
    assert proxy.wait_for_connections(seen + 1, timeout_s=30), worker.log_tail()  # batch 1 is on its way

    target = f"/documents/{document_id}/" if deleted == "document" else f"/bots/{bot_id}/"
    assert account.client.delete(target).status_code == 204
    deadline = time.monotonic() + 60
    while worker.log().count(" succeeded in ") == finished:  # the ingestion is over
        assert time.monotonic() < deadline, worker.log_tail()
        time.sleep(0.2)
    proxy.heal()

    sources = _agent_sources(
        agent,
        django_env["AGENT_SERVICE_TOKEN"],
        bot_id=bot_id,
        question="Which storms does the Halvorsen archive log?",
    )
    assert document_id not in sources
    if deleted == "document":
        assert account.client.get(f"/documents/{document_id}/").status_code == 404
