"""Trains the reel-tiny per-frame VAE on frames rendered on the fly; prints the held-out PSNR.

  python train_vae.py --work /tmp/reeltrain --minutes 16 [--resume]
  python train_vae.py --work .reel/dec --decoder-from models/reel-tiny --subject-weight 8 --small-fraction 0.5

Writes WORK/vae.pt (checkpoint: weights, optimizer, step, RNG states) every --checkpoint-every
steps and at the end, and WORK/vae_done.json with the final PSNR. Loss: MSE on [-1, 1] pixels
+ kl_weight * mean KL of the diagonal Gaussian posterior.

--decoder-from fine-tunes only the decoder of an exported model's VAE: its encoder is frozen, so
the latents (and a DiT trained on them, and every clip cache) stay valid; the decoder learns from
the encoder's posterior means (plus --latent-noise, in the DiT's latent units, so that it also
decodes the DiT's imperfect latents). --subject-weight counts the error on and next to the
subject (1 + weight there): the plain MSE is mostly background, and a small subject's corners are a
few pixels of it. --small-fraction draws that share of the frames with a small subject.
"""
import argparse
import math
import os
import time

import numpy as np
import torch

from common import (Log, StepBudget, add_runtime_arguments, autocast, parameter_count, restore_rng_state,
                    rng_state, save_atomic, setup_runtime, write_json_atomic)
from data import held_out_frames, psnr, random_frames, to_model_pixels
from models import VAE

VAE_HYPERPARAMETERS = {"widths": (32, 64, 128, 128), "latent_channels": 8, "encoder_blocks": (0, 1, 1),
                       "decoder_blocks": (1, 1, 1)}
# Latent layouts by name: "f8c8" (8x downsampling to 8x8x8, the shipped layout) and "f4c4" (4x
# downsampling to 16x16x4: positions at 4-pixel instead of 8-pixel granularity, for the DiT to place
# a moving subject to the pixel; used with 4x4 DiT patches, which keep 16 tokens per frame).
LATENT_LAYOUTS = {
    "f8c8": VAE_HYPERPARAMETERS,
    "f4c4": {"widths": (32, 64, 128), "latent_channels": 4, "encoder_blocks": (0, 1), "decoder_blocks": (1, 1)},
}


def learning_rate(step, total, peak, warmup=100):
    """Linear warmup, then cosine decay to 10% of the peak."""
    if step < warmup:
        return peak * (step + 1) / warmup
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    return peak * (0.1 + 0.9 * 0.5 * (1.0 + math.cos(math.pi * progress)))


def exported_vae(folder):
    """(hyperparameters, float32 state dict, latent_scale) of an exported model's VAE (its encoder
    has only the posterior-mean outputs: log_variance False), as ReelTiny loads it (each weights
    file checked against config.json's sha256)."""
    from reel_tiny import ReelTiny
    try:
        model = ReelTiny(folder)
    except ValueError as error:
        raise SystemExit(f"vae: {error}; restore the file")
    config = model.config["vae"]
    hyperparameters = {"widths": tuple(config["widths"]), "latent_channels": config["latent_channels"],
                       "encoder_blocks": tuple(config["encoder_blocks"]),
                       "decoder_blocks": tuple(config["decoder_blocks"]), "log_variance": False}
    return hyperparameters, model.vae.state_dict(), model.scale


def weighted_reconstruction(y, x, covered, subject_weight):
    """Mean squared error of y against x ([n, 3, 64, 64]); with subject_weight, each pixel's error
    counts 1 + subject_weight where the subject is (covered [n, 64, 64], dilated by 2 pixels: the
    edge's neighbours are where a blurred corner shows)."""
    error = (y - x).pow(2)
    if subject_weight:
        near = torch.nn.functional.max_pool2d(covered[:, None].float(), 5, stride=1, padding=2)
        error = error * (1.0 + subject_weight * near)
    return error.mean()


@torch.no_grad()
def reconstruct(vae, frames, device, batch=256):
    """Decoded posterior means of float [n, 64, 64, 3] frames in [0, 1], as the same layout."""
    vae.eval()
    out = []
    for i in range(0, len(frames), batch):
        x = to_model_pixels(frames[i:i + batch]).to(device)
        with autocast(device):
            mean = vae.encode(x)
        y = vae.decode(mean.float()).float()   # the decoder in fp32, as the Swift port runs it
        out.append(((y.clamp(-1, 1) + 1) / 2).permute(0, 2, 3, 1).cpu().numpy())
    vae.train()
    return np.concatenate(out)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work", required=True, help="working folder for checkpoints and logs")
    parser.add_argument("--steps", type=int, default=20000, help="most steps (fewer if --minutes runs out)")
    parser.add_argument("--minutes", type=float, default=0, help="wall-time budget; 0 = run exactly --steps")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--kl-weight", type=float, default=1e-5)
    parser.add_argument("--checkpoint-every", type=int, default=250)
    parser.add_argument("--psnr-frames", type=int, default=1024)
    parser.add_argument("--latent", choices=sorted(LATENT_LAYOUTS), default="f8c8",
                        help="latent layout: f8c8 = 8x8x8 (8x downsampling), f4c4 = 16x16x4 (4x); see LATENT_LAYOUTS")
    parser.add_argument("--resume", action="store_true", help="continue from WORK/vae.pt")
    parser.add_argument("--decoder-from", metavar="MODEL_DIR",
                        help="fine-tune only the decoder of this exported model's VAE (encoder frozen)")
    parser.add_argument("--subject-weight", type=float, default=0.0,
                        help="the error on and near the subject counts 1 + this (default 0: plain MSE)")
    parser.add_argument("--small-fraction", type=float, default=0.0,
                        help="share of training frames drawn with a small subject (default 0: the combos' sizes)")
    parser.add_argument("--latent-noise", type=float, default=0.0,
                        help="with --decoder-from: Gaussian noise added to the latents, in DiT latent units")
    add_runtime_arguments(parser)
    args = parser.parse_args()
    device = setup_runtime(args)
    os.makedirs(args.work, exist_ok=True)
    log = Log(os.path.join(args.work, "train.log"))
    checkpoint_path = os.path.join(args.work, "vae.pt")

    hyperparameters = LATENT_LAYOUTS[args.latent]
    latent_noise = 0.0
    if args.decoder_from:
        hyperparameters, exported, latent_scale = exported_vae(args.decoder_from)
        latent_noise = args.latent_noise / latent_scale
    elif args.latent_noise:
        raise SystemExit("vae: --latent-noise needs --decoder-from")
    vae = VAE(**hyperparameters).to(device)
    if args.decoder_from:
        vae.load_state_dict(exported)   # strict: a mismatch in shapes or names stops here
        vae.encoder.requires_grad_(False)
    trained = vae.decoder if args.decoder_from else vae
    optimizer = torch.optim.AdamW(trained.parameters(), lr=args.lr, weight_decay=0.0)
    budget = StepBudget(args.steps, args.minutes)
    rng = np.random.default_rng(args.seed)
    step, elapsed_before = 0, 0.0
    if args.resume and os.path.exists(checkpoint_path):
        state = torch.load(checkpoint_path, map_location=device, weights_only=False)
        def plain(h):
            return {k: list(v) if isinstance(v, (list, tuple)) else v for k, v in h.items()}
        if plain(state["hyperparameters"]) != plain(hyperparameters):
            raise SystemExit(f"vae: the checkpoint has another latent layout ({state['hyperparameters']}); "
                             f"resume with the same --latent (or start a new work folder)")
        vae.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        budget.load(state["budget"])
        rng.bit_generator.state = state["numpy_generator"]
        restore_rng_state(state["rng"])
        step, elapsed_before = state["step"], state["elapsed"]
        log(f"vae: resumed at step {step}")
    log(f"vae: {parameter_count(vae) / 1e6:.2f}M parameters"
        + (f" ({parameter_count(vae.decoder) / 1e6:.2f}M decoder trained from {args.decoder_from})"
           if args.decoder_from else "") + f", batch {args.batch}, device {device}, threads {torch.get_num_threads()}")

    def save():
        save_atomic({"model": vae.state_dict(), "optimizer": optimizer.state_dict(), "budget": budget.state(),
                     "numpy_generator": rng.bit_generator.state, "rng": rng_state(), "step": step,
                     "elapsed": elapsed_before + time.monotonic() - started,
                     "hyperparameters": hyperparameters, "decoder_from": args.decoder_from}, checkpoint_path)

    started = last_log = time.monotonic()
    recent = []
    while budget.total is None or step < budget.total:
        covered = None
        if args.subject_weight:
            frames, covered = random_frames(rng, args.batch, small_fraction=args.small_fraction, subject=True)
            covered = torch.from_numpy(covered).to(device)
        else:
            frames = random_frames(rng, args.batch, small_fraction=args.small_fraction)
        x = to_model_pixels(frames).to(device)
        for group in optimizer.param_groups:
            group["lr"] = learning_rate(step, budget.total or args.steps, args.lr)
        with autocast(device):
            if args.decoder_from:
                with torch.no_grad():
                    mean = vae.encode(x).float()
                z = mean + torch.randn_like(mean) * latent_noise
            else:
                mean, log_variance = vae.posterior(x)
                mean, log_variance = mean.float(), log_variance.float().clamp(-30.0, 20.0)
                z = mean + torch.randn_like(mean) * torch.exp(0.5 * log_variance)
            y = vae.decode(z).float()
        reconstruction = weighted_reconstruction(y, x, covered, args.subject_weight)
        # The frozen encoder's posterior is not trained: no KL term with --decoder-from.
        kl = None if args.decoder_from else 0.5 * (mean.pow(2) + log_variance.exp() - 1.0 - log_variance).mean()
        loss = reconstruction if kl is None else reconstruction + args.kl_weight * kl
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(trained.parameters(), 1.0)
        optimizer.step()
        step += 1
        budget.observe(step, elapsed_before)
        recent.append((reconstruction.item(),) + (() if kl is None else (kl.item(), log_variance.mean().item())))
        if step % 50 == 0:
            mse, *posterior = np.mean(recent, axis=0)
            now = time.monotonic()
            log(f"vae step {step}/{budget.total or '?'} mse {mse:.5f} (~{10 * math.log10(4 / mse):.1f} dB) "
                + (f"kl {posterior[0]:.3f} mean log-var {posterior[1]:.2f} " if posterior else "")
                + f"{(now - last_log) / len(recent):.3f}s/step")
            recent, last_log = [], now
        if step % args.checkpoint_every == 0:
            save()
    save()
    frames = held_out_frames(args.psnr_frames)
    score = psnr(frames, reconstruct(vae, frames, device))
    log(f"vae: done at step {step}; held-out PSNR {score:.2f} dB over {len(frames)} frames")
    write_json_atomic({"step": step, "psnr_db": score, "frames": len(frames), "decoder_from": args.decoder_from},
                      os.path.join(args.work, "vae_done.json"))


if __name__ == "__main__":
    main()
