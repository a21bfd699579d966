"""Chat orchestration: retrieve the bot's relevant chunks, then make exactly one LLM call.

Retrieval (the query's embedding, the vector store, the lexical index) is blocking work: it runs on a
thread, once per turn. The LLM call is awaited on the event loop, holding no thread while the model thinks.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass

from starlette.concurrency import run_in_threadpool

from chatsphere_agent.config import RetrievalMode
from chatsphere_agent.providers.base import AnswerDelta, AnswerRequest, HistoryTurn, RetrievedChunk
from chatsphere_agent.providers.factory import Providers
from chatsphere_agent.retrieval import Fusion, get_relevant_chunks


@dataclass(frozen=True, slots=True)
class BotQuery:
    """One chat turn as the HTTP edge received it, with the retrieval settings that apply."""

    bot_id: str
    message: str
    history: Sequence[HistoryTurn]
    system_prompt: str | None
    model: str | None
    temperature: float | None
    top_k: int
    min_score: float
    mode: RetrievalMode
    fusion: Fusion


@dataclass(frozen=True, slots=True)
class ChatResult:
    text: str
    model: str
    sources: list[RetrievedChunk]  # exactly the chunks the model was given, best first


@dataclass(frozen=True, slots=True)
class ChatStream:
    sources: list[RetrievedChunk]  # retrieved before the model is called, so they can be sent first
    deltas: AsyncIterator[AnswerDelta]  # the one LLM call; it starts when iteration does


async def bot_chat(*, providers: Providers, query: BotQuery) -> ChatResult:
    request = await run_in_threadpool(_answer_request, providers=providers, query=query)
    answer = await providers.chat_model.answer(request=request)
    return ChatResult(text=answer.text, model=answer.model, sources=list(request.context))


async def bot_chat_stream(*, providers: Providers, query: BotQuery) -> ChatStream:
    """Retrieve now (a failure here is still an ordinary error answer); the model runs when iterated."""
    request = await run_in_threadpool(_answer_request, providers=providers, query=query)
    return ChatStream(sources=list(request.context), deltas=providers.chat_model.stream(request=request))


def _answer_request(*, providers: Providers, query: BotQuery) -> AnswerRequest:
    context = get_relevant_chunks(
        embeddings=providers.embeddings,
        vector_store=providers.vector_store,
        lexical_index=providers.lexical_index,
        bot_id=query.bot_id,
        query=query.message,
        top_k=query.top_k,
        min_score=query.min_score,
        mode=query.mode,
        fusion=query.fusion,
    )
    return AnswerRequest(
        question=query.message,
        context=context,
        history=query.history,
        system_prompt=query.system_prompt,
        model=query.model,
        temperature=query.temperature,
    )
