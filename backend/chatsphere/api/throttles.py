"""Rate limits, counted in the cache (Redis in production, so every worker process shares the counts).

Each limit is a fixed window counted with the cache's atomic add + incr: DRF's own throttles read, append
and write back a list of timestamps, so concurrent requests in several processes all pass on one empty
list. Rates are read from settings at request time. A limit is a guard, not a dependency: when the cache
does not answer, the request is let through (fail open) and the outage is logged, so a Redis outage does
not take chat or login down with it.
"""

import hashlib
import logging

from django.conf import settings
from django_redis.exceptions import ConnectionInterrupted
from redis.exceptions import RedisError
from rest_framework.request import Request
from rest_framework.throttling import SimpleRateThrottle, UserRateThrottle
from rest_framework.views import APIView

logger = logging.getLogger(__name__)


class _AtomicWindowMixin(SimpleRateThrottle):
    num_requests: int  # set by SimpleRateThrottle.__init__ from the rate
    duration: int

    def allow_request(self, request: Request, view: APIView) -> bool:
        if self.rate is None:
            return True
        self.key = self.get_cache_key(request, view)
        if self.key is None:
            return True
        try:
            self.cache.add(self.key, 0, self.duration)  # opens the window; a no-op while it is open
            try:
                count = int(self.cache.incr(self.key))
            except ValueError:  # the window closed between add and incr
                self.cache.set(self.key, 1, self.duration)
                count = 1
        except (ConnectionInterrupted, RedisError, OSError) as exc:
            logger.warning("throttle %s not applied, no cache: %s", self.scope, type(exc).__name__)
            return True
        return count <= self.num_requests

    def wait(self) -> float:
        """Seconds until the window closes (the cache's TTL where it has one, e.g. Redis)."""
        ttl = getattr(self.cache, "ttl", None)
        try:
            remaining = ttl(self.key) if ttl is not None else None
        except (ConnectionInterrupted, RedisError, OSError):
            remaining = None
        return float(remaining) if remaining and remaining > 0 else float(self.duration)


class ChatRateThrottle(_AtomicWindowMixin, UserRateThrottle):
    """Per-user limit on chat messages, CHAT_THROTTLE_RATE (e.g. "30/min")."""

    scope = "chat"

    def get_rate(self) -> str:
        return str(settings.CHAT_THROTTLE_RATE)


class _SettingRateThrottle(_AtomicWindowMixin):
    """A limit whose rate is the setting named `rate_setting`, read at request time."""

    rate_setting: str

    def get_rate(self) -> str:
        return str(getattr(settings, self.rate_setting))


class _PerIPThrottle(_SettingRateThrottle):
    def get_cache_key(self, request: Request, view: APIView) -> str | None:
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


class LoginIPThrottle(_PerIPThrottle):
    scope = "login_ip"
    rate_setting = "LOGIN_IP_THROTTLE_RATE"


class RefreshIPThrottle(_PerIPThrottle):
    """Refresh and logout: per client address."""

    scope = "refresh_ip"
    rate_setting = "REFRESH_THROTTLE_RATE"


class RegisterIPThrottle(_PerIPThrottle):
    scope = "register_ip"
    rate_setting = "REGISTER_THROTTLE_RATE"


class LoginUsernameThrottle(_SettingRateThrottle):
    """Attempts per account, whichever addresses they come from: a distributed guess of one password."""

    scope = "login_username"
    rate_setting = "LOGIN_USERNAME_THROTTLE_RATE"

    def get_cache_key(self, request: Request, view: APIView) -> str | None:
        username = request.data.get("username") if hasattr(request.data, "get") else None
        if not isinstance(username, str) or not username:
            return None  # the serializer answers 400 for it
        ident = hashlib.sha256(username.casefold().encode()).hexdigest()
        return self.cache_format % {"scope": self.scope, "ident": ident}


class WidgetKeyThrottle(_SettingRateThrottle):
    """All traffic of one publishable key together, WIDGET_KEY_THROTTLE_RATE: bounds what a key can cost."""

    scope = "widget_key"
    rate_setting = "WIDGET_KEY_THROTTLE_RATE"

    def get_cache_key(self, request: Request, view: APIView) -> str | None:
        if request.method == "OPTIONS":
            return None
        return self.cache_format % {"scope": self.scope, "ident": view.kwargs["key"]}


class WidgetStartThrottle(_SettingRateThrottle):
    """New widget conversations per client address, WIDGET_START_THROTTLE_RATE."""

    scope = "widget_start"
    rate_setting = "WIDGET_START_THROTTLE_RATE"

    def get_cache_key(self, request: Request, view: APIView) -> str | None:
        if request.method == "OPTIONS":
            return None
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


class WidgetVisitorThrottle(_SettingRateThrottle):
    """Messages per widget visitor (their conversation), WIDGET_VISITOR_THROTTLE_RATE."""

    scope = "widget_visitor"
    rate_setting = "WIDGET_VISITOR_THROTTLE_RATE"

    def get_cache_key(self, request: Request, view: APIView) -> str | None:
        if request.method == "OPTIONS" or request.auth is None:
            return None
        return self.cache_format % {"scope": self.scope, "ident": request.auth.pk}
