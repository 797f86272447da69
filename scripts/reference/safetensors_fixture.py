"""Small safetensors files written by the reference `safetensors` library, for Reel's reader tests.

Writes F32, F16 and BF16 tensors (bf16 via torch) plus the exact fp32 values each holds after
rounding, so the Swift reader can be checked bit for bit.
"""
import json
import os
import sys

import numpy as np
import torch
from safetensors.torch import save_file


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    rng = np.random.default_rng(7)
    base = rng.standard_normal((3, 5)).astype(np.float32) * 10
    special = np.array([0.0, -0.0, 1.0, -2.5, 65504.0, 6.1035156e-05, 5.9604645e-08, 1e-3, 1/3, 123.456],
                       dtype=np.float32)
    tensors = {
        "f32": torch.from_numpy(base.copy()),
        "f16": torch.from_numpy(base.copy()).to(torch.float16),
        "bf16": torch.from_numpy(base.copy()).to(torch.bfloat16),
        "special_f16": torch.from_numpy(special.copy()).to(torch.float16),
        "special_bf16": torch.from_numpy(special.copy()).to(torch.bfloat16),
        "scalar": torch.tensor(4.25, dtype=torch.float32),
        "ids": torch.arange(6, dtype=torch.int64).reshape(2, 3),
    }
    save_file(tensors, os.path.join(out, "mixed.safetensors"), metadata={"format": "pt", "made_by": "safetensors_fixture.py"})
    expected = {name: {"shape": list(t.shape), "values": t.to(torch.float32).flatten().tolist()}
                for name, t in tensors.items() if t.dtype != torch.int64}
    with open(os.path.join(out, "mixed.expected.json"), "w") as f:
        json.dump(expected, f)
    # PyTorch's own results for kernels whose exact semantics matter (edges, half-pixel centres).
    g = torch.Generator().manual_seed(11)
    image = torch.randn(2, 3, 5, 7, generator=g)
    weight = torch.randn(4, 3, 3, 3, generator=g)
    bias = torch.randn(4, generator=g)
    F = torch.nn.functional
    kernels = {
        "image": image,
        "conv_weight": weight,
        "conv_bias": bias,
        "conv_s2_p1": F.conv2d(image, weight, bias, stride=2, padding=1),
        "up_nearest_10x14": F.interpolate(image, size=(10, 14), mode="nearest"),
        "up_nearest_7x9": F.interpolate(image, size=(7, 9), mode="nearest"),
        "up_bilinear_10x14": F.interpolate(image, size=(10, 14), mode="bilinear", align_corners=False),
        "up_bilinear_8x11": F.interpolate(image, size=(8, 11), mode="bilinear", align_corners=False),
        "gelu_input": torch.linspace(-6, 6, 97),
    }
    gn_in = torch.randn(2, 6, 4, 4, generator=g) * 3 + 1
    kernels["group_norm_input"] = gn_in
    kernels["group_norm_3"] = F.group_norm(gn_in, 3, eps=1e-5)
    kernels["gelu_exact"] = F.gelu(kernels["gelu_input"])
    kernels["gelu_tanh"] = F.gelu(kernels["gelu_input"], approximate="tanh")
    kernels["silu"] = F.silu(kernels["gelu_input"])
    save_file({k: v.contiguous() for k, v in kernels.items()}, os.path.join(out, "kernels.safetensors"),
              metadata={"made_by": "safetensors_fixture.py", "torch": torch.__version__})
    print(f"wrote mixed.safetensors, mixed.expected.json and kernels.safetensors to {out}")


if __name__ == "__main__":
    main()
