"""`AgentGateway`, the seam between Django and the agent, and the process-wide instance behind it:
`get_agent()` hands it out (built from settings on first use) and `set_agent()` swaps it — tests use that,
never patching httpx."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Protocol, runtime_checkable
from uuid import UUID

import httpx
from django.conf import settings

from chatsphere.services.agent_client.fake import InMemoryAgent
from chatsphere.services.agent_client.http import HttpAgentClient
from chatsphere.services.agent_client.types import (
    AgentHealth,
    BotIndex,
    ChatCall,
    ChatEvent,
    ChatResult,
    EmbedResult,
    SearchResult,
)


@runtime_checkable
class AgentGateway(Protocol):
    def health(self) -> AgentHealth: ...

    def call_embed_and_store(
        self,
        *,
        bot_id: UUID,
        document_id: UUID,
        chunks: Sequence[str],
        document_name: str | None = None,
        keep_going: Callable[[], bool] | None = None,
    ) -> EmbedResult: ...

    def call_search(
        self, *, bot_id: UUID, query: str, top_k: int | None = None, mode: str | None = None
    ) -> SearchResult: ...

    def call_indexed_bots(self) -> list[UUID]:
        """The bots the agent holds anything of, in either index (GET /index/bots)."""
        ...

    def call_bot_index(self, *, bot_id: UUID) -> BotIndex:
        """Per document, its chunks in the vector store and in the lexical index (GET /bots/{id}/index)."""
        ...

    def call_delete_document(self, *, bot_id: UUID, document_id: UUID) -> int: ...

    def call_purge_document(self, *, bot_id: UUID, document_id: UUID) -> int:
        """Drop a document's chunks from both indexes, leaving it writable: a failed ingestion's leftovers,
        while its owner may retry it (call_delete_document refuses any later write of the document)."""
        ...

    def call_delete_bot(self, *, bot_id: UUID) -> bool: ...

    async def acall_chat(self, *, call: ChatCall) -> ChatResult:
        """The whole answer of one chat turn, awaited: no thread is held while the agent works."""
        ...

    async def open_chat_stream(self, *, call: ChatCall) -> AsyncIterator[ChatEvent]:
        """Start /chat/stream; raises AgentError while nothing was streamed yet, else the events follow.

        A failure after the stream began (the agent dies, the model fails) is the last event, ErrorEvent.
        """
        ...


# How long an idle connection to the agent is kept. httpx's default (5 s) and uvicorn's (5 s) dropped the
# pool between bursts of chats, and the next burst paid a new connection per chat; every launcher of the
# agent keeps a connection 75 s (--timeout-keep-alive), longer, so it never closes one about to be reused.
AGENT_KEEPALIVE_SECONDS = 60.0

_agent: AgentGateway | None = None
_agent_lock = threading.Lock()


def build_agent_from_settings() -> AgentGateway:
    if settings.AGENT_BACKEND == "memory":
        return InMemoryAgent()
    max_connections = settings.AGENT_MAX_CONNECTIONS
    return HttpAgentClient(
        base_url=settings.AGENT_SERVICE_URL,
        token=settings.AGENT_SERVICE_TOKEN,
        timeout=httpx.Timeout(
            settings.AGENT_FIRST_BYTE_TIMEOUT_SECONDS, connect=settings.AGENT_CONNECT_TIMEOUT_SECONDS
        ),
        total_timeout=settings.AGENT_TIMEOUT_SECONDS,
        stream_timeout=settings.AGENT_STREAM_TIMEOUT_SECONDS,
        limits=httpx.Limits(
            max_connections=max_connections,
            max_keepalive_connections=max_connections,
            keepalive_expiry=AGENT_KEEPALIVE_SECONDS,
        ),
        batch_chunks=settings.AGENT_EMBED_BATCH_CHUNKS,
    )


def get_agent() -> AgentGateway:
    """The process-wide agent, built from settings on first use."""
    global _agent
    if _agent is None:
        with _agent_lock:
            if _agent is None:
                _agent = build_agent_from_settings()
    return _agent


def set_agent(agent: AgentGateway | None) -> None:
    """Swap the process-wide agent (tests, embedded runs); None rebuilds from settings on next use."""
    global _agent
    with _agent_lock:
        _agent = agent
