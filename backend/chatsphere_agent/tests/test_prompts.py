from __future__ import annotations

from langchain_core.messages import AIMessage, HumanMessage, SystemMessage

from chatsphere_agent.prompts import NO_CONTEXT_NOTE, build_chat_messages
from chatsphere_agent.providers.base import AnswerRequest, HistoryTurn, RetrievedChunk


def test_orders_system_history_then_question() -> None:
    context = [RetrievedChunk(document_id="doc-1", chunk_index=3, text="Mirrors are 4.2 m wide.", score=0.8)]
    history = [HistoryTurn(role="user", content="Hi"), HistoryTurn(role="assistant", content="Hello!")]

    messages = build_chat_messages(
        AnswerRequest(question="How wide?", context=context, history=history, system_prompt="Be formal.")
    )

    assert [type(message) for message in messages] == [SystemMessage, HumanMessage, AIMessage, HumanMessage]
    system = messages[0].text
    assert "Be formal." in system
    assert "(document doc-1, chunk 3)\nMirrors are 4.2 m wide." in system
    assert system.index("Be formal.") < system.index("Mirrors are")
    assert [message.text for message in messages[1:]] == ["Hi", "Hello!", "How wide?"]


def test_says_so_when_there_is_no_context_and_skips_a_blank_bot_prompt() -> None:
    messages = build_chat_messages(AnswerRequest(question="Anything?", context=[], system_prompt="  "))

    assert NO_CONTEXT_NOTE in messages[0].text
    assert "owner" not in messages[0].text
    assert len(messages) == 2
