"""The fuzzing configuration shared by the CLI runner and the in-process tests: fuzz/schemathesis.toml."""

from __future__ import annotations

from pathlib import Path

import schemathesis

CONFIG_PATH = Path(__file__).resolve().parent / "schemathesis.toml"


def load_config() -> schemathesis.Config:
    """A fresh config per schema: schemathesis mutates it while loading."""
    return schemathesis.Config.from_path(CONFIG_PATH)
