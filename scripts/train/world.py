"""The reel-tiny world: a procedural renderer of 64x64 RGB clips at 8 fps.

A clip shows one subject (colour, shape, size, motion) over one background. Everything here is
documented exactly in docs/world.md, which the Swift evaluator (`reel eval`) re-implements; keep
the two in sync.

Coordinates are in pixels: x to the right, y downward, the centre of pixel (row i, column j) at
(j + 0.5, i + 0.5). Time is in seconds; frame k of a clip rendered from global frame `start` with
stride `s` shows time t = (start + k * s) / FPS.
"""
from dataclasses import dataclass

import numpy as np

SIZE = 64
FPS = 8

# Subject palette (RGB, 0-255). Every colour is at least 100 away (Euclidean RGB) from every
# background pixel and at least 100 away from every other palette colour; see docs/world.md.
COLOURS = {
    "red": (220, 36, 36),
    "orange": (255, 130, 0),
    "yellow": (245, 225, 40),
    "green": (0, 235, 70),
    "cyan": (0, 220, 235),
    "blue": (30, 40, 220),
    "purple": (150, 50, 220),
    "pink": (255, 80, 200),
}

# Backgrounds: vertical gradients, colour of row i = top + (bottom - top) * i / 63 (solid when equal).
BACKGROUNDS = {
    "grass": ((96, 140, 64), (64, 108, 44)),
    "sky": ((110, 165, 225), (175, 210, 240)),
    "night": ((12, 14, 38), (34, 40, 82)),
    "sand": ((226, 204, 156), (200, 170, 118)),
    "grey": ((128, 128, 128), (128, 128, 128)),
    "teal": ((30, 80, 90), (90, 140, 140)),
    "snow": ((236, 238, 242), (236, 238, 242)),
}

SHAPES = ("circle", "square", "triangle")

# Base radius in pixels: a circle of radius r, a square of half-side r, a triangle with apex
# (cx, cy - r) and base from (cx - r, cy + r) to (cx + r, cy + r). All fit a 2r x 2r box.
SIZES = {"small": 6.0, "big": 10.0}

MOTIONS = ("left", "right", "up", "down", "bounce", "circle", "grow", "shrink", "still")

SPEED = 8.0            # px/s for left, right, up, down
BOUNCE_PERIOD = 1.5    # s
BOUNCE_HEIGHT = 14.0   # px
CIRCLE_PERIOD = 3.0    # s
CIRCLE_RADIUS = 12.0   # px
GROW_PERIOD = 3.0      # s, sawtooth
GROW_RANGE = (0.6, 1.4)  # radius factor over one grow period (reversed for shrink)
MARGIN = 2.0           # px always kept between the subject's box and the frame edge
# The linear motions: the coordinate they move along (0 = x, 1 = y) and its direction.
LINEAR_MOTIONS = {"left": (0, -1.0), "right": (0, 1.0), "up": (1, -1.0), "down": (1, 1.0)}


@dataclass(frozen=True)
class ClipSpec:
    """Everything that determines a clip, independent of which frames are rendered.

    anchor: (x, y) in pixels. For left/right/up/down it is the position at t = 0; for bounce it is (x, floor y); for circle the centre of the orbit; otherwise the
    subject's centre. phase: fraction of a period (bounce, circle, grow, shrink) added at t = 0.
    """
    background: str
    colour: str
    shape: str
    size: str
    motion: str
    anchor: tuple
    phase: float


def track_range(radius):
    """(lo, hi): the centre coordinates that keep a subject of this radius whole and MARGIN px
    inside the frame."""
    return radius + MARGIN, SIZE - radius - MARGIN


def wrap_track(position0, velocity, t, radius):
    """Position on a looping track: on reaching one edge the subject jumps to the opposite edge,
    so it is always whole and MARGIN px clear of the frame edge. The track is
    [radius + MARGIN, SIZE - radius - MARGIN)."""
    lo, hi = track_range(radius)
    return lo + np.mod(position0 - lo + velocity * t, hi - lo)


def subject_state(spec, times):
    """Centre x, centre y and radius of the subject at each time in `times` (seconds)."""
    times = np.asarray(times, dtype=np.float64)
    r0 = SIZES[spec.size]
    ax, ay = spec.anchor
    ones = np.ones_like(times)
    x, y, r = ax * ones, ay * ones, r0 * ones
    if spec.motion in LINEAR_MOTIONS:
        axis, sign = LINEAR_MOTIONS[spec.motion]
        position = wrap_track(spec.anchor[axis], sign * SPEED, times, r0)
        x, y = (position, y) if axis == 0 else (x, position)
    elif spec.motion == "bounce":
        y = ay - BOUNCE_HEIGHT * np.abs(np.sin(np.pi * (times / BOUNCE_PERIOD + spec.phase)))
    elif spec.motion == "circle":
        angle = 2.0 * np.pi * (times / CIRCLE_PERIOD + spec.phase)
        x = ax + CIRCLE_RADIUS * np.cos(angle)
        y = ay + CIRCLE_RADIUS * np.sin(angle)
    elif spec.motion in ("grow", "shrink"):
        ramp = np.mod(times / GROW_PERIOD + spec.phase, 1.0)
        if spec.motion == "shrink":
            ramp = 1.0 - ramp
        lo, hi = GROW_RANGE
        r = r0 * (lo + (hi - lo) * ramp)
    elif spec.motion != "still":
        raise ValueError(f"unknown motion {spec.motion}")
    return x, y, r


def track_jumps(spec, start, count, stride):
    """bool [count - 1]: True where frame k -> k + 1 of `render_clip(spec, start, count, stride)` is a
    discontinuity of the motion rather than a step of it: a linear motion wrapping to the opposite
    edge, or grow/shrink's sawtooth resetting. Other motions never jump."""
    times = (start + stride * np.arange(count)) / FPS
    r0 = SIZES[spec.size]
    if spec.motion in LINEAR_MOTIONS:
        axis, sign = LINEAR_MOTIONS[spec.motion]
        lo, hi = track_range(r0)
        laps = np.floor((spec.anchor[axis] - lo + sign * SPEED * times) / (hi - lo))
    elif spec.motion in ("grow", "shrink"):
        laps = np.floor(times / GROW_PERIOD + spec.phase)
    else:
        return np.zeros(max(0, count - 1), dtype=bool)
    return np.diff(laps) != 0


def signed_distance(shape, dx, dy, r):
    """Signed distance in pixels (negative inside) from offsets (dx, dy) to a shape of radius r.

    Exact inside every shape and for the circle; outside a square's or triangle's corners it is
    the max of the edge distances, which only rounds the anti-aliasing at corners.
    """
    if shape == "circle":
        return np.sqrt(dx * dx + dy * dy) - r
    if shape == "square":
        return np.maximum(np.abs(dx), np.abs(dy)) - r
    if shape == "triangle":
        inv = 1.0 / np.sqrt(5.0)
        # Edges through the apex (0, -r): outward normals (-2, -1)/sqrt5 and (2, -1)/sqrt5.
        left = (-2.0 * dx - (dy + r)) * inv
        right = (2.0 * dx - (dy + r)) * inv
        base = dy - r
        return np.maximum(np.maximum(left, right), base)
    raise ValueError(f"unknown shape {shape}")


def background_image(name):
    """The background as float32 [SIZE, SIZE, 3] in [0, 1]."""
    top, bottom = (np.asarray(c, dtype=np.float64) for c in BACKGROUNDS[name])
    rows = np.arange(SIZE, dtype=np.float64)[:, None] / (SIZE - 1)
    column = top[None, :] + (bottom - top)[None, :] * rows
    return np.repeat(column[:, None, :], SIZE, axis=1).astype(np.float32) / 255.0


def render_clip(spec, start, count, stride):
    """Frames `start, start + stride, ...` (count of them) as float32 [count, SIZE, SIZE, 3] in [0, 1].

    Coverage is anti-aliased over one pixel: alpha = clip(0.5 - signed_distance, 0, 1).
    """
    times = (start + stride * np.arange(count)) / FPS
    cx, cy, r = subject_state(spec, times)
    centres = np.arange(SIZE, dtype=np.float64) + 0.5
    dx = centres[None, None, :] - cx[:, None, None]
    dy = centres[None, :, None] - cy[:, None, None]
    alpha = np.clip(0.5 - signed_distance(spec.shape, dx, dy, r[:, None, None]), 0.0, 1.0)
    alpha = alpha[..., None].astype(np.float32)
    colour = np.asarray(COLOURS[spec.colour], dtype=np.float32) / 255.0
    return background_image(spec.background)[None] * (1.0 - alpha) + colour * alpha


def random_anchor(rng, motion, size):
    """A start position that keeps the subject whole and MARGIN px inside the frame all the time."""
    r = SIZES[size]
    lo, hi = track_range(r)
    if motion == "bounce":
        return (rng.uniform(lo, hi), rng.uniform(lo + BOUNCE_HEIGHT, hi))
    if motion == "circle":
        return (rng.uniform(lo + CIRCLE_RADIUS, hi - CIRCLE_RADIUS),
                rng.uniform(lo + CIRCLE_RADIUS, hi - CIRCLE_RADIUS))
    if motion in ("grow", "shrink"):
        big = r * GROW_RANGE[1]
        return (rng.uniform(big + MARGIN, SIZE - big - MARGIN), rng.uniform(big + MARGIN, SIZE - big - MARGIN))
    return (rng.uniform(lo, hi), rng.uniform(lo, hi))


def random_spec(rng, background, colour, shape, size, motion):
    """A ClipSpec with the given attributes and a random position and phase."""
    return ClipSpec(background, colour, shape, size, motion,
                    anchor=tuple(float(v) for v in random_anchor(rng, motion, size)),
                    phase=float(rng.uniform(0.0, 1.0)))


# An opening clip shows a motion from its beginning, the way a shot that introduces it would: a
# linear motion enters from its starting side (the along-track coordinate within OPENING_BAND px of
# the track's first end), bounce starts on the floor, circle at angle 0, grow at its smallest,
# shrink at its largest (phase within OPENING_PHASE of 0). Rendered from global frame 0. The DiT
# learns unanchored windows from these, so the words alone fix which way the subject goes; see
# data.OPENING_FRACTION and docs/world.md.
OPENING_BAND = 4.0     # px
OPENING_PHASE = 0.04   # fraction of a period


def opening_spec(rng, background, colour, shape, size, motion):
    """A ClipSpec whose motion starts at its beginning at t = 0 (see OPENING_BAND)."""
    anchor = list(random_anchor(rng, motion, size))
    lo, hi = track_range(SIZES[size])
    entry = float(rng.uniform(0.0, OPENING_BAND))
    if motion in LINEAR_MOTIONS:
        axis, sign = LINEAR_MOTIONS[motion]
        anchor[axis] = hi - entry if sign < 0 else lo + entry
    return ClipSpec(background, colour, shape, size, motion, anchor=tuple(float(v) for v in anchor),
                    phase=float(rng.uniform(0.0, OPENING_PHASE)))


def palette_distances():
    """(min palette-to-background distance, min palette-to-palette distance), RGB 0-255."""
    rgb = np.array(list(COLOURS.values()), dtype=np.float64)
    backgrounds = np.concatenate([background_image(b).reshape(-1, 3)[::SIZE] * 255.0 for b in BACKGROUNDS])
    to_background = np.sqrt(((rgb[:, None, :] - backgrounds[None, :, :]) ** 2).sum(-1)).min()
    pairwise = np.sqrt(((rgb[:, None, :] - rgb[None, :, :]) ** 2).sum(-1))
    return float(to_background), float(pairwise[~np.eye(len(rgb), dtype=bool)].min())
