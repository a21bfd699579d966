"""Server-sent events for `POST /chat/stream`: sources → token* → done | error, with comment heartbeats.

The model's deltas are awaited on the event loop (the providers' async streams), so a hundred open streams
hold no thread. A failure after the first event cannot change the HTTP status any more, so it becomes the
stream's last event, `error`.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from typing import Any

from chatsphere_agent.agent import ChatStream
from chatsphere_agent.errors import provider_error_code
from chatsphere_agent.providers.base import AnswerDelta, ProviderError
from chatsphere_agent.schemas import source_of

logger = logging.getLogger(__name__)

HEARTBEAT = b": heartbeat\n\n"


def sse_event(event: str, data: Any) -> bytes:
    return f"event: {event}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n".encode()


async def chat_events(stream: ChatStream, *, heartbeat_seconds: float) -> AsyncIterator[bytes]:
    """The whole event stream of one turn; heartbeats fill every silence longer than `heartbeat_seconds`."""
    sources = [source_of(chunk).model_dump(mode="json") for chunk in stream.sources]
    yield sse_event("sources", {"sources": sources})
    async for item in _with_heartbeats(_answer_events(stream.deltas), heartbeat_seconds=heartbeat_seconds):
        yield item


async def _answer_events(deltas: AsyncIterator[AnswerDelta]) -> AsyncIterator[bytes]:
    parts: list[str] = []
    model = ""
    try:
        async for delta in deltas:
            parts.append(delta.text)
            model = delta.model
            yield sse_event("token", {"text": delta.text})
    except ProviderError as exc:
        logger.warning("provider %s failed mid-stream (retryable=%s): %s", exc.provider, exc.retryable, exc)
        code, message = provider_error_code(exc)
        yield sse_event("error", {"error": {"code": code, "message": message, "retryable": exc.retryable}})
        return
    except Exception:
        logger.exception("the chat stream failed")
        error = {"code": "internal_error", "message": "An unexpected error occurred.", "retryable": False}
        yield sse_event("error", {"error": error})
        return
    # Exactly the tokens' text: what a client showed as it streamed is what gets saved.
    yield sse_event("done", {"response": "".join(parts), "model": model})


async def _with_heartbeats(events: AsyncIterator[bytes], *, heartbeat_seconds: float) -> AsyncIterator[bytes]:
    pending: asyncio.Task[bytes] | None = None
    try:
        while True:
            if pending is None:
                pending = asyncio.ensure_future(anext(events))
            done, _ = await asyncio.wait({pending}, timeout=heartbeat_seconds)
            if not done:
                yield HEARTBEAT
                continue
            try:
                item = pending.result()
            except StopAsyncIteration:
                return
            pending = None
            yield item
    finally:
        # The client went away: stop waiting for the model (its current thread call finishes on its own).
        if pending is not None:
            pending.cancel()
