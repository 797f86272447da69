#!/usr/bin/env bash
# Drives the coordinator's dashboard in headless Chromium while a real job renders: checks that
# the page shows the job's real state (id, state, segments done of total, the workers) and saves
# a screenshot. Installs Debian's chromium if missing. Safe to run twice.
#   scripts/dashboard-check.sh [SCREENSHOT.png]      (default: a temporary file)
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v swift >/dev/null && [ -x /opt/swift/usr/bin/swift ]; then
    export PATH="/opt/swift/usr/bin:$PATH"
fi
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
if ! command -v chromium >/dev/null; then
    echo "dashboard: installing Debian's chromium"
    as_root apt-get update -qq
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends chromium >/dev/null
fi
REEL="${REEL_BINARY:-$(swift build --show-bin-path)/reel}"
[ -x "$REEL" ] || swift build --product reel
WORK="$(mktemp -d /tmp/reel-dashboard-XXXXXX)"
SHOT="${1:-$WORK/dashboard.png}"
ZMQ=$((20000 + RANDOM % 20000)); HTTP=$((40000 + RANDOM % 20000))
URL="http://127.0.0.1:$HTTP"
pids=()
# GET a URL (python3 rather than curl, which a fresh machine may lack); fails on errors.
get() { python3 -c 'import sys, urllib.request; sys.stdout.write(urllib.request.urlopen(sys.argv[1], timeout=5).read().decode())' "$1"; }
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$WORK/state"; }
trap cleanup EXIT

"$REEL" coordinator --bind "tcp://127.0.0.1:$ZMQ" --http "127.0.0.1:$HTTP" --state "$WORK/state" >"$WORK/coordinator.log" 2>&1 &
pids+=($!)
for _ in $(seq 300); do get "$URL/v1/farm" >/dev/null 2>&1 && break; sleep 0.2; done
for i in 1 2; do
    "$REEL" worker --connect "tcp://127.0.0.1:$ZMQ" --threads 1 --name "w$i" >"$WORK/worker-$i.log" 2>&1 &
    pids+=($!)
done
JOB=$("$REEL" submit --coordinator "$URL" "a red ball bounces on green grass" --duration 60 --steps 4 --preset ultrafast | awk '/submitted/ {print $NF}')
[ -n "$JOB" ] || { echo "dashboard: submit failed"; exit 1; }
# Wait until the job is well under way but not finished.
for _ in $(seq 600); do
    done_count=$(get "$URL/v1/jobs/$JOB" | python3 -c 'import json,sys; print(json.load(sys.stdin)["segmentsDone"])')
    [ "$done_count" -ge 4 ] && break
    sleep 0.2
done
CHROME=(chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --window-size=1400,1100 --virtual-time-budget=3000)
"${CHROME[@]}" --dump-dom "$URL/dashboard/?job=$JOB" 2>/dev/null > "$WORK/dom.html"
STATE=$(get "$URL/v1/jobs/$JOB")
"${CHROME[@]}" --screenshot="$SHOT" "$URL/dashboard/?job=$JOB" 2>/dev/null >/dev/null
python3 - "$WORK/dom.html" "$STATE" "$JOB" <<'PY'
import json, re, sys
dom, job_id = open(sys.argv[1]).read(), sys.argv[3]
state = json.loads(sys.argv[2])
problems = []
if job_id not in dom: problems.append("the job id is not on the page")
row = re.search(r"<tr[^>]*>\s*<td>" + re.escape(job_id) + r"</td>(.*?)</tr>", dom, re.S)
if not row: problems.append("no jobs-table row for the job")
else:
    cells = row.group(1)
    if state["state"] not in cells: problems.append(f"the row does not show the state {state['state']}")
    shown = re.search(r"(\d+)/" + str(state["segmentsTotal"]), cells)
    if not shown: problems.append("the row does not show segments done of the total")
    elif not (1 <= int(shown.group(1)) <= state["segmentsDone"]): problems.append(f"the page shows {shown.group(1)} done, the API {state['segmentsDone']}")
for worker in ("w1", "w2"):
    if f"<td>{worker}</td>" not in dom: problems.append(f"worker {worker} is not listed")
if 'class="cell done"' not in dom: problems.append("the timeline shows no finished segment")
if problems:
    print("dashboard: FAILED: " + "; ".join(problems)); sys.exit(1)
print(f"dashboard: the page shows job {job_id} {state['state']} with its segments, timeline and both workers")
PY
[ -s "$SHOT" ] || { echo "dashboard: no screenshot"; exit 1; }
echo "dashboard: screenshot $SHOT ($(stat -c %s "$SHOT") bytes)"
