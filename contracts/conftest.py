"""Settings shared by the consumer and provider contract tests."""

from __future__ import annotations

import os

# The Pact core reports usage to pact.io unless told not to; tests must not reach the network.
os.environ.setdefault("PACT_DO_NOT_TRACK", "true")
