"""Where the pact lives, the values both sides share, and how two pact files are compared."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

CONSUMER = "chatsphere-backend"
PROVIDER = "chatsphere-agent"

PACTS_DIR = Path(__file__).resolve().parent / "pacts"
PACT_FILE_NAME = f"{CONSUMER}-{PROVIDER}.json"
COMMITTED_PACT = PACTS_DIR / PACT_FILE_NAME

# The consumer records this token as the example value of its Authorization header, and the verifier
# replays example values, so the provider under verification is started with the same token.
SERVICE_TOKEN = "pact-contract-agent-token-5bd81e2c"  # noqa: S105 - test-only, public in the pact
WRONG_SERVICE_TOKEN = "pact-contract-wrong-token-0a9f3c77"  # noqa: S105 - test-only

# Metadata that changes with the Pact library's version, not with what the consumer sends.
_VOLATILE_METADATA_KEYS = ("pactRust", "pactPython")


def normalized(pact: dict[str, Any]) -> dict[str, Any]:
    """The pact without library-version metadata, for comparing two generations of it."""
    metadata = {
        key: value for key, value in pact.get("metadata", {}).items() if key not in _VOLATILE_METADATA_KEYS
    }
    return {**pact, "metadata": metadata}


def load(path: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return loaded


def interaction_descriptions(pact: dict[str, Any]) -> frozenset[str]:
    return frozenset(interaction["description"] for interaction in pact["interactions"])


def dump(pact: dict[str, Any]) -> str:
    """The one on-disk form, so regenerating an unchanged pact leaves the committed file byte-identical."""
    return json.dumps(pact, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
