"""Every committed cassette is free of anything that looks like a credential."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from chatsphere_agent.tests.cassettes.vcr_config import CASSETTE_DIR, SECRET_HEADERS

CASSETTES = sorted(CASSETTE_DIR.rglob("*.yaml"))
KEY_PATTERNS = {
    "Google API key": re.compile(r"AIza[0-9A-Za-z_\-]{30,}"),
    "Pinecone API key": re.compile(r"pcsk_[0-9A-Za-z_]{20,}"),
    "key query parameter": re.compile(r"[?&]key=(?!&|$)[^&\s'\"]+"),
    "bearer token": re.compile(r"Bearer\s+[0-9A-Za-z._\-]{20,}"),
}
LONG_TOKEN = re.compile(r"^[0-9A-Za-z+/_\-]{32,}=*$")


def test_there_are_cassettes_to_check():
    assert {path.parent.name for path in CASSETTES} >= {"gemini", "pinecone"}


@pytest.mark.parametrize("cassette_path", CASSETTES, ids=lambda path: str(path.relative_to(CASSETTE_DIR)))
def test_cassette_holds_no_credentials(cassette_path: Path):
    text = cassette_path.read_text()
    for name, pattern in KEY_PATTERNS.items():
        assert not pattern.search(text), f"{cassette_path} contains something that looks like a {name}"
    for interaction in yaml.safe_load(text)["interactions"]:
        headers = {name.lower(): values for name, values in interaction["request"]["headers"].items()}
        assert not set(SECRET_HEADERS) & headers.keys(), f"{cassette_path} kept a secret request header"
        for name, values in interaction["response"]["headers"].items():
            for value in values:
                assert not LONG_TOKEN.match(str(value)), f"{cassette_path}: header {name} holds a token"
