"""Django's only way to reach the AI agent (chatsphere_agent) — over HTTP, never by import.

`AgentGateway` is the seam: `HttpAgentClient` talks to the real service through one pooled
`httpx.Client` per process; `InMemoryAgent` answers in-process (keyword overlap) for tests and for a
Django-only run (AGENT_BACKEND=memory). `get_agent()` hands out the process-wide instance and
`set_agent()` swaps it — tests use that, never patching httpx.

Every failure becomes a typed `AgentError`:
  AgentUnavailableError  the agent cannot answer now (connect error, timeout, 5xx): retry later
  AgentRejectedError     the agent refused our request (4xx): a bug or misconfiguration on our side
  AgentProtocolError     the agent answered something we cannot parse
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable
from uuid import UUID

import httpx
from django.conf import settings

logger = logging.getLogger(__name__)


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


@dataclass(frozen=True, slots=True)
class ChatResult:
    response: str
    sources: tuple[ChatSource, ...]
    model: str


@dataclass(frozen=True, slots=True)
class HistoryItem:
    role: Literal["user", "assistant"]
    content: str


@dataclass(frozen=True, slots=True)
class AgentHealth:
    status: str
    providers: dict[str, str] = field(default_factory=dict)


class AgentError(Exception):
    """The agent could not do what we asked. `message` is safe to show to a user."""

    def __init__(self, message: str, *, code: str, status_code: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.status_code = status_code


class AgentUnavailableError(AgentError):
    """Connect error, timeout, or a 5xx: the request may succeed later."""


class AgentRejectedError(AgentError):
    """A 4xx: the agent refused the request (bad token, invalid body) — our bug, retrying won't help."""


class AgentProtocolError(AgentError):
    """The agent's answer did not have the shape of chatsphere_agent/schemas.py."""


@runtime_checkable
class AgentGateway(Protocol):
    def health(self) -> AgentHealth: ...

    def call_embed_and_store(
        self, *, bot_id: UUID, document_id: UUID, chunks: Sequence[str]
    ) -> EmbedResult: ...

    def call_chat(
        self,
        *,
        bot_id: UUID,
        message: str,
        history: Sequence[HistoryItem],
        system_prompt: str | None = None,
        model: str | None = None,
        temperature: float | None = None,
        user_id: str | None = None,
        top_k: int | None = None,
        min_score: float | None = None,
    ) -> ChatResult: ...

    def call_delete_document(self, *, bot_id: UUID, document_id: UUID) -> int: ...

    def call_delete_bot(self, *, bot_id: UUID) -> bool: ...


# The agent takes at most this many chunks per /embed_and_store (chatsphere_agent/schemas.py); a longer
# document goes as several requests.
MAX_CHUNKS_PER_REQUEST = 256
DEFAULT_TIMEOUT = httpx.Timeout(60.0, connect=3.0)
HEALTH_TIMEOUT_SECONDS = 2.0
DEFAULT_LIMITS = httpx.Limits(max_connections=20, max_keepalive_connections=10, keepalive_expiry=30.0)


class HttpAgentClient:
    """The real agent, over one pooled, thread-safe httpx.Client."""

    def __init__(
        self,
        *,
        base_url: str,
        token: str,
        timeout: httpx.Timeout | float = DEFAULT_TIMEOUT,
        transport: httpx.BaseTransport | None = None,
        limits: httpx.Limits = DEFAULT_LIMITS,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._client = httpx.Client(
            base_url=self.base_url,
            headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
            timeout=timeout,
            limits=limits,
            transport=transport,
        )

    def __repr__(self) -> str:  # never show the token
        return f"HttpAgentClient(base_url={self.base_url!r})"

    def close(self) -> None:
        self._client.close()

    def health(self) -> AgentHealth:
        # A health check must answer fast even when the agent hangs: it has its own short deadline.
        body = self._request("GET", "/health", timeout=HEALTH_TIMEOUT_SECONDS)
        try:
            providers = body["providers"]
            return AgentHealth(
                status=str(body["status"]), providers={str(k): str(v) for k, v in providers.items()}
            )
        except (KeyError, TypeError, AttributeError) as exc:
            raise _protocol_error("/health", exc) from exc

    def call_embed_and_store(self, *, bot_id: UUID, document_id: UUID, chunks: Sequence[str]) -> EmbedResult:
        """Store a document's chunks as consecutive batches of at most MAX_CHUNKS_PER_REQUEST.

        Each request names the document-wide index of its first chunk; the last one says it is the
        last, so the agent then drops what a longer earlier version of the document left behind.
        Returns the vectors stored over all requests. A failing batch raises: the caller retries
        the whole document, and the batches already sent are simply stored again.
        """
        stored = 0
        for first_chunk_index, batch in _batches(chunks):
            body = self._request(
                "POST",
                "/embed_and_store",
                json={
                    "bot_id": str(bot_id),
                    "document_id": str(document_id),
                    "chunks": list(batch),
                    "first_chunk_index": first_chunk_index,
                    "last_batch": first_chunk_index + len(batch) >= len(chunks),
                },
            )
            try:
                if UUID(str(body["document_id"])) != document_id:
                    raise ValueError("the reply names another document")
                stored += int(body["stored_vector_count"])
            except (KeyError, TypeError, ValueError) as exc:
                raise _protocol_error("/embed_and_store", exc) from exc
        return EmbedResult(document_id=document_id, stored_vector_count=stored)

    def call_chat(
        self,
        *,
        bot_id: UUID,
        message: str,
        history: Sequence[HistoryItem],
        system_prompt: str | None = None,
        model: str | None = None,
        temperature: float | None = None,
        user_id: str | None = None,
        top_k: int | None = None,
        min_score: float | None = None,
    ) -> ChatResult:
        payload: dict[str, Any] = {
            "bot_id": str(bot_id),
            "message": message,
            "history": [{"role": item.role, "content": item.content} for item in history],
        }
        optional = {
            "system_prompt": system_prompt,
            "model": model,
            "temperature": temperature,
            "user_id": user_id,
            "top_k": top_k,
            "min_score": min_score,
        }
        payload.update({key: value for key, value in optional.items() if value is not None})
        body = self._request("POST", "/chat", json=payload)
        try:
            sources = tuple(
                ChatSource(
                    document_id=UUID(str(source["document_id"])),
                    chunk_index=int(source["chunk_index"]),
                    score=float(source["score"]),
                    text=str(source["text"]),
                )
                for source in body["sources"]
            )
            return ChatResult(response=str(body["response"]), sources=sources, model=str(body["model"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise _protocol_error("/chat", exc) from exc

    def call_delete_document(self, *, bot_id: UUID, document_id: UUID) -> int:
        body = self._request("DELETE", f"/documents/{document_id}", params={"bot_id": str(bot_id)})
        try:
            return int(body["deleted_vector_count"])
        except (KeyError, TypeError, ValueError) as exc:
            raise _protocol_error("/documents/{id}", exc) from exc

    def call_delete_bot(self, *, bot_id: UUID) -> bool:
        body = self._request("DELETE", f"/bots/{bot_id}")
        try:
            deleted = body["deleted"]
        except (KeyError, TypeError) as exc:
            raise _protocol_error("/bots/{id}", exc) from exc
        if not isinstance(deleted, bool):
            raise AgentProtocolError("The AI service sent an invalid reply.", code="agent_protocol_error")
        return deleted

    def _request(
        self,
        method: str,
        path: str,
        *,
        json: Mapping[str, Any] | None = None,
        params: Mapping[str, str] | None = None,
        timeout: float | None = None,
    ) -> Mapping[str, Any]:
        try:
            response = self._client.request(
                method,
                path,
                json=json,
                params=params,
                timeout=httpx.USE_CLIENT_DEFAULT if timeout is None else timeout,
            )
        except httpx.TimeoutException as exc:
            logger.warning("agent %s %s timed out: %s", method, path, type(exc).__name__)
            raise AgentUnavailableError(
                "The AI service took too long to answer.", code="agent_timeout"
            ) from exc
        except httpx.TransportError as exc:
            logger.warning("agent %s %s unreachable: %s", method, path, type(exc).__name__)
            raise AgentUnavailableError("The AI service is unreachable.", code="agent_unreachable") from exc

        if response.is_success:
            try:
                body = response.json()
            except ValueError as exc:
                raise _protocol_error(path, exc) from exc
            if not isinstance(body, Mapping):
                raise _protocol_error(path, TypeError("reply is not a JSON object"))
            return body

        code, message = _parse_error(response)
        logger.warning("agent %s %s answered %s %s", method, path, response.status_code, code)
        if response.status_code >= 500:
            raise AgentUnavailableError(message, code=code, status_code=response.status_code)
        raise AgentRejectedError(message, code=code, status_code=response.status_code)


def _batches(chunks: Sequence[str]) -> list[tuple[int, Sequence[str]]]:
    """(document-wide index of the first chunk, the chunks) for each request.

    No chunks is still one request, so that the agent's own validation answers it.
    """
    if not chunks:
        return [(0, chunks)]
    return [
        (start, chunks[start : start + MAX_CHUNKS_PER_REQUEST])
        for start in range(0, len(chunks), MAX_CHUNKS_PER_REQUEST)
    ]


def _parse_error(response: httpx.Response) -> tuple[str, str]:
    """The agent's {"error": {"code", "message"}}, or a generic reading of the status."""
    fallback = ("agent_http_" + str(response.status_code), f"The AI service answered {response.status_code}.")
    try:
        error = response.json()["error"]
        return str(error["code"]), str(error["message"])
    except (ValueError, KeyError, TypeError):
        return fallback


def _protocol_error(path: str, exc: Exception) -> AgentProtocolError:
    logger.error("agent %s sent an unparseable reply: %s", path, exc)
    return AgentProtocolError("The AI service sent an invalid reply.", code="agent_protocol_error")


_WORD = re.compile(r"\w+")


class InMemoryAgent:
    """An in-process agent: stores chunks in a dict and answers with the best keyword-overlap chunks.

    Set `unavailable = True` to make every call fail like an agent that is down.
    """

    model_name = "in-memory-keyword"

    def __init__(self) -> None:
        self.vectors: dict[UUID, dict[UUID, list[str]]] = {}
        self.chat_requests: list[dict[str, Any]] = []
        self.unavailable = False
        self._lock = threading.Lock()

    def health(self) -> AgentHealth:
        self._check_available()
        return AgentHealth(
            status="ok",
            providers={"embeddings": "memory", "vector_store": "memory", "llm": self.model_name},
        )

    def call_embed_and_store(self, *, bot_id: UUID, document_id: UUID, chunks: Sequence[str]) -> EmbedResult:
        self._check_available()
        if not chunks or any(not chunk.strip() for chunk in chunks):
            raise AgentRejectedError(
                "chunks must be non-empty text", code="validation_error", status_code=422
            )
        with self._lock:
            self.vectors.setdefault(bot_id, {})[document_id] = list(chunks)
        return EmbedResult(document_id=document_id, stored_vector_count=len(chunks))

    def call_chat(
        self,
        *,
        bot_id: UUID,
        message: str,
        history: Sequence[HistoryItem],
        system_prompt: str | None = None,
        model: str | None = None,
        temperature: float | None = None,
        user_id: str | None = None,
        top_k: int | None = None,
        min_score: float | None = None,
    ) -> ChatResult:
        self._check_available()
        self.chat_requests.append(
            {
                "bot_id": bot_id,
                "message": message,
                "history": list(history),
                "system_prompt": system_prompt,
                "model": model,
                "temperature": temperature,
                "user_id": user_id,
                "top_k": top_k,
                "min_score": min_score,
            }
        )
        query = set(_WORD.findall(message.lower()))
        scored: list[ChatSource] = []
        with self._lock:
            documents = dict(self.vectors.get(bot_id, {}))
        for document_id, chunks in documents.items():
            for index, text in enumerate(chunks):
                words = set(_WORD.findall(text.lower()))
                overlap = len(query & words)
                if overlap:
                    scored.append(ChatSource(document_id, index, overlap / max(len(query), 1), text))
        scored.sort(key=lambda source: source.score, reverse=True)
        sources = tuple(scored[: top_k or 4])
        response = sources[0].text if sources else "I could not find anything about that in my documents."
        return ChatResult(response=response, sources=sources, model=model or self.model_name)

    def call_delete_document(self, *, bot_id: UUID, document_id: UUID) -> int:
        self._check_available()
        with self._lock:
            return len(self.vectors.get(bot_id, {}).pop(document_id, []))

    def call_delete_bot(self, *, bot_id: UUID) -> bool:
        self._check_available()
        with self._lock:
            return self.vectors.pop(bot_id, None) is not None

    def _check_available(self) -> None:
        if self.unavailable:
            raise AgentUnavailableError("The AI service is unreachable.", code="agent_unreachable")


_agent: AgentGateway | None = None
_agent_lock = threading.Lock()


def build_agent_from_settings() -> AgentGateway:
    if settings.AGENT_BACKEND == "memory":
        return InMemoryAgent()
    max_connections = settings.AGENT_MAX_CONNECTIONS
    return HttpAgentClient(
        base_url=settings.AGENT_SERVICE_URL,
        token=settings.AGENT_SERVICE_TOKEN,
        timeout=httpx.Timeout(settings.AGENT_TIMEOUT_SECONDS, connect=settings.AGENT_CONNECT_TIMEOUT_SECONDS),
        limits=httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections),
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
