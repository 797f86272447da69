"""Parity fixtures for the Swift port of reel-tiny: a small, randomly initialised VAE and DiT built
by scripts/train/models.py, fixed random inputs, and PyTorch's outputs.

Every parameter is drawn at random (the trained model's zero-initialised gates would make a DiT
fixture trivially zero). Writes to OUT/: config.json (the same layout as models/reel-tiny), vae.safetensors,
dit.safetensors, and io.safetensors with the inputs and expected outputs; and a second DiT with
factorised attention (blocks attending within a frame, then across frames), dit_factorised.safetensors
with config_factorised.json (the same VAE) and its output on the same inputs, io's
"velocity_factorised". Its parameters are drawn after everything else, so the first fixture's
files do not change with it. Last, in OUT/fine-latent/, a model with the 4x-downsampling layout
(two VAE levels: 16x16 latents; 4x4 DiT patches, factorised attention) with its own config.json,
weights and io.safetensors, drawn after all of the above. Then a factorised DiT with local mixing
(fc1's channel groups shifted to the neighbouring tokens inside every block's MLP), dit_local.safetensors
with config_local.json (the same VAE) and its output on the first fixture's inputs in
local_io.safetensors ("velocity"). Then the same with text tokens (the text feature made into
TEXT_TOKENS tokens that every block cross-attends to), dit_text.safetensors with config_text.json and
its output in text_io.safetensors ("velocity"). Then the same with word states (dit_words.safetensors,
config_words.json, words_io.safetensors). Last, layouts (drawn after everything else, so the files
above stay byte for byte as they were): a DiT reading the subject's layout as 4 more input channels
(dit_layout.safetensors, config_layout.json) and a random track planner (planner.safetensors, its
"planner" section in config_layout.json as export.py writes it); layout_io.safetensors holds the
tracks, their layout channels (layout.layout_channels), the DiT's output on the first fixture's
inputs with that layout ("velocity"), the planner's inputs and velocity ("planner_*") and a track
sampled by train_planner.sample_tracks from known noise ("sample_*"). Then, drawn after that, a
track planner that also reads MiniLM's per-token states (word_heads = PLANNER_WORD_HEADS:
planner_words.safetensors, config_planner_words.json, planner_words_io.safetensors with its
inputs, velocity and sampled track, as above but with token rows). Last, drawn after that, a
planner with a shape head (planner_shapes.safetensors, config_planner_shapes.json: the DiT's
coverage follows the subject's shape) with the head's logits for three texts, and the layout
fixture's tracks made into layout channels with the shapes square and triangle
(planner_shapes_io.safetensors).

Run: scripts/reference/make_fixtures.sh  (or: $(scripts/reference/venv.sh) scripts/reference/reel_tiny_fixture.py OUT)
"""
import hashlib
import json
import os
import sys

import torch
from safetensors import safe_open
from safetensors.torch import save_file

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "train"))
import layout  # noqa: E402
import models  # noqa: E402
import world  # noqa: E402

VAE_CONFIG = dict(widths=(16, 16, 32, 32), latent_channels=4, encoder_blocks=(0, 1, 1), decoder_blocks=(1, 1, 1))
DIT_CONFIG = dict(frames=4, latent_channels=4, latent_size=8, patch=2, dim=48, depth=2, heads=4, mlp_ratio=4,
                  text_dim=384, frequency_dim=32)
# The fine-latent layout (train_vae.py --latent f4c4): 64x64 -> 16x16, 4x4 patches.
FINE_VAE_CONFIG = dict(widths=(16, 16, 32), latent_channels=4, encoder_blocks=(0, 1), decoder_blocks=(1, 1))
FINE_DIT_CONFIG = dict(DIT_CONFIG, latent_size=16, patch=4)
TEXT_TOKENS = 3
PLANNER_CONFIG = dict(frames=DIT_CONFIG["frames"], dim=32, depth=2, mlp_ratio=2, text_dim=384, frequency_dim=32)
PLANNER_SAMPLER = dict(steps=6, cfg_scale=2.5)
SHAPE_HIDDEN = 16
PLANNER_WORD_HEADS = 2


def randomise(module, generator, scale):
    with torch.no_grad():
        for name, p in module.named_parameters():
            fan_in = p.shape[1] * (p[0, 0].numel() if p.dim() > 2 else 1) if p.dim() > 1 else p.shape[0]
            std = scale / fan_in ** 0.5 if p.dim() > 1 else 0.1
            p.copy_(torch.randn(p.shape, generator=generator) * std + (1.0 if "norm" in name and name.endswith("weight") else 0.0))


def random_inputs(g, count, dit_config):
    """(images [count, 3, 64, 64], raw latents [count, C, S, S], x and anchors [2, T, C, S, S],
    mask [2, T] (item 0 anchored at both ends), text [2, 384] with item 1 the no-text item of a
    guidance batch), drawn from g in this order."""
    frames, c, s = dit_config["frames"], dit_config["latent_channels"], dit_config["latent_size"]
    images = torch.rand(count, 3, 64, 64, generator=g) * 2 - 1
    latents = torch.randn(count, c, s, s, generator=g)
    x = torch.randn(2, frames, c, s, s, generator=g)
    anchors = torch.randn(2, frames, c, s, s, generator=g)
    mask = torch.zeros(2, frames)
    mask[0, 0] = mask[0, -1] = 1.0
    text = torch.randn(2, 384, generator=g)
    text[1] = 0.0
    return images, latents, x, anchors, mask, text


def sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(1234)
    vae = models.VAE(**VAE_CONFIG, log_variance=False).eval()  # as exported: the encoder keeps the mean
    dit = models.DiT(**DIT_CONFIG).eval()
    randomise(vae, g, 1.0)
    randomise(dit, g, 1.0)

    images, latents, x, anchors, mask, text = random_inputs(g, 3, DIT_CONFIG)
    stride = torch.tensor([4.0, 1.0])
    t = torch.tensor([0.73, 0.05])
    with torch.no_grad():
        mean = vae.encode(images)
        decoded = vae.decode(latents)
        velocity = dit(x, anchors, mask, text, stride, t)

    factorised = models.DiT(**DIT_CONFIG, attention="factorised").eval()
    randomise(factorised, g, 1.0)
    with torch.no_grad():
        velocity_factorised = factorised(x, anchors, mask, text, stride, t)

    save_file({k: v.contiguous() for k, v in vae.state_dict().items()}, os.path.join(out, "vae.safetensors"))
    save_file({k: v.contiguous() for k, v in factorised.state_dict().items()},
              os.path.join(out, "dit_factorised.safetensors"))
    save_file({k: v.contiguous() for k, v in dit.state_dict().items()}, os.path.join(out, "dit.safetensors"))
    save_file({"images": images, "encoded_mean": mean.contiguous(),
               "latents": latents, "decoded": decoded, "x": x, "anchors": anchors, "mask": mask, "text": text,
               "stride": stride, "t": t, "velocity": velocity, "velocity_factorised": velocity_factorised},
              os.path.join(out, "io.safetensors"))
    # The same layout scripts/train/export.py writes for models/reel-tiny.
    config = {
        "name": "reel-tiny-parity-fixture",
        "format_version": 1,
        "video": {"width": 64, "height": 64, "fps": 8, "window_frames": DIT_CONFIG["frames"]},
        "vae": {"weights": "vae.safetensors", "sha256": sha256(os.path.join(out, "vae.safetensors")),
                "widths": list(VAE_CONFIG["widths"]), "latent_channels": VAE_CONFIG["latent_channels"], "latent_size": 8,
                "encoder_blocks": list(VAE_CONFIG["encoder_blocks"]), "decoder_blocks": list(VAE_CONFIG["decoder_blocks"]),
                "group_norm_groups": models.GROUPS, "group_norm_eps": models.VAE_NORM_EPS,
                "latent_shift": 0.0, "latent_scale": 1.0},
        "dit": {"weights": "dit.safetensors", "sha256": sha256(os.path.join(out, "dit.safetensors")), **DIT_CONFIG,
                "layer_norm_eps": models.DIT_NORM_EPS,
                "gelu": "tanh" if dit.blocks[0].mlp.activation.__name__.endswith("tanh") else "exact (erf)"},
        "sampler": {"steps": 8, "cfg_scale": 4.0, "shift": 1.0},
        "strides_trained": [1, 2, 4, 8],
    }
    with open(os.path.join(out, "config.json"), "w") as f:
        json.dump(config, f, indent=2)
    config["dit"] = dict(config["dit"], weights="dit_factorised.safetensors",
                         sha256=sha256(os.path.join(out, "dit_factorised.safetensors")),
                         attention_layout="factorised",
                         attention_spans=models.attention_spans("factorised", DIT_CONFIG["depth"]))
    with open(os.path.join(out, "config_factorised.json"), "w") as f:
        json.dump(config, f, indent=2)
    fine_latent(os.path.join(out, "fine-latent"), g)
    inputs = (x, anchors, mask, text, stride, t)
    # Local mixing: fc1's channel groups shifted to neighbouring tokens (models.spacetime_shift).
    dit_variant(out, config, g, inputs, "local", local_mixing="shift")
    # Text tokens: every block also cross-attends to tokens made from the text feature
    # (models.CrossAttention); the first fixture's inputs include an item without text.
    dit_variant(out, config, g, inputs, "text", local_mixing="shift", text_tokens=TEXT_TOKENS)
    # Word states: the text input is [2, 1 + 8, 384], item 0 the first fixture's text with 6 word
    # rows and 2 zero rows of padding, item 1 no text; drawn after everything above, so the other
    # fixtures stay as they were.
    words = torch.zeros(2, 1 + 8, 384)
    words[0, 0] = text[0]
    words[0, 1:7] = torch.randn(6, 384, generator=g)
    dit_variant(out, config, g, (x, anchors, mask, words, stride, t), "words", local_mixing="shift",
                text_tokens=TEXT_TOKENS, text_words=True)
    layouts(out, config, g, inputs)
    planner_words(out, g)
    planner_shapes(out, g)
    print(f"wrote reel-tiny parity fixtures to {out}")


def dit_variant(out, config, g, inputs, name, extra_io=None, **options):
    """A factorised DiT with `options` (models.DiT keywords, also written into its config) drawn
    next from g, run on `inputs`: dit_NAME.safetensors, NAME_io.safetensors ("velocity", "text"
    for a DiT with text_words, and `extra_io`) and config_NAME.json (the same VAE)."""
    dit = models.DiT(**DIT_CONFIG, attention="factorised", **options).eval()
    randomise(dit, g, 1.0)
    with torch.no_grad():
        velocity = dit(*inputs)
    path = os.path.join(out, f"dit_{name}.safetensors")
    save_file({k: v.contiguous() for k, v in dit.state_dict().items()}, path)
    save_file({"velocity": velocity, **({"text": inputs[3].contiguous()} if options.get("text_words") else {}),
               **(extra_io or {})},
              os.path.join(out, f"{name}_io.safetensors"))
    config = dict(config, dit=dict(config["dit"], weights=f"dit_{name}.safetensors", sha256=sha256(path), **options))
    with open(os.path.join(out, f"config_{name}.json"), "w") as f:
        json.dump(config, f, indent=2)


@torch.no_grad()
def planner_outputs(planner, z, text, strides, times, sample_text, sample_seed, sample_stride):
    """A planner fixture's expected outputs: its velocity on (z, text, strides, times), and the noise
    Swift gets and the track train_planner.sample_tracks draws from it for sample_text at
    sample_stride (one draw of noise, seen by both: a second generator with the same seed)."""
    from train_planner import sample_tracks
    velocity = planner(z, text, strides, times)
    sample_noise = torch.randn(1, planner.frames * 3, generator=torch.Generator().manual_seed(sample_seed))
    sample_track = sample_tracks(planner, sample_text, torch.tensor([sample_stride]),
                                 torch.Generator().manual_seed(sample_seed), **PLANNER_SAMPLER)
    return velocity, sample_noise, sample_track


def layouts(out, config, g, inputs):
    """The layout fixture, drawn from g after everything else: two moving subjects' tracks [2, T, 3]
    (pixels) and their layout channels, a random TrackPlanner (its zero-initialised modulation and
    output layers drawn like every other weight, so its velocity is not trivially zero) with its
    inputs and output, a track it samples from known noise with train_planner.sample_tracks, and a
    DiT reading the layout. Both items of the DiT batch get a layout, as both guidance passes do."""
    frames = DIT_CONFIG["frames"]
    start = torch.rand(2, 1, 3, generator=g) * torch.tensor([32.0, 32.0, 7.0]) + torch.tensor([16.0, 16.0, 5.0])
    step = (torch.rand(2, 1, 3, generator=g) * 2 - 1) * torch.tensor([4.0, 4.0, 0.5])
    tracks = start + torch.arange(frames, dtype=torch.float32)[None, :, None] * step
    channels = layout.layout_channels(tracks, DIT_CONFIG["latent_size"])

    planner = models.TrackPlanner(**PLANNER_CONFIG).eval()
    randomise(planner, g, 1.0)
    n = 3
    z = torch.randn(n, frames * 3, generator=g)
    text = torch.randn(n, 384, generator=g)
    text[2] = 0.0
    strides = torch.tensor([1.0, 2.0, 8.0])
    times = torch.tensor([0.93, 0.41, 0.04])
    # Sampling: one draw of noise, seen by Swift and by sample_tracks (a second generator, same seed).
    sample_text = torch.randn(1, 384, generator=g)
    sample_seed = int(torch.randint(0, 2 ** 31, (1,), generator=g))
    planner_velocity, sample_noise, sample_track = planner_outputs(planner, z, text, strides, times, sample_text,
                                                                   sample_seed, 4.0)
    path = os.path.join(out, "planner.safetensors")
    save_file({k: v.contiguous() for k, v in planner.state_dict().items()}, path)
    # The section export.py writes (less its prose and training record).
    config = dict(config, planner={"weights": "planner.safetensors", "sha256": sha256(path), "dtype": "float32",
                                   **PLANNER_CONFIG, **PLANNER_SAMPLER,
                                   "track_center": list(layout.TRACK_CENTER), "track_scale": list(layout.TRACK_SCALE)})
    extra = {"tracks": tracks, "layout": channels, "planner_z": z, "planner_text": text, "planner_stride": strides,
             "planner_t": times, "planner_velocity": planner_velocity, "sample_text": sample_text,
             "sample_stride": torch.tensor([4.0]), "sample_noise": sample_noise, "sample_track": sample_track}
    dit_variant(out, config, g, inputs + (channels,), "layout", extra_io=extra, local_mixing="shift",
                layout_channels=layout.LAYOUT_CHANNELS)


def planner_words(out, g):
    """The word-reading planner fixture, drawn from g after the layout fixture: a random
    TrackPlanner with PLANNER_WORD_HEADS attention-pooling heads, three inputs of pooled embedding
    plus 5 token rows (the first item's last two rows zero padding, the third item no text at
    all), its velocity, and a track sampled from known noise for a text of 4 token rows. Its
    config is config_layout.json with this planner."""
    frames = DIT_CONFIG["frames"]
    planner = models.TrackPlanner(**PLANNER_CONFIG, word_heads=PLANNER_WORD_HEADS).eval()
    randomise(planner, g, 1.0)
    n, tokens = 3, 5
    z = torch.randn(n, frames * 3, generator=g)
    text = torch.randn(n, 1 + tokens, 384, generator=g)
    text[0, 1 + 3:] = 0.0
    text[2] = 0.0
    strides = torch.tensor([2.0, 1.0, 4.0])
    times = torch.tensor([0.87, 0.33, 0.12])
    sample_text = torch.randn(1, 1 + 4, 384, generator=g)
    sample_seed = int(torch.randint(0, 2 ** 31, (1,), generator=g))
    velocity, sample_noise, sample_track = planner_outputs(planner, z, text, strides, times, sample_text,
                                                           sample_seed, 2.0)
    path = os.path.join(out, "planner_words.safetensors")
    save_file({k: v.contiguous() for k, v in planner.state_dict().items()}, path)
    with open(os.path.join(out, "config_layout.json")) as f:
        config = json.load(f)
    config["planner"] = dict(config["planner"], weights="planner_words.safetensors", sha256=sha256(path),
                             word_heads=PLANNER_WORD_HEADS)
    with open(os.path.join(out, "config_planner_words.json"), "w") as f:
        json.dump(config, f, indent=2)
    save_file({"planner_z": z, "planner_text": text, "planner_stride": strides, "planner_t": times,
               "planner_velocity": velocity, "sample_text": sample_text, "sample_stride": torch.tensor([2.0]),
               "sample_noise": sample_noise, "sample_track": sample_track},
              os.path.join(out, "planner_words_io.safetensors"))


def planner_shapes(out, g):
    """The shape-head fixture, drawn from g after the word-reading planner: a random TrackPlanner
    with word heads and a shape head of SHAPE_HIDDEN, its logits for three texts of pooled
    embedding plus 5 token rows (the first with two rows of padding, the third no tokens at all),
    and the layout fixture's tracks with the coverage of a square (item 0) and a triangle (item 1).
    Its config is config_planner_words.json with this planner and dit.layout_coverage "shape"."""
    planner = models.TrackPlanner(**PLANNER_CONFIG, word_heads=PLANNER_WORD_HEADS, shape_classes=len(world.SHAPES),
                                  shape_hidden=SHAPE_HIDDEN).eval()
    randomise(planner, g, 1.0)
    text = torch.randn(3, 1 + 5, 384, generator=g)
    text[0, 1 + 3:] = 0.0
    text[2, 1:] = 0.0
    with torch.no_grad():
        logits = planner.shape_logits(text)
    with open(os.path.join(out, "config_planner_words.json")) as f:
        config = json.load(f)
    with safe_open(os.path.join(out, "layout_io.safetensors"), "pt") as f:
        tracks = f.get_tensor("tracks")
    shapes = torch.tensor([world.SHAPES.index("square"), world.SHAPES.index("triangle")])
    channels = layout.layout_channels(tracks, config["dit"]["latent_size"], shapes=shapes)
    path = os.path.join(out, "planner_shapes.safetensors")
    save_file({k: v.contiguous() for k, v in planner.state_dict().items()}, path)
    config["planner"] = dict(config["planner"], weights="planner_shapes.safetensors", sha256=sha256(path),
                             shape_classes=len(world.SHAPES), shape_hidden=SHAPE_HIDDEN, shape_names=list(world.SHAPES))
    config["dit"] = dict(config["dit"], layout_coverage="shape")
    with open(os.path.join(out, "config_planner_shapes.json"), "w") as f:
        json.dump(config, f, indent=2)
    save_file({"shape_text": text, "shape_logits": logits, "tracks": tracks, "shapes": shapes.float(),
               "layout": channels}, os.path.join(out, "planner_shapes_io.safetensors"))


def fine_latent(out, g):
    """The fine-latent fixture: VAE and factorised DiT at 16x16 latents, inputs and outputs."""
    os.makedirs(out, exist_ok=True)
    vae = models.VAE(**FINE_VAE_CONFIG, log_variance=False).eval()
    dit = models.DiT(**FINE_DIT_CONFIG, attention="factorised").eval()
    randomise(vae, g, 1.0)
    randomise(dit, g, 1.0)
    frames, c, s = FINE_DIT_CONFIG["frames"], FINE_DIT_CONFIG["latent_channels"], FINE_DIT_CONFIG["latent_size"]
    images, latents, x, anchors, mask, text = random_inputs(g, 2, FINE_DIT_CONFIG)
    stride = torch.tensor([2.0, 1.0])
    t = torch.tensor([0.61, 0.12])
    with torch.no_grad():
        mean, decoded = vae.encode(images), vae.decode(latents)
        velocity = dit(x, anchors, mask, text, stride, t)
    save_file({k: v.contiguous() for k, v in vae.state_dict().items()}, os.path.join(out, "vae.safetensors"))
    save_file({k: v.contiguous() for k, v in dit.state_dict().items()}, os.path.join(out, "dit.safetensors"))
    save_file({"images": images, "encoded_mean": mean.contiguous(), "latents": latents, "decoded": decoded, "x": x,
               "anchors": anchors, "mask": mask, "text": text, "stride": stride, "t": t, "velocity": velocity},
              os.path.join(out, "io.safetensors"))
    config = {
        "name": "reel-tiny-parity-fixture-fine-latent",
        "format_version": 1,
        "video": {"width": 64, "height": 64, "fps": 8, "window_frames": frames},
        "vae": {"weights": "vae.safetensors", "sha256": sha256(os.path.join(out, "vae.safetensors")),
                "widths": list(FINE_VAE_CONFIG["widths"]), "latent_channels": c, "latent_size": s,
                "encoder_blocks": list(FINE_VAE_CONFIG["encoder_blocks"]),
                "decoder_blocks": list(FINE_VAE_CONFIG["decoder_blocks"]),
                "group_norm_groups": models.GROUPS, "group_norm_eps": models.VAE_NORM_EPS,
                "latent_shift": 0.0, "latent_scale": 1.0},
        "dit": {"weights": "dit.safetensors", "sha256": sha256(os.path.join(out, "dit.safetensors")), **FINE_DIT_CONFIG,
                "layer_norm_eps": models.DIT_NORM_EPS, "gelu": "exact (erf)", "attention_layout": "factorised",
                "attention_spans": models.attention_spans("factorised", FINE_DIT_CONFIG["depth"])},
        "sampler": {"steps": 8, "cfg_scale": 4.0, "shift": 1.0},
        "strides_trained": [1, 2, 4, 8],
    }
    with open(os.path.join(out, "config.json"), "w") as f:
        json.dump(config, f, indent=2)


if __name__ == "__main__":
    main()
