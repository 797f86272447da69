#!/usr/bin/env bash
# Generates the CURVE keys for a Kubernetes farm and prints three Secrets as YAML on stdout:
#
#   cluster/kubernetes/make-secrets.sh ~/reel-keys | kubectl apply -f -
#
#   reel-coordinator-key  coordinator.key, coordinator.pub   coordinator (workers mount only the .pub)
#   reel-worker-key       worker.key, worker.pub             workers (all share this key)
#   reel-authorized-keys  one file per allowed worker key    coordinator's --authorized-keys directory
#
# KEYDIR (first argument) keeps the keys: keys already there are reused, so a second run prints
# the same Secrets. The allow list is every *.pub in KEYDIR/authorized-keys/ (worker.pub is put
# there); drop other workers' public keys (e.g. Slurm or systemd hosts with their own key) in
# it and run again. Without KEYDIR the keys go to a temporary directory that is deleted on exit.
# KEYDIR holds secret keys: keep it private (it is created with mode 0700).
#
# Environment: REEL (the reel executable, default: reel on PATH), KUBECTL (default: kubectl),
# REEL_NAMESPACE (default: reel).
set -euo pipefail

REEL="${REEL:-reel}"
KUBECTL="${KUBECTL:-kubectl}"
NAMESPACE="${REEL_NAMESPACE:-reel}"
umask 077

if [[ $# -gt 1 ]]; then
    echo "usage: $0 [KEYDIR]" >&2
    exit 2
fi
if [[ $# -eq 1 ]]; then
    KEYDIR="$1"
    mkdir -p "$KEYDIR"
else
    KEYDIR="$(mktemp -d)"
    trap 'rm -rf "$KEYDIR"' EXIT
fi

# Generate a key pair unless both halves already exist.
ensure_key() {
    local name="$1"
    if [[ -f "$KEYDIR/$name.key" && -f "$KEYDIR/$name.pub" ]]; then
        echo "make-secrets: reusing $KEYDIR/$name.key" >&2
    else
        "$REEL" keys generate --out "$KEYDIR" --name "$name" >&2
    fi
}
ensure_key coordinator
ensure_key worker

mkdir -p "$KEYDIR/authorized-keys"
cp "$KEYDIR/worker.pub" "$KEYDIR/authorized-keys/worker.pub"

secret() {
    "$KUBECTL" create secret generic "$@" --namespace "$NAMESPACE" --dry-run=client -o yaml
}
secret reel-coordinator-key \
    --from-file=coordinator.key="$KEYDIR/coordinator.key" \
    --from-file=coordinator.pub="$KEYDIR/coordinator.pub"
echo "---"
secret reel-worker-key \
    --from-file=worker.key="$KEYDIR/worker.key" \
    --from-file=worker.pub="$KEYDIR/worker.pub"
echo "---"
# A directory: one Secret key per regular file in it.
secret reel-authorized-keys --from-file="$KEYDIR/authorized-keys"
