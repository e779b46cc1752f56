#!/usr/bin/env bash
# The whole test suite: lint, types, then every test (unit, integration, end to end).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
export PATH="$PWD/.venv/bin:$PATH"
echo "== ruff" >&2
ruff check .
ruff format --check .
echo "== mypy" >&2
mypy schemas connectors transforms pipelines gateway
echo "== pytest" >&2
pytest "$@"
