"""Test doubles that implement the provider Protocols: tests swap them in at the seam."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from chatsphere_agent.providers.base import (
    HistoryTurn,
    ModelAnswer,
    ProviderError,
    RetrievedChunk,
)


class FailingEmbeddings:
    """An embeddings service that is down (retryable) or refuses the input (not retryable)."""

    def __init__(self, *, retryable: bool, dimension: int = 384) -> None:
        self.name = "failing-embeddings"
        self.dimension = dimension
        self.retryable = retryable
        self.calls = 0

    def embed_documents(self, texts: Sequence[str]) -> list[list[float]]:
        self.calls += 1
        raise ProviderError("embeddings backend is down", provider=self.name, retryable=self.retryable)

    def embed_query(self, text: str) -> list[float]:
        return self.embed_documents([text])[0]


class RecordingEmbeddings:
    """Deterministic unit vectors; records each batch it was asked to embed."""

    def __init__(self, *, dimension: int = 4) -> None:
        self.name = "recording-embeddings"
        self.dimension = dimension
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

    def upsert(
        self,
        *,
        bot_id: str,
        document_id: str,
        chunks: Sequence[str],
        vectors: Sequence[Sequence[float]],
        first_chunk_index: int = 0,
        last_batch: bool = True,
    ) -> int:
        self.upserts.append(
            {"chunks": list(chunks), "first_chunk_index": first_chunk_index, "last_batch": last_batch}
        )
        return len(chunks)

    def query(self, *, bot_id: str, vector: Sequence[float], top_k: int) -> list[RetrievedChunk]:
        self.queries.append((bot_id, top_k))
        return self.results[:top_k]

    def delete_document(self, *, bot_id: str, document_id: str) -> int:
        return 0

    def delete_bot(self, *, bot_id: str) -> bool:
        return False


class FixedLexicalIndex:
    """A lexical index that answers every query with given chunks and records the queries."""

    def __init__(self, *, results: Sequence[RetrievedChunk] = ()) -> None:
        self.name = "fixed-lexical"
        self.results = list(results)
        self.queries: list[tuple[str, str, int]] = []

    def upsert(
        self,
        *,
        bot_id: str,
        document_id: str,
        chunks: Sequence[str],
        document_name: str | None = None,
        first_chunk_index: int = 0,
        last_batch: bool = True,
    ) -> int:
        return len(chunks)

    def query(self, *, bot_id: str, text: str, top_k: int) -> list[RetrievedChunk]:
        self.queries.append((bot_id, text, top_k))
        return self.results[:top_k]

    def delete_document(self, *, bot_id: str, document_id: str) -> int:
        return 0

    def delete_bot(self, *, bot_id: str) -> bool:
        return False


@dataclass
class RecordingChatModel:
    """Answers with a fixed text and records every call, to count LLM calls per turn."""

    name: str = "recording-llm"
    reply: str = "a recorded reply"
    calls: list[dict[str, object]] = field(default_factory=list)

    def answer(
        self,
        *,
        question: str,
        context: Sequence[RetrievedChunk],
        history: Sequence[HistoryTurn],
        system_prompt: str | None,
        model: str | None,
        temperature: float | None,
    ) -> ModelAnswer:
        self.calls.append(
            {
                "question": question,
                "context": list(context),
                "history": list(history),
                "system_prompt": system_prompt,
                "model": model,
                "temperature": temperature,
            }
        )
        return ModelAnswer(text=self.reply, model=model or self.name)


class FailingChatModel:
    def __init__(self, *, error: Exception) -> None:
        self.name = "failing-llm"
        self.error = error

    def answer(
        self,
        *,
        question: str,
        context: Sequence[RetrievedChunk],
        history: Sequence[HistoryTurn],
        system_prompt: str | None,
        model: str | None,
        temperature: float | None,
    ) -> ModelAnswer:
        raise self.error
