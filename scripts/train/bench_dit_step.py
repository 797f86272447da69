"""Cost of one DiT training pass (forward + backward, no optimizer) per latent layout.

  python bench_dit_step.py [--threads 2] [--batch 32]

Times a factorised DiT on random windows of 8x8x8 latents (2x2 patches), the same with local mixing
(--local-mixing shift), with local mixing and 8 text tokens (--text-tokens 8, cross-attention in
every block), and 16x16x4 latents (4x4 patches), all 16 tokens per frame, under bf16
autocast as train_dit.py runs it; prints the best of 3 timed passes after a warm-up, each layout
twice (interleaved, to expose machine noise).
"""
import argparse
import time

import torch

from models import DiT

# (latent size, channels, patch, local mixing, text tokens)
LAYOUTS = [(8, 8, 2, "none", 0), (8, 8, 2, "shift", 0), (8, 8, 2, "shift", 8), (16, 4, 4, "none", 0)]


def best_pass(size, channels, patch, local_mixing, text_tokens, batch, rounds=4):
    torch.manual_seed(0)
    model = DiT(latent_channels=channels, latent_size=size, patch=patch, attention="factorised",
                local_mixing=local_mixing, text_tokens=text_tokens)
    x = torch.randn(batch, 16, channels, size, size)
    mask, text = torch.zeros(batch, 16), torch.randn(batch, 384)
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        with torch.autocast("cpu", dtype=torch.bfloat16):
            out = model(x, x, mask, text, torch.ones(batch), torch.rand(batch))
        out.float().pow(2).mean().backward()
        times.append(time.perf_counter() - start)
    return min(times[1:])


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batch", type=int, default=32)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    for size, channels, patch, local_mixing, text_tokens in LAYOUTS * 2:
        print(f"latent {size}x{size}x{channels}, patch {patch}, local mixing {local_mixing}, text tokens "
              f"{text_tokens}: forward + backward, batch {args.batch}, {args.threads} threads: "
              f"{best_pass(size, channels, patch, local_mixing, text_tokens, args.batch):.3f} s (best of 3)")


if __name__ == "__main__":
    main()
