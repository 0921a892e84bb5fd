#!/usr/bin/env python3
"""Hugging Face `tokenizers`, single-threaded, on the corpus bpe_bench measures dsarl's
BpeTokenizer with, so the two read side by side.

usage: bpe_reference_bench.py DIR   (DIR from `tests/model/bpe_reference.py --corpus DIR`)
Prints one line per case: "<case> <MB/s>".
"""
import os
import sys
import time

os.environ["TOKENIZERS_PARALLELISM"] = "false"  # encode_batch runs on this thread only
os.environ["RAYON_NUM_THREADS"] = "1"

from tokenizers import Tokenizer  # noqa: E402


def rate(fn, n_bytes, min_seconds=2.0):
    fn()  # warm the BPE cache, as the C++ benchmark's iterations do
    reps, start = 0, time.perf_counter()
    while True:
        fn()
        reps += 1
        elapsed = time.perf_counter() - start
        if elapsed >= min_seconds:
            return n_bytes * reps / elapsed / 1e6


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    d = sys.argv[1]
    with open(os.path.join(d, "bench_corpus.txt"), encoding="utf-8") as f:
        corpus = f.read()
    lines = corpus.splitlines(keepends=True)
    n = len(corpus.encode())
    for name in ["deepseek", "gpt2"]:
        tok = Tokenizer.from_file(os.path.join(d, name + ".json"))
        cases = [
            ("document/with_specials", lambda: tok.encode(corpus, add_special_tokens=False)),
            ("lines/with_specials", lambda: tok.encode_batch(lines, add_special_tokens=False)),
        ]
        for case, fn in cases:
            print(f"{name}/{case} {rate(fn, n):.2f}", flush=True)
        tok.encode_special_tokens = True  # added tokens stay text, as BpeTokenizer::Encode
        plain = rate(lambda: tok.encode(corpus, add_special_tokens=False), n)
        print(f"{name}/document/plain {plain:.2f}", flush=True)
        ids = tok.encode(corpus, add_special_tokens=False).ids
        print(f"{name}/decode {rate(lambda: tok.decode(ids, skip_special_tokens=False), n):.2f}",
              flush=True)


if __name__ == "__main__":
    main()
