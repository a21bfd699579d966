"""A server-sent-events endpoint on loopback that records the connection each request came on: the one home
of the connection-reuse checks of the product's two streaming clients (Django's agent client, the agent's
OpenAI-compatible client).

The body's end comes a moment after the events, as from a real server: a client that stops reading at its
last event and closes the response cannot hand the connection back to its pool.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from aiohttp import web


@dataclass
class SseEndpoint:
    url: str  # the server's base URL, without the endpoint's path
    # One per request: the port of the client's end of the connection it came on.
    client_ports: list[int] = field(default_factory=list)


@asynccontextmanager
async def sse_endpoint(path: str, body: bytes, *, tail_delay_s: float = 0.05) -> AsyncIterator[SseEndpoint]:
    """Serve `body` as `text/event-stream` at POST `path` while the block runs."""
    endpoint = SseEndpoint(url="")

    async def stream(request: web.Request) -> web.StreamResponse:
        peer = request.transport.get_extra_info("peername") if request.transport else None
        endpoint.client_ports.append(peer[1] if peer else -1)
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        await response.write(body)
        await asyncio.sleep(tail_delay_s)
        await response.write_eof()
        return response

    app = web.Application()
    app.router.add_post(path, stream)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    endpoint.url = f"http://127.0.0.1:{runner.addresses[0][1]}"
    try:
        yield endpoint
    finally:
        await runner.cleanup()
