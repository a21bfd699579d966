#!/usr/bin/env bash
# The whole test suite on a fresh machine: builds the venvs from pinned requirements, makes sure
# PostgreSQL and Redis answer (and the database role exists), then runs every tox env: the two labels of
# tox.ini side by side (the suites in one process, the suites over real processes), each label's envs one
# after another, then the label `alone` (a load run whose service levels are latencies) on the idle machine.
# Each line of output is prefixed with its label; at the end come each label's tox summary and every test
# that was skipped, with its reason.
# Extra arguments go to a single tox run instead, e.g. `scripts/test.sh -e agent`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
bash scripts/ensure_services.sh
# The servers ensure_services.sh vouched for; testsupport would otherwise start throwaway ones.
export TEST_DATABASE_URL=${TEST_DATABASE_URL:-postgres://chatsphere@127.0.0.1:5432/chatsphere}
export TEST_REDIS_URL=${TEST_REDIS_URL:-redis://127.0.0.1:6379/0}
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 ANONYMIZED_TELEMETRY=False
if (($# > 0)); then
  exec .venv-tox/bin/tox "$@"
fi

logs=reports/test
mkdir -p "$logs"
# Lines as they happen (pytest writes into a pipe here), and each env's slowest tests at its end.
export PYTHONUNBUFFERED=1 PYTEST_ADDOPTS="${PYTEST_ADDOPTS:-} --durations=8"
started=$SECONDS
run_label() {  # run_label <label>: its envs in order, output prefixed live and kept in $logs/<label>.log
  local label=$1
  set +e
  .venv-tox/bin/tox run -m "$label" 2>&1 | tee "$logs/$label.log" | sed -u "s/^/[$label] /"
  local status=${PIPESTATUS[0]}
  set -e
  echo "$status" >"$logs/$label.status"
}
run_label in-process &
run_label processes &
wait
run_label alone

echo
echo "==> make test: $((SECONDS - started)) s of tests"
failed=0
for label in in-process processes alone; do
  echo "--- $label: exit $(cat "$logs/$label.status")"
  # tox's own summary: one line per env with its result and seconds.
  grep -E '^  [a-z0-9-]+: (OK|FAIL|SKIP)' "$logs/$label.log" || true
  [[ "$(cat "$logs/$label.status")" == 0 ]] || failed=1
done
echo "--- skipped tests (pytest -ra):"
grep -h '^SKIPPED' "$logs"/*.log || echo "none"
exit "$failed"
