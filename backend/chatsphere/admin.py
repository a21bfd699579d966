from django.contrib import admin

from chatsphere.models import Bot, Conversation, Document, Message


@admin.register(Bot)
class BotAdmin(admin.ModelAdmin[Bot]):
    list_display = ["name", "owner", "is_active", "created_at"]
    list_filter = ["is_active"]
    search_fields = ["name", "owner__username"]


@admin.register(Document)
class DocumentAdmin(admin.ModelAdmin[Document]):
    list_display = ["name", "bot", "status", "chunk_count", "created_at"]
    list_filter = ["status"]
    search_fields = ["name"]
    readonly_fields = ["content_hash", "chunk_count"]


class MessageInline(admin.TabularInline[Message, Conversation]):
    model = Message
    extra = 0
    readonly_fields = ["role", "content", "sources", "created_at"]


@admin.register(Conversation)
class ConversationAdmin(admin.ModelAdmin[Conversation]):
    list_display = ["__str__", "bot", "owner", "updated_at"]
    inlines = [MessageInline]
