"""Provider states of the pact, set up through the agent's own seams.

Documents are seeded with the agent's real embed-and-store function into the embedded store; an
outage is a `ChatModelProvider` that raises `ProviderError`, injected the way the app is meant to be
given providers (`app.state.providers`). Nothing inside a library is patched. The pact reuses its ids from
one interaction to the next while the agent remembers deleted bots and documents for good, so each state of
a bot starts from a DeletionRegistry of its own, and a bot is emptied through the stores themselves.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import replace
from typing import Any, Literal

from fastapi import FastAPI

from chatsphere_agent.config import AgentSettings
from chatsphere_agent.providers.base import AnswerDelta, AnswerRequest, ChunkBatch, ModelAnswer, ProviderError
from chatsphere_agent.providers.factory import Providers
from chatsphere_agent.providers.sqlite_tombstones import MemoryDeletionRegistry
from chatsphere_agent.vector_store import embed_and_store_chunks

Action = Literal["setup", "teardown"]


class UnavailableChatModel:
    """A chat model whose upstream is down, as Gemini is during an outage."""

    name = "llm"

    async def answer(self, *, request: AnswerRequest) -> ModelAnswer:
        raise ProviderError("connection refused", provider=self.name, retryable=True)

    def stream(self, *, request: AnswerRequest) -> AsyncIterator[AnswerDelta]:
        """Refuses as the stream opens, before any event: like a model whose connection is refused."""
        raise ProviderError("connection refused", provider=self.name, retryable=True)


class AgentProviderStates:
    """The state handlers for one running agent app, keyed by the pact's state names."""

    def __init__(self, *, app: FastAPI, settings: AgentSettings) -> None:
        self._app = app
        self._settings = settings
        self._shipped: Providers = app.state.providers

    def handlers(self) -> dict[str, Callable[[Action, Mapping[str, Any] | None], None]]:
        return {
            "bot {bot_id} has documents": self.bot_has_documents,
            "bot {bot_id} has no documents": self.bot_has_no_documents,
            "document {document_id} of bot {bot_id} is stored": self.bot_has_documents,
            "the model provider is unavailable": self.model_provider_is_unavailable,
        }

    def bot_has_documents(self, action: Action, parameters: Mapping[str, Any] | None) -> None:
        bot_id, document_id, chunks = _required(parameters, "bot_id", "document_id", "chunks")
        self._forget_deletions()
        if action == "teardown":
            self._empty(bot_id)
            return
        embed_and_store_chunks(
            embeddings=self._shipped.embeddings,
            vector_store=self._shipped.vector_store,
            lexical_index=self._shipped.lexical_index,
            deletions=self._app.state.providers.deletions,
            batch_size=self._settings.embedding_batch_size,
            batch=ChunkBatch(bot_id=bot_id, document_id=document_id, chunks=chunks),
        )

    def bot_has_no_documents(self, action: Action, parameters: Mapping[str, Any] | None) -> None:
        (bot_id,) = _required(parameters, "bot_id")
        self._forget_deletions()
        if action == "setup":
            self._empty(bot_id)

    def _forget_deletions(self) -> None:
        self._app.state.providers = replace(self._app.state.providers, deletions=MemoryDeletionRegistry())

    def _empty(self, bot_id: str) -> None:
        self._shipped.vector_store.delete_bot(bot_id=bot_id)
        if self._shipped.lexical_index is not None:
            self._shipped.lexical_index.delete_bot(bot_id=bot_id)

    def model_provider_is_unavailable(self, action: Action, parameters: Mapping[str, Any] | None) -> None:
        down = replace(self._shipped, chat_model=UnavailableChatModel())
        self._app.state.providers = down if action == "setup" else self._shipped


def _required(parameters: Mapping[str, Any] | None, *names: str) -> tuple[Any, ...]:
    missing = [name for name in names if name not in (parameters or {})]
    if missing:
        raise ValueError(f"provider state parameters {missing} are missing from the pact")
    assert parameters is not None
    return tuple(parameters[name] for name in names)
