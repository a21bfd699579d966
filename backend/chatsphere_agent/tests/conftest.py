from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from chatsphere_agent.config import (
    AgentSettings,
)
from chatsphere_agent.main import create_app
from chatsphere_agent.providers.chroma_store import ChromaStore
from chatsphere_agent.providers.extractive import ExtractiveAnswerer
from chatsphere_agent.providers.factory import Providers
from chatsphere_agent.providers.local_embeddings import LocalEmbeddings, bundled_model_dir
from chatsphere_agent.providers.sqlite_lexical import SqliteLexicalIndex
from testsupport.stack import HARNESS_MODEL_CACHE_DIR

SERVICE_TOKEN = "test-token-4f9a2c7e1b8d3a6f"

SettingsFactory = Callable[..., AgentSettings]


@pytest.fixture
def agent_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """No agent variable leaks in from the developer's shell; tests set what they need."""
    for name in AgentSettings.model_fields:
        monkeypatch.delenv(name.upper(), raising=False)
    return monkeypatch


@pytest.fixture
def make_settings(agent_env: pytest.MonkeyPatch, tmp_path: Path) -> SettingsFactory:
    """Settings from explicit values only (no .env file), with a per-test data directory."""

    def build(**overrides: Any) -> AgentSettings:
        values: dict[str, Any] = {"agent_service_token": SERVICE_TOKEN, "agent_data_dir": tmp_path / "agent"}
        values.update(overrides)
        return AgentSettings(_env_file=None, **values)

    return build


@pytest.fixture(scope="session")
def models_dir() -> Path:
    """Where the ONNX backends' files are exported: once, shared with every other run of the harness."""
    return HARNESS_MODEL_CACHE_DIR


@pytest.fixture(scope="session")
def local_embeddings(models_dir: Path) -> LocalEmbeddings:
    """The real all-MiniLM-L6-v2 on the default backend, loaded once for the whole run."""
    return LocalEmbeddings(
        model_dir=bundled_model_dir(),
        slice_size=32,
        short_slice_size=32,
        quiet_slices=1,
        max_query_batch=32,
        cache_dir=models_dir,
    )


@pytest.fixture
def settings(make_settings: SettingsFactory) -> AgentSettings:
    return make_settings()


@pytest.fixture
def embedded_providers(local_embeddings: LocalEmbeddings, settings: AgentSettings) -> Providers:
    return Providers(
        embeddings=local_embeddings,
        vector_store=ChromaStore.from_settings(settings),
        chat_model=ExtractiveAnswerer(),
        lexical_index=SqliteLexicalIndex.from_settings(settings),
    )


@pytest.fixture
def client(embedded_providers: Providers, settings: AgentSettings) -> Iterator[TestClient]:
    """The app over HTTP on the embedded stack, authenticated with the service token."""
    app = create_app(providers=embedded_providers, settings=settings)
    with TestClient(app, headers={"Authorization": f"Bearer {SERVICE_TOKEN}"}) as test_client:
        yield test_client


def client_for(providers: Providers, settings: AgentSettings) -> TestClient:
    return TestClient(
        create_app(providers=providers, settings=settings),
        headers={"Authorization": f"Bearer {SERVICE_TOKEN}"},
    )
