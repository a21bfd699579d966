"""Cassette tests: the real Gemini and Pinecone providers, replayed from cassettes/ with the network off."""

from __future__ import annotations

import ipaddress
import os
import socket
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

import pytest
from vcr.cassette import Cassette

from chatsphere_agent.config import AgentSettings
from chatsphere_agent.tests.cassettes.scenario import SERVICE_TOKEN
from chatsphere_agent.tests.cassettes.vcr_config import CASSETTE_PINECONE_INDEX, build_vcr, record_mode

FAKE_GOOGLE_API_KEY = "fake-google-key"
FAKE_PINECONE_API_KEY = "fake-pinecone-key"


def _is_loopback(address: Any) -> bool:
    if not isinstance(address, tuple):
        return True  # AF_UNIX paths
    try:
        return ipaddress.ip_address(address[0]).is_loopback
    except ValueError:
        return bool(address[0] == "localhost")


@pytest.fixture(autouse=True)
def _network_blocked(monkeypatch: pytest.MonkeyPatch) -> None:
    """A replay that misses its cassette must fail here, never reach Google or Pinecone."""
    if record_mode() != "none":
        return
    real_connect = socket.socket.connect

    def guarded_connect(self: socket.socket, address: Any) -> None:
        if not _is_loopback(address):
            raise OSError(f"network access blocked in cassette tests: {address!r}")
        real_connect(self, address)

    monkeypatch.setattr(socket.socket, "connect", guarded_connect)


def _key(env_name: str, fake: str) -> str:
    # Recording needs the real keys; a replay must never see them.
    return os.environ[env_name] if record_mode() != "none" else fake


@pytest.fixture
def make_settings() -> Callable[..., AgentSettings]:
    def make(**overrides: Any) -> AgentSettings:
        values: dict[str, Any] = {
            "agent_service_token": SERVICE_TOKEN,
            "google_api_key": _key("GOOGLE_API_KEY", FAKE_GOOGLE_API_KEY),
            "pinecone_api_key": _key("PINECONE_API_KEY", FAKE_PINECONE_API_KEY),
            "pinecone_index": CASSETTE_PINECONE_INDEX,
            "provider_max_retries": 2,
            "provider_retry_backoff_seconds": 0.01,
            "provider_timeout_seconds": 5.0,
            "pinecone_upsert_batch_size": 2,
            "embeddings_provider": "gemini",
            "vector_store": "pinecone",
            "llm_provider": "gemini",
        }
        values.update(overrides)
        return AgentSettings(_env_file=None, **values)

    return make


@pytest.fixture
def settings(make_settings: Callable[..., AgentSettings]) -> AgentSettings:
    return make_settings()


@pytest.fixture
def use_cassette() -> Callable[[str], AbstractContextManager[Cassette]]:
    cassettes = build_vcr()

    def use(path: str) -> AbstractContextManager[Cassette]:
        context: AbstractContextManager[Cassette] = cassettes.use_cassette(path)
        return context

    return use
