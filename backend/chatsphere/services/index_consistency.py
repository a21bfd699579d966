"""Do the agent's indexes hold exactly what Django says? `manage.py index_check [--repair]`.

Every READY document must be whole in the vector store and in the lexical index (chunk_count chunks, the
last at chunk_count - 1); an ERROR document must be in neither (its failed ingestion purges what landed,
unless the agent was down or a late batch landed after the purge); nothing may be held of a document or a bot
Django no longer has. The check reads the agent first and Django second, which makes it safe while users
upload, chat, retry and delete:
- a document's chunks reach the agent only after its row is committed, so chunks found at the agent whose
  document is not in Django afterwards belong to a deleted document (an orphan), never to a new one;
- a document is judged only if it was READY or ERROR before the agent was read (its last batch had landed,
  or its ingestion was over), and not while it is PROCESSING (a retry) or being deleted.
A repair removes orphans (the agent then refuses any late write of them), purges stray chunks of ERROR
documents (they stay retryable) and re-ingests missing and partial documents (they are PROCESSING until their
chunks are whole again, then READY).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from uuid import UUID

from django.utils import timezone

from chatsphere.models import Bot, Document
from chatsphere.services.agent_client import AgentGateway, BotIndex, get_agent
from chatsphere.services.documents import document_purge_failed, document_reingest


@dataclass(frozen=True, slots=True)
class OrphanDocument:
    bot_id: UUID
    document_id: UUID


@dataclass(frozen=True, slots=True)
class IndexReport:
    checked_documents: int = 0
    orphan_bots: list[UUID] = field(default_factory=list)  # bots Django no longer has
    orphan_documents: list[OrphanDocument] = field(default_factory=list)  # documents it no longer has
    missing: list[UUID] = field(default_factory=list)  # READY, but absent from an index
    partial: list[UUID] = field(default_factory=list)  # READY, but not whole in an index
    stray: list[UUID] = field(default_factory=list)  # ERROR, but still holding chunks in an index

    @property
    def consistent(self) -> bool:
        return not (self.orphan_bots or self.orphan_documents or self.missing or self.partial or self.stray)


def index_check(*, agent: AgentGateway, now: datetime | None = None) -> IndexReport:
    """Compare every READY and ERROR document with both indexes, and list what the indexes hold that Django
    has not."""
    started = now or timezone.now()
    indexed = {bot_id: agent.call_bot_index(bot_id=bot_id) for bot_id in agent.call_indexed_bots()}
    known_bots = set(Bot.objects.filter(pk__in=indexed).values_list("pk", flat=True))
    held = {
        (bot_id, document_id)
        for bot_id, bot_index in indexed.items()
        if bot_id in known_bots
        for document_id in _held_documents(bot_index)
    }
    held_documents = {document_id for _, document_id in held}
    known_documents = set(Document.objects.filter(pk__in=held_documents).values_list("pk", flat=True))
    stray = Document.objects.filter(
        pk__in=held_documents, status=Document.Status.ERROR, deleting=False, updated_at__lt=started
    ).values_list("pk", flat=True)
    ready = Document.objects.filter(
        status=Document.Status.READY, deleting=False, updated_at__lt=started
    ).values_list("pk", "bot_id", "chunk_count")
    missing: list[UUID] = []
    partial: list[UUID] = []
    checked = 0
    for document_id, bot_id, chunk_count in ready:
        checked += 1
        bot_index = indexed.get(bot_id, _NOTHING)
        found = [bot_index.vectors.get(document_id)]
        if bot_index.lexical is not None:
            found.append(bot_index.lexical.get(document_id))
        if any(entry is None for entry in found):
            missing.append(document_id)
        elif any(entry is not None and not entry.holds_whole(chunk_count) for entry in found):
            partial.append(document_id)
    return IndexReport(
        checked_documents=checked,
        orphan_bots=sorted(set(indexed) - known_bots - _bots_with_nothing(indexed)),
        orphan_documents=sorted(
            (
                OrphanDocument(bot_id=bot_id, document_id=document_id)
                for bot_id, document_id in held
                if document_id not in known_documents
            ),
            key=lambda orphan: (orphan.bot_id, orphan.document_id),
        ),
        missing=sorted(missing),
        partial=sorted(partial),
        stray=sorted(stray),
    )


# A bot the agent holds nothing of: each of its READY documents is missing.
_NOTHING = BotIndex(vectors={}, lexical=None)


def _held_documents(bot_index: BotIndex) -> set[UUID]:
    return set(bot_index.vectors) | set(bot_index.lexical or {})


def _bots_with_nothing(indexed: dict[UUID, BotIndex]) -> set[UUID]:
    return {bot_id for bot_id, bot_index in indexed.items() if not _held_documents(bot_index)}


@dataclass(frozen=True, slots=True)
class IndexRepair:
    removed_bots: int
    removed_documents: int
    purged: list[UUID]  # stray documents still ERROR when the repair purged them
    reingested: list[UUID]  # those still READY when the repair claimed them


def index_repair(*, report: IndexReport) -> IndexRepair:
    """Remove the report's orphans from the agent, purge its stray documents and re-ingest its missing and
    partial documents."""
    agent = get_agent()
    for bot_id in report.orphan_bots:
        agent.call_delete_bot(bot_id=bot_id)
    for orphan in report.orphan_documents:
        agent.call_delete_document(bot_id=orphan.bot_id, document_id=orphan.document_id)
    purged = [
        document_id
        for document_id in report.stray
        if document_purge_failed(agent=agent, document_id=document_id)
    ]
    reingested = [
        document.id
        for document in Document.objects.filter(pk__in=[*report.missing, *report.partial])
        if document_reingest(document=document)
    ]
    return IndexRepair(
        removed_bots=len(report.orphan_bots),
        removed_documents=len(report.orphan_documents),
        purged=purged,
        reingested=reingested,
    )
