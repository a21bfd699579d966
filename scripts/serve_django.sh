#!/usr/bin/env bash
# The one command that serves Django, used by `make run`, the Docker image and compose files, every test
# stack and `make bench`, so the production server is chosen here once: uvicorn under ASGI, so a chat
# waiting on the LLM holds no worker.
# Usage: serve_django.sh HOST:PORT [more uvicorn options]. DJANGO_WORKERS sizes it (one process per core by
# default: a chat's own work in Django is CPU, and one process uses one core);
# VENV_BIN picks the venv (the image's interpreter when empty); DJANGO_APP_DIR is where manage.py lives
# (backend/ of this checkout by default, /app in the image).
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
bin="${VENV_BIN-$repo/.venv/bin}"
address="$1"
shift
cd "${DJANGO_APP_DIR:-$repo/backend}"
exec "${bin:+$bin/}uvicorn" config.asgi:application --host "${address%:*}" --port "${address##*:}" \
  --workers "${DJANGO_WORKERS:-$(nproc)}" "$@"
