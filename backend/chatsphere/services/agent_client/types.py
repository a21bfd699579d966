"""What Django and the agent exchange, as Django's code sees it: typed results, the chat call, stream events,
and the agent's limits that Django enforces itself."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal
from uuid import UUID

# The agent takes at most this many chunks per /embed_and_store (chatsphere_agent/schemas.py); a longer
# document goes as several requests.
MAX_CHUNKS_PER_REQUEST = 256
# The longest chat message or search query the agent takes (chatsphere_agent/schemas.py MAX_MESSAGE_CHARS);
# Django refuses longer ones itself. The pact sends one this long, so the two cannot drift apart.
MAX_CHAT_MESSAGE_CHARS = 8000


@dataclass(frozen=True, slots=True)
class EmbedResult:
    document_id: UUID
    stored_vector_count: int


@dataclass(frozen=True, slots=True)
class ChatSource:
    document_id: UUID
    chunk_index: int
    score: float
    text: str

    @classmethod
    def from_json(cls, source: Mapping[str, Any]) -> ChatSource:
        """A source as the agent sends it; KeyError, TypeError or ValueError when it is not one."""
        return cls(
            document_id=UUID(str(source["document_id"])),
            chunk_index=int(source["chunk_index"]),
            score=float(source["score"]),
            text=str(source["text"]),
        )

    def as_json(self) -> dict[str, Any]:
        return {
            "document_id": str(self.document_id),
            "chunk_index": self.chunk_index,
            "score": self.score,
            "text": self.text,
        }


@dataclass(frozen=True, slots=True)
class ChatResult:
    response: str
    sources: tuple[ChatSource, ...]
    model: str


@dataclass(frozen=True, slots=True)
class SearchHit:
    document_id: UUID
    chunk_index: int
    text: str
    score: float
    dense_score: float | None
    lexical_score: float | None


@dataclass(frozen=True, slots=True)
class SearchResult:
    mode: str  # the mode the agent searched: "dense" | "lexical" | "hybrid"
    hits: tuple[SearchHit, ...]


@dataclass(frozen=True, slots=True)
class HistoryItem:
    role: Literal["user", "assistant"]
    content: str


@dataclass(frozen=True, slots=True)
class ChatCall:
    """One chat turn as the agent's /chat and /chat/stream take it."""

    bot_id: UUID
    message: str
    history: Sequence[HistoryItem]
    system_prompt: str | None = None
    model: str | None = None
    temperature: float | None = None
    user_id: str | None = None
    top_k: int | None = None
    min_score: float | None = None


EventName = Literal["user_message", "sources", "token", "done", "error", "heartbeat"]


@dataclass(frozen=True, slots=True)
class ChatEvent:
    """One event of a streamed chat turn: one type from the agent's stream to Django's, `data` being the
    event's JSON object as on the wire.

    The agent sends `sources` ({sources: [...]}), `token` ({text}) per piece, then `done` ({response, model})
    or `error` ({error: {code, message, retryable}}), with `heartbeat`s ({}) in silences. Django relays them,
    with `user_message` (the saved message) first, each source named, and `done` holding the saved answer
    ({bot_message}). The client has checked every event's fields before it hands one out.
    """

    name: EventName
    data: Mapping[str, Any]

    @property
    def final(self) -> bool:
        return self.name in {"done", "error"}

    @classmethod
    def failure(cls, *, code: str, message: str, retryable: bool) -> ChatEvent:
        return cls("error", {"error": {"code": code, "message": message, "retryable": retryable}})

    def sources(self) -> tuple[ChatSource, ...]:
        """A `sources` event's sources, typed."""
        return tuple(ChatSource.from_json(source) for source in self.data["sources"])


HEARTBEAT = ChatEvent("heartbeat", {})


@dataclass(frozen=True, slots=True)
class IndexedDocument:
    """What an index holds of one document: its chunk count and highest chunk index."""

    chunk_count: int
    last_chunk_index: int

    def holds_whole(self, chunk_count: int) -> bool:
        return self.chunk_count == chunk_count and self.last_chunk_index == chunk_count - 1


@dataclass(frozen=True, slots=True)
class BotIndex:
    """What the agent holds of one bot's documents, by document id; `lexical` None: no lexical index."""

    vectors: dict[UUID, IndexedDocument]
    lexical: dict[UUID, IndexedDocument] | None


@dataclass(frozen=True, slots=True)
class AgentHealth:
    status: str
    providers: dict[str, str] = field(default_factory=dict)
