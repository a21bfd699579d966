#!/usr/bin/env bash
# The one command that serves Django, used by `make run`, the e2e/faults stacks and `make bench`, so the
# production server is chosen here once: uvicorn under ASGI, so a chat waiting on the LLM holds no worker.
# Usage: serve_django.sh HOST:PORT [more uvicorn options]. DJANGO_WORKERS sizes it (1 process by default);
# VENV_BIN picks the venv.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
bin="${VENV_BIN:-$repo/.venv/bin}"
address="$1"
shift
cd "$repo/backend"
exec "$bin/uvicorn" config.asgi:application --host "${address%:*}" --port "${address##*:}" \
  --workers "${DJANGO_WORKERS:-1}" "$@"
