#!/usr/bin/env bash
# The whole test suite on a fresh machine: builds the venvs from pinned requirements, makes sure
# PostgreSQL and Redis answer (and the database role exists), then runs every tox env in env_list.
# Extra arguments go to tox, e.g. `scripts/test.sh -e agent`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
bash scripts/ensure_services.sh
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 ANONYMIZED_TELEMETRY=False
exec .venv-tox/bin/tox "$@"
