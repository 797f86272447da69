#!/usr/bin/env bash
# The test command: installs what is missing (scripts/setup.sh), builds everything, runs every test
# checks the deployment files in cluster/ and drives the dashboard in headless Chromium.
# Safe to run any number of times. Extra arguments go to `swift test` (e.g. --filter MiniLM).
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v swift >/dev/null && [ -x /opt/swift/usr/bin/swift ]; then
    export PATH="/opt/swift/usr/bin:$PATH"
fi
scripts/setup.sh
echo "test: building (debug, with tests)"
swift build --build-tests
echo "test: running"
swift test --skip-build "$@"
if [ $# -eq 0 ]; then
    echo "test: checking the deployment files (cluster/check.sh)"
    bash cluster/check.sh
    echo "test: the dashboard in headless Chromium (scripts/dashboard-check.sh)"
    REEL_BINARY="$(swift build --show-bin-path)/reel" bash scripts/dashboard-check.sh
fi
