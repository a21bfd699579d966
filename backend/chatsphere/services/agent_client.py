"""Django's only way to reach the AI agent (chatsphere_agent) — over HTTP, never by import.

`AgentGateway` is the seam: `HttpAgentClient` talks to the real service through one pooled
`httpx.Client` per process for the synchronous callers (Celery tasks, DRF views) and one pooled
`httpx.AsyncClient` per event loop for the async chat view, which must not hold a thread while the LLM
answers; `InMemoryAgent` answers in-process (keyword overlap) for tests and for a Django-only run
(AGENT_BACKEND=memory). `get_agent()` hands out the process-wide instance and `set_agent()` swaps it —
tests use that, never patching httpx.

Every failure becomes a typed `AgentError`:
  AgentUnavailableError  the agent cannot answer now (connect error, timeout, 5xx): retry later
  AgentRejectedError     the agent refused our request (4xx): a bug or misconfiguration on our side
  AgentProtocolError     the agent answered something we cannot parse
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import threading
import time
import weakref
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import Any, Literal, Protocol, runtime_checkable
from uuid import UUID

import aiohttp
import httpx
from django.conf import settings
from httpx_aiohttp import AiohttpTransport

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


# The events of the agent's /chat/stream, in the order it sends them: sources, token*, done | error.
@dataclass(frozen=True, slots=True)
class SourcesEvent:
    sources: tuple[ChatSource, ...]


@dataclass(frozen=True, slots=True)
class TokenEvent:
    text: str


@dataclass(frozen=True, slots=True)
class DoneEvent:
    response: str
    model: str


@dataclass(frozen=True, slots=True)
class ErrorEvent:
    code: str
    message: str
    retryable: bool


@dataclass(frozen=True, slots=True)
class HeartbeatEvent:
    """The agent is still working; relayed so proxies between the client and Django keep the stream."""


ChatEvent = SourcesEvent | TokenEvent | DoneEvent | ErrorEvent | HeartbeatEvent


@dataclass(frozen=True, slots=True)
class AgentHealth:
    status: str
    providers: dict[str, str] = field(default_factory=dict)


# What a client is told of the agent's failures, the same in a JSON error (api/errors.py) and in a stream's
# error event: the agent cannot answer now (retry later), or it failed to handle the request.
PUBLIC_UNAVAILABLE = "agent_unavailable"
PUBLIC_FAILED = "agent_error"


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

    def call_delete_document(self, *, bot_id: UUID, document_id: UUID) -> int: ...

    def call_delete_bot(self, *, bot_id: UUID) -> bool: ...

    async def acall_chat(self, *, call: ChatCall) -> ChatResult:
        """The whole answer of one chat turn, awaited: no thread is held while the agent works."""
        ...

    async def open_chat_stream(self, *, call: ChatCall) -> AsyncIterator[ChatEvent]:
        """Start /chat/stream; raises AgentError while nothing was streamed yet, else the events follow.

        A failure after the stream began (the agent dies, the model fails) is the last event, ErrorEvent.
        """
        ...


# The agent takes at most this many chunks per /embed_and_store (chatsphere_agent/schemas.py); a longer
# document goes as several requests.
MAX_CHUNKS_PER_REQUEST = 256
# The longest chat message or search query the agent takes (chatsphere_agent/schemas.py MAX_MESSAGE_CHARS);
# Django refuses longer ones itself. The pact sends one this long, so the two cannot drift apart.
MAX_CHAT_MESSAGE_CHARS = 8000
DEFAULT_TIMEOUT = httpx.Timeout(30.0, connect=3.0)
DEFAULT_TOTAL_TIMEOUT_SECONDS = 45.0
DEFAULT_STREAM_TIMEOUT_SECONDS = 300.0
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
        total_timeout: float = DEFAULT_TOTAL_TIMEOUT_SECONDS,
        stream_timeout: float = DEFAULT_STREAM_TIMEOUT_SECONDS,
        transport: httpx.BaseTransport | None = None,
        async_transport: httpx.AsyncBaseTransport | None = None,
        limits: httpx.Limits = DEFAULT_LIMITS,
        batch_chunks: int = MAX_CHUNKS_PER_REQUEST,
    ) -> None:
        """`timeout` bounds connecting and each wait for bytes (the first byte of a hung agent);
        `total_timeout` bounds a whole call, so an agent trickling its answer cannot hold a worker;
        `stream_timeout` a whole streamed answer, whose heartbeats reset the per-read deadline;
        `batch_chunks` (at most MAX_CHUNKS_PER_REQUEST) is how many chunks each /embed_and_store carries."""
        self.base_url = base_url.rstrip("/")
        self._batch_chunks = batch_chunks
        self._total_timeout = total_timeout
        self._stream_timeout = stream_timeout
        self._client_options: dict[str, Any] = {
            "base_url": self.base_url,
            "headers": {"Authorization": f"Bearer {token}", "Accept": "application/json"},
            "timeout": timeout,
            "limits": limits,
        }
        self._client = httpx.Client(transport=transport, **self._client_options)
        self._async_transport = async_transport
        # An AsyncClient's pool belongs to the event loop it first ran on: one per loop (uvicorn runs one).
        self._async_clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, httpx.AsyncClient] = (
            weakref.WeakKeyDictionary()
        )

    def __repr__(self) -> str:  # never show the token
        return f"HttpAgentClient(base_url={self.base_url!r})"

    def close(self) -> None:
        self._client.close()

    async def aclose(self) -> None:
        """Close this event loop's async client (its aiohttp session), as a test's loop ends."""
        client = self._async_clients.pop(asyncio.get_running_loop(), None)
        if client is not None:
            await client.aclose()

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

    def call_embed_and_store(
        self,
        *,
        bot_id: UUID,
        document_id: UUID,
        chunks: Sequence[str],
        document_name: str | None = None,
        keep_going: Callable[[], bool] | None = None,
    ) -> EmbedResult:
        """Store a document's chunks as consecutive batches of at most MAX_CHUNKS_PER_REQUEST.

        Each request names the document-wide index of its first chunk; the last one says it is the
        last, so the agent then drops what a longer earlier version of the document left behind.
        Returns the vectors stored over all requests. A failing batch raises: the caller retries
        the whole document, and the batches already sent are simply stored again. The document's name,
        when given, is embedded and indexed in front of each chunk (contextual chunk headers). `keep_going`
        is asked before every batch after the first; False stops sending (the document is being deleted).
        """
        stored = 0
        for first_chunk_index, batch in _batches(chunks, self._batch_chunks):
            if first_chunk_index and keep_going is not None and not keep_going():
                break
            payload: dict[str, Any] = {
                "bot_id": str(bot_id),
                "document_id": str(document_id),
                "chunks": list(batch),
                "first_chunk_index": first_chunk_index,
                "last_batch": first_chunk_index + len(batch) >= len(chunks),
            }
            if document_name:
                payload["document_name"] = document_name
            body = self._request("POST", "/embed_and_store", json=payload)
            try:
                if UUID(str(body["document_id"])) != document_id:
                    raise ValueError("the reply names another document")
                stored += int(body["stored_vector_count"])
            except (KeyError, TypeError, ValueError) as exc:
                raise _protocol_error("/embed_and_store", exc) from exc
        return EmbedResult(document_id=document_id, stored_vector_count=stored)

    async def acall_chat(self, *, call: ChatCall) -> ChatResult:
        client = self._async_client()
        try:
            async with asyncio.timeout(self._total_timeout):
                response = await client.post("/chat", json=_chat_payload(call))
        except TimeoutError as exc:
            logger.warning("agent POST /chat passed its total deadline")
            raise AgentUnavailableError(
                "The AI service took too long to answer.", code="agent_timeout"
            ) from exc
        except httpx.TransportError as exc:
            raise _transport_failure("POST", "/chat", exc) from exc
        return _chat_result(_success_body(response, "POST", "/chat"))

    async def open_chat_stream(self, *, call: ChatCall) -> AsyncIterator[ChatEvent]:
        client = self._async_client()
        request = client.build_request(
            "POST", "/chat/stream", json=_chat_payload(call), headers={"Accept": "text/event-stream"}
        )
        try:
            response = await client.send(request, stream=True)
        except httpx.TransportError as exc:
            raise _transport_failure("POST", "/chat/stream", exc) from exc
        if not response.is_success:
            await response.aread()
            await response.aclose()
            _success_body(response, "POST", "/chat/stream")  # raises the AgentError of this status
        return _stream_events(response, deadline=asyncio.get_running_loop().time() + self._stream_timeout)

    def _async_client(self) -> httpx.AsyncClient:
        loop = asyncio.get_running_loop()
        client = self._async_clients.get(loop)
        if client is None:
            transport = self._async_transport or AgentAiohttpTransport(limits=self._client_options["limits"])
            client = httpx.AsyncClient(transport=transport, **self._client_options)
            self._async_clients[loop] = client
        return client

    def call_search(
        self, *, bot_id: UUID, query: str, top_k: int | None = None, mode: str | None = None
    ) -> SearchResult:
        payload: dict[str, Any] = {"bot_id": str(bot_id), "query": query}
        payload.update(
            {key: value for key, value in {"top_k": top_k, "mode": mode}.items() if value is not None}
        )
        body = self._request("POST", "/search", json=payload)
        try:
            hits = tuple(
                SearchHit(
                    document_id=UUID(str(hit["document_id"])),
                    chunk_index=int(hit["chunk_index"]),
                    text=str(hit["text"]),
                    score=float(hit["score"]),
                    dense_score=_optional_float(hit["dense_score"]),
                    lexical_score=_optional_float(hit["lexical_score"]),
                )
                for hit in body["results"]
            )
            return SearchResult(mode=str(body["mode"]), hits=hits)
        except (KeyError, TypeError, ValueError) as exc:
            raise _protocol_error("/search", exc) from exc

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
        deadline = time.monotonic() + (self._total_timeout if timeout is None else timeout)
        try:
            with self._client.stream(
                method,
                path,
                json=json,
                params=params,
                timeout=httpx.USE_CLIENT_DEFAULT if timeout is None else timeout,
            ) as streamed:
                content = bytearray()
                for part in streamed.iter_bytes():
                    content += part
                    if time.monotonic() > deadline:
                        raise httpx.ReadTimeout("the whole answer took too long", request=streamed.request)
            response = httpx.Response(streamed.status_code, content=bytes(content))
        except httpx.TransportError as exc:  # includes timeouts
            raise _transport_failure(method, path, exc) from exc
        return _success_body(response, method, path)


class AgentAiohttpTransport(AiohttpTransport):
    """httpx's API over aiohttp's connection pool: with 100 chats in flight, httpx's own async pool added half
    a second to each (docs/benchmarks.md). A connection that fails without a timeout (refused, or dropped by
    a dying agent) is an httpx.ConnectError here, not the ConnectTimeout that httpx-aiohttp makes of it, so
    it reads as "unreachable" rather than "took too long"."""

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        try:
            return await super().handle_async_request(request)
        except httpx.ConnectTimeout as exc:
            cause = exc.__cause__
            if isinstance(cause, aiohttp.ClientConnectionError) and not isinstance(cause, TimeoutError):
                raise httpx.ConnectError(str(cause), request=request) from cause
            raise


def _transport_failure(method: str, path: str, exc: httpx.TransportError) -> AgentUnavailableError:
    if isinstance(exc, httpx.TimeoutException):
        logger.warning("agent %s %s timed out: %s", method, path, type(exc).__name__)
        return AgentUnavailableError("The AI service took too long to answer.", code="agent_timeout")
    logger.warning("agent %s %s unreachable: %s", method, path, type(exc).__name__)
    return AgentUnavailableError("The AI service is unreachable.", code="agent_unreachable")


def _success_body(response: httpx.Response, method: str, path: str) -> Mapping[str, Any]:
    """The JSON object of a 2xx answer; any other status raises its AgentError."""
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


def _chat_payload(call: ChatCall) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "bot_id": str(call.bot_id),
        "message": call.message,
        "history": [{"role": item.role, "content": item.content} for item in call.history],
    }
    optional = {
        "system_prompt": call.system_prompt,
        "model": call.model,
        "temperature": call.temperature,
        "user_id": call.user_id,
        "top_k": call.top_k,
        "min_score": call.min_score,
    }
    payload.update({key: value for key, value in optional.items() if value is not None})
    return payload


def _chat_source(source: Mapping[str, Any]) -> ChatSource:
    return ChatSource(
        document_id=UUID(str(source["document_id"])),
        chunk_index=int(source["chunk_index"]),
        score=float(source["score"]),
        text=str(source["text"]),
    )


def _chat_result(body: Mapping[str, Any]) -> ChatResult:
    try:
        sources = tuple(_chat_source(source) for source in body["sources"])
        return ChatResult(response=str(body["response"]), sources=sources, model=str(body["model"]))
    except (KeyError, TypeError, ValueError) as exc:
        raise _protocol_error("/chat", exc) from exc


async def _stream_events(response: httpx.Response, *, deadline: float) -> AsyncIterator[ChatEvent]:
    """The agent's server-sent events as ChatEvents; always ends with DoneEvent or ErrorEvent, by `deadline`
    (the event loop's clock) at the latest."""
    finished = False
    lines = response.aiter_lines()
    try:
        name, data = "", ""
        while True:
            try:
                async with asyncio.timeout_at(deadline):  # around the read only: never across a yield
                    line = await anext(lines)
            except StopAsyncIteration:
                break
            except TimeoutError:
                logger.warning("agent /chat/stream passed its total deadline")
                finished = True
                yield ErrorEvent(
                    code=PUBLIC_UNAVAILABLE, message="The AI service took too long to answer.", retryable=True
                )
                return
            if line.startswith(":"):
                yield HeartbeatEvent()
            elif line.startswith("event:"):
                name = line[len("event:") :].strip()
            elif line.startswith("data:"):
                data += line[len("data:") :].strip()
            elif not line and name:
                event = _chat_event(name, data)
                finished = isinstance(event, DoneEvent | ErrorEvent)
                yield event
                if finished:
                    return
                name, data = "", ""
    except httpx.TransportError as exc:
        logger.warning("agent /chat/stream broke off: %s", type(exc).__name__)
        finished = True
        yield ErrorEvent(
            code=PUBLIC_UNAVAILABLE, message="The AI service stopped answering mid-way.", retryable=True
        )
    finally:
        await response.aclose()
    if not finished:
        yield ErrorEvent(code=PUBLIC_FAILED, message="The AI service ended its answer early.", retryable=True)


def _chat_event(name: str, data: str) -> ChatEvent:
    try:
        body = json.loads(data)
        if name == "sources":
            return SourcesEvent(sources=tuple(_chat_source(source) for source in body["sources"]))
        if name == "token":
            return TokenEvent(text=str(body["text"]))
        if name == "done":
            return DoneEvent(response=str(body["response"]), model=str(body["model"]))
        if name == "error":
            error = body["error"]
            return ErrorEvent(
                code=str(error["code"]), message=str(error["message"]), retryable=bool(error["retryable"])
            )
    except (ValueError, KeyError, TypeError) as exc:
        _protocol_error("/chat/stream", exc)  # logs it; mid-stream it can only become an event
    else:
        logger.error("agent /chat/stream sent an unknown event %r", name)
    return ErrorEvent(code=PUBLIC_FAILED, message="The AI service sent an invalid reply.", retryable=False)


def _batches(chunks: Sequence[str], size: int) -> list[tuple[int, Sequence[str]]]:
    """(document-wide index of the first chunk, the chunks) for each request of at most `size` chunks.

    No chunks is still one request, so that the agent's own validation answers it.
    """
    if not chunks:
        return [(0, chunks)]
    return [(start, chunks[start : start + size]) for start in range(0, len(chunks), size)]


def _optional_float(value: Any) -> float | None:
    return None if value is None else float(value)


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
        yield SourcesEvent(sources=result.sources)
        for index, token in enumerate(re.findall(r"\S+\s*", result.response)):
            if self.fail_stream_after_tokens is not None and index >= self.fail_stream_after_tokens:
                yield ErrorEvent(code="provider_unavailable", message="The model went away.", retryable=True)
                return
            await asyncio.sleep(self.stream_token_delay_s)
            yield TokenEvent(text=token)
        yield DoneEvent(response=result.response, model=result.model)

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
        timeout=httpx.Timeout(
            settings.AGENT_FIRST_BYTE_TIMEOUT_SECONDS, connect=settings.AGENT_CONNECT_TIMEOUT_SECONDS
        ),
        total_timeout=settings.AGENT_TIMEOUT_SECONDS,
        stream_timeout=settings.AGENT_STREAM_TIMEOUT_SECONDS,
        limits=httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections),
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
