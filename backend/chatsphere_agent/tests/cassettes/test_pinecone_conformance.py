"""PineconeStore passes the vector-store conformance suite, replayed from cassettes/pinecone/conformance/.

Each test replays its own hand-written cassette (one per test, named after it) against an 8-d cosine index,
`chatsphere-conformance`, so the vectors stay readable; every interaction of a cassette must be played.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager

import pytest
from vcr.cassette import Cassette

from chatsphere_agent.config import AgentSettings
from chatsphere_agent.providers.base import VectorStoreProvider
from chatsphere_agent.providers.pinecone_store import PineconeStore
from chatsphere_agent.tests.providers.vector_store_conformance import VectorStoreConformance

CONFORMANCE_INDEX = "chatsphere-conformance"


class TestPineconeConformance(VectorStoreConformance):
    @pytest.fixture
    def store(
        self,
        make_settings: Callable[..., AgentSettings],
        use_cassette: Callable[[str], AbstractContextManager[Cassette]],
        request: pytest.FixtureRequest,
    ) -> Iterator[VectorStoreProvider]:
        store = PineconeStore.from_settings(make_settings(pinecone_index=CONFORMANCE_INDEX))
        with use_cassette(f"pinecone/conformance/{request.node.originalname}.yaml") as cassette:
            yield store
        assert cassette.all_played, "the store sent fewer requests than the cassette holds"
