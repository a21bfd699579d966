from dataclasses import asdict
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from chatsphere.models import Bot, Conversation, Message
from chatsphere.selectors import document_names, message_history
from chatsphere.services.agent_client import ChatSource, HistoryItem, get_agent
from chatsphere.services.exceptions import BotInactiveError

TITLE_CHARS = 80


def conversation_create(*, owner: User, bot: Bot, title: str = "") -> Conversation:
    conversation = Conversation(owner=owner, bot=bot, title=title.strip())
    conversation.full_clean()
    conversation.save()
    return conversation


def conversation_delete(*, conversation: Conversation) -> None:
    conversation.delete()


def conversation_reply(*, conversation: Conversation, message: str) -> tuple[Message, Message]:
    """Save the user's message, ask the agent, save its answer; returns (user_message, bot_message).

    The user's message is committed before the agent is called, so an agent outage (AgentError
    propagates) loses nothing and sending again works once the agent is back.
    """
    bot = conversation.bot
    if not bot.is_active:
        raise BotInactiveError(f"The bot '{bot.name}' is switched off; activate it to chat.")
    history = [
        HistoryItem(role="user" if turn.role == Message.Role.USER else "assistant", content=turn.content)
        for turn in message_history(conversation=conversation, limit=settings.CHAT_HISTORY_TURNS)
    ]
    with transaction.atomic():
        user_message = Message.objects.create(
            conversation=conversation, role=Message.Role.USER, content=message
        )
        if not conversation.title:
            conversation.title = message.strip()[:TITLE_CHARS]
        conversation.save(update_fields=["title", "updated_at"])

    result = get_agent().call_chat(
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
    # Each source carries its document's name, so a client shows citations without another request.
    names = document_names(bot=bot, document_ids=(source.document_id for source in result.sources))
    bot_message = Message.objects.create(
        conversation=conversation,
        role=Message.Role.BOT,
        content=result.response,
        sources=[_source_json(source, names.get(source.document_id)) for source in result.sources],
    )
    Conversation.objects.filter(pk=conversation.pk).update(updated_at=timezone.now())
    return user_message, bot_message


def _source_json(source: ChatSource, document_name: str | None) -> dict[str, Any]:
    data = asdict(source)
    data["document_id"] = str(source.document_id)
    data["document_name"] = document_name
    return data
