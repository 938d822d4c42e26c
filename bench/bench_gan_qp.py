"""Benchmark of the GAN-QP tab: the paper's comparison in miniature, and the tab's sampling speed.

    python -m bench.bench_gan_qp                     # 4 losses × 4,000 generator steps on Fashion-MNIST (CPU: ~40 min)
    python -m bench.bench_gan_qp --steps 20000 --device cuda
    python -m bench.bench_gan_qp --no-training       # only the FID reference points and the sampling speed

GAN-QP (L1, L2), WGAN-GP and SGAN are trained by training/gan_qp.py's ``train_gan`` — same nets, data order,
latents, optimiser and number of generator steps — into a temporary folder (the shipped checkpoints are not
touched), and scored with the same classifier FID (10,000 samples against the test split). The reference row is
the FID of 10,000 real training images. To read the scale, two more reference points: real training images, and
the training images of a single class (what a generator that collapsed onto one mode would score). Then the warm
latency of the tab's 16-sample grid.
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


if __name__ == "__main__":
    main()
