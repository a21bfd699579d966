"""`manage.py index_check [--repair]`: do the agent's indexes hold exactly the READY documents' chunks (and
nothing of ERROR documents)?

Exit status 0 when they do (or, with --repair, once the repair was queued), 1 when the check found problems
it did not repair, 2 when the agent could not be asked. services/index_consistency.py has the logic.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from chatsphere.services.agent_client import AgentError, get_agent
from chatsphere.services.index_consistency import IndexReport, index_check, index_repair


class Command(BaseCommand):
    help = (
        "Compare every READY document's chunks with the agent's vector store and lexical index; "
        "find ERROR documents that still hold chunks there."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--repair",
            action="store_true",
            help="Remove orphaned chunks at the agent, purge stray ones of ERROR documents; re-ingest "
            "missing and partial documents.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            report = index_check(agent=get_agent())
            self.stdout.write(_summary(report))
            if report.consistent:
                return
            if not options["repair"]:
                raise SystemExit(1)
            repair = index_repair(report=report)
        except AgentError as exc:
            self.stderr.write(f"index_check: {exc.message}")
            raise SystemExit(2) from exc
        self.stdout.write(
            f"repaired: {repair.removed_bots} orphan bots and {repair.removed_documents} orphan documents "
            f"removed, {len(repair.purged)} stray documents purged, {len(repair.reingested)} documents "
            "queued for ingestion"
        )


def _summary(report: IndexReport) -> str:
    lines = [
        f"checked {report.checked_documents} READY documents: {len(report.orphan_bots)} orphan bots, "
        f"{len(report.orphan_documents)} orphan documents, {len(report.missing)} missing, "
        f"{len(report.partial)} partial, {len(report.stray)} stray"
    ]
    lines += [f"orphan bot {bot_id}" for bot_id in report.orphan_bots]
    lines += [
        f"orphan document {orphan.document_id} of bot {orphan.bot_id}" for orphan in report.orphan_documents
    ]
    lines += [f"missing document {document_id}" for document_id in report.missing]
    lines += [f"partial document {document_id}" for document_id in report.partial]
    lines += [f"stray chunks of ERROR document {document_id}" for document_id in report.stray]
    return "\n".join(lines)
