from django.conf import settings
from rest_framework.throttling import UserRateThrottle


class ChatRateThrottle(UserRateThrottle):
    """Per-user limit on chat messages, CHAT_THROTTLE_RATE (e.g. "30/min"), read at request time."""

    scope = "chat"

    def get_rate(self) -> str:
        return str(settings.CHAT_THROTTLE_RATE)
