"""The index inventory Django's consistency check (services/index_consistency.py) asks the agent for."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from uuid import UUID

from pact import Pact, match

from chatsphere.services.agent_client import BotIndex, HttpAgentClient, IndexedDocument
from contracts.consumer.test_agent_client import (
    BOT_WITH_DOCUMENTS,
    DOCUMENT,
    REFUND_POLICY,
    _bearer,
    _stored_document,
)
from contracts.pactfile import SERVICE_TOKEN

STORED_CHUNKS = (REFUND_POLICY, "Shipping is free for orders over 50 euros.")


@contextmanager
def _index(pact: Pact) -> Iterator[HttpAgentClient]:
    with pact.serve() as server:
        client = HttpAgentClient(base_url=str(server.url), token=SERVICE_TOKEN, timeout=5.0)
        try:
            yield client
        finally:
            client.close()


def test_the_agent_lists_the_bots_its_indexes_hold(pact: Pact) -> None:
    (
        pact.upon_receiving("a request for the bots the indexes hold")
        .given("bot {bot_id} has documents", _stored_document(BOT_WITH_DOCUMENTS, REFUND_POLICY))
        .with_request("GET", "/index/bots")
        .with_header("Authorization", _bearer())
        .will_respond_with(200)
        .with_body(
            {"bot_ids": match.each_like(match.uuid(str(BOT_WITH_DOCUMENTS)))}, content_type="application/json"
        )
    )

    with _index(pact) as index:
        bots = index.call_indexed_bots()

    assert bots == [BOT_WITH_DOCUMENTS]


def test_the_agent_counts_what_each_index_holds_of_a_bots_documents(pact: Pact) -> None:
    held = {
        "document_id": match.uuid(str(DOCUMENT)),
        "chunk_count": match.int(2),
        "last_chunk_index": match.int(1),
    }
    (
        pact.upon_receiving("a request for what the indexes hold of a bot")
        .given(
            "document {document_id} of bot {bot_id} is stored",
            _stored_document(BOT_WITH_DOCUMENTS, *STORED_CHUNKS),
        )
        .with_request("GET", _bot_index_path(BOT_WITH_DOCUMENTS))
        .with_header("Authorization", _bearer())
        .will_respond_with(200)
        .with_body(
            {
                "bot_id": match.uuid(str(BOT_WITH_DOCUMENTS)),
                "vectors": match.each_like(held),
                "lexical": match.each_like(held),
            },
            content_type="application/json",
        )
    )

    with _index(pact) as index:
        found = index.call_bot_index(bot_id=BOT_WITH_DOCUMENTS)

    whole = {DOCUMENT: IndexedDocument(chunk_count=2, last_chunk_index=1)}
    assert found == BotIndex(vectors=whole, lexical=whole)


def _bot_index_path(bot_id: UUID) -> Any:
    return match.regex(f"/bots/{bot_id}/index", regex=r"^/bots/[0-9a-fA-F-]{36}/index$")
