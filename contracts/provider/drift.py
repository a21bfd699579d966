"""Deliberately broken variants of the agent, to prove the verification notices drift.

Each wraps the real app (pure ASGI middleware), so everything but the one deliberate change is the
provider as shipped.
"""

from __future__ import annotations

import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send


class RenamedChatAnswerField:
    """POST /chat answers `answer` where the contract says `response`."""

    def __init__(self, app: ASGIApp) -> None:
        self._app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or (scope["method"], scope["path"]) != ("POST", "/chat"):
            await self._app(scope, receive, send)
            return
        start: Message = {}
        body = b""

        async def buffer(message: Message) -> None:
            nonlocal start, body
            if message["type"] == "http.response.start":
                start = message
                return
            body += message.get("body", b"")
            if message.get("more_body", False):
                return
            payload = json.loads(body)
            if "response" in payload:
                payload["answer"] = payload.pop("response")
            renamed = json.dumps(payload).encode()
            headers = [(key, value) for key, value in start["headers"] if key.lower() != b"content-length"]
            headers.append((b"content-length", str(len(renamed)).encode()))
            await send({**start, "headers": headers})
            await send({"type": "http.response.body", "body": renamed})

        await self._app(scope, receive, buffer)


class ValidationErrorsAsBadRequest:
    """Every 422 validation answer becomes a 400, as if someone 'simplified' the error handler."""

    def __init__(self, app: ASGIApp) -> None:
        self._app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def restatus(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] == 422:
                message = {**message, "status": 400}
            await send(message)

        await self._app(scope, receive, restatus)


class StreamWithoutDone:
    """POST /chat/stream ends its answer with an `end` event where the contract says `done`."""

    def __init__(self, app: ASGIApp) -> None:
        self._app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or (scope["method"], scope["path"]) != ("POST", "/chat/stream"):
            await self._app(scope, receive, send)
            return

        async def rename(message: Message) -> None:
            if message["type"] == "http.response.body":
                message = {**message, "body": message.get("body", b"").replace(b"event: done", b"event: end")}
            await send(message)

        await self._app(scope, receive, rename)
