"""Issue 22: the agent's indexes and Django agree, whenever a deletion or an agent crash strikes an ingestion.

The race (a deleted bot's chunks survived, 1 run in 2): Django's worker stops waiting for a batch (its
deadline passes, or its connection drops) and, the document being deleted, sweeps the document's chunks at
once, while the agent is still embedding that batch, which it then writes after the sweep. Here the agent is
held at a named point of storing a batch (chatsphere_agent/checkpoints.py), the document or its bot is
deleted, the worker's connection is cut (what its deadline does, without waiting for it), the worker
finishes the task, and only then is the agent let go.
"""

from __future__ import annotations

import errno
import os
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from celery import Celery

from tests.faults.conftest import EMBED_BATCH_CHUNKS, WORKER_SETTINGS
from tests.faults.test_ingestion import _long_text, _upload
from tests.integration.helpers import (
    QUESTION,
    chat,
    create_bot,
    start_conversation,
    upload_document,
    wait_for_document,
)
from testsupport.faultproxy import FaultProxy
from testsupport.processes import ServerProcess
from testsupport.stack import Account, AgentServer, DjangoServer, manage, start_celery_worker

pytestmark = pytest.mark.slow

EVENT_TIMEOUT_S = 30.0
POLL_S = 0.02
# Three batches: the worker sends chunks 0-63, 64-127, then 128 and on.
CHUNKS = 2 * EMBED_BATCH_CHUNKS + 8
# How long the impatient worker waits for an agent that went away (production's default is 60 s).
INGEST_AGENT_WAIT_S = 3.0
# A worker's deadline for one batch, far below WORKER_SETTINGS': the one a test holds at the agent misses it.
BATCH_DEADLINE_S = 8.0
DEFAULT_QUEUE = "celery"


class Checkpoints:
    """The test's side of the agent's checkpoints: hold it at a point, and see which points it reached."""

    def __init__(self, directory: Path) -> None:
        self._directory = directory

    def hold(self, point: str, bot_id: str, first_chunk_index: int) -> Path:
        hold = self._directory / f"hold-{point}-{bot_id}-{first_chunk_index}"
        hold.touch()
        return hold

    def wait_for(self, point: str, bot_id: str, first_chunk_index: int) -> None:
        line = f"{point} {bot_id} {first_chunk_index}"
        log = self._directory / "reached.log"
        deadline = time.monotonic() + EVENT_TIMEOUT_S
        while not (log.exists() and line in log.read_text().splitlines()):
            assert time.monotonic() < deadline, f"the agent never reached {line!r}"
            time.sleep(POLL_S)


@pytest.fixture(scope="session")
def checkpoints(checkpoint_dir: Path) -> Checkpoints:
    return Checkpoints(checkpoint_dir)


def agent_index(agent: AgentServer, token: str, bot_id: str) -> dict[str, object]:
    answer = httpx.get(
        f"{agent.url}/bots/{bot_id}/index", headers={"Authorization": f"Bearer {token}"}, timeout=10
    )
    assert answer.status_code == 200, answer.text
    held: dict[str, object] = answer.json()
    return held


def _index_once_empty(agent: AgentServer, token: str, bot_id: str) -> dict[str, object]:
    """The bot's index as soon as it holds nothing, or as it is after EVENT_TIMEOUT_S."""
    deadline = time.monotonic() + EVENT_TIMEOUT_S
    while (index := agent_index(agent, token, bot_id)) != {"bot_id": bot_id, "vectors": [], "lexical": []}:
        if time.monotonic() > deadline:
            break
        time.sleep(0.2)
    return index


def wait_for_tasks(worker: ServerProcess, count: int) -> None:
    deadline = time.monotonic() + EVENT_TIMEOUT_S
    while worker.log().count(" succeeded in ") < count:
        assert time.monotonic() < deadline, worker.log_tail()
        time.sleep(POLL_S)


@pytest.mark.parametrize(
    ("point", "first_chunk_index"),
    [
        ("vectors", EMBED_BATCH_CHUNKS),  # between batches 1 and 2
        ("lexical", EMBED_BATCH_CHUNKS),  # batch 2's vectors written, its lexical entries not yet
        ("vectors", 2 * EMBED_BATCH_CHUNKS),  # between batches 2 and 3, the last one
    ],
    ids=["batch-boundary", "between-vector-and-lexical", "last-batch-boundary"],
)
@pytest.mark.parametrize("deleted", ["document", "bot"])
def test_a_deletion_at_any_moment_of_an_ingestion_leaves_nothing_in_either_index(
    deleted: str,
    point: str,
    first_chunk_index: int,
    account: Account,
    worker: ServerProcess,
    proxy: FaultProxy,
    agent: AgentServer,
    django_env: dict[str, str],
    checkpoints: Checkpoints,
):
    """Must hold: whenever the document or its bot is deleted, and whatever the worker saw of the batch in
    flight, neither the vector store nor the lexical index keeps a chunk of it (before the fix the held
    batch was written after the worker's sweep)."""
    bot_id = create_bot(account.client)
    finished = worker.log().count(" succeeded in ")
    with _ledger_held_at(
        account, checkpoints, bot_id=bot_id, point=point, chunk_index=first_chunk_index, chunks=CHUNKS
    ) as document_id:
        target = f"/documents/{document_id}/" if deleted == "document" else f"/bots/{bot_id}/"
        assert account.client.delete(target).status_code == 204
        proxy.heal()  # cuts every open connection: the worker stops waiting for the held batch
        wait_for_tasks(worker, finished + 1)
    checkpoints.wait_for("settled", bot_id, first_chunk_index)

    assert agent_index(agent, django_env["AGENT_SERVICE_TOKEN"], bot_id) == {
        "bot_id": bot_id,
        "vectors": [],
        "lexical": [],
    }


@contextmanager
def _ledger_held_at(
    account: Account, checkpoints: Checkpoints, *, bot_id: str, point: str, chunk_index: int, chunks: int
) -> Iterator[str]:
    """Upload a ledger of about `chunks` chunks and hold the agent at `point` of the batch starting at
    `chunk_index` for the block, which gets the document's id; the hold is lifted however the block ends
    (never leave the session's agent held)."""
    hold = checkpoints.hold(point, bot_id, chunk_index)
    try:
        document_id = _upload(
            account.client, bot_id=bot_id, name="ledger.txt", content=_long_text("Halvorsen", chunks=chunks)
        )
        checkpoints.wait_for(point, bot_id, chunk_index)
        yield document_id
    finally:
        hold.unlink(missing_ok=True)


def _agent_killed_between_batch_twos_writes(
    account: Account, checkpoints: Checkpoints, agent: AgentServer
) -> tuple[str, str]:
    """A new bot's ledger of two batches, the agent SIGKILLed between the second batch's vector and lexical
    writes; (bot id, document id)."""
    bot_id = create_bot(account.client)
    with _ledger_held_at(
        account,
        checkpoints,
        bot_id=bot_id,
        point="lexical",
        chunk_index=EMBED_BATCH_CHUNKS,
        chunks=EMBED_BATCH_CHUNKS + 8,
    ) as document_id:
        agent.kill()
    return bot_id, document_id


def test_an_agent_killed_while_storing_a_batch_is_waited_for_and_the_document_ends_whole(
    account: Account,
    worker: ServerProcess,
    agent: AgentServer,
    django_env: dict[str, str],
    checkpoints: Checkpoints,
):
    """Must hold: the agent SIGKILLed between a batch's vector and lexical writes, then restarted: Chroma and
    the FTS5 file open, and the document ends READY with every chunk in both indexes (the worker waits for
    the agent and sends the document again); before, it ended ERROR with half of it in the vector store."""
    bot_id, document_id = _agent_killed_between_batch_twos_writes(account, checkpoints, agent)
    agent.start()

    final = wait_for_document(account.client, document_id, timeout_s=EVENT_TIMEOUT_S)

    assert final["status"] == "READY", final
    whole = [{"document_id": document_id, "chunk_count": final["chunk_count"],
              "last_chunk_index": final["chunk_count"] - 1}]  # fmt: skip
    assert agent_index(agent, django_env["AGENT_SERVICE_TOKEN"], bot_id) == {
        "bot_id": bot_id,
        "vectors": whole,
        "lexical": whole,
    }


@pytest.fixture
def sole_worker(
    worker: ServerProcess, django_env: dict[str, str], stack_dir: Path
) -> Iterator[Callable[[dict[str, str]], ServerProcess]]:
    """Starts a worker with settings of the test's own, the only one taking tasks during the test: the
    session's worker stops consuming (Celery's remote control) until it is over."""
    control = Celery(broker=django_env["CELERY_BROKER_URL"]).control
    session_worker = [f"{worker.name}@{socket.gethostname()}"]
    paused = control.cancel_consumer(DEFAULT_QUEUE, destination=session_worker, reply=True, timeout=10)
    assert paused, f"the session's worker {session_worker} did not stop consuming"
    started: list[ServerProcess] = []

    def start(settings: dict[str, str]) -> ServerProcess:
        env = django_env | WORKER_SETTINGS | settings
        started.append(start_celery_worker(env=env, log_dir=stack_dir / "logs", pool="prefork"))
        return started[-1]

    try:
        yield start
    finally:
        for process in started:
            process.stop()
        control.add_consumer(DEFAULT_QUEUE, destination=session_worker, reply=True, timeout=10)


def test_an_agent_killed_mid_ingestion_and_down_past_the_wait_leaves_the_error_document_in_neither_index(
    account: Account,
    sole_worker: Callable[[dict[str, str]], ServerProcess],
    agent: AgentServer,
    django_env: dict[str, str],
    checkpoints: Checkpoints,
):
    """Must hold: the agent SIGKILLed between batch 2's vector and lexical writes, and still down when the
    worker stops waiting for it: the document ends ERROR, and once the agent is back, `index_check` finds the
    chunks that landed (the worker's own purge could not reach the agent) and `--repair` purges them from both
    indexes. Before, batch 1 stayed in both, searchable in chats, and index_check saw nothing wrong."""
    sole_worker({"INGEST_AGENT_WAIT_SECONDS": str(INGEST_AGENT_WAIT_S)})
    bot_id, document_id = _agent_killed_between_batch_twos_writes(account, checkpoints, agent)
    failed = wait_for_document(account.client, document_id, timeout_s=EVENT_TIMEOUT_S)
    agent.start()
    token = django_env["AGENT_SERVICE_TOKEN"]
    left = agent_index(agent, token, bot_id)

    repaired = manage(django_env, "index_check", "--repair")
    checked = manage(django_env, "index_check")

    assert failed["status"] == "ERROR", failed
    assert {document["document_id"] for document in left["lexical"]} == {document_id}  # type: ignore[attr-defined]
    assert f"stray chunks of ERROR document {document_id}" in repaired.stdout, (
        repaired.stdout + repaired.stderr
    )
    assert agent_index(agent, token, bot_id) == {"bot_id": bot_id, "vectors": [], "lexical": []}
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_a_batch_timing_out_after_one_landed_ends_error_purged_and_its_late_write_is_repaired(
    account: Account,
    sole_worker: Callable[[dict[str, str]], ServerProcess],
    agent: AgentServer,
    django_env: dict[str, str],
    checkpoints: Checkpoints,
):
    """Must hold: batch 2 held at the agent past the worker's deadline (batch 1 stored): the document ends
    ERROR and the worker's purge leaves nothing of it in either index; batch 2, let go after the purge, lands
    late, and `index_check --repair` purges that. Before, batch 1 stayed searchable, and index_check saw
    neither."""
    sole_worker(
        {
            "AGENT_FIRST_BYTE_TIMEOUT_SECONDS": str(BATCH_DEADLINE_S),
            "AGENT_TIMEOUT_SECONDS": str(BATCH_DEADLINE_S),
        }
    )
    token = django_env["AGENT_SERVICE_TOKEN"]
    bot_id = create_bot(account.client)
    with _ledger_held_at(
        account,
        checkpoints,
        bot_id=bot_id,
        point="vectors",
        chunk_index=EMBED_BATCH_CHUNKS,
        chunks=EMBED_BATCH_CHUNKS + 8,
    ) as document_id:
        failed = wait_for_document(account.client, document_id, timeout_s=EVENT_TIMEOUT_S)
        purged = _index_once_empty(agent, token, bot_id)  # the purge follows the ERROR status
    checkpoints.wait_for("settled", bot_id, EMBED_BATCH_CHUNKS)
    late = agent_index(agent, token, bot_id)

    repaired = manage(django_env, "index_check", "--repair")

    assert failed["status"] == "ERROR", failed
    assert "took too long" in failed["error_message"], failed
    assert purged == {"bot_id": bot_id, "vectors": [], "lexical": []}
    assert {document["document_id"] for document in late["lexical"]} == {document_id}  # type: ignore[attr-defined]
    assert f"stray chunks of ERROR document {document_id}" in repaired.stdout, (
        repaired.stdout + repaired.stderr
    )
    assert agent_index(agent, token, bot_id) == {"bot_id": bot_id, "vectors": [], "lexical": []}


def _fill(directory: Path) -> Path:
    """Write zeros into `directory` until its filesystem is full; returns the file, to delete to free it."""
    ballast = directory / "ballast"
    block = b"\0" * (1 << 20)
    with ballast.open("wb", buffering=0) as out:
        try:
            while True:
                out.write(block)
        except OSError as exc:
            if exc.errno != errno.ENOSPC:
                raise
    return ballast


def test_a_full_disk_fails_an_ingestion_clearly_chats_go_on_and_a_retry_succeeds_once_freed(
    account: Account,
    worker: ServerProcess,
    agent: AgentServer,
    django_env: dict[str, str],
    agent_data_disk: Path | None,
):
    """Must hold: with the agent's data directory full, an upload ends ERROR saying the disk is full, a chat
    still answers from what was stored, and once space is freed a retry makes the document READY and whole."""
    if agent_data_disk is None:
        message = "the agent's data directory is not on a filesystem of its own (mount -t tmpfs failed)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    bot_id = create_bot(account.client)
    stored = upload_document(account.client, bot_id=bot_id)
    assert wait_for_document(account.client, stored["id"], timeout_s=EVENT_TIMEOUT_S)["status"] == "READY"
    conversation = start_conversation(account.client, bot_id=bot_id)

    ballast = _fill(agent_data_disk)
    try:
        document_id = _upload(
            account.client, bot_id=bot_id, name="tides.txt", content=b"The tide tables of Vardo harbour."
        )
        failed = wait_for_document(account.client, document_id, timeout_s=EVENT_TIMEOUT_S)
        answer = chat(account.client, conversation, QUESTION)
    finally:
        ballast.unlink()

    assert failed["status"] == "ERROR", failed
    assert "disk is full" in failed["error_message"], failed
    assert answer.status_code == 200, answer.text
    assert stored["id"] in {source["document_id"] for source in answer.json()["bot_message"]["sources"]}
    assert account.client.post(f"/documents/{document_id}/retry/").status_code == 202
    retried = wait_for_document(account.client, document_id, timeout_s=EVENT_TIMEOUT_S)
    assert retried["status"] == "READY", retried
    held = agent_index(agent, django_env["AGENT_SERVICE_TOKEN"], bot_id)
    assert {document["document_id"] for document in held["vectors"]} == {stored["id"], document_id}  # type: ignore[attr-defined]


def test_after_the_whole_suite_the_indexes_hold_exactly_what_django_has(
    django: DjangoServer, django_env: dict[str, str]
):
    """Must hold: after every fault of the suite (it runs last, see conftest), `manage.py index_check`
    finds no orphan, missing, partial or stray document."""
    done = manage(django_env, "index_check")

    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 orphan bots, 0 orphan documents, 0 missing, 0 partial, 0 stray" in done.stdout
