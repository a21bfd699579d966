"""How the running system is: its database, cache, task broker and the AI service it depends on."""

import logging
from dataclasses import dataclass
from typing import Literal

import redis
from django.conf import settings
from django.core.cache import cache
from django.db import DatabaseError, connection
from django_redis.exceptions import ConnectionInterrupted

from chatsphere.services.agent_client import AgentError, get_agent

logger = logging.getLogger(__name__)

PROBE_TIMEOUT_SECONDS = 1.0
Check = Literal["ok", "unavailable", "not_configured"]


class DatabaseUnavailableError(Exception):
    """The database does not answer: this process cannot serve anything."""


@dataclass(frozen=True, slots=True)
class AgentStatus:
    status: Literal["ok", "unavailable"]
    providers: dict[str, str] | None


@dataclass(frozen=True, slots=True)
class SystemHealth:
    status: Literal["ok", "degraded"]
    database: Literal["ok"]
    redis: Check
    broker: Check
    agent: AgentStatus


def system_health() -> SystemHealth:
    """The database must answer (DatabaseUnavailableError otherwise); anything else down is "degraded".

    Provider names are cut to their kind ("chroma", not "chroma:/srv/data"): this answer is public.
    """
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except DatabaseError as exc:
        logger.error("health check: the database does not answer: %s", type(exc).__name__)
        raise DatabaseUnavailableError from exc
    redis_status = _cache_status()
    broker_status = _broker_status()
    try:
        providers = get_agent().health().providers
        agent = AgentStatus(status="ok", providers={k: v.split(":", 1)[0] for k, v in providers.items()})
    except AgentError as exc:
        logger.warning("health check: the AI service is unavailable: %s", exc.code)
        agent = AgentStatus(status="unavailable", providers=None)
    healthy = agent.status == "ok" and "unavailable" not in (redis_status, broker_status)
    return SystemHealth(
        status="ok" if healthy else "degraded",
        database="ok",
        redis=redis_status,
        broker=broker_status,
        agent=agent,
    )


def _cache_status() -> Check:
    if not settings.REDIS_URL:
        return "not_configured"
    try:
        cache.get("health-probe")
    except (ConnectionInterrupted, redis.RedisError, OSError) as exc:
        logger.warning("health check: Redis (cache, throttling) does not answer: %s", type(exc).__name__)
        return "unavailable"
    return "ok"


def _broker_status() -> Check:
    if settings.CELERY_TASK_ALWAYS_EAGER:
        return "not_configured"
    client = redis.Redis.from_url(
        settings.CELERY_BROKER_URL,
        socket_timeout=PROBE_TIMEOUT_SECONDS,
        socket_connect_timeout=PROBE_TIMEOUT_SECONDS,
    )
    try:
        client.ping()
    except (redis.RedisError, OSError) as exc:
        logger.warning("health check: the Celery broker does not answer: %s", type(exc).__name__)
        return "unavailable"
    finally:
        client.close()
    return "ok"
