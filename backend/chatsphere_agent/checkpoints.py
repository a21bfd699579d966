"""Test-only: named points of storing a batch where a fault test can hold the agent.

Production runs NO_CHECKPOINTS. With AGENT_TEST_CHECKPOINT_DIR set (tests/faults/ sets it), the agent appends
"<point> <bot_id> <first_chunk_index>" to `reached.log` in that directory at each point, and while a file
`hold-<point>-<bot_id>-<first_chunk_index>` exists there it waits for the test to remove it. That lets a test
delete a document at an exact moment of its ingestion (tests/faults/test_consistency.py) instead of sleeping
and hoping. The points, in order, for each /embed_and_store request (vector_store.embed_and_store_chunks):
  vectors   the batch is embedded, nothing written yet
  lexical   the vectors are written, the lexical index not yet
  settled   the request is over, whether it stored, undid itself or failed
"""

from __future__ import annotations

import time
from pathlib import Path

from chatsphere_agent.providers.base import ChunkBatch

HOLD_POLL_S = 0.01
REACHED_LOG = "reached.log"


class NoCheckpoints:
    def reach(self, point: str, batch: ChunkBatch) -> None:
        return None


NO_CHECKPOINTS = NoCheckpoints()


class FileCheckpoints:
    def __init__(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self._directory = directory

    def reach(self, point: str, batch: ChunkBatch) -> None:
        key = f"{point}-{batch.bot_id}-{batch.first_chunk_index}"
        with (self._directory / REACHED_LOG).open("a", encoding="utf-8") as log:
            log.write(f"{point} {batch.bot_id} {batch.first_chunk_index}\n")
        hold = self._directory / f"hold-{key}"
        while hold.exists():
            time.sleep(HOLD_POLL_S)
