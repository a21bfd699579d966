"""Gemini (Google AI, REST v1beta) embeddings and chat, through LangChain's langchain-google-genai.

Both classes are built once per process by providers/factory.py. Each owns one google-genai client
(one pooled httpx.Client) configured with the agent's timeout and a bounded exponential retry for
408/429/5xx and transport errors; what is still failing after the last attempt becomes a
ProviderError: retryable (HTTP 503 from the agent) for overload and outages, not retryable (502) for
refusals and replies the agent cannot read.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import AsyncIterator, Sequence
from typing import TYPE_CHECKING, Any

import httpx
from google import genai
from google.genai import errors as genai_errors
from google.genai.types import HttpOptions, HttpRetryOptions
from langchain_core.messages import AIMessage
from langchain_google_genai import ChatGoogleGenerativeAI, GoogleGenerativeAIEmbeddings
from pydantic import SecretStr

from chatsphere_agent.prompts import build_chat_messages
from chatsphere_agent.providers.base import (
    MAX_BACKOFF_FACTOR,
    RETRYABLE_STATUS_CODES,
    AnswerDelta,
    AnswerRequest,
    ModelAnswer,
    ProviderError,
    answer_text,
    check_vectors,
)

if TYPE_CHECKING:
    from chatsphere_agent.config import AgentSettings

PROVIDER = "gemini"
DOCUMENT_TASK = "RETRIEVAL_DOCUMENT"
QUERY_TASK = "RETRIEVAL_QUERY"
# Per-request model overrides are few (the models a bot owner may pick); this only bounds a misuse.
MAX_CACHED_CHAT_MODELS = 8


def gemini_http_options(*, timeout_seconds: float, max_retries: int, backoff_seconds: float) -> HttpOptions:
    """The timeout and retry policy every Gemini request is sent with."""
    return HttpOptions(
        timeout=int(timeout_seconds * 1000),  # google-genai takes milliseconds
        retry_options=HttpRetryOptions(
            attempts=max_retries + 1,
            initial_delay=backoff_seconds,
            max_delay=backoff_seconds * MAX_BACKOFF_FACTOR,
            exp_base=2,
            jitter=backoff_seconds,
            http_status_codes=list(RETRYABLE_STATUS_CODES),
        ),
    )


def _http_options_from_settings(settings: AgentSettings) -> HttpOptions:
    return gemini_http_options(
        timeout_seconds=settings.provider_timeout_seconds,
        max_retries=settings.provider_max_retries,
        backoff_seconds=settings.provider_retry_backoff_seconds,
    )


def _require_key(settings: AgentSettings) -> str:
    if settings.google_api_key is None:
        raise ValueError("Gemini providers need GOOGLE_API_KEY")
    return settings.google_api_key.get_secret_value()


def _causes(error: BaseException) -> list[BaseException]:
    chain: list[BaseException] = []
    current: BaseException | None = error
    while current is not None and current not in chain:
        chain.append(current)
        current = current.__cause__ or current.__context__
    return chain


def to_provider_error(error: Exception, *, action: str) -> ProviderError:
    """Classify what LangChain/google-genai raised once their retries are spent."""
    for cause in _causes(error):
        if isinstance(cause, genai_errors.APIError):
            return ProviderError.from_status(
                provider=PROVIDER, action=f"Gemini {action}", status=cause.code, reason=cause.status
            )
        if isinstance(cause, httpx.TransportError):  # timeouts included
            return ProviderError.unavailable(
                provider=PROVIDER, action=f"Gemini {action}", detail=type(cause).__name__
            )
    return ProviderError.unusable(
        provider=PROVIDER,
        action=f"Gemini {action}",
        detail=f"a reply the agent could not read ({type(error).__name__})",
    )


class GeminiEmbeddings:
    """gemini-embedding-001 at a fixed output dimension; chunks and questions use their task types."""

    def __init__(
        self, *, api_key: str, model: str, dimension: int, batch_size: int, http_options: HttpOptions
    ) -> None:
        self.name = f"{PROVIDER}:{model}"
        self.dimension = dimension
        # A smaller output dimension is a truncation of the full vector: another space.
        self.space = f"{model}@{dimension}"
        self._batch_size = batch_size
        self._embeddings = GoogleGenerativeAIEmbeddings(
            model=model, google_api_key=SecretStr(api_key), output_dimensionality=dimension
        )
        # GoogleGenerativeAIEmbeddings builds its client without a timeout or retries and has no
        # option for them, so its public `client` is swapped for one with the agent's policy.
        self._embeddings.client.close()
        self._embeddings.client = genai.Client(api_key=api_key, http_options=http_options)

    @classmethod
    def from_settings(cls, settings: AgentSettings) -> GeminiEmbeddings:
        return cls(
            api_key=_require_key(settings),
            model=settings.gemini_embedding_model,
            dimension=settings.gemini_embedding_dimension,
            batch_size=settings.embedding_batch_size,
            http_options=_http_options_from_settings(settings),
        )

    def embed_documents(self, texts: Sequence[str]) -> list[list[float]]:
        if not texts:
            return []
        try:
            vectors = self._embeddings.embed_documents(
                list(texts),
                batch_size=self._batch_size,
                task_type=DOCUMENT_TASK,
                output_dimensionality=self.dimension,
            )
        except Exception as error:
            raise to_provider_error(error, action="embedding") from error
        check_vectors(vectors, expected_count=len(texts), dimension=self.dimension, provider=PROVIDER)
        return vectors

    def embed_query(self, text: str) -> list[float]:
        try:
            vector = self._embeddings.embed_query(
                text, task_type=QUERY_TASK, output_dimensionality=self.dimension
            )
        except Exception as error:
            raise to_provider_error(error, action="embedding") from error
        check_vectors([vector], expected_count=1, dimension=self.dimension, provider=PROVIDER)
        return vector


class GeminiChatModel:
    """One ChatGoogleGenerativeAI per process; one LLM call per chat turn."""

    def __init__(
        self, *, api_key: str, model: str, timeout_seconds: float, http_options: HttpOptions
    ) -> None:
        self.name = f"{PROVIDER}:{model}"
        self._default_model = model
        self._http_options = http_options
        self._llm = ChatGoogleGenerativeAI(
            model=model,
            google_api_key=SecretStr(api_key),
            timeout=timeout_seconds,
            max_retries=1,  # retries come from the per-call http_options, with the agent's backoff
        )
        # ChatGoogleGenerativeAI reads its model name from the instance, so a bot that picks another
        # model gets a shallow copy that shares this instance's google-genai client and its pool.
        self._per_model: OrderedDict[str, ChatGoogleGenerativeAI] = OrderedDict()
        self._per_model_lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: AgentSettings) -> GeminiChatModel:
        return cls(
            api_key=_require_key(settings),
            model=settings.gemini_chat_model,
            timeout_seconds=settings.provider_timeout_seconds,
            http_options=_http_options_from_settings(settings),
        )

    async def answer(self, *, request: AnswerRequest) -> ModelAnswer:
        requested_model = request.model or self._default_model
        try:
            reply = await self._llm_for(requested_model).ainvoke(
                build_chat_messages(request), **self._call_options(request)
            )
        except Exception as error:
            raise to_provider_error(error, action="chat") from error
        return self._to_answer(reply, requested_model=requested_model)

    async def stream(self, *, request: AnswerRequest) -> AsyncIterator[AnswerDelta]:
        """streamGenerateContent (alt=sse): the google-genai retry covers opening the stream only."""
        requested_model = request.model or self._default_model
        produced = False
        try:
            async for chunk in self._llm_for(requested_model).astream(
                build_chat_messages(request), **self._call_options(request)
            ):
                if chunk.text:
                    produced = True
                    answered_by = chunk.response_metadata.get("model_name") or requested_model
                    yield AnswerDelta(text=chunk.text, model=str(answered_by))
        except Exception as error:
            raise to_provider_error(error, action="chat") from error
        if not produced:
            raise ProviderError.unusable(provider=PROVIDER, action="chat", detail="no answer text streamed")

    def _call_options(self, request: AnswerRequest) -> dict[str, Any]:
        call_options: dict[str, Any] = {"http_options": self._http_options}
        if request.temperature is not None:
            call_options["temperature"] = request.temperature
        return call_options

    def _llm_for(self, model: str) -> ChatGoogleGenerativeAI:
        if model == self._default_model:
            return self._llm
        with self._per_model_lock:
            llm = self._per_model.get(model)
            if llm is None:
                llm = self._llm.model_copy(update={"model": model})
                self._per_model[model] = llm
                if len(self._per_model) > MAX_CACHED_CHAT_MODELS:
                    self._per_model.popitem(last=False)
            else:
                self._per_model.move_to_end(model)
            return llm

    @staticmethod
    def _to_answer(reply: AIMessage, *, requested_model: str) -> ModelAnswer:
        finish_reason = reply.response_metadata.get("finish_reason", "unknown")
        text = answer_text(reply.text, provider=PROVIDER, detail=f"finish reason {finish_reason}")
        answered_by = reply.response_metadata.get("model_name") or requested_model
        return ModelAnswer(text=text, model=str(answered_by))
