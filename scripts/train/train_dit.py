"""Trains the reel-tiny DiT with the rectified-flow objective on the encoded clip cache.

  python train_dit.py --work /tmp/reeltrain --minutes 85 [--resume]

Needs WORK/clips.npz and WORK/captions.npz. Flow convention: x_t = (1 - t) x0 + t noise (t = 1 is
pure noise), the model predicts v = noise - x0, t ~ logit-normal(--t-mean, 1); the MSE covers every frame
(anchor frames included), plus --motion-loss times the MSE of the error's frame-to-frame differences.
Attention is factorised by default (blocks alternate within-frame and across-frame; --attention full
for the earlier layout). Text is replaced by zeros 10% of the time (classifier-free guidance).
With --layout the DiT also reads the subject's layout in every frame (layout.py; dropped 30% of the
time), the second stage of layout-then-video generation (train_planner.py trains the first).
Keeps an EMA of the weights (exported). Writes WORK/dit.pt every --checkpoint-every steps and at
the end, and WORK/dit_done.json.
"""
import argparse
import copy
import json
import math
import os
import time

import numpy as np
import torch

from common import (Log, StepBudget, add_runtime_arguments, autocast, parameter_count, restore_rng_state,
                    rng_state, save_atomic, setup_runtime, write_json_atomic)
import world
from captions import TRAIN_COMBOS
from data import ClipDataset
from layout import LAYOUT_CHANNELS
from models import LOCAL_MIXING, DiT, correlated_noise
from reel_tiny import ReelTiny

DIT_HYPERPARAMETERS = {"frames": 16, "latent_channels": 8, "latent_size": 8, "patch": 2, "dim": 256, "depth": 8,
                       "heads": 4, "mlp_ratio": 4, "text_dim": 384, "frequency_dim": 256, "attention": "factorised",
                       "local_mixing": "shift", "text_tokens": 0, "text_words": False,
                       "layout_channels": 0}


def parse_emphasis(pairs):
    """["grow=2.5", "small+square=3", ...] -> {"grow": 2.5, "small+square": 3.0, ...}: each key a
    motion, size or shape of the world, or several joined by "+"."""
    emphasis, known = {}, set(world.MOTIONS) | set(world.SIZES) | set(world.SHAPES)
    for pair in pairs:
        key, _, factor = pair.partition("=")
        if not factor or not key or any(part not in known for part in key.split("+")):
            raise SystemExit(f"dit: --emphasise takes KEY=FACTOR, KEY a motion ({', '.join(world.MOTIONS)}), size "
                             f"({', '.join(world.SIZES)}) or shape ({', '.join(world.SHAPES)}) or several joined "
                             f"by '+', not {pair!r}")
        emphasis[key] = float(factor)
    return emphasis


def learning_rate(step, total, peak, warmup=300):
    """Linear warmup, then cosine decay to 10% of the peak."""
    if step < warmup:
        return peak * (step + 1) / warmup
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    return peak * (0.1 + 0.9 * 0.5 * (1.0 + math.cos(math.pi * progress)))


def flow_loss(model, x0, mask, text, stride, t, noise, motion_weight=0.0, layout=None, subject_weight=0.0):
    """MSE between the predicted and the true velocity noise - x0 at x_t = (1 - t) x0 + t noise,
    plus motion_weight times the MSE of the error's frame-to-frame differences.

    The second term has the same minimiser (the conditional mean), so it changes only how errors
    are weighted: an error shared by all frames (a wrong background tone) costs 1, one that changes
    from frame to frame (a subject drawn at a different place in every frame, a track going the
    wrong way) costs up to 1 + 4 * motion_weight. Those incoherent errors are what the evaluation's
    motion check fails on, and the plain MSE spends most of its signal on per-frame appearance.

    subject_weight: with a 5-channel layout, the error at a latent pixel counts 1 + subject_weight
    times the layout's coverage there (dilated by one latent pixel: the VAE spreads an edge into
    its neighbours). The plain MSE is mostly background, and a subject drawn the wrong size costs
    little of it; a DiT trained on it followed a layout's position but not its size (grow and
    shrink came out still). The weight is a function of the layout, an input, and zero where the
    layout was dropped, so the minimiser is still the conditional mean."""
    tt = t[:, None, None, None, None]
    xt = (1.0 - tt) * x0 + tt * noise
    velocity = model(xt, x0, mask, text, stride, t, layout)
    error = velocity.float() - (noise - x0)
    if subject_weight and layout is not None and layout.shape[2] == 5:
        covered = layout[:, :, 4].float()
        frames = covered.shape[:2]
        dilated = torch.nn.functional.max_pool2d(covered.flatten(0, 1)[:, None], 3, stride=1, padding=1)
        error = error * torch.sqrt(1.0 + subject_weight * dilated.reshape(*frames, 1, *covered.shape[-2:]))
    loss = error.pow(2).mean()
    if motion_weight:
        loss = loss + motion_weight * (error[:, 1:] - error[:, :-1]).pow(2).mean()
    return loss


# Parts a run may add to an exported DiT it starts from: new cross-attention (its output starts at
# zero, so the grown DiT computes what the exported one did), the word projection, and layout input
# channels (patch_embed's new columns start at zero).
GROWABLE = ("text_tokens", "text_words", "layout_channels")


def exported_dit_state(folder, hyperparameters):
    """The float32 state dict of an exported model's DiT (ReelTiny checks each weights file against
    config.json's sha256), after checking that its config matches the DiT this run builds (latent
    shape from the clip cache, --attention, --patch). A DiT without text tokens or words may grow
    them (GROWABLE); the state dict then lacks their weights. One without layout channels may grow
    them, or more of them (4 -> 5: the coverage channel): patch_embed.weight gets zero columns for
    the new features (the last ones of each token)."""
    try:
        exported = ReelTiny(folder)
    except ValueError as error:
        raise SystemExit(f"dit: {error}; restore the file")
    config = exported.config["dit"]
    config = dict(config, attention=config.get("attention_layout", "full"),
                  local_mixing=config.get("local_mixing", "none"), text_tokens=config.get("text_tokens", 0),
                  text_words=config.get("text_words", False), layout_channels=config.get("layout_channels", 0))
    mismatched = {k: (config[k], v) for k, v in hyperparameters.items() if k in config and config[k] != v
                  and not (k in GROWABLE and (not config[k] or (k == "layout_channels" and config[k] < v)))}
    if mismatched:
        raise SystemExit(f"dit: {folder} does not match this run (exported, this run): {mismatched}; "
                         f"use a clip cache encoded with that model's VAE and the same --attention/--patch")
    state = exported.dit.state_dict()
    grown = (hyperparameters["layout_channels"] - config["layout_channels"]) * hyperparameters["patch"] ** 2
    if grown:
        weight = state["patch_embed.weight"]
        state["patch_embed.weight"] = torch.cat([weight, weight.new_zeros(weight.shape[0], grown)], dim=1)
    return state


TEXT_ATTRIBUTES = {"background": list(world.BACKGROUNDS), "colour": list(world.COLOURS), "shape": list(world.SHAPES),
                   "size": list(world.SIZES), "motion": list(world.MOTIONS)}


class TextAttributeHeads(torch.nn.Module):
    """Linear classifiers of a caption's world attributes from the DiT's text feature
    (DiT.text_feature: text_mlp of the normalised embedding), for --text-aux. Training only: not exported.

    The pooled MiniLM embeddings of "moves left" and "moves right" captions differ by about a tenth
    of their spread over the other attributes and paraphrases, and the shipped DiT's flow loss is
    the same with a caption's motion words or the opposite ones (diagnose.py --checks text). These
    heads make the text feature carry every attribute, the motion included, strongly enough to be
    read off linearly. Tried once (a 1,500-step fine-tune, weight 0.1): the heads learnt (mean
    cross-entropy 1.57 -> 0.26) but the blocks still ignored the motion words (models/reel-tiny/
    README.md, "Known problems")."""

    def __init__(self, dim):
        super().__init__()
        self.heads = torch.nn.ModuleDict({name: torch.nn.Linear(dim, len(values))
                                          for name, values in TEXT_ATTRIBUTES.items()})
        self.register_buffer("labels", torch.tensor([[values.index(combo[name]) for name, values in
                                                      TEXT_ATTRIBUTES.items()] for combo in TRAIN_COMBOS]))

    def loss(self, model, text, combos):
        """Mean cross-entropy over the attributes of the windows whose text was kept (combos >= 0)."""
        kept = combos >= 0
        if not kept.any():
            return text.new_zeros(())
        pooled = text[kept][:, 0] if text.dim() == 3 else text[kept]
        feature = model.text_feature(pooled).float()
        labels = self.labels[combos[kept]]
        return sum(torch.nn.functional.cross_entropy(head(feature), labels[:, i])
                   for i, head in enumerate(self.heads.values())) / len(self.heads)


# What a checkpoint made before a setting existed was trained with.
CHECKPOINT_DEFAULTS = dict(DIT_HYPERPARAMETERS, attention="full", local_mixing="none", text_tokens=0)


def check_resumable(state, hyperparameters, noise_shared):
    """Exits with what to do when the checkpoint's DiT layout or noise differ from this run's, before
    any weights are loaded."""
    if state.get("noise_shared", 0.0) != noise_shared:
        raise SystemExit(f"dit: the checkpoint was trained with --noise-shared {state.get('noise_shared', 0.0)}; "
                         f"resume with the same value (or start a new work folder)")
    keys = ("attention", "local_mixing", "text_tokens", "text_words", "layout_channels", "dim", "depth")
    trained = {k: state["hyperparameters"].get(k, CHECKPOINT_DEFAULTS[k]) for k in keys}
    asked = {k: hyperparameters[k] for k in keys}
    if trained != asked:
        raise SystemExit(f"dit: the checkpoint was trained with {trained}, this run asks for {asked}; "
                         f"resume with the same --attention/--local-mixing/--text-tokens/--text-words/--layout/"
                         f"--dim/--depth "
                         f"(or start a new work folder)")


def flow_time_locations(mask, args):
    """The logit-normal location of each window's flow time: --t-mean-unanchored where the window
    has no anchor frame, --t-mean elsewhere."""
    if args.t_mean_unanchored is None:
        return args.t_mean
    unanchored = mask.cpu().sum(dim=1) == 0
    return torch.where(unanchored, args.t_mean_unanchored, args.t_mean)


@torch.no_grad()
def update_ema(ema, model, decay):
    for e, p in zip(ema.parameters(), model.parameters()):
        e.lerp_(p, 1.0 - decay)


def fixed_validation_batch(dataset, size, seed, device, shared_fraction):
    """A fixed batch (windows, masks, noise, times spread over (0, 1)) for a comparable loss curve."""
    rng = np.random.default_rng(seed)
    batch = dataset.batch(rng, size).to(device)
    generator = torch.Generator().manual_seed(seed)
    noise = correlated_noise(batch.x0.shape, shared_fraction, generator).to(device)
    t = ((torch.arange(size, dtype=torch.float32) + 0.5) / size).to(device)
    return dict(x0=batch.x0, mask=batch.mask, text=batch.text, stride=batch.stride, t=t, noise=noise,
                layout=batch.layout)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work", required=True)
    parser.add_argument("--steps", type=int, default=100000,
                        help="most steps (fewer if --minutes runs out); on --resume it also caps the saved schedule")
    parser.add_argument("--minutes", type=float, default=0, help="wall-time budget; 0 = run exactly --steps")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--lr", type=float, default=6e-4)
    parser.add_argument("--ema", type=float, default=0.999)
    parser.add_argument("--t-mean", type=float, default=0.5,
                        help="location of the logit-normal flow-time distribution (>0: more steps at high noise, "
                             "where a window's layout and motion are decided)")
    parser.add_argument("--t-mean-unanchored", type=float, default=None,
                        help="the location for windows without anchor frames (default: --t-mean); those windows "
                             "are openings whose layout and direction only the words fix, and the words matter "
                             "most at high noise")
    parser.add_argument("--noise-shared", type=float, default=0.0,
                        help="fraction of the noise variance shared by a window's frames (0 = independent; "
                             "see correlated_noise); the sampler must use the same value (config.json)")
    parser.add_argument("--motion-loss", type=float, default=1.0,
                        help="weight of the frame-to-frame difference term of the loss (see flow_loss; 0 = plain MSE)")
    parser.add_argument("--subject-weight", type=float, default=0.0,
                        help="with --layout: extra weight of the loss where the layout's subject is (see flow_loss; "
                             "0 = every latent pixel alike)")
    parser.add_argument("--emphasise", nargs="*", default=[], metavar="KEY=FACTOR",
                        help="draw windows of this motion, size or shape (or of all of several joined by '+') "
                             "FACTOR times as often (e.g. grow=2.5 shrink=2.5 small+square=3)")
    parser.add_argument("--text-aux", type=float, default=0.0,
                        help="weight of a cross-entropy loss that asks linear heads on the DiT's text feature for "
                             "the caption's attributes (motion, colour, shape, size, background; "
                             "TextAttributeHeads; 0 = off)")
    parser.add_argument("--attention", choices=("full", "factorised"), default=DIT_HYPERPARAMETERS["attention"],
                        help="full: every block attends over the whole window; factorised: blocks alternate "
                             "within-frame and across-frame attention (models.attention_spans)")
    parser.add_argument("--local-mixing", choices=LOCAL_MIXING, default=DIT_HYPERPARAMETERS["local_mixing"],
                        help="shift: inside every block's MLP, groups of fc1's channels taken from the 26 "
                             "neighbouring tokens (one frame, row, column away; models.spacetime_shift); "
                             "none: the plain MLP")
    parser.add_argument("--text-tokens", type=int, default=DIT_HYPERPARAMETERS["text_tokens"],
                        help="tokens made from the text feature that every block cross-attends to "
                             "(models.CrossAttention); 0: the text reaches the blocks through adaLN only")
    parser.add_argument("--text-words", action="store_true",
                        help="the blocks also cross-attend to MiniLM's per-token states of the caption (needs "
                             "--text-tokens >= 1 and WORK/caption_words.npz from build_captions.py)")
    parser.add_argument("--layout", action="store_true",
                        help="the DiT also reads the subject's layout in every frame (layout.py: LAYOUT_CHANNELS "
                             "more input channels, dropped 30%% of the time); needs a clip cache with `tracks`")
    parser.add_argument("--shape-coverage", action="store_true",
                        help="with --layout: the layout's coverage channel is the subject's own shape (circle, "
                             "square or triangle; layout.coverage), not a disc of its radius; the model then "
                             "needs a planner with a shape head (train_planner.py --shape-head) to name the shape")
    parser.add_argument("--dim", type=int, default=DIT_HYPERPARAMETERS["dim"],
                        help="token width (smaller for quick architecture probes)")
    parser.add_argument("--depth", type=int, default=DIT_HYPERPARAMETERS["depth"], help="number of blocks")
    parser.add_argument("--patch", type=int, default=None,
                        help="spatial patch size in latent pixels (default: 2 for 8x8 latents, 4 for 16x16 ones, "
                             "so a frame is 4x4 tokens either way)")
    parser.add_argument("--checkpoint-every", type=int, default=250)
    parser.add_argument("--validate-every", type=int, default=500)
    parser.add_argument("--resume", action="store_true", help="continue from WORK/dit.pt")
    parser.add_argument("--init-from", metavar="MODEL_DIR",
                        help="start from an exported model's DiT (e.g. models/reel-tiny: float16 EMA weights, "
                             "text normalisation already folded in) with a fresh optimizer, instead of from "
                             "random weights; for fine-tuning or continuing a checkpoint on a GPU")
    parser.add_argument("--recalibrate", action="store_true",
                        help="on --resume, measure the pace again and refit the step count to the minutes left "
                             "(when the first calibration ran on a busy machine); changes the LR schedule from there on")
    add_runtime_arguments(parser)
    args = parser.parse_args()
    device = setup_runtime(args)
    log = Log(os.path.join(args.work, "train.log"))
    checkpoint_path = os.path.join(args.work, "dit.pt")

    dataset = ClipDataset.load(os.path.join(args.work, "clips.npz"), os.path.join(args.work, "captions.npz"),
                               os.path.join(args.work, "caption_words.npz") if args.text_words else None,
                               layouts=args.layout, motion_emphasis=parse_emphasis(args.emphasise),
                               shape_coverage=args.shape_coverage)
    if args.shape_coverage and not args.layout:
        raise SystemExit("dit: --shape-coverage needs --layout")
    # The latent's channels and size come from the clip cache (the VAE that encoded it).
    _, _, channels, size, _ = dataset.latents.shape
    hyperparameters = dict(DIT_HYPERPARAMETERS, attention=args.attention, local_mixing=args.local_mixing,
                           text_tokens=args.text_tokens, text_words=args.text_words,
                           layout_channels=LAYOUT_CHANNELS if args.layout else 0, dim=args.dim, depth=args.depth, latent_channels=int(channels),
                           latent_size=int(size), patch=args.patch or max(1, int(size) // 4))
    model = DiT(**hyperparameters).to(device)
    text_center, text_scale = dataset.text_normalisation()
    if args.init_from and not (args.resume and os.path.exists(checkpoint_path)):
        missing, unexpected = model.load_state_dict(exported_dit_state(args.init_from, hyperparameters), strict=False)
        grown = [k for k in missing if not k.startswith(("text_to_tokens.", "word_proj.")) and ".cross." not in k]
        if grown or unexpected:
            raise SystemExit(f"dit: {args.init_from} does not fit this DiT (missing {grown}, unexpected {unexpected})")
        # The exported text_mlp.fc1 takes the raw embedding (export.py folded the normalisation
        # in), so train on raw embeddings: identity normalisation, which export folds as a no-op.
        text_center, text_scale = np.zeros_like(text_center), 1.0
        log(f"dit: initialised from {args.init_from}")
    if args.init_from:
        # The exported DiT works in its own latent normalisation; a cache encoded with the same VAE
        # gives nearly the same shift and scale, but the DiT's must hold exactly (export writes them).
        with open(os.path.join(args.init_from, "config.json")) as f:
            exported_vae = json.load(f)["vae"]
        log(f"dit: latent shift/scale of {args.init_from} ({exported_vae['latent_shift']:.5f}, "
            f"{exported_vae['latent_scale']:.5f}) instead of the cache's ({dataset.shift:.5f}, {dataset.scale:.5f})")
        dataset.shift, dataset.scale = exported_vae["latent_shift"], exported_vae["latent_scale"]
    model.set_text_normalisation(text_center, text_scale)
    ema = copy.deepcopy(model).requires_grad_(False)
    heads = TextAttributeHeads(hyperparameters["dim"]).to(device) if args.text_aux else None
    parameters = list(model.parameters()) + (list(heads.parameters()) if heads else [])
    optimizer = torch.optim.AdamW(parameters, lr=args.lr, betas=(0.9, 0.99), weight_decay=0.0)
    budget = StepBudget(args.steps, args.minutes)
    rng = np.random.default_rng(args.seed)
    step, elapsed_before = 0, 0.0
    if args.resume and os.path.exists(checkpoint_path):
        state = torch.load(checkpoint_path, map_location=device, weights_only=False)
        check_resumable(state, hyperparameters, args.noise_shared)
        model.load_state_dict(state["model"])
        ema.load_state_dict(state["ema"])
        if heads is not None:
            if "text_heads" not in state:
                raise SystemExit("dit: the checkpoint was trained without --text-aux; resume without it "
                                 "(or start a new work folder)")
            heads.load_state_dict(state["text_heads"])
        optimizer.load_state_dict(state["optimizer"])
        budget.load(state["budget"])
        if args.recalibrate and args.minutes:
            budget.total = None
            log(f"dit: recalibrating the step count (was {state['budget']['total']})")
        if budget.total is not None and args.steps < budget.total:
            # --steps caps the schedule even on resume (a shorter run than first planned).
            budget.total = args.steps
        rng.bit_generator.state = state["numpy_generator"]
        restore_rng_state(state["rng"])
        step, elapsed_before = state["step"], state["elapsed"]
        # The normalisation the run started with (identity after --init-from), not the cache's.
        text_center = np.asarray(state.get("text_center", text_center))
        text_scale = float(state.get("text_scale", text_scale))
        for network in (model, ema):
            network.set_text_normalisation(text_center, text_scale)
        log(f"dit: resumed at step {step}")
    log(f"dit: text normalisation: centre norm {np.linalg.norm(text_center):.3f}, scale {text_scale:.2f}")
    log(f"dit: {parameter_count(model) / 1e6:.2f}M parameters, {len(dataset.latents)} clips, batch {args.batch}, "
        f"device {device}, threads {torch.get_num_threads()}")
    validation = fixed_validation_batch(dataset, 64, args.seed + 7, device, args.noise_shared)

    def save():
        save_atomic({"model": model.state_dict(), "ema": ema.state_dict(), "optimizer": optimizer.state_dict(),
                     "budget": budget.state(), "numpy_generator": rng.bit_generator.state, "rng": rng_state(),
                     "step": step, "elapsed": elapsed_before + time.monotonic() - started,
                     "hyperparameters": hyperparameters, "shift": dataset.shift, "scale": dataset.scale,
                     "text_center": text_center, "text_scale": text_scale,
                     "batch": args.batch, "lr": args.lr, "t_mean": args.t_mean,
                     "t_mean_unanchored": args.t_mean_unanchored, "seed": args.seed,
                     "noise_shared": args.noise_shared, "motion_loss": args.motion_loss, "text_aux": args.text_aux,
                     "subject_weight": args.subject_weight, "emphasise": args.emphasise,
                     "layout_coverage": "shape" if args.shape_coverage else "disc",
                     **({"text_heads": heads.state_dict()} if heads else {})}, checkpoint_path)

    started = last_log = time.monotonic()
    recent, recent_aux = [], []
    while budget.total is None or step < budget.total:
        x0, mask, text, stride, layout, combos = dataset.batch(rng, args.batch).to(device)
        t = torch.sigmoid(torch.randn(args.batch) + flow_time_locations(mask, args)).to(device)
        noise = correlated_noise(x0.shape, args.noise_shared).to(device)
        for group in optimizer.param_groups:
            group["lr"] = learning_rate(step, budget.total or args.steps, args.lr)
        with autocast(device):
            loss = flow = flow_loss(model, x0, mask, text, stride, t, noise, args.motion_loss, layout,
                                    args.subject_weight)
            if heads is not None:
                aux = heads.loss(model, text, combos)
                recent_aux.append(aux.item())
                loss = loss + args.text_aux * aux
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        grad_norm = torch.nn.utils.clip_grad_norm_(parameters, 1.0)
        optimizer.step()
        step += 1
        update_ema(ema, model, min(args.ema, (1 + step) / (10 + step)))
        budget.observe(step, elapsed_before)
        recent.append((flow.item(), grad_norm.item()))
        if step % 50 == 0:
            now = time.monotonic()
            mean_loss, mean_grad = np.mean(recent, axis=0)
            log(f"dit step {step}/{budget.total or '?'} loss {mean_loss:.4f} grad-norm {mean_grad:.2f} "
                f"lr {optimizer.param_groups[0]['lr']:.2e} {(now - last_log) / len(recent):.3f}s/step"
                + (f" text-aux {np.mean(recent_aux):.3f}" if recent_aux else ""))
            recent, recent_aux, last_log = [], [], now
        if step % args.validate_every == 0:
            with torch.no_grad(), autocast(device):
                val = flow_loss(ema, **validation).item()
            log(f"dit step {step} validation loss (EMA, fixed batch) {val:.4f}")
        if step % args.checkpoint_every == 0:
            save()
    save()
    write_json_atomic({"step": step}, os.path.join(args.work, "dit_done.json"))
    log(f"dit: done at step {step}")


if __name__ == "__main__":
    main()
