"""The deletion registry (DeletionRegistry): which documents and bots were deleted, in one SQLite file.

A row per deleted document (and per deleted bot) is what lets a write that raced its deletion undo itself
(vector_store.embed_and_store_chunks). Ids are UUIDs never reused, so a row never needs to go; a few dozen
bytes per deletion. The file sits in AGENT_DATA_DIR beside the indexes, so every agent process serving that
directory sees one registry; WAL and a busy timeout as in the lexical index.
"""

from __future__ import annotations

import sqlite3
import threading
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING

from chatsphere_agent.providers.sqlite_lexical import connect, keep_wal

if TYPE_CHECKING:
    from chatsphere_agent.config import AgentSettings

# A bot's own deletion is recorded under this document id: one lookup answers for both.
_WHOLE_BOT = "*"


class SqliteDeletionRegistry:
    def __init__(self, *, path: Path) -> None:
        path.mkdir(parents=True, exist_ok=True)
        self._file = path / "deletions.sqlite3"
        self.name = f"sqlite:{self._file}"
        with self._connection() as connection:
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute(
                "CREATE TABLE IF NOT EXISTS deleted (bot_id TEXT NOT NULL, document_id TEXT NOT NULL, "
                "PRIMARY KEY (bot_id, document_id)) WITHOUT ROWID"
            )
        self._wal_keeper = keep_wal(self._file)

    @classmethod
    def from_settings(cls, settings: AgentSettings) -> SqliteDeletionRegistry:
        return cls(path=settings.agent_data_dir / "deletions")

    def record_document(self, *, bot_id: str, document_id: str) -> None:
        self._record(bot_id, document_id)

    def record_bot(self, *, bot_id: str) -> None:
        self._record(bot_id, _WHOLE_BOT)

    def is_deleted(self, *, bot_id: str, document_id: str) -> bool:
        with self._connection() as connection:
            found = connection.execute(
                "SELECT 1 FROM deleted WHERE bot_id = ? AND document_id IN (?, ?)",
                (bot_id, document_id, _WHOLE_BOT),
            )
            return found.fetchone() is not None

    def _record(self, bot_id: str, document_id: str) -> None:
        with self._connection() as connection:
            connection.execute("INSERT OR IGNORE INTO deleted VALUES (?, ?)", (bot_id, document_id))

    def _connection(self) -> AbstractContextManager[sqlite3.Connection]:
        # A deletion is not reported done without its record: a locked or full disk fails it.
        return connect(self._file, provider="sqlite", action="deletion registry")


class MemoryDeletionRegistry:
    """The registry of one process, for tests and for Providers built without a data directory."""

    name = "memory"

    def __init__(self) -> None:
        self._deleted: set[tuple[str, str]] = set()
        self._lock = threading.Lock()

    def record_document(self, *, bot_id: str, document_id: str) -> None:
        with self._lock:
            self._deleted.add((bot_id, document_id))

    def record_bot(self, *, bot_id: str) -> None:
        with self._lock:
            self._deleted.add((bot_id, _WHOLE_BOT))

    def is_deleted(self, *, bot_id: str, document_id: str) -> bool:
        with self._lock:
            return bool({(bot_id, document_id), (bot_id, _WHOLE_BOT)} & self._deleted)
