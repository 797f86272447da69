#!/usr/bin/env bash
# Creates (once) the Python environment with PyTorch and sentence-transformers that the fixture
# scripts run in, and prints its python path. Safe to run twice. Not needed to build or test Reel.
set -euo pipefail
REEL_HOME="${REEL_HOME:-$HOME/.local/share/reel}"
VENV="$REEL_HOME/torch-venv"
HERE="$(cd "$(dirname "$0")" && pwd)"
if [ ! -x "$VENV/bin/python" ]; then
    python3 -m venv "$VENV" >&2
fi
if ! "$VENV/bin/python" -c "import sentence_transformers, torch" 2>/dev/null; then
    "$VENV/bin/pip" install -q -r "$HERE/requirements.txt" >&2
fi
echo "$VENV/bin/python"
