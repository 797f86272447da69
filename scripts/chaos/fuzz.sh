#!/usr/bin/env bash
# Hostile input in one command: builds `reel`, installs pyzmq and schemathesis (PyPI) into
# $REEL_HOME/fuzz-venv, and runs scripts/chaos/fuzz.py against a coordinator rendering a real job.
#   scripts/chaos/fuzz.sh [--messages 100000] [--identities 64] [--http-examples 40]
set -euo pipefail
cd "$(dirname "$0")/../.."
if ! command -v swift >/dev/null && [ -x /opt/swift/usr/bin/swift ]; then
    export PATH="/opt/swift/usr/bin:$PATH"
fi
scripts/setup.sh >/dev/null
REEL_HOME="${REEL_HOME:-$HOME/.local/share/reel}"
VENV="$REEL_HOME/fuzz-venv"
if [ ! -x "$VENV/bin/python" ]; then python3 -m venv "$VENV"; fi
# hypothesis is pinned: later releases break schemathesis 4.3.4's JSON-schema strategies.
if ! "$VENV/bin/python" -c "import zmq, schemathesis, hypothesis; assert hypothesis.__version__ == '6.140.3'" 2>/dev/null; then
    "$VENV/bin/pip" install -q --disable-pip-version-check "pyzmq==27.1.0" "schemathesis==4.3.4" "hypothesis==6.140.3"
fi
swift build --product reel
exec "$VENV/bin/python" scripts/chaos/fuzz.py --reel "$(swift build --show-bin-path)/reel" "$@"
