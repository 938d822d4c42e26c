"""Benchmark of the GPT2_ML tab's embedded model: held-out perplexity per style against character n-grams, speed
of the tab's streamed generation against plain ``generate``, and what it writes for a fixed list of prompts.

    python -m bench.bench_gpt2                 # ≈ 10 min on 2 CPU cores (needs the data: training/gpt2_data.py)
    python -m bench.bench_gpt2 --quick         # 20k test tokens per style, fewer timing runs

1. Perplexity per style on the test split (the same tokens for every model: each document ``[STYLE] text [SEP]``,
   every token after the first scored once; the first ``--max-tokens`` of each style), twice: on the test
   documents whose text is not in training (``training.gpt2_data.unseen``: 272 test reviews are training reviews
   with other punctuation) — the held-out set the goal is judged on — and on the whole split. Baselines fitted in this
   run on the same training token stream: interpolated Kneser-Ney character n-grams (orders 2–4, discount
   n₁ / (n₁ + 2n₂) per order), the classic smoothed model a small neural LM has to beat. Goal: ≤ 0.75× the 4-gram.
2. Speed, warm, on this machine, the same settings and the same number of new tokens (end of text not allowed):
   plain ``model.generate`` in the main thread against the tab's ``generate`` consumed as Gradio consumes a
   streaming handler (each update fetched by a worker thread), the two runs alternating. Goal: ≥ 0.9× plain.
3. Continuations of ``PROMPTS`` (3 per style, openings a visitor might type; some are famous first lines, which
   the training text holds: the model may recite there) with the tab's defaults, seed 0 — pasted into the README so a reader can judge — and how many new characters each got, with
   the tab's minimum (40) and without it (as the tab was before: the model may end at once).
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

from bench import markdown_table  # noqa: E402

PROMPTS = [  # (style, poem form, prompt): openings a visitor might type
    ("news", 0, "本报北京1月10日讯"), ("news", 0, "今年以来，我省农业"), ("news", 0, "国务院总理"),
    ("review", 0, "这家酒店的服务"), ("review", 0, "手机收到了，"), ("review", 0, "外卖送得很快，"),
    ("poem", 5, "春风吹柳岸，"), ("poem", 7, "独上高楼望远山，"), ("poem", 0, "秋夜"),
    ("ci", 0, "明月几时有"), ("ci", 0, "小楼昨夜又东风，"), ("ci", 0, "杨柳岸，"),
    ("classic", 0, "子曰："), ("classic", 0, "孟子曰："), ("classic", 0, "天下之事，"),
    ("wiki", 0, "长江是中国第一长河，"), ("wiki", 0, "北京大学"), ("wiki", 0, "熊猫"),
]


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


def fit_ngrams(streams, vocab_size):
    """Kneser-Ney 2-, 3- and 4-grams over the training token stream → ({order: model}, seconds, training tokens)."""
    from training.gpt2_data import SOURCES

    train = np.concatenate([streams["train"][s] for s in SOURCES])
    t0 = time.time()
    ngrams = {k: KneserNey(train, k, vocab_size) for k in (2, 3, 4)}
    return ngrams, time.time() - t0, len(train)


def perplexity_table(model, ngrams, test_streams, max_tokens, block):
    """Rows (style, tokens, KN 2/3/4-gram, ours, ours / 4-gram) on the first ``max_tokens`` of each test stream."""
    from models.gpt2 import perplexity
    from training.gpt2_data import SOURCES

    rows = []
    for s in SOURCES:
        test = test_streams[s][: max_tokens + 1 if max_tokens else None]
        ppl, n = perplexity(model, test, block, progress=f"GPT-2 {s}")
        kn = {k: float(np.exp(-ngrams[k].log_probs(test).mean())) for k in (2, 3, 4)}
        rows.append([s, f"{n:,}"] + [f"{kn[k]:.1f}" for k in (2, 3, 4)] + [f"{ppl:.1f}", f"{ppl / kn[4]:.2f}"])
    return rows


def speed_table(ckpt, runs, new=200):
    """Tokens/s of plain generate (main thread) and of the tab's streamed generate (a worker thread fetches each
    update, as Gradio does), same settings, ``new`` tokens each (no end of text)."""
    from concurrent.futures import ThreadPoolExecutor

    import torch

    from demos import gpt2 as tab
    from models.gpt2 import STYLES

    start = torch.tensor([[ckpt.tokenizer.get_vocab()[STYLES["news"]]]])
    settings = dict(temperature=1.0, top_k=20, top_p=0.95, repetition_penalty=1.1)

    def plain():
        torch.manual_seed(0)
        with torch.inference_mode():
            ckpt.model.generate(input_ids=start, do_sample=True, max_new_tokens=new, min_new_tokens=new,
                                pad_token_id=0, **settings)

    pool = ThreadPoolExecutor(4)             # Gradio runs a streaming handler's next() in its worker threads

    def streamed():
        it = tab.generate("", "news", new, settings["temperature"], settings["top_k"], settings["top_p"],
                          settings["repetition_penalty"], 1, 0, False, "", new, 0)
        while True:
            try:
                pool.submit(next, it).result()
            except StopIteration:
                return

    paths = {"plain `generate` (main thread)": plain, "tab, streamed (worker threads)": streamed}
    times = {name: [] for name in paths}
    for call in paths.values():
        call()                                               # warm
    for _ in range(runs):                                    # interleaved: a drift of the machine hits both alike
        for name, call in paths.items():
            t0 = time.perf_counter()
            call()
            times[name].append(time.perf_counter() - t0)
    rows, speeds = [], {}
    for name, t in times.items():
        speeds[name] = new / statistics.median(t)
        rows.append([name, f"{new}", f"{statistics.median(t):.2f}", f"{speeds[name]:.0f}"])
    ratio = speeds["tab, streamed (worker threads)"] / speeds["plain `generate` (main thread)"]
    pool.shutdown()
    return rows, ratio


def continuations(ckpt):
    """(rows of the prompt table, new characters with the tab's minimum, new characters without it)."""
    from demos import gpt2 as tab

    rows, with_min, without = [], [], []
    for style, form, prompt in PROMPTS:
        *_, (text, _) = tab.generate(prompt, style, 200, 1.0, 20, 0.95, 1.1, 1, 0, False, "", tab.MIN_NEW, form)
        with_min.append(len(text) - len(prompt))
        *_, (bare, _) = tab.generate(prompt, style, 200, 1.0, 20, 0.95, 1.1, 1, 0, False, "", 0, 0)
        without.append(len(bare) - len(prompt))
        shown = text[len(prompt):].replace("|", "｜")
        rows.append([style + (f" ({form}-char lines)" if form else ""), prompt, shown])
    return rows, with_min, without


def main(argv=None):
    import torch

    from demos.gpt2 import EMBEDDED, MIN_NEW
    from training.gpt2_data import encode_split, prepare, read_split, token_streams, unseen

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--max-tokens", type=int, default=50_000, help="test tokens per style")
    args = ap.parse_args(argv)
    ckpt = EMBEDDED.get()
    paths = prepare()
    streams = token_streams(paths, ckpt.tokenizer)
    held_out = encode_split(ckpt.tokenizer, unseen(read_split(paths["test"]), read_split(paths["train"])))
    ngrams, fit_s, n_train = fit_ngrams(streams, len(ckpt.tokenizer))
    head = ["style", "test tokens", "KN 2-gram", "KN 3-gram", "KN 4-gram", "GPT-2 (ours)", "ours / 4-gram"]
    max_tokens = 20_000 if args.quick else args.max_tokens
    for title, test in (("test documents whose text is not in training (held out; the goal)", held_out),
                        ("the whole test split (some reviews are in training with other punctuation)",
                         streams["test"])):
        rows = perplexity_table(ckpt.model, ngrams, test, max_tokens, ckpt.context)
        print(f"\n### Test perplexity per token (≈ per character), {title}; n-grams fitted on {n_train:,} training "
              f"tokens in {fit_s:.0f} s\n")
        print(markdown_table(head, rows))
    runs = 3 if args.quick else 7
    speed, ratio = speed_table(ckpt, runs)
    print(f"\n### Generation speed, warm ({torch.get_num_threads()} threads, median of {runs}, same settings)\n")
    print(markdown_table(["path", "new tokens", "seconds", "new tokens / s"], speed))
    print(f"\nstreamed / plain = {ratio:.2f}")
    table, with_min, without = continuations(ckpt)
    print(f"\n### Continuations (tab defaults: top-k 20, top-p 0.95, repetition penalty 1.1, at least "
          f"{MIN_NEW} new tokens, seed 0)\n")
    print(markdown_table(["style", "prompt", "continuation"], table))
    print(f"\nnew characters per prompt ({len(PROMPTS)} prompts, seed 0): with the minimum median "
          f"{statistics.median(with_min):.0f}, least {min(with_min)}; without it (the model may end at once) median "
          f"{statistics.median(without):.0f}, least {min(without)}, {sum(n < 40 for n in without)} below 40")


if __name__ == "__main__":
    main()
