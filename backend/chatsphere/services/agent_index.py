"""The agent's index inventory, as Django's consistency check reads it (services/index_consistency.py).

GET /index/bots and GET /bots/{id}/index over the agent client's pooled connection, and the same
inventory of the in-process agent. Kept apart from agent_client.py while that module is split up; these
belong on the client and move there with the split. No model imports: the Pact consumer tests load it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol
from uuid import UUID

from chatsphere.services.agent_client import AgentProtocolError, HttpAgentClient, InMemoryAgent, get_agent


@dataclass(frozen=True, slots=True)
class IndexedDocument:
    chunk_count: int
    last_chunk_index: int

    def holds_whole(self, chunk_count: int) -> bool:
        return self.chunk_count == chunk_count and self.last_chunk_index == chunk_count - 1


@dataclass(frozen=True, slots=True)
class BotIndex:
    """What the agent holds of one bot's documents, by document id; `lexical` None: no lexical index."""

    vectors: dict[UUID, IndexedDocument]
    lexical: dict[UUID, IndexedDocument] | None


class AgentIndex(Protocol):
    """The agent's index inventory (GET /index/bots, GET /bots/{id}/index)."""

    def indexed_bots(self) -> list[UUID]: ...

    def bot_index(self, *, bot_id: UUID) -> BotIndex: ...


class HttpAgentIndex:
    """The inventory over the agent client's pooled connection (and its errors and deadlines).

    It calls the client's `_request` so this module stays apart from agent_client.py while that file is
    being split up; the two methods belong on the client and move there with the split.
    """

    def __init__(self, agent: HttpAgentClient) -> None:
        self._agent = agent

    def indexed_bots(self) -> list[UUID]:
        body = self._agent._request("GET", "/index/bots")
        try:
            return [UUID(str(bot_id)) for bot_id in body["bot_ids"]]
        except (KeyError, TypeError, ValueError) as exc:
            raise _invalid_reply() from exc

    def bot_index(self, *, bot_id: UUID) -> BotIndex:
        body = self._agent._request("GET", f"/bots/{bot_id}/index")
        try:
            lexical = body["lexical"]
            return BotIndex(
                vectors=_indexed_documents(body["vectors"]),
                lexical=None if lexical is None else _indexed_documents(lexical),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise _invalid_reply() from exc


def _indexed_documents(entries: list[dict[str, Any]]) -> dict[UUID, IndexedDocument]:
    return {
        UUID(str(entry["document_id"])): IndexedDocument(
            chunk_count=int(entry["chunk_count"]), last_chunk_index=int(entry["last_chunk_index"])
        )
        for entry in entries
    }


def _invalid_reply() -> AgentProtocolError:
    return AgentProtocolError("The AI service sent an invalid reply.", code="agent_protocol_error")


class InMemoryAgentIndex:
    """The inventory of the in-process agent (AGENT_BACKEND=memory), which has no lexical index."""

    def __init__(self, agent: InMemoryAgent) -> None:
        self._agent = agent

    def indexed_bots(self) -> list[UUID]:
        return [bot_id for bot_id, documents in self._agent.vectors.items() if documents]

    def bot_index(self, *, bot_id: UUID) -> BotIndex:
        documents = self._agent.vectors.get(bot_id, {})
        return BotIndex(
            vectors={
                document_id: IndexedDocument(chunk_count=len(chunks), last_chunk_index=len(chunks) - 1)
                for document_id, chunks in documents.items()
            },
            lexical=None,
        )


def get_agent_index() -> AgentIndex:
    agent = get_agent()
    if isinstance(agent, InMemoryAgent):
        return InMemoryAgentIndex(agent)
    if not isinstance(agent, HttpAgentClient):
        raise TypeError(f"no index inventory for {agent!r}")
    return HttpAgentIndex(agent)
