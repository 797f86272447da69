#!/usr/bin/env bash
# The render command: installs what is missing (scripts/setup.sh), builds `reel` (release) when
# needed, and renders a film with the embedded default — a coordinator and one local worker per
# core in this process, over real ZeroMQ sockets, with the built-in reel-tiny model.
#
#   scripts/render.sh                                   # 60 s of the default prompt → film.mp4
#   scripts/render.sh "a green triangle spins at night" --duration 90 --out night.mp4
#   scripts/render.sh --storyboard configs/storyboards/ball-day.json --out story.mp4
#
# Every option of `reel render` works here (`scripts/render.sh --help`). Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v swift >/dev/null && [ -x /opt/swift/usr/bin/swift ]; then
    export PATH="/opt/swift/usr/bin:$PATH"
fi
scripts/setup.sh
echo "render: building reel (release; the first build takes several minutes)"
swift build -c release --product reel
reel="$(swift build -c release --show-bin-path)/reel"
if [ $# -eq 0 ]; then
    set -- "a red ball bounces on green grass" --duration 60 --out film.mp4
fi
exec "$reel" render "$@"
