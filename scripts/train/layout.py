"""Subject layouts: where the subject is, and how big, in every frame of a window.

A layout is a track [T, 3] of (centre x, centre y, radius) in pixels, the world's own coordinates
(world.subject_state). The DiT reads it as 4 or 5 extra input channels per latent pixel
(layout_channels): a Gaussian bump of width one latent pixel around the subject's centre, that
bump times the centre's offset from the latent pixel (x and y, in latent pixels) and times the
radius (in latent pixels); the fifth, the share of the latent pixel's 8x8 pixels a disc of the
subject's radius covers (the world's anti-aliased circle averaged over the cell: a soft mask at
latent resolution). The offsets carry the position to a fraction of a pixel, which a bump
sampled at 8-pixel spacing alone would blur; the coverage shows the size the way the subject
itself will, which a DiT fine-tuned on the first four did not learn to follow from the radius
channel (grow and shrink came out still). All zeros means "no layout": the DiT was trained with
layouts dropped (LAYOUT_DROP_PROBABILITY) and then draws the subject wherever the words and the
anchors lead it, as before layouts existed.

The track planner (models.TrackPlanner, train_planner.py) draws a track from the prompt; the DiT
then draws the window around it. This is the layout-then-video factorisation of layout-guided
video generation (a planner proposes per-frame boxes, the video model follows them): where a
subject goes is a 48-number decision the planner learns in minutes, instead of something the
DiT has to infer from a few words through a 256-token window at high noise, which twelve
sessions of CPU training did not teach it (models/reel-tiny/README.md, "Known problems").

Swift re-implements layout_channels (Sources/Models/ReelTiny/SubjectLayout.swift); keep the two in
sync.
"""
import numpy as np
import torch

import world

LAYOUT_CHANNELS = 5      # what train_dit.py --layout trains; a 4-channel DiT (no coverage) still loads
LAYOUT_DROP_PROBABILITY = 0.3
# How the track planner is sampled (train_planner.sample_tracks; exported to config.json's planner).
PLANNER_SAMPLER = {"steps": 24, "cfg_scale": 1.0}
# The planner's coordinates: (x - 32) / 16, (y - 32) / 16, (r - 8) / 4 (about unit spread).
TRACK_CENTER = (32.0, 32.0, 8.0)
TRACK_SCALE = (16.0, 16.0, 4.0)


def subject_tracks(specs, starts, strides, count):
    """float32 [n, count, 3]: (x, y, r) of each clip's subject at frames start + k * stride."""
    tracks = np.empty((len(specs), count, 3), dtype=np.float32)
    for i, (spec, start, stride) in enumerate(zip(specs, starts, strides)):
        times = (int(start) + int(stride) * np.arange(count)) / world.FPS
        tracks[i] = np.stack(world.subject_state(spec, times), axis=-1)
    return tracks


def layout_channels(tracks, latent_size, image_size=world.SIZE, channels=LAYOUT_CHANNELS, shapes=None):
    """tracks [..., T, 3] (x, y, r in pixels; a tensor) -> [..., T, channels, H, W] float32 with
    H = W = latent_size: g, g * dx, g * dy, g * r / cell, where cell = image_size / latent_size,
    (dx, dy) = (subject centre - latent pixel centre) / cell and g = exp(-(dx^2 + dy^2) / 2); with
    channels = 5 also the coverage (coverage(): a disc, or with shapes each track's own shape)."""
    if channels not in (4, 5):
        raise ValueError(f"a layout has 4 or 5 channels, not {channels}")
    tracks = torch.as_tensor(tracks, dtype=torch.float32)
    cell = image_size / latent_size
    centres = (torch.arange(latent_size, dtype=torch.float32) + 0.5) * cell
    x, y, r = (tracks[..., i, None, None] for i in range(3))
    dx = (x - centres[None, :]) / cell          # [..., 1, W]
    dy = (y - centres[:, None]) / cell          # [..., H, 1]
    dx, dy = torch.broadcast_tensors(dx, dy)
    g = torch.exp(-0.5 * (dx * dx + dy * dy))
    parts = [g, g * dx, g * dy, g * (r / cell)]
    if channels == 5:
        parts.append(coverage(tracks, latent_size, image_size, shapes))
    return torch.stack(parts, dim=-3)


def coverage(tracks, latent_size, image_size=world.SIZE, shapes=None):
    """[..., T, H, W]: the share of each latent pixel's image pixels inside the subject, anti-aliased
    as world.render_clip draws it (alpha = clip(0.5 - signed distance, 0, 1)): a disc of the track's
    radius (shapes None: the shape-blind coverage of the first layout DiTs), or with shapes (indices
    into world.SHAPES, one per track: shape [...] of tracks' leading axes) each subject's own shape.
    A disc's coverage is the circle's, value for value."""
    cell = image_size // latent_size
    pixels = torch.arange(image_size, dtype=torch.float32) + 0.5
    x, y, r = (tracks[..., i, None, None] for i in range(3))
    dx, dy = pixels[None, :] - x, pixels[:, None] - y                                     # [..., S, S]
    if shapes is None:
        distance = torch.sqrt(dx ** 2 + dy ** 2) - r
    else:
        shapes = torch.as_tensor(shapes).reshape(tracks.shape[:-2] + (1, 1, 1)).expand(dx.shape[:-2] + (1, 1))
        distance = torch.zeros(torch.broadcast_shapes(dx.shape, dy.shape))
        for index, name in enumerate(world.SHAPES):
            distance = torch.where(shapes == index, signed_distance(name, dx, dy, r), distance)
    alpha = (0.5 - distance).clamp(0.0, 1.0)
    shape = alpha.shape[:-2] + (latent_size, cell, latent_size, cell)
    return alpha.reshape(shape).mean(dim=(-3, -1))


def signed_distance(shape, dx, dy, r):
    """world.signed_distance on tensors (negative inside; pixels)."""
    if shape == "circle":
        return torch.sqrt(dx * dx + dy * dy) - r
    if shape == "square":
        return torch.maximum(dx.abs(), dy.abs()) - r
    if shape == "triangle":
        inv = 1.0 / 5.0 ** 0.5
        left = (-2.0 * dx - (dy + r)) * inv
        right = (2.0 * dx - (dy + r)) * inv
        return torch.maximum(torch.maximum(left, right), dy - r)
    raise ValueError(f"unknown shape {shape}")


def normalise_tracks(tracks):
    """Pixel tracks [..., 3] -> the planner's coordinates (TRACK_CENTER, TRACK_SCALE)."""
    return (torch.as_tensor(tracks, dtype=torch.float32) - torch.tensor(TRACK_CENTER)) / torch.tensor(TRACK_SCALE)


def pixel_tracks(normalised):
    """Inverse of normalise_tracks."""
    return normalised * torch.tensor(TRACK_SCALE) + torch.tensor(TRACK_CENTER)
