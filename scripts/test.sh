#!/usr/bin/env bash
# The whole test suite on a fresh machine: builds the venvs from pinned requirements, makes sure
# PostgreSQL and Redis answer (and the database role exists), then runs every tox env in env_list.
# Extra arguments go to tox, e.g. `scripts/test.sh -e agent`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
bash scripts/ensure_services.sh
# The servers ensure_services.sh vouched for; testsupport would otherwise start throwaway ones.
export TEST_DATABASE_URL=${TEST_DATABASE_URL:-postgres://chatsphere@127.0.0.1:5432/chatsphere}
export TEST_REDIS_URL=${TEST_REDIS_URL:-redis://127.0.0.1:6379/0}
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 ANONYMIZED_TELEMETRY=False
exec .venv-tox/bin/tox "$@"
