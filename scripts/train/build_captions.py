"""Builds the caption bank and its MiniLM embeddings, and the held-out evaluation prompts.

  python build_captions.py --work /tmp/reeltrain [--per-combo 6] [--eval-prompts 72]

Writes WORK/captions.npz (texts, embeddings float32 [u, 384], combo_caption_ids [combos, k]
indexing texts, one row per captions.TRAIN_COMBOS entry) and WORK/eval_prompts.json (the prompts
and their attributes; none of them appears verbatim in the bank).
"""
import argparse
import os

import numpy as np
import torch

from captions import evaluation_prompts, training_caption_bank
from common import Log, write_json_atomic
from text_encoder import embed, load_text_encoder


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work", required=True)
    parser.add_argument("--per-combo", type=int, default=6, help="training captions per attribute combination")
    parser.add_argument("--eval-prompts", type=int, default=72)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    os.makedirs(args.work, exist_ok=True)
    log = Log(os.path.join(args.work, "train.log"))

    bank = training_caption_bank(args.per_combo, args.seed)
    texts = sorted({caption for captions in bank for caption in captions})
    index = {text: i for i, text in enumerate(texts)}
    combo_caption_ids = np.array([[index[c] for c in captions] for captions in bank], dtype=np.int64)
    prompts = evaluation_prompts(args.eval_prompts, args.seed + 1, set(texts))
    log(f"captions: {len(texts)} distinct training captions for {len(bank)} combos; embedding with MiniLM")
    embeddings = embed(load_text_encoder(), texts)
    tmp = os.path.join(args.work, "captions.tmp.npz")
    np.savez(tmp, texts=np.array(texts), embeddings=embeddings, combo_caption_ids=combo_caption_ids)
    os.replace(tmp, os.path.join(args.work, "captions.npz"))
    write_json_atomic(prompts, os.path.join(args.work, "eval_prompts.json"))
    log(f"captions: wrote captions.npz and {len(prompts)} evaluation prompts")


if __name__ == "__main__":
    main()
