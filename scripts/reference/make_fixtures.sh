#!/usr/bin/env bash
# Regenerates the committed parity fixtures from the real reference libraries.
# Needs the text-encoder package (scripts/setup.sh) and the PyTorch environment (venv.sh, ~6 GB).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
REEL_HOME="${REEL_HOME:-$HOME/.local/share/reel}"
PY="$("$ROOT/scripts/reference/venv.sh")"
export PYTHONPATH="$REEL_HOME/python${PYTHONPATH:+:$PYTHONPATH}"
[ "${1:-}" = "--tensors-only" ] || "$PY" "$ROOT/scripts/reference/minilm_fixture.py" "$ROOT/Tests/ModelsTests/Fixtures/minilm_reference.json"
[ "${1:-}" = "--tensors-only" ] || "$PY" "$ROOT/scripts/reference/minilm_words_fixture.py" "$ROOT/Tests/ModelsTests/Fixtures/minilm_words.safetensors"
"$PY" "$ROOT/scripts/reference/safetensors_fixture.py" "$ROOT/Tests/TensorsTests/Fixtures"
"$PY" "$ROOT/scripts/reference/reel_tiny_fixture.py" "$ROOT/Tests/ModelsTests/Fixtures/reel-tiny-parity"
"$PY" "$ROOT/scripts/reference/world_fixture.py" "$ROOT/Tests/EvaluationTests/Fixtures"
