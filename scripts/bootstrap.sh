#!/usr/bin/env bash
# Creates (or refreshes) the project's virtual environments from the pinned requirement files.
#   .venv      both services + test tools (one venv; tox envs reuse it instead of building their own)
#   .venv-tox  the tools: tox (it needs a newer `packaging` than the product's stack allows) and uv
# Idempotent: a stamp of the requirement files' hash skips work when nothing changed.
# `scripts/bootstrap.sh --freeze` rewrites requirements/constraints.txt from the current .venv.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3.11}
command -v "$PYTHON" >/dev/null || PYTHON=python3

REQS=(backend/chatsphere_agent/requirements.txt backend/requirements.txt requirements/dev.txt requirements/constraints.txt)

if [[ "${1:-}" == "--freeze" ]]; then
  {
    echo "# Every transitive pin of .venv, from 'pip freeze' of a clean install (scripts/bootstrap.sh --freeze regenerates it)."
    echo "torch==2.13.0"
    .venv/bin/pip freeze --exclude-editable | grep -v '^torch=='
  } > requirements/constraints.txt
  echo "wrote requirements/constraints.txt"
  exit 0
fi

stamp() { cat "$@" | sha256sum | cut -c1-16; }
# pip's own log is long and full of harmless index warnings: show it only when pip fails.
quiet() { local log; log=$(mktemp); if ! "$@" >"$log" 2>&1; then grep -v 'is ignored' "$log" >&2; rm -f "$log"; return 1; fi; rm -f "$log"; }
export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_PROGRESS_BAR=off

# .venv-tox first: besides tox it holds uv, which builds .venv.
want_tox=$(stamp requirements/tox.txt)
if [[ ! -x .venv-tox/bin/tox || "$(cat .venv-tox/.stamp 2>/dev/null)" != "$want_tox" ]]; then
  echo "==> building .venv-tox"
  [[ -x .venv-tox/bin/python ]] || "$PYTHON" -m venv .venv-tox
  quiet .venv-tox/bin/pip install -r requirements/tox.txt
  echo "$want_tox" > .venv-tox/.stamp
fi

want=$(stamp "${REQS[@]}")
if [[ ! -x .venv/bin/python || "$(cat .venv/.stamp 2>/dev/null)" != "$want" ]]; then
  echo "==> building .venv (torch CPU first, then the pinned stack; ~3 min on a fresh machine)"
  [[ -x .venv/bin/python ]] || "$PYTHON" -m venv .venv
  # torch first, with pip: the CPU build is a wheel on local disk that only pip's configuration points at.
  # With 2.13.0 in place the constraints keep it, so nothing later can pull a CUDA build.
  quiet .venv/bin/pip install torch==2.13.0
  # The other ~220 pins with uv: it downloads and installs in parallel where pip took ~15 minutes of a
  # clean CI run on two cores; the same pins, the same constraints.
  quiet .venv-tox/bin/uv pip install --python .venv/bin/python -c requirements/constraints.txt \
    -r backend/chatsphere_agent/requirements.txt -r backend/requirements.txt -r requirements/dev.txt
  .venv/bin/pip check
  .venv/bin/python -c 'import torch, sys; sys.exit(None if torch.__version__ == "2.13.0+cpu" else f"torch {torch.__version__} replaced the CPU build")'
  echo "$want" > .venv/.stamp
fi

# The browser tests (tox -e browser) drive Debian's Chromium; Playwright never downloads a browser of its own.
if ! command -v chromium >/dev/null; then
  if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null; then
    echo "==> installing Debian's chromium for the browser tests"
    quiet env DEBIAN_FRONTEND=noninteractive apt-get update -q
    quiet env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends chromium
  else
    echo "note: chromium is missing; 'apt-get install chromium' (as root) to run the browser tests" >&2
  fi
fi
