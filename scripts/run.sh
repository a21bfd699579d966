#!/usr/bin/env bash
# Runs the whole product on embedded defaults (local embeddings, Chroma on disk, extractive answers,
# SQLite, no broker): builds the venv if needed, writes a .env with fresh secrets on the first run,
# applies migrations, starts the agent (:8001) and Django (:8000), prints the URLs. Ctrl-C stops both.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh

if [[ ! -f .env ]]; then
  token=$(.venv/bin/python -c 'import secrets; print(secrets.token_urlsafe(32))')
  secret=$(.venv/bin/python -c 'import secrets; print(secrets.token_urlsafe(50))')
  sed -e "s|^AGENT_SERVICE_TOKEN=.*|AGENT_SERVICE_TOKEN=${token}|" \
      -e "s|^DJANGO_SECRET_KEY=.*|DJANGO_SECRET_KEY=${secret}|" \
      -e "s|^DJANGO_SECURE_SSL_REDIRECT=.*|DJANGO_SECURE_SSL_REDIRECT=false|" \
      -e "s|^DJANGO_SECURE_COOKIES=.*|DJANGO_SECURE_COOKIES=false|" \
      -e "s|^DJANGO_SECURE_HSTS_SECONDS=.*|DJANGO_SECURE_HSTS_SECONDS=0|" .env.example > .env
  # Production settings (DEBUG off: no per-request SQL log, no debug pages), minus TLS: this is plain HTTP
  # on localhost, so no HTTPS redirect, no secure-only cookies, no HSTS.
  echo "==> wrote .env with freshly generated AGENT_SERVICE_TOKEN and DJANGO_SECRET_KEY"
fi

export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 ANONYMIZED_TELEMETRY=False
AGENT_PORT=${AGENT_PORT:-8001}
DJANGO_PORT=${DJANGO_PORT:-8000}
mkdir -p var

pids=()
stop() {
  trap - INT TERM EXIT
  echo; echo "==> stopping"
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap stop INT TERM EXIT

(cd backend && ../.venv/bin/python manage.py migrate --noinput)

(cd backend && exec ../.venv/bin/uvicorn chatsphere_agent.main:app --host 127.0.0.1 --port "$AGENT_PORT" \
  --timeout-keep-alive 75) &
pids+=($!)
bash scripts/serve_django.sh "127.0.0.1:${DJANGO_PORT}" &
pids+=($!)

for _ in $(seq 1 120); do
  if curl -fsS "http://127.0.0.1:${AGENT_PORT}/health" >/dev/null 2>&1; then break; fi
  sleep 1
done
echo
echo "ChatSphere is up (embedded defaults; Ctrl-C stops both services):"
echo "  REST API      http://127.0.0.1:${DJANGO_PORT}/api/"
echo "  API docs      http://127.0.0.1:${DJANGO_PORT}/api/docs/"
echo "  Agent health  http://127.0.0.1:${AGENT_PORT}/health -> $(curl -fsS "http://127.0.0.1:${AGENT_PORT}/health" 2>/dev/null || echo 'not ready')"
echo "  Demo          make demo   (in another terminal)"
wait -n "${pids[@]}"
