"""Request validation and response shapes. No business logic: views hand validated data to services."""

from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import QuerySet
from rest_framework import serializers

from chatsphere.models import Bot, Conversation, Document, Message
from chatsphere.selectors import bot_list

MAX_CHAT_MESSAGE_CHARS = 8000  # the agent's limit (chatsphere_agent/schemas.py MAX_MESSAGE_CHARS)


class OwnedBotField(serializers.PrimaryKeyRelatedField):  # type: ignore[type-arg]
    """A bot id that must belong to the requesting user; a foreign or unknown id is a 400 on this field."""

    default_error_messages = {"does_not_exist": "You have no bot with id {pk_value}."}

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(pk_field=serializers.UUIDField(), **kwargs)

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


class RegisterSerializer(serializers.Serializer[Any]):
    username = serializers.CharField(max_length=150)
    email = serializers.EmailField(max_length=254)
    password = serializers.CharField(write_only=True, min_length=8, max_length=128, trim_whitespace=False)


class TokenPairSerializer(serializers.Serializer[Any]):
    access = serializers.CharField()
    refresh = serializers.CharField()


class AccessTokenSerializer(serializers.Serializer[Any]):
    access = serializers.CharField()


class StrictBooleanField(serializers.BooleanField):
    """Only JSON true/false: DRF's BooleanField also takes 0, 1, "yes", "on", ... which the schema forbids."""

    def to_internal_value(self, data: Any) -> bool:
        if not isinstance(data, bool):
            self.fail("invalid", input=data)
        return data


class BotSerializer(serializers.ModelSerializer[Bot]):
    is_active = StrictBooleanField(required=False)

    class Meta:
        model = Bot
        fields = [
            "id",
            "name",
            "description",
            "welcome_message",
            "system_prompt",
            "model",
            "temperature",
            "is_active",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["id", "created_at", "updated_at"]


class DocumentSerializer(serializers.ModelSerializer[Document]):
    class Meta:
        model = Document
        fields = [
            "id",
            "bot",
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


class DocumentUploadSerializer(serializers.Serializer[Any]):
    bot = OwnedBotField()
    file = serializers.FileField(max_length=255, help_text=".txt, .md, .pdf or .docx")


class TrainTextSerializer(serializers.Serializer[Any]):
    bot = OwnedBotField()
    name = serializers.CharField(max_length=255, required=False, allow_blank=True)
    text = serializers.CharField()


class BotFilterSerializer(serializers.Serializer[Any]):
    bot = serializers.UUIDField(required=False)


class SourceSerializer(serializers.Serializer[Any]):
    document_id = serializers.UUIDField()
    chunk_index = serializers.IntegerField(min_value=0)
    score = serializers.FloatField()
    text = serializers.CharField()


class MessageSerializer(serializers.ModelSerializer[Message]):
    sources = SourceSerializer(many=True, read_only=True)

    class Meta:
        model = Message
        fields = ["id", "role", "content", "sources", "created_at"]
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
    title = serializers.CharField(max_length=200, required=False, allow_blank=True)


class ChatRequestSerializer(serializers.Serializer[Any]):
    message = serializers.CharField(max_length=MAX_CHAT_MESSAGE_CHARS)


class ChatReplySerializer(serializers.Serializer[Any]):
    user_message = MessageSerializer()
    bot_message = MessageSerializer()
