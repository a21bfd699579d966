"""Chat through any OpenAI-compatible server (Ollama, vLLM, llama.cpp, LM Studio, OpenAI itself).

One ChatOpenAI object per process; a request's own model or temperature is bound onto it per call,
which reuses the same HTTP client instead of building a new one. The agent calls it asynchronously, over
aiohttp's connection pool (openai's DefaultAioHttpClient): a chat waiting on the model holds no thread.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

import openai
from langchain_core.language_models import BaseChatModel, LanguageModelInput
from langchain_core.messages import BaseMessage
from langchain_core.runnables import Runnable
from langchain_openai import ChatOpenAI
from pydantic import SecretStr

from chatsphere_agent.prompts import build_chat_messages
from chatsphere_agent.providers.base import (
    AnswerDelta,
    AnswerRequest,
    ModelAnswer,
    ProviderError,
    answer_text,
)

if TYPE_CHECKING:
    from chatsphere_agent.config import AgentSettings

# Local servers (Ollama, llama.cpp) ignore the key, but the OpenAI client insists on one being set.
_KEY_FOR_KEYLESS_SERVERS = "no-key-required"


PROVIDER = "openai"


def provider_error_from_openai(exc: openai.OpenAIError) -> ProviderError:
    if isinstance(exc, openai.APIConnectionError):  # includes timeouts
        return ProviderError.unavailable(provider=PROVIDER, action="the LLM server", detail=str(exc))
    if isinstance(exc, openai.APIStatusError):
        return ProviderError.from_status(
            provider=PROVIDER, action="the LLM call", status=exc.status_code, reason=exc.message
        )
    return ProviderError.unusable(provider=PROVIDER, action="the LLM call", detail=str(exc))


class OpenAICompatibleChatModel:
    def __init__(self, *, chat_model: BaseChatModel, default_model: str) -> None:
        self._chat_model = chat_model
        self._default_model = default_model
        self.name = f"{PROVIDER}:{default_model}"

    @classmethod
    def from_settings(cls, settings: AgentSettings) -> OpenAICompatibleChatModel:
        api_key = settings.llm_api_key or SecretStr(_KEY_FOR_KEYLESS_SERVERS)
        chat_model = ChatOpenAI(
            model_name=settings.llm_model,
            openai_api_base=settings.llm_base_url,
            openai_api_key=api_key,
            request_timeout=settings.provider_timeout_seconds,
            max_retries=settings.provider_max_retries,
            http_async_client=openai.DefaultAioHttpClient(timeout=settings.provider_timeout_seconds),
        )
        return cls(chat_model=chat_model, default_model=settings.llm_model)

    async def answer(self, *, request: AnswerRequest) -> ModelAnswer:
        messages = build_chat_messages(request)
        try:
            reply = await self._runnable(request).ainvoke(messages)
        except openai.OpenAIError as exc:
            raise provider_error_from_openai(exc) from exc
        return ModelAnswer(
            text=answer_text(reply.text, provider=PROVIDER), model=request.model or self._default_model
        )

    async def stream(self, *, request: AnswerRequest) -> AsyncIterator[AnswerDelta]:
        messages = build_chat_messages(request)
        answered_by = request.model or self._default_model
        produced = False
        try:
            async for chunk in self._runnable(request).astream(messages):
                if chunk.text:
                    produced = True
                    yield AnswerDelta(text=chunk.text, model=answered_by)
        except openai.OpenAIError as exc:
            raise provider_error_from_openai(exc) from exc
        if not produced:
            raise ProviderError.unusable(provider=PROVIDER, action="chat", detail="no answer text streamed")

    def _runnable(self, request: AnswerRequest) -> Runnable[LanguageModelInput, BaseMessage]:
        overrides: dict[str, Any] = {}
        if request.model is not None:
            overrides["model"] = request.model
        if request.temperature is not None:
            overrides["temperature"] = request.temperature
        return self._chat_model.bind(**overrides) if overrides else self._chat_model
