"""Frames of the reel-tiny world rendered by scripts/train/world.py, for checking that the Swift
renderer (Sources/Evaluation/WorldRenderer.swift) draws the same world docs/world.md describes.

Writes OUT/world.safetensors (F32 frames [clips, 3, 64, 64, 3] in [0, 1]) and OUT/world.json
(each clip's spec and the frames' start and stride).
"""
import json
import os
import sys

import numpy as np
import torch
from safetensors.torch import save_file

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "train"))
import world  # noqa: E402

CLIPS = [
    ("grass", "red", "circle", "big", "left", (20.5, 30.25), 0.0, 0, 3),
    ("night", "cyan", "square", "small", "up", (40.0, 12.0), 0.0, 5, 4),
    ("sand", "purple", "triangle", "big", "bounce", (33.0, 48.0), 0.3, 2, 2),
    ("sky", "yellow", "circle", "small", "circle", (30.0, 31.0), 0.7, 1, 8),
    ("teal", "orange", "square", "big", "grow", (32.0, 32.0), 0.9, 0, 6),
    ("snow", "blue", "triangle", "small", "shrink", (25.0, 40.0), 0.1, 3, 1),
    ("grey", "pink", "circle", "big", "right", (50.0, 20.0), 0.0, 7, 16),
    ("grass", "green", "square", "small", "down", (15.0, 50.0), 0.0, 0, 12),
]


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    frames, specs = [], []
    for background, colour, shape, size, motion, anchor, phase, start, stride in CLIPS:
        spec = world.ClipSpec(background, colour, shape, size, motion, anchor=anchor, phase=phase)
        frames.append(world.render_clip(spec, start, 3, stride))
        specs.append({"background": background, "colour": colour, "shape": shape, "size": size, "motion": motion,
                      "anchor": list(anchor), "phase": phase, "start": start, "stride": stride})
    save_file({"frames": torch.from_numpy(np.stack(frames).astype(np.float32))}, os.path.join(out, "world.safetensors"))
    with open(os.path.join(out, "world.json"), "w") as f:
        json.dump(specs, f, indent=1)
    print(f"wrote {len(CLIPS)} reference clips of the world to {out}")


if __name__ == "__main__":
    main()
