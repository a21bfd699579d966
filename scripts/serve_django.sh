#!/usr/bin/env bash
# The one command that serves Django, used by `make run`, the e2e stack and `make bench`, so a change of
# server (WSGI today, ASGI tomorrow) is made here once. Usage: serve_django.sh HOST:PORT
# DJANGO_WORKERS / DJANGO_THREADS size it (1 process, 4 threads by default); VENV_BIN picks the venv.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
bin="${VENV_BIN:-$repo/.venv/bin}"
cd "$repo/backend"
# --no-control-socket: the default socket is one path per machine user, which parallel stacks would share.
exec "$bin/gunicorn" config.wsgi:application --bind "$1" \
  --workers "${DJANGO_WORKERS:-1}" --threads "${DJANGO_THREADS:-4}" --timeout 120 --no-control-socket
