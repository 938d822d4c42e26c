"""Benchmark of the couplet tab on the test split: our CNN against a trivial baseline, in the same run.

    python -m bench.bench_couplet            # ~1 min on 2 CPU cores

Metrics per method, over the 12,842 test pairs (upper line in, one lower line out):
character BLEU-2 and BLEU-4 (lines of 5–7 characters hold few 4-grams, so BLEU-2 says more) and per-position
accuracy against the poet's lower line; the share of positions whose tones are
opposed to the upper line (平 against 仄, pypinyin Mandarin tones); the share of lines whose last character is
平 when the upper line ends 仄 (the rule of regulated verse); the share of lines that repeat an upper character at
the same position. The baseline writes, for every upper character, the lower character most often aligned with it
in the training pairs (never the same character). Latency: the tab's own ``generate`` (5-best), warm.
"""
from __future__ import annotations

import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench import markdown_table, p50_p95, time_calls_ms  # noqa: E402
from models.couplet import decode_greedy, lower_line_metrics  # noqa: E402
from training.couplet_data import prepare, read_tsv  # noqa: E402


class AlignedBaseline:
    """Most frequent lower character aligned with each upper character in the training pairs."""

    def __init__(self, pairs):
        table = defaultdict(Counter)
        overall = Counter()
        for a, b in pairs:
            for x, y in zip(a, b):
                table[x][y] += 1
                overall[y] += 1
        self.best = {x: [y for y, _ in c.most_common(2)] for x, c in table.items()}
        self.fallback = [y for y, _ in overall.most_common(2)]

    def __call__(self, upper: str) -> str:
        out = []
        for x in upper:
            cands = self.best.get(x, self.fallback) + self.fallback
            out.append(next(y for y in cands if y != x))
        return "".join(out)


COLUMNS = ("bleu2", "bleu4", "accuracy", "opposed", "ping_ending", "same_position_repeat")  # the table's order


def scores(name, uppers, hyps, refs):
    m = lower_line_metrics(uppers, hyps, refs)
    return (name, *(f"{m[k]:.3f}" for k in COLUMNS))


def main():
    from demos import couplet

    paths = prepare()
    train, test = read_tsv(paths["train"]), read_tsv(paths["test"])
    uppers, refs = [a for a, _ in test], [b for _, b in test]
    model, vocab = couplet.MODEL.get()

    rows = []
    t0 = time.perf_counter()
    ours = decode_greedy(model, vocab, uppers, "cpu")
    t_ours = time.perf_counter() - t0
    rows.append(scores("CNN, Su's greedy rule", uppers, ours, refs))
    reranked = [couplet.generate(u, n=1, rerank_by_tone=True)[0]["下联 lower line"][0] for u in uppers[:2000]]
    rows.append(scores("CNN, best of 4-best by tone (first 2,000)", uppers[:2000], reranked, refs[:2000]))
    baseline = AlignedBaseline(train)
    t0 = time.perf_counter()
    base = [baseline(u) for u in uppers]
    t_base = time.perf_counter() - t0
    rows.append(scores("baseline: most frequent aligned character", uppers, base, refs))
    rows.append(scores("the poets' own lower lines (reference)", uppers, refs, refs))

    print(f"## Couplets: test split, {len(test):,} pairs (split by poem)\n")
    print(markdown_table(["method", "char BLEU-2", "char BLEU-4", "char accuracy", "tones opposed", "仄→平 ending",
                          "same-position repeat"], rows))
    print(f"\nBatch decoding time: CNN {t_ours:.1f} s, baseline {t_base:.1f} s for {len(test):,} lines.")

    couplet.generate(uppers[0])  # warm
    p50, p95 = p50_p95(time_calls_ms([lambda u=u: couplet.generate(u, n=5) for u in uppers[:300]]))
    print(f"\nTab latency (generate, 5-best, warm, 300 test lines): p50 {p50:.1f} ms, p95 {p95:.1f} ms.")


if __name__ == "__main__":
    main()
