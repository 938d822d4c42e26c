"""Benchmark of the GAN-QP tab: the paper's comparison in miniature, and the tab's sampling speed.

    python -m bench.bench_gan_qp                     # 4 losses × 4,000 generator steps on Fashion-MNIST (CPU: ~40 min)
    python -m bench.bench_gan_qp --steps 20000 --device cuda
    python -m bench.bench_gan_qp --no-training       # only the FID reference points and the sampling speed

GAN-QP (L1, L2), WGAN-GP and SGAN are trained by training/gan_qp.py's ``train_gan`` — same nets, data order,
latents, optimiser and number of generator steps — into a temporary folder (the shipped checkpoints are not
touched), and scored with the same classifier FID (10,000 samples against the test split). The reference row is
the FID of 10,000 real training images. To read the scale, two more reference points: real training images, and
the training images of a single class (what a generator that collapsed onto one mode would score). Then the warm
latency of the tab's 16-sample grid, and the tab's 2-D lab: how fast each loss covers the 8-Gaussian ring and how
much of the 25-Gaussian grid it covers (~5 min); and, beside FID, every shipped generator's class histogram and
precision / recall in the classifier's features (written to data/gan_qp/coverage.json for the tab).
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def latency(checkpoint: str = "fashion_qp-l1", runs: int = 50) -> str:
    from bench import p50_p95, time_calls_ms
    from demos import gan_qp as tab

    tab.sample_grid(checkpoint, 0, 16, 1.0)  # warm: load the weights once
    p50, p95 = p50_p95(time_calls_ms([lambda s=s: tab.sample_grid(checkpoint, s, 16, 1.0) for s in range(runs)]))
    strip = statistics.mean(time_calls_ms([lambda s=s: tab.interpolate(checkpoint, s, s + 1, 10, 1.0)
                                           for s in range(10)]))
    return (f"Tab latency ({checkpoint}, warm, {runs} grids of 16 incl. the 3× zoom): p50 {p50:.1f} ms, "
            f"p95 {p95:.1f} ms; a 10-step interpolation strip {strip:.1f} ms on average.")


def references(dataset: str) -> str:
    """Classifier FID of real training images and of one class only (a fully mode-collapsed 'generator')."""
    import torch

    from models import image_classifier
    from models.gan_names import DATASET_NAMES
    from models.image_classifier import FidScorer
    from training.image_data import CLASSES, load, to_tensor

    fid = FidScorer(image_classifier.load(REPO / "data" / "image_classifier" / dataset),
                    to_tensor(load(dataset, "test")[0]))
    images, labels = load(dataset, "train")
    x, y = to_tensor(images), torch.from_numpy(labels)
    n = int((y == 0).sum())
    pick = torch.randperm(len(x), generator=torch.Generator().manual_seed(0))[:n]
    return "\n".join([
        f"\n{DATASET_NAMES[dataset]}, classifier FID against the test split (n = {n:,} images each):\n",
        "| images | FID |", "|---|---|",
        f"| real training images, all classes | {fid(x[pick]):.2f} |",
        f"| real training images of one class only ({CLASSES[dataset][0]}) | {fid(x[y == 0]):.2f} |"])


def coverage(dataset: str = "fashion", n: int = 10_000) -> str:
    """Beside FID: the classifier's class histogram of n samples of every shipped generator (smallest class share,
    normalised entropy) and improved precision / recall (k = 3) in the classifier's features against n real test
    images; the references are real training images and a collapsed 'generator' (one class). Also written to
    data/gan_qp/coverage.json, which the tab shows."""
    import json

    import numpy as np
    import torch

    from bench import markdown_table
    from demos import gan_qp as tab
    from models import image_classifier
    from models.gan_names import DATASET_NAMES, LOSS_NAMES
    from models.gan_qp import load as load_generator, sample
    from models.image_classifier import class_shares, embed, precision_recall
    from training.image_data import CLASSES, load, to_tensor

    clf = image_classifier.load(REPO / "data" / "image_classifier" / dataset)
    test = to_tensor(load(dataset, "test")[0])[:n]
    real = embed(clf, test)
    images, labels = load(dataset, "train")
    train = to_tensor(images)
    pick = torch.randperm(len(train), generator=torch.Generator().manual_seed(0))[:n]
    one = train[torch.from_numpy(labels) == 0][:n]
    sets = {name: sample(load_generator(tab.RESULTS[name][0]), n, seed=20_000)
            for name in tab.CHECKPOINTS if tab.RESULTS[name][1]["info"]["dataset"] == dataset}
    labels_of = {name: LOSS_NAMES[tab.RESULTS[name][1]["info"]["loss"]] for name in sets}
    sets |= {"real": train[pick], "one class": one}
    labels_of |= {"real": "reference: real training images", "one class": f"reference: one class ({CLASSES[dataset][0]})"}
    rows, out = [], {"dataset": dataset, "classes": list(CLASSES[dataset]), "samples": n, "rows": []}
    for name, x in sets.items():
        print(f"coverage: {name} ...", file=sys.stderr, flush=True)
        shares = class_shares(clf, x)
        p = shares[shares > 0]
        entropy = float(-(p * np.log(p)).sum() / np.log(len(shares)))
        precision, recall = precision_recall(real, embed(clf, x))
        rows.append((labels_of[name], " · ".join(f"{s:.0%}" for s in shares), f"{shares.min():.1%}",
                     f"{entropy:.3f}", f"{precision:.3f}", f"{recall:.3f}"))
        out["rows"].append({"name": labels_of[name], "shares": shares.round(4).tolist(), "entropy": round(entropy, 4),
                            "precision": round(precision, 4), "recall": round(recall, 4)})
    (REPO / "data" / "gan_qp" / "coverage.json").write_text(json.dumps(out, ensure_ascii=False, indent=1))
    head = f"{DATASET_NAMES[dataset]}, {n:,} samples each, classes: " + ", ".join(CLASSES[dataset]) + "\n\n"
    return head + markdown_table(["generator", "class shares (classifier)", "smallest share", "entropy / ln 10",
                                  "precision", "recall"], rows)


def lab(seeds=(0, 1, 2), max_steps: int = 2000) -> str:
    """The tab's 2-D lab, one loss at a time: on the ring, the steps and seconds until every mode is covered with
    ≥ 80 % of the points near a mode (the tab's default nets; "–" if not within ``max_steps``); on the 25-Gaussian
    grid, the modes covered and the share of points near one after ``max_steps`` steps."""
    import time

    from bench import markdown_table
    from models import gan_lab
    from models.gan_names import LOSS_NAMES, LOSSES

    rows = []
    for loss in LOSSES:
        ring, grid = [], []
        for seed in seeds:
            t0, done = time.perf_counter(), None
            for snap in gan_lab.train("ring", (loss,), max_steps, seed=seed, every=50):
                covered, modes, near = gan_lab.mode_coverage("ring", snap["losses"][loss]["fake"])
                if covered == modes and near >= 0.8:
                    done = (snap["step"], time.perf_counter() - t0)
                    break
            ring.append(done)
            *_, last = gan_lab.train("grid", (loss,), max_steps, seed=seed, every=max_steps)
            grid.append(gan_lab.mode_coverage("grid", last["losses"][loss]["fake"]))
            print(f"lab: {loss} seed {seed}: ring {done}, grid {grid[-1]}", file=sys.stderr, flush=True)
        rows.append((LOSS_NAMES[loss], " / ".join("–" if d is None else f"{d[0]:,}" for d in ring),
                     " / ".join("–" if d is None else f"{d[1]:.1f}" for d in ring),
                     " / ".join(f"{c}/{m}" for c, m, _ in grid), " / ".join(f"{n:.0%}" for *_, n in grid)))
    return markdown_table(["loss", f"ring: steps to 8/8 modes and ≥ 80 % near (seeds {seeds})", "ring: seconds",
                           f"grid: modes covered after {max_steps:,} steps", "grid: points near a mode"], rows)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dataset", default="fashion", choices=["fashion", "mnist"])
    ap.add_argument("--steps", type=int, default=4000)
    ap.add_argument("--device", default=None)
    ap.add_argument("--out", type=Path, default=None, help="keep the checkpoints here (default: a temporary folder)")
    ap.add_argument("--no-training", action="store_true", help="skip the comparison (it takes the longest)")
    args = ap.parse_args(argv)
    if not args.no_training:
        from training import gan_qp

        with tempfile.TemporaryDirectory() as tmp:
            out = args.out or Path(tmp)
            gan_qp.main(["--dataset", args.dataset, "--loss", "all", "--steps", str(args.steps), "--out", str(out)]
                        + (["--device", args.device] if args.device else []))
            print(f"\nFID curve: {gan_qp.plot_fid(out, args.dataset)}" if args.out else "")
    print(references(args.dataset))
    print(latency())
    print("\nCoverage beside FID (the shipped generators):\n")
    print(coverage(args.dataset))
    print("\n2-D lab (models/gan_lab.py), one loss at a time on this CPU:\n")
    print(lab())


if __name__ == "__main__":
    main()
