"""The evaluator's checks on a rendered or generated clip, exactly as docs/world.md specifies them
(the Swift `reel eval` implements the same steps): segment the subject against the background,
then read its colour, shape and motion."""
from collections import Counter

import numpy as np

from world import COLOURS, SIZE

SUBJECT_DISTANCE = 50.0     # RGB distance from the row's background that marks a subject pixel
MIN_AREA = 12               # pixels; smaller components mean "no subject in this frame"
WRAP_JUMP = 20.0            # px; a larger centroid step is a wrap-around, not motion
SHAPE_SQUARE_FILL = 0.88    # fill ratio (area / bounding-box area) at or above: square
SHAPE_CIRCLE_FILL = 0.66    # at or above (and below the square threshold): circle; below: triangle
GROWTH_STEP = 0.025         # |mean step of log area| at or above: grow or shrink
GROWTH_CONTRARY = 0.25      # most fraction of area steps against the growth direction
GROWTH_RESET = 0.5          # |step of log area| above: the sawtooth's reset, not growth
STILL_SPREAD = 3.0          # px; path extent below this on both axes: still
LINEAR_MONOTONY = 0.8       # |net| / total travel on the dominant axis at or above: linear motion


def subject_mask(frame):
    """Boolean [64, 64]: pixels farther than SUBJECT_DISTANCE from their row's background, the
    per-channel median of the row; only the largest 4-connected component is kept."""
    background = np.median(frame, axis=1, keepdims=True)
    mask = np.sqrt(((frame - background) ** 2).sum(-1)) > SUBJECT_DISTANCE
    return largest_component(mask)


def largest_component(mask):
    """The largest 4-connected component of a boolean image (ties: the first in row-major order)."""
    labels = np.zeros(mask.shape, dtype=np.int32)
    best, best_size, label = None, 0, 0
    for start in zip(*np.nonzero(mask)):
        if labels[start]:
            continue
        label += 1
        labels[start] = label
        stack, size = [start], 0
        while stack:
            i, j = stack.pop()
            size += 1
            for ni, nj in ((i - 1, j), (i + 1, j), (i, j - 1), (i, j + 1)):
                if 0 <= ni < mask.shape[0] and 0 <= nj < mask.shape[1] and mask[ni, nj] and not labels[ni, nj]:
                    labels[ni, nj] = label
                    stack.append((ni, nj))
        if size > best_size:
            best, best_size = label, size
    return labels == best if best else np.zeros_like(mask)


def nearest_colour(rgb):
    names = list(COLOURS)
    palette = np.array([COLOURS[n] for n in names], dtype=np.float64)
    return names[int(np.argmin(((palette - rgb) ** 2).sum(-1)))]


def shape_of(mask):
    """circle, square or triangle from the fill ratio of the mask's bounding box."""
    rows, cols = np.nonzero(mask)
    fill = len(rows) / float((rows.max() - rows.min() + 1) * (cols.max() - cols.min() + 1))
    if fill >= SHAPE_SQUARE_FILL:
        return "square"
    return "circle" if fill >= SHAPE_CIRCLE_FILL else "triangle"


def motion_of(centres, areas, interior):
    """Motion class from per-frame centroids [n, 2] (NaN where no subject), areas and whether the
    subject's box is clear of the frame edge. See docs/world.md for the rules."""
    steps, growth = [], []
    for k in range(len(centres) - 1):
        if np.isnan(centres[k]).any() or np.isnan(centres[k + 1]).any():
            continue
        step = centres[k + 1] - centres[k]
        if np.hypot(*step) <= WRAP_JUMP:
            steps.append(step)
        if interior[k] and interior[k + 1]:
            growth.append(np.log(areas[k + 1] / areas[k]))
    if len(steps) < 3:
        return "unknown"
    growth = [g for g in growth if abs(g) <= GROWTH_RESET]
    if len(growth) >= 3:
        mean_growth = float(np.mean(growth))
        contrary = np.mean(np.sign(growth) == -np.sign(mean_growth))
        if abs(mean_growth) >= GROWTH_STEP and contrary <= GROWTH_CONTRARY:
            return "grow" if mean_growth > 0 else "shrink"
    steps = np.array(steps)
    path = np.vstack([np.zeros(2), np.cumsum(steps, axis=0)])
    spread = path.max(axis=0) - path.min(axis=0)
    if (spread < STILL_SPREAD).all():
        return "still"
    travel = np.abs(steps).sum(axis=0)
    net = steps.sum(axis=0)
    axis = int(np.argmax(travel))
    if abs(net[axis]) >= LINEAR_MONOTONY * travel[axis] and travel[1 - axis] <= 0.5 * travel[axis]:
        if axis == 0:
            return "right" if net[0] > 0 else "left"
        return "down" if net[1] > 0 else "up"
    if travel[1] >= 2.0 * travel[0]:
        return "bounce"
    return "circle"


def frame_subjects(frames):
    """Per frame of [T, 64, 64, 3] (floats in [0, 1] or uint8): (frame in 0-255, subject mask) for
    the frames whose subject covers at least MIN_AREA pixels, None for the others."""
    frames = np.asarray(frames, dtype=np.float64)
    if frames.max() <= 1.0:
        frames = frames * 255.0
    found = []
    for frame in frames:
        mask = subject_mask(frame)
        found.append((frame, mask) if mask.sum() >= MIN_AREA else None)
    return found


def centre(mask):
    """The subject's centroid (x, y) in pixel-centre coordinates."""
    rows, cols = np.nonzero(mask)
    return cols.mean() + 0.5, rows.mean() + 0.5


def analyse(frames):
    """frames: [T, 64, 64, 3], floats in [0, 1] or uint8. Returns {colour, shape, motion,
    visible_frames}; a field is None (colour, shape) or "unknown" (motion) when undecidable."""
    subjects = frame_subjects(frames)
    colours, shapes = [], []
    centres = np.full((len(subjects), 2), np.nan)
    areas = np.zeros(len(subjects))
    interior = np.zeros(len(subjects), dtype=bool)
    for k, found in enumerate(subjects):
        if found is None:
            continue
        frame, mask = found
        rows, cols = np.nonzero(mask)
        centres[k] = centre(mask)
        areas[k] = int(mask.sum())
        colours.append(nearest_colour(np.median(frame[mask], axis=0)))
        interior[k] = rows.min() > 0 and cols.min() > 0 and rows.max() < SIZE - 1 and cols.max() < SIZE - 1
        if interior[k] and rows.max() - rows.min() >= 5 and cols.max() - cols.min() >= 5:
            shapes.append(shape_of(mask))
    return {
        "colour": Counter(colours).most_common(1)[0][0] if colours else None,
        "shape": Counter(shapes).most_common(1)[0][0] if shapes else None,
        "motion": motion_of(centres, areas, interior),
        "visible_frames": len(colours),
    }
