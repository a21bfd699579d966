"""Serve an ASGI app with uvicorn on a free local port, in a thread, for the Pact verifier to call."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn
from starlette.types import ASGIApp

HOST = "127.0.0.1"
_STARTUP_TIMEOUT_SECONDS = 60.0


@contextmanager
def serving(app: ASGIApp) -> Iterator[str]:
    """Run `app` until the block exits; yields its base URL."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind((HOST, 0))
    port = listener.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listener]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + _STARTUP_TIMEOUT_SECONDS
        while not server.started:
            if not thread.is_alive():
                raise RuntimeError("the agent app under verification failed to start; see its log above")
            if time.monotonic() > deadline:
                raise RuntimeError(f"the agent app did not start within {_STARTUP_TIMEOUT_SECONDS:.0f}s")
            time.sleep(0.05)
        yield f"http://{HOST}:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        listener.close()
