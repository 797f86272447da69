"""Trains reel-tiny's track planner: the first stage of layout-then-video generation (layout.py).

  python train_planner.py --work /tmp/reeltrain [--steps 4000]

Needs WORK/captions.npz. The planner (models.TrackPlanner) learns, with the rectified-flow
objective of the DiT, the subject's track (x, y, r in every frame of a 16-frame window) given a
caption's pooled MiniLM embedding and the frame stride. Its data are the windows the DiT learns to
draw from the words alone: opening clips (world.opening_spec) from global frame 0, cut only where the
motion has no jump, strides drawn as the DiT's windows draw them (data.CLIP_STRIDES times
data.STRIDE_SAMPLING_WEIGHTS, every second frame SUBSAMPLE_PROBABILITY of the time). Tracks are
computed, not rendered, so every batch is new. Text is dropped (zeros) TEXT_DROP_PROBABILITY of
the time. Keeps an EMA of the weights (exported by export.py as planner.safetensors); writes
WORK/planner.pt and WORK/planner_done.json. On the held-out evaluation prompts it reports how often
a sampled track's net motion is the asked one (linear motions: the asked direction dominates).
"""
import argparse
import copy
import json
import math
import os
import time

import numpy as np
import torch

import world
from captions import TRAIN_COMBOS
from common import Log, add_runtime_arguments, parameter_count, save_atomic, setup_runtime, write_json_atomic
from data import (CLIP_STRIDES, STRIDE_SAMPLING_WEIGHTS, SUBSAMPLE_PROBABILITY, TEXT_DROP_PROBABILITY, WINDOW,
                  caption_text_normalisation, with_caption_words)
from layout import PLANNER_SAMPLER, normalise_tracks, pixel_tracks, subject_tracks
from models import TrackPlanner
from sampler import time_schedule

PLANNER_HYPERPARAMETERS = {"frames": WINDOW, "dim": 256, "depth": 4, "mlp_ratio": 2, "text_dim": 384,
                           "frequency_dim": 256, "word_heads": 0}
_STRIDES = list(CLIP_STRIDES)
_STRIDE_P = np.array([CLIP_STRIDES[s] * STRIDE_SAMPLING_WEIGHTS.get(s, 1.0) for s in _STRIDES])
_STRIDE_P = _STRIDE_P / _STRIDE_P.sum()


def window_stride(rng, spec):
    """A stride for an opening window of `spec` as the DiT's batches draw them, redrawn until the
    window has no jump (linear motions then end at stride 1-2, as with data.JUMP_FREE_WINDOWS)."""
    for _ in range(100):
        stride = _STRIDES[rng.choice(len(_STRIDES), p=_STRIDE_P)] * (2 if rng.random() < SUBSAMPLE_PROBABILITY else 1)
        if not world.track_jumps(spec, 0, WINDOW, stride).any():
            return stride
    return 1


def planner_batch(rng, size, embeddings, caption_ids, words=None):
    """(normalised tracks [size, WINDOW * 3], text [size, 384], strides [size]) as tensors; with
    words (caption_words.npz's (words, lengths)) text is [size, 1 + L, 384] (text_encoder.pack_text)."""
    tracks = np.empty((size, WINDOW, 3), dtype=np.float32)
    text = np.zeros((size, embeddings.shape[1]), dtype=np.float32)
    strides = np.empty(size, dtype=np.float32)
    captions = np.full(size, -1, dtype=np.int64)
    for i in range(size):
        combo = int(rng.integers(len(TRAIN_COMBOS)))
        spec = world.opening_spec(rng, **TRAIN_COMBOS[combo])
        strides[i] = window_stride(rng, spec)
        tracks[i] = subject_tracks([spec], [0], [int(strides[i])], WINDOW)[0]
        if rng.random() >= TEXT_DROP_PROBABILITY:
            captions[i] = caption_ids[combo, rng.integers(caption_ids.shape[1])]
            text[i] = embeddings[captions[i]]
    if words is not None:
        text = with_caption_words(text, captions, words)
    return normalise_tracks(tracks).reshape(size, -1), torch.from_numpy(text), torch.from_numpy(strides)


@torch.no_grad()
def sample_tracks(planner, text, stride, generator, steps=PLANNER_SAMPLER["steps"],
                  cfg_scale=PLANNER_SAMPLER["cfg_scale"]):
    """Euler from t = 1 to 0 (the DiT's schedule at shift 1): pixel tracks [n, WINDOW, 3]."""
    n = len(text)
    z = torch.randn(n, planner.frames * 3, generator=generator)
    times = time_schedule(steps, 1.0)
    for t, t_next in zip(times[:-1], times[1:]):
        tt = torch.full((n,), t)
        if cfg_scale != 1.0:
            v_text, v_null = planner(torch.cat([z, z]), torch.cat([text, torch.zeros_like(text)]),
                                     torch.cat([stride, stride]), torch.cat([tt, tt])).chunk(2)
            v = v_null + cfg_scale * (v_text - v_null)
        else:
            v = planner(z, text, stride, tt)
        z = z + (t_next - t) * v
    return pixel_tracks(z.reshape(n, planner.frames, 3))


def track_motion(track):
    """The motion a pixel track [T, 3] shows, by the rules of docs/world.md's evaluator in spirit:
    a straight net displacement of at least 4 px along one axis names its direction; else the radius
    changing by at least 20 % names grow or shrink; else a path of at least 8 px names bounce or
    circle (not told apart here: "moving"); else still."""
    x, y, r = track[:, 0], track[:, 1], track[:, 2]
    dx, dy = float(x[-1] - x[0]), float(y[-1] - y[0])
    if max(abs(dx), abs(dy)) >= 4.0 and max(abs(dx), abs(dy)) >= 2.0 * min(abs(dx), abs(dy)):
        return ("right" if dx > 0 else "left") if abs(dx) > abs(dy) else ("down" if dy > 0 else "up")
    if abs(float(r[-1] / r[0]) - 1.0) >= 0.2:
        return "grow" if r[-1] > r[0] else "shrink"
    path = float(torch.sqrt(torch.diff(x) ** 2 + torch.diff(y) ** 2).sum())
    return "moving" if path >= 8.0 else "still"


def evaluate(planner, prompts_path, seed, stride=1):
    """Share of the held-out prompts whose sampled track shows the asked motion (bounce and circle
    count when the track moves), and the verdicts."""
    from text_encoder import load_text_encoder, text_input
    with open(prompts_path) as f:
        prompts = json.load(f)
    text = torch.as_tensor(text_input(load_text_encoder(), [p["text"] for p in prompts], planner.word_heads > 0))
    tracks = sample_tracks(planner, text, torch.full((len(prompts),), float(stride)),
                           torch.Generator().manual_seed(seed))
    verdicts = []
    for prompt, track in zip(prompts, tracks):
        seen = track_motion(track)
        asked = prompt["motion"]
        verdicts.append((asked, seen, seen == asked or (asked in ("bounce", "circle") and seen == "moving")))
    return sum(v[2] for v in verdicts) / len(verdicts), verdicts


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work", required=True)
    parser.add_argument("--steps", type=int, default=4000)
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--ema", type=float, default=0.999)
    parser.add_argument("--word-heads", type=int, default=PLANNER_HYPERPARAMETERS["word_heads"],
                        help="attention-pooling heads over MiniLM's per-token states (models.TrackPlanner; needs "
                             "WORK/caption_words.npz from build_captions.py); 0: the pooled embedding alone")
    parser.add_argument("--prompts", default=os.path.join(os.path.dirname(__file__), "eval_prompts.json"))
    add_runtime_arguments(parser)
    args = parser.parse_args()
    device = setup_runtime(args)
    log = Log(os.path.join(args.work, "train.log"))
    captions = np.load(os.path.join(args.work, "captions.npz"))
    embeddings, caption_ids = captions["embeddings"], captions["combo_caption_ids"]
    center, scale = caption_text_normalisation(embeddings, caption_ids)
    words = None
    if args.word_heads:
        stored = np.load(os.path.join(args.work, "caption_words.npz"))
        words = (stored["words"], stored["lengths"])
    hyperparameters = dict(PLANNER_HYPERPARAMETERS, word_heads=args.word_heads)

    planner = TrackPlanner(**hyperparameters).to(device)
    planner.set_text_normalisation(center, scale)
    ema = copy.deepcopy(planner).requires_grad_(False)
    optimizer = torch.optim.AdamW(planner.parameters(), lr=args.lr, betas=(0.9, 0.99), weight_decay=0.0)
    rng = np.random.default_rng(args.seed)
    torch.manual_seed(args.seed)
    log(f"planner: {parameter_count(planner) / 1e6:.2f}M parameters, {args.steps} steps, batch {args.batch}")
    started = time.monotonic()
    recent = []
    for step in range(1, args.steps + 1):
        x0, text, stride = (v.to(device) for v in planner_batch(rng, args.batch, embeddings, caption_ids, words))
        t = torch.sigmoid(torch.randn(args.batch)).to(device)
        noise = torch.randn_like(x0)
        xt = (1.0 - t[:, None]) * x0 + t[:, None] * noise
        loss = (planner(xt, text, stride, t) - (noise - x0)).pow(2).mean()
        warm = min(1.0, step / 200)
        for group in optimizer.param_groups:
            group["lr"] = args.lr * warm * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * step / args.steps)))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(planner.parameters(), 1.0)
        optimizer.step()
        with torch.no_grad():
            decay = min(args.ema, (1 + step) / (10 + step))
            for e, p in zip(ema.parameters(), planner.parameters()):
                e.lerp_(p, 1.0 - decay)
        recent.append(loss.item())
        if step % 250 == 0:
            log(f"planner step {step}/{args.steps} loss {np.mean(recent):.4f} "
                f"({(time.monotonic() - started) / step:.3f}s/step)")
            recent = []
    elapsed = time.monotonic() - started
    save_atomic({"ema": ema.state_dict(), "hyperparameters": hyperparameters, "text_center": center,
                 "text_scale": scale, "step": args.steps, "elapsed": elapsed, "seed": args.seed,
                 "batch": args.batch, "lr": args.lr}, os.path.join(args.work, "planner.pt"))
    accuracy, verdicts = evaluate(ema.cpu(), args.prompts, args.seed)
    misses = [f"{asked}->{seen}" for asked, seen, ok in verdicts if not ok]
    log(f"planner: done in {elapsed / 60:.1f} min; held-out prompts, stride 1: asked motion in "
        f"{100 * accuracy:.1f} % of sampled tracks; misses {misses}")
    write_json_atomic({"step": args.steps, "held_out_motion": accuracy}, os.path.join(args.work, "planner_done.json"))


if __name__ == "__main__":
    main()
