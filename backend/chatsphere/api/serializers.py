"""Request validation and response shapes. No business logic: views hand validated data to services."""

import re
import uuid
from collections.abc import Mapping
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from django.core.validators import RegexValidator, URLValidator
from django.db import models
from django.db.models import QuerySet
from rest_framework import serializers
from rest_framework.fields import empty
from rest_framework.utils import html
from rest_framework_simplejwt.serializers import TokenObtainPairSerializer, TokenRefreshSerializer

from chatsphere.models import Bot, Chunk, Conversation, Document, Message, WebsiteSource
from chatsphere.selectors import bot_list
from chatsphere.services.agent_client import MAX_CHAT_MESSAGE_CHARS
from chatsphere.services.bots import BOT_EDITABLE_FIELDS
from chatsphere.services.document_service import SUPPORTED_EXTENSIONS
from chatsphere.services.widgets import MAX_WIDGET_ORIGINS

# The canonical 8-4-4-4-12 form the schema's `format: uuid` means; Python's UUID() also takes braces,
# "urn:uuid:" and missing hyphens.
_CANONICAL_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.ASCII | re.I)


class StrictUUIDField(serializers.UUIDField):
    """Only a UUID in its canonical hyphenated form, as a JSON string.

    In a query string an empty value counts too: DRF's form handling would drop `?bot=` as if absent.
    """

    def get_value(self, dictionary: Mapping[str, Any]) -> Any:
        if html.is_html_input(dictionary) and self.field_name is not None:
            return dictionary.get(self.field_name, empty)
        return super().get_value(dictionary)

    def to_internal_value(self, data: Any) -> uuid.UUID:
        if not isinstance(data, str) or not _CANONICAL_UUID.fullmatch(data):
            self.fail("invalid", value=data)
        return uuid.UUID(data)


class OwnedBotField(serializers.PrimaryKeyRelatedField):  # type: ignore[type-arg]
    """A bot id that must belong to the requesting user; a foreign or unknown id is a 400 on this field.

    That 400 is by design and cannot be written in a schema: fuzz/schemathesis.toml accepts it.
    """

    default_error_messages = {"does_not_exist": "You have no bot with id {pk_value}."}

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(pk_field=StrictUUIDField(), **kwargs)

    def get_queryset(self) -> QuerySet[Bot]:
        return bot_list(owner=self.context["request"].user)


class ErrorBodySerializer(serializers.Serializer[Any]):
    code = serializers.CharField(help_text="Stable snake_case identifier, e.g. validation_error.")
    message = serializers.CharField(help_text="A sentence for a person.")
    details = serializers.ListField(
        child=serializers.DictField(), allow_null=True, help_text="Field errors: [{field, message, code}]."
    )


class ErrorSerializer(serializers.Serializer[Any]):
    error = ErrorBodySerializer()


class UserSerializer(serializers.ModelSerializer[Any]):
    class Meta:
        model = get_user_model()
        fields = ["id", "username", "email"]
        read_only_fields = fields


NO_NUL_PATTERN = r"^[^\u0000]+$"
NO_NUL_CHARACTER = RegexValidator(NO_NUL_PATTERN, "Null characters are not allowed.", code="null_characters")
# What DRF's trimming strips (Python's str.isspace()), spelled out: the schema's readers use ECMA-262 regexes,
# whose \s is another set (it lacks U+001C-U+001F and U+0085, and has U+FEFF).
_STRIPPED = r"\t\n\v\f\r\u001c-\u001f \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
NOT_BLANK_PATTERN = rf"^[^\u0000]*[^\u0000{_STRIPPED}][^\u0000]*$"
NOT_BLANK_NO_NUL = RegexValidator(NOT_BLANK_PATTERN, "This field may not be blank.", code="blank")


class StrictCharField(serializers.CharField):
    """Only a JSON string: DRF's CharField also takes numbers (`0` becomes "0"), which the schema forbids.

    DRF refuses NUL characters in every CharField, and a trimmed field that may not be blank refuses one of
    only whitespace; the validator's pattern makes the schema say so (found by schemathesis: `"name": "\\r"`
    was schema-valid and a 400).
    """

    def __init__(self, **kwargs: Any) -> None:
        trimmed_and_required = kwargs.get("trim_whitespace", True) and not kwargs.get("allow_blank", False)
        pattern = NOT_BLANK_NO_NUL if trimmed_and_required else NO_NUL_CHARACTER
        kwargs["validators"] = [*kwargs.get("validators", ()), pattern]
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


# Django's password validators (common, too similar to the username, all digits) cannot be written in a
# schema; everything else about these fields can, so the schema says it.
PASSWORD_MIN_CHARS = 8
PASSWORD_MAX_CHARS = 128


def _username_field(**kwargs: Any) -> StrictCharField:
    """A username as Django's User model takes it (letters, digits, . @ + - _; at most 150), untrimmed.

    Untrimmed because the model's pattern must see what the client sent: " ann" is not a username.
    """
    model_field = User._meta.get_field("username")
    validators = list(model_field.validators)
    return StrictCharField(
        max_length=model_field.max_length, validators=validators, trim_whitespace=False, **kwargs
    )


def _password_field(**kwargs: Any) -> StrictCharField:
    return StrictCharField(trim_whitespace=False, write_only=True, style={"input_type": "password"}, **kwargs)


class RegisterSerializer(serializers.Serializer[Any]):
    username = _username_field()
    email = serializers.EmailField(max_length=254)
    password = _password_field(min_length=PASSWORD_MIN_CHARS, max_length=PASSWORD_MAX_CHARS)


# simplejwt's login with fields that say what they take: the password is never trimmed (register keeps its
# spaces, so login must too), and a username that register could never have created is a 400, not a 401.
class LoginSerializer(TokenObtainPairSerializer):
    """A username and password, taken exactly as typed."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields[self.username_field] = _username_field(write_only=True)
        self.fields["password"] = _password_field()


class RefreshSerializer(TokenRefreshSerializer):
    """A refresh token; one that is not valid is a 401."""

    refresh = StrictCharField(write_only=True)


class LogoutSerializer(serializers.Serializer[Any]):
    refresh = StrictCharField(write_only=True)


class TokenPairSerializer(serializers.Serializer[Any]):
    access = serializers.CharField()
    refresh = serializers.CharField()


class StrictBooleanField(serializers.BooleanField):
    """Only JSON true/false: DRF's BooleanField also takes 0, 1, "yes", "on", ... which the schema forbids."""

    def to_internal_value(self, data: Any) -> bool:
        if not isinstance(data, bool):
            self.fail("invalid", input=data)
        return data


class StrictIntegerField(serializers.IntegerField):
    """Only a JSON integer: DRF's IntegerField also takes "3" and true. 3.0 is one, as JSON Schema says."""

    def to_internal_value(self, data: Any) -> int:
        if isinstance(data, bool) or not (
            isinstance(data, int) or (isinstance(data, float) and data.is_integer())
        ):
            self.fail("invalid")
        return super().to_internal_value(int(data))


class StrictFloatField(serializers.FloatField):
    """Only a JSON number: DRF's FloatField also takes false, true and numeric strings like "0.5"."""

    def to_internal_value(self, data: Any) -> float:
        if isinstance(data, bool) or not isinstance(data, int | float):
            self.fail("invalid")
        return super().to_internal_value(data)


class BotSerializer(serializers.ModelSerializer[Bot]):
    # Each field takes only the JSON type the schema states: DRF would turn 0 into "0", false into 0.0.
    serializer_field_mapping = {
        **serializers.ModelSerializer.serializer_field_mapping,
        models.CharField: StrictCharField,
        models.TextField: StrictCharField,
        models.FloatField: StrictFloatField,
        models.BooleanField: StrictBooleanField,
        models.PositiveSmallIntegerField: StrictIntegerField,
    }

    class Meta:
        model = Bot
        fields = ["id", *BOT_EDITABLE_FIELDS, "widget_key", "widget_origins", "created_at", "updated_at"]
        read_only_fields = ["id", "widget_key", "widget_origins", "created_at", "updated_at"]
        extra_kwargs = {
            "widget_key": {
                "help_text": "The publishable key of the chat widget; null while embedding is off."
            },
            "widget_origins": {
                "help_text": "Web origins (scheme://host[:port]) allowed to embed the widget."
            },
        }


# An origin as browsers send it: scheme, host and optional port, nothing else.
_ORIGIN = RegexValidator(
    r"^[Hh][Tt][Tt][Pp][Ss]?://[A-Za-z0-9.-]+(:[0-9]{1,5})?/?$", "An origin is scheme://host[:port]."
)


class WidgetSettingsSerializer(serializers.Serializer[Any]):
    allowed_origins = serializers.ListField(
        child=StrictCharField(max_length=200, validators=[_ORIGIN]),
        max_length=MAX_WIDGET_ORIGINS,
        help_text="The web origins whose pages may embed the widget, e.g. https://shop.example.",
    )


class DocumentSerializer(serializers.ModelSerializer[Document]):
    # A string, not a `uri`: an upload's is blank, which is no URI (schemathesis: a schema-violating answer).
    url = serializers.CharField(
        read_only=True, help_text="The page's address, for a page of a website source; blank otherwise."
    )

    class Meta:
        model = Document
        fields = [
            "id",
            "bot",
            "source",
            "url",
            "name",
            "content_type",
            "status",
            "error_message",
            "chunk_count",
            "content_hash",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields
        extra_kwargs = {
            "source": {"help_text": "The website source this page was crawled from; null for uploads."},
        }


class ChunkSerializer(serializers.ModelSerializer[Chunk]):
    class Meta:
        model = Chunk
        fields = ["index", "content"]
        read_only_fields = fields


class DocumentUploadSerializer(serializers.Serializer[Any]):
    bot = OwnedBotField()
    file = serializers.FileField(max_length=255, help_text=SUPPORTED_EXTENSIONS)


class TrainTextSerializer(serializers.Serializer[Any]):
    bot = OwnedBotField()
    name = StrictCharField(max_length=255, required=False, allow_blank=True)
    text = StrictCharField()


class BotFilterSerializer(serializers.Serializer[Any]):
    bot = StrictUUIDField(required=False)


class DocumentFilterSerializer(BotFilterSerializer):
    # DRF's metaclass takes declared fields out of the class, so this never shadows Field.source at runtime.
    source = StrictUUIDField(required=False)  # type: ignore[assignment]


MAX_URL_CHARS = 2000
_WEB_URL = URLValidator(schemes=["http", "https"], message="Enter an http:// or https:// address.")
# What the schema can say of an address; URLValidator decides the rest (a 400 on the field).
_WEB_URL_PATTERN = RegexValidator(r"^[Hh][Tt][Tt][Pp][Ss]?://[^\s/?#]+([/?#][^\s]*)?$", _WEB_URL.message)
MAX_RECRAWL_INTERVAL_HOURS = 24 * 365


def _web_url_field(**kwargs: Any) -> StrictCharField:
    return StrictCharField(max_length=MAX_URL_CHARS, validators=[_WEB_URL_PATTERN, _WEB_URL], **kwargs)


class WebsiteSourceSerializer(serializers.ModelSerializer[WebsiteSource]):
    page_count = serializers.IntegerField(read_only=True, help_text="Pages stored, in any status.")

    class Meta:
        model = WebsiteSource
        fields = [
            "id",
            "bot",
            "start_url",
            "sitemap_url",
            "status",
            "message",
            "recrawl_interval_hours",
            "page_count",
            "crawl_started_at",
            "crawled_at",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class WebsiteSourceCreateSerializer(serializers.Serializer[Any]):
    bot = OwnedBotField()
    start_url = _web_url_field(
        help_text="Where the crawl starts; pages of the same scheme and host are read."
    )
    sitemap_url = _web_url_field(required=False, help_text="Optional sitemap on the same site.")
    recrawl_interval_hours = StrictIntegerField(
        min_value=1,
        max_value=MAX_RECRAWL_INTERVAL_HOURS,
        required=False,
        allow_null=True,
        help_text="Crawl again this often; omitted or null: only when asked.",
    )


class SourceSerializer(serializers.Serializer[Any]):
    document_id = serializers.UUIDField()
    document_name = serializers.CharField(
        allow_null=True, help_text="The cited document's name when the answer was given; null if it was gone."
    )
    chunk_index = serializers.IntegerField(min_value=0)
    score = serializers.FloatField()
    text = serializers.CharField()


class MessageSerializer(serializers.ModelSerializer[Message]):
    sources = SourceSerializer(many=True, read_only=True)

    class Meta:
        model = Message
        fields = ["id", "role", "content", "sources", "complete", "created_at"]
        read_only_fields = fields


class ConversationSerializer(serializers.ModelSerializer[Conversation]):
    class Meta:
        model = Conversation
        fields = ["id", "bot", "title", "created_at", "updated_at"]
        read_only_fields = fields


class ConversationDetailSerializer(ConversationSerializer):
    messages = MessageSerializer(many=True, read_only=True)

    class Meta(ConversationSerializer.Meta):
        fields = [*ConversationSerializer.Meta.fields, "messages"]
        read_only_fields = fields


class ConversationCreateSerializer(serializers.Serializer[Any]):
    bot = OwnedBotField()
    title = StrictCharField(max_length=200, required=False, allow_blank=True)


class ChatRequestSerializer(serializers.Serializer[Any]):
    message = StrictCharField(max_length=MAX_CHAT_MESSAGE_CHARS)


class ChatReplySerializer(serializers.Serializer[Any]):
    user_message = MessageSerializer()
    bot_message = MessageSerializer()


RETRIEVAL_MODES = ["dense", "lexical", "hybrid"]
MAX_SEARCH_TOP_K = 100  # the agent's limit (chatsphere_agent/schemas.py SearchRequest)


class BotSearchRequestSerializer(serializers.Serializer[Any]):
    query = StrictCharField(max_length=MAX_CHAT_MESSAGE_CHARS)
    top_k = StrictIntegerField(
        min_value=1,
        max_value=MAX_SEARCH_TOP_K,
        default=10,
        help_text=f"How many chunks to return, best first: 1 to {MAX_SEARCH_TOP_K} (100 lets an evaluation "
        "measure recall@100).",
    )
    mode = serializers.ChoiceField(
        choices=RETRIEVAL_MODES,
        required=False,
        help_text="dense (by meaning), lexical (BM25, by words) or hybrid (both fused); omitted: the AI "
        "service's default (hybrid unless it runs dense only).",
    )


class SearchHitSerializer(serializers.Serializer[Any]):
    document_id = serializers.UUIDField(source="hit.document_id")
    document_name = serializers.CharField(allow_null=True, help_text="null if the document is gone.")
    chunk_index = serializers.IntegerField(source="hit.chunk_index", min_value=0)
    text = serializers.CharField(source="hit.text")
    score = serializers.FloatField(source="hit.score", help_text="The mode's score; higher is better.")
    dense_score = serializers.FloatField(
        source="hit.dense_score", allow_null=True, help_text="Cosine similarity."
    )
    lexical_score = serializers.FloatField(
        source="hit.lexical_score", allow_null=True, help_text="BM25 score."
    )


class BotSearchResponseSerializer(serializers.Serializer[Any]):
    mode = serializers.ChoiceField(choices=RETRIEVAL_MODES, help_text="The mode the AI service searched.")
    results = SearchHitSerializer(many=True)


class WidgetBotSerializer(serializers.ModelSerializer[Bot]):
    """What a widget shows of its bot: nothing of the owner's data beyond a name and a greeting."""

    class Meta:
        model = Bot
        fields = ["name", "welcome_message"]
        read_only_fields = fields


class WidgetConversationSerializer(serializers.ModelSerializer[Conversation]):
    messages = MessageSerializer(many=True, read_only=True)

    class Meta:
        model = Conversation
        fields = ["id", "messages"]
        read_only_fields = fields


class WidgetStartSerializer(serializers.Serializer[Any]):
    visitor_token = serializers.CharField(
        help_text="Send it as the X-Visitor-Token header: it alone opens this conversation."
    )
    conversation = WidgetConversationSerializer()


class AgentHealthSerializer(serializers.Serializer[Any]):
    status = serializers.ChoiceField(choices=["ok", "unavailable"])
    providers = serializers.DictField(
        child=serializers.CharField(),
        allow_null=True,
        help_text="The kind of each provider the AI service runs on (embeddings, vector_store, llm), e.g. "
        '"chroma"; null when it is unavailable.',
    )


class HealthSerializer(serializers.Serializer[Any]):
    status = serializers.ChoiceField(
        choices=["ok", "degraded"],
        help_text="degraded: the AI service, Redis or the broker is unavailable; the API itself works.",
    )
    database = serializers.ChoiceField(choices=["ok"])
    redis = serializers.ChoiceField(
        choices=["ok", "unavailable", "not_configured"],
        help_text="The cache holding rate-limit counters; when unavailable, limits are not applied.",
    )
    broker = serializers.ChoiceField(
        choices=["ok", "unavailable", "not_configured"],
        help_text="The Celery broker; when unavailable, uploads end ERROR (retry later). "
        "not_configured: ingestion runs in the API process.",
    )
    agent = AgentHealthSerializer()
