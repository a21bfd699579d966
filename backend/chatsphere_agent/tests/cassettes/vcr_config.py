"""The one vcrpy configuration shared by the cassette tests and scripts/record_cassettes.py.

A replayed request must match a recorded one on method, scheme, host, port, path, query and JSON body,
so any change in what the agent sends to Gemini or Pinecone breaks the replay. Secrets are filtered on
the way into a cassette (headers and the `key` query parameter).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import vcr
from vcr.request import Request

REPO_ROOT = Path(__file__).resolve().parents[4]
CASSETTE_DIR = REPO_ROOT / "cassettes"
RECORD_MODE_ENV = "CASSETTE_RECORD_MODE"
# Recordings are made against a 768-d cosine serverless index of this name, so replays resolve it too.
CASSETTE_PINECONE_INDEX = "chatsphere-cassettes"
SECRET_HEADERS = ("x-goog-api-key", "api-key", "authorization")
SECRET_QUERY_PARAMETERS = ("key",)


def method_ignoring_case(recorded: Request, played: Request) -> None:
    # aiohttp sends lower-case methods; httpx and urllib3 upper-case ones.
    assert recorded.method.upper() == played.method.upper(), f"{recorded.method} != {played.method}"


def _parsed_body(request: Request) -> Any:
    body = request.body
    if body is None or body in (b"", ""):
        return None
    text = body.decode() if isinstance(body, bytes) else body
    try:
        return json.loads(text)
    except ValueError:
        return text


def json_body(recorded: Request, played: Request) -> None:
    recorded_body, played_body = _parsed_body(recorded), _parsed_body(played)
    assert recorded_body == played_body, "request bodies differ"


def record_mode() -> str:
    return os.environ.get(RECORD_MODE_ENV, "none")


def build_vcr() -> vcr.VCR:
    cassettes = vcr.VCR(
        cassette_library_dir=str(CASSETTE_DIR),
        record_mode=record_mode(),
        match_on=["method_ignoring_case", "scheme", "host", "port", "path", "query", "json_body"],
        filter_headers=list(SECRET_HEADERS),
        filter_query_parameters=list(SECRET_QUERY_PARAMETERS),
        decode_compressed_response=True,
    )
    cassettes.register_matcher("method_ignoring_case", method_ignoring_case)
    cassettes.register_matcher("json_body", json_body)
    return cassettes
