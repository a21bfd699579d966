"""The real agent satisfies every interaction the Django client's pact records."""

from __future__ import annotations

from chatsphere_agent.config import AgentSettings
from chatsphere_agent.main import create_app
from chatsphere_agent.providers.factory import Providers
from contracts.pactfile import COMMITTED_PACT, interaction_descriptions, load
from contracts.provider.server import serving
from contracts.provider.states import AgentProviderStates
from contracts.provider.verification import verify_committed_pact


def test_the_agent_honours_every_interaction_of_the_committed_pact(
    agent_settings: AgentSettings, agent_providers: Providers
) -> None:
    app = create_app(providers=agent_providers, settings=agent_settings)

    with serving(app) as base_url:
        verification = verify_committed_pact(
            base_url=base_url, states=AgentProviderStates(app=app, settings=agent_settings)
        )

    assert verification.passed, verification.output
    assert verification.verified == interaction_descriptions(load(COMMITTED_PACT)), verification.output
