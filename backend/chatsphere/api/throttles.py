"""DRF's throttle interface over the rate limits of chatsphere/services/rate_limits.py.

Each throttle names what it counts (its ident) and the setting holding its rate, read at request time; the
counting, its cache keys and its fail-open are the service's.
"""

from django.conf import settings
from rest_framework.request import Request
from rest_framework.throttling import BaseThrottle
from rest_framework.views import APIView

from chatsphere.services.rate_limits import login_attempt_record, rate_limit_hit


class _WindowThrottle(BaseThrottle):
    """A limit of `scope` at the rate in the setting `rate_setting`, per `window_ident`."""

    scope: str
    rate_setting: str
    _wait: float | None = None

    def window_ident(self, request: Request, view: APIView) -> str | None:
        """What is counted; None lets the request through uncounted."""
        raise NotImplementedError

    def allow_request(self, request: Request, view: APIView) -> bool:
        return self.allow_ident(self.window_ident(request, view))

    def allow_ident(self, ident: str | None) -> bool:
        if ident is None:
            return True
        rate = str(getattr(settings, self.rate_setting))
        self._wait = rate_limit_hit(scope=self.scope, ident=ident, rate=rate)
        return self._wait is None

    def wait(self) -> float | None:
        return self._wait


class ChatRateThrottle(_WindowThrottle):
    """Per-user limit on chat messages, CHAT_THROTTLE_RATE (e.g. "30/min")."""

    scope = "chat"
    rate_setting = "CHAT_THROTTLE_RATE"

    def window_ident(self, request: Request, view: APIView) -> str | None:
        user = request.user
        return (
            self.user_ident(user.pk)
            if user is not None and user.is_authenticated
            else self.get_ident(request)
        )

    @staticmethod
    def user_ident(user_id: object) -> str:
        return str(user_id)


class _PerIPThrottle(_WindowThrottle):
    def window_ident(self, request: Request, view: APIView) -> str | None:
        return str(self.get_ident(request))


class RefreshIPThrottle(_PerIPThrottle):
    """Refresh and logout: per client address."""

    scope = "refresh_ip"
    rate_setting = "REFRESH_THROTTLE_RATE"


class RegisterIPThrottle(_PerIPThrottle):
    scope = "register_ip"
    rate_setting = "REGISTER_THROTTLE_RATE"


class LoginThrottle(BaseThrottle):
    """Login attempts per client address and per username (the admin's login form counts in the same
    windows, chatsphere/admin_site.py)."""

    _wait: float | None = None

    def allow_request(self, request: Request, view: APIView) -> bool:
        username = request.data.get("username") if hasattr(request.data, "get") else None
        self._wait = login_attempt_record(
            address=str(self.get_ident(request)),
            # Not a string: the serializer answers 400 for it, and no account's count is touched.
            username=username if isinstance(username, str) else "",
        )
        return self._wait is None

    def wait(self) -> float | None:
        return self._wait


class WidgetKeyThrottle(_WindowThrottle):
    """All traffic of one publishable key together, WIDGET_KEY_THROTTLE_RATE: bounds what a key can cost."""

    scope = "widget_key"
    rate_setting = "WIDGET_KEY_THROTTLE_RATE"

    def window_ident(self, request: Request, view: APIView) -> str | None:
        if request.method == "OPTIONS":
            return None
        return str(view.kwargs["key"])


class WidgetStartThrottle(_WindowThrottle):
    """New widget conversations per client address, WIDGET_START_THROTTLE_RATE."""

    scope = "widget_start"
    rate_setting = "WIDGET_START_THROTTLE_RATE"

    def window_ident(self, request: Request, view: APIView) -> str | None:
        if request.method == "OPTIONS":
            return None
        return str(self.get_ident(request))


class WidgetVisitorThrottle(_WindowThrottle):
    """Messages per widget visitor (their conversation), WIDGET_VISITOR_THROTTLE_RATE."""

    scope = "widget_visitor"
    rate_setting = "WIDGET_VISITOR_THROTTLE_RATE"

    def window_ident(self, request: Request, view: APIView) -> str | None:
        if request.method == "OPTIONS" or request.auth is None:
            return None
        return str(request.auth.pk)
