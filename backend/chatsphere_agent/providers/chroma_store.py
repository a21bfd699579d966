"""Embedded vector store: Chroma on disk, one cosine collection per bot (named by the bot's UUID).

chromadb is used directly rather than through langchain-chroma's `Chroma` wrapper: the wrapper binds
one collection to an embedding function, while this store receives vectors already computed by the
EmbeddingsProvider and must create, count and drop a collection per bot; through the wrapper that
would mean reaching into its private `_collection` and `_client`.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import chromadb
import numpy as np
from chromadb.api import ClientAPI
from chromadb.api.collection_configuration import CreateHNSWConfiguration
from chromadb.api.models.Collection import Collection
from chromadb.base_types import LiteralValue, LogicalOperator, Where, WhereOperator
from chromadb.config import Settings as ChromaSettings
from chromadb.errors import ChromaError, NotFoundError

from chatsphere_agent.providers.base import (
    ChunkBatch,
    DocumentChunks,
    ProviderError,
    RetrievedChunk,
    check_room,
    check_upsert,
    chunks_by_document,
    is_disk_full,
)
from chatsphere_agent.providers.group_commit import GroupCommit

if TYPE_CHECKING:
    from chatsphere_agent.config import AgentSettings

PROVIDER = "chroma"
_DIMENSION_KEY = "embedding_dimension"
_SPACE_KEY = "embedding_space"
# A wider HNSW search list than Chroma's default (ef 100): on embedded text it measured recall@5 1.000 at
# 10k and 0.990 at 100k chunks (scripts/bench_agent.py, docs/benchmarks.md), for ~2 ms p50 per query.
_HNSW: CreateHNSWConfiguration = {"space": "cosine", "ef_construction": 200, "ef_search": 200}


def chunk_id(document_id: str, chunk_index: int) -> str:
    return f"{document_id}#{chunk_index}"


class ChromaStore:
    def __init__(self, *, path: Path, space: str | None = None, min_free_bytes: int = 0) -> None:
        """`space`: the embedding space of the vectors it will be given, recorded in each collection;
        `min_free_bytes`: below this much free disk a write is refused (check_room)."""
        path.mkdir(parents=True, exist_ok=True)
        self._path = path
        self._min_free_bytes = min_free_bytes
        self.name = f"{PROVIDER}:{path}"
        self._space = space
        self._client: ClientAPI = chromadb.PersistentClient(
            path=str(path), settings=ChromaSettings(anonymized_telemetry=False, allow_reset=False)
        )
        self._max_batch = self._client.get_max_batch_size()
        # Routes run in FastAPI's threadpool. Storing a document's last batch is "upsert, then delete the
        # ids past its new end", and dropping a bot races with writes to it; one writer at a time keeps
        # each of those whole. Reads do not take the lock: Chroma serves them consistently on its own.
        self._write_lock = threading.Lock()
        self._groups: GroupCommit[ChunkBatch, int] = GroupCommit(
            write_many=self._upsert_many, key=lambda batch: (batch.bot_id, batch.document_id)
        )

    @classmethod
    def from_settings(cls, settings: AgentSettings, *, space: str | None = None) -> ChromaStore:
        return cls(path=settings.chroma_dir, space=space, min_free_bytes=settings.min_free_disk_bytes)

    def index_dimension(self) -> int | None:
        """The dimension existing data was written with, so a changed embedding model fails at start-up."""
        dimension = self._recorded(_DIMENSION_KEY)
        return dimension if isinstance(dimension, int) else None

    def index_space(self) -> str | None:
        """The embedding space existing data was written in (None: written before spaces were recorded)."""
        space = self._recorded(_SPACE_KEY)
        return space if isinstance(space, str) else None

    def _recorded(self, key: str) -> object:
        # Every collection is created by this store with the same settings, so the first one speaks for all.
        with self._errors():
            for collection in self._client.list_collections(limit=1):
                return (collection.metadata or {}).get(key)
        return None

    def upsert(self, batch: ChunkBatch) -> int:
        check_upsert(batch, provider=PROVIDER)
        if not batch.chunks:
            return 0
        # Concurrent requests' batches share one upsert (providers/group_commit.py): a Chroma write costs
        # about the same for 2 chunks as for 16.
        return self._groups.submit(batch)

    def _upsert_many(self, batches: list[ChunkBatch]) -> list[int]:
        check_room(self._path, min_free_bytes=self._min_free_bytes, provider=PROVIDER, action="Chroma")
        by_bot: dict[str, list[ChunkBatch]] = {}
        for batch in batches:
            by_bot.setdefault(batch.bot_id, []).append(batch)
        with self._errors(), self._write_lock:
            for bot_id, bot_batches in by_bot.items():
                self._upsert_bot(bot_id, bot_batches)
        return [len(batch.chunks) for batch in batches]

    def _upsert_bot(self, bot_id: str, batches: list[ChunkBatch]) -> None:
        ids: list[str] = []
        metadatas: list[dict[str, str | int | float | bool | None]] = []
        texts: list[str] = []
        vectors: list[Sequence[float]] = []
        for batch in batches:
            indexes = batch.chunk_indexes
            ids.extend(chunk_id(batch.document_id, index) for index in indexes)
            metadatas.extend(
                {"bot_id": batch.bot_id, "document_id": batch.document_id, "chunk_index": index, "text": text}
                for index, text in zip(indexes, batch.chunks, strict=True)
            )
            texts.extend(batch.chunks)
            vectors.extend(batch.vectors)
        metadata: dict[str, str | int] = {_DIMENSION_KEY: len(vectors[0])}
        if self._space is not None:
            metadata[_SPACE_KEY] = self._space
        collection = self._client.get_or_create_collection(
            name=bot_id, configuration={"hnsw": _HNSW}, metadata=metadata, embedding_function=None
        )
        for start in range(0, len(ids), self._max_batch):
            end = start + self._max_batch
            collection.upsert(
                ids=ids[start:end],
                embeddings=np.asarray(vectors[start:end], dtype=np.float32),
                metadatas=metadatas[start:end],  # type: ignore[arg-type]
                documents=texts[start:end],
            )
        # Upsert first, then drop what lies past each last batch's new end (a re-chunk that came out shorter):
        # a failure midway leaves the old answerable state, never an empty document.
        self._delete_past(
            collection,
            ends={batch.document_id: batch.chunk_indexes.stop for batch in batches if batch.last_batch},
        )

    def query(self, *, bot_id: str, vector: Sequence[float], top_k: int) -> list[RetrievedChunk]:
        with self._errors():
            collection = self._collection_or_none(bot_id)
            if collection is None:
                return []
            # A chunk's document and index are read from its id ("{document_id}#{index}", as upsert writes
            # both the id and the metadata), not from the metadata, which Chroma then need not decode: top 100
            # of 10k chunks, 300 interleaved queries, p50 15.7 -> 14.4 ms (load 6-7).
            result = collection.query(
                query_embeddings=np.asarray([vector], dtype=np.float32),
                n_results=top_k,
                include=["documents", "distances"],
            )
        ids = result["ids"][0] if result["ids"] else []
        documents = (result["documents"] or [[]])[0]
        distances = (result["distances"] or [[]])[0]
        return [
            RetrievedChunk(
                document_id=document_id,
                chunk_index=int(index),
                text=document,
                # Cosine distance is 1 - similarity; opposite-direction vectors (similarity < 0) are as
                # irrelevant as orthogonal ones, so the score is kept in the documented [0, 1].
                score=max(0.0, min(1.0, 1.0 - float(distance))),
            )
            for (document_id, _, index), document, distance in zip(
                (chunk.rpartition("#") for chunk in ids), documents, distances, strict=True
            )
        ]

    def delete_document(self, *, bot_id: str, document_id: str) -> int:
        with self._errors(), self._write_lock:
            collection = self._collection_or_none(bot_id)
            if collection is None:
                return 0
            return int(collection.delete(where={"document_id": document_id})["deleted"])

    def delete_bot(self, *, bot_id: str) -> bool:
        with self._errors(), self._write_lock:
            try:
                self._client.delete_collection(name=bot_id)
            except NotFoundError:
                return False
        return True

    def bot_ids(self) -> list[str]:
        with self._errors():
            return [collection.name for collection in self._client.list_collections()]

    def document_chunks(self, *, bot_id: str) -> list[DocumentChunks]:
        ids: list[str] = []
        with self._errors():
            collection = self._collection_or_none(bot_id)
            while collection is not None:
                page = collection.get(include=[], limit=self._max_batch, offset=len(ids))["ids"]
                ids.extend(page)
                if len(page) < self._max_batch:
                    break
        return chunks_by_document(ids)

    def _collection_or_none(self, bot_id: str) -> Collection | None:
        try:
            return self._client.get_collection(name=bot_id, embedding_function=None)
        except NotFoundError:
            return None

    def _delete_past(self, collection: Collection, *, ends: dict[str, int]) -> None:
        """Drop each document's chunks at or past its end (`ends`: document id -> first stale index)."""
        if not ends:
            return
        clauses: list[Where] = []
        for document_id, first_stale_index in ends.items():
            at_or_past: dict[WhereOperator | LogicalOperator, LiteralValue] = {"$gte": first_stale_index}
            clauses.append({"$and": [{"document_id": document_id}, {"chunk_index": at_or_past}]})
        where: Where = clauses[0] if len(clauses) == 1 else {"$or": clauses}
        stale = collection.get(where=where, include=[])["ids"]
        for start in range(0, len(stale), self._max_batch):
            collection.delete(ids=stale[start : start + self._max_batch])

    @contextmanager
    def _errors(self) -> Iterator[None]:
        try:
            yield
        except (ChromaError, ValueError, OSError, sqlite3.Error) as exc:
            if is_disk_full(exc):
                raise ProviderError.disk_full(provider=PROVIDER, action="Chroma") from exc
            if isinstance(exc, (OSError, sqlite3.Error)):
                # A locked database file can clear up; report it as a temporary outage.
                raise ProviderError.unavailable(provider=PROVIDER, action="Chroma", detail=str(exc)) from exc
            raise ProviderError.unusable(provider=PROVIDER, action="Chroma", detail=str(exc)) from exc
