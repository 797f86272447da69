#!/usr/bin/env bash
# The fault-injection suite in one command: builds `reel` (debug) and runs scripts/chaos/chaos.py.
#   sudo scripts/chaos/run.sh [--trials 3] [--kinds worker,coordinator,partition,slow,diskfull] [--keep] [--json FILE]
# partition and diskfull need root (network namespaces, tmpfs); they are skipped otherwise.
set -euo pipefail
cd "$(dirname "$0")/../.."
if ! command -v swift >/dev/null && [ -x /opt/swift/usr/bin/swift ]; then
    export PATH="/opt/swift/usr/bin:$PATH"
fi
scripts/setup.sh >/dev/null
if [ "$(id -u)" = 0 ] && ! command -v ip >/dev/null; then
    apt-get update -qq && apt-get install -y -q iproute2 >/dev/null
fi
swift build --product reel
exec python3 scripts/chaos/chaos.py --reel "$(swift build --show-bin-path)/reel" "$@"
