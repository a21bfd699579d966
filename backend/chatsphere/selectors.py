"""Read queries. Everything a user can see is scoped to its owner here, so views cannot forget it."""

from collections.abc import Iterable
from typing import NamedTuple
from uuid import UUID

from django.contrib.auth.models import User
from django.db.models import Count, QuerySet

from chatsphere.models import Bot, Chunk, Conversation, Document, Message, WebsiteSource


def bot_list(*, owner: User) -> QuerySet[Bot]:
    return Bot.objects.filter(owner=owner)


def document_list(
    *, owner: User, bot_id: UUID | None = None, source_id: UUID | None = None
) -> QuerySet[Document]:
    documents = Document.objects.filter(bot__owner=owner)
    if bot_id is not None:
        documents = documents.filter(bot_id=bot_id)
    if source_id is not None:
        documents = documents.filter(source_id=source_id)
    return documents


def website_source_list(*, owner: User, bot_id: UUID | None = None) -> QuerySet[WebsiteSource]:
    """The owner's website sources, each with `page_count`."""
    # Meta.ordering does not apply to a GROUP BY query: ordered here, or pages of the list would shift.
    sources = (
        WebsiteSource.objects.filter(bot__owner=owner)
        .annotate(page_count=Count("pages"))
        .order_by("-created_at")
    )
    if bot_id is not None:
        sources = sources.filter(bot_id=bot_id)
    return sources


def chunk_list(*, document: Document) -> QuerySet[Chunk]:
    return Chunk.objects.filter(document=document).order_by("index")


def document_names(*, bot: Bot, document_ids: Iterable[UUID]) -> dict[UUID, str]:
    """The names of those of `document_ids` that are documents of `bot`, in one query."""
    return dict(
        Document.objects.filter(bot=bot, id__in=set(document_ids)).order_by().values_list("id", "name")
    )


def conversation_list(*, owner: User, bot_id: UUID | None = None) -> QuerySet[Conversation]:
    conversations = Conversation.objects.filter(owner=owner, bot__owner=owner).select_related("bot")
    if bot_id is not None:
        conversations = conversations.filter(bot_id=bot_id)
    return conversations


def conversation_of_active_owner(*, conversation_id: UUID, owner_id: int) -> Conversation | None:
    """The conversation with its bot if user `owner_id` owns both and is active: the owner's check joined into
    the conversation's own query, for a request authenticated by its token's claims alone (api/chat.py)."""
    return (
        Conversation.objects.filter(
            pk=conversation_id, owner_id=owner_id, owner__is_active=True, bot__owner_id=owner_id
        )
        .select_related("bot")
        .first()
    )


class HistoryEntry(NamedTuple):
    role: str
    content: str
    idempotency_key: str


def message_history(*, conversation: Conversation, limit: int) -> list[HistoryEntry]:
    """The conversation's last `limit` messages, oldest first: what a chat turn sends the agent, read without
    building Message objects (whose sources a turn does not need)."""
    if limit <= 0:
        return []
    latest = (
        Message.objects.filter(conversation=conversation)
        .order_by("-created_at")
        .values_list("role", "content", "idempotency_key")[:limit]
    )
    return [HistoryEntry(*row) for row in reversed(latest)]
