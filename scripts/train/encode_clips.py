"""Renders the DiT's training clips and encodes them with the trained VAE (posterior means).

  python encode_clips.py --work /tmp/reeltrain [--clips 10240] [--resume]

Needs WORK/vae.pt. Clips cycle through captions.TRAIN_COMBOS (balanced), each CLIP_FRAMES frames
at a random stride from data.CLIP_STRIDES, a random start or an opening (data.OPENING_FRACTION).
Chunks from before openings are re-encoded; chunks from before jumps get them by replaying the
chunk's draws (checked against the strides and openings they hold; re-encoded if those differ).
Work is done in chunks saved under WORK/clip_chunks/ so a killed run resumes where it stopped.
Chunks from before tracks get them the same way.
Writes WORK/clips.npz: latents float16
[n, CLIP_FRAMES, C, H, W], combos [n], strides [n], openings [n], jumps [n, CLIP_FRAMES - 1] (where
the motion jumps, world.track_jumps), tracks [n, CLIP_FRAMES, 3] (the subject's x, y, r per frame,
for layouts: layout.py), and the latent shift and scale
(scalars such that (latent - shift) * scale has zero mean and unit variance over the whole set).
"""
import argparse
import os

import numpy as np
import torch

from captions import TRAIN_COMBOS
from common import Log, add_runtime_arguments, autocast, setup_runtime
from data import CLIP_FRAMES, clip_jumps, clip_tracks, draw_clip_specs, render_clip_batch, to_model_pixels
from models import VAE

CHUNK = 512


def chunk_combos(chunk, clips, seed):
    """The generator and the combo indices of chunk `chunk`'s clips."""
    first = chunk * CHUNK
    count = min(CHUNK, clips - first)
    combo_order = np.random.default_rng([seed, 2**31]).permutation(clips) % len(TRAIN_COMBOS)
    return np.random.default_rng([seed, chunk]), combo_order[first:first + count]


def replayed(part, chunk, clips, seed):
    """{"jumps", "tracks"} of an encoded chunk saved without them, from its replayed draws; None when
    the replay gives other strides or openings (the chunk was made with another recipe)."""
    rng, combos = chunk_combos(chunk, clips, seed)
    specs, strides, starts, openings = draw_clip_specs(rng, combos)
    if not (np.array_equal(combos, part["combos"]) and np.array_equal(strides, part["strides"])
            and np.array_equal(openings, part["openings"])):
        return None
    return {"jumps": clip_jumps(specs, strides, starts), "tracks": clip_tracks(specs, strides, starts)}


def save_chunk(path, **arrays):
    """Writes a chunk atomically and returns it loaded."""
    np.savez(path + ".tmp.npz", **arrays)
    os.replace(path + ".tmp.npz", path)
    return np.load(path)


@torch.no_grad()
def encode_chunk(vae, chunk, clips, seed, device, batch=64):
    """Renders and encodes chunk `chunk` of `clips`: the arrays of its saved chunk."""
    rng, combos = chunk_combos(chunk, clips, seed)
    count = len(combos)
    frames, strides, openings, jumps, tracks = render_clip_batch(rng, combos)
    frames = frames.reshape(-1, *frames.shape[2:])
    means = []
    for i in range(0, len(frames), batch):
        x = to_model_pixels(frames[i:i + batch]).to(device).contiguous(memory_format=torch.channels_last)
        with autocast(device):
            mean = vae.encode(x)
        means.append(mean.float().cpu().numpy())
    latents = np.concatenate(means).reshape(count, CLIP_FRAMES, *means[0].shape[1:])
    return dict(latents=latents.astype(np.float16), combos=combos, strides=strides, openings=openings, jumps=jumps,
                tracks=tracks)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work", required=True)
    parser.add_argument("--clips", type=int, default=10240)
    parser.add_argument("--resume", action="store_true", help="keep chunks already encoded")
    parser.add_argument("--chunks", type=int, default=0,
                        help="encode only the first N chunks of CHUNK clips and write clips.npz from them "
                             "(0 = all; the clips are those of the full run, so a later run without it resumes)")
    add_runtime_arguments(parser)
    args = parser.parse_args()
    device = setup_runtime(args)
    log = Log(os.path.join(args.work, "train.log"))
    state = torch.load(os.path.join(args.work, "vae.pt"), map_location=device, weights_only=False)
    vae = VAE(**state["hyperparameters"]).to(device).to(memory_format=torch.channels_last)
    vae.load_state_dict(state["model"])
    vae.eval()

    chunk_dir = os.path.join(args.work, "clip_chunks")
    os.makedirs(chunk_dir, exist_ok=True)
    chunks = (args.clips + CHUNK - 1) // CHUNK
    parts = []
    for chunk in range(min(chunks, args.chunks) if args.chunks else chunks):
        path = os.path.join(chunk_dir, f"{args.clips}_{args.seed}_{chunk:04d}.npz")
        part = np.load(path) if args.resume and os.path.exists(path) else None
        if part is not None and "openings" in part.files and "tracks" not in part.files:
            added = replayed(part, chunk, args.clips, args.seed)
            if added is not None:
                part = save_chunk(path, **dict({k: part[k] for k in part.files}, **added))
                log(f"clips: added jumps and tracks to chunk {chunk + 1}/{chunks} (replayed)")
        if part is None or "tracks" not in part.files:
            part = save_chunk(path, **encode_chunk(vae, chunk, args.clips, args.seed, device))
            log(f"clips: encoded chunk {chunk + 1}/{chunks}")
        parts.append(part)
    latents = np.concatenate([p["latents"] for p in parts])
    values = latents.astype(np.float64)
    shift, scale = float(values.mean()), float(1.0 / values.std())
    tmp = os.path.join(args.work, "clips.tmp.npz")
    np.savez(tmp, latents=latents, combos=np.concatenate([p["combos"] for p in parts]),
             strides=np.concatenate([p["strides"] for p in parts]),
             openings=np.concatenate([p["openings"] for p in parts]),
             jumps=np.concatenate([p["jumps"] for p in parts]), tracks=np.concatenate([p["tracks"] for p in parts]),
             shift=shift, scale=scale)
    os.replace(tmp, os.path.join(args.work, "clips.npz"))
    log(f"clips: {len(latents)} clips, latent shape {latents.shape[1:]}, shift {shift:.4f}, scale {scale:.4f}, "
        f"per-channel std {np.round(values.std(axis=(0, 1, 3, 4)), 2).tolist()}")


if __name__ == "__main__":
    main()
