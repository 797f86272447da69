"""Training data for reel-tiny: random frames for the VAE, and for the DiT a cache of encoded clips
with their caption embeddings, plus the window/mask/caption sampling that makes its batches."""
from typing import NamedTuple, Optional

import numpy as np
import torch

import world
from captions import ALL_COMBOS, TRAIN_COMBOS
from layout import LAYOUT_DROP_PROBABILITY, layout_channels, subject_tracks
from text_encoder import pack_text

CLIP_FRAMES = 32          # frames per cached clip; windows of WINDOW frames are cut from them
WINDOW = 16
# Stride of a cached clip and its probability. Windows may also take every second frame of a
# clip (probability SUBSAMPLE_PROBABILITY), so the model sees strides 1 to 32.
CLIP_STRIDES = {1: 0.22, 2: 0.20, 3: 0.08, 4: 0.16, 6: 0.06, 8: 0.12, 12: 0.06, 16: 0.10}
SUBSAMPLE_PROBABILITY = 0.15
# How often a window is cut from a clip of each stride, relative to the clips' own mix: fine
# strides carry the smooth motion the prompts describe (at 8 px/s a subject moves 1 px a frame at
# stride 1); at stride 8 and above the looping tracks alias and positions look unrelated frame to
# frame, which taught the first checkpoints to treat a window's frames as a set.
STRIDE_SAMPLING_WEIGHTS = {1: 3.0, 2: 2.0, 3: 1.0, 4: 1.0, 6: 0.5, 8: 0.5, 12: 0.25, 16: 0.25}
START_RANGE = 60 * world.FPS   # clips start at a random global frame in [0, START_RANGE)
# Share of cached clips that are openings (world.opening_spec, from frame 0). Unanchored windows
# are cut from the start of an opening clip, anchored ones from anywhere in any clip: a window
# drawn from the words alone opens a shot, so its motion starts at the beginning and "moves left"
# differs from "moves right" already in the mean clip; with uniform positions and looping tracks
# those two means are the same smear and the direction lives only in how frames relate.
# 0.5 for the shipped checkpoint (since the ninth session; first tried in the seventh, models/
# reel-tiny/README.md). At 0 no random number is drawn for it, so the clips are those of the
# checkpoints before (0).
OPENING_FRACTION = 0.5
# Cut windows only where the subject's motion is continuous: no linear motion wrapping to the
# opposite edge, no grow/shrink sawtooth reset inside the window (world.track_jumps; caches store
# `jumps`). Left in, a jump is in 63-67 % of the linear-motion windows (a 16-frame window covers
# 16 px at stride 1 of a 40-48 px track, all of it at stride 3 and above) and 85 % of grow/shrink
# ones, so most of what the DiT saw of "moves left" was a subject that teleports. Clips without
# one jump-free window (linear motions at stride 3 and above) are left out and the others of their
# motion weighted up, so every motion keeps its share of the windows. On for the shipped checkpoint
# (since the ninth session; first tried in the eighth).
JUMP_FREE_WINDOWS = True
TEXT_DROP_PROBABILITY = 0.1

# Anchor-mask kinds and their probabilities (see anchor_mask).
MASK_KINDS = {"none": 0.4, "head": 0.2, "tail": 0.1, "ends": 0.15, "keyframes": 0.15}


def to_model_pixels(frames):
    """float [n, 64, 64, 3] in [0, 1] -> tensor [n, 3, 64, 64] in [-1, 1]."""
    return torch.from_numpy(np.ascontiguousarray(frames.transpose(0, 3, 1, 2))) * 2.0 - 1.0


def random_frames(rng, count, combos=TRAIN_COMBOS, small_fraction=0.0, subject=False):
    """`count` single frames of random clips at random times: float [count, 64, 64, 3].

    small_fraction: that share of the frames draws its subject small whatever the combination says
    (the draw is made only when small_fraction > 0, so the default keeps the recipe's draws).
    subject: also return where the subject is, bool [count, 64, 64] (a pixel the subject changes)."""
    frames = np.empty((count, world.SIZE, world.SIZE, 3), dtype=np.float32)
    covered = np.empty((count, world.SIZE, world.SIZE), dtype=bool)
    for i in range(count):
        attrs = combos[rng.integers(len(combos))]
        if small_fraction > 0 and rng.random() < small_fraction:
            attrs = dict(attrs, size="small")
        spec = world.random_spec(rng, **attrs)
        frames[i] = world.render_clip(spec, int(rng.integers(START_RANGE)), 1, 1)[0]
        if subject:
            covered[i] = np.abs(frames[i] - world.background_image(spec.background)).max(axis=-1) > 0.5 / 255
    return (frames, covered) if subject else frames


def held_out_frames(count=1024, seed=12345):
    """A fixed set of frames (all combos, held-out ones included) for measuring reconstruction."""
    return random_frames(np.random.default_rng(seed), count, ALL_COMBOS)


def psnr(reference, reconstruction):
    """Mean over frames of the PSNR (dB) of [0, 1] images."""
    mse = ((reference - reconstruction) ** 2).reshape(len(reference), -1).mean(axis=1)
    return float(np.mean(10.0 * np.log10(1.0 / np.maximum(mse, 1e-10))))


def random_clip_stride(rng):
    strides = list(CLIP_STRIDES)
    return strides[rng.choice(len(strides), p=np.array(list(CLIP_STRIDES.values())))]


def draw_clip_specs(rng, combo_indices):
    """What render_clip_batch renders, without rendering: (specs, strides [n], starts [n], openings
    [n]). The draws are the recipe's, so replaying a chunk's generator gives its clips' specs."""
    specs = []
    strides = np.empty(len(combo_indices), dtype=np.int64)
    starts = np.empty(len(combo_indices), dtype=np.int64)
    openings = np.empty(len(combo_indices), dtype=bool)
    for i, combo in enumerate(combo_indices):
        openings[i] = OPENING_FRACTION > 0 and rng.random() < OPENING_FRACTION
        # Draw order: spec, stride, start (the order of the recipe before openings).
        specs.append((world.opening_spec if openings[i] else world.random_spec)(rng, **TRAIN_COMBOS[combo]))
        strides[i] = random_clip_stride(rng)
        starts[i] = 0 if openings[i] else int(rng.integers(START_RANGE))
    return specs, strides, starts, openings


def clip_jumps(specs, strides, starts):
    """bool [n, CLIP_FRAMES - 1]: where each clip's motion jumps between frames (world.track_jumps)."""
    return np.stack([world.track_jumps(spec, int(start), CLIP_FRAMES, int(stride))
                     for spec, stride, start in zip(specs, strides, starts)])


def clip_tracks(specs, strides, starts):
    """float32 [n, CLIP_FRAMES, 3]: the subject's (x, y, r) in every frame of each clip (layout.py)."""
    return subject_tracks(specs, starts, strides, CLIP_FRAMES)


def render_clip_batch(rng, combo_indices):
    """Renders one cached clip per combo index: frames [n, CLIP_FRAMES, 64, 64, 3], strides [n],
    openings [n] (True for an opening clip, see OPENING_FRACTION), jumps [n, CLIP_FRAMES - 1] and
    tracks [n, CLIP_FRAMES, 3] (clip_tracks)."""
    specs, strides, starts, openings = draw_clip_specs(rng, combo_indices)
    frames = np.empty((len(combo_indices), CLIP_FRAMES, world.SIZE, world.SIZE, 3), dtype=np.float32)
    for i, spec in enumerate(specs):
        frames[i] = world.render_clip(spec, int(starts[i]), CLIP_FRAMES, int(strides[i]))
    return frames, strides, openings, clip_jumps(specs, strides, starts), clip_tracks(specs, strides, starts)


def anchor_mask(rng, kind):
    """[WINDOW] float mask of anchor frames for a mask kind:
    none; head (first 1-8 frames: continue a clip); tail (last 1-8: lead into a clip);
    ends (first and last 1-4: fill between two anchors); keyframes (every k-th frame from an
    offset, k in 2, 4, 5, 8, 15, or 2-5 random frames)."""
    mask = np.zeros(WINDOW, dtype=np.float32)
    if kind == "head":
        mask[:rng.integers(1, 9)] = 1
    elif kind == "tail":
        mask[WINDOW - rng.integers(1, 9):] = 1
    elif kind == "ends":
        mask[:rng.integers(1, 5)] = 1
        mask[WINDOW - rng.integers(1, 5):] = 1
    elif kind == "keyframes":
        if rng.random() < 0.7:
            step = int(rng.choice([2, 4, 5, 8, 15]))
            mask[int(rng.integers(step)) if step < 15 else 0::step] = 1
        else:
            mask[rng.choice(WINDOW, size=int(rng.integers(2, 6)), replace=False)] = 1
    return mask


def caption_text_normalisation(embeddings, caption_ids):
    """(center [384] float32, scale): the mean embedding of the training captions (the rows of
    `embeddings` that `caption_ids` uses) and the factor that brings their spread around it to unit
    RMS per dimension (see models.FlowConditioned)."""
    used = embeddings[np.unique(caption_ids)].astype(np.float64)
    center = used.mean(axis=0)
    scale = 1.0 / np.sqrt(((used - center) ** 2).mean())
    return center.astype(np.float32), float(scale)


class Batch(NamedTuple):
    """One training batch (ClipDataset.batch)."""
    x0: torch.Tensor
    mask: torch.Tensor
    text: torch.Tensor
    stride: torch.Tensor
    layout: Optional[torch.Tensor]   # [size, WINDOW, LAYOUT_CHANNELS, H, W] with layouts, else None
    combos: torch.Tensor             # TRAIN_COMBOS index of each window, -1 where the text was dropped

    def to(self, device):
        return Batch(*(None if v is None else v.to(device) for v in self))


class ClipDataset:
    """Windows of encoded clips with masks and caption embeddings, sampled with a numpy Generator.

    latents: float16 [n, CLIP_FRAMES, C, H, W] raw VAE means; combos [n]; strides [n];
    caption_embeddings [u, 384]; caption_ids [len(TRAIN_COMBOS), k] rows of caption_embeddings;
    openings [n] bool or None (a cache made before openings: every window from anywhere);
    jumps [n, CLIP_FRAMES - 1] bool or None (needed when JUMP_FREE_WINDOWS is on);
    tracks [n, CLIP_FRAMES, 3] float32 or None: the subject's (x, y, r) per frame, for a DiT that
    reads layouts (layout.py; batches then carry them, dropped LAYOUT_DROP_PROBABILITY of the time).
    """

    def __init__(self, latents, combos, strides, caption_embeddings, caption_ids, shift, scale, openings=None,
                 jumps=None, caption_words=None, tracks=None, motion_emphasis=None, shape_coverage=False):
        self.latents = latents
        self.tracks = tracks
        # Layout coverage of each clip's own shape (layout.coverage with shapes), else a disc.
        self.clip_shapes = np.array([world.SHAPES.index(TRAIN_COMBOS[int(c)]["shape"]) for c in combos]) if shape_coverage else None
        # (float16 [u, L, 384] zero-padded, lengths [u]) or None: batches then give text as
        # text_encoder.pack_text does, [size, 1 + L, 384].
        self.caption_words = caption_words
        self.combos = combos
        self.strides = strides
        self.caption_embeddings = caption_embeddings
        self.caption_ids = caption_ids
        self.shift, self.scale = shift, scale
        self.mask_kinds = list(MASK_KINDS)
        self.mask_probabilities = np.array(list(MASK_KINDS.values()))
        weights = np.array([STRIDE_SAMPLING_WEIGHTS.get(int(s), 1.0) for s in strides], dtype=np.float64)
        self.valid_offsets = None
        if JUMP_FREE_WINDOWS:
            if jumps is None:
                raise ValueError("the clip cache has no `jumps` (made before jump-free windows); "
                                 "run encode_clips.py --resume on it to add them")
            self.valid_offsets = jump_free_offsets(jumps)
            weights = motion_balanced(weights, self.valid_offsets[:, 0].any(axis=1), combos)
        for key, factor in (motion_emphasis or {}).items():
            # key: a motion, size or shape, or several joined by "+" (all must match: "small+square").
            wanted = key.split("+")
            matches = np.array([all(w in TRAIN_COMBOS[int(c)].values() for w in wanted) for c in combos])
            weights = np.where(matches, weights * factor, weights)
        self.clip_probabilities = weights / weights.sum()
        self.opening_probabilities = None
        if openings is not None and openings.any():
            if self.valid_offsets is not None:
                openings = openings & self.valid_offsets[:, 0, 0]
            opening_weights = np.where(openings, weights, 0.0)
            self.opening_probabilities = opening_weights / opening_weights.sum()

    @classmethod
    def load(cls, clips_path, captions_path, words_path=None, layouts=False, motion_emphasis=None, shape_coverage=False):
        """words_path: caption_words.npz (build_captions.py) for a DiT with text_words, else None;
        layouts: batches carry the subject's layout (the cache must hold `tracks`); motion_emphasis:
        {key: factor}, windows whose combination has that motion, size or shape (or all of several
        joined by "+", "small+square") drawn factor times as often; shape_coverage: the
        layout's coverage channel is the subject's own shape, not a disc."""
        clips = np.load(clips_path)
        captions = np.load(captions_path)
        words = None
        if words_path is not None:
            stored = np.load(words_path)
            if len(stored["words"]) != len(captions["embeddings"]):
                raise ValueError(f"{words_path} holds {len(stored['words'])} captions, {captions_path} "
                                 f"{len(captions['embeddings'])}; run build_captions.py --words-only again")
            words = (stored["words"], stored["lengths"])
        if layouts and "tracks" not in clips.files:
            raise ValueError(f"{clips_path} has no `tracks` (made before layouts); run encode_clips.py --resume "
                             f"on its work folder to add them")
        return cls(clips["latents"], clips["combos"], clips["strides"], captions["embeddings"],
                   captions["combo_caption_ids"], float(clips["shift"]), float(clips["scale"]),
                   clips["openings"] if "openings" in clips.files else None,
                   clips["jumps"] if "jumps" in clips.files else None, words,
                   clips["tracks"] if layouts else None, motion_emphasis, shape_coverage)

    def text_normalisation(self):
        """caption_text_normalisation of this cache's captions."""
        return caption_text_normalisation(self.caption_embeddings, self.caption_ids)

    def batch(self, rng, size):
        """A Batch: x0 [size, WINDOW, C, H, W] (scaled latents), mask [size, WINDOW], text [size, 384]
        (zeros when dropped; with caption words [size, 1 + L, 384] as text_encoder.pack_text gives),
        stride [size], layout (with tracks: layout_channels of each window's frames, zeros where
        dropped; else None) and each window's TRAIN_COMBOS index [size] (-1 where the text was
        dropped). Without tracks the draws are those of the recipe before layouts."""
        x0 = np.empty((size, WINDOW) + self.latents.shape[2:], dtype=np.float32)
        masks = np.empty((size, WINDOW), dtype=np.float32)
        text = np.zeros((size, self.caption_embeddings.shape[1]), dtype=np.float32)
        captions = np.full(size, -1, dtype=np.int64)
        strides = np.empty(size, dtype=np.float32)
        combos = np.full(size, -1, dtype=np.int64)
        tracks = None if self.tracks is None else np.empty((size, WINDOW, 3), dtype=np.float32)
        drawn = np.empty(size, dtype=np.int64)     # the clip of each window (an opening may replace the first draw)
        # Draw order as before openings (clips, then per window step, offset, mask), so a cache
        # without openings gives the same batches as the recipe before them.
        clips = rng.choice(len(self.latents), size=size, p=self.clip_probabilities)
        for i, clip in enumerate(clips):
            step = 2 if rng.random() < SUBSAMPLE_PROBABILITY else 1
            if self.valid_offsets is None:
                offset = int(rng.integers(CLIP_FRAMES - step * (WINDOW - 1)))
            else:
                step = step if self.valid_offsets[clip, step - 1].any() else 1
                offsets = np.flatnonzero(self.valid_offsets[clip, step - 1])
                offset = int(offsets[rng.integers(len(offsets))])
            kind = self.mask_kinds[rng.choice(len(self.mask_kinds), p=self.mask_probabilities)]
            if kind == "none" and self.opening_probabilities is not None:
                clip, offset = rng.choice(len(self.latents), p=self.opening_probabilities), 0
                if self.valid_offsets is not None and not self.valid_offsets[clip, step - 1, 0]:
                    step = 1
            x0[i] = self.latents[clip, offset:offset + step * WINDOW:step]
            drawn[i] = clip
            if tracks is not None:
                tracks[i] = self.tracks[clip, offset:offset + step * WINDOW:step]
            strides[i] = self.strides[clip] * step
            masks[i] = anchor_mask(rng, kind)
            if rng.random() >= TEXT_DROP_PROBABILITY:
                caption = self.caption_ids[self.combos[clip], rng.integers(self.caption_ids.shape[1])]
                text[i] = self.caption_embeddings[caption]
                combos[i] = self.combos[clip]
                captions[i] = caption
        x0 = (x0 - self.shift) * self.scale
        if self.caption_words is not None:
            text = with_caption_words(text, captions, self.caption_words)
        layout = None
        if tracks is not None:
            # Drawn after every other draw of the batch.
            kept = torch.from_numpy(rng.random(size) >= LAYOUT_DROP_PROBABILITY)
            shapes = None if self.clip_shapes is None else torch.from_numpy(self.clip_shapes[drawn])
            layout = layout_channels(torch.from_numpy(tracks), x0.shape[-1], shapes=shapes) * kept[:, None, None, None, None]
        return Batch(torch.from_numpy(x0), torch.from_numpy(masks), torch.from_numpy(text), torch.from_numpy(strides),
                     layout, torch.from_numpy(combos))


def with_caption_words(pooled, captions, caption_words):
    """pooled [n, 384] packed with the word states (caption_words.npz's (words, lengths)) of caption
    rows `captions` [n] as text_encoder.pack_text does; -1 marks a dropped text, which stays all
    zeros."""
    words, lengths = caption_words
    kept = captions >= 0
    return pack_text(pooled, np.where(kept[:, None, None], words[np.maximum(captions, 0)].astype(np.float32), 0),
                     np.where(kept, lengths[np.maximum(captions, 0)], 0))


def jump_free_offsets(jumps):
    """bool [n, 2, CLIP_FRAMES - WINDOW + 1]: [clip, step - 1, offset] is True when the window of
    WINDOW frames every `step` from `offset` lies inside the clip and has no jump."""
    clips = len(jumps)
    valid = np.zeros((clips, 2, CLIP_FRAMES - WINDOW + 1), dtype=bool)
    for step in (1, 2):
        span = step * (WINDOW - 1)
        for offset in range(CLIP_FRAMES - span):
            valid[:, step - 1, offset] = ~jumps[:, offset:offset + span].any(axis=1)
    return valid


def motion_balanced(weights, usable, combos):
    """Clip weights with unusable clips at zero and the usable ones of each motion scaled so that
    every motion keeps the share of the total it had with all clips."""
    motions = np.array([TRAIN_COMBOS[int(c)]["motion"] for c in combos])
    balanced = np.where(usable, weights, 0.0)
    for motion in np.unique(motions):
        of_motion = motions == motion
        kept = balanced[of_motion].sum()
        if kept == 0:
            raise ValueError(f"no clip of motion {motion} has a jump-free window")
        balanced[of_motion] *= weights[of_motion].sum() / kept
    return balanced
