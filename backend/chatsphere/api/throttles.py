from django.conf import settings
from rest_framework.request import Request
from rest_framework.throttling import SimpleRateThrottle, UserRateThrottle
from rest_framework.views import APIView


class ChatRateThrottle(UserRateThrottle):
    """Per-user limit on chat messages, CHAT_THROTTLE_RATE (e.g. "30/min"), read at request time."""

    scope = "chat"

    def get_rate(self) -> str:
        return str(settings.CHAT_THROTTLE_RATE)


class _WidgetThrottle(SimpleRateThrottle):
    """A widget limit whose rate is the setting named `rate_setting`, read at request time."""

    rate_setting: str

    def get_rate(self) -> str:
        return str(getattr(settings, self.rate_setting))


class WidgetKeyThrottle(_WidgetThrottle):
    """All traffic of one publishable key together, WIDGET_KEY_THROTTLE_RATE: bounds what a key can cost."""

    scope = "widget_key"
    rate_setting = "WIDGET_KEY_THROTTLE_RATE"

    def get_cache_key(self, request: Request, view: APIView) -> str | None:
        if request.method == "OPTIONS":
            return None
        return self.cache_format % {"scope": self.scope, "ident": view.kwargs["key"]}


class WidgetStartThrottle(_WidgetThrottle):
    """New widget conversations per client address, WIDGET_START_THROTTLE_RATE."""

    scope = "widget_start"
    rate_setting = "WIDGET_START_THROTTLE_RATE"

    def get_cache_key(self, request: Request, view: APIView) -> str | None:
        if request.method == "OPTIONS":
            return None
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


class WidgetVisitorThrottle(_WidgetThrottle):
    """Messages per widget visitor (their conversation), WIDGET_VISITOR_THROTTLE_RATE."""

    scope = "widget_visitor"
    rate_setting = "WIDGET_VISITOR_THROTTLE_RATE"

    def get_cache_key(self, request: Request, view: APIView) -> str | None:
        if request.method == "OPTIONS" or request.auth is None:
            return None
        return self.cache_format % {"scope": self.scope, "ident": request.auth.pk}
