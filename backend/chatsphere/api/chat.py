"""`POST /api/conversations/{id}/chat/` as an async view: no worker thread waits while the LLM answers.

DRF has no async views, so this is a plain async Django view that borrows DRF for everything but the
wait: `ConversationChatView` is a GenericAPIView whose authentication, permissions, throttle, content
negotiation, parsing, `get_object()` and exception handler run unchanged in one database step
(`in_db_thread`). Then the agent is awaited over the pooled `httpx.AsyncClient`, holding neither a
thread nor a database connection. (`adrf` would do the same wrapping for every view; one view needs it.)

`Accept: text/event-stream` streams the turn as server-sent events; anything else gets the JSON answer.
Every error before the first event, in either mode, is the usual JSON error.
"""

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import orjson
from asgiref.sync import markcoroutinefunction
from django.http import HttpRequest, HttpResponse, HttpResponseBase, StreamingHttpResponse
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.generics import GenericAPIView
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import Request

from chatsphere import selectors
from chatsphere.api.idempotency import IDEMPOTENCY_KEY, idempotency_key
from chatsphere.api.schema import errors
from chatsphere.api.serializers import ChatReplySerializer, ChatRequestSerializer
from chatsphere.api.throttles import ChatRateThrottle
from chatsphere.asyncdb import in_db_thread
from chatsphere.models import Conversation
from chatsphere.services.agent_client import ChatEvent
from chatsphere.services.conversations import (
    ChatTurn,
    conversation_reply,
    conversation_reply_stream,
    conversation_turn_open,
    message_json,
)

EVENT_STREAM = "text/event-stream"
_JSON = JSONRenderer()
_STREAM_DESCRIPTION = (
    "With `Accept: text/event-stream` the answer streams as server-sent events, in order: `user_message` "
    "(the saved user message), `sources` (`{sources: [...]}`, each with `document_name`), `token` "
    "(`{text}`) per piece of the answer, then exactly one of `done` (`{bot_message}`, the saved answer, "
    "whose content is the tokens' text) or `error` (`{error: {code, message, retryable}}`; the user's "
    "message is kept). Lines starting with `:` are heartbeats. A client that disconnects loses nothing: "
    "the answer is still completed and saved. Errors before the stream starts are JSON, as without streaming."
)


# One server-sent event of the stream (schemathesis checks every event against it); `data` is JSON text.
_SSE_EVENT = {
    "type": "object",
    "properties": {
        "event": {"type": "string", "enum": ["user_message", "sources", "token", "done", "error"]},
        "data": {"type": "string"},
    },
    "required": ["event", "data"],
}


class EventStreamRenderer(BaseRenderer):
    """Lets content negotiation accept `Accept: text/event-stream`; the view writes the events itself."""

    media_type = EVENT_STREAM
    format = "sse"

    def render(
        self, data: Any, accepted_media_type: str | None = None, renderer_context: Any = None
    ) -> bytes:
        return _JSON.render(data)


def json_bytes(data: Any) -> bytes:
    """JSON as DRF's renderer writes it (compact, UTF-8, datetimes ending in Z), at orjson's speed."""
    return orjson.dumps(data, option=orjson.OPT_UTC_Z)


def sse_event(event: str, data: Any) -> bytes:
    return b"event: " + event.encode() + b"\ndata: " + json_bytes(data) + b"\n\n"


class ChatTurnView(GenericAPIView[Conversation]):
    """The shape of a chat endpoint, the owner's and the widget's: DRF's pipeline up to the saved user message
    in one database step, then the agent awaited holding no thread, then the answer saved in one more.

    A subclass names the conversation (`turn_conversation`) and decorates its `post` for the schema.
    """

    serializer_class = ChatRequestSerializer
    renderer_classes = [JSONRenderer, EventStreamRenderer]
    post: Callable[..., Awaitable[HttpResponseBase]]  # each endpoint's own, documented for its schema

    @classmethod
    def as_view(cls, **initkwargs: Any) -> Callable[..., Any]:  # type: ignore[override]
        async def view(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            self = cls(**initkwargs)
            if request.method == "POST":
                response: HttpResponseBase = await self.post(request, **kwargs)
                return response
            return await in_db_thread(self.dispatch)(request, *args, **kwargs)  # OPTIONS, 405s

        # What drf-spectacular and Django read from a DRF view function.
        view.cls = cls  # type: ignore[attr-defined]
        view.initkwargs = initkwargs  # type: ignore[attr-defined]
        view.csrf_exempt = True  # type: ignore[attr-defined]  # JWT or a visitor token, not cookies
        return markcoroutinefunction(view)

    def turn_conversation(self) -> Conversation:
        raise NotImplementedError

    def decorate(self, response: HttpResponseBase) -> HttpResponseBase:
        """Headers every answer of this endpoint carries (the widget's CORS)."""
        return response

    async def answer_turn(self, request: HttpRequest, **kwargs: Any) -> HttpResponseBase:
        opened = await in_db_thread(self._open_turn)(request, kwargs)
        if isinstance(opened, HttpResponseBase):
            return opened
        turn, streaming = opened
        try:
            if streaming:
                events = await conversation_reply_stream(turn=turn)
            else:
                bot_message = await conversation_reply(turn=turn)
        except Exception as exc:  # AgentError mostly: a JSON error, the user's message kept
            return await in_db_thread(self._error_response)(exc)
        if streaming:
            response: HttpResponseBase = StreamingHttpResponse(_sse(events), content_type=EVENT_STREAM)
            # Proxies (nginx) buffer responses unless told not to; a buffered stream arrives all at once.
            response["Cache-Control"] = "no-cache"
            response["X-Accel-Buffering"] = "no"
        else:
            reply = {"user_message": turn.user_message, "bot_message": bot_message}
            response = HttpResponse(
                json_bytes({name: message_json(message) for name, message in reply.items()}),
                content_type="application/json",
            )
        return self.decorate(response)

    def _open_turn(
        self, request: HttpRequest, kwargs: dict[str, Any]
    ) -> tuple[ChatTurn, bool] | HttpResponse:
        """DRF's request pipeline up to saving the user's message; any failure is its JSON error."""
        self.args, self.kwargs = (), kwargs
        self.request = self.initialize_request(request, **kwargs)
        self.headers = self.default_response_headers
        try:
            self.initial(self.request, **kwargs)
            serializer = ChatRequestSerializer(data=self.request.data)
            serializer.is_valid(raise_exception=True)
            turn = conversation_turn_open(
                conversation=self.turn_conversation(),
                message=serializer.validated_data["message"],
                idempotency_key=idempotency_key(self.request),
            )
        except Exception as exc:
            return self._error_response(exc)
        return turn, self.request.accepted_renderer.media_type == EVENT_STREAM

    def _error_response(self, exc: Exception) -> HttpResponse:
        drf_request: Request = self.request
        response = self.handle_exception(exc)
        # An error is JSON even to a client that asked for a stream.
        drf_request.accepted_renderer = _JSON
        drf_request.accepted_media_type = _JSON.media_type
        response = self.finalize_response(drf_request, response)
        response.render()
        return response


class ConversationChatView(ChatTurnView):
    throttle_classes = [ChatRateThrottle]
    http_method_names = ["post"]

    def get_queryset(self) -> Any:
        if getattr(self, "swagger_fake_view", False):  # schema generation has no user
            return Conversation.objects.none()
        return selectors.conversation_list(owner=self.request.user)  # type: ignore[arg-type]

    def turn_conversation(self) -> Conversation:
        return self.get_object()

    @extend_schema(
        operation_id="conversations_chat_create",
        description="Send a message and get the bot's answer with its sources. The user's message is saved "
        "first: when the AI service is down (503) it stays in the conversation and sending again works. "
        "409 when the bot is inactive or the Idempotency-Key was used for another message; 429 (with "
        "Retry-After) above CHAT_THROTTLE_RATE.\n\n" + _STREAM_DESCRIPTION,
        parameters=[IDEMPOTENCY_KEY],
        request=ChatRequestSerializer,
        responses={
            (200, "application/json"): ChatReplySerializer,
            (200, EVENT_STREAM): OpenApiResponse(response=_SSE_EVENT, description=_STREAM_DESCRIPTION),
            **errors(400, 401, 404, 405, 409, 413, 415, 429, 502, 503),
        },
    )
    async def post(self, request: HttpRequest, pk: str) -> HttpResponseBase:
        return await self.answer_turn(request, pk=pk)


async def _sse(events: AsyncIterator[ChatEvent]) -> AsyncIterator[bytes]:
    async for event in events:
        yield b": heartbeat\n\n" if event.name == "heartbeat" else sse_event(event.name, event.data)
