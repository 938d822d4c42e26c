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

:func:`classify` is the way from flux on the grid to what the tab shows: class probabilities, a saliency trace
|∂logit/∂x · x| and, for galaxies and QSOs, a rough redshift from an emission-line comb.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from models import checkpoint

CLASSES = ("star", "galaxy", "qso", "unknown")
LO, HI, N_POINTS = 3700.0, 9000.0, 2600
GRID = np.geomspace(LO, HI, N_POINTS)   # log-λ spaced like LAMOST's (Δlog10 λ ≈ 1.49e-4, LAMOST 1e-4)
# rest-frame vacuum-ish wavelengths (Å) of the lines the generator adds and the tab marks
LINES = {"[O II]": 3727.4, "Hβ": 4862.7, "[O III] 4959": 4960.3, "[O III] 5007": 5008.2, "[N II] 6548": 6549.9,
         "Hα": 6564.6, "[N II] 6584": 6585.3, "[S II] 6717": 6718.3, "[S II] 6731": 6732.7}
QSO_LINES = {"Lyα": 1215.7, "C IV": 1549.1, "C III]": 1908.7, "Mg II": 2799.1, "Hγ": 4341.7, "Hβ": 4862.7}
STAR_LINES = {"Ca II K": 3934.8, "Ca II H": 3969.6, "Hδ": 4102.9, "G band": 4305.0, "Hγ": 4341.7, "Hβ": 4862.7,
              "Mg b": 5176.7, "Na D": 5895.9, "Hα": 6564.6, "Ca II triplet": 8544.4}


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


def scale(flux: torch.Tensor, clip: float = 10.0) -> torch.Tensor:
    """Per-spectrum scaling: divide by the median absolute flux (robust to spikes, keeps the continuum's shape),
    then clip to ±``clip`` — cosmic rays and bad pixels can be 10⁴ × the continuum, and a max-pooling network would
    carry them straight to the logits. (…, n) → (…, n); an all-zero spectrum stays zero."""
    m = flux.abs().median(dim=-1, keepdim=True).values
    return (flux / m.clamp(min=1e-8)).clamp(-clip, clip)


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


def expected_calibration_error(probs: np.ndarray, labels: np.ndarray, n_bins: int = 15) -> float:
    """Σ_bins (n_bin / n) · |accuracy − mean confidence| over equal-width bins of the top probability."""
    conf, pred = probs.max(-1), probs.argmax(-1)
    bins = np.minimum((conf * n_bins).astype(int), n_bins - 1)
    return float(sum((bins == b).mean() * abs((pred[bins == b] == labels[bins == b]).mean() - conf[bins == b].mean())
                     for b in range(n_bins) if (bins == b).any()))


@torch.no_grad()
def predict(model: SpectrumNet, X: torch.Tensor, batch: int = 500) -> torch.Tensor:
    """Scaled flux (n, N) → probabilities (n, C)."""
    model.eval()
    return torch.cat([model(X[i:i + batch]).softmax(-1) for i in range(0, len(X), batch)])


def saliency(model: SpectrumNet, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """|∂ logit_c / ∂x · x| for the predicted class c, smoothed over 15 pixels and scaled to 0..1: which
    wavelengths drove the decision. x: (N,) scaled flux → (probabilities (C,), saliency (N,))."""
    model.eval()
    x = x.clone().requires_grad_(True)
    logits = model(x.unsqueeze(0))[0]
    c = int(logits.argmax())
    logits[c].backward()
    s = (x.grad * x).abs().detach()
    s = F.avg_pool1d(s.view(1, 1, -1), 15, stride=1, padding=7).view(-1)
    return logits.softmax(-1).detach(), s / s.max().clamp(min=1e-12)


def redshift(flux: np.ndarray, kind: str) -> float:
    """A rough redshift for marking lines: the z (galaxy 0–0.3, QSO 0.5–3) whose rest-frame emission lines land
    on the most continuum-subtracted flux (a line comb). Stars: 0."""
    if kind not in ("galaxy", "qso"):
        return 0.0
    lines = np.array(list((LINES if kind == "galaxy" else QSO_LINES).values()))
    window = 51
    cont = np.convolve(flux, np.ones(window) / window, mode="same")
    excess = (flux - cont) / (np.std(flux - cont) + 1e-12)
    zs = np.arange(0.0, 0.3, 0.0005) if kind == "galaxy" else np.arange(0.5, 3.0, 0.002)
    best, best_score = 0.0, -np.inf
    for z in zs:
        at = lines * (1 + z)
        at = at[(at > GRID[0]) & (at < GRID[-1])]
        if len(at) < 2:
            continue
        score = np.interp(at, GRID, excess).sum()
        if score > best_score:
            best, best_score = float(z), score
    return best


@dataclass
class Classified:
    """What :func:`classify` finds in one spectrum."""
    probabilities: dict[str, float]   # class → probability
    kind: str                         # the most probable class
    scaled: np.ndarray                # (N,) the flux the network read (see :func:`scale`)
    saliency: np.ndarray              # (N,) in 0..1
    z: float                          # rough redshift (0 for stars and unknown)


def classify(model: SpectrumNet, flux_on_grid: np.ndarray) -> Classified:
    """Flux on GRID (any units) → class probabilities, saliency and a rough redshift."""
    x = scale(torch.tensor(flux_on_grid, dtype=torch.float32))
    probs, sal = saliency(model, x)
    kind = CLASSES[int(probs.argmax())]
    return Classified({c: float(p) for c, p in zip(CLASSES, probs)}, kind, x.numpy(), sal.numpy(),
                      redshift(x.numpy(), kind))


def load(folder, stage: int = 2) -> SpectrumNet:
    """The model in eval mode from a checkpoint folder (models/checkpoint.py). ``stage`` 1: the cross-entropy model
    of Su's first stage, kept in ``stage1/`` beside the shipped (stage-2) model for the benchmark."""
    folder = Path(folder)
    if stage == 1:
        path, legacy = (folder / "stage1", None) if (folder / "stage1").is_dir() else \
            (folder, "spectrum_stage1.safetensors")
    else:
        path, legacy = folder, "spectrum.safetensors"
    config, weights = checkpoint.read_folder(path, legacy=legacy)
    model = SpectrumNet(checkpoint.config_from(SpectrumConfig, config))
    model.load_state_dict(weights)
    return model.eval()


def save(model: SpectrumNet, folder, card: str) -> None:
    """Write what :func:`load` reads: fp16 weights, config and card."""
    checkpoint.save_folder(folder, model.state_dict(), asdict(model.cfg), card)


def header_wavelengths(header, n: int) -> np.ndarray:
    """Wavelengths (Å) of a 1-D FITS spectrum from its header: CRVAL1 + (i + 1 − CRPIX1)·CDELT1 (or CD1_1), in
    log10 λ when CTYPE1 says WAVE-LOG or CRVAL1 is too small to be Ångström."""
    crval, crpix = header["CRVAL1"], header.get("CRPIX1", 1)
    cdelt = header.get("CDELT1", header.get("CD1_1", 1.0))
    x = crval + (np.arange(n) + 1 - crpix) * cdelt
    return 10 ** x if str(header.get("CTYPE1", "")).upper().startswith("WAVE-LOG") or crval < 10 else x


def rebin(wave: np.ndarray, flux: np.ndarray, grid: np.ndarray = GRID) -> np.ndarray:
    """Flux on ``grid``: the mean of the (finer) template over each grid pixel (integrating, not sampling, so
    narrow features keep their equivalent width); outside the template's range: NaN."""
    edges = np.sqrt(grid[1:] * grid[:-1])
    edges = np.concatenate([[grid[0] ** 2 / edges[0]], edges, [grid[-1] ** 2 / edges[-1]]])
    cum = np.concatenate([[0.0], np.cumsum(0.5 * (flux[1:] + flux[:-1]) * np.diff(wave))])  # ∫ flux dλ
    at = np.interp(edges, wave, cum)
    out = np.diff(at) / np.diff(edges)
    out[(edges[1:] <= wave[0]) | (edges[:-1] >= wave[-1])] = np.nan
    return out


def fill_edges(x: np.ndarray, n: int = 20) -> np.ndarray:
    """NaN at either end of the grid (beyond a template's range) → the template continued flat at the mean of its
    ``n`` nearest valid pixels."""
    ok = np.flatnonzero(np.isfinite(x))
    x = x.copy()
    x[:ok[0]] = x[ok[:n]].mean()
    x[ok[-1] + 1:] = x[ok[-n:]].mean()
    return x
