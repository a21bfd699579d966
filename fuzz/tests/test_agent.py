"""Property-based fuzzing of the agent API in-process (ASGI): every default check, then the stateful phase.

The app runs the embedded stack (Chroma in a temporary directory, the extractive answerer) with one swap at
the embeddings seam: MiniLM on two shared cores needs seconds for the 256-chunk bodies the coverage phase
sends, so a hashing embedder stands in here; the CLI run (fuzz/run_cli.py) fuzzes the real model. The service
token reaches every request through schemathesis' auth hook, so `ignored_auth` can strip it and expect a 401.
"""

from __future__ import annotations

import hashlib
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from pydantic import SecretStr

from chatsphere_agent.config import AgentSettings
from chatsphere_agent.main import create_app
from chatsphere_agent.providers.factory import build_providers
from chatsphere_agent.providers.sqlite_tombstones import MemoryDeletionRegistry
from fuzz.config import load_config

SERVICE_TOKEN = "fuzz-token-7c1e9b3d5a2f8e60"


class HashingEmbeddings:
    """Deterministic unit-length vectors from a text's bytes: the EmbeddingsProvider Protocol, instantly."""

    name = "hashing"
    dimension = 32
    space = "hashing"

    def embed_documents(self, texts: Sequence[str]) -> list[list[float]]:
        return [self.embed_query(text) for text in texts]

    def embed_query(self, text: str) -> list[float]:
        digest = hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=self.dimension).digest()
        vector = [byte - 127.5 for byte in digest]
        norm = sum(value * value for value in vector) ** 0.5
        return [value / norm for value in vector]


# schemathesis parametrizes at collection time, so the app exists before any fixture does.
_data_dir = tempfile.TemporaryDirectory(prefix="chatsphere-fuzz-agent-")
_settings = AgentSettings(
    _env_file=None,
    agent_service_token=SecretStr(SERVICE_TOKEN),
    agent_data_dir=Path(_data_dir.name),
    embeddings_provider="local",
    vector_store="chroma",
    llm_provider="extractive",
)
app = create_app(providers=build_providers(_settings, embeddings=HashingEmbeddings()), settings=_settings)
schema = schemathesis.openapi.from_asgi("/openapi.json", app, config=load_config())


@schema.auth()
class ServiceToken:
    def get(self, case: schemathesis.Case[Any], context: schemathesis.AuthContext) -> str:
        return SERVICE_TOKEN

    def set(self, case: schemathesis.Case[Any], data: str, context: schemathesis.AuthContext) -> None:
        case.headers["Authorization"] = f"Bearer {data}"


@pytest.fixture(scope="module", autouse=True)
def _remove_data_dir() -> Iterator[None]:
    yield
    _data_dir.cleanup()


def test_runs_on_the_embedded_store_and_answerer() -> None:
    with TestClient(app) as client:
        providers = client.get("/health").json()["providers"]
    assert providers["vector_store"] == f"chroma:{_settings.chroma_dir}"
    assert providers["llm"] == "extractive"
    assert providers["lexical_index"].startswith("sqlite-fts5:")


@schema.parametrize()
def test_every_operation_honours_the_schema(case: schemathesis.Case[Any]) -> None:
    case.call_and_validate()


class Workflow(schema.as_state_machine()):  # type: ignore[misc]  # a class schemathesis builds at run time
    def setup(self) -> None:
        # The agent remembers deleted bots and documents for good (a late write of one is a 409); hypothesis
        # replays a sequence to shrink it, and a replay must meet the same agent: a fresh registry each time.
        app.state.providers = replace(app.state.providers, deletions=MemoryDeletionRegistry())


def test_stateful_sequences_honour_the_schema() -> None:
    Workflow.run()
