"""A TCP proxy that injects network faults between two real processes (e.g. Django and the agent).

    client ──▶ FaultProxy(127.0.0.1:<port>) ──▶ upstream

Modes, switchable at any time (they apply to connections accepted from then on, and `latency` also to
bytes still flowing):
  pass       forward both ways
  latency    wait `delay_s` before forwarding each piece, in pieces of at most `piece_bytes`, both ways
             or (responses_only) only upstream → client, and only after the bytes `slow_after` (e.g. the
             end of the HTTP headers): piece_bytes=1 is a server dripping its answer
  reset      read the request, then close with a TCP RST (a server killed mid-request)
  blackhole  accept and read, never answer (a hung server, a dropped route)
  reply      read the request, answer `reply_bytes` as is and close (500s, HTML, garbage)

`connections` counts accepted connections, so a test can wait until a client has reached the proxy.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
import time
from dataclasses import dataclass
from typing import Literal

Mode = Literal["pass", "latency", "reset", "blackhole", "reply"]
_READ_BYTES = 65536
_REQUEST_WAIT_S = 0.2


@dataclass(frozen=True, slots=True)
class Fault:
    mode: Mode = "pass"
    delay_s: float = 0.0
    piece_bytes: int = _READ_BYTES
    responses_only: bool = False
    slow_after: bytes = b""
    reply_bytes: bytes = b""


class FaultProxy:
    def __init__(self, *, upstream_host: str, upstream_port: int) -> None:
        self._upstream = (upstream_host, upstream_port)
        self._fault = Fault()
        self._lock = threading.Lock()
        self._connections = 0
        self._closed = threading.Event()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._open: set[socket.socket] = set()
        self._thread = threading.Thread(target=self._accept_loop, name="fault-proxy", daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._listener.getsockname()[1]}"

    @property
    def connections(self) -> int:
        with self._lock:
            return self._connections

    def set(self, fault: Fault) -> None:
        """Apply `fault` from now on; open connections of another mode are cut, so no client keeps a
        pooled connection that bypasses the new fault."""
        with self._lock:
            self._fault = fault
            stale = list(self._open)
            self._open.clear()
        for sock in stale:
            _close(sock)

    def heal(self) -> None:
        self.set(Fault())

    def wait_for_connections(self, count: int, *, timeout_s: float) -> bool:
        deadline = time.monotonic() + timeout_s
        while self.connections < count:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.05)
        return True

    def close(self) -> None:
        self._closed.set()
        _close(self._listener)
        self.set(Fault())

    def _accept_loop(self) -> None:
        while not self._closed.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            with self._lock:
                self._connections += 1
                fault = self._fault
                self._open.add(client)
            threading.Thread(target=self._serve, args=(client, fault), daemon=True).start()

    def _serve(self, client: socket.socket, fault: Fault) -> None:
        if fault.mode == "blackhole":
            _drain(client)
        elif fault.mode == "reset":
            _read_request(client)
            # Linger 0: close() sends RST at once, what the kernel does for a killed process's socket.
            client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            client.close()
        elif fault.mode == "reply":
            _read_request(client)
            try:
                client.sendall(fault.reply_bytes)
            finally:
                _close(client)
        else:
            self._forward(client)

    def _forward(self, client: socket.socket) -> None:
        try:
            upstream = socket.create_connection(self._upstream, timeout=5)
        except OSError:
            _close(client)
            return
        upstream.settimeout(None)
        with self._lock:
            self._open.add(upstream)
        threading.Thread(target=self._pump, args=(upstream, client, True), daemon=True).start()
        self._pump(client, upstream, False)

    def _pump(self, source: socket.socket, target: socket.socket, response: bool) -> None:
        prompt = True  # until `slow_after` has gone through
        try:
            while data := source.recv(_READ_BYTES):
                with self._lock:
                    fault = self._fault
                if fault.mode != "latency" or (fault.responses_only and not response):
                    target.sendall(data)
                    continue
                if prompt and fault.slow_after:
                    end = data.find(fault.slow_after)
                    cut = len(data) if end < 0 else end + len(fault.slow_after)
                    target.sendall(data[:cut])
                    data, prompt = data[cut:], end < 0
                for start in range(0, len(data), fault.piece_bytes):
                    time.sleep(fault.delay_s)
                    target.sendall(data[start : start + fault.piece_bytes])
        except OSError:
            pass
        finally:
            _close(source)
            _close(target)


def _read_request(client: socket.socket) -> None:
    """Read what the client sent in its first moments: its request has arrived when we act."""
    client.settimeout(_REQUEST_WAIT_S)
    try:
        while client.recv(_READ_BYTES):
            pass
    except OSError:
        pass
    client.settimeout(None)


def _drain(client: socket.socket) -> None:
    try:
        while client.recv(_READ_BYTES):
            pass
    except OSError:
        pass
    finally:
        _close(client)


def _close(sock: socket.socket) -> None:
    # shutdown() first: it wakes a thread blocked in recv() on this socket, close() alone does not.
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    with contextlib.suppress(OSError):
        sock.close()
