"""Conv1D spectrum classifier (Su 2018, kexue.fm/archives/5505), in PyTorch: star / galaxy / QSO / unknown.

A spectrum is 2,600 flux values on one wavelength grid. Su's network is a stack of 8 residual blocks; a block of
width f is three dilated convolutions (rates 1, 2, 4, kernel 3, ReLU), each with 2f output channels whose two
halves are **added** (a cheap maxout-like mixing that keeps f channels), plus a residual connection (a 1×1
convolution where the width changes):

    h ← ReLU(Conv1D_{2f, r}(h)),   h ← h[:f] + h[f:]     for r = 1, 2, 4;     block(x) = W x + h

Widths 16, 16, 32, 32, 64, 64, 128, 128 with a max pool (2) after each of the first seven blocks (2,600 → 20
positions), dropout 0.5 shared across positions (a channel is dropped everywhere at once), global max pool,
dense 128 (ReLU), dense 4 (softmax).

Training has two stages (Su's recipe): cross-entropy first, then — starting from the best stage-1 model, with a
smaller learning rate — the differentiable macro-F1 loss, which optimises the competition's metric directly:

    F1_c = 2 Σ_n y_nc p_nc / Σ_n (y_nc + p_nc),     loss = −log( (1/C) Σ_c F1_c )

(from scratch it does not converge — the per-class sums are too noisy while p is uniform).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

CLASSES = ("star", "galaxy", "qso", "unknown")


@dataclass
class SpectrumConfig:
    n_points: int = 2600
    widths: tuple = (16, 16, 32, 32, 64, 64, 128, 128)
    dilations: tuple = (1, 2, 4)
    dropout: float = 0.5
    hidden: int = 128
    n_classes: int = len(CLASSES)


class HalvesBlock(nn.Module):
    """(B, c_in, T) → (B, f, T): three dilated convs with 2f outputs whose halves are added, + a residual."""

    def __init__(self, c_in: int, f: int, dilations=(1, 2, 4)):
        super().__init__()
        self.f = f
        self.convs = nn.ModuleList(nn.Conv1d(c_in if k == 0 else f, 2 * f, 3, dilation=r, padding=r)
                                   for k, r in enumerate(dilations))
        self.skip = nn.Identity() if c_in == f else nn.Conv1d(c_in, f, 1)

    def forward(self, x):
        h = x
        for conv in self.convs:
            h = F.relu(conv(h))
            h = h[:, :self.f] + h[:, self.f:]
        return self.skip(x) + h


class SpectrumNet(nn.Module):
    def __init__(self, cfg: SpectrumConfig = SpectrumConfig()):
        super().__init__()
        self.cfg = cfg
        widths = cfg.widths
        self.blocks = nn.ModuleList(HalvesBlock(1 if i == 0 else widths[i - 1], w, cfg.dilations)
                                    for i, w in enumerate(widths))
        # Dropout1d zeroes whole channels of (B, C, T): Keras' noise_shape=(None, 1, C)
        self.drop = nn.Dropout1d(cfg.dropout)
        self.dense = nn.Linear(widths[-1], cfg.hidden)
        self.out = nn.Linear(cfg.hidden, cfg.n_classes)

    def features(self, x):
        """(B, n_points) scaled flux → (B, C, T') the last block's feature map (for saliency)."""
        h = x.unsqueeze(1)
        for i, block in enumerate(self.blocks):
            h = block(h)
            if i < len(self.blocks) - 1:
                h = F.max_pool1d(h, 2)
        return h

    def forward(self, x):
        """(B, n_points) scaled flux → (B, n_classes) logits (softmax outside, so the losses stay stable)."""
        h = self.drop(self.features(x)).amax(dim=-1)        # global max pool: (B, C)
        return self.out(F.relu(self.dense(h)))


def scale(flux: torch.Tensor) -> torch.Tensor:
    """Per-spectrum scaling: divide by the median absolute flux (robust to spikes, keeps the continuum's shape).
    (…, n) → (…, n); an all-zero spectrum stays zero."""
    m = flux.abs().median(dim=-1, keepdim=True).values
    return flux / m.clamp(min=1e-8)


def macro_f1_loss(logits: torch.Tensor, labels: torch.Tensor, eps: float = 1e-7) -> torch.Tensor:
    """−log of the soft macro-F1 (see the module docstring). logits (B, C), labels (B,) class indices."""
    p = logits.softmax(dim=-1)
    y = F.one_hot(labels, p.shape[-1]).to(p.dtype)
    f1 = 2 * (y * p).sum(0) / ((y + p).sum(0) + eps)       # (C,)
    return -torch.log(f1.mean() + eps)


def macro_f1(pred: torch.Tensor, labels: torch.Tensor, n_classes: int = len(CLASSES)) -> tuple[float, list[float]]:
    """The hard macro-F1 and the per-class F1 of predicted class indices."""
    per_class = []
    for c in range(n_classes):
        tp = ((pred == c) & (labels == c)).sum().item()
        denom = (pred == c).sum().item() + (labels == c).sum().item()
        per_class.append(2 * tp / denom if denom else 0.0)
    return sum(per_class) / n_classes, per_class
