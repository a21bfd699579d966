"""Every failure of a call to the agent, as one typed `AgentError`:

AgentUnavailableError  the agent cannot answer now (connect error, timeout, 5xx): retry later
AgentRejectedError     the agent refused our request (4xx): a bug or misconfiguration on our side
AgentProtocolError     the agent answered something we cannot parse
"""

from __future__ import annotations

# What a client is told of the agent's failures, the same in a JSON error (api/errors.py) and in a stream's
# error event: the agent cannot answer now (retry later), or it failed to handle the request.
PUBLIC_UNAVAILABLE = "agent_unavailable"
PUBLIC_FAILED = "agent_error"


class AgentError(Exception):
    """The agent could not do what we asked. `message` is safe to show to a user."""

    def __init__(self, message: str, *, code: str, status_code: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.status_code = status_code


class AgentUnavailableError(AgentError):
    """Connect error, timeout, or a 5xx: the request may succeed later."""


class AgentRejectedError(AgentError):
    """A 4xx: the agent refused the request (bad token, invalid body) — our bug, retrying won't help."""


class AgentProtocolError(AgentError):
    """The agent's answer did not have the shape of chatsphere_agent/schemas.py."""
