"""Benchmark of the GPT2_ML tab's embedded model: held-out perplexity against character n-grams, and speed.

    python -m bench.bench_gpt2                 # ≈ 6 min on 2 CPU cores
    python -m bench.bench_gpt2 --quick         # 50k test tokens per source, fewer timing runs

1. Perplexity per source on the test split (the same tokens for every model: each document ``[STYLE] text [SEP]``,
   every token after the first scored once). Baselines fitted in this run on the same training token stream:
   interpolated Kneser-Ney character n-grams (orders 2–4, discount n₁ / (n₁ + 2n₂) per order), the classic
   smoothed model a small neural LM has to beat.
2. Generation speed, warm, on this machine: new tokens per second for 64 and 200 new tokens after a style token,
   with the key/value cache (the tab's setting) and without it (every step re-reads the whole prefix), and
   through the tab's streamed ``generate`` (thread + TextIteratorStreamer).
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench import markdown_table, time_calls_ms  # noqa: E402


class KneserNey:
    """Interpolated Kneser-Ney n-gram model over token ids (order ≤ 4, so an n-gram fits an int64 key).

        P_k(w | h) = max(c_k(hw) − D_k, 0) / c_k(h·) + D_k N_k(h·) / c_k(h·) · P_{k−1}(w | h′)

    c_n are raw counts; lower orders use continuation counts (how many distinct tokens precede the n-gram);
    P_0 is uniform over the vocabulary; a context never seen passes its whole mass down."""

    def __init__(self, stream: np.ndarray, order: int, vocab_size: int):
        assert 1 <= order <= 4
        self.n, self.V = order, vocab_size
        s = stream.astype(np.int64)
        self.tables = {}
        grams = self._keys(s, order)                                  # every n-gram of the stream
        keys, counts = np.unique(grams, return_counts=True)
        for k in range(order, 0, -1):
            ctx, total, types = self._contexts(keys, counts)
            n1, n2 = (counts == 1).sum(), (counts == 2).sum()
            D = n1 / (n1 + 2 * n2) if n1 + n2 else 0.5
            self.tables[k] = (keys, counts.astype(np.float64), ctx, total, types, D)
            if k > 1:  # continuation counts of the (k−1)-gram suffixes: distinct left extensions
                keys, counts = np.unique(keys % self.V ** (k - 1), return_counts=True)

    def _keys(self, s, k):
        key = np.zeros(len(s) - k + 1, dtype=np.int64)
        for i in range(k):
            key = key * self.V + s[i:len(s) - k + 1 + i]
        return key

    def _contexts(self, keys, counts):
        ctx_of = keys // self.V
        ctx, inverse = np.unique(ctx_of, return_inverse=True)
        return ctx, np.bincount(inverse, weights=counts), np.bincount(inverse)

    @staticmethod
    def _lookup(sorted_keys, values, query, default=0.0):
        i = np.clip(np.searchsorted(sorted_keys, query), 0, len(sorted_keys) - 1)
        return np.where(sorted_keys[i] == query, values[i], default)

    def log_probs(self, stream: np.ndarray) -> np.ndarray:
        """log p(stream[t] | stream[t−n+1 … t−1]) for t = 1 … len − 1 (shorter contexts at the start)."""
        s = stream.astype(np.int64)
        t = np.arange(1, len(s))
        p = np.full(len(t), 1.0 / self.V)
        for k in range(1, self.n + 1):
            keys, counts, ctx, total, types, D = self.tables[k]
            ok = t - (k - 1) >= 0                                     # enough history for this order
            gram = np.zeros(len(t), dtype=np.int64)
            for i in range(k - 1, -1, -1):                            # token at t − i
                gram = gram * self.V + s[np.clip(t - i, 0, None)]
            h = gram // self.V
            c = self._lookup(keys, counts, gram)
            tot = self._lookup(ctx, total, h) if k > 1 else np.full(len(t), total[0])
            typ = self._lookup(ctx, types.astype(np.float64), h) if k > 1 else np.full(len(t), float(types[0]))
            seen = ok & (tot > 0)
            mixed = np.maximum(c - D, 0) / np.maximum(tot, 1) + D * typ / np.maximum(tot, 1) * p
            p = np.where(seen, mixed, p)
        return np.log(p)


def perplexity_table(model, streams, vocab_size, max_tokens, block):
    from models.gpt2 import perplexity
    from training.gpt2_data import SOURCES

    train = np.concatenate([streams["train"][s] for s in SOURCES])
    rows = []
    t0 = time.time()
    ngrams = {k: KneserNey(train, k, vocab_size) for k in (2, 3, 4)}
    fit_s = time.time() - t0
    for s in SOURCES:
        test = streams["test"][s][: max_tokens + 1 if max_tokens else None]
        ppl, n = perplexity(model, test, block, progress=f"GPT-2 {s}")
        row = [s, f"{n:,}"] + [f"{np.exp(-ngrams[k].log_probs(test).mean()):.1f}" for k in (2, 3, 4)] + [f"{ppl:.1f}"]
        rows.append(row)
    return rows, fit_s, len(train)


def speed_table(ckpt, runs):
    import torch

    from demos import gpt2 as tab
    from models.gpt2 import STYLES

    start = torch.tensor([[ckpt.tokenizer.get_vocab()[STYLES["news"]]]])
    rows = []
    for new in (64, 200):
        for cache in (True, False):
            def call():
                torch.manual_seed(0)
                with torch.inference_mode():
                    ckpt.model.generate(input_ids=start, do_sample=True, top_k=20, max_new_tokens=new,
                                        min_new_tokens=new, use_cache=cache, pad_token_id=0)
            call()  # warm
            ms = time_calls_ms([call] * runs)
            rows.append([f"{new}", "yes" if cache else "no (baseline)", f"{statistics.median(ms) / 1000:.2f}",
                         f"{new / (statistics.median(ms) / 1000):.0f}"])
    # the tab end to end: streamed through a thread and TextIteratorStreamer (stops at [SEP] may come earlier)
    speeds = []
    for seed in range(runs):
        t0 = time.perf_counter()
        *_, (text, notes) = tab.generate("", "news", 200, 1.0, 20, 1.0, 1.0, 1, seed, False, "")
        n = int(notes.split(" 个新词元")[0].split()[-1])     # "… 123 个新词元 new tokens · …"
        speeds.append(n / (time.perf_counter() - t0))
    rows.append(["≤ 200 (stops at [SEP])", "yes, tab `generate` streamed", "", f"{statistics.median(speeds):.0f}"])
    return rows


def main(argv=None):
    import torch

    from demos.gpt2 import EMBEDDED
    from training.gpt2_data import prepare, token_streams

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args(argv)
    ckpt = EMBEDDED.get()
    paths = prepare()
    streams = token_streams(paths, ckpt.tokenizer)
    rows, fit_s, n_train = perplexity_table(ckpt.model, streams, len(ckpt.tokenizer), 50_000 if args.quick else None,
                                            ckpt.context)
    print(f"\n### Test perplexity per token (≈ per character); n-grams fitted on {n_train:,} training tokens "
          f"in {fit_s:.0f} s\n")
    print(markdown_table(["source", "test tokens", "KN 2-gram", "KN 3-gram", "KN 4-gram", "GPT-2 (ours)"], rows))
    print(f"\n### Generation speed, warm ({torch.get_num_threads()} threads, median of {3 if args.quick else 7})\n")
    print(markdown_table(["new tokens", "KV cache", "seconds", "new tokens / s"],
                         speed_table(ckpt, 3 if args.quick else 7)))


if __name__ == "__main__":
    main()
