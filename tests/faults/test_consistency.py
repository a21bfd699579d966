"""Issue 22: the agent's indexes and Django agree, whenever a deletion strikes an ingestion.

The race (a deleted bot's chunks survived, 1 run in 2): Django's worker stops waiting for a batch (its
deadline passes, or its connection drops) and, the document being deleted, sweeps the document's chunks at
once, while the agent is still embedding that batch, which it then writes after the sweep. Here the agent is
held at a named point of storing a batch (chatsphere_agent/checkpoints.py), the document or its bot is
deleted, the worker's connection is cut (what its deadline does, without waiting for it), the worker
finishes the task, and only then is the agent let go.
"""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest

from tests.faults.test_ingestion import MAX_CHUNKS_PER_REQUEST, _long_text, _upload
from tests.integration.helpers import create_bot
from testsupport.faultproxy import FaultProxy
from testsupport.processes import ServerProcess
from testsupport.stack import Account, AgentServer

pytestmark = pytest.mark.slow

EVENT_TIMEOUT_S = 30.0
POLL_S = 0.02
# Three batches: the worker sends chunks 0-255, 256-511, then 512 and on.
CHUNKS = 2 * MAX_CHUNKS_PER_REQUEST + 8


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


def wait_for_tasks(worker: ServerProcess, count: int) -> None:
    deadline = time.monotonic() + EVENT_TIMEOUT_S
    while worker.log().count(" succeeded in ") < count:
        assert time.monotonic() < deadline, worker.log_tail()
        time.sleep(POLL_S)


@pytest.mark.parametrize(
    ("point", "first_chunk_index"),
    [
        ("vectors", MAX_CHUNKS_PER_REQUEST),  # between batches 1 and 2
        ("lexical", MAX_CHUNKS_PER_REQUEST),  # batch 2's vectors written, its lexical entries not yet
        ("vectors", 2 * MAX_CHUNKS_PER_REQUEST),  # between batches 2 and 3, the last one
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
    hold = checkpoints.hold(point, bot_id, first_chunk_index)
    try:
        document_id = _upload(
            account.client, bot_id=bot_id, name="ledger.txt", content=_long_text("Halvorsen", chunks=CHUNKS)
        )
        checkpoints.wait_for(point, bot_id, first_chunk_index)

        target = f"/documents/{document_id}/" if deleted == "document" else f"/bots/{bot_id}/"
        assert account.client.delete(target).status_code == 204
        proxy.heal()  # cuts every open connection: the worker stops waiting for the held batch
        wait_for_tasks(worker, finished + 1)
    finally:
        hold.unlink(missing_ok=True)  # never leave the session's agent held
    checkpoints.wait_for("settled", bot_id, first_chunk_index)

    assert agent_index(agent, django_env["AGENT_SERVICE_TOKEN"], bot_id) == {
        "bot_id": bot_id,
        "vectors": [],
        "lexical": [],
    }
