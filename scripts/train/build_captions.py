"""Builds the caption bank and its MiniLM embeddings, and the held-out evaluation prompts.

  python build_captions.py --work /tmp/reeltrain [--per-combo 6] [--eval-prompts 72]

Writes WORK/captions.npz (texts, embeddings float32 [u, 384], combo_caption_ids [combos, k]
indexing texts, one row per captions.TRAIN_COMBOS entry), WORK/caption_words.npz (MiniLM's
per-token states of the same texts, float16 [u, L, 384] with lengths [u], for a DiT with
--text-words) and WORK/eval_prompts.json (the prompts and their attributes; none of them appears
verbatim in the bank). --words-only adds caption_words.npz to a work folder that has captions.npz.
"""
import argparse
import os

import numpy as np
import torch

from captions import evaluation_prompts, training_caption_bank
from common import Log, write_json_atomic
from text_encoder import embed, embed_words, load_text_encoder


def write_words(log, encoder, texts, work):
    words, lengths = embed_words(encoder, texts)
    tmp = os.path.join(work, "caption_words.tmp.npz")
    np.savez(tmp, words=words.astype(np.float16), lengths=lengths)
    os.replace(tmp, os.path.join(work, "caption_words.npz"))
    log(f"captions: wrote the word states of {len(texts)} captions (up to {words.shape[1]} tokens)")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work", required=True)
    parser.add_argument("--per-combo", type=int, default=6, help="training captions per attribute combination")
    parser.add_argument("--eval-prompts", type=int, default=72)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--words-only", action="store_true",
                        help="only write caption_words.npz, for the texts of the existing captions.npz")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    os.makedirs(args.work, exist_ok=True)
    log = Log(os.path.join(args.work, "train.log"))

    if args.words_only:
        write_words(log, load_text_encoder(), list(np.load(os.path.join(args.work, "captions.npz"))["texts"]),
                    args.work)
        return
    bank = training_caption_bank(args.per_combo, args.seed)
    texts = sorted({caption for captions in bank for caption in captions})
    index = {text: i for i, text in enumerate(texts)}
    combo_caption_ids = np.array([[index[c] for c in captions] for captions in bank], dtype=np.int64)
    prompts = evaluation_prompts(args.eval_prompts, args.seed + 1, set(texts))
    log(f"captions: {len(texts)} distinct training captions for {len(bank)} combos; embedding with MiniLM")
    encoder = load_text_encoder()
    embeddings = embed(encoder, texts)
    tmp = os.path.join(args.work, "captions.tmp.npz")
    np.savez(tmp, texts=np.array(texts), embeddings=embeddings, combo_caption_ids=combo_caption_ids)
    os.replace(tmp, os.path.join(args.work, "captions.npz"))
    write_words(log, encoder, texts, args.work)
    write_json_atomic(prompts, os.path.join(args.work, "eval_prompts.json"))
    log(f"captions: wrote captions.npz and {len(prompts)} evaluation prompts")


if __name__ == "__main__":
    main()
