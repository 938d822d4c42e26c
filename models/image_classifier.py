"""A small CNN classifier for 32×32 grey images, and the Fréchet distance in its feature space ("classifier FID").

FID (Heusel et al. 2017) compares two image sets through Gaussians fitted to their features:

    FID = ‖μ₁ − μ₂‖² + Tr(Σ₁ + Σ₂ − 2 (Σ₁ Σ₂)^{1/2})

The usual features are Inception-v3's 2048-d pool layer on ImageNet. We have no ImageNet network (nothing can be
downloaded here) and our images are 32×32 digits and clothes, so the features are the 128-d penultimate layer of
this classifier trained on the same dataset: the numbers rank models on one dataset but are **not comparable with
Inception FIDs** from papers. The GAN tabs also use the classifier to check that a reconstruction keeps its label.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import torch
import torch.nn as nn

from models import checkpoint


@dataclass
class ClassifierConfig:
    channels: int = 1
    n_classes: int = 10
    width: int = 32
    feature_dim: int = 128


class ImageClassifier(nn.Module):
    """(B, C, 32, 32) in [−1, 1] → logits (B, n_classes); ``features`` gives the (B, feature_dim) layer FID uses."""

    def __init__(self, cfg: ClassifierConfig):
        super().__init__()
        self.cfg = cfg
        w = cfg.width

        def block(cin, cout):  # a 3×3 conv then halve: 32 → 16 → 8 → 4
            return [nn.Conv2d(cin, cout, 3, padding=1), nn.BatchNorm2d(cout), nn.ReLU(), nn.MaxPool2d(2)]

        self.body = nn.Sequential(*block(cfg.channels, w), *block(w, 2 * w), *block(2 * w, 4 * w), nn.Flatten(),
                                  nn.Dropout(0.3), nn.Linear(4 * w * 16, cfg.feature_dim), nn.ReLU())
        self.head = nn.Sequential(nn.Dropout(0.3), nn.Linear(cfg.feature_dim, cfg.n_classes))

    def features(self, x):
        return self.body(x)  # (B, feature_dim)

    def forward(self, x):
        return self.head(self.body(x))  # (B, n_classes)


@torch.no_grad()
def embed(model: ImageClassifier, images: torch.Tensor, batch_size: int = 500) -> np.ndarray:
    """Features (N, feature_dim) as float64, in eval mode, batch by batch."""
    model.eval()
    device = next(model.parameters()).device
    return np.concatenate([model.features(images[i:i + batch_size].to(device)).double().cpu().numpy()
                           for i in range(0, len(images), batch_size)])


def gaussian(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(mean (D,), covariance (D, D)) of a feature set."""
    return features.mean(0), np.cov(features, rowvar=False)


def frechet_distance(mu1, sigma1, mu2, sigma2) -> float:
    """‖μ₁ − μ₂‖² + Tr(Σ₁ + Σ₂ − 2 (Σ₁Σ₂)^{1/2}).

    Tr (Σ₁Σ₂)^{1/2} is the sum of the square roots of the eigenvalues of Σ₁Σ₂, which are those of the symmetric
    PSD matrix Σ₁^{1/2} Σ₂ Σ₁^{1/2}: two symmetric eigen-decompositions, no complex sqrtm and its round-off."""
    w1, v1 = np.linalg.eigh(sigma1)
    root1 = (v1 * np.sqrt(np.clip(w1, 0, None))) @ v1.T
    inner = np.linalg.eigvalsh(root1 @ sigma2 @ root1)
    trace_root = np.sqrt(np.clip(inner, 0, None)).sum()
    return float(((mu1 - mu2) ** 2).sum() + np.trace(sigma1) + np.trace(sigma2) - 2 * trace_root)


class FidScorer:
    """Classifier FID of generated images against a reference set (its features computed once)."""

    def __init__(self, classifier: ImageClassifier, reference: torch.Tensor):
        self.classifier = classifier
        self.reference = gaussian(embed(classifier, reference))

    def __call__(self, images: torch.Tensor) -> float:
        return frechet_distance(*gaussian(embed(self.classifier, images)), *self.reference)


def load(path) -> ImageClassifier:
    """The classifier in eval mode from a checkpoint folder (models/checkpoint.py) or an older stem."""
    config, weights = checkpoint.read_folder(path)
    model = ImageClassifier(checkpoint.config_from(ClassifierConfig, config))
    model.load_state_dict(weights)
    return model.eval()


def save(model: ImageClassifier, folder, card: str) -> None:
    """Write what :func:`load` reads; float32 weights: the FID features are to stay those of the trained net."""
    checkpoint.save_folder(folder, model.state_dict(), asdict(model.cfg), card, half=False)


@torch.no_grad()
def class_shares(model: ImageClassifier, images: torch.Tensor, batch_size: int = 500) -> np.ndarray:
    """The share of ``images`` the classifier puts in each class (n_classes,): a generator covering every class
    has no share near 0 (a fully collapsed one has a single share of 1)."""
    model.eval()
    labels = torch.cat([model(images[i:i + batch_size]).argmax(1) for i in range(0, len(images), batch_size)])
    return np.bincount(labels.numpy(), minlength=model.cfg.n_classes) / len(images)


def precision_recall(real: np.ndarray, fake: np.ndarray, k: int = 3, chunk: int = 1000) -> tuple[float, float]:
    """Improved precision and recall (Kynkäänniemi et al. 2019) in feature space. Each set's manifold is the union
    of balls around its points, a ball's radius the distance to that point's k-th nearest neighbour in its own set;
    precision = the share of fakes inside the real manifold (are samples realistic?), recall = the share of reals
    inside the fake manifold (is the data covered?)."""
    a, b = torch.from_numpy(real).float(), torch.from_numpy(fake).float()

    def radii(x):  # (N,): distance to the k-th nearest other point (column 0 of the sorted row is the point itself)
        return torch.cat([torch.cdist(x[i:i + chunk], x).kthvalue(k + 1, dim=1).values
                          for i in range(0, len(x), chunk)])

    def inside(points, centres, r):  # share of points within some centre's ball
        return float(torch.cat([(torch.cdist(points[i:i + chunk], centres) <= r).any(1)
                                for i in range(0, len(points), chunk)]).float().mean())

    return inside(b, a, radii(a)), inside(a, b, radii(b))
