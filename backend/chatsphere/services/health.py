"""How the running system is: its database and the AI service it depends on."""

import logging
from dataclasses import dataclass
from typing import Literal

from django.db import DatabaseError, connection

from chatsphere.services.agent_client import AgentError, get_agent

logger = logging.getLogger(__name__)


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
    agent: AgentStatus


def system_health() -> SystemHealth:
    """The database must answer (DatabaseUnavailableError otherwise); the agent may be down: "degraded"."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except DatabaseError as exc:
        logger.error("health check: the database does not answer: %s", type(exc).__name__)
        raise DatabaseUnavailableError from exc
    try:
        health = get_agent().health()
    except AgentError as exc:
        logger.warning("health check: the AI service is unavailable: %s", exc.code)
        return SystemHealth(
            status="degraded", database="ok", agent=AgentStatus(status="unavailable", providers=None)
        )
    return SystemHealth(
        status="ok", database="ok", agent=AgentStatus(status="ok", providers=dict(health.providers))
    )
