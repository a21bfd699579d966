"""The seams between the agent and the outside world.

Each outside dependency (embeddings, vector store, chat model) is a small Protocol with a real
implementation (Gemini, Pinecone, an OpenAI-compatible server) and an embedded local one. The app
builds one of each per process (see providers/factory.py); tests and Pact provider states swap
implementations here, never by patching library internals.
"""

from __future__ import annotations

import errno
import shutil
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol, runtime_checkable

# The one retry policy of every outbound provider call (Gemini, Pinecone): these statuses are retried with
# exponential backoff, each wait capped at MAX_BACKOFF_FACTOR times the first.
RETRYABLE_STATUS_CODES = (408, 429, 500, 502, 503, 504)
MAX_BACKOFF_FACTOR = 8


class ProviderError(Exception):
    """A dependency (Gemini, Pinecone, the local model, the disk) failed; maps to HTTP 502/503.

    Retryable (503) when waiting can help: an outage, overload, a timeout, an unreachable server, a status in
    RETRYABLE_STATUS_CODES. Not retryable (502) when the provider refused the request or answered with
    something the agent cannot use. The classmethods below are the one way to build each kind.
    """

    def __init__(self, message: str, *, provider: str, retryable: bool = True) -> None:
        super().__init__(message)
        # The provider's family ("gemini", "pinecone", "chroma", "openai", "local"), also when handed a full
        # provider name ("chroma:/var/agent/chroma"): clients see one name per provider, never a path.
        self.provider = provider.partition(":")[0]
        self.retryable = retryable

    @classmethod
    def from_status(
        cls, *, provider: str, action: str, status: int, reason: str | None = None
    ) -> ProviderError:
        """An HTTP error reply still failing after the client's own retries."""
        return cls(
            f"{action} failed: HTTP {status} {reason or ''}".rstrip(),
            provider=provider,
            retryable=status in RETRYABLE_STATUS_CODES,
        )

    @classmethod
    def unavailable(cls, *, provider: str, action: str, detail: str) -> ProviderError:
        """No usable reply yet: a timeout, a refused or dropped connection, a locked or full disk."""
        return cls(f"{action} is unavailable ({detail})", provider=provider, retryable=True)

    @classmethod
    def disk_full(cls, *, provider: str, action: str) -> ProviderError:
        """The agent's own disk is full: retryable, once an operator has freed space."""
        return cls(
            f"{action} failed: the agent's disk is full; free space in its data directory, then retry",
            provider=provider,
            retryable=True,
        )

    @classmethod
    def unusable(cls, *, provider: str, action: str, detail: str) -> ProviderError:
        """A reply, or a request, the agent cannot use: retrying the same call would fail the same way."""
        return cls(f"{action}: {detail}", provider=provider, retryable=False)


def is_disk_full(exc: BaseException) -> bool:
    """ENOSPC, as the OS, SQLite ("database or disk is full") and Chroma's core ("No space left") say it."""
    message = str(exc)
    return (
        getattr(exc, "errno", None) == errno.ENOSPC or "disk is full" in message or "No space left" in message
    )


def check_room(path: Path, *, min_free_bytes: int, provider: str, action: str) -> None:
    """Refuse a write up front when the disk under `path` is (nearly) full: a store that meets ENOSPC in
    the middle of a write may not recover (Chroma's core was seen to wedge until restarted)."""
    if min_free_bytes and shutil.disk_usage(path).free < min_free_bytes:
        raise ProviderError.disk_full(provider=provider, action=action)


def answer_text(text: str, *, provider: str, detail: str = "") -> str:
    """The model's answer, stripped; an empty one (a filtered or truncated reply) is an unusable reply."""
    stripped = text.strip()
    if not stripped:
        raise ProviderError.unusable(
            provider=provider, action="chat", detail=f"no answer text{f' ({detail})' if detail else ''}"
        )
    return stripped


def check_vectors(
    vectors: Sequence[Sequence[float]], *, expected_count: int, dimension: int, provider: str
) -> None:
    """An embeddings reply holds one vector of the model's dimension per text, or it is unusable."""
    if len(vectors) != expected_count or any(len(vector) != dimension for vector in vectors):
        raise ProviderError.unusable(
            provider=provider,
            action="embedding",
            detail=f"{len(vectors)} vectors for {expected_count} texts, not all of dimension {dimension}",
        )


def check_upsert(batch: ChunkBatch, *, provider: str) -> None:
    """Every store refuses chunks and vectors that do not pair up, before it writes anything."""
    if len(batch.chunks) != len(batch.vectors):
        raise ProviderError.unusable(
            provider=provider,
            action="upsert",
            detail=f"{len(batch.chunks)} chunks but {len(batch.vectors)} vectors",
        )


@dataclass(frozen=True, slots=True)
class ChunkBatch:
    """Consecutive chunks of one document to store: chunk i is the document's chunk first_chunk_index + i,
    kept under the id f"{document_id}#{first_chunk_index + i}".

    When `last_batch`, these chunks end the document: once they are stored, the document's chunks at index
    first_chunk_index + len(chunks) and beyond (a longer earlier version's) are dropped. With the defaults
    the chunks are the whole document and replace everything stored for it. A vector store stores `vectors`
    (one per chunk); the lexical index indexes `document_name` beside each chunk.
    """

    bot_id: str
    document_id: str
    chunks: Sequence[str]
    vectors: Sequence[Sequence[float]] = ()
    document_name: str | None = None
    first_chunk_index: int = 0
    last_batch: bool = True

    @property
    def chunk_indexes(self) -> range:
        return range(self.first_chunk_index, self.first_chunk_index + len(self.chunks))


@dataclass(frozen=True, slots=True)
class DocumentChunks:
    """What one index holds of a document: `count` chunks, the highest at `last_index`.

    Chunk ids are unique per document, so a document of n chunks is whole exactly when count == n and
    last_index == n - 1.
    """

    document_id: str
    count: int
    last_index: int


def chunks_by_document(ids: Iterable[str]) -> list[DocumentChunks]:
    """DocumentChunks from a store's chunk ids ("{document_id}#{index}"); an id of another form is skipped."""
    found: dict[str, tuple[int, int]] = {}
    for id_ in ids:
        document_id, _, suffix = id_.rpartition("#")
        if not document_id or not suffix.isdecimal():
            continue
        count, last = found.get(document_id, (0, -1))
        found[document_id] = (count + 1, max(last, int(suffix)))
    return [
        DocumentChunks(document_id=key, count=count, last_index=last) for key, (count, last) in found.items()
    ]


@dataclass(frozen=True, slots=True)
class RetrievedChunk:
    document_id: str
    chunk_index: int
    text: str
    score: float  # higher is more relevant, in [0, 1] for cosine-based stores


@dataclass(frozen=True, slots=True)
class HistoryTurn:
    role: Literal["user", "assistant"]
    content: str


@dataclass(frozen=True, slots=True)
class AnswerRequest:
    """Everything a chat model is asked with for one turn."""

    question: str
    context: Sequence[RetrievedChunk]
    history: Sequence[HistoryTurn] = ()
    system_prompt: str | None = None
    model: str | None = None
    temperature: float | None = None


@dataclass(frozen=True, slots=True)
class ModelAnswer:
    text: str
    model: str  # what answered, reported back to the caller: "extractive", "gemini-2.5-flash", ...


@dataclass(frozen=True, slots=True)
class AnswerDelta:
    """One piece of a streamed answer: the answer is the concatenation of every delta's text."""

    text: str
    model: str


# The space suffix of quantized vectors (local_embeddings.SPACES): an index written before spaces were
# recorded holds full-precision vectors, which a quantized backend must not join (factory.check_compatible).
QUANTIZED_SPACE_SUFFIX = "+int8"


@runtime_checkable
class EmbeddingsProvider(Protocol):
    name: str  # e.g. "local:all-MiniLM-L6-v2", "gemini:gemini-embedding-001"
    dimension: int
    # What the vectors mean, e.g. "all-MiniLM-L6-v2": providers of one space write interchangeable vectors, so
    # an index written by one serves the other; a store that recorded another space is refused at start-up.
    space: str

    def embed_documents(self, texts: Sequence[str]) -> list[list[float]]: ...

    def embed_query(self, text: str) -> list[float]: ...


@runtime_checkable
class VectorStoreProvider(Protocol):
    name: str  # e.g. "chroma:<path>", "pinecone:<index>"

    def index_dimension(self) -> int | None:
        """The dimension the store is fixed to, or None when it adapts to the first write."""
        ...

    def index_space(self) -> str | None:
        """The embedding space the stored vectors were written in; None when the store recorded none."""
        ...

    def upsert(self, batch: ChunkBatch) -> int:
        """Store the batch's chunks with their vectors as ChunkBatch says; returns how many were stored."""
        ...

    def query(self, *, bot_id: str, vector: Sequence[float], top_k: int) -> list[RetrievedChunk]: ...

    def delete_document(self, *, bot_id: str, document_id: str) -> int: ...

    def delete_bot(self, *, bot_id: str) -> bool: ...

    def bot_ids(self) -> list[str]:
        """Every bot with something stored, in no particular order (the consistency check's sweep)."""
        ...

    def document_chunks(self, *, bot_id: str) -> list[DocumentChunks]:
        """What is stored of each of the bot's documents; [] for a bot with nothing stored."""
        ...


@runtime_checkable
class LexicalIndexProvider(Protocol):
    """Keyword (BM25) search over each bot's chunks, kept in step with the vector store."""

    name: str  # e.g. "sqlite-fts5:<path>"

    def upsert(self, batch: ChunkBatch) -> int:
        """Index the batch's chunks, the document name beside each, as ChunkBatch says."""
        ...

    def query(self, *, bot_id: str, text: str, top_k: int) -> list[RetrievedChunk]:
        """The best matches first; scores are the engine's own (higher is better, not bounded)."""
        ...

    def delete_document(self, *, bot_id: str, document_id: str) -> int: ...

    def delete_bot(self, *, bot_id: str) -> bool: ...

    def bot_ids(self) -> list[str]:
        """Every bot with something stored, in no particular order (the consistency check's sweep)."""
        ...

    def document_chunks(self, *, bot_id: str) -> list[DocumentChunks]:
        """What is stored of each of the bot's documents; [] for a bot with nothing stored."""
        ...


@runtime_checkable
class DeletionRegistry(Protocol):
    """Remembers which documents and bots were deleted, by every agent process of one data directory.

    A write that was already under way when its document or bot was deleted (its client gave up waiting,
    the deletion ran meanwhile) asks afterwards and undoes itself, so nothing of a deleted document
    outlives the deletion whatever the order of the two.
    """

    name: str

    def record_document(self, *, bot_id: str, document_id: str) -> None: ...

    def record_bot(self, *, bot_id: str) -> None: ...

    def is_deleted(self, *, bot_id: str, document_id: str) -> bool:
        """True when the document, or its whole bot, was deleted."""
        ...


class Checkpoints(Protocol):
    """Named points of a document's storing where a fault test may hold the agent (checkpoints.py)."""

    def reach(self, point: str, batch: ChunkBatch) -> None: ...


@runtime_checkable
class ChatModelProvider(Protocol):
    name: str  # e.g. "extractive", "gemini:gemini-2.5-flash"

    async def answer(self, *, request: AnswerRequest) -> ModelAnswer:
        """Awaited on the event loop: a model called over the network holds no thread while it thinks."""
        ...

    def stream(self, *, request: AnswerRequest) -> AsyncIterator[AnswerDelta]:
        """The same one LLM call as `answer`, yielded as it is produced; raises ProviderError mid-way."""
        ...
