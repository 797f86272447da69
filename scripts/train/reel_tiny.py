"""Loads an exported reel-tiny (models/reel-tiny: config.json and float16 safetensors) as float32
PyTorch modules, checking each weights file against the sha256 in the config."""
import json
import os

import torch
from safetensors.torch import load_file

from export import sha256
from models import DiT, TrackPlanner, VAE


class ReelTiny:
    """The exported VAE and DiT plus the latent normalisation between them, and the track planner
    (None for a model without layouts)."""

    def __init__(self, folder, device="cpu"):
        with open(os.path.join(folder, "config.json")) as f:
            self.config = json.load(f)
        vae_config, dit_config = self.config["vae"], self.config["dit"]
        self.vae = VAE(widths=tuple(vae_config["widths"]), latent_channels=vae_config["latent_channels"],
                       encoder_blocks=tuple(vae_config["encoder_blocks"]),
                       decoder_blocks=tuple(vae_config["decoder_blocks"]), log_variance=False)
        self.dit = DiT(**{k: dit_config[k] for k in ("frames", "latent_channels", "latent_size", "patch", "dim",
                                                      "depth", "heads", "mlp_ratio", "text_dim", "frequency_dim")},
                       attention=dit_config.get("attention_layout", "full"),
                       local_mixing=dit_config.get("local_mixing", "none"),
                       text_tokens=dit_config.get("text_tokens", 0),
                       text_words=dit_config.get("text_words", False),
                       layout_channels=dit_config.get("layout_channels", 0))
        planner_config = self.config.get("planner")
        self.planner = None if planner_config is None else TrackPlanner(
            **{k: planner_config[k] for k in ("frames", "dim", "depth", "mlp_ratio", "text_dim", "frequency_dim")},
            word_heads=planner_config.get("word_heads", 0), shape_classes=planner_config.get("shape_classes", 0),
            shape_hidden=planner_config.get("shape_hidden", 128))
        # "disc": the layout's coverage channel is a disc of the track's radius; "shape": the
        # subject's own shape, named by the planner's shape head (layout.coverage).
        self.layout_coverage = dit_config.get("layout_coverage", "disc")
        self.planner_settings = {k: planner_config[k] for k in ("steps", "cfg_scale")} if planner_config else None
        modules = [(self.vae, vae_config), (self.dit, dit_config)] + ([(self.planner, planner_config)]
                                                                       if self.planner is not None else [])
        for module, section in modules:
            path = os.path.join(folder, section["weights"])
            if sha256(path) != section["sha256"]:
                raise ValueError(f"{path}: sha256 does not match config.json")
            module.load_state_dict({k: v.float() for k, v in load_file(path).items()})
            module.to(device).eval()
        self.shift, self.scale = vae_config["latent_shift"], vae_config["latent_scale"]
        self.noise_shared = self.config.get("noise", {}).get("shared_fraction", 0.0)
        self.device = torch.device(device)

    @property
    def reads_words(self):
        """Whether sampling (sampler.generate) wants MiniLM's token states with the pooled text:
        the DiT cross-attends to them or the planner pools them."""
        return self.dit.text_words or bool(self.planner is not None and self.planner.word_heads)

    @torch.no_grad()
    def encode(self, pixels):
        """[n, 3, 64, 64] in [-1, 1] -> DiT-scale latents [n, C, H, W]."""
        return (self.vae.encode(pixels) - self.shift) * self.scale

    @torch.no_grad()
    def decode(self, latents, batch=64):
        """DiT-scale latents [..., C, H, W] -> pixels [..., 3, 64, 64] in [-1, 1]."""
        flat = latents.reshape(-1, *latents.shape[-3:])
        out = torch.cat([self.vae.decode(flat[i:i + batch] / self.scale + self.shift)
                         for i in range(0, len(flat), batch)])
        return out.reshape(*latents.shape[:-3], *out.shape[1:])
