"""`POST /api/conversations/{id}/chat/` as an async view: no worker thread waits while the LLM answers.

DRF has no async views, so this is a plain async Django view that borrows DRF for everything but the
wait: `ConversationChatView` is a GenericAPIView whose authentication, permissions, throttle, content
negotiation, parsing, `get_object()` and exception handler run unchanged in one database step
(`in_db_thread`), except for the common turn (an active owner's well-formed message), which opens in fewer
queries and no DRF request processing (`open_common_turn`); every other request, each error among them,
takes DRF's pipeline. Then the agent is awaited over the pooled `httpx.AsyncClient`, holding neither a
thread nor a database connection. (`adrf` would do the same wrapping for every view; one view needs it.)

`Accept: text/event-stream` streams the turn as server-sent events; anything else gets the JSON answer.
Every error before the first event, in either mode, is the usual JSON error.
"""

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any
from uuid import UUID

import orjson
from asgiref.sync import markcoroutinefunction
from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse, HttpResponseBase, StreamingHttpResponse
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.exceptions import Throttled, ValidationError
from rest_framework.generics import GenericAPIView
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework_simplejwt.authentication import JWTAuthentication
from rest_framework_simplejwt.exceptions import InvalidToken
from rest_framework_simplejwt.settings import api_settings as jwt_settings

from chatsphere import selectors
from chatsphere.api.idempotency import (
    IDEMPOTENCY_HEADER,
    IDEMPOTENCY_KEY,
    IDEMPOTENCY_KEY_PATTERN,
    idempotency_key,
)
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
        """Save the user's message: the common case in few queries (`open_common_turn`), anything else through
        DRF's request pipeline, which writes each error as the rest of the API does."""
        self.args, self.kwargs = (), kwargs
        self.request = self.initialize_request(request, **kwargs)
        self.headers = self.default_response_headers
        try:
            opened = self.open_common_turn(request)
            if opened is not None:
                return opened
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

    def open_common_turn(self, request: HttpRequest) -> tuple[ChatTurn, bool] | None:
        """Open the turn without DRF's pipeline when the request is the common well-formed case, else None,
        before anything is written or counted. An endpoint without such a path keeps DRF's for every turn."""
        return None

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

    def open_common_turn(self, request: HttpRequest) -> tuple[ChatTurn, bool] | None:
        """An active owner's well-formed message, in one query before the turn's own: the user comes from the
        token's claims (simplejwt's validation, not its user query) and is checked in the conversation's
        query. DRF's pipeline, which answers every other case, reads the user in a query of its own and runs
        negotiation, parsing and `get_object()` per turn (docs/benchmarks.md: what that costs a chat)."""
        owner_id = access_token_user_id(request)
        streaming = _streaming(request)
        message = _plain_message(request)
        key = request.headers.get(IDEMPOTENCY_HEADER, "")
        if owner_id is None or streaming is None or message is None or not _well_formed_key(key):
            return None
        try:
            conversation_id = UUID(self.kwargs["pk"])
        except ValueError:
            return None
        conversation = selectors.conversation_of_active_owner(
            conversation_id=conversation_id, owner_id=owner_id
        )
        if conversation is None:
            return None
        throttle = ChatRateThrottle()
        if not throttle.allow_ident(ChatRateThrottle.user_ident(owner_id)):
            raise Throttled(throttle.wait())
        turn = conversation_turn_open(conversation=conversation, message=message, idempotency_key=key)
        return turn, streaming

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


def access_token_user_id(request: HttpRequest) -> int | None:
    """The user id a valid access token names, or None (no token, or one DRF's authentication refuses)."""
    header = _JWT.get_header(request)  # type: ignore[arg-type]  # reads only META, which both requests have
    raw_token = _JWT.get_raw_token(header) if header is not None else None
    if raw_token is None:
        return None
    try:
        token = _JWT.get_validated_token(raw_token)
    except InvalidToken:
        return None
    try:
        return int(token[jwt_settings.USER_ID_CLAIM])  # simplejwt writes the id as a string
    except (KeyError, TypeError, ValueError):
        return None


def _streaming(request: HttpRequest) -> bool | None:
    """The plain `Accept` headers; None for any other, which content negotiation judges."""
    return _PLAIN_ACCEPT.get(request.headers.get("Accept", ""))


_PLAIN_ACCEPT = {"": False, "*/*": False, "application/json": False, EVENT_STREAM: True}


def _plain_message(request: HttpRequest) -> str | None:
    """The message of a UTF-8 JSON body `{"message": ...}` that ChatRequestSerializer accepts, else None."""
    charset = (request.content_params or {}).get("charset", "utf-8")
    if request.content_type != "application/json" or charset.lower() not in ("utf-8", "utf8"):
        return None
    try:
        if int(request.META.get("CONTENT_LENGTH") or 0) > settings.DATA_UPLOAD_MAX_MEMORY_SIZE:
            return None
        body = orjson.loads(request.body)
    except (ValueError, RequestDataTooBig):  # orjson.JSONDecodeError is a ValueError
        return None
    if not isinstance(body, dict) or not isinstance(body.get("message"), str):
        return None
    try:
        message: str = _MESSAGE_FIELD.run_validation(body["message"])
    except ValidationError:
        return None
    return message


def _well_formed_key(key: str) -> bool:
    return not key or IDEMPOTENCY_KEY_PATTERN.fullmatch(key) is not None


_JWT = JWTAuthentication()
_MESSAGE_FIELD = ChatRequestSerializer().fields["message"]


async def _sse(events: AsyncIterator[ChatEvent]) -> AsyncIterator[bytes]:
    async for event in events:
        yield b": heartbeat\n\n" if event.name == "heartbeat" else sse_event(event.name, event.data)
