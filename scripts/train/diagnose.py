"""Quick checks of a reel-tiny DiT that say *why* it scores as it does, in a minute on one core.

  python diagnose.py --model models/reel-tiny [--checks attention continuation latent-noise]

attention     How focused each block's self-attention is on a few world clips at t = 0.6: entropy
              as a fraction of the uniform distribution's, and the weight a query gives to its own
              patch position (full and space spans) or to frames within one of its own (time spans).
              Near 1.0 entropy = the block averages its whole span.
continuation  Temporal modelling without text ambiguity: world clips of every motion at stride 1
              with their first 4 frames given as anchors; the DiT draws the other 12 and the
              evaluator (clip_analysis) reads the whole window's motion. A model that has learnt
              how subjects move continues them; one that draws frames independently does not.
latent-noise  Whether the VAE's latent space is the limit: true latents of linear-motion clips
              plus i.i.d. Gaussian noise of growing size, decoded, motion read back.
prediction    What the DiT expects a clip to be before any noise is resolved: world clips of still
              subjects and of the linear motions with their first 1 or 4 frames given as anchors,
              one forward pass at t = 1 and t = 0.9, the predicted clean window x0 = x_t - t v
              decoded; per distance from the last anchor frame, the share of frames where the
              evaluator finds a subject and its median distance from where the world puts it.
              Given an anchor, the caption fixes the rest of the clip, so a model that has learnt to
              move a subject predicts it already at t = 1; the still clips show whether it can carry
              one across the window at all.
image-first   Factorised sampling (first the window, then the window again from its own first frame(s)
              as anchors, so that the anchors fix the subject and the caption only the motion): the
              evaluator's colour/shape/motion scores of the held-out prompts (--prompts) at stride 1,
              plain and with 1 or 2 anchor frames. Slow: three samplings of 72 prompts.
text          Whether the DiT's prediction rests on the motion words: the flow loss of unanchored
              jump-free linear-motion world windows at t = 0.5, 0.8, 0.95 with their caption, with
              the opposite motion's caption ("moves left" for "moves right"), with another colour's
              (the control: a word the DiT uses) and with no text. A model that uses the motion
              words predicts worse with the opposite caption.
mean-clip     Whether the motion words reach the mean clip: for each linear motion, 16 world
              openings (world.opening_spec: the subject starts at the far end of its track) and
              the DiT's one-step prediction at t = 1 from noise with their captions (E[x0 | words]),
              each averaged over the 16 in latent space and decoded; the subject-weighted centroid
              (squared distance from the row's median colour) of frames 0 and 15. A model that
              takes the direction from the words puts "moves left" subjects right of "moves right"
              ones, as the openings do.
layout        For a DiT with layouts (layout.py): how closely it draws the subject where the layout
              says, without the planner: 8 world openings per motion at stride 1 with their
              captions, sampled (config's sampler) with the openings' own tracks as layouts; per
              motion the share of frames with a subject found, the median distance of its centroid
              from the track's centre (a triangle's centroid lies r/3 below its box centre), the
              same after removing each clip's mean offset (how well it follows the track's
              motion), how often the evaluator reads the clip's motion right, the subject's
              area over the area the track's radius gives (median; 1 = the layout's size) and,
              for grow and shrink, its change of log area over the track's (1 = followed, 0 =
              drawn still).
small-shapes  Where small subjects lose their shape: 10 world openings per shape, small, at stride 1
              (linear motions and still), read by the evaluator (a) as the world renders them, (b)
              after a VAE round trip (encoder, then decoder: what the decoder can draw back from
              a true latent) and (c) drawn by the DiT from noise with their captions and the
              openings' own tracks as layouts (the config's sampler). Per shape, how many the
              evaluator names right and what it read instead.
tracks        Whether the DiT follows the motion words: the held-out prompts that ask for left,
              right, up or down (--prompts), generated unanchored at stride 1; per clip the subject's
              net displacement along the asked direction and its travel across it (the world: +15 px
              and 0 in 16 frames).
"""
import argparse
import json
import math
import os

import numpy as np
import torch

import world
from clip_analysis import WRAP_JUMP, analyse, centre, frame_subjects
from data import to_model_pixels
from evaluate import CHECKS, summarise
from reel_tiny import ReelTiny
from sampler import generate, sample, to_uint8_frames
from text_encoder import load_text_encoder, text_input

MOTION_WORDS = {"left": "moves left", "right": "moves right", "up": "moves up", "down": "moves down",
                "bounce": "bounces", "circle": "moves in a circle", "grow": "grows", "shrink": "shrinks",
                "still": "stays still"}


def draw_spec(rng, motion, make=world.random_spec):
    """A ClipSpec of `motion` with a random background, colour, shape and size (drawn in that
    order), made by world.random_spec or world.opening_spec."""
    return make(rng, str(rng.choice(list(world.BACKGROUNDS))), str(rng.choice(list(world.COLOURS))),
                str(rng.choice(world.SHAPES)), str(rng.choice(list(world.SIZES))), motion)


def caption(spec):
    """The plain caption of a ClipSpec: "a small red circle moves left on green grass"."""
    return f"a {spec.size} {spec.colour} {spec.shape} {MOTION_WORDS[spec.motion]} on {spec.background}"


def world_windows(model, motions, seed, frames=16, stride=1, jump_free=False):
    """(latents [n, T, C, H, W] DiT-scale, uint8 clips, captions) of random world clips; with
    jump_free, starts are redrawn until the motion has no jump in the window (world.track_jumps:
    no wrap to the opposite edge, no grow/shrink reset)."""
    rng = np.random.default_rng(seed)
    specs = [draw_spec(rng, motion) for motion in motions]
    starts = []
    for spec in specs:
        start, tries = int(rng.integers(480)), 1
        while jump_free and world.track_jumps(spec, start, frames, stride).any():
            if tries == 1000:
                raise SystemExit(f"diagnose: no jump-free window of {frames} frames at stride {stride} for {spec.motion}")
            start, tries = int(rng.integers(480)), tries + 1
        starts.append(start)
    clips = [world.render_clip(spec, start, frames, stride) for spec, start in zip(specs, starts)]
    latents = torch.stack([model.encode(to_model_pixels(clip)) for clip in clips])
    return latents, [np.round(c * 255).astype(np.uint8) for c in clips], [caption(spec) for spec in specs]


def attention_focus(model, seed):
    dit = model.dit
    latents, _, captions = world_windows(model, ["left", "up", "bounce", "grow"], seed)
    text = torch.as_tensor(text_input(load_text_encoder(), captions, model.dit.text_words))
    # Each block's attention input, captured by wrapping its attention for one forward pass.
    captured = []
    for block in dit.blocks:
        block.attention = (lambda x, block=block, original=block.attention:
                           captured.append(block.attention_weights(block.group(x))[0]) or original(x))
    t = 0.6
    noise = torch.randn(latents.shape, generator=torch.Generator().manual_seed(seed))
    try:
        dit((1 - t) * latents + t * noise, torch.zeros_like(latents), torch.zeros(latents.shape[:2]), text,
            torch.ones(len(latents)), torch.full((len(latents),), t))
    finally:
        for block in dit.blocks:
            del block.attention   # back to DiTBlock.attention
    print("attention at t = 0.6 (entropy / uniform's; weight on the query's own patch position or nearby frames)")
    grid = dit.grid * dit.grid
    for index, (block, weights) in enumerate(zip(dit.blocks, captured)):
        span = weights.shape[-1]
        entropy = float(-(weights * torch.log(weights + 1e-12)).sum(-1).mean() / np.log(span))
        keys = torch.arange(span)
        if block.span == "time":   # keys are frames: the weight within one frame of the query's
            focus, what = ((keys[:, None] - keys[None, :]).abs() <= 1).float(), "frames within 1"
        else:                      # keys are tokens of a window or a frame: the same patch position
            position = keys % grid
            focus, what = (position[:, None] == position[None, :]).float(), "own position"
        weight = float((weights * focus).sum(-1).mean())
        print(f"  block {index} ({block.span}, {span} keys): entropy {entropy:.2f}, {what} {weight:.2f} "
              f"(uniform {float(focus.sum(-1).mean()) / span:.2f})")


def continuation(model, seed, heads=4, stride=1, jump_free=False):
    motions = ["left", "right", "up", "down", "bounce", "circle", "grow", "shrink"] * 2
    latents, clips, captions = world_windows(model, motions, seed, stride=stride, jump_free=jump_free)
    text = torch.as_tensor(text_input(load_text_encoder(), captions, model.dit.text_words))
    mask = torch.zeros(latents.shape[:2])
    mask[:, :heads] = 1
    noise = torch.randn(latents.shape, generator=torch.Generator().manual_seed(seed))
    config = model.config["sampler"]
    drawn = sample(model.dit, text, torch.full((len(latents),), float(stride)), noise, config["steps"],
                   config["cfg_scale"], config["shift"], anchors=latents, mask=mask)
    frames = to_uint8_frames(model.decode(drawn))
    right = [analyse(f)["motion"] == m for f, m in zip(frames, motions)]
    truth = [analyse(c)["motion"] == m for c, m in zip(clips, motions)]
    observed = [analyse(f)["motion"] for f in frames]
    print(f"continuation from {heads} anchor frames (stride {stride}): {sum(right)}/{len(motions)} motions read right "
          f"(the world clips themselves: {sum(truth)}/{len(motions)})")
    print("  " + ", ".join(f"{m}→{o}" for m, o in zip(motions, observed)))


def latent_noise(model, seed):
    motions = ["left", "right", "up", "down"] * 4
    latents, _, _ = world_windows(model, motions, seed)
    generator = torch.Generator().manual_seed(seed)
    for sigma in (0.0, 0.1, 0.2, 0.3, 0.5):
        frames = to_uint8_frames(model.decode(latents + sigma * torch.randn(latents.shape, generator=generator)))
        right = sum(analyse(f)["motion"] == m for f, m in zip(frames, motions))
        print(f"latent noise sigma {sigma}: {right}/{len(motions)} linear motions read right")


def prediction(model, seed, stride=1, jump_free=False):
    last = model.dit.frames - 1
    bands = ((1, 4), (5, 8), (9, last))
    print(f"one-step prediction from anchors (stride {stride}; per distance from the last anchor frame: "
          f"frames with a subject found, median centroid error in px)")
    encoder = load_text_encoder()
    for group, motions in (("still", ["still"] * 16), ("linear", ["left", "right", "up", "down"] * 4)):
        latents, clips, captions = world_windows(model, motions, seed, stride=stride, jump_free=jump_free)
        text = torch.as_tensor(text_input(encoder, captions, model.dit.text_words))
        n = len(motions)
        noise = torch.randn(latents.shape, generator=torch.Generator().manual_seed(seed))
        truth = [[centre(found[1]) if found else None for found in frame_subjects(clip)] for clip in clips]
        for heads in (1, 4):
            mask = torch.zeros(latents.shape[:2])
            mask[:, :heads] = 1
            for t in (1.0, 0.9):
                xt = (1 - t) * latents + t * noise
                v = model.dit(xt, latents, mask, text, torch.full((n,), float(stride)), torch.full((n,), t))
                found = [frame_subjects(f) for f in to_uint8_frames(model.decode(xt - t * v))]
                parts = []
                for low, high in bands:
                    frames = range(heads - 1 + low, min(heads - 1 + high, last) + 1)
                    errors = [np.hypot(*np.subtract(centre(clip[k][1]), expected[k]))
                              for clip, expected in zip(found, truth) for k in frames
                              if clip[k] is not None and expected[k] is not None]
                    error = f"{np.median(errors):.1f}" if errors else "-"
                    parts.append(f"{low}-{high}: {len(errors)}/{n * len(frames)} found, {error} px")
                print(f"  {group}, {heads} anchor frame(s), t = {t}: " + "; ".join(parts))


OPPOSITE = {"left": "right", "right": "left", "up": "down", "down": "up"}


def text_use(model, seed, stride=1, draws=4):
    """Flow loss of unanchored jump-free linear-motion windows with their caption, with the caption
    of the opposite motion, and with no text: how much the DiT's prediction rests on the motion
    words (a gap between the first two) versus on the rest of the caption (the last)."""
    motions = ["left", "right", "up", "down"] * 8
    latents, _, captions = world_windows(model, motions, seed, stride=stride, jump_free=True)
    encoder = load_text_encoder()
    right = torch.as_tensor(text_input(encoder, captions, model.dit.text_words))
    opposite = torch.as_tensor(text_input(encoder, [c.replace(MOTION_WORDS[m], MOTION_WORDS[OPPOSITE[m]])
                                               for c, m in zip(captions, motions)], model.dit.text_words))
    # The control: another colour's caption (the next palette colour), a word the DiT does use.
    colours = list(world.COLOURS)
    recoloured = []
    for caption in captions:
        colour = next(c for c in colours if f" {c} " in caption)
        recoloured.append(caption.replace(f" {colour} ", f" {colours[(colours.index(colour) + 1) % len(colours)]} "))
    recoloured = torch.as_tensor(text_input(encoder, recoloured, model.dit.text_words))
    n = len(motions)
    mask = torch.zeros(latents.shape[:2])
    generator = torch.Generator().manual_seed(seed)
    noises = [torch.randn(latents.shape, generator=generator) for _ in range(draws)]
    print(f"flow loss of {n} unanchored jump-free linear-motion windows (stride {stride}, {draws} noise draws): "
          f"with their caption / the opposite motion's / another colour's / no text")
    for t in (0.5, 0.8, 0.95):
        losses = []
        for text in (right, opposite, recoloured, torch.zeros_like(right)):
            total = 0.0
            for noise in noises:
                xt = (1 - t) * latents + t * noise
                v = model.dit(xt, latents, mask, text, torch.full((n,), float(stride)), torch.full((n,), t))
                total += float((v - (noise - latents)).pow(2).mean())
            losses.append(total / draws)
        print(f"  t = {t}: " + " / ".join(f"{loss:.4f}" for loss in losses))


def weighted_centroids(pixels):
    """[T, 2] (x, y) of each frame of pixels [T, 3, H, W], weighted by the squared distance of a
    pixel from its row's median colour: where a (blurred) subject is."""
    frames = pixels.float().numpy()
    size = frames.shape[-1]
    ys, xs = np.mgrid[0:size, 0:size] + 0.5
    weights = ((frames - np.median(frames, axis=3, keepdims=True)) ** 2).sum(1)
    total = weights.sum((1, 2))
    return np.stack([(weights * xs).sum((1, 2)) / total, (weights * ys).sum((1, 2)) / total], axis=1)


def mean_clip(model, seed, per_motion=16):
    rng = np.random.default_rng(seed)
    encoder = load_text_encoder()
    generator = torch.Generator().manual_seed(seed)
    dit = model.dit
    print(f"mean clip of {per_motion} stride-1 openings per linear motion, world vs the DiT at t = 1 "
          f"(subject-weighted centroid x, y of frames 0 and 15)")
    for motion in world.LINEAR_MOTIONS:
        specs = [draw_spec(rng, motion, world.opening_spec) for _ in range(per_motion)]
        latents = torch.stack([model.encode(to_model_pixels(world.render_clip(spec, 0, dit.frames, 1))) for spec in specs])
        text = torch.as_tensor(text_input(encoder, [caption(spec) for spec in specs], model.dit.text_words))
        noise = torch.randn(latents.shape, generator=generator)
        n = len(specs)
        v = dit(noise, torch.zeros_like(noise), torch.zeros(latents.shape[:2]), text, torch.ones(n), torch.ones(n))
        rows = []
        for label, mean in (("world", latents.mean(0)), ("DiT", (noise - v).mean(0))):
            c = weighted_centroids(model.decode(mean[None])[0])
            rows.append(f"{label} ({c[0, 0]:4.1f}, {c[0, 1]:4.1f}) -> ({c[-1, 0]:4.1f}, {c[-1, 1]:4.1f})")
        print(f"  {motion:5s}: " + "   ".join(rows))


def image_first(model, seed, prompts_path):
    with open(prompts_path) as f:
        items = json.load(f)
    text = torch.as_tensor(text_input(load_text_encoder(), [p["text"] for p in items], model.dit.text_words))
    dit, config = model.dit, model.config["sampler"]
    shape = (len(items), dit.frames, dit.channels, dit.latent_size, dit.latent_size)
    stride = torch.ones(len(items))

    def draw(noise_seed, anchors=None, mask=None):
        noise = torch.randn(shape, generator=torch.Generator().manual_seed(noise_seed))
        return sample(dit, text, stride, noise, config["steps"], config["cfg_scale"], config["shift"],
                      anchors=anchors, mask=mask)

    def report(latents, label):
        verdicts = [dict(analyse(f), split=p["split"], expected={c: p[c] for c in CHECKS})
                    for f, p in zip(to_uint8_frames(model.decode(latents)), items)]
        scores = summarise(verdicts)["all"]
        print(f"  {label}: " + ", ".join(f"{c} {100 * scores[c]:.1f} %" for c in CHECKS))

    print(f"image-first sampling of {len(items)} prompts (stride 1, seed {seed}; evaluator without the MP4 round trip)")
    first = draw(seed)
    report(first, "one pass")
    for heads in (1, 2):
        mask = torch.zeros(shape[:2])
        mask[:, :heads] = 1
        report(draw(seed + 1, first, mask), f"again from its first {heads} frame(s)")


DIRECTIONS = {"left": (0, -1), "right": (0, 1), "up": (1, -1), "down": (1, 1)}


def tracks(model, seed, prompts_path, stride=1):
    with open(prompts_path) as f:
        items = [p for p in json.load(f) if p["motion"] in DIRECTIONS]
    config = model.config["sampler"]
    text = text_input(load_text_encoder(), [p["text"] for p in items], model.reads_words)
    clips = generate(model, text, [stride] * len(items), seed, config["steps"], config["cfg_scale"], config["shift"])
    along, across = [], []
    for item, clip in zip(items, clips):
        centres = [centre(found[1]) if found else (np.nan, np.nan) for found in frame_subjects(clip)]
        steps = np.diff(np.array(centres), axis=0)
        steps = steps[~np.isnan(steps).any(axis=1) & (np.hypot(steps[:, 0], steps[:, 1]) <= WRAP_JUMP)]
        axis, sign = DIRECTIONS[item["motion"]]
        along.append(sign * steps[:, axis].sum())
        across.append(np.abs(steps[:, 1 - axis]).sum())
    along, across = np.array(along), np.array(across)
    print(f"tracks of {len(items)} linear-motion prompts (stride {stride}, seed {seed}): "
          f"net displacement along the asked "
          f"direction median {np.median(along):+.1f} px ({int((along > 0).sum())} of {len(items)} the right way), "
          f"travel across it median {np.median(across):.1f} px (the world: {15 * stride:+d} and 0)")


def layout_fidelity(model, seed, per_motion=8):
    if not model.dit.layout_channels:
        raise SystemExit("diagnose: --checks layout needs a DiT with layout channels (train_dit.py --layout)")
    from layout import subject_tracks
    rng = np.random.default_rng(seed)
    config = model.config["sampler"]
    encoder = load_text_encoder()
    print(f"layout fidelity: {per_motion} stride-1 world openings per motion drawn with their own tracks "
          f"(frames with a subject, median centroid error, evaluator's motion right)")
    for motion in world.MOTIONS:
        specs = [draw_spec(rng, motion, world.opening_spec) for _ in range(per_motion)]
        tracks_px = torch.from_numpy(subject_tracks(specs, [0] * len(specs), [1] * len(specs), model.dit.frames))
        text = text_input(encoder, [caption(spec) for spec in specs], model.dit.text_words)
        clips = generate(model, text, [1] * len(specs), seed, config["steps"], config["cfg_scale"], config["shift"],
                         tracks=tracks_px)
        found, errors, relative, right, sizes, growths = 0, [], [], 0, [], []
        for spec, clip, track in zip(specs, clips, tracks_px.numpy()):
            subjects = frame_subjects(clip)
            offsets = np.array([np.array(centre(subject[1])) - track[k, :2]
                                for k, subject in enumerate(subjects) if subject is not None])
            found += len(offsets)
            size, growth = size_fidelity(spec.shape, subjects, track[:, 2])
            sizes.append(size)
            growths.append(growth)
            if len(offsets):
                errors.extend(np.hypot(offsets[:, 0], offsets[:, 1]))
                offsets = offsets - offsets.mean(axis=0)
                relative.extend(np.hypot(offsets[:, 0], offsets[:, 1]))
            right += analyse(clip)["motion"] == motion
        nan = float("nan")
        print(f"  {motion:6s}: {found:3d} of {len(specs) * model.dit.frames} frames, "
              f"median error {np.median(errors) if errors else nan:4.1f} px "
              f"({np.median(relative) if relative else nan:4.1f} px about the clip's mean offset), "
              f"motion right {right} of {len(specs)}; size {np.nanmedian(sizes):4.2f}"
              + (f", growth followed {np.nanmedian(growths):5.2f}" if motion in ("grow", "shrink") else ""))


def small_shapes(model, seed, per_shape=10):
    from layout import subject_tracks
    rng = np.random.default_rng(seed)
    specs = [world.opening_spec(rng, str(rng.choice(list(world.BACKGROUNDS))), str(rng.choice(list(world.COLOURS))),
                                shape, "small", str(rng.choice(["left", "right", "up", "down", "still"])))
             for shape in world.SHAPES for _ in range(per_shape)]
    frames = model.dit.frames
    clips = np.stack([world.render_clip(spec, 0, frames, 1) for spec in specs])
    pixels = to_model_pixels(clips.reshape(-1, *clips.shape[2:]))
    round_trip = to_uint8_frames(model.decode(model.encode(pixels))).reshape(*clips.shape[:2], 64, 64, 3)
    sources = {"world": np.round(clips * 255).astype(np.uint8), "VAE round trip": round_trip}
    if model.dit.layout_channels:
        config = model.config["sampler"]
        tracks_px = torch.from_numpy(subject_tracks(specs, [0] * len(specs), [1] * len(specs), frames))
        text = text_input(load_text_encoder(), [caption(spec) for spec in specs], model.dit.text_words)
        sources["DiT, world tracks"] = generate(model, text, [1] * len(specs), seed, config["steps"],
                                                config["cfg_scale"], config["shift"], tracks=tracks_px)
    print(f"small shapes: {per_shape} small world openings per shape at stride 1 (named right / read as)")
    for source, rendered in sources.items():
        read = [analyse(clip)["shape"] for clip in rendered]
        parts = []
        for shape in world.SHAPES:
            answers = [a for spec, a in zip(specs, read) if spec.shape == shape]
            wrong = {a: answers.count(a) for a in sorted(set(answers), key=str) if a != shape}
            parts.append(f"{shape} {answers.count(shape)}/{len(answers)}"
                         + (f" ({', '.join(f'{n} {a}' for a, n in wrong.items())})" if wrong else ""))
        print(f"  {source:18s}: " + "; ".join(parts))


def size_fidelity(shape, subjects, radii):
    """(median over frames of the subject's area / the area the world draws at the track's radius,
    the subject's change of log area from the first 4 frames to the last 4 / the track's change):
    1 and 1 when the DiT draws the size the layout says; NaN where undecidable."""
    areas = np.array([subject[1].sum() if subject is not None else np.nan for subject in subjects], dtype=np.float64)
    expected = SHAPE_AREA[shape] * np.asarray(radii, dtype=np.float64) ** 2
    with np.errstate(invalid="ignore", divide="ignore"):
        size = np.nanmedian(areas / expected) if np.isfinite(areas).any() else np.nan
        wanted = np.log(expected[-4:]).mean() - np.log(expected[:4]).mean()
        got = np.nanmean(np.log(areas[-4:])) - np.nanmean(np.log(areas[:4]))
    return size, (got / wanted if abs(wanted) > 0.1 else np.nan)


# The area world.signed_distance's shapes cover at radius r, over r^2 (the triangle: base and
# height 2r).
SHAPE_AREA = {"circle": math.pi, "square": 4.0, "triangle": 2.0}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="models/reel-tiny")
    parser.add_argument("--checks", nargs="+", default=["attention", "continuation", "latent-noise"],
                        choices=["attention", "continuation", "image-first", "latent-noise", "mean-clip", "prediction",
                                 "text", "tracks", "layout", "small-shapes"])
    parser.add_argument("--prompts", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                                                          "models", "reel-tiny", "eval_prompts.json"),
                        help="evaluation set for the tracks and image-first checks")
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--stride", type=int, default=1,
                        help="frame stride of the continuation, prediction and tracks checks")
    parser.add_argument("--jump-free", action="store_true",
                        help="continuation and prediction on world windows without a wrap or a grow/shrink "
                             "reset (default: random starts, which may have one)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    model = ReelTiny(args.model)
    print(f"{os.path.abspath(args.model)}: attention {model.dit.attention}")
    with torch.no_grad():
        for check in args.checks:
            if check == "tracks":
                tracks(model, args.seed, args.prompts, args.stride)
            elif check == "continuation":
                continuation(model, args.seed, stride=args.stride, jump_free=args.jump_free)
            elif check == "image-first":
                image_first(model, args.seed, args.prompts)
            elif check == "prediction":
                prediction(model, args.seed, args.stride, args.jump_free)
            elif check == "text":
                text_use(model, args.seed, args.stride)
            elif check == "layout":
                layout_fidelity(model, args.seed)
            elif check == "small-shapes":
                small_shapes(model, args.seed)
            elif check == "mean-clip":
                mean_clip(model, args.seed)
            else:
                {"attention": attention_focus, "latent-noise": latent_noise}[check](model, args.seed)


if __name__ == "__main__":
    main()
