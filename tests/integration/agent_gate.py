"""An HTTP pass-through in front of the real agent that can hold /embed_and_store requests.

Holding one keeps a Celery worker observably busy in the middle of an ingestion, so a test can kill the
worker at that moment. Everything else (and every embed request once released) goes to the agent as is.
"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx

HOLD_LIMIT_S = 120.0
_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "host"}


class AgentGate:
    def __init__(self, *, agent_url: str) -> None:
        self._agent = httpx.Client(base_url=agent_url, timeout=httpx.Timeout(120.0, connect=5.0))
        self._holding = False
        self._lock = threading.Lock()
        self.embed_held = threading.Event()  # set when a held embed request has arrived
        self._release = threading.Event()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="agent-gate", daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> AgentGate:
        self._thread.start()
        return self

    def hold_embeds(self) -> None:
        with self._lock:
            self._holding = True
            self.embed_held.clear()
            self._release.clear()

    def release_embeds(self) -> None:
        with self._lock:
            self._holding = False
            self._release.set()

    def close(self) -> None:
        self.release_embeds()
        self._server.shutdown()
        self._server.server_close()
        self._agent.close()

    def _forward(self, method: str, path: str, headers: dict[str, str], body: bytes) -> httpx.Response:
        if method == "POST" and path.startswith("/embed_and_store"):
            with self._lock:
                holding = self._holding
            if holding:
                self.embed_held.set()
                self._release.wait(HOLD_LIMIT_S)
        return self._agent.request(method, path, headers=headers, content=body)

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        gate = self

        class Handler(BaseHTTPRequestHandler):
            def _proxy(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP}
                answer = gate._forward(self.command, self.path, headers, body)
                self.send_response(answer.status_code)
                for name, value in answer.headers.items():
                    if name.lower() not in _HOP_BY_HOP:
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(answer.content)))
                self.end_headers()
                try:
                    self.wfile.write(answer.content)
                except (BrokenPipeError, ConnectionResetError):
                    return  # the caller died while its request was held: what the kill tests do

            do_GET = do_POST = do_DELETE = _proxy  # noqa: N815 - the names http.server dispatches to

            def log_message(self, format: str, *args: object) -> None:
                """Quiet: the agent's own log has every request."""

        return Handler
