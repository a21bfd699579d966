"""Django's only way to reach the AI agent (chatsphere_agent) — over HTTP, never by import.

    types.py    what the two exchange: typed results, the chat call, stream events, the agent's limits
    errors.py   every failure as one typed AgentError, and the codes a client is shown for them
    http.py     HttpAgentClient, the real agent over pooled HTTP clients (sync and async)
    fake.py     InMemoryAgent, the agent in-process (tests, AGENT_BACKEND=memory)
    gateway.py  AgentGateway, the seam, and get_agent()/set_agent(), the process-wide instance

Callers import from the package: what it exports below is its whole public surface.
"""

from chatsphere.services.agent_client.errors import (
    PUBLIC_FAILED,
    PUBLIC_UNAVAILABLE,
    AgentError,
    AgentProtocolError,
    AgentRejectedError,
    AgentUnavailableError,
)
from chatsphere.services.agent_client.fake import InMemoryAgent
from chatsphere.services.agent_client.gateway import AgentGateway, get_agent, set_agent
from chatsphere.services.agent_client.http import (
    DEFAULT_TIMEOUT,
    HEALTH_TIMEOUT_SECONDS,
    AgentAiohttpTransport,
    HttpAgentClient,
)
from chatsphere.services.agent_client.types import (
    HEARTBEAT,
    MAX_CHAT_MESSAGE_CHARS,
    MAX_CHUNKS_PER_REQUEST,
    AgentHealth,
    BotIndex,
    ChatCall,
    ChatEvent,
    ChatResult,
    ChatSource,
    EmbedResult,
    HistoryItem,
    IndexedDocument,
    SearchHit,
    SearchResult,
)

__all__ = [
    "DEFAULT_TIMEOUT",
    "HEALTH_TIMEOUT_SECONDS",
    "HEARTBEAT",
    "MAX_CHAT_MESSAGE_CHARS",
    "MAX_CHUNKS_PER_REQUEST",
    "PUBLIC_FAILED",
    "PUBLIC_UNAVAILABLE",
    "AgentAiohttpTransport",
    "AgentError",
    "AgentGateway",
    "AgentHealth",
    "AgentProtocolError",
    "AgentRejectedError",
    "AgentUnavailableError",
    "BotIndex",
    "ChatCall",
    "ChatEvent",
    "ChatResult",
    "ChatSource",
    "EmbedResult",
    "HistoryItem",
    "HttpAgentClient",
    "InMemoryAgent",
    "IndexedDocument",
    "SearchHit",
    "SearchResult",
    "get_agent",
    "set_agent",
]
