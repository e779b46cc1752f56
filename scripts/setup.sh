#!/usr/bin/env bash
# Creates .venv/ at the repo root from the lock file (idempotent: a stamp of the lock's hash
# skips the work when nothing changed). Needs python3.11 on PATH.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3.11}
command -v "$PYTHON" >/dev/null || PYTHON=python3
stamp=.venv/.autocaption-stamp
want=$(cat requirements.lock pyproject.toml | sha256sum | cut -c1-16)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  exit 0
fi
echo "setting up .venv (pinned dependencies from requirements.lock)..." >&2
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade "pip>=23.2"
.venv/bin/python -m pip install --quiet --disable-pip-version-check -r requirements.lock
# the editable build warns about our top-level package folders; show it only if it fails
if ! .venv/bin/python -m pip install --quiet --disable-pip-version-check --no-deps \
    --no-build-isolation -e . > .venv/install.log 2>&1; then
  cat .venv/install.log >&2
  exit 1
fi
echo "$want" > "$stamp"
