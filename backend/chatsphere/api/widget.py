"""The public chat widget's endpoints, under /api/widget/{key}/: no user, a publishable key in the path.

Each request first finds the bot by its live key and checks the browser's Origin against the bot's
allowed origins (an unknown or revoked key is a 404, another origin a 403, before anything else runs).
A visitor proves which conversation is theirs with the X-Visitor-Token header. CORS headers go only to
allowed origins, so a browser on any other site cannot read an answer.
"""

from typing import Any

from django.contrib.auth.models import AnonymousUser
from django.http import HttpRequest, HttpResponseBase
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.authentication import BaseAuthentication
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.permissions import AllowAny, BasePermission
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from chatsphere.api.chat import ChatTurnView
from chatsphere.api.idempotency import IDEMPOTENCY_HEADER, IDEMPOTENCY_KEY
from chatsphere.api.schema import errors
from chatsphere.api.serializers import (
    ChatReplySerializer,
    ChatRequestSerializer,
    WidgetBotSerializer,
    WidgetConversationSerializer,
    WidgetStartSerializer,
)
from chatsphere.api.throttles import WidgetKeyThrottle, WidgetStartThrottle, WidgetVisitorThrottle
from chatsphere.models import Bot, Conversation
from chatsphere.services.widgets import widget_bot_get, widget_conversation_get, widget_conversation_start

VISITOR_HEADER = "X-Visitor-Token"
KEY_PARAMETER = OpenApiParameter(
    "key", OpenApiTypes.STR, OpenApiParameter.PATH, description="The bot's publishable widget key (pk_...)."
)
PREFLIGHT_MAX_AGE_SECONDS = 600


class VisitorTokenAuthentication(BaseAuthentication):
    """X-Visitor-Token → the visitor's conversation with the view's bot (request.auth)."""

    def authenticate(self, request: Request) -> tuple[AnonymousUser, Conversation] | None:
        token = request.headers.get(VISITOR_HEADER)
        if not token:
            return None
        view = request.parser_context["view"]
        conversation = widget_conversation_get(bot=view.bot, visitor_token=token)
        if conversation is None:
            raise AuthenticationFailed("This visitor token opens no conversation with this bot.")
        return AnonymousUser(), conversation

    def authenticate_header(self, request: Request) -> str:
        return "Visitor"


class VisitorTokenScheme(OpenApiAuthenticationExtension):  # type: ignore[no-untyped-call]
    target_class = VisitorTokenAuthentication
    name = "visitorToken"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {"type": "apiKey", "in": "header", "name": VISITOR_HEADER}


class IsVisitor(BasePermission):
    def has_permission(self, request: Request, view: APIView) -> bool:
        return request.method == "OPTIONS" or isinstance(request.auth, Conversation)


def _visitor_conversation(request: Request) -> Conversation:
    conversation = request.auth
    assert isinstance(conversation, Conversation)  # IsVisitor let the request through
    return conversation


class WidgetView(APIView):
    """Finds the bot by key and origin first; answers preflights; CORS headers only for allowed origins."""

    authentication_classes: list[type[BaseAuthentication]] = []
    permission_classes = [AllowAny]
    throttle_classes = [WidgetKeyThrottle]
    bot: Bot | None = None

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        self.bot = widget_bot_get(key=kwargs["key"], origin=request.headers.get("Origin"))
        super().initial(request, *args, **kwargs)

    def options(self, request: HttpRequest, *args: Any, **kwargs: Any) -> Response:
        response = Response(status=status.HTTP_204_NO_CONTENT)
        response["Access-Control-Allow-Methods"] = ", ".join(self.allowed_methods)
        response["Access-Control-Allow-Headers"] = f"Content-Type, {VISITOR_HEADER}, {IDEMPOTENCY_HEADER}"
        response["Access-Control-Max-Age"] = str(PREFLIGHT_MAX_AGE_SECONDS)
        return response

    def finalize_response(self, request: Request, response: Any, *args: Any, **kwargs: Any) -> Any:
        return self.cors(super().finalize_response(request, response, *args, **kwargs))

    def cors(self, response: HttpResponseBase) -> HttpResponseBase:
        origin = self.request.headers.get("Origin")
        if self.bot is not None and origin is not None and origin.lower() in self.bot.widget_origins:
            response["Access-Control-Allow-Origin"] = origin
            response["Access-Control-Expose-Headers"] = "Retry-After"
        response["Vary"] = "Origin"
        return response

    @property
    def widget_bot(self) -> Bot:
        assert self.bot is not None  # set by initial() before any handler runs
        return self.bot


class WidgetBotView(WidgetView):
    @extend_schema(
        operation_id="widget_bot",
        parameters=[KEY_PARAMETER],
        description="The widget's bot: its name and greeting. 404 for an unknown or revoked key, 403 for a "
        "page whose origin the owner did not allow.",
        responses={200: WidgetBotSerializer, **errors(403, 404, 429)},
        auth=[],
    )
    def get(self, request: Request, key: str) -> Response:
        return Response(WidgetBotSerializer(self.widget_bot).data)


class WidgetConversationStartView(WidgetView):
    throttle_classes = [WidgetKeyThrottle, WidgetStartThrottle]

    @extend_schema(
        operation_id="widget_conversation_start",
        parameters=[KEY_PARAMETER],
        description="A new anonymous visitor: a conversation of their own and the token that opens it.",
        request=None,
        responses={201: WidgetStartSerializer, **errors(403, 404, 429)},
        auth=[],
    )
    def post(self, request: Request, key: str) -> Response:
        conversation, token = widget_conversation_start(bot=self.widget_bot)
        body = WidgetStartSerializer({"visitor_token": token, "conversation": conversation})
        return Response(body.data, status=status.HTTP_201_CREATED)


class WidgetConversationView(WidgetView):
    authentication_classes = [VisitorTokenAuthentication]
    permission_classes = [IsVisitor]

    @extend_schema(
        operation_id="widget_conversation",
        parameters=[KEY_PARAMETER],
        description="The visitor's own conversation with its messages.",
        responses={200: WidgetConversationSerializer, **errors(401, 403, 404, 429)},
    )
    def get(self, request: Request, key: str) -> Response:
        return Response(WidgetConversationSerializer(_visitor_conversation(request)).data)


class WidgetChatView(WidgetView, ChatTurnView):
    """The owner's chat path (api/chat.py): no thread held while the agent answers; JSON only."""

    authentication_classes = [VisitorTokenAuthentication]
    permission_classes = [IsVisitor]
    throttle_classes = [WidgetKeyThrottle, WidgetVisitorThrottle]
    renderer_classes = [JSONRenderer]

    def turn_conversation(self) -> Conversation:
        return _visitor_conversation(self.request)

    def decorate(self, response: HttpResponseBase) -> HttpResponseBase:
        return self.cors(response)

    @extend_schema(
        operation_id="widget_chat",
        parameters=[KEY_PARAMETER, IDEMPOTENCY_KEY],
        description="The visitor sends a message in their conversation and gets the bot's answer with its "
        "sources. 429 with Retry-After above the per-visitor or per-key rate; 503 when the AI service is "
        "down (the message is kept; resending with the same Idempotency-Key reuses it, and a key already "
        "answered returns that answer); 409 when the key was used for another message.",
        request=ChatRequestSerializer,
        responses={200: ChatReplySerializer, **errors(400, 401, 403, 404, 409, 413, 415, 429, 502, 503)},
    )
    async def post(self, request: HttpRequest, key: str) -> HttpResponseBase:
        return await self.answer_turn(request, key=key)
