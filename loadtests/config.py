"""Every knob of the load tests, read once from the environment (`LOAD_*`), with the defaults of a full run.

The locustfile, the stack runner (run_load.py) and the SLO check all read this one object, so a
threshold or a user count is never defined twice. Nothing here imports locust.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Self

from pydantic import AliasChoices, Field, SecretStr, StringConstraints, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from loadtests.slo import ServiceLevels

# The request names the locustfile reports; ids in URLs are grouped as "[id]".
DJANGO_CHAT_PATH = "/api/conversations/[id]/chat/"
AGENT_CHAT_PATH = "/chat"
DJANGO_CHAT_REQUEST = f"POST {DJANGO_CHAT_PATH}"
AGENT_CHAT_REQUEST = f"POST {AGENT_CHAT_PATH}"
WIDGET_CHAT_PATH = "/api/widget/[key]/chat/"
WIDGET_CHAT_REQUEST = f"POST {WIDGET_CHAT_PATH}"
# A streamed chat is two entries: the time to its first token, and to its end.
AGENT_STREAM_PATH = "/chat/stream"
DJANGO_STREAM_FIRST_TOKEN = f"SSE {DJANGO_CHAT_PATH} first token"
DJANGO_STREAM_TOTAL = f"SSE {DJANGO_CHAT_PATH} whole answer"
AGENT_STREAM_FIRST_TOKEN = f"SSE {AGENT_STREAM_PATH} first token"
AGENT_STREAM_TOTAL = f"SSE {AGENT_STREAM_PATH} whole answer"
# Each locust user class and the chat request whose p95 judges it.
CHAT_REQUEST_OF_USER = {
    "DjangoChatUser": DJANGO_CHAT_REQUEST,
    "AgentChatUser": AGENT_CHAT_REQUEST,
    "DjangoStreamingUser": DJANGO_STREAM_TOTAL,
    "AgentStreamingUser": AGENT_STREAM_TOTAL,
    "WidgetVisitor": WIDGET_CHAT_REQUEST,
}
# Each streaming user class and its first-token entry, judged on its own level.
FIRST_TOKEN_OF_USER = {
    "DjangoStreamingUser": DJANGO_STREAM_FIRST_TOKEN,
    "AgentStreamingUser": AGENT_STREAM_FIRST_TOKEN,
}

# What a run without named user classes loads; WidgetVisitor runs only when named (tox -e load-widget).
DEFAULT_USER_CLASSES = ("DjangoChatUser", "AgentChatUser", "DjangoStreamingUser", "AgentStreamingUser")

# locust's own `-t` syntax: "90s", "10m", "1h30m".
Duration = Annotated[str, StringConstraints(pattern=r"^(\d+h)?(\d+m)?(\d+s)?$", min_length=2)]


class LoadSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LOAD_", extra="ignore", frozen=True)

    users: int = Field(default=20, ge=1, le=10_000, description="concurrent simulated users")
    spawn_rate: float = Field(default=5.0, gt=0, description="users started per second")
    duration: Duration = Field(default="60s", description="run time, locust syntax")
    p95_ms: float = Field(
        default=4000.0, gt=0, description="p95 ceiling of every whole chat (the stand-in LLM's 2 s included)"
    )
    first_token_p95_ms: float = Field(default=2000.0, gt=0, description="p95 ceiling of a first token")
    max_first_token_added_ms: float = Field(
        default=250.0, ge=0, description="Django's first-token p50 minus the agent's, at most"
    )
    max_error_ratio: float = Field(default=0.0, ge=0.0, le=1.0, description="failed / all requests")

    # The stand-in OpenAI-compatible LLM (testsupport.standin_llm) the agent answers with.
    llm_ttft_s: float = Field(default=1.0, ge=0, description="the stand-in's seconds to its first token")
    llm_tokens_per_s: float = Field(default=30.0, ge=0, description="its pace after the first token")
    llm_answer_tokens: int = Field(default=30, ge=1, description="tokens per answer")

    chat_turns: int = Field(default=3, ge=1, le=20, description="messages per conversation")
    think_min_s: float = Field(default=0.5, ge=0.0, description="pause between a user's actions")
    think_max_s: float = Field(default=2.0, ge=0.0)
    document_ready_timeout_s: float = Field(default=60.0, gt=0, description="wait for READY")

    django_url: str = Field(default="http://127.0.0.1:8000", pattern=r"^https?://")
    agent_url: str = Field(default="http://127.0.0.1:8001", pattern=r"^https?://")
    agent_token: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("LOAD_AGENT_TOKEN", "AGENT_SERVICE_TOKEN")
    )

    django_workers: int = Field(default=3, ge=1, description="uvicorn workers run_load starts for Django")
    agent_workers: int = Field(
        default=1, ge=1, description="uvicorn workers run_load starts; embedded Chroma is one-process only"
    )
    report_dir: Path = Field(default=Path("reports/load"), description="CSV/HTML/logs, git-ignored")
    result_file: Path | None = Field(default=None, description="where the locustfile writes its final tally")

    @model_validator(mode="after")
    def _think_time_is_a_range(self) -> Self:
        if self.think_max_s < self.think_min_s:
            raise ValueError(f"LOAD_THINK_MAX_S ({self.think_max_s}) < LOAD_THINK_MIN_S ({self.think_min_s})")
        return self


@lru_cache(maxsize=1)
def load_settings() -> LoadSettings:
    return LoadSettings()


def service_levels(*, settings: LoadSettings, user_classes: Sequence[str]) -> ServiceLevels:
    """The levels a run of these user classes is judged by (all of them when none is named)."""
    ran = list(user_classes) or list(CHAT_REQUEST_OF_USER)
    pair = ("DjangoStreamingUser", "AgentStreamingUser")
    return ServiceLevels(
        p95_ms=settings.p95_ms,
        max_error_ratio=settings.max_error_ratio,
        latency_checked=tuple(CHAT_REQUEST_OF_USER[user] for user in ran if user in CHAT_REQUEST_OF_USER),
        first_token_p95_ms=settings.first_token_p95_ms,
        first_token_checked=tuple(FIRST_TOKEN_OF_USER[user] for user in ran if user in FIRST_TOKEN_OF_USER),
        first_token_pair=(
            (FIRST_TOKEN_OF_USER[pair[0]], FIRST_TOKEN_OF_USER[pair[1]]) if set(pair) <= set(ran) else None
        ),
        max_first_token_added_ms=settings.max_first_token_added_ms,
    )
