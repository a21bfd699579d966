"""Re-record the Gemini and Pinecone cassettes against the real APIs.

    GOOGLE_API_KEY=... PINECONE_API_KEY=... PINECONE_INDEX=chatsphere-cassettes \
        .venv/bin/python scripts/record_cassettes.py

Needs a serverless Pinecone index named `chatsphere-cassettes` (dimension 768, metric cosine): the
replays resolve that name. Only the success cassettes can be recorded; the failure ones (429, 503,
malformed replies) cannot be provoked on demand and stay hand-written (see cassettes/README.md).
Recording writes into the test bot's namespace of that index (scenario.BOT_ID).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO_ROOT / "backend"), str(REPO_ROOT)]

from chatsphere_agent.tests.cassettes.vcr_config import (  # noqa: E402
    CASSETTE_DIR,
    CASSETTE_PINECONE_INDEX,
    RECORD_MODE_ENV,
)

TESTS = "backend/chatsphere_agent/tests/cassettes"
# (cassette, the test whose run records it)
RECORDABLE = (
    (
        "gemini/embed_chunks_and_question.yaml",
        "test_gemini.py::test_embeddings_send_chunks_and_questions_with_their_task_types",
    ),
    (
        "gemini/embed_250_chunks.yaml",
        "test_gemini.py::test_250_chunks_go_out_as_three_requests_of_at_most_100",
    ),
    (
        "gemini/chat_context_history.yaml",
        "test_gemini.py::test_chat_sends_instructions_bot_prompt_context_and_history_and_returns_the_answer",
    ),
    (
        "pinecone/index_lifecycle.yaml",
        "test_pinecone.py::test_store_upserts_queries_and_deletes_in_the_bots_namespace",
    ),
    ("app/embed_and_chat.yaml", "test_app.py::test_embed_and_store_then_chat_with_gemini_and_pinecone"),
)
REQUIRED_ENV = ("GOOGLE_API_KEY", "PINECONE_API_KEY", "PINECONE_INDEX")


def main() -> int:
    missing = [name for name in REQUIRED_ENV if not os.environ.get(name, "").strip()]
    if missing:
        print(
            f"record_cassettes: refusing to record: {', '.join(missing)} not set. Recording talks to the "
            "real Gemini and Pinecone APIs and needs GOOGLE_API_KEY, PINECONE_API_KEY and "
            f"PINECONE_INDEX={CASSETTE_PINECONE_INDEX}.",
            file=sys.stderr,
        )
        return 2
    if os.environ["PINECONE_INDEX"] != CASSETTE_PINECONE_INDEX:
        print(
            f"record_cassettes: refusing to record: PINECONE_INDEX must be {CASSETTE_PINECONE_INDEX!r} "
            "(a 768-d cosine serverless index), the name the replays resolve.",
            file=sys.stderr,
        )
        return 2
    for cassette, _ in RECORDABLE:
        (CASSETTE_DIR / cassette).unlink(missing_ok=True)
    tests = [f"{TESTS}/{test}" for _, test in RECORDABLE]
    command = [sys.executable, "-m", "pytest", "-p", "no:django", "--confcutdir", TESTS, *tests]
    environment = {**os.environ, RECORD_MODE_ENV: "all"}
    return subprocess.run(command, cwd=REPO_ROOT, env=environment, check=False).returncode  # noqa: S603


if __name__ == "__main__":
    sys.exit(main())
