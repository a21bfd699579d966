"""The real agent app with the embedded providers (local MiniLM, Chroma in a tmp dir, extractive LLM)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from pydantic import SecretStr

from chatsphere_agent.config import AgentSettings
from chatsphere_agent.providers.factory import Providers, build_providers
from contracts.pactfile import SERVICE_TOKEN
from testsupport.stack import HARNESS_MODEL_CACHE_DIR

# The bundled model is on disk; the hub is unreachable and Chroma must not phone home.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")


@pytest.fixture(scope="session")
def agent_settings(tmp_path_factory: pytest.TempPathFactory) -> AgentSettings:
    data_dir: Path = tmp_path_factory.mktemp("agent-data")
    return AgentSettings(
        _env_file=None,
        agent_service_token=SecretStr(SERVICE_TOKEN),
        agent_data_dir=data_dir,
        local_model_cache_dir=HARNESS_MODEL_CACHE_DIR,
        embeddings_provider="local",
        vector_store="chroma",
        llm_provider="extractive",
    )


@pytest.fixture(scope="session")
def agent_providers(agent_settings: AgentSettings) -> Providers:
    """Built once: loading the embedding model is the slow part of starting the agent."""
    return build_providers(agent_settings)
