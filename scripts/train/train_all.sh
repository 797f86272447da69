#!/usr/bin/env bash
# Trains reel-tiny end to end within a wall-time budget: captions + MiniLM embeddings, VAE, clip
# encoding, DiT, export to models/reel-tiny, evaluation on the held-out prompts.
#
#   scripts/train/train_all.sh [--budget-minutes 112] [--vae-minutes 16] [--dit-steps N] [--threads N]
#                              [--work DIR] [--out DIR] [--clips N] [--fixtures PATH]
#                              [--no-eval | --eval-limit N] [--dit-recalibrate] [--noise-shared F]
#                              [--motion-loss W] [--attention factorised|full] [--vae-from MODEL]
#                              [--latent f8c8|f4c4] [--local-mixing none|shift] [--text-tokens K]
#                              [--text-words] [--t-mean-unanchored F] [--layout] [--dit-init-from MODEL]
#                              [--decoder-steps N]
#
# --noise-shared F: the fraction of the DiT's noise variance a window's frames share (train_dit.py
# --noise-shared; exported to config.json as noise.shared_fraction, which Reel's sampler follows).
#
# --motion-loss W (default 1): weight of the frame-to-frame difference term of the DiT's loss
# (train_dit.py --motion-loss). --attention: the DiT's attention layout (train_dit.py; default
# factorised). --vae-from MODEL: skip VAE training and reuse MODEL's exported VAE (import_vae.py),
# for DiT experiments on the latents of the VAE that ships. --latent: the VAE's latent layout
# (train_vae.py --latent: f8c8 = 8x8x8, f4c4 = 16x16x4); the DiT follows the clips' latent shape
# with 4x4 tokens per frame. --local-mixing: what the DiT's MLPs do between fc1 and the GELU
# (train_dit.py --local-mixing; shift: channel groups taken from the neighbouring tokens).
# --text-tokens K (default 0): tokens made from the text feature that every DiT block
# cross-attends to (train_dit.py --text-tokens; 0: the text reaches the blocks through adaLN only).
# --text-words: the blocks also cross-attend to MiniLM's per-token states of the caption
# (train_dit.py --text-words; sets --text-tokens to 1 if it is 0). --t-mean-unanchored F: the
# logit-normal location of the flow times of windows without anchors (default: that of the rest, 0.5).
# --layout: layout-then-video (scripts/train/layout.py): a planner phase trains the track planner
# on the captions' pooled embeddings and token states (train_planner.py --word-heads 4, about 15 min
# on 2 threads; the word states are built first if missing) and the DiT reads the subject's layout
# with the subject-weighted loss and grow/shrink and small squares/triangles drawn more often
# (train_dit.py --layout --subject-weight 8 --emphasise grow=3 shrink=2 small+square=3
# small+triangle=2, the shipped model's last phase). --dit-init-from MODEL: the DiT starts from MODEL's exported DiT (train_dit.py
# --init-from; with --layout its new input channels start at zero), EMA 0.99 instead of 0.999.
# --decoder-steps N (default 0, off): after the export, fine-tune the VAE's decoder N steps with the
# encoder frozen (train_vae.py --decoder-from, the shipped model's settings: subject weight 8, half
# the frames with a small subject, latent noise 0.1; about 1 s a step on 2 cores) in WORK/decoder and
# put it into the export (export.py --vae-only). The latents do not change, so the DiT stays valid.
#
# --dit-steps caps the DiT's step count (the time budget may allow more); it also applies when an
# interrupted run is resumed, so a run can be shortened mid-way. --dit-recalibrate, on a resumed
# run, measures the DiT's pace again and refits its step count to the minutes left (for a first
# calibration taken while the machine was busy).
#
# Run the same command again after a kill: finished phases are skipped and the phase that was
# interrupted resumes from its last checkpoint. Delete the work folder to start over.
# Logs: WORK/train.log. Python: $PYTHON, else the reference venv (scripts/reference/venv.sh).
set -euo pipefail

HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
REEL_HOME="${REEL_HOME:-$HOME/.local/share/reel}"

BUDGET_MINUTES=112      # everything, export and evaluation included (hard limit: 120)
VAE_MINUTES=16
RESERVE_MINUTES=5       # kept for export and evaluation after the DiT
THREADS="$(nproc)"
WORK="$ROOT/.reel/train"
OUT="$ROOT/models/reel-tiny"
CLIPS=10240
EVALUATE=1
EVAL_LIMIT=0            # 0 = all evaluation prompts
FIXTURES=""
DIT_STEPS=100000
NOISE_SHARED=0
MOTION_LOSS=1
ATTENTION=factorised
LOCAL_MIXING=shift
TEXT_TOKENS=0
TEXT_WORDS=0
VAE_FROM=""
LATENT=f8c8
LAYOUT=0
DIT_EXTRA=()
DECODER_STEPS=0

while [ $# -gt 0 ]; do
    case "$1" in
        --budget-minutes) BUDGET_MINUTES="$2"; shift 2 ;;
        --vae-minutes) VAE_MINUTES="$2"; shift 2 ;;
        --threads) THREADS="$2"; shift 2 ;;
        --work) WORK="$2"; shift 2 ;;
        --out) OUT="$2"; shift 2 ;;
        --clips) CLIPS="$2"; shift 2 ;;
        --no-eval) EVALUATE=0; shift ;;
        --eval-limit) EVAL_LIMIT="$2"; shift 2 ;;
        --fixtures) FIXTURES="$2"; shift 2 ;;
        --dit-steps) DIT_STEPS="$2"; shift 2 ;;
        --dit-recalibrate) DIT_EXTRA+=(--recalibrate); shift ;;
        --noise-shared) NOISE_SHARED="$2"; shift 2 ;;
        --motion-loss) MOTION_LOSS="$2"; shift 2 ;;
        --attention) ATTENTION="$2"; shift 2 ;;
        --local-mixing) LOCAL_MIXING="$2"; shift 2 ;;
        --text-tokens) TEXT_TOKENS="$2"; shift 2 ;;
        --text-words) TEXT_WORDS=1; shift ;;
        --t-mean-unanchored) DIT_EXTRA+=(--t-mean-unanchored "$2"); shift 2 ;;
        --vae-from) VAE_FROM="$2"; shift 2 ;;
        --latent) LATENT="$2"; shift 2 ;;
        --layout) LAYOUT=1; DIT_EXTRA+=(--layout --subject-weight 8 --emphasise grow=3 shrink=2 small+square=3 small+triangle=2); shift ;;
        --dit-init-from) DIT_EXTRA+=(--init-from "$(cd "$(dirname "$2")" && pwd)/$(basename "$2")" --ema 0.99); shift 2 ;;
        --decoder-steps) DECODER_STEPS="$2"; shift 2 ;;
        -h|--help) sed -n '2,47p' "$0"; exit 0 ;;
        *) echo "train_all: unknown option $1" >&2; exit 2 ;;
    esac
done

PY="${PYTHON:-$("$ROOT/scripts/reference/venv.sh")}"
export PYTHONPATH="$REEL_HOME/python${PYTHONPATH:+:$PYTHONPATH}"
export HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false
mkdir -p "$WORK/timings"
cd "$HERE"

log() { printf '[train_all %(%H:%M:%S)T] %s\n' -1 "$*" | tee -a "$WORK/train.log"; }

# run_phase NAME DONE_FILE COMMAND...: runs COMMAND unless DONE_FILE exists; records its seconds.
run_phase() {
    local name="$1" done_file="$2"; shift 2
    if [ -e "$done_file" ]; then log "$name: already done"; return; fi
    log "$name: starting"
    local start=$SECONDS
    "$@"
    echo $((SECONDS - start + $(cat "$WORK/timings/$name" 2>/dev/null || echo 0))) > "$WORK/timings/$name.tmp"
    mv "$WORK/timings/$name.tmp" "$WORK/timings/$name"
    log "$name: done in $((SECONDS - start)) s"
}

spent_seconds() {
    local total=0 f
    for f in "$WORK"/timings/*; do [ -f "$f" ] && total=$((total + $(cat "$f"))); done
    echo "$total"
}

log "budget ${BUDGET_MINUTES} min, threads $THREADS, work $WORK, out $OUT"
run_phase captions "$WORK/captions.npz" \
    "$PY" build_captions.py --work "$WORK" --threads "$THREADS"
if [ -n "$VAE_FROM" ] && [ ! -e "$WORK/vae_done.json" ]; then
    "$PY" import_vae.py --model "$VAE_FROM" --work "$WORK" | tee -a "$WORK/train.log"
fi
run_phase vae "$WORK/vae_done.json" \
    "$PY" train_vae.py --work "$WORK" --minutes "$VAE_MINUTES" --threads "$THREADS" --latent "$LATENT" --resume
if [ "$TEXT_WORDS" = 1 ]; then
    [ "$TEXT_TOKENS" -gt 0 ] || TEXT_TOKENS=1
    DIT_EXTRA+=(--text-words)
    # A work folder whose captions were built before the word states were written.
    [ -e "$WORK/caption_words.npz" ] || "$PY" build_captions.py --work "$WORK" --threads "$THREADS" --words-only
fi
if [ "$LAYOUT" = 1 ]; then
    [ -e "$WORK/caption_words.npz" ] || "$PY" build_captions.py --work "$WORK" --threads "$THREADS" --words-only
    run_phase planner "$WORK/planner_done.json" \
        "$PY" train_planner.py --work "$WORK" --threads "$THREADS" --word-heads 4
fi
run_phase clips "$WORK/clips.npz" \
    "$PY" encode_clips.py --work "$WORK" --clips "$CLIPS" --threads "$THREADS" --resume
DIT_MINUTES=$(( BUDGET_MINUTES - RESERVE_MINUTES - $(spent_seconds) / 60 ))
if [ "$DIT_MINUTES" -lt 1 ]; then DIT_MINUTES=1; fi
log "dit: ${DIT_MINUTES} min left for training"
run_phase dit "$WORK/dit_done.json" \
    "$PY" train_dit.py --work "$WORK" --minutes "$DIT_MINUTES" --steps "$DIT_STEPS" --threads "$THREADS" --noise-shared "$NOISE_SHARED" --motion-loss "$MOTION_LOSS" --attention "$ATTENTION" --local-mixing "$LOCAL_MIXING" --text-tokens "$TEXT_TOKENS" --resume "${DIT_EXTRA[@]}"
"$PY" export.py --work "$WORK" --out "$OUT" | tee -a "$WORK/train.log"
if [ "$DECODER_STEPS" -gt 0 ]; then
    run_phase decoder "$WORK/decoder/vae_done.json" \
        "$PY" train_vae.py --work "$WORK/decoder" --decoder-from "$OUT" --subject-weight 8 --small-fraction 0.5 \
            --latent-noise 0.1 --steps "$DECODER_STEPS" --lr 3e-4 --threads "$THREADS" --resume
    "$PY" export.py --work "$WORK/decoder" --out "$OUT" --vae-only | tee -a "$WORK/train.log"
fi
if [ -n "$FIXTURES" ]; then
    "$PY" parity_fixtures.py --model "$OUT" --out "$FIXTURES" --threads "$THREADS" | tee -a "$WORK/train.log"
fi
if [ "$EVALUATE" = 1 ]; then
    log "evaluation: world clips after a VAE round trip (the ceiling), then generated clips"
    "$PY" evaluate.py --source vae --model "$OUT" --prompts "$WORK/eval_prompts.json" --strides 1 \
        --threads "$THREADS" --limit "$EVAL_LIMIT" | tee -a "$WORK/train.log"
    "$PY" evaluate.py --model "$OUT" --prompts "$WORK/eval_prompts.json" --strides 1 2 --bf16 --threads "$THREADS" \
        --limit "$EVAL_LIMIT" --report "$WORK/eval_report.json" --sheets "$WORK/sheets" | tee -a "$WORK/train.log"
    cp "$WORK/eval_report.json" "$OUT/eval.json"
fi
log "finished: $(( $(spent_seconds) / 60 )) min in the training phases, ${SECONDS} s in this invocation"
