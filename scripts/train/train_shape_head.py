"""Trains the track planner's shape head: which of world.SHAPES the prompt asks for.

  python train_shape_head.py --work /tmp/reeltrain [--planner OTHER/planner.pt] [--steps 1500]

A DiT trained with `train_dit.py --shape-coverage` reads the subject's own silhouette in its
layout's coverage channel, so at generation time something must name the shape before the DiT
runs: this head (models.TrackPlanner.shape_logits), on the prompt's raw MiniLM pooled embedding and
token states. Needs WORK/captions.npz and WORK/caption_words.npz (build_captions.py); the planner
checkpoint (default WORK/planner.pt) keeps its weights bit for bit — only the head is trained, with
cross-entropy on the training captions of every attribute combination — and is written to
WORK/planner.pt with the head added (a symlinked WORK/planner.pt is replaced by a file). Reports
the head's accuracy on the held-out evaluation prompts (never trained on; eval_prompts.json).
"""
import argparse
import json
import os
import time

import numpy as np
import torch
import torch.nn.functional as F

import world
from captions import TRAIN_COMBOS
from common import Log, add_runtime_arguments, save_atomic, setup_runtime, write_json_atomic
from data import with_caption_words
from models import TrackPlanner

SHAPE_HIDDEN = 128
HEAD_PREFIX = "shape_"


def shape_batch(rng, size, embeddings, caption_ids, words):
    """(text [size, 1 + L, 384] as text_encoder.pack_text gives it, shape indices [size])."""
    combos = rng.integers(len(TRAIN_COMBOS), size=size)
    captions = caption_ids[combos, rng.integers(caption_ids.shape[1], size=size)]
    text = with_caption_words(embeddings[captions].astype(np.float32), captions, words)
    shapes = np.array([world.SHAPES.index(TRAIN_COMBOS[int(c)]["shape"]) for c in combos])
    return torch.as_tensor(text), torch.from_numpy(shapes)


@torch.no_grad()
def held_out_accuracy(planner, prompts_path):
    """Share of the evaluation prompts whose shape the head names, and the misses."""
    from text_encoder import load_text_encoder, text_input
    with open(prompts_path) as f:
        prompts = json.load(f)
    text = torch.as_tensor(text_input(load_text_encoder(), [p["text"] for p in prompts], True))
    named = planner.shape_logits(text).argmax(-1)
    misses = [(p["text"], world.SHAPES[int(k)]) for p, k in zip(prompts, named) if world.SHAPES[int(k)] != p["shape"]]
    return 1.0 - len(misses) / len(prompts), misses


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work", required=True)
    parser.add_argument("--planner", help="the planner checkpoint to add the head to (default WORK/planner.pt)")
    parser.add_argument("--steps", type=int, default=1500)
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--prompts", default=os.path.join(os.path.dirname(__file__), "eval_prompts.json"))
    add_runtime_arguments(parser)
    args = parser.parse_args()
    setup_runtime(args)
    log = Log(os.path.join(args.work, "train.log"))
    source = args.planner or os.path.join(args.work, "planner.pt")
    checkpoint = torch.load(source, map_location="cpu", weights_only=False)
    captions = np.load(os.path.join(args.work, "captions.npz"))
    stored = np.load(os.path.join(args.work, "caption_words.npz"))
    embeddings, caption_ids, words = captions["embeddings"], captions["combo_caption_ids"], (stored["words"], stored["lengths"])

    torch.manual_seed(args.seed)
    hyperparameters = dict(checkpoint["hyperparameters"], shape_classes=len(world.SHAPES), shape_hidden=SHAPE_HIDDEN)
    planner = TrackPlanner(**hyperparameters)
    missing, unexpected = planner.load_state_dict(checkpoint["ema"], strict=False)
    if unexpected or any(not name.startswith(HEAD_PREFIX) for name in missing):
        raise SystemExit(f"shape head: {source} does not fit the planner (missing {missing}, unexpected {unexpected})")
    head = [p for name, p in planner.named_parameters() if name.startswith(HEAD_PREFIX)]
    planner.requires_grad_(False)
    for p in head:
        p.requires_grad_(True)
    optimizer = torch.optim.AdamW(head, lr=args.lr, weight_decay=1e-4)
    rng = np.random.default_rng(args.seed)
    started = time.monotonic()
    recent = []
    for step in range(1, args.steps + 1):
        text, shapes = shape_batch(rng, args.batch, embeddings, caption_ids, words)
        loss = F.cross_entropy(planner.shape_logits(text), shapes)
        for group in optimizer.param_groups:
            group["lr"] = args.lr * min(1.0, step / 100) * (1.0 - 0.9 * step / args.steps)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        recent.append(loss.item())
        if step % 250 == 0:
            log(f"shape head step {step}/{args.steps} cross-entropy {np.mean(recent):.4f}")
            recent = []
    elapsed = time.monotonic() - started
    accuracy, misses = held_out_accuracy(planner.eval(), args.prompts)
    state = {name: value.detach().clone() for name, value in planner.state_dict().items()}
    for name, value in checkpoint["ema"].items():
        if not torch.equal(state[name], value):
            raise SystemExit(f"shape head: the planner's {name} changed; only the head may train")
    checkpoint = dict(checkpoint, ema=state, hyperparameters=hyperparameters,
                      shape_head={"steps": args.steps, "batch": args.batch, "lr": args.lr, "seed": args.seed,
                                  "wall_seconds": round(elapsed), "held_out_accuracy": accuracy})
    target = os.path.join(args.work, "planner.pt")
    if os.path.islink(target):
        os.remove(target)
    save_atomic(checkpoint, target)
    log(f"shape head: done in {elapsed:.0f} s; held-out prompts: shape named for {100 * accuracy:.1f} %; "
        f"misses {misses}")
    write_json_atomic({"shape_head_steps": args.steps, "held_out_shape": accuracy},
                      os.path.join(args.work, "shape_head_done.json"))


if __name__ == "__main__":
    main()
