"""Thin HTTP edges: validate, call one service function, shape the answer."""

from typing import Any
from uuid import UUID

from django.conf import settings
from django.contrib.auth.models import User
from django.db.models import QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotAuthenticated, NotFound
from rest_framework.parsers import MultiPartParser
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import BaseSerializer
from rest_framework.views import APIView
from rest_framework_simplejwt.exceptions import InvalidToken, TokenError
from rest_framework_simplejwt.views import TokenObtainPairView, TokenRefreshView

from chatsphere import selectors
from chatsphere.api.errors import error_body
from chatsphere.api.parsers import StrictJSONParser, ensure_body_fits
from chatsphere.api.schema import errors, list_errors
from chatsphere.api.serializers import (
    BotFilterSerializer,
    BotSearchRequestSerializer,
    BotSearchResponseSerializer,
    BotSerializer,
    ChunkSerializer,
    ConversationCreateSerializer,
    ConversationDetailSerializer,
    ConversationSerializer,
    DocumentFilterSerializer,
    DocumentSerializer,
    DocumentUploadSerializer,
    HealthSerializer,
    LoginSerializer,
    LogoutSerializer,
    RefreshSerializer,
    RegisterSerializer,
    TokenPairSerializer,
    TrainTextSerializer,
    UserSerializer,
    WebsiteSourceCreateSerializer,
    WebsiteSourceSerializer,
    WidgetSettingsSerializer,
)
from chatsphere.api.throttles import LoginThrottle, RefreshIPThrottle, RegisterIPThrottle
from chatsphere.models import Bot, Conversation, Document, WebsiteSource
from chatsphere.services.bots import bot_create, bot_delete, bot_search, bot_update
from chatsphere.services.conversations import conversation_create, conversation_delete
from chatsphere.services.document_service import SUPPORTED_EXTENSIONS
from chatsphere.services.documents import (
    document_create_from_file,
    document_create_from_text,
    document_delete,
    document_retry,
)
from chatsphere.services.health import DatabaseUnavailableError, system_health
from chatsphere.services.users import user_logout, user_register
from chatsphere.services.website_sources import (
    website_source_create,
    website_source_delete,
    website_source_recrawl,
)
from chatsphere.services.widgets import bot_widget_enable, bot_widget_revoke

BOT_FILTER = OpenApiParameter("bot", OpenApiTypes.UUID, description="Only objects of this bot.")
SOURCE_FILTER = OpenApiParameter(
    "source", OpenApiTypes.UUID, description="Only the pages of this website source."
)


def _current_user(request: Request) -> User:
    user = request.user
    if not isinstance(user, User):
        raise NotAuthenticated()
    return user


def _bot_filter(request: Request) -> UUID | None:
    filters = BotFilterSerializer(data=request.query_params)
    filters.is_valid(raise_exception=True)
    bot_id: UUID | None = filters.validated_data.get("bot")
    return bot_id


class RegisterView(APIView):
    authentication_classes = []
    permission_classes = [AllowAny]
    throttle_classes = [RegisterIPThrottle]

    @extend_schema(
        description="429 above REGISTER_THROTTLE_RATE registrations per client address.",
        request=RegisterSerializer,
        responses={201: UserSerializer, **errors(400, 413, 415, 429)},
        auth=[],
    )
    def post(self, request: Request) -> Response:
        serializer = RegisterSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        user = user_register(**serializer.validated_data)
        return Response(UserSerializer(user).data, status=status.HTTP_201_CREATED)


class TokenObtainView(TokenObtainPairView):
    serializer_class = LoginSerializer
    throttle_classes = [LoginThrottle]

    @extend_schema(
        description="401 for a wrong username or password; 400 for a body that is not a login at all; "
        "429 (with Retry-After) above LOGIN_IP_THROTTLE_RATE per client address or "
        "LOGIN_USERNAME_THROTTLE_RATE per username, right or wrong password alike.",
        responses={200: TokenPairSerializer, **errors(400, 401, 413, 415, 429)},
        auth=[],
    )
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().post(request, *args, **kwargs)


class TokenRefreshAccessView(TokenRefreshView):
    serializer_class = RefreshSerializer
    throttle_classes = [RefreshIPThrottle]

    @extend_schema(
        description="A new access token and a new refresh token; the refresh token sent is revoked "
        "(using it again is a 401), as are all of a user's refresh tokens when the password changes.",
        responses={200: TokenPairSerializer, **errors(400, 401, 413, 415, 429)},
        auth=[],
    )
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().post(request, *args, **kwargs)


class LogoutView(APIView):
    """Revokes a refresh token; the short-lived access token simply expires."""

    authentication_classes = []
    permission_classes = [AllowAny]
    throttle_classes = [RefreshIPThrottle]

    def get_authenticate_header(self, request: Request) -> str:
        # With no authentication classes DRF would turn the 401 for a bad token into a 403.
        return 'Bearer realm="api"'

    @extend_schema(
        request=LogoutSerializer, responses={204: None, **errors(400, 401, 413, 415, 429)}, auth=[]
    )
    def post(self, request: Request) -> Response:
        serializer = LogoutSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            user_logout(refresh=serializer.validated_data["refresh"])
        except TokenError as exc:
            raise InvalidToken(str(exc)) from exc
        return Response(status=status.HTTP_204_NO_CONTENT)


class HealthView(APIView):
    """For load balancers and operators: no credentials, no throttle, one query and one call to the agent."""

    authentication_classes = []
    permission_classes = [AllowAny]
    throttle_classes = []

    @extend_schema(
        description="200 while this API can serve requests: `status` is `ok`, or `degraded` when the AI "
        "service (chat, training and deletions answer 503 then), Redis (rate limits are not applied) or "
        "the task broker is unavailable, so a load balancer keeps this process in rotation. "
        "`agent.providers` says which kind of embeddings, vector store and LLM the AI service runs on. "
        "503 when the database does not answer.",
        responses={200: HealthSerializer, **errors(503)},
        auth=[],
    )
    def get(self, request: Request) -> Response:
        try:
            health = system_health()
        except DatabaseUnavailableError:
            return Response(
                error_body("database_unavailable", "The database does not answer."),
                status=status.HTTP_503_SERVICE_UNAVAILABLE,
            )
        return Response(HealthSerializer(health).data)


class UnknownAPIPathView(APIView):
    """Every path under /api/ that no route matches: the JSON 404, even with DEBUG's HTML pages on."""

    authentication_classes = []
    permission_classes = [AllowAny]
    throttle_classes = []
    schema = None

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        message = "Nothing lives at this address."
        if not request.path.endswith("/"):
            message += " API paths end with a slash."
        raise NotFound(message)


class MeView(APIView):
    @extend_schema(responses={200: UserSerializer, **errors(401)})
    def get(self, request: Request) -> Response:
        return Response(UserSerializer(request.user).data)


@extend_schema_view(
    list=extend_schema(responses={200: BotSerializer, **list_errors()}),
    create=extend_schema(responses={201: BotSerializer, **errors(400, 401, 413, 415)}),
    retrieve=extend_schema(responses={200: BotSerializer, **errors(401, 404)}),
    update=extend_schema(responses={200: BotSerializer, **errors(400, 401, 404, 413, 415)}),
    partial_update=extend_schema(responses={200: BotSerializer, **errors(400, 401, 404, 413, 415)}),
    destroy=extend_schema(
        description="Deletes the bot, its documents, conversations and its vectors in the AI service. "
        "If the AI service is down (503) nothing is deleted.",
        responses={204: None, **errors(401, 404, 502, 503)},
    ),
)
class BotViewSet(viewsets.ModelViewSet[Bot]):
    serializer_class = BotSerializer

    def get_queryset(self) -> QuerySet[Bot]:
        if getattr(self, "swagger_fake_view", False):  # schema generation has no user
            return Bot.objects.none()
        return selectors.bot_list(owner=_current_user(self.request))

    def perform_create(self, serializer: BaseSerializer[Bot]) -> None:
        serializer.instance = bot_create(owner=_current_user(self.request), **serializer.validated_data)

    def perform_update(self, serializer: BaseSerializer[Bot]) -> None:
        assert serializer.instance is not None
        serializer.instance = bot_update(bot=serializer.instance, data=serializer.validated_data)

    def perform_destroy(self, instance: Bot) -> None:
        bot_delete(bot=instance)

    @extend_schema(
        description="Retrieval testing: the bot's chunks ranked for a query, with their scores, without "
        "asking the language model. 503 when the AI service is down.",
        request=BotSearchRequestSerializer,
        responses={200: BotSearchResponseSerializer, **errors(400, 401, 404, 413, 415, 502, 503)},
    )
    @action(detail=True, methods=["post"], parser_classes=[StrictJSONParser])
    def search(self, request: Request, pk: str | None = None) -> Response:
        bot = self.get_object()
        serializer = BotSearchRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        mode, hits = bot_search(
            bot=bot,
            query=serializer.validated_data["query"],
            top_k=serializer.validated_data["top_k"],
            mode=serializer.validated_data.get("mode"),
        )
        return Response(BotSearchResponseSerializer({"mode": mode, "results": hits}).data)

    @extend_schema(
        methods=["POST"],
        operation_id="bots_widget_enable",
        description="Switch public embedding on (a publishable key is created if there is none) and set "
        "the origins whose pages may embed the chat widget.",
        request=WidgetSettingsSerializer,
        responses={200: BotSerializer, **errors(400, 401, 404, 413, 415)},
    )
    @extend_schema(
        methods=["DELETE"],
        operation_id="bots_widget_revoke",
        description="Revoke the widget's key: every page using it stops at once; visitors' conversations "
        "are deleted.",
        request=None,
        responses={200: BotSerializer, **errors(401, 404)},
    )
    @action(detail=True, methods=["post", "delete"], parser_classes=[StrictJSONParser])
    def widget(self, request: Request, pk: str | None = None) -> Response:
        bot = self.get_object()
        if request.method == "DELETE":
            return Response(BotSerializer(bot_widget_revoke(bot=bot)).data)
        serializer = WidgetSettingsSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        bot = bot_widget_enable(bot=bot, origins=serializer.validated_data["allowed_origins"])
        return Response(BotSerializer(bot).data)


@extend_schema_view(
    list=extend_schema(
        parameters=[BOT_FILTER, SOURCE_FILTER], responses={200: DocumentSerializer, **list_errors()}
    ),
    retrieve=extend_schema(responses={200: DocumentSerializer, **errors(401, 404, 405)}),
    destroy=extend_schema(
        description="Deletes the document and its vectors; if the AI service is down (503) "
        "nothing is deleted.",
        responses={204: None, **errors(401, 404, 405, 502, 503)},
    ),
)
class DocumentViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet[Document],
):
    serializer_class = DocumentSerializer
    parser_classes = [MultiPartParser]

    def get_queryset(self) -> QuerySet[Document]:
        if getattr(self, "swagger_fake_view", False):  # schema generation has no user
            return Document.objects.none()
        filters: dict[str, UUID] = {}
        if self.action == "list":
            serializer = DocumentFilterSerializer(data=self.request.query_params)
            serializer.is_valid(raise_exception=True)
            filters = {f"{name}_id": value for name, value in serializer.validated_data.items()}
        return selectors.document_list(owner=_current_user(self.request), **filters)

    @extend_schema(
        description=f"Upload a {SUPPORTED_EXTENSIONS} file; it is processed in the background "
        f"(status PROCESSING → READY | ERROR). At most MAX_UPLOAD_BYTES ({settings.MAX_UPLOAD_BYTES}) bytes. "
        "A bot id that is not yours is a 400 on the field `bot`.",
        request={"multipart/form-data": DocumentUploadSerializer},
        responses={202: DocumentSerializer, **errors(400, 401, 413, 415)},
    )
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        ensure_body_fits(request.META, limit=settings.DATA_UPLOAD_MAX_MEMORY_SIZE)
        serializer = DocumentUploadSerializer(data=request.data, context=self.get_serializer_context())
        serializer.is_valid(raise_exception=True)
        document = document_create_from_file(
            bot=serializer.validated_data["bot"], uploaded_file=serializer.validated_data["file"]
        )
        return Response(DocumentSerializer(document).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(
        description="Train the bot on pasted text; processed in the background like an upload.",
        request=TrainTextSerializer,
        responses={202: DocumentSerializer, **errors(400, 401, 413, 415)},
    )
    @action(detail=False, methods=["post"], url_path="train_text", parser_classes=[StrictJSONParser])
    def train_text(self, request: Request) -> Response:
        serializer = TrainTextSerializer(data=request.data, context=self.get_serializer_context())
        serializer.is_valid(raise_exception=True)
        document = document_create_from_text(
            bot=serializer.validated_data["bot"],
            text=serializer.validated_data["text"],
            name=serializer.validated_data.get("name"),
        )
        return Response(DocumentSerializer(document).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(
        description="Process a document in status ERROR again (409 for any other status).",
        request=None,
        responses={202: DocumentSerializer, **errors(401, 404, 409)},
    )
    @action(detail=True, methods=["post"], parser_classes=[StrictJSONParser])
    def retry(self, request: Request, pk: str | None = None) -> Response:
        document = document_retry(document=self.get_object())
        return Response(DocumentSerializer(document).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(
        description="The document's chunks, in order: the passages the bot retrieves and cites.",
        responses={200: ChunkSerializer(many=True), **errors(401, 404, 405)},
    )
    @action(detail=True, methods=["get"])
    def chunks(self, request: Request, pk: str | None = None) -> Response:
        chunks = selectors.chunk_list(document=self.get_object())
        paginator = self.paginator
        assert paginator is not None  # the API always paginates lists
        page = paginator.paginate_queryset(chunks, request, view=self)
        return paginator.get_paginated_response(ChunkSerializer(page, many=True).data)

    def perform_destroy(self, instance: Document) -> None:
        document_delete(document=instance)


@extend_schema_view(
    list=extend_schema(parameters=[BOT_FILTER], responses={200: ConversationSerializer, **list_errors()}),
    retrieve=extend_schema(responses={200: ConversationDetailSerializer, **errors(401, 404)}),
    destroy=extend_schema(responses={204: None, **errors(401, 404)}),
)
class ConversationViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet[Conversation],
):
    serializer_class = ConversationSerializer

    def get_queryset(self) -> QuerySet[Conversation]:
        if getattr(self, "swagger_fake_view", False):  # schema generation has no user
            return Conversation.objects.none()
        bot_id = _bot_filter(self.request) if self.action == "list" else None
        conversations = selectors.conversation_list(owner=_current_user(self.request), bot_id=bot_id)
        if self.action == "retrieve":
            conversations = conversations.prefetch_related("messages")
        return conversations

    def get_serializer_class(self) -> type[BaseSerializer[Conversation]]:
        return ConversationDetailSerializer if self.action == "retrieve" else ConversationSerializer

    @extend_schema(
        description="A bot id that is not yours is a 400 on the field `bot`.",
        request=ConversationCreateSerializer,
        responses={201: ConversationSerializer, **errors(400, 401, 413, 415)},
    )
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        serializer = ConversationCreateSerializer(data=request.data, context=self.get_serializer_context())
        serializer.is_valid(raise_exception=True)
        conversation = conversation_create(
            owner=_current_user(request),
            bot=serializer.validated_data["bot"],
            title=serializer.validated_data.get("title", ""),
        )
        return Response(ConversationSerializer(conversation).data, status=status.HTTP_201_CREATED)

    def perform_destroy(self, instance: Conversation) -> None:
        conversation_delete(conversation=instance)


@extend_schema_view(
    list=extend_schema(parameters=[BOT_FILTER], responses={200: WebsiteSourceSerializer, **list_errors()}),
    retrieve=extend_schema(responses={200: WebsiteSourceSerializer, **errors(401, 404)}),
    destroy=extend_schema(
        description="Deletes the source and its pages with their vectors; if the AI service is down (503) "
        "the pages not yet deleted are kept.",
        responses={204: None, **errors(401, 404, 502, 503)},
    ),
)
class WebsiteSourceViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet[WebsiteSource],
):
    """A website a bot learns from; its pages are documents (`GET documents/?source=<id>`)."""

    serializer_class = WebsiteSourceSerializer

    def get_queryset(self) -> QuerySet[WebsiteSource]:
        if getattr(self, "swagger_fake_view", False):  # schema generation has no user
            return WebsiteSource.objects.none()
        bot_id = _bot_filter(self.request) if self.action == "list" else None
        return selectors.website_source_list(owner=_current_user(self.request), bot_id=bot_id)

    @extend_schema(
        description="Crawl a website into the bot: pages of the start URL's scheme and host (robots.txt "
        "obeyed, within the CRAWL_* limits), each stored as a document named by its title (status "
        "PROCESSING → READY | ERROR with the reason). Addresses on private, loopback or link-local "
        "networks are never fetched. A bot id that is not yours is a 400 on the field `bot`.",
        request=WebsiteSourceCreateSerializer,
        responses={202: WebsiteSourceSerializer, **errors(400, 401, 413, 415)},
    )
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        serializer = WebsiteSourceCreateSerializer(data=request.data, context=self.get_serializer_context())
        serializer.is_valid(raise_exception=True)
        source = website_source_create(**serializer.validated_data)
        return Response(self._shown(source), status=status.HTTP_202_ACCEPTED)

    @extend_schema(
        description="Crawl again: changed pages are processed again, pages gone from the site are deleted, "
        "new ones added; unchanged pages are left as they are. 409 while a crawl runs.",
        request=None,
        responses={202: WebsiteSourceSerializer, **errors(401, 404, 409)},
    )
    @action(detail=True, methods=["post"], parser_classes=[StrictJSONParser])
    def crawl(self, request: Request, pk: str | None = None) -> Response:
        source = website_source_recrawl(source=self.get_object())
        return Response(self._shown(source), status=status.HTTP_202_ACCEPTED)

    def perform_destroy(self, instance: WebsiteSource) -> None:
        website_source_delete(source=instance)

    def _shown(self, source: WebsiteSource) -> Any:
        """The source as it is now (a crawl may have run already, in-process without a broker)."""
        return WebsiteSourceSerializer(self.get_queryset().get(pk=source.pk)).data
