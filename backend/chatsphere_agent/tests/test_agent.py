from __future__ import annotations

import asyncio
from collections.abc import Sequence

from chatsphere_agent.agent import BotQuery, ChatStream, bot_chat, bot_chat_stream
from chatsphere_agent.providers.base import HistoryTurn, RetrievedChunk
from chatsphere_agent.providers.factory import Providers
from chatsphere_agent.retrieval import Fusion
from chatsphere_agent.tests.fakes import FixedDimensionStore, RecordingChatModel, RecordingEmbeddings

FUSION = Fusion(candidates=10, rrf_k=60, dense_weight=1.0, lexical_weight=1.0)


def _query(*, message: str, history: Sequence[HistoryTurn]) -> BotQuery:
    return BotQuery(
        bot_id="bot",
        message=message,
        history=history,
        system_prompt="be brief",
        model=None,
        temperature=None,
        top_k=4,
        min_score=0.25,
        mode="dense",
        fusion=FUSION,
    )


def test_one_llm_call_given_exactly_the_relevant_chunks_which_become_the_sources() -> None:
    relevant = RetrievedChunk(document_id="d", chunk_index=0, text="relevant", score=0.7)
    noise = RetrievedChunk(document_id="d", chunk_index=1, text="noise", score=0.05)
    llm = RecordingChatModel()
    providers = Providers(
        embeddings=RecordingEmbeddings(),
        vector_store=FixedDimensionStore(dimension=4, results=[noise, relevant]),
        chat_model=llm,
    )
    history = [HistoryTurn(role="user", content="earlier")]

    result = asyncio.run(bot_chat(providers=providers, query=_query(message="question?", history=history)))

    assert len(llm.calls) == 1
    assert llm.calls[0]["context"] == [relevant]
    assert llm.calls[0]["history"] == history
    assert result.sources == [relevant]
    assert (result.text, result.model) == (llm.reply, llm.name)


def test_the_llm_is_still_asked_once_when_nothing_is_relevant() -> None:
    llm = RecordingChatModel()
    providers = Providers(
        embeddings=RecordingEmbeddings(), vector_store=FixedDimensionStore(dimension=4), chat_model=llm
    )

    result = asyncio.run(bot_chat(providers=providers, query=_query(message="hello", history=[])))

    assert len(llm.calls) == 1
    assert llm.calls[0]["context"] == []
    assert result.sources == []


def test_a_stream_retrieves_before_the_model_and_calls_it_once_when_iterated() -> None:
    relevant = RetrievedChunk(document_id="d", chunk_index=0, text="relevant", score=0.7)
    llm = RecordingChatModel()
    providers = Providers(
        embeddings=RecordingEmbeddings(),
        vector_store=FixedDimensionStore(dimension=4, results=[relevant]),
        chat_model=llm,
    )

    async def turn() -> tuple[ChatStream, list[dict[str, object]], str]:
        stream = await bot_chat_stream(providers=providers, query=_query(message="question?", history=[]))
        calls_before_iterating = list(llm.calls)
        return stream, calls_before_iterating, "".join([delta.text async for delta in stream.deltas])

    stream, calls_before_iterating, streamed = asyncio.run(turn())

    assert stream.sources == [relevant]
    assert calls_before_iterating == []
    assert streamed == llm.reply
    assert len(llm.calls) == 1
