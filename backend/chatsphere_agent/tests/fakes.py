"""Test doubles that implement the provider Protocols: tests swap them in at the seam."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field

from chatsphere_agent.providers.base import (
    AnswerDelta,
    AnswerRequest,
    ChatModelProvider,
    ChunkBatch,
    DocumentChunks,
    ModelAnswer,
    ProviderError,
    RetrievedChunk,
)


class FailingEmbeddings:
    """An embeddings service that is down (retryable) or refuses the input (not retryable)."""

    def __init__(self, *, retryable: bool, dimension: int = 384) -> None:
        self.name = "failing-embeddings"
        self.dimension = dimension
        self.space = "failing"
        self.retryable = retryable
        self.calls = 0

    def embed_documents(self, texts: Sequence[str]) -> list[list[float]]:
        self.calls += 1
        raise ProviderError("embeddings backend is down", provider=self.name, retryable=self.retryable)

    def embed_query(self, text: str) -> list[float]:
        return self.embed_documents([text])[0]


class RecordingEmbeddings:
    """Deterministic unit vectors; records each batch it was asked to embed."""

    def __init__(self, *, dimension: int = 4, space: str = "recording") -> None:
        self.name = "recording-embeddings"
        self.dimension = dimension
        self.space = space
        self.batches: list[list[str]] = []

    def embed_documents(self, texts: Sequence[str]) -> list[list[float]]:
        self.batches.append(list(texts))
        return [self._vector(text) for text in texts]

    def embed_query(self, text: str) -> list[float]:
        return self._vector(text)

    def _vector(self, text: str) -> list[float]:
        vector = [0.0] * self.dimension
        vector[len(text) % self.dimension] = 1.0
        return vector


class FixedDimensionStore:
    """A store whose index is fixed to a dimension, answers queries with given chunks, records upserts."""

    def __init__(self, *, dimension: int | None, results: Sequence[RetrievedChunk] = ()) -> None:
        self.name = f"fixed:{dimension}"
        self.dimension = dimension
        self.results = list(results)
        self.queries: list[tuple[str, int]] = []
        self.upserts: list[dict[str, object]] = []

    def index_dimension(self) -> int | None:
        return self.dimension

    def index_space(self) -> str | None:
        return None

    def upsert(self, batch: ChunkBatch) -> int:
        self.upserts.append(
            {
                "chunks": list(batch.chunks),
                "first_chunk_index": batch.first_chunk_index,
                "last_batch": batch.last_batch,
            }
        )
        return len(batch.chunks)

    def query(self, *, bot_id: str, vector: Sequence[float], top_k: int) -> list[RetrievedChunk]:
        self.queries.append((bot_id, top_k))
        return self.results[:top_k]

    def delete_document(self, *, bot_id: str, document_id: str) -> int:
        return 0

    def delete_bot(self, *, bot_id: str) -> bool:
        return False

    def bot_ids(self) -> list[str]:
        return []

    def document_chunks(self, *, bot_id: str) -> list[DocumentChunks]:
        return []


class FixedLexicalIndex:
    """A lexical index that answers every query with given chunks and records the queries."""

    def __init__(self, *, results: Sequence[RetrievedChunk] = ()) -> None:
        self.name = "fixed-lexical"
        self.results = list(results)
        self.queries: list[tuple[str, str, int]] = []

    def upsert(self, batch: ChunkBatch) -> int:
        return len(batch.chunks)

    def query(self, *, bot_id: str, text: str, top_k: int) -> list[RetrievedChunk]:
        self.queries.append((bot_id, text, top_k))
        return self.results[:top_k]

    def delete_document(self, *, bot_id: str, document_id: str) -> int:
        return 0

    def delete_bot(self, *, bot_id: str) -> bool:
        return False

    def bot_ids(self) -> list[str]:
        return []

    def document_chunks(self, *, bot_id: str) -> list[DocumentChunks]:
        return []


@dataclass
class RecordingChatModel:
    """A fixed text (streamed word by word); records every call, to count LLM calls per turn."""

    name: str = "recording-llm"
    reply: str = "a recorded reply"
    calls: list[dict[str, object]] = field(default_factory=list)

    async def answer(self, *, request: AnswerRequest) -> ModelAnswer:
        self._record(request)
        return ModelAnswer(text=self.reply, model=request.model or self.name)

    async def stream(self, *, request: AnswerRequest) -> AsyncIterator[AnswerDelta]:
        self._record(request)
        for word in re.findall(r"\S+\s*", self.reply):
            yield AnswerDelta(text=word, model=request.model or self.name)

    def _record(self, request: AnswerRequest) -> None:
        self.calls.append(
            {
                "question": request.question,
                "context": list(request.context),
                "history": list(request.history),
                "system_prompt": request.system_prompt,
                "model": request.model,
                "temperature": request.temperature,
            }
        )


class FailingChatModel:
    """Raises `error`; a stream first yields `deltas_before_failing` pieces, as a model failing mid-answer."""

    def __init__(self, *, error: Exception, deltas_before_failing: int = 0) -> None:
        self.name = "failing-llm"
        self.error = error
        self.deltas_before_failing = deltas_before_failing

    async def answer(self, *, request: AnswerRequest) -> ModelAnswer:
        raise self.error

    async def stream(self, *, request: AnswerRequest) -> AsyncIterator[AnswerDelta]:
        for index in range(self.deltas_before_failing):
            yield AnswerDelta(text=f"part{index} ", model=self.name)
        raise self.error


class SlowChatModel:
    """Thinks `delay_s` before its one-word answer, like a model slow to its first token."""

    name = "slow-llm"

    def __init__(self, *, delay_s: float) -> None:
        self.delay_s = delay_s

    async def answer(self, *, request: AnswerRequest) -> ModelAnswer:
        await asyncio.sleep(self.delay_s)
        return ModelAnswer(text="late", model=self.name)

    async def stream(self, *, request: AnswerRequest) -> AsyncIterator[AnswerDelta]:
        answer = await self.answer(request=request)
        yield AnswerDelta(text=answer.text, model=answer.model)


def answer_now(model: ChatModelProvider, request: AnswerRequest) -> ModelAnswer:
    """A chat model's answer, from a synchronous test."""
    return asyncio.run(model.answer(request=request))


def stream_now(model: ChatModelProvider, request: AnswerRequest) -> list[AnswerDelta]:
    """Every delta of a chat model's stream, from a synchronous test."""

    async def collect() -> list[AnswerDelta]:
        return [delta async for delta in model.stream(request=request)]

    return asyncio.run(collect())
