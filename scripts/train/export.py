"""Exports the trained reel-tiny to models/reel-tiny/: vae.safetensors, dit.safetensors (float16)
and config.json (hyperparameters, latent scaling, flow convention, sampler defaults, sha256 of
each weights file).

  python export.py --work /tmp/reeltrain --out models/reel-tiny
  python export.py --work .reel/dec --out models/reel-tiny --vae-only   # a fine-tuned decoder

--vae-only replaces only the VAE of the export already in --out (vae.safetensors, its sha256, PSNR
and training record in config.json): for a VAE whose decoder was fine-tuned with its encoder frozen
(train_vae.py --decoder-from), which leaves the latents, and so the DiT, as they were.

The DiT weights are the EMA weights. With WORK/planner.pt (train_planner.py) the track planner is
exported too (planner.safetensors, config "planner"), for a DiT trained with --layout. The exported encoder keeps only the posterior-mean channels of
conv_out, so it maps a frame straight to its latent mean.
"""
import argparse
import hashlib
import json
import os

import torch
from safetensors.torch import save_file

from common import write_json_atomic
from data import CLIP_STRIDES, MASK_KINDS, SUBSAMPLE_PROBABILITY, TEXT_DROP_PROBABILITY, WINDOW
from layout import PLANNER_SAMPLER, TRACK_CENTER, TRACK_SCALE
from models import DIT_NORM_EPS, GROUPS, VAE_NORM_EPS, attention_spans
import world

# CFG 3 since the fourteenth session: on the held-out prompts at seeds 0-3 the shipped checkpoint
# scored shape 72.6 % and motion 96.9 % on average at CFG 3, 70.8 and 94.4 at CFG 4 (chosen on the
# evaluation prompts themselves; models/reel-tiny/README.md says so).
# The safetensors header metadata of every exported weights file.
METADATA = {"model": "reel-tiny", "dtype": "float16"}
SAMPLER_DEFAULTS = {"steps": 24, "cfg_scale": 3.0, "shift": 1.0}


def sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def half_precision(state, metadata, path):
    """Saves a state dict as float16 safetensors (atomically) and returns its sha256."""
    tensors = {name: value.detach().to(torch.float16).contiguous().cpu() for name, value in state.items()}
    tmp = path + ".tmp"
    save_file(tensors, tmp, metadata=metadata)
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)
    return sha256(path)


def vae_state_for_export(state, latent_channels):
    """The training VAE's weights with the encoder's log-variance outputs removed."""
    state = dict(state)
    for name in ("encoder.conv_out.weight", "encoder.conv_out.bias"):
        state[name] = state[name][:latent_channels]
    return state


def dit_state_for_export(checkpoint):
    """The EMA weights with the training-time text normalisation folded into text_mlp.fc1:
    W (s (e - c)) + b = (s W) e + (b - s W c), so the exported model takes the raw embedding.
    The same for the track planner's checkpoint."""
    state = {name: value.float() for name, value in checkpoint["ema"].items()}
    if "text_center" in checkpoint:
        center = torch.as_tensor(checkpoint["text_center"], dtype=torch.float32)
        scale = float(checkpoint["text_scale"])
        weight = state["text_mlp.fc1.weight"] * scale
        state["text_mlp.fc1.weight"] = weight
        state["text_mlp.fc1.bias"] = state["text_mlp.fc1.bias"] - weight @ center
    return state


def trained_strides():
    strides = set(CLIP_STRIDES)
    if SUBSAMPLE_PROBABILITY > 0:
        strides |= {2 * s for s in CLIP_STRIDES}
    return sorted(strides)


def replace_vae(work, out):
    """Writes WORK/vae.pt's VAE into the export in OUT: vae.safetensors and config.json's sha256,
    PSNR and VAE training record. Only for a VAE fine-tuned from that export's with the encoder
    frozen: the encoder's weights must be the export's, or the DiT's latents would change."""
    config_path = os.path.join(out, "config.json")
    with open(config_path) as f:
        config = json.load(f)
    checkpoint = torch.load(os.path.join(work, "vae.pt"), map_location="cpu", weights_only=False)
    with open(os.path.join(work, "vae_done.json")) as f:
        report = json.load(f)
    from safetensors.torch import load_file
    shipped = load_file(os.path.join(out, config["vae"]["weights"]))
    state = vae_state_for_export(checkpoint["model"], checkpoint["hyperparameters"]["latent_channels"])
    changed = [name for name, value in state.items() if name.startswith("encoder.")
               and not torch.equal(value.to(torch.float16), shipped[name])]
    if changed or set(state) != set(shipped):
        raise SystemExit(f"export: {work}/vae.pt is not a decoder fine-tuned from {out} (encoder tensors differ: "
                         f"{changed[:3] or 'names'}); use a full export")
    vae_sha = half_precision(state, METADATA, os.path.join(out, "vae.safetensors"))
    config["vae"]["sha256"] = vae_sha
    config["vae"]["held_out_psnr_db"] = report["psnr_db"]
    config["vae"]["decoder_fine_tune"] = {"steps": checkpoint["step"], "wall_seconds": round(checkpoint["elapsed"]),
                                          "encoder": "frozen (the latents are those of the VAE before)"}
    write_json_atomic(config, config_path)
    print(f"export: {out}/vae.safetensors replaced (decoder fine-tuned {checkpoint['step']} steps, "
          f"held-out PSNR {report['psnr_db']:.2f} dB)")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work", required=True)
    parser.add_argument("--out", required=True, help="model folder, e.g. models/reel-tiny")
    parser.add_argument("--vae-only", action="store_true",
                        help="replace only the VAE of the model already in --out (train_vae.py --decoder-from)")
    args = parser.parse_args()
    if args.vae_only:
        replace_vae(args.work, args.out)
        return
    os.makedirs(args.out, exist_ok=True)

    vae_checkpoint = torch.load(os.path.join(args.work, "vae.pt"), map_location="cpu", weights_only=False)
    dit_checkpoint = torch.load(os.path.join(args.work, "dit.pt"), map_location="cpu", weights_only=False)
    with open(os.path.join(args.work, "vae_done.json")) as f:
        vae_report = json.load(f)
    vae_hp = dict(vae_checkpoint["hyperparameters"])
    dit_hp = dict(dit_checkpoint["hyperparameters"])
    vae_sha = half_precision(vae_state_for_export(vae_checkpoint["model"], vae_hp["latent_channels"]), METADATA,
                             os.path.join(args.out, "vae.safetensors"))
    dit_sha = half_precision(dit_state_for_export(dit_checkpoint), METADATA, os.path.join(args.out, "dit.safetensors"))

    config = {
        "name": "reel-tiny",
        "format_version": 1,
        "video": {"width": world.SIZE, "height": world.SIZE, "fps": world.FPS, "window_frames": WINDOW},
        "text_encoder": {"name": "sentence-transformers/all-MiniLM-L6-v2", "dim": 384,
                         "pooling": "mean over tokens, then L2 normalisation", "null_text": "zeros(384)"},
        "vae": {
            "weights": "vae.safetensors", "sha256": vae_sha, "dtype": "float16",
            "widths": list(vae_hp["widths"]), "latent_channels": vae_hp["latent_channels"],
            "latent_size": world.SIZE // 2 ** (len(vae_hp["widths"]) - 1),
            "encoder_blocks": list(vae_hp["encoder_blocks"]), "decoder_blocks": list(vae_hp["decoder_blocks"]),
            "group_norm_groups": GROUPS, "group_norm_eps": VAE_NORM_EPS,
            "pixel_range": "RGB in [-1, 1] = 2 * value/255 - 1, layout [n, 3, 64, 64]",
            "encoder_output": "posterior mean [n, C, H, W] (H = W = latent_size)",
            "latent_shift": dit_checkpoint["shift"], "latent_scale": dit_checkpoint["scale"],
            "latent_normalisation": "dit_latent = (vae_latent - latent_shift) * latent_scale; "
                                    "vae_latent = dit_latent / latent_scale + latent_shift",
            "held_out_psnr_db": vae_report["psnr_db"],
        },
        "dit": {
            "weights": "dit.safetensors", "sha256": dit_sha, "dtype": "float16", "weights_are": "EMA",
            **{k: dit_hp[k] for k in ("frames", "latent_channels", "latent_size", "patch", "dim", "depth", "heads",
                                      "mlp_ratio", "text_dim", "frequency_dim")},
            "patch_shape": [1, dit_hp["patch"], dit_hp["patch"]],
            "latent_layout": "[n, frames, channels, height, width]",
            "input_channels": "[x_t (C), anchors * mask (C), mask (1)] per latent pixel",
            "layer_norm_eps": DIT_NORM_EPS, "layer_norm_affine": False,
            "gelu": "exact (erf)",
            "attention": "multi-head softmax self-attention over each block's span, scale 1/sqrt(head_dim)",
            "attention_layout": dit_hp.get("attention", "full"),
            "attention_spans": attention_spans(dit_hp.get("attention", "full"), dit_hp["depth"]),
            "attention_span_meaning": "full: all tokens of the window; space: the tokens of one frame; "
                                      "time: one patch position in every frame",
            "local_mixing": dit_hp.get("local_mixing", "none"),
            "local_mixing_meaning": "none: MLP = fc2(gelu(fc1(x))); shift: fc2(gelu(shift(fc1(x)))), where with "
                                    "G = hidden // 52 channels [k G, (k + 1) G) of token (t, y, x) take the values of "
                                    "token (t + dt, y + dy, x + dx), (dt, dy, dx) the k-th non-zero offset in "
                                    "{-1, 0, 1}^3 (dt slowest, dx fastest), zero outside the window; channels from "
                                    "26 G on are kept",
            "text_tokens": dit_hp.get("text_tokens", 0),
            "text_tokens_meaning": "0: none. k > 0: f = text_mlp(text); context = layer_norm(text_to_tokens(silu(f)) "
                                   "as [k, dim]) (no affine); in every block after the self-attention, "
                                   "x += cross.proj(attention(cross.q(layer_norm(x)), keys and values cross.kv(context) "
                                   "split [k, inner] each (keys first), 2 heads, inner = dim / 2, scale 1/sqrt(inner / 2)))",
            **({"text_words": True,
                "text_words_meaning": "the text input is MiniLM's pooled embedding and its last hidden state of every "
                                      "token ([CLS] and [SEP] included); context = [text tokens; layer_norm("
                                      "word_proj(hidden)) per token] (no affine), every context row a key"}
               if dit_hp.get("text_words") else {}),
            "time_input": "sinusoidal_embedding(1000 * t, frequency_dim)",
            "stride_input": "sinusoidal_embedding(200 * log2(stride), frequency_dim)",
            "sinusoidal_embedding": "[cos(v * f_k), sin(v * f_k)], f_k = 10000^(-k / (dim/2)), k < dim/2",
            "position": "fixed table 'position' [frames * (latent_size/patch)^2, dim], tokens in (t, y, x) order",
        },
        "flow": {
            "convention": "x_t = (1 - t) * x0 + t * noise; the model predicts v = noise - x0; t = 1 is noise, t = 0 data",
            "training_time_distribution": "logit-normal: t = sigmoid(n), n ~ N(0, 1)",
            "loss": "MSE of v over all frames, anchor frames included, plus motion_loss times the MSE of the "
                    "error's frame-to-frame differences",
            "motion_loss": dit_checkpoint.get("motion_loss", 0.0),
            "anchors": "anchor frames carry the clean anchor latent in the anchor channels and mask = 1; during "
                       "sampling their x_t is reset to (1 - t) * anchor + t * noise after each step",
            "text_dropout": TEXT_DROP_PROBABILITY,
            "mask_kinds": MASK_KINDS,
        },
        "noise": {
            "shared_fraction": dit_checkpoint.get("noise_shared", 0.0),
            "definition": "noise = sqrt(f) * shared + sqrt(1 - f) * independent per frame, both N(0, 1); "
                          "the shared part is one draw per window in training, per film and level in Reel",
        },
        "sampler": {
            **SAMPLER_DEFAULTS,
            "method": "Euler from t = 1 to t = 0: x <- x + (t_next - t) * v",
            "schedule": "u_k = 1 - k/steps, t_k = shift * u_k / (1 + (shift - 1) * u_k)",
            "guidance": "v = v_uncond + cfg_scale * (v_text - v_uncond), v_uncond with null text",
        },
        "strides_trained": trained_strides(),
        "training": {
            "vae_steps": vae_checkpoint["step"], "dit_steps": dit_checkpoint["step"], "dit_batch": dit_checkpoint["batch"],
            "dit_lr": dit_checkpoint["lr"], "seed": dit_checkpoint["seed"],
            "wall_seconds": {"vae": round(vae_checkpoint["elapsed"]), "dit": round(dit_checkpoint["elapsed"])},
        },
        "world": "docs/world.md",
    }
    files = ["vae.safetensors", "dit.safetensors"]
    if dit_hp.get("layout_channels"):
        config["dit"]["layout_channels"] = dit_hp["layout_channels"]
        config["dit"]["layout_meaning"] = (
            "layout_channels more input channels after [x_t, anchors * mask, mask]: the subject's track (x, y, r "
            "in pixels per frame) as g, g * dx, g * dy, g * r / cell per latent pixel, cell = 64 / latent_size, "
            "(dx, dy) = (centre - latent pixel centre) / cell, g = exp(-(dx^2 + dy^2) / 2); with 5 channels also "
            "the coverage: the mean over the cell's pixel centres p of clip(r + 0.5 - |p - centre|, 0, 1); "
            "zeros = no layout. "
            "Guidance: both passes see the layout")
        # disc: the coverage of a disc of radius r (the first layout DiTs); shape: of the subject's
        # own shape (world.signed_distance), named by the planner's shape head.
        config["dit"]["layout_coverage"] = dit_checkpoint.get("layout_coverage", "disc")
        config["dit"]["layout_coverage_meaning"] = (
            "disc: coverage alpha = clip(r + 0.5 - |p - centre|, 0, 1); shape: alpha = clip(0.5 - "
            "signed_distance(shape, p - centre, r), 0, 1) with docs/world.md's circle, square (half-side r) or "
            "triangle (apex (0, -r), base y = r from x = -r to r), the shape named by the planner's shape head")
        planner_path = os.path.join(args.work, "planner.pt")
        if not os.path.exists(planner_path):
            raise SystemExit(f"export: the DiT reads layouts but {planner_path} is missing; run train_planner.py")
        planner = torch.load(planner_path, map_location="cpu", weights_only=False)
        planner_sha = half_precision(dit_state_for_export(planner), METADATA,
                                     os.path.join(args.out, "planner.safetensors"))
        files.append("planner.safetensors")
        config["planner"] = {
            "weights": "planner.safetensors", "sha256": planner_sha, "dtype": "float16", "weights_are": "EMA",
            **planner["hyperparameters"], **PLANNER_SAMPLER,
            "track": "[frames, 3]: (x, y, r) in pixels, normalised as (v - center) / scale",
            "track_center": list(TRACK_CENTER), "track_scale": list(TRACK_SCALE),
            "forward": "c = silu(time_mlp(emb(1000 t)) + stride_mlp(emb(200 log2 stride)) + text_mlp(text) "
                       "+ words(tokens)); words (word_heads > 0; zero without tokens): per head h, softmax over "
                       "the prompt's MiniLM token states of word_score(tokens)[:, h] weighs channel block h "
                       "(dim / word_heads wide) of word_value(tokens); "
                       "h = inp(z); per block: (shift, scale, gate) = modulations[i](c) split in 3; "
                       "h += gate * mlps[i].fc2(silu(mlps[i].fc1(layer_norm(h) * (1 + scale) + shift))); "
                       "(shift, scale) = modulation_out(c); v = out(layer_norm(h) * (1 + scale) + shift)",
            "sampler": "Euler from t = 1 (z = noise, [frames * 3]) to 0 in `steps` uniform steps; "
                       "v = v_null + cfg_scale * (v_text - v_null) when cfg_scale != 1",
            "training": {"steps": planner["step"], "batch": planner["batch"], "lr": planner["lr"],
                         "seed": planner["seed"], "wall_seconds": round(planner["elapsed"])},
        }
        if planner["hyperparameters"].get("shape_classes"):
            config["planner"]["shape_names"] = list(world.SHAPES)
            config["planner"]["shape_head"] = (
                "logits = shape_out(silu(shape_in(pooled) + sum_k a_k shape_value(token_k))), a = softmax over the "
                "prompt's token states of shape_score(token_k); raw MiniLM inputs; the argmax names shape_names[i]")
            config["planner"]["shape_head_training"] = planner["shape_head"]
        elif config["dit"]["layout_coverage"] == "shape":
            raise SystemExit("export: the DiT's coverage is the subject's shape but the planner has no shape head; "
                             "run train_shape_head.py")
    write_json_atomic(config, os.path.join(args.out, "config.json"))
    sizes = {name: os.path.getsize(os.path.join(args.out, name)) for name in files}
    print(f"export: wrote {args.out} ({', '.join(f'{k} {v / 1e6:.1f} MB' for k, v in sizes.items())})")


if __name__ == "__main__":
    main()
