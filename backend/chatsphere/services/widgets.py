"""Public embedding of a bot: its publishable key, the origins allowed to use it, and visitors' conversations.

The key names the bot and grants only what the widget endpoints do with it: start a conversation, read it
and chat in it. A visitor holds a random token for their own conversation; only its sha256 is stored.
"""

import hashlib
import secrets
from collections.abc import Sequence

from django.db import transaction

from chatsphere.models import Bot, Conversation
from chatsphere.services.exceptions import OriginNotAllowedError, WidgetNotFoundError

WIDGET_KEY_PREFIX = "pk_"
MAX_WIDGET_ORIGINS = 20


def _new_key() -> str:
    return WIDGET_KEY_PREFIX + secrets.token_urlsafe(24)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def bot_widget_enable(*, bot: Bot, origins: Sequence[str]) -> Bot:
    """Switch public embedding on (a new key if it was off) and set the allowed origins."""
    if bot.widget_key is None:
        bot.widget_key = _new_key()
    bot.widget_origins = sorted({origin.lower().rstrip("/") for origin in origins})
    bot.save(update_fields=["widget_key", "widget_origins", "updated_at"])
    return bot


def bot_widget_revoke(*, bot: Bot) -> Bot:
    """Switch public embedding off: the key stops working at once; visitors' conversations are deleted."""
    with transaction.atomic():
        bot.widget_key = None
        bot.save(update_fields=["widget_key", "updated_at"])
        Conversation.objects.filter(bot=bot, owner__isnull=True).delete()
    return bot


def widget_bot_get(*, key: str, origin: str | None) -> Bot:
    """The bot whose live key this is, if `origin` may use it.

    A request without an Origin header is not a browser's cross-origin call; CORS only binds browsers.
    """
    bot = Bot.objects.filter(widget_key=key).first() if key.startswith(WIDGET_KEY_PREFIX) else None
    if bot is None:
        raise WidgetNotFoundError("This chat widget is not available: its key is unknown or was revoked.")
    if origin is not None and origin.lower() not in bot.widget_origins:
        raise OriginNotAllowedError("This site is not allowed to embed this chat widget.")
    return bot


def widget_conversation_start(*, bot: Bot) -> tuple[Conversation, str]:
    """A new anonymous conversation with `bot` and the visitor token that alone gives access to it."""
    token = secrets.token_urlsafe(32)
    conversation = Conversation.objects.create(bot=bot, owner=None, visitor_token_hash=token_hash(token))
    return conversation, token


def widget_conversation_get(*, bot: Bot, visitor_token: str) -> Conversation | None:
    """The visitor's own conversation with this bot; None for any other token (or another bot's)."""
    return Conversation.objects.filter(
        bot=bot, owner__isnull=True, visitor_token_hash=token_hash(visitor_token)
    ).first()
