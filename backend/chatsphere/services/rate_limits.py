"""Rate limits, counted in the cache (Redis in production, so every worker process shares the counts).

Each limit is a fixed window counted with the cache's atomic add + incr: DRF's own throttles read, append
and write back a list of timestamps, so concurrent requests in several processes all pass on one empty
list. A limit is a guard, not a dependency: when the cache does not answer, the request is let through
(fail open) and the outage is logged, so a Redis outage does not take chat or login down with it.

The API's throttles (chatsphere/api/throttles.py) and the admin's login form count through these functions,
so one login limit holds whichever door the attempts come through.
"""

import hashlib
import logging

from django.conf import settings
from django.core.cache import cache
from django_redis.exceptions import ConnectionInterrupted
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)

# DRF's SimpleRateThrottle.cache_format: the windows keep the keys they had when they were DRF's.
_KEY_FORMAT = "throttle_%(scope)s_%(ident)s"
# DRF's rate syntax, "<n>/<period>", the period's first letter deciding (s, sec, m, min, h, hour, d, day).
_PERIOD_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_CACHE_ERRORS = (ConnectionInterrupted, RedisError, OSError)


def rate_limit_hit(*, scope: str, ident: str, rate: str) -> float | None:
    """Count one request of `ident` in `scope`'s current window of `rate` (e.g. "5/min").

    Returns None while the count is within the rate (or when the cache does not answer), else the seconds
    until the window closes: what Retry-After should say.
    """
    number, period = rate.split("/")
    limit, window = int(number), _PERIOD_SECONDS[period[0]]
    key = _KEY_FORMAT % {"scope": scope, "ident": ident}
    try:
        cache.add(key, 0, window)  # opens the window; a no-op while it is open
        try:
            count = int(cache.incr(key))
        except ValueError:  # the window closed between add and incr
            cache.set(key, 1, window)
            count = 1
    except _CACHE_ERRORS as exc:
        logger.warning("throttle %s not applied, no cache: %s", scope, type(exc).__name__)
        return None
    if count <= limit:
        return None
    return _seconds_left(key=key, window=window)


def _seconds_left(*, key: str, window: int) -> float:
    """The window's TTL where the cache has one (Redis), else the whole window."""
    ttl = getattr(cache, "ttl", None)
    try:
        remaining = ttl(key) if ttl is not None else None
    except _CACHE_ERRORS:
        remaining = None
    return float(remaining) if remaining and remaining > 0 else float(window)


def login_attempt_record(*, address: str, username: str) -> float | None:
    """Count one login attempt, right or wrong password alike, per client address and per username.

    LOGIN_IP_THROTTLE_RATE bounds one address; LOGIN_USERNAME_THROTTLE_RATE bounds one account, whichever
    addresses the guesses come from. Returns None when the attempt may go ahead, else the seconds to wait.
    """
    waits = [rate_limit_hit(scope="login_ip", ident=address, rate=settings.LOGIN_IP_THROTTLE_RATE)]
    if username:  # a login without one is refused as malformed, not counted against an account
        ident = hashlib.sha256(username.casefold().encode()).hexdigest()
        waits.append(
            rate_limit_hit(scope="login_username", ident=ident, rate=settings.LOGIN_USERNAME_THROTTLE_RATE)
        )
    over = [wait for wait in waits if wait is not None]
    return max(over) if over else None
