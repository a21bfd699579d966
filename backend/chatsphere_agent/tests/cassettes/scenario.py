"""The inputs the cassettes were recorded with; a replay only matches when the agent sends them again."""

from __future__ import annotations

import math

from chatsphere_agent.providers.base import HistoryTurn

SERVICE_TOKEN = "cassette-test-token-7Qp2xLm9"
BOT_ID = "3f2b6c1e-8a4d-4e2f-9b1a-5c7d9e0f1a2b"
OTHER_BOT_ID = "0d9e8f7a-6b5c-4d3e-8f2a-1b0c9d8e7f6a"
DOCUMENT_ID = "9c1d2e3f-4a5b-4c6d-8e7f-0a1b2c3d4e5f"
CHUNKS = [
    "ChatSphere bots answer questions from the documents their owners upload.",
    "Refunds are accepted within 30 days of purchase, with the original receipt.",
    "Support is open Monday to Friday, 9:00 to 17:00 CET.",
]
QUESTION = "How long do I have to ask for a refund?"
SYSTEM_PROMPT = "You are the ShopCo helpdesk. Answer in one sentence."
HISTORY = [
    HistoryTurn(role="user", content="Hi, I bought a plan last week."),
    HistoryTurn(role="assistant", content="Thanks for your purchase! How can I help?"),
]
OVERRIDE_MODEL = "gemini-2.5-pro"
MANY_CHUNK_COUNT = 250
MANY_CHUNKS_DIMENSION = 8  # keeps the 250-vector cassette small; batching does not depend on it


def many_chunks() -> list[str]:
    return [f"Paragraph {number} of the employee handbook." for number in range(MANY_CHUNK_COUNT)]


def vector(seed: int, dimension: int) -> list[float]:
    """A deterministic stand-in for an embedding, as written into the hand-made cassettes."""
    return [round(math.sin(seed * 1000 + position) * 0.05, 4) for position in range(dimension)]
