"""Parity fixtures for the Swift port of reel-tiny: fixed inputs and the float32 PyTorch outputs of
the exported model (float16 weights widened to float32, no mixed precision).

  python parity_fixtures.py --model models/reel-tiny --out Tests/ModelsTests/Fixtures/reel_tiny_parity.safetensors

Tensors (all float32):
  vae_encoder.input   [2, 3, 64, 64]  pixels in [-1, 1]: a rendered frame and uniform noise
  vae_encoder.output  [2, 8, 8, 8]    raw posterior mean (before latent_shift/latent_scale)
  vae_decoder.input   [2, 8, 8, 8]    raw latents: the encoder output of frame 0, and N(0, 1) noise
  vae_decoder.output  [2, 3, 64, 64]
  dit.x, dit.anchors  [2, 16, 8, 8, 8]  N(0, 1)
  dit.mask            [2, 16]         item 0: frames 0, 1 and 15 are anchors; item 1: none
  dit.text            [2, 384]        item 0: MiniLM embedding of dit_prompt (metadata); item 1: zeros
  dit.stride          [2]             4, 1
  dit.t               [2]             0.73, 0.2
  dit.conditioning    [2, dim]        the summed conditioning vector c
  dit.tokens          [2, 256, dim]   patch embedding + position, before the first block
  dit.block0          [2, 256, dim]   after the first block
  dit.velocity        [2, 16, 8, 8, 8]
"""
import argparse
import os

import torch
from safetensors.torch import save_file

import world
from data import to_model_pixels
from reel_tiny import ReelTiny
from text_encoder import embed, load_text_encoder

PROMPT = "a small red ball bounces on green grass"


@torch.no_grad()
def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="models/reel-tiny")
    parser.add_argument("--out", required=True, help="output .safetensors path")
    parser.add_argument("--seed", type=int, default=1234)
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    model = ReelTiny(args.model)
    dit = model.dit
    generator = torch.Generator().manual_seed(args.seed)

    frame = world.render_clip(world.ClipSpec("sky", "orange", "triangle", "big", "still", (30.3, 33.7), 0.0), 0, 1, 1)
    encoder_input = torch.cat([to_model_pixels(frame), torch.rand(1, 3, 64, 64, generator=generator) * 2 - 1])
    encoder_output = model.vae.encode(encoder_input)
    decoder_input = torch.cat([encoder_output[:1], torch.randn(1, *encoder_output.shape[1:], generator=generator)])
    decoder_output = model.vae.decode(decoder_input)

    shape = (2, dit.frames, dit.channels, dit.latent_size, dit.latent_size)
    x = torch.randn(shape, generator=generator)
    anchors = torch.randn(shape, generator=generator)
    mask = torch.zeros(2, dit.frames)
    mask[0, [0, 1, dit.frames - 1]] = 1.0
    text = torch.zeros(2, 384)
    text[0] = torch.from_numpy(embed(load_text_encoder(), [PROMPT])[0])
    stride = torch.tensor([4.0, 1.0])
    t = torch.tensor([0.73, 0.2])

    captured = {}
    hooks = [dit.blocks[0].register_forward_pre_hook(lambda m, inputs: captured.update(tokens=inputs[0], c=inputs[1])),
             dit.blocks[0].register_forward_hook(lambda m, inputs, output: captured.update(block0=output))]
    velocity = dit(x, anchors, mask, text, stride, t)
    for hook in hooks:
        hook.remove()

    tensors = {
        "vae_encoder.input": encoder_input, "vae_encoder.output": encoder_output,
        "vae_decoder.input": decoder_input, "vae_decoder.output": decoder_output,
        "dit.x": x, "dit.anchors": anchors, "dit.mask": mask, "dit.text": text, "dit.stride": stride, "dit.t": t,
        "dit.conditioning": captured["c"], "dit.tokens": captured["tokens"], "dit.block0": captured["block0"],
        "dit.velocity": velocity,
    }
    tensors = {k: v.float().contiguous() for k, v in tensors.items()}
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    save_file(tensors, args.out, metadata={"model_sha256_vae": model.config["vae"]["sha256"],
                                           "model_sha256_dit": model.config["dit"]["sha256"], "dit_prompt": PROMPT})
    print(f"parity: wrote {len(tensors)} tensors to {args.out}; |velocity| mean "
          f"{velocity.abs().mean().item():.4f}, decoder output range [{decoder_output.min().item():.2f}, "
          f"{decoder_output.max().item():.2f}]")


if __name__ == "__main__":
    main()
