"""Fail when the committed pact differs from the one the consumer tests just generated.

    python -m contracts.check_pact GENERATED_DIR

The provider is verified against contracts/pacts/, so that file must be exactly what the consumer
tests produce today; otherwise the verification would prove a contract nobody relies on.
Library-version metadata is ignored. Exit status 0 when equal, 1 with a unified diff otherwise.
"""

from __future__ import annotations

import argparse
import difflib
import sys
from pathlib import Path

from contracts.pactfile import COMMITTED_PACT, PACT_FILE_NAME, dump, load, normalized


def pact_difference(*, committed: Path, generated: Path) -> str:
    """A unified diff between the two pacts' normalized forms; empty when they agree."""
    if not generated.is_file():
        return f"{generated} was not generated: did the consumer tests run and pass?\n"
    if not committed.is_file():
        return f"{committed} is missing: run the consumer tests and commit the pact they write.\n"
    return "".join(
        difflib.unified_diff(
            dump(normalized(load(committed))).splitlines(keepends=True),
            dump(normalized(load(generated))).splitlines(keepends=True),
            fromfile=f"committed {committed}",
            tofile=f"generated {generated}",
        )
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("generated_dir", type=Path, help="the directory the consumer tests wrote the pact to")
    args = parser.parse_args(argv)
    difference = pact_difference(committed=COMMITTED_PACT, generated=args.generated_dir / PACT_FILE_NAME)
    if difference:
        sys.stderr.write(difference)
        sys.stderr.write(
            "\nThe committed pact is stale. Regenerate it with "
            "`.venv/bin/python -m pytest -p no:django contracts/consumer` and commit contracts/pacts/.\n"
        )
        return 1
    sys.stdout.write(f"{COMMITTED_PACT.name} matches what the consumer tests generate.\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
