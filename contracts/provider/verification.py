"""Replay the committed pact against an agent served at a URL."""

from __future__ import annotations

from dataclasses import dataclass

from pact import Verifier

from contracts.pactfile import COMMITTED_PACT, PROVIDER
from contracts.provider.server import HOST
from contracts.provider.states import AgentProviderStates


@dataclass(frozen=True, slots=True)
class Verification:
    passed: bool
    output: str  # the verifier's report: every interaction, and for each failure what differed
    verified: frozenset[str]  # descriptions of the interactions that were replayed and matched


def verify_committed_pact(
    *, base_url: str, states: AgentProviderStates, description: str | None = None
) -> Verification:
    """Verify every interaction, or only those whose description matches the `description` regex."""
    verifier = (
        Verifier(PROVIDER, host=HOST)
        .add_transport(url=base_url)
        .add_source(COMMITTED_PACT)
        .state_handler(states.handlers(), teardown=True)
        .set_coloured_output(enabled=False)
    )
    if description is not None:
        verifier.filter(description)
    try:
        verifier.verify()
        passed = True
    except RuntimeError:
        # The FFI reports failure as a bare RuntimeError; the report is in the verifier's output.
        passed = False
    verified = frozenset(
        result["description"]
        for result in verifier.results.get("interactionResults", [])
        if result.get("result") == "OK"
    )
    return Verification(passed=passed, output=verifier.output(strip_ansi=True), verified=verified)
