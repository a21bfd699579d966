"""The real agent over HTTP: one pooled `httpx.Client` per process for the synchronous callers (Celery tasks,
DRF views) and one pooled async client per event loop for the async chat views, which must not hold a
thread while the LLM answers (httpx's API over aiohttp's pool, `AgentAiohttpTransport`)."""

from __future__ import annotations

import asyncio
import json
import logging
import time
import weakref
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from typing import Any
from uuid import UUID

import aiohttp
import httpx
from httpx_aiohttp import AiohttpTransport

from chatsphere.services.agent_client.errors import (
    PUBLIC_FAILED,
    PUBLIC_UNAVAILABLE,
    AgentProtocolError,
    AgentRejectedError,
    AgentUnavailableError,
)
from chatsphere.services.agent_client.types import (
    HEARTBEAT,
    MAX_CHUNKS_PER_REQUEST,
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

logger = logging.getLogger(__name__)

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
        """Store a document's chunks as consecutive batches of at most `batch_chunks`.

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

    def call_indexed_bots(self) -> list[UUID]:
        body = self._request("GET", "/index/bots")
        try:
            return [UUID(str(bot_id)) for bot_id in body["bot_ids"]]
        except (KeyError, TypeError, ValueError) as exc:
            raise _protocol_error("/index/bots", exc) from exc

    def call_bot_index(self, *, bot_id: UUID) -> BotIndex:
        body = self._request("GET", f"/bots/{bot_id}/index")
        try:
            lexical = body["lexical"]
            return BotIndex(
                vectors=_indexed_documents(body["vectors"]),
                lexical=None if lexical is None else _indexed_documents(lexical),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise _protocol_error("/bots/{id}/index", exc) from exc

    def call_delete_document(self, *, bot_id: UUID, document_id: UUID) -> int:
        return self._drop_document(f"/documents/{document_id}", "/documents/{id}", bot_id=bot_id)

    def call_purge_document(self, *, bot_id: UUID, document_id: UUID) -> int:
        return self._drop_document(
            f"/documents/{document_id}/chunks", "/documents/{id}/chunks", bot_id=bot_id
        )

    def _drop_document(self, path: str, route: str, *, bot_id: UUID) -> int:
        """A DELETE of a document's chunks at `path` (the agent's `route`); how many vectors it dropped."""
        body = self._request("DELETE", path, params={"bot_id": str(bot_id)})
        try:
            return int(body["deleted_vector_count"])
        except (KeyError, TypeError, ValueError) as exc:
            raise _protocol_error(route, exc) from exc

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
    it reads as "unreachable" rather than "took too long"; an answer that is not HTTP at all, which
    httpx-aiohttp lets through as aiohttp's own error, is an httpx.RemoteProtocolError."""

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        try:
            return await super().handle_async_request(request)
        except httpx.ConnectTimeout as exc:
            cause = exc.__cause__
            if isinstance(cause, aiohttp.ClientConnectionError) and not isinstance(cause, TimeoutError):
                raise httpx.ConnectError(str(cause), request=request) from cause
            raise
        except aiohttp.ClientError as exc:
            raise httpx.RemoteProtocolError(str(exc), request=request) from exc


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


def _indexed_documents(entries: list[dict[str, Any]]) -> dict[UUID, IndexedDocument]:
    return {
        UUID(str(entry["document_id"])): IndexedDocument(
            chunk_count=int(entry["chunk_count"]), last_chunk_index=int(entry["last_chunk_index"])
        )
        for entry in entries
    }


def _chat_result(body: Mapping[str, Any]) -> ChatResult:
    try:
        sources = tuple(ChatSource.from_json(source) for source in body["sources"])
        return ChatResult(response=str(body["response"]), sources=sources, model=str(body["model"]))
    except (KeyError, TypeError, ValueError) as exc:
        raise _protocol_error("/chat", exc) from exc


async def _stream_events(response: httpx.Response, *, deadline: float) -> AsyncIterator[ChatEvent]:
    """The agent's server-sent events, checked; always ends with `done` or `error`, by `deadline` (the event
    loop's clock) at the latest."""
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
                yield ChatEvent.failure(
                    code=PUBLIC_UNAVAILABLE, message="The AI service took too long to answer.", retryable=True
                )
                return
            if line.startswith(":"):
                yield HEARTBEAT
            elif line.startswith("event:"):
                name = line[len("event:") :].strip()
            elif line.startswith("data:"):
                data += line[len("data:") :].strip()
            elif not line and name:
                event = _chat_event(name, data)
                finished = event.final
                yield event
                if finished:
                    await _read_to_the_end(lines, deadline=deadline)
                    return
                name, data = "", ""
    except httpx.TransportError as exc:
        logger.warning("agent /chat/stream broke off: %s", type(exc).__name__)
        finished = True
        yield ChatEvent.failure(
            code=PUBLIC_UNAVAILABLE, message="The AI service stopped answering mid-way.", retryable=True
        )
    finally:
        await response.aclose()
    if not finished:
        yield ChatEvent.failure(
            code=PUBLIC_FAILED, message="The AI service ended its answer early.", retryable=True
        )


async def _read_to_the_end(lines: AsyncIterator[str], *, deadline: float) -> None:
    """Read what follows the last event (the body's closing chunk): a connection whose response was read to
    its end goes back to the pool, one closed halfway is dropped, and every chat opened a new one."""
    try:
        async with asyncio.timeout_at(deadline):
            async for _ in lines:
                pass
    except (TimeoutError, httpx.TransportError):
        pass  # the answer is complete; the connection is closed instead of reused


# What each event of the agent's stream must hold, checked before it is handed on.
_EVENT_FIELDS: dict[str, Callable[[Mapping[str, Any]], object]] = {
    "sources": lambda body: ChatEvent("sources", body).sources(),
    "token": lambda body: _require(body["text"], str),
    "done": lambda body: (_require(body["response"], str), _require(body["model"], str)),
    "error": lambda body: (
        _require(body["error"]["code"], str),
        _require(body["error"]["message"], str),
        _require(body["error"]["retryable"], bool),
    ),
}


def _require(value: object, kind: type) -> object:
    if not isinstance(value, kind):
        raise TypeError(f"expected {kind.__name__}, got {type(value).__name__}")
    return value


def _chat_event(name: str, data: str) -> ChatEvent:
    check = _EVENT_FIELDS.get(name)
    if check is None:
        logger.error("agent /chat/stream sent an unknown event %r", name)
    else:
        try:
            body = json.loads(data)
            if not isinstance(body, dict):
                raise TypeError("an event's data is not a JSON object")
            check(body)
            return ChatEvent(name, body)  # type: ignore[arg-type]  # a name _EVENT_FIELDS knows
        except (ValueError, KeyError, TypeError) as exc:
            _protocol_error("/chat/stream", exc)  # logs it; mid-stream it can only become an event
    return ChatEvent.failure(
        code=PUBLIC_FAILED, message="The AI service sent an invalid reply.", retryable=False
    )


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
