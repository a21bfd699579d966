"""Chat orchestration: retrieve the bot's relevant chunks, then make exactly one LLM call."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from chatsphere_agent.config import RetrievalMode
from chatsphere_agent.providers.base import HistoryTurn, RetrievedChunk
from chatsphere_agent.providers.factory import Providers
from chatsphere_agent.retrieval import Fusion, get_relevant_chunks


@dataclass(frozen=True, slots=True)
class ChatResult:
    text: str
    model: str
    sources: list[RetrievedChunk]  # exactly the chunks the model was given, best first


def bot_chat(
    *,
    providers: Providers,
    bot_id: str,
    message: str,
    history: Sequence[HistoryTurn],
    system_prompt: str | None,
    model: str | None,
    temperature: float | None,
    top_k: int,
    min_score: float,
    mode: RetrievalMode,
    fusion: Fusion,
) -> ChatResult:
    context = get_relevant_chunks(
        embeddings=providers.embeddings,
        vector_store=providers.vector_store,
        lexical_index=providers.lexical_index,
        bot_id=bot_id,
        query=message,
        top_k=top_k,
        min_score=min_score,
        mode=mode,
        fusion=fusion,
    )
    answer = providers.chat_model.answer(
        question=message,
        context=context,
        history=history,
        system_prompt=system_prompt,
        model=model,
        temperature=temperature,
    )
    return ChatResult(text=answer.text, model=answer.model, sources=context)
