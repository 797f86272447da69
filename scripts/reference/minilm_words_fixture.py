"""Reference word states from the real sentence-transformers library, for the parity test of
MiniLMEncoder.embedWithWords (what a reel-tiny DiT with text_words reads).

Run: scripts/reference/make_fixtures.sh  (or: $(scripts/reference/venv.sh) scripts/reference/minilm_words_fixture.py OUT)
Writes safetensors: "words_K" [tokens, 384] MiniLM's last hidden state of every token of sentence
K ([CLS] and [SEP] included), "pooled_K" [384] its normalised embedding; the sentences are in the
file's metadata ("sentences", a JSON list).
"""
import json
import os
import sys

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import torch  # noqa: E402
from safetensors.torch import save_file  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "train"))
from text_encoder import embed, embed_words, load_text_encoder  # noqa: E402

SENTENCES = [
    "a red ball rolls left on green grass",
    "small crimson circle drifting to the left",
    "In the darkness, a big cobalt pyramid that travels from right to left",
]


def main():
    torch.set_num_threads(1)
    model = load_text_encoder()
    pooled = embed(model, SENTENCES)
    words, lengths = embed_words(model, SENTENCES)
    tensors = {}
    for k, length in enumerate(lengths):
        tensors[f"words_{k}"] = torch.from_numpy(words[k, :length].copy())
        tensors[f"pooled_{k}"] = torch.from_numpy(pooled[k].copy())
    save_file(tensors, sys.argv[1], metadata={"sentences": json.dumps(SENTENCES)})
    print(f"wrote the word states of {len(SENTENCES)} sentences to {sys.argv[1]}")


if __name__ == "__main__":
    main()
