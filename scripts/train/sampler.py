"""Euler flow-matching sampler for reel-tiny (shifted schedule, classifier-free guidance, anchors),
and a command that renders clips from prompts to PNG frames.

  python sampler.py --model models/reel-tiny --prompt "a red ball rolls left on green grass" \
      --stride 1 --out /tmp/clip

Writes OUT/clip_<i>/frame_<k>.png, OUT/sheet.png (one row per prompt) and OUT/frames.npy
(uint8 [prompts, frames, 64, 64, 3]).
"""
import argparse
import contextlib
import os

import numpy as np
import torch

from images import contact_sheet, write_png
from layout import layout_channels
from models import correlated_noise
from reel_tiny import ReelTiny
from text_encoder import load_text_encoder, text_input


def time_schedule(steps, shift):
    """t_0 = 1 > t_1 > ... > t_steps = 0: u uniform from 1 to 0, t = shift u / (1 + (shift - 1) u)."""
    u = torch.linspace(1.0, 0.0, steps + 1, dtype=torch.float64)
    return (shift * u / (1.0 + (shift - 1.0) * u)).tolist()


@torch.no_grad()
def sample(dit, text, stride, noise, steps, cfg_scale, shift, anchors=None, mask=None, bfloat16=False, layout=None):
    """Integrates dx/dt = v from t = 1 (x = noise) to t = 0 and returns x0 [n, T, C, H, W].

    text [n, 384] or, for a DiT with text_words, [n, 1 + L, 384] (zeros = unconditional), stride [n], noise [n, T, C, H, W], anchors like noise
    and mask [n, T] (1 = anchor frame) or None. Anchor frames are reset to (1 - t) anchor + t noise
    after every step. With cfg_scale != 1 the conditional and unconditional passes run as one batch.
    layout [n, T, L, H, W] (layout.layout_channels) or None; both passes see it (guidance is on the text).
    """
    n = noise.shape[0]
    anchors = torch.zeros_like(noise) if anchors is None else anchors
    mask = torch.zeros(noise.shape[:2], dtype=noise.dtype, device=noise.device) if mask is None else mask
    frame_mask = mask[:, :, None, None, None].bool()
    guided = cfg_scale != 1.0
    precision = torch.autocast(noise.device.type, dtype=torch.bfloat16) if bfloat16 else contextlib.nullcontext()
    times = time_schedule(steps, shift)
    x = noise.clone()
    for t, t_next in zip(times[:-1], times[1:]):
        tt = torch.full((n,), t, dtype=noise.dtype, device=noise.device)
        with precision:
            if guided:
                v = dit(torch.cat([x, x]), torch.cat([anchors, anchors]), torch.cat([mask, mask]),
                        torch.cat([text, torch.zeros_like(text)]), torch.cat([stride, stride]), torch.cat([tt, tt]),
                        None if layout is None else torch.cat([layout, layout]))
                v_text, v_null = v.float().chunk(2)
                v = v_null + cfg_scale * (v_text - v_null)
            else:
                v = dit(x, anchors, mask, text, stride, tt, layout).float()
        x = x + (t_next - t) * v
        x = torch.where(frame_mask, (1.0 - t_next) * anchors + t_next * noise, x)
    return x


def to_uint8_frames(pixels):
    """[..., 3, 64, 64] in [-1, 1] -> uint8 [..., 64, 64, 3]."""
    values = ((pixels.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
    return values.movedim(-3, -1).cpu().numpy()


def plan_layout(model, texts_embedded, strides, seed, tracks=None, shapes=None):
    """The DiT's layout input for a model with a planner: tracks [n, T, 3] in pixels (default: drawn
    by the planner from the text, pooled and, for a planner that reads them, token states; its noise
    from `seed` + 1) made into layout channels; for a DiT whose coverage is the subject's shape, the
    shapes (world.SHAPES indices [n]; default: named by the planner's shape head); None for a model
    without layouts."""
    if not model.dit.layout_channels:
        return None
    if tracks is None:
        from train_planner import sample_tracks
        text = torch.as_tensor(texts_embedded, dtype=torch.float32)
        text = text[:, 0] if text.dim() == 3 and not model.planner.word_heads else text
        tracks = sample_tracks(model.planner, text, torch.as_tensor(strides, dtype=torch.float32),
                               torch.Generator().manual_seed(seed + 1), **model.planner_settings)
    if model.layout_coverage == "shape" and shapes is None:
        shapes = model.planner.shape_logits(torch.as_tensor(texts_embedded, dtype=torch.float32)).argmax(-1)
    return layout_channels(tracks, model.dit.latent_size, channels=model.dit.layout_channels,
                           shapes=shapes if model.layout_coverage == "shape" else None).to(model.device)


def generate(model, texts_embedded, strides, seed, steps, cfg_scale, shift, bfloat16=False, tracks=None):
    """Clips (uint8 [n, T, 64, 64, 3]) for text inputs [n, 384] (or [n, 1 + L, 384], text_encoder.text_input
    with model.reads_words) and strides [n]; noise from `seed`. A model with layouts follows `tracks`
    [n, T, 3] (pixels), or its planner's tracks when None (plan_layout)."""
    dit = model.dit
    layout = plan_layout(model, texts_embedded, strides, seed, tracks)
    texts_embedded = torch.as_tensor(texts_embedded)
    if texts_embedded.dim() == 3 and not dit.text_words:
        texts_embedded = texts_embedded[:, 0]
    shape = (len(texts_embedded), dit.frames, dit.channels, dit.latent_size, dit.latent_size)
    noise = correlated_noise(shape, model.noise_shared, torch.Generator().manual_seed(seed)).to(model.device)
    latents = sample(dit, torch.as_tensor(texts_embedded, device=model.device),
                     torch.as_tensor(strides, dtype=torch.float32, device=model.device), noise, steps, cfg_scale,
                     shift, bfloat16=bfloat16, layout=layout)
    return to_uint8_frames(model.decode(latents))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="models/reel-tiny")
    parser.add_argument("--prompt", action="append", required=True, help="repeat for several clips")
    parser.add_argument("--stride", type=int, default=1)
    parser.add_argument("--steps", type=int)
    parser.add_argument("--cfg", type=float, help="guidance scale (default: config.json)")
    parser.add_argument("--shift", type=float, help="schedule shift (default: config.json)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--bf16", action="store_true", help="bfloat16 matrix products (faster on CPU, not what Swift runs)")
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    model = ReelTiny(args.model)
    defaults = model.config["sampler"]
    text = text_input(load_text_encoder(), args.prompt, model.reads_words)
    clips = generate(model, text, [args.stride] * len(args.prompt), args.seed,
                     args.steps or defaults["steps"], args.cfg if args.cfg is not None else defaults["cfg_scale"],
                     args.shift if args.shift is not None else defaults["shift"], args.bf16)
    os.makedirs(args.out, exist_ok=True)
    for i, clip in enumerate(clips):
        folder = os.path.join(args.out, f"clip_{i}")
        os.makedirs(folder, exist_ok=True)
        for k, frame in enumerate(clip):
            write_png(os.path.join(folder, f"frame_{k:02d}.png"), frame)
    write_png(os.path.join(args.out, "sheet.png"), contact_sheet(clips))
    np.save(os.path.join(args.out, "frames.npy"), clips)
    print(f"sampler: wrote {len(clips)} clips to {args.out}")


if __name__ == "__main__":
    main()
