from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.contrib.auth.models import User
from django.db import transaction

from chatsphere.models import Bot
from chatsphere.selectors import document_names
from chatsphere.services.agent_client import SearchHit, get_agent
from chatsphere.services.documents import document_files_delete, documents_deleting

# What an owner may set on a bot, in the order the API shows them.
BOT_EDITABLE_FIELDS = (
    "name",
    "description",
    "welcome_message",
    "system_prompt",
    "model",
    "temperature",
    "is_active",
    "retrieval_top_k",
    "retrieval_min_score",
)


def bot_create(*, owner: User, name: str, **fields: Any) -> Bot:
    unknown = set(fields).difference(BOT_EDITABLE_FIELDS)
    if unknown:
        raise TypeError(f"bot_create got unknown fields {sorted(unknown)}")
    bot = Bot(owner=owner, name=name, **fields)
    bot.full_clean()
    bot.save()
    return bot


def bot_update(*, bot: Bot, data: Mapping[str, Any]) -> Bot:
    unknown = set(data).difference(BOT_EDITABLE_FIELDS)
    if unknown:
        raise TypeError(f"bot_update got unknown fields {sorted(unknown)}")
    for name, value in data.items():
        setattr(bot, name, value)
    bot.full_clean()
    bot.save()
    return bot


def bot_delete(*, bot: Bot) -> None:
    """Drop the bot's vectors first: if the agent is down nothing is deleted and the user can retry.

    Its documents are flagged `deleting` first, so their running ingestions store nothing afterwards.
    """
    with documents_deleting(documents=bot.documents.all()):
        get_agent().call_delete_bot(bot_id=bot.id)
    documents = list(bot.documents.all())
    with transaction.atomic():
        bot.delete()
    document_files_delete(documents=documents)


@dataclass(frozen=True, slots=True)
class BotSearchHit:
    hit: SearchHit
    document_name: str | None  # None when the document was deleted since it was indexed


def bot_search(*, bot: Bot, query: str, top_k: int, mode: str | None) -> tuple[str, list[BotSearchHit]]:
    """Retrieval testing: the bot's chunks the agent ranks best for `query` (no LLM call); (mode, hits)."""
    result = get_agent().call_search(bot_id=bot.id, query=query, top_k=top_k, mode=mode)
    names = document_names(bot=bot, document_ids=(hit.document_id for hit in result.hits))
    return result.mode, [
        BotSearchHit(hit=hit, document_name=names.get(hit.document_id)) for hit in result.hits
    ]
