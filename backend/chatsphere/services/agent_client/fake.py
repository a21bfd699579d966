"""`InMemoryAgent`: the agent in-process, for tests and a Django-only run (AGENT_BACKEND=memory)."""

from __future__ import annotations

import asyncio
import re
import threading
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import fields
from typing import Any
from uuid import UUID

from chatsphere.services.agent_client.errors import AgentRejectedError, AgentUnavailableError
from chatsphere.services.agent_client.types import (
    AgentHealth,
    BotIndex,
    ChatCall,
    ChatEvent,
    ChatResult,
    ChatSource,
    EmbedResult,
    IndexedDocument,
    SearchHit,
    SearchResult,
)

_WORD = re.compile(r"\w+")


class InMemoryAgent:
    """An in-process agent: stores chunks in a dict and answers with the best keyword-overlap chunks.

    Set `unavailable = True` to make every call fail like an agent that is down, and
    `fail_stream_after_tokens = n` to make a stream end with an ErrorEvent after n tokens;
    `stream_token_delay_s` paces a stream's tokens like a model's.
    """

    model_name = "in-memory-keyword"

    def __init__(self) -> None:
        self.vectors: dict[UUID, dict[UUID, list[str]]] = {}
        self.chat_requests: list[dict[str, Any]] = []
        self.unavailable = False
        self.fail_stream_after_tokens: int | None = None
        self.stream_token_delay_s = 0.0
        self._lock = threading.Lock()

    def health(self) -> AgentHealth:
        self._check_available()
        return AgentHealth(
            status="ok",
            providers={"embeddings": "memory", "vector_store": "memory", "llm": self.model_name},
        )

    def call_embed_and_store(
        self,
        *,
        bot_id: UUID,
        document_id: UUID,
        chunks: Sequence[str],
        document_name: str | None = None,
        keep_going: Callable[[], bool] | None = None,
    ) -> EmbedResult:
        self._check_available()
        if not chunks or any(not chunk.strip() for chunk in chunks):
            raise AgentRejectedError(
                "chunks must be non-empty text", code="validation_error", status_code=422
            )
        with self._lock:
            self.vectors.setdefault(bot_id, {})[document_id] = list(chunks)
        return EmbedResult(document_id=document_id, stored_vector_count=len(chunks))

    def _answer(self, call: ChatCall) -> ChatResult:
        self._check_available()
        self.chat_requests.append({item.name: getattr(call, item.name) for item in fields(call)})
        sources = tuple(self._keyword_matches(bot_id=call.bot_id, query=call.message)[: call.top_k or 4])
        response = sources[0].text if sources else "I could not find anything about that in my documents."
        return ChatResult(response=response, sources=sources, model=call.model or self.model_name)

    def call_search(
        self, *, bot_id: UUID, query: str, top_k: int | None = None, mode: str | None = None
    ) -> SearchResult:
        """Keyword overlap whatever the mode asked, so the answer says "lexical"."""
        self._check_available()
        hits = tuple(
            SearchHit(source.document_id, source.chunk_index, source.text, source.score, None, source.score)
            for source in self._keyword_matches(bot_id=bot_id, query=query)[: top_k or 10]
        )
        return SearchResult(mode="lexical", hits=hits)

    def _keyword_matches(self, *, bot_id: UUID, query: str) -> list[ChatSource]:
        words_asked = set(_WORD.findall(query.lower()))
        scored: list[ChatSource] = []
        with self._lock:
            documents = dict(self.vectors.get(bot_id, {}))
        for document_id, chunks in documents.items():
            for index, text in enumerate(chunks):
                overlap = len(words_asked & set(_WORD.findall(text.lower())))
                if overlap:
                    scored.append(ChatSource(document_id, index, overlap / max(len(words_asked), 1), text))
        scored.sort(key=lambda source: source.score, reverse=True)
        return scored

    async def acall_chat(self, *, call: ChatCall) -> ChatResult:
        return self._answer(call)

    async def open_chat_stream(self, *, call: ChatCall) -> AsyncIterator[ChatEvent]:
        return self._events(self._answer(call))

    async def _events(self, result: ChatResult) -> AsyncIterator[ChatEvent]:
        yield ChatEvent("sources", {"sources": [source.as_json() for source in result.sources]})
        for index, token in enumerate(re.findall(r"\S+\s*", result.response)):
            if self.fail_stream_after_tokens is not None and index >= self.fail_stream_after_tokens:
                yield ChatEvent.failure(
                    code="provider_unavailable", message="The model went away.", retryable=True
                )
                return
            await asyncio.sleep(self.stream_token_delay_s)
            yield ChatEvent("token", {"text": token})
        yield ChatEvent("done", {"response": result.response, "model": result.model})

    def call_indexed_bots(self) -> list[UUID]:
        self._check_available()
        with self._lock:
            return [bot_id for bot_id, documents in self.vectors.items() if documents]

    def call_bot_index(self, *, bot_id: UUID) -> BotIndex:
        """The in-process agent has no lexical index."""
        self._check_available()
        with self._lock:
            documents = dict(self.vectors.get(bot_id, {}))
        return BotIndex(
            vectors={
                document_id: IndexedDocument(chunk_count=len(chunks), last_chunk_index=len(chunks) - 1)
                for document_id, chunks in documents.items()
            },
            lexical=None,
        )

    def call_delete_document(self, *, bot_id: UUID, document_id: UUID) -> int:
        self._check_available()
        with self._lock:
            return len(self.vectors.get(bot_id, {}).pop(document_id, []))

    def call_purge_document(self, *, bot_id: UUID, document_id: UUID) -> int:
        """The same as a deletion here: the in-process agent records no deletions."""
        return self.call_delete_document(bot_id=bot_id, document_id=document_id)

    def call_delete_bot(self, *, bot_id: UUID) -> bool:
        self._check_available()
        with self._lock:
            return self.vectors.pop(bot_id, None) is not None

    def _check_available(self) -> None:
        if self.unavailable:
            raise AgentUnavailableError("The AI service is unreachable.", code="agent_unreachable")
