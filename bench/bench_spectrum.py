"""Benchmark of the Conv1D spectrum tab, one run: stage 1, stage 2 and two baselines on the same test split.

    python -m bench.bench_spectrum       # ~2 min on 2 CPU cores (the baselines are fitted here)

Rows: Su's network after stage 1 (cross-entropy) and after stage 2 (macro-F1 loss) — the shipped checkpoints —
and, fitted in this run on the same training spectra, logistic regression and a random forest on binned flux (the
2,600 scaled flux values averaged in 100 bins). Macro-F1 and per-class F1 on the test split (templates never seen
in training). Then macro-F1 per S/N bin for every model (a plot, `data/spectrum/f1_vs_snr.png`) and the tab's
latency.
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

BINS = 100
SNR_EDGES = (3, 5, 10, 20, 60)


def binned(X):
    """(n, 2600) scaled flux → (n, BINS) bin means (2,600 = 100 × 26)."""
    return X.reshape(len(X), BINS, -1).mean(-1)


def main():
    import numpy as np
    import torch
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    from bench import p50_p95, time_calls_ms
    from demos import spectrum as tab
    from models import spectrum
    from models.spectrum import CLASSES, macro_f1, predict, scale
    from training.spectra_data import prepare, read_split

    paths = prepare()
    (X, y, _), (Xt, yt, meta) = read_split(paths["train"]), read_split(paths["test"])
    X, Xt = scale(torch.from_numpy(X)), scale(torch.from_numpy(Xt))
    model = tab.MODEL.get()
    stage1 = spectrum.load(tab.WEIGHTS, stage=1)
    preds = {}
    t0 = time.perf_counter()
    preds["Su's network, stage 1 (cross-entropy)"] = predict(stage1, Xt).argmax(-1)
    preds["Su's network, stage 2 (macro-F1 loss) — shipped"] = predict(model, Xt).argmax(-1)
    net_s = time.perf_counter() - t0
    feats = StandardScaler().fit(binned(X.numpy()))
    Xb, Xtb = feats.transform(binned(X.numpy())), feats.transform(binned(Xt.numpy()))
    t0 = time.perf_counter()
    lr = LogisticRegression(max_iter=2000, class_weight="balanced").fit(Xb, y)
    preds["baseline: logistic regression, 100 flux bins (balanced)"] = torch.from_numpy(lr.predict(Xtb))
    rf = RandomForestClassifier(n_estimators=300, class_weight="balanced", n_jobs=-1, random_state=0).fit(Xb, y)
    preds["baseline: random forest (300 trees), 100 flux bins (balanced)"] = torch.from_numpy(rf.predict(Xtb))
    base_s = time.perf_counter() - t0

    yt_t = torch.from_numpy(yt)
    print(f"## Test split: {len(yt):,} spectra (templates never seen in training); networks {net_s:.0f} s, "
          f"baselines fitted and run in {base_s:.0f} s\n")
    print("| model | macro-F1 | " + " | ".join(f"F1 {c}" for c in CLASSES) + " | accuracy |")
    print("|---|---|" + "---|" * len(CLASSES) + "---|")
    for name, p in preds.items():
        f1, per_class = macro_f1(p, yt_t)
        print(f"| {name} | **{f1:.4f}** | " + " | ".join(f"{v:.4f}" for v in per_class)
              + f" | {(p == yt_t).float().mean().item():.4f} |")

    snr = np.array([m["snr"] for m in meta])
    rows = []
    for lo, hi in zip(SNR_EDGES, SNR_EDGES[1:]):
        sel = torch.from_numpy((snr >= lo) & (snr < hi))
        rows.append((f"{lo}–{hi}", int(sel.sum()), {n: macro_f1(p[sel], yt_t[sel])[0] for n, p in preds.items()}))
    print("\n## Macro-F1 by S/N (median per pixel before the unknown class's damage)\n")
    names = list(preds)
    print("| S/N | n | " + " | ".join(names) + " |")
    print("|---|---|" + "---|" * len(names))
    for label, n, f in rows:
        print(f"| {label} | {n:,} | " + " | ".join(f"{f[k]:.4f}" for k in names) + " |")
    plot(rows, names, tab.WEIGHTS / "f1_vs_snr.png")

    example = tab.EXAMPLES[0]
    tab.classify(example)   # warm
    p50, p95 = p50_p95(time_calls_ms([lambda: tab.classify(example)] * 30))
    print(f"\nTab latency (warm, `demos.spectrum.classify` on an example CSV, incl. reading, resampling, saliency and "
          f"the figure): p50 {p50:.0f} ms, p95 {p95:.0f} ms.")


def plot(rows, names, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 3.6), dpi=100)
    x = range(len(rows))
    for name in names:
        ax.plot(x, [f[name] for _, _, f in rows], "o-", label=name.replace(" — shipped", ""))
    ax.set_xticks(list(x), [f"{label}\n(n={n:,})" for label, n, _ in rows])
    ax.set(xlabel="S/N per pixel", ylabel="macro-F1", title="macro-F1 by S/N (test split)", ylim=(0, 1.02))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


if __name__ == "__main__":
    main()
