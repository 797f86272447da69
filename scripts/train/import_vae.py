"""Starts a work folder from an exported model's VAE instead of training one: writes WORK/vae.pt and
WORK/vae_done.json from MODEL/vae.safetensors and MODEL/config.json, so that train_all.sh (or
encode_clips.py, train_dit.py, export.py) skip the VAE phase and reuse those exact weights.

  python import_vae.py --model models/reel-tiny --work .reel/train5

For DiT experiments: the DiT is then trained on latents of the VAE that ships, and the exported
vae.safetensors is the same file again (float16 -> float32 -> float16 is exact). The imported
encoder has only the posterior-mean outputs (log_variance=False), which is all encode_clips.py
uses; the VAE cannot be trained further from it.
"""
import argparse
import json
import os

from common import save_atomic, write_json_atomic
from models import VAE
from train_vae import exported_vae


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True, help="an exported model folder (config.json, vae.safetensors)")
    parser.add_argument("--work", required=True)
    args = parser.parse_args()
    with open(os.path.join(args.model, "config.json")) as f:
        config = json.load(f)
    vae_config = config["vae"]
    hyperparameters, state, _ = exported_vae(args.model)   # the weights as ReelTiny loads and checks them
    vae = VAE(**hyperparameters)
    vae.load_state_dict(state)   # strict: a mismatch in shapes or names stops here
    os.makedirs(args.work, exist_ok=True)
    training = config.get("training", {})
    save_atomic({"model": vae.state_dict(), "hyperparameters": hyperparameters,
                 "step": training.get("vae_steps", 0), "elapsed": training.get("wall_seconds", {}).get("vae", 0),
                 "imported_from": os.path.abspath(args.model)}, os.path.join(args.work, "vae.pt"))
    write_json_atomic({"psnr_db": vae_config["held_out_psnr_db"], "imported_from": os.path.abspath(args.model)},
                      os.path.join(args.work, "vae_done.json"))
    print(f"import_vae: {args.work}/vae.pt from {args.model} (held-out PSNR {vae_config['held_out_psnr_db']:.2f} dB)")


if __name__ == "__main__":
    main()
