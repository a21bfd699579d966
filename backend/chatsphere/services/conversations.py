"""Conversations and chat turns.

A turn is opened (the user's message saved, in the request's database step), then answered by the agent
without any thread or database connection held, then closed (the bot's message saved). The streamed turn
is relayed by a task of its own: a client that goes away mid-answer does not stop it, so the answer is
still saved once, whole; only a server stopping mid-answer saves it cut short, marked `complete=False`.
"""

import asyncio
import contextvars
import logging
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from chatsphere.asyncdb import in_db_thread
from chatsphere.models import Bot, Conversation, Message
from chatsphere.selectors import document_names, message_history
from chatsphere.services.agent_client import (
    ChatCall,
    ChatEvent,
    ChatResult,
    ChatSource,
    HistoryItem,
    get_agent,
)
from chatsphere.services.exceptions import BotInactiveError, IdempotencyKeyReusedError

logger = logging.getLogger(__name__)

TITLE_CHARS = 80


@dataclass(frozen=True, slots=True)
class ChatTurn:
    conversation: Conversation
    user_message: Message
    call: ChatCall
    idempotency_key: str = ""
    answered: Message | None = None  # a resend of a turn already answered: its answer, not a new call


def message_json(message: Message) -> dict[str, Any]:
    """A message as clients get it (api/serializers.py's MessageSerializer, whose schema documents it), built
    directly: a chat answer carries two, and a ModelSerializer builds its fields anew for each instance."""
    return {
        "id": message.id,
        "role": message.role,
        "content": message.content,
        "sources": message.sources,
        "complete": message.complete,
        "created_at": message.created_at,
    }


def conversation_create(*, owner: User, bot: Bot, title: str = "") -> Conversation:
    conversation = Conversation(owner=owner, bot=bot, title=title.strip())
    conversation.full_clean()
    conversation.save()
    return conversation


def conversation_delete(*, conversation: Conversation) -> None:
    conversation.delete()


def conversation_turn_open(
    *, conversation: Conversation, message: str, idempotency_key: str = ""
) -> ChatTurn:
    """Save the user's message and prepare the agent call.

    The message is committed before the agent is called, so an agent outage loses nothing and sending
    again works once the agent is back. With an `idempotency_key`, sending again reuses the message stored
    by the first send with that key (and a send that was already answered gets that answer back) instead of
    storing the question once per try.
    """
    bot = conversation.bot
    if not bot.is_active:
        raise BotInactiveError(f"The bot '{bot.name}' is switched off; activate it to chat.")
    answered = None
    if idempotency_key:
        earlier = {
            stored.role: stored
            for stored in Message.objects.filter(conversation=conversation, idempotency_key=idempotency_key)
        }
        if Message.Role.USER in earlier and earlier[Message.Role.USER].content != message:
            raise IdempotencyKeyReusedError("This Idempotency-Key was already used for another message.")
        answered = earlier.get(Message.Role.BOT)
    # One more than kept: a resent message (already stored) is not history of itself.
    turns = [
        turn
        for turn in message_history(conversation=conversation, limit=settings.CHAT_HISTORY_TURNS + 1)
        if not (idempotency_key and turn.idempotency_key == idempotency_key)
    ]
    history = [
        HistoryItem(role="user" if turn.role == Message.Role.USER else "assistant", content=turn.content)
        for turn in turns[max(0, len(turns) - settings.CHAT_HISTORY_TURNS) :]
    ]
    with transaction.atomic():
        if idempotency_key:
            user_message, _ = Message.objects.get_or_create(
                conversation=conversation,
                role=Message.Role.USER,
                idempotency_key=idempotency_key,
                defaults={"content": message},
            )
        else:
            user_message = Message.objects.create(
                conversation=conversation, role=Message.Role.USER, content=message
            )
        if not conversation.title:
            conversation.title = message.strip()[:TITLE_CHARS]
        conversation.save(update_fields=["title", "updated_at"])
    call = ChatCall(
        bot_id=bot.id,
        message=message,
        history=history,
        system_prompt=bot.system_prompt or None,
        model=bot.model or None,
        temperature=bot.temperature,
        # A widget visitor has no user id: the agent only uses it to label its logs.
        user_id=str(conversation.owner_id) if conversation.owner_id is not None else None,
        top_k=bot.retrieval_top_k,
        min_score=bot.retrieval_min_score,
    )
    return ChatTurn(
        conversation=conversation,
        user_message=user_message,
        call=call,
        idempotency_key=idempotency_key,
        answered=answered,
    )


async def conversation_reply(*, turn: ChatTurn) -> Message:
    """Ask the agent for the whole answer and save it; AgentError propagates (the user's message stays)."""
    if turn.answered is not None:
        return turn.answered
    result = await get_agent().acall_chat(call=turn.call)
    return await in_db_thread(_turn_answer)(turn=turn, result=result)


async def conversation_reply_stream(*, turn: ChatTurn) -> AsyncIterator[ChatEvent]:
    """Open the agent's stream (AgentError propagates while nothing was sent) and relay it: the saved user
    message first, then the agent's events with each source named and `done` holding the saved answer."""
    if turn.answered is not None:
        return _replay(turn=turn, answer=turn.answered)
    events = await get_agent().open_chat_stream(call=turn.call)
    queue: asyncio.Queue[ChatEvent | None] = asyncio.Queue()
    queue.put_nowait(ChatEvent("user_message", message_json(turn.user_message)))
    # A context of its own: the relay must outlive a client that leaves, so it carries none of the
    # request's context (asgiref's per-request state, which ends with the request).
    relay = asyncio.create_task(_relay(turn=turn, events=events, queue=queue), context=contextvars.Context())
    _RELAYS.add(relay)
    relay.add_done_callback(_RELAYS.discard)
    return _drain(queue)


# The relays in flight: the event loop keeps only weak references to tasks.
_RELAYS: set[asyncio.Task[None]] = set()


async def _replay(*, turn: ChatTurn, answer: Message) -> AsyncIterator[ChatEvent]:
    """A resend of an answered turn: the stored answer, as the events its first send streamed."""
    yield ChatEvent("user_message", message_json(turn.user_message))
    yield ChatEvent("sources", {"sources": answer.sources})
    yield ChatEvent("token", {"text": answer.content})
    yield ChatEvent("done", {"bot_message": message_json(answer)})


async def _drain(queue: "asyncio.Queue[ChatEvent | None]") -> AsyncIterator[ChatEvent]:
    while (event := await queue.get()) is not None:
        yield event


async def _relay(
    *, turn: ChatTurn, events: AsyncIterator[ChatEvent], queue: "asyncio.Queue[ChatEvent | None]"
) -> None:
    sources: list[dict[str, Any]] = []
    parts: list[str] = []
    try:
        async for event in events:
            if event.name == "sources":
                sources = await in_db_thread(_sources_json)(
                    conversation=turn.conversation, sources=event.sources()
                )
                event = ChatEvent("sources", {"sources": sources})
            elif event.name == "token":
                parts.append(event.data["text"])
            elif event.name == "done":
                saved = await in_db_thread(_turn_close)(
                    turn=turn, content=event.data["response"], sources=sources
                )
                event = ChatEvent("done", {"bot_message": message_json(saved)})
            queue.put_nowait(event)  # tokens, errors and heartbeats as the agent sent them
    except asyncio.CancelledError:
        # The server is stopping: keep what arrived, marked, rather than lose it.
        if parts:
            logger.warning(
                "chat stream of conversation %s cut short; saving it partial", turn.conversation.pk
            )
            await asyncio.shield(
                in_db_thread(_turn_close)(turn=turn, content="".join(parts), sources=sources, complete=False)
            )
        raise
    finally:
        queue.put_nowait(None)


def _sources_json(*, conversation: Conversation, sources: Iterable[ChatSource]) -> list[dict[str, Any]]:
    """Each source with its document's name, so a client shows citations without another request."""
    sources = list(sources)
    names = document_names(bot=conversation.bot, document_ids=(source.document_id for source in sources))
    return [_source_json(source, names.get(source.document_id)) for source in sources]


def _turn_answer(*, turn: ChatTurn, result: ChatResult) -> Message:
    """Close a turn answered in one piece: its sources named and the answer saved, in one database step."""
    sources = _sources_json(conversation=turn.conversation, sources=result.sources)
    return _turn_close(turn=turn, content=result.response, sources=sources)


def _turn_close(
    *, turn: ChatTurn, content: str, sources: list[dict[str, Any]], complete: bool = True
) -> Message:
    with transaction.atomic():
        bot_message = Message.objects.create(
            conversation=turn.conversation,
            role=Message.Role.BOT,
            idempotency_key=turn.idempotency_key,
            content=content,
            sources=sources,
            complete=complete,
        )
        Conversation.objects.filter(pk=turn.conversation.pk).update(updated_at=timezone.now())
    return bot_message


def _source_json(source: ChatSource, document_name: str | None) -> dict[str, Any]:
    return {**source.as_json(), "document_name": document_name}
