"""ChatSphere's data: bots, the documents they learn from, and the conversations users have with them."""

import uuid

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models

# The agent accepts model names of this form (chatsphere_agent/schemas.py ChatRequest.model).
MODEL_NAME_VALIDATOR = RegexValidator(
    r"^[A-Za-z0-9][A-Za-z0-9._:/-]*$", "Use letters, digits and . _ : / - (e.g. gemini-2.5-flash)."
)
MAX_TEMPERATURE = 2.0
MAX_SYSTEM_PROMPT_CHARS = 8000
# The agent's limits for retrieval (chatsphere_agent/schemas.py ChatRequest.top_k and min_score).
MAX_RETRIEVAL_TOP_K = 20
DEFAULT_RETRIEVAL_TOP_K = 4
DEFAULT_RETRIEVAL_MIN_SCORE = 0.25


class TimeStampedModel(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True


class Bot(TimeStampedModel):
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="bots")
    name = models.CharField(max_length=100)
    description = models.TextField(blank=True, max_length=2000)
    welcome_message = models.CharField(max_length=500, blank=True)
    system_prompt = models.TextField(blank=True, max_length=MAX_SYSTEM_PROMPT_CHARS)
    model = models.CharField(
        max_length=100, blank=True, validators=[MODEL_NAME_VALIDATOR], help_text="Blank: the agent's default."
    )
    temperature = models.FloatField(
        default=0.7, validators=[MinValueValidator(0.0), MaxValueValidator(MAX_TEMPERATURE)]
    )
    is_active = models.BooleanField(default=True)
    retrieval_top_k = models.PositiveSmallIntegerField(
        default=DEFAULT_RETRIEVAL_TOP_K,
        validators=[MinValueValidator(1), MaxValueValidator(MAX_RETRIEVAL_TOP_K)],
        help_text="How many passages the agent retrieves for an answer.",
    )
    retrieval_min_score = models.FloatField(
        default=DEFAULT_RETRIEVAL_MIN_SCORE,
        validators=[MinValueValidator(0.0), MaxValueValidator(1.0)],
        help_text="Relevance floor: passages scoring below it are never used or cited.",
    )
    # Public embedding: a publishable key (null: the widget is off) and the web origins that may use it.
    widget_key = models.CharField(max_length=64, unique=True, null=True, blank=True, editable=False)
    widget_origins = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(temperature__gte=0.0, temperature__lte=MAX_TEMPERATURE),
                name="bot_temperature_range",
            ),
            models.CheckConstraint(
                condition=models.Q(retrieval_min_score__gte=0.0, retrieval_min_score__lte=1.0),
                name="bot_retrieval_min_score_range",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class WebsiteSource(TimeStampedModel):
    """A website a bot learns from: crawled from `start_url` (and its sitemap), each page a Document."""

    class Status(models.TextChoices):
        CRAWLING = "CRAWLING", "Crawling"
        READY = "READY", "Ready"
        ERROR = "ERROR", "Error"

    bot = models.ForeignKey(Bot, on_delete=models.CASCADE, related_name="website_sources")
    start_url = models.URLField(max_length=2000, help_text="Pages of its scheme and host are crawled.")
    sitemap_url = models.URLField(max_length=2000, blank=True, help_text="Optional; on the same site.")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.CRAWLING)
    message = models.TextField(
        blank=True, help_text="Why the crawl failed (ERROR), or a limit it stopped at (READY)."
    )
    recrawl_interval_hours = models.PositiveIntegerField(
        null=True, blank=True, help_text="Crawl again this often (null: only when asked)."
    )
    crawl_started_at = models.DateTimeField(null=True, blank=True)
    crawled_at = models.DateTimeField(null=True, blank=True, help_text="When the last crawl finished.")

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.start_url


def document_upload_path(instance: "Document", filename: str) -> str:
    # The stored name never reuses the client's file name: it only keeps the (validated) extension.
    suffix = filename.rsplit(".", 1)[-1].lower() if "." in filename else "bin"
    return f"documents/{instance.bot_id}/{instance.id}.{suffix}"


class Document(TimeStampedModel):
    class Status(models.TextChoices):
        PROCESSING = "PROCESSING", "Processing"
        READY = "READY", "Ready"
        ERROR = "ERROR", "Error"

    bot = models.ForeignKey(Bot, on_delete=models.CASCADE, related_name="documents")
    name = models.CharField(max_length=255)
    file = models.FileField(upload_to=document_upload_path, blank=True, max_length=255)
    text = models.TextField(blank=True, help_text="The source text of documents trained from text.")
    content_type = models.CharField(max_length=100)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PROCESSING)
    error_message = models.TextField(blank=True)
    chunk_count = models.PositiveIntegerField(default=0)
    content_hash = models.CharField(max_length=64, blank=True, help_text="sha256 of the source bytes.")
    ingest_attempts = models.PositiveIntegerField(
        default=0, help_text="Ingestions started since the upload or last retry (see MAX_INGEST_ATTEMPTS)."
    )
    deleting = models.BooleanField(
        default=False, help_text="Set before its vectors are deleted: ingestion then stores no more of them."
    )
    # A page of a website source: its address (the document's text is the page's main text).
    source = models.ForeignKey(
        WebsiteSource, on_delete=models.CASCADE, related_name="pages", null=True, blank=True
    )
    url = models.URLField(max_length=2000, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["bot", "status"])]
        constraints = [
            models.UniqueConstraint(
                fields=["source", "url"],
                condition=models.Q(source__isnull=False),
                name="document_unique_page",
            )
        ]

    def __str__(self) -> str:
        return self.name


class Chunk(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    document = models.ForeignKey(Document, on_delete=models.CASCADE, related_name="chunks")
    index = models.PositiveIntegerField()
    content = models.TextField()
    vector_id = models.CharField(max_length=100, help_text='The agent\'s vector id: "{document_id}#{index}".')

    class Meta:
        ordering = ["document", "index"]
        constraints = [models.UniqueConstraint(fields=["document", "index"], name="chunk_unique_index")]

    def __str__(self) -> str:
        return self.vector_id


class Conversation(TimeStampedModel):
    """A user's conversation with their bot, or an anonymous widget visitor's (no owner, a visitor token)."""

    bot = models.ForeignKey(Bot, on_delete=models.CASCADE, related_name="conversations")
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="conversations",
        null=True,
        blank=True,
    )
    # sha256 of the widget visitor's token: the token itself is only ever in the visitor's browser.
    visitor_token_hash = models.CharField(max_length=64, blank=True, db_index=True)
    title = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["-updated_at"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(owner__isnull=False, visitor_token_hash="")
                | models.Q(owner__isnull=True) & ~models.Q(visitor_token_hash=""),
                name="conversation_owner_xor_visitor",
            )
        ]

    def __str__(self) -> str:
        return self.title or str(self.id)


class Message(models.Model):
    class Role(models.TextChoices):
        USER = "USER", "User"
        BOT = "BOT", "Bot"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="messages")
    role = models.CharField(max_length=4, choices=Role.choices)
    content = models.TextField()
    sources = models.JSONField(default=list, blank=True)
    # False: a streamed answer cut short (the server stopped mid-answer); the content is what had arrived.
    complete = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    idempotency_key = models.CharField(
        max_length=100, blank=True, help_text="The client's Idempotency-Key of the send that stored it."
    )

    class Meta:
        ordering = ["created_at"]
        # A chat turn reads the conversation's latest messages: an index range, however long it grew.
        indexes = [models.Index(fields=["conversation", "created_at"], name="message_conversation_time")]
        constraints = [
            # One user message and one reply per key: resending a failed send reuses them.
            models.UniqueConstraint(
                fields=["conversation", "role", "idempotency_key"],
                condition=~models.Q(idempotency_key=""),
                name="message_unique_idempotency_key",
            )
        ]

    def __str__(self) -> str:
        return f"{self.role}: {self.content[:40]}"
