"""The fault proxy against a tiny HTTP upstream: each mode does to a client what its name says."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from testsupport.faultproxy import Fault, FaultProxy


class _Hello(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b"hello from upstream"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        """Quiet."""


@pytest.fixture
def proxy() -> Iterator[FaultProxy]:
    upstream = ThreadingHTTPServer(("127.0.0.1", 0), _Hello)
    threading.Thread(target=upstream.serve_forever, daemon=True).start()
    proxy = FaultProxy(upstream_host="127.0.0.1", upstream_port=upstream.server_address[1])
    yield proxy
    proxy.close()
    upstream.shutdown()
    upstream.server_close()


def test_pass_forwards_both_ways_and_counts_connections(proxy: FaultProxy):
    assert httpx.get(proxy.url).text == "hello from upstream"
    assert proxy.connections == 1


def test_reset_is_a_connection_error(proxy: FaultProxy):
    proxy.set(Fault(mode="reset"))

    with pytest.raises(httpx.TransportError):
        httpx.get(proxy.url)


def test_blackhole_never_answers(proxy: FaultProxy):
    proxy.set(Fault(mode="blackhole"))

    with pytest.raises(httpx.ReadTimeout):
        httpx.get(proxy.url, timeout=0.5)


def test_reply_sends_the_canned_bytes(proxy: FaultProxy):
    proxy.set(Fault(mode="reply", reply_bytes=b"HTTP/1.1 503 Busy\r\nContent-Length: 4\r\n\r\nbusy"))

    answer = httpx.get(proxy.url)

    assert (answer.status_code, answer.text) == (503, "busy")


def test_latency_delays_only_what_follows_slow_after(proxy: FaultProxy):
    proxy.set(Fault(mode="latency", delay_s=0.05, piece_bytes=1, responses_only=True, slow_after=b"\r\n\r\n"))
    received = b""
    headers_after = None

    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", int(proxy.url.rsplit(":", 1)[1]))) as client:
        client.sendall(b"GET / HTTP/1.1\r\nHost: upstream\r\n\r\n")
        while data := client.recv(1024):
            received += data
            if headers_after is None and b"\r\n\r\n" in received:
                headers_after = time.monotonic() - started

    assert received.endswith(b"\r\n\r\nhello from upstream")
    assert headers_after is not None
    assert headers_after < 0.5
    assert time.monotonic() - started >= 0.05 * len(b"hello from upstream")
