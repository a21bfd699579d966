"""Chat through any OpenAI-compatible server (Ollama, vLLM, llama.cpp, LM Studio, OpenAI itself).

The agent speaks the Chat Completions wire format itself (`POST {base}/chat/completions`, JSON or, with
`stream: true`, server-sent `data:` lines ending with `[DONE]`) over one pooled client per event loop:
httpx's API on aiohttp's connection pool, as Django's agent client. LangChain's ChatOpenAI over openai's SDK
cost ~9 ms of CPU per streamed 20-token answer, most of it building pydantic objects for every chunk, and
the SDK alone ~5.7 ms, against ~2 ms here (`make bench-llm-clients`, docs/benchmarks.md): with 100 chats in
flight the agent's CPU fell by about two fifths. The prompt is the one every chat model gets
(prompts.build_chat_messages).

Retries are the SDK's: a refused or dropped connection, a timeout or a status in RETRYABLE_STATUS_CODES is
tried again, PROVIDER_MAX_RETRIES times with exponential backoff; a stream only until its first byte.
"""

from __future__ import annotations

import asyncio
import random
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

import httpx
import orjson
from httpx_aiohttp import AiohttpTransport
from langchain_core.messages import convert_to_openai_messages

from chatsphere_agent.prompts import build_chat_messages
from chatsphere_agent.providers.base import (
    MAX_BACKOFF_FACTOR,
    AnswerDelta,
    AnswerRequest,
    ModelAnswer,
    ProviderError,
    answer_text,
)

if TYPE_CHECKING:
    from chatsphere_agent.config import AgentSettings

PROVIDER = "openai"
# Local servers (Ollama, llama.cpp) ignore the key, but OpenAI-compatible servers expect the header.
_KEY_FOR_KEYLESS_SERVERS = "no-key-required"
_DATA = "data:"
_DONE = "[DONE]"

T = TypeVar("T")


class OpenAICompatibleChatModel:
    def __init__(
        self,
        *,
        base_url: str,
        api_key: str,
        default_model: str,
        timeout_seconds: float,
        max_retries: int,
        backoff_seconds: float,
        transport: Callable[[], httpx.AsyncBaseTransport] = AiohttpTransport,
    ) -> None:
        """`transport` makes the HTTP transport of each event loop's client (tests hand in a mock)."""
        self._base_url = base_url.rstrip("/")
        self._headers = {"Authorization": f"Bearer {api_key}"}
        self._default_model = default_model
        self._timeout = httpx.Timeout(timeout_seconds)
        self._max_retries = max_retries
        self._backoff_seconds = backoff_seconds
        self._transport = transport
        self._clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, httpx.AsyncClient] = (
            weakref.WeakKeyDictionary()
        )
        self.name = f"{PROVIDER}:{default_model}"

    @classmethod
    def from_settings(cls, settings: AgentSettings) -> OpenAICompatibleChatModel:
        if settings.llm_base_url is None:
            raise ValueError("LLM_PROVIDER=openai needs LLM_BASE_URL")
        key = settings.llm_api_key
        return cls(
            base_url=settings.llm_base_url,
            api_key=key.get_secret_value() if key else _KEY_FOR_KEYLESS_SERVERS,
            default_model=settings.llm_model,
            timeout_seconds=settings.provider_timeout_seconds,
            max_retries=settings.provider_max_retries,
            backoff_seconds=settings.provider_retry_backoff_seconds,
        )

    async def answer(self, *, request: AnswerRequest) -> ModelAnswer:
        response = await self._send(request, stream=False)
        try:
            body = orjson.loads(response.content)
            text = body["choices"][0]["message"]["content"] or ""
        except (ValueError, KeyError, IndexError, TypeError) as exc:
            raise _unusable(f"the reply is not a chat completion ({type(exc).__name__})") from exc
        return ModelAnswer(text=answer_text(text, provider=PROVIDER), model=self._model(request))

    async def stream(self, *, request: AnswerRequest) -> AsyncIterator[AnswerDelta]:
        response = await self._send(request, stream=True)
        answered_by = self._model(request)
        produced = done = False
        try:
            async for line in response.aiter_lines():
                # After [DONE], read on to the body's end: a response read whole returns its connection to
                # the pool, one closed halfway is dropped (as openai's SDK, which reads the rest too).
                if done or not line.startswith(_DATA):
                    continue  # also blank separators, `:` comments, `event:` names
                data = line[len(_DATA) :].strip()
                if data == _DONE:
                    done = True
                    continue
                text = _delta_text(data)
                if text:
                    produced = True
                    yield AnswerDelta(text=text, model=answered_by)
        except httpx.TransportError as exc:
            if not done:
                raise _unavailable(exc) from exc
        finally:
            await response.aclose()
        if not produced:
            raise _unusable("no answer text streamed")

    def _model(self, request: AnswerRequest) -> str:
        return request.model or self._default_model

    async def _send(self, request: AnswerRequest, *, stream: bool) -> httpx.Response:
        """The server's successful reply to the request's completion call (its body still unread when
        `stream`), after the retries; ProviderError otherwise."""
        payload: dict[str, Any] = {
            "model": self._model(request),
            "messages": convert_to_openai_messages(build_chat_messages(request)),
            "stream": stream,
        }
        if request.temperature is not None:
            payload["temperature"] = request.temperature
        client = self._client()
        content = orjson.dumps(payload)

        async def attempt() -> httpx.Response:
            http_request = client.build_request(
                "POST", "/chat/completions", content=content, headers={"Content-Type": "application/json"}
            )
            try:
                response = await client.send(http_request, stream=True)
            except httpx.TransportError as exc:
                raise _unavailable(exc) from exc
            if response.is_success:
                if not stream:
                    await _read_or_unavailable(response)
                return response
            await _read_or_unavailable(response)
            raise ProviderError.from_status(
                provider=PROVIDER,
                action="the LLM call",
                status=response.status_code,
                reason=_error_message(response.content),
            )

        return await self._retrying(attempt)

    async def _retrying(self, attempt: Callable[[], Awaitable[T]]) -> T:
        for retry in range(self._max_retries + 1):
            try:
                return await attempt()
            except ProviderError as exc:
                if not exc.retryable or retry == self._max_retries:
                    raise
            delay = min(self._backoff_seconds * 2**retry, self._backoff_seconds * MAX_BACKOFF_FACTOR)
            await asyncio.sleep(delay + random.uniform(0, self._backoff_seconds))  # noqa: S311 - jitter
        raise AssertionError("unreachable: the last attempt returns or raises")

    def _client(self) -> httpx.AsyncClient:
        """This event loop's client: aiohttp's pool belongs to the loop that opened it."""
        loop = asyncio.get_running_loop()
        client = self._clients.get(loop)
        if client is None:
            client = httpx.AsyncClient(
                base_url=self._base_url,
                headers=self._headers,
                timeout=self._timeout,
                transport=self._transport(),
            )
            self._clients[loop] = client
        return client


async def _read_or_unavailable(response: httpx.Response) -> None:
    try:
        await response.aread()
    except httpx.TransportError as exc:
        raise _unavailable(exc) from exc
    finally:
        await response.aclose()


def _delta_text(data: str) -> str:
    """The answer text of one streamed chunk ("" for a chunk without any, e.g. the role or finish reason)."""
    try:
        chunk = orjson.loads(data)
        if "error" in chunk:  # some servers report a failure mid-stream as a data line
            raise _unusable(f"the server reported an error mid-answer: {_error_message(data)}")
        choices = chunk["choices"]
        return str(choices[0]["delta"].get("content") or "") if choices else ""
    except (ValueError, KeyError, IndexError, TypeError, AttributeError) as exc:
        raise _unusable(f"a streamed chunk is not a chat completion chunk ({type(exc).__name__})") from exc


def _error_message(body: bytes | str) -> str | None:
    """The `error.message` of an OpenAI-style error body, if it has one."""
    try:
        error = orjson.loads(body).get("error")
        message = error.get("message") if isinstance(error, dict) else error
    except (ValueError, AttributeError):
        return None
    return str(message)[:200] if message else None


def _unavailable(exc: httpx.TransportError) -> ProviderError:
    detail = "timed out" if isinstance(exc, httpx.TimeoutException) else type(exc).__name__
    return ProviderError.unavailable(provider=PROVIDER, action="the LLM server", detail=detail)


def _unusable(detail: str) -> ProviderError:
    return ProviderError.unusable(provider=PROVIDER, action="the LLM call", detail=detail)
