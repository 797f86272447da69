"""Colour / shape / motion adherence of reel-tiny on the held-out evaluation prompts, with the
checks of docs/world.md (clip_analysis.py).

  python evaluate.py --model models/reel-tiny --prompts scripts/train/eval_prompts.json --strides 1 2
  python evaluate.py --source world ...     # evaluator self-test on clips the world renders
  python evaluate.py --source vae ...       # the same clips after a VAE encode/decode round trip

Prints accuracies per stride and per split and writes them (and every clip's verdict) to --report.
"""
import argparse
import json
import os

import numpy as np
import torch

import world
from clip_analysis import analyse
from common import write_json_atomic
from data import WINDOW, to_model_pixels
from images import contact_sheet, write_png
from reel_tiny import ReelTiny
from sampler import generate, to_uint8_frames

CHECKS = ("colour", "shape", "motion")


def world_clips(prompts, stride, seed):
    """Ground-truth renders of the prompts (unnamed size/background drawn at random): uint8 clips."""
    rng = np.random.default_rng([seed, stride])
    clips = []
    for p in prompts:
        spec = world.random_spec(rng, p["background"] or rng.choice(list(world.BACKGROUNDS)), p["colour"], p["shape"],
                                 p["size"] or rng.choice(list(world.SIZES)), p["motion"])
        frames = world.render_clip(spec, int(rng.integers(480)), WINDOW, stride)
        clips.append(np.round(frames * 255).astype(np.uint8))
    return np.stack(clips)


def world_tracks(prompts, stride, seed):
    """Tracks [n, WINDOW, 3] of world openings (world.opening_spec) of the prompts' attributes."""
    from layout import subject_tracks
    rng = np.random.default_rng([seed, stride, 1])
    specs = [world.opening_spec(rng, p["background"] or rng.choice(list(world.BACKGROUNDS)), p["colour"], p["shape"],
                                p["size"] or rng.choice(list(world.SIZES)), p["motion"]) for p in prompts]
    return torch.from_numpy(subject_tracks(specs, [0] * len(specs), [stride] * len(specs), WINDOW))


def vae_round_trip(model, clips):
    pixels = to_model_pixels(clips.reshape(-1, *clips.shape[2:]).astype(np.float32) / 255.0)
    return to_uint8_frames(model.decode(model.encode(pixels))).reshape(clips.shape)


def summarise(verdicts):
    """Fraction of correct verdicts per check, overall and per split."""
    summary = {}
    for split in ["all"] + sorted({v["split"] for v in verdicts}):
        chosen = [v for v in verdicts if split == "all" or v["split"] == split]
        summary[split] = {c: float(np.mean([v[c] == v["expected"][c] for v in chosen])) for c in CHECKS}
        summary[split]["count"] = len(chosen)
    return summary


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="models/reel-tiny")
    parser.add_argument("--prompts", default=os.path.join(os.path.dirname(__file__), "eval_prompts.json"))
    parser.add_argument("--source", choices=("model", "world", "vae"), default="model")
    parser.add_argument("--strides", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--steps", type=int)
    parser.add_argument("--cfg", type=float)
    parser.add_argument("--shift", type=float)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--batch", type=int, default=24, help="prompts sampled together")
    parser.add_argument("--limit", type=int, default=0, help="only the first N prompts (smoke tests)")
    parser.add_argument("--bf16", action="store_true", help="bfloat16 matrix products (faster, not what Swift runs)")
    parser.add_argument("--world-tracks", action="store_true",
                        help="a model with layouts follows tracks of world openings of each prompt's attributes "
                             "instead of its planner's (the DiT's fidelity to a layout, without the planner)")
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--report", help="JSON report path")
    parser.add_argument("--sheets", help="folder for a contact sheet per stride")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    with open(args.prompts) as f:
        prompts = json.load(f)
    if args.limit:
        prompts = prompts[:args.limit]

    model = ReelTiny(args.model) if args.source != "world" else None
    sampler = model.config["sampler"] if model else {}
    steps = args.steps or sampler.get("steps")
    cfg = args.cfg if args.cfg is not None else sampler.get("cfg_scale")
    shift = args.shift if args.shift is not None else sampler.get("shift")
    embeddings = None
    if args.source == "model":
        from text_encoder import load_text_encoder, text_input
        embeddings = text_input(load_text_encoder(), [p["text"] for p in prompts], model.reads_words)

    report = {"source": args.source, "prompts": len(prompts), "sampler": {"steps": steps, "cfg_scale": cfg, "shift": shift},
              "strides": {}}
    for stride in args.strides:
        if args.source == "model":
            tracks = world_tracks(prompts, stride, args.seed) if args.world_tracks else None
            clips = np.concatenate([
                generate(model, embeddings[i:i + args.batch], [stride] * len(embeddings[i:i + args.batch]),
                         args.seed + i, steps, cfg, shift, args.bf16,
                         None if tracks is None else tracks[i:i + args.batch])
                for i in range(0, len(prompts), args.batch)])
        else:
            clips = world_clips(prompts, stride, args.seed)
            if args.source == "vae":
                clips = vae_round_trip(model, clips)
        verdicts = []
        for prompt, clip in zip(prompts, clips):
            verdict = analyse(clip)
            verdict.update(text=prompt["text"], split=prompt["split"], expected={c: prompt[c] for c in CHECKS})
            verdicts.append(verdict)
        summary = summarise(verdicts)
        report["strides"][str(stride)] = {"summary": summary, "clips": verdicts}
        for split, scores in summary.items():
            print(f"{args.source} stride {stride} {split:18s} n={scores['count']:3d} " +
                  " ".join(f"{c} {scores[c] * 100:5.1f}%" for c in CHECKS))
        if args.sheets:
            os.makedirs(args.sheets, exist_ok=True)
            write_png(os.path.join(args.sheets, f"{args.source}_stride{stride}.png"), contact_sheet(clips))
    if args.report:
        write_json_atomic(report, args.report)


if __name__ == "__main__":
    main()
