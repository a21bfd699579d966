"""index_check / index_repair over the in-process agent, whose chunks a test can lose or leave behind."""

from collections.abc import Callable
from datetime import timedelta
from uuid import uuid4

import pytest
from django.core.management import call_command
from django.utils import timezone

from chatsphere.models import Document
from chatsphere.services.agent_client import InMemoryAgent
from chatsphere.services.documents import document_retry
from chatsphere.services.index_consistency import OrphanDocument, index_check, index_repair
from chatsphere.tests.factories import BotFactory, DocumentFactory

pytestmark = pytest.mark.django_db

CHUNKS = ["Penguins live in the south.", "They eat krill.", "Emperors are the tallest."]


def _indexed(agent: InMemoryAgent, document: Document, chunks: list[str] = CHUNKS) -> Document:
    agent.vectors.setdefault(document.bot_id, {})[document.id] = list(chunks)
    Document.objects.filter(pk=document.pk).update(chunk_count=len(CHUNKS))
    document.refresh_from_db()
    return document


def _ready(agent: InMemoryAgent, **fields: object) -> Document:
    document = DocumentFactory.create(**fields)
    Document.objects.filter(pk=document.pk).update(updated_at=timezone.now() - timedelta(minutes=1))
    return _indexed(agent, document)


def test_ready_documents_whole_in_the_index_are_consistent(agent: InMemoryAgent) -> None:
    _ready(agent)
    _ready(agent)

    report = index_check(agent=agent)

    assert report.consistent
    assert report.checked_documents == 2


def test_chunks_of_deleted_documents_and_bots_are_orphans_and_a_repair_removes_them(
    agent: InMemoryAgent,
) -> None:
    kept = _ready(agent)
    deleted_document, deleted_bot = uuid4(), uuid4()
    agent.vectors[kept.bot_id][deleted_document] = ["left behind"]
    agent.vectors[deleted_bot] = {uuid4(): ["left behind"]}

    report = index_check(agent=agent)
    repair = index_repair(report=report)

    assert report.orphan_bots == [deleted_bot]
    assert report.orphan_documents == [OrphanDocument(bot_id=kept.bot_id, document_id=deleted_document)]
    assert (repair.removed_bots, repair.removed_documents) == (1, 1)
    assert index_check(agent=agent).consistent
    assert agent.vectors == {kept.bot_id: {kept.id: CHUNKS}}


@pytest.mark.parametrize(
    ("lose", "finding"),
    [
        (lambda held: held.clear(), "missing"),
        (lambda held: held.pop(), "partial"),
    ],
)
def test_a_ready_document_the_index_lost_is_found_and_ingested_again(
    agent: InMemoryAgent,
    lose: Callable[[list[str]], object],
    finding: str,
    django_capture_on_commit_callbacks,
) -> None:
    document = _ready(agent, text="\n\n".join(CHUNKS))
    held = agent.vectors[document.bot_id][document.id]
    lose(held)
    if not held:
        del agent.vectors[document.bot_id]

    report = index_check(agent=agent)
    with django_capture_on_commit_callbacks(execute=True):
        repair = index_repair(report=report)

    assert getattr(report, finding) == [document.id]
    assert repair.reingested == [document.id]
    document.refresh_from_db()
    assert document.status == Document.Status.READY
    assert agent.vectors[document.bot_id][document.id]
    Document.objects.filter(pk=document.pk).update(updated_at=timezone.now() - timedelta(minutes=1))
    assert index_check(agent=agent).consistent


def _failed(agent: InMemoryAgent, **fields: object) -> Document:
    """An ERROR document (since before the check) whose chunks its failed ingestion could not purge."""
    document = DocumentFactory.create(status=Document.Status.ERROR, **fields)
    Document.objects.filter(pk=document.pk).update(updated_at=timezone.now() - timedelta(minutes=1))
    agent.vectors.setdefault(document.bot_id, {})[document.id] = CHUNKS[:1]
    return document


def test_an_error_document_still_holding_chunks_is_stray_and_a_repair_purges_them(
    agent: InMemoryAgent,
) -> None:
    kept = _ready(agent)
    failed = _failed(agent, bot=kept.bot)

    report = index_check(agent=agent)
    repair = index_repair(report=report)

    assert (report.stray, report.consistent) == ([failed.id], False)
    assert repair.purged == [failed.id]
    assert agent.vectors == {kept.bot_id: {kept.id: CHUNKS}}
    failed.refresh_from_db()
    assert failed.status == Document.Status.ERROR  # still the owner's to retry
    assert index_check(agent=agent).consistent


def test_a_stray_document_retried_before_the_repair_keeps_its_chunks(
    agent: InMemoryAgent, django_capture_on_commit_callbacks
) -> None:
    failed = _failed(agent, text="\n\n".join(CHUNKS))

    report = index_check(agent=agent)
    with django_capture_on_commit_callbacks(execute=True):
        document_retry(document=failed)  # the ingestion runs eagerly: its chunks are stored again
    repair = index_repair(report=report)

    assert report.stray == [failed.id]
    assert repair.purged == []
    failed.refresh_from_db()
    assert failed.status == Document.Status.READY
    assert agent.vectors[failed.bot_id][failed.id]


def test_error_documents_without_chunks_or_failing_after_the_check_began_are_not_stray(
    agent: InMemoryAgent,
) -> None:
    DocumentFactory.create(status=Document.Status.ERROR)
    failing_now = DocumentFactory.create(status=Document.Status.ERROR)
    agent.vectors[failing_now.bot_id] = {failing_now.id: CHUNKS[:1]}  # its own purge is on its way
    deleting = _failed(agent)
    Document.objects.filter(pk=deleting.pk).update(deleting=True)

    report = index_check(agent=agent, now=timezone.now() - timedelta(seconds=5))

    assert report.stray == []
    assert report.consistent


def test_documents_in_flight_are_not_judged(agent: InMemoryAgent) -> None:
    DocumentFactory.create(status=Document.Status.PROCESSING, chunk_count=3)
    DocumentFactory.create(status=Document.Status.READY, chunk_count=3, deleting=True)
    DocumentFactory.create(status=Document.Status.READY, chunk_count=3)  # READY after the check began

    report = index_check(agent=agent, now=timezone.now() - timedelta(seconds=5))

    assert report.consistent
    assert report.checked_documents == 0


def test_the_command_reports_and_fails_until_repaired(
    agent: InMemoryAgent, capsys: pytest.CaptureFixture[str]
) -> None:
    bot = BotFactory.create()
    agent.vectors[bot.id] = {uuid4(): ["left behind"]}
    stray = _failed(agent, bot=bot)

    with pytest.raises(SystemExit) as failed:
        call_command("index_check")
    call_command("index_check", "--repair")
    call_command("index_check")

    assert failed.value.code == 1
    out = capsys.readouterr().out
    assert "1 orphan documents, 0 missing, 0 partial, 1 stray" in out
    assert f"stray chunks of ERROR document {stray.id}" in out
    assert "repaired: 0 orphan bots and 1 orphan documents removed, 1 stray documents purged" in out
    assert out.rstrip().endswith("0 orphan documents, 0 missing, 0 partial, 0 stray")
