"""The staleness check compares what the consumer sends, not which Pact library wrote it down."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from contracts.check_pact import pact_difference


def _pact(*, response_field: str = "stored_vector_count", ffi_version: str = "0.5.12") -> dict[str, Any]:
    return {
        "consumer": {"name": "chatsphere-backend"},
        "provider": {"name": "chatsphere-agent"},
        "interactions": [
            {
                "description": "a request to embed and store a document's chunks",
                "request": {"method": "POST", "path": "/embed_and_store"},
                "response": {"status": 200, "body": {"content": {response_field: 1}}},
                "type": "Synchronous/HTTP",
            }
        ],
        "metadata": {"pactRust": {"ffi": ffi_version}, "pactSpecification": {"version": "4.0"}},
    }


def _write(path: Path, pact: dict[str, Any]) -> Path:
    path.write_text(json.dumps(pact), encoding="utf-8")
    return path


def test_pacts_differing_only_in_library_versions_agree(tmp_path: Path) -> None:
    committed = _write(tmp_path / "committed.json", _pact(ffi_version="0.5.12"))
    generated = _write(tmp_path / "generated.json", _pact(ffi_version="0.6.0"))

    assert pact_difference(committed=committed, generated=generated) == ""


def test_a_renamed_field_is_reported_as_a_diff(tmp_path: Path) -> None:
    committed = _write(tmp_path / "committed.json", _pact(response_field="stored_vector_count"))
    generated = _write(tmp_path / "generated.json", _pact(response_field="stored_count"))

    difference = pact_difference(committed=committed, generated=generated)

    assert '-            "stored_vector_count": 1' in difference
    assert '+            "stored_count": 1' in difference


def test_a_pact_that_was_not_generated_is_a_difference(tmp_path: Path) -> None:
    committed = _write(tmp_path / "committed.json", _pact())

    difference = pact_difference(committed=committed, generated=tmp_path / "missing.json")

    assert "was not generated" in difference
