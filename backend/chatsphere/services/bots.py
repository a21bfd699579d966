from collections.abc import Mapping
from typing import Any

from django.contrib.auth.models import User
from django.db import transaction

from chatsphere.models import Bot
from chatsphere.services.agent_client import get_agent
from chatsphere.services.documents import document_files_delete

BOT_EDITABLE_FIELDS = frozenset(
    {
        "name",
        "description",
        "welcome_message",
        "system_prompt",
        "model",
        "temperature",
        "is_active",
        "retrieval_top_k",
        "retrieval_min_score",
    }
)


def bot_create(*, owner: User, name: str, **fields: Any) -> Bot:
    unknown = set(fields) - BOT_EDITABLE_FIELDS
    if unknown:
        raise TypeError(f"bot_create got unknown fields {sorted(unknown)}")
    bot = Bot(owner=owner, name=name, **fields)
    bot.full_clean()
    bot.save()
    return bot


def bot_update(*, bot: Bot, data: Mapping[str, Any]) -> Bot:
    unknown = set(data) - BOT_EDITABLE_FIELDS
    if unknown:
        raise TypeError(f"bot_update got unknown fields {sorted(unknown)}")
    for name, value in data.items():
        setattr(bot, name, value)
    bot.full_clean()
    bot.save()
    return bot


def bot_delete(*, bot: Bot) -> None:
    """Drop the bot's vectors first: if the agent is down nothing is deleted and the user can retry."""
    get_agent().call_delete_bot(bot_id=bot.id)
    documents = list(bot.documents.all())
    with transaction.atomic():
        bot.delete()
    document_files_delete(documents=documents)
