"""One Pact per test, merged into one pact file that is published only by a complete, green run.

Each test declares its interaction on a fresh `Pact`, drives the real `HttpAgentClient` against the
mock server, and the fixture merges the interaction into a per-session staging file (the FFI keeps the
interactions sorted by description, so the result does not depend on test order). When the whole
consumer suite passed, the staged pact is written, normalized, to $PACT_OUTPUT_DIR or contracts/pacts/.
A partial run (-k, -m, a node id, --lf) or a failing one never overwrites the pact.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from pact import Pact

from contracts.pactfile import CONSUMER, PACT_FILE_NAME, PACTS_DIR, PROVIDER, dump, load

_STAGING_DIR = pytest.StashKey[Path]()
_DESELECTED = pytest.StashKey[bool]()
_OUTCOME = pytest.StashKey[str]()


@pytest.fixture(scope="session")
def pact_staging_dir(tmp_path_factory: pytest.TempPathFactory, pytestconfig: pytest.Config) -> Path:
    if hasattr(pytestconfig, "workerinput"):
        pytest.fail("consumer contract tests build one pact in one process: run them with -p no:xdist")
    staging_dir = tmp_path_factory.mktemp("pact")
    pytestconfig.stash[_STAGING_DIR] = staging_dir
    return staging_dir


@pytest.fixture
def pact(pact_staging_dir: Path) -> Iterator[Pact]:
    pact = Pact(CONSUMER, PROVIDER).with_specification("V4")
    yield pact
    pact.write_file(pact_staging_dir, overwrite=False)


def pytest_deselected(items: list[pytest.Item]) -> None:
    if items:
        items[0].config.stash[_DESELECTED] = True


def _reason_not_to_publish(session: pytest.Session, exitstatus: int) -> str | None:
    if exitstatus != pytest.ExitCode.OK:
        return "the consumer tests did not all pass"
    if session.config.stash.get(_DESELECTED, False) or any("::" in arg for arg in session.config.args):
        return "only part of the consumer tests ran"
    return None


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    staging_dir = session.config.stash.get(_STAGING_DIR, None)
    if staging_dir is None:
        return
    reason = _reason_not_to_publish(session, exitstatus)
    if reason is not None:
        session.config.stash[_OUTCOME] = f"pact not written: {reason}"
        return
    output_dir = Path(os.environ.get("PACT_OUTPUT_DIR") or PACTS_DIR)
    output_dir.mkdir(parents=True, exist_ok=True)
    target = output_dir / PACT_FILE_NAME
    target.write_text(dump(load(staging_dir / PACT_FILE_NAME)), encoding="utf-8")
    session.config.stash[_OUTCOME] = f"pact written to {target}"


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    outcome = config.stash.get(_OUTCOME, None)
    if outcome is not None:
        terminalreporter.write_line(outcome)
