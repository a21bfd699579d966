"""The fuzzing configuration shared by the CLI runner and the in-process tests: fuzz/schemathesis.toml.

The file holds CI's bounded budget. FUZZ_MAX_EXAMPLES raises (or lowers) the examples per operation for one
run, the same way for both runners: `make fuzz-deep` sets it for the long run.
"""

from __future__ import annotations

import os
from pathlib import Path

import schemathesis

CONFIG_PATH = Path(__file__).resolve().parent / "schemathesis.toml"
MAX_EXAMPLES_ENV = "FUZZ_MAX_EXAMPLES"


def max_examples_override() -> int | None:
    """FUZZ_MAX_EXAMPLES as a positive integer, or None when it is unset or empty."""
    value = os.environ.get(MAX_EXAMPLES_ENV, "").strip()
    if not value:
        return None
    if not value.isdecimal() or int(value) < 1:
        raise ValueError(f"{MAX_EXAMPLES_ENV} must be a positive integer, not {value!r}")
    return int(value)


def load_config() -> schemathesis.Config:
    """A fresh config per schema: schemathesis mutates it while loading."""
    config = schemathesis.Config.from_path(CONFIG_PATH)
    # Where the CLI puts its --max-examples: above every project's and operation's own setting.
    config.projects.override.generation.update(max_examples=max_examples_override())
    return config
