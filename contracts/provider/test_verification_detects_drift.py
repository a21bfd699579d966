"""The verification is not a rubber stamp: a provider that drifts from the pact fails it, readably.

Each variant is the real app with one deliberate change (see drift.py); only the interactions the
change touches are replayed, to keep the run short.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from starlette.types import ASGIApp

from chatsphere_agent.config import AgentSettings
from chatsphere_agent.main import create_app
from chatsphere_agent.providers.factory import Providers
from contracts.provider.drift import RenamedChatAnswerField, StreamWithoutDone, ValidationErrorsAsBadRequest
from contracts.provider.server import serving
from contracts.provider.states import AgentProviderStates
from contracts.provider.verification import verify_committed_pact


@pytest.mark.parametrize(
    ("drift", "interaction", "reported_mismatch"),
    [
        pytest.param(
            RenamedChatAnswerField,
            "a chat message to a bot with documents",
            "Actual map is missing the following keys: response",
            id="chat-answer-field-renamed",
        ),
        pytest.param(
            ValidationErrorsAsBadRequest,
            "a request to embed and store an empty chunk list",
            "expected 422 but was 400",
            id="validation-status-changed",
        ),
        pytest.param(
            StreamWithoutDone,
            "a streamed chat message to a bot with documents",
            "to match '^(: heartbeat",
            id="stream-event-renamed",
        ),
    ],
)
def test_a_drifted_agent_fails_verification_naming_the_mismatch(
    agent_settings: AgentSettings,
    agent_providers: Providers,
    drift: Callable[[ASGIApp], ASGIApp],
    interaction: str,
    reported_mismatch: str,
) -> None:
    app = create_app(providers=agent_providers, settings=agent_settings)

    with serving(drift(app)) as base_url:
        verification = verify_committed_pact(
            base_url=base_url,
            states=AgentProviderStates(app=app, settings=agent_settings),
            description=f"^{interaction}$",
        )

    assert not verification.passed, verification.output
    assert interaction in verification.output
    assert reported_mismatch in verification.output
