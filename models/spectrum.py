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

:func:`classify` is the way from flux on the grid to what the tab shows: calibrated class probabilities (a prior
shift to the survey's class mix, then a temperature fitted on validation), a saliency trace |∂logit/∂x · x|, a
star's spectral class from a second head on the same features, "unknown" for inputs whose features are far from
every training class (a Mahalanobis distance) or that show no feature of their class (a template explains nothing
a smooth curve does not), and the best-fitting template with its redshift (least squares over
every trial z, as survey pipelines do).
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
SUBCLASSES = ("OB", "A", "F", "G", "K", "M")   # a star's spectral class, hot to cool (O and B stars are few)
LO, HI, N_POINTS = 3700.0, 9000.0, 2600
GRID = np.geomspace(LO, HI, N_POINTS)   # log-λ spaced like LAMOST's (Δlog10 λ ≈ 1.49e-4, LAMOST 1e-4)
DLOG = np.log(HI / LO) / (N_POINTS - 1)  # one pixel in ln λ: a shift of one pixel is Δln(1+z) = DLOG (≈ 103 km/s)
# the rest-frame grid of the redshift templates: GRID's spacing, continued to 1,000 Å (a QSO at z 2.7) and 9,400 Å
N_BLUE = int(np.ceil(np.log(LO / 1000.0) / DLOG))
REST = LO * np.exp(DLOG * np.arange(-N_BLUE, N_POINTS + int(np.ceil(np.log(9400.0 / HI) / DLOG))))
Z_RANGE = {"galaxy": (0.0, 0.45), "qso": (0.5, 2.7), "star": (-0.002, 0.002)}   # where each class is searched
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
    n_subclasses: int = len(SUBCLASSES)   # the second head (a star's spectral class); 0: none
    # set after training, on validation spectra (see calibrate / fit_outlier_score):
    temperature: float = 1.0              # logits / T: calibrated probabilities
    log_prior_shift: tuple = (0.0, 0.0, 0.0, 0.0)   # log(survey prior / training prior), added to the logits
    outlier_threshold: float = float("inf")         # feature distance above which an input is "unknown"


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
        if cfg.n_subclasses:
            self.subclass = nn.Linear(cfg.hidden, cfg.n_subclasses)
        # the training features' class means and the Cholesky factor of their shared precision (Mahalanobis score)
        self.register_buffer("feature_means", torch.zeros(cfg.n_classes, cfg.hidden))
        self.register_buffer("feature_whiten", torch.eye(cfg.hidden))

    def features(self, x):
        """(B, n_points) scaled flux → (B, C, T') the last block's feature map (for saliency)."""
        h = x.unsqueeze(1)
        for i, block in enumerate(self.blocks):
            h = block(h)
            if i < len(self.blocks) - 1:
                h = F.max_pool1d(h, 2)
        return h

    def embed(self, x):
        """(B, n_points) scaled flux → (B, hidden): the features both heads read."""
        h = self.drop(self.features(x)).amax(dim=-1)        # global max pool: (B, C)
        return F.relu(self.dense(h))

    def forward(self, x):
        """(B, n_points) scaled flux → (B, n_classes) logits as trained (softmax outside, so the losses stay
        stable); :meth:`calibrated` turns them into the survey's probabilities."""
        return self.out(self.embed(x))

    def calibrated(self, logits):
        """Logits → the logits of calibrated probabilities for a survey's class mix: the prior shift (the
        training batches over-sample galaxies and QSOs; p_survey ∝ p_train · π_survey / π_train), then / T."""
        return (logits + logits.new_tensor(self.cfg.log_prior_shift)) / self.cfg.temperature

    def outlier_score(self, e):
        """(B, hidden) features → (B,) the Mahalanobis distance to the nearest class mean of the training features
        (shared covariance; Lee et al. 2018) — large for inputs unlike any training spectrum."""
        d = (e[:, None, :] - self.feature_means[None]) @ self.feature_whiten     # (B, classes, hidden)
        return d.pow(2).sum(-1).min(-1).values.sqrt()


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
def predict(model: SpectrumNet, X: torch.Tensor, batch: int = 500, calibrated: bool = True,
            members=()) -> torch.Tensor:
    """Scaled flux (n, N) → probabilities (n, C): calibrated for the survey's class mix (see
    :meth:`SpectrumNet.calibrated`) unless ``calibrated`` is False; with ``members`` (other seeds of the same
    network, :func:`load_members`), the mean of every network's probabilities."""
    out = []
    for net in (model, *members):
        net.eval()
        probs = []
        for i in range(0, len(X), batch):
            logits = net(X[i:i + batch])
            probs.append((net.calibrated(logits) if calibrated else logits).softmax(-1))
        out.append(torch.cat(probs))
    return torch.stack(out).mean(0)


@torch.no_grad()
def predict_all(model: SpectrumNet, X: torch.Tensor, batch: int = 500, members=()) -> dict[str, torch.Tensor]:
    """Scaled flux (n, N) → {"probs": (n, C) calibrated, "subclass": (n, S) probabilities, "outlier": (n,) score};
    with ``members``, probabilities and subclasses are the mean over ``model`` and them, the outlier score stays
    ``model``'s (its threshold is fitted on its own features)."""
    model.eval()
    probs, sub, score = [], [], []
    for i in range(0, len(X), batch):
        e = model.embed(X[i:i + batch])
        probs.append(model.calibrated(model.out(e)).softmax(-1))
        if model.cfg.n_subclasses:
            sub.append(model.subclass(e).softmax(-1))
        score.append(model.outlier_score(e))
    out = {"probs": torch.cat(probs), "subclass": torch.cat(sub) if sub else None, "outlier": torch.cat(score)}
    return with_members(out, X, members, batch)


def with_members(first: dict, X: torch.Tensor, members, batch: int = 500) -> dict:
    """The first network's :func:`predict_all` output with its probabilities and subclasses averaged over the
    ``members`` run on the same flux X; the outlier score stays the first network's."""
    if not members:
        return first
    others = [predict_all(net, X, batch) for net in members]
    out = dict(first, probs=torch.stack([first["probs"]] + [o["probs"] for o in others]).mean(0))
    if first["subclass"] is not None:
        out["subclass"] = torch.stack([first["subclass"]] + [o["subclass"] for o in others]).mean(0)
    return out


@torch.no_grad()
def fit_outlier_score(model: SpectrumNet, X: torch.Tensor, y: torch.Tensor, Xv: torch.Tensor,
                      quantile: float = 0.995) -> float:
    """Fit the Mahalanobis score on training spectra (class means, shared covariance; its inverse's Cholesky factor
    whitens) and set the threshold at ``quantile`` of the validation spectra's scores: 0.5 % of real-looking
    spectra are flagged, and anything farther from every class goes to "unknown". → the threshold."""
    model.eval()
    E = torch.cat([model.embed(X[i:i + 500]) for i in range(0, len(X), 500)]).double()
    means = torch.stack([E[y == c].mean(0) if (y == c).any() else E.mean(0) for c in range(model.cfg.n_classes)])
    centred = E - means[y]
    cov = centred.T @ centred / len(E) + 1e-3 * torch.eye(E.shape[1], dtype=E.dtype)   # ridge: dead ReLU units
    model.feature_means.copy_(means.float())
    model.feature_whiten.copy_(torch.linalg.cholesky(torch.linalg.inv(cov)).float())
    # the shipped weights are fp16: score with the rounded buffers, as the app will
    model.feature_means.copy_(model.feature_means.half().float())
    model.feature_whiten.copy_(model.feature_whiten.half().float())
    scores = torch.cat([model.outlier_score(model.embed(Xv[i:i + 500])) for i in range(0, len(Xv), 500)])
    return float(torch.quantile(scores, quantile))


def fit_temperature(logits: torch.Tensor, labels: torch.Tensor) -> float:
    """The temperature T that minimises the validation negative log-likelihood of softmax(logits / T)
    (Guo et al. 2017): a single number, so the ranking of classes never changes, only the confidence."""
    grid = torch.exp(torch.linspace(np.log(0.25), np.log(8.0), 300))
    nll = torch.stack([F.cross_entropy(logits / t, labels) for t in grid])
    return float(grid[int(nll.argmin())])


def saliency(model: SpectrumNet, x: torch.Tensor):
    """|∂ logit_c / ∂x · x| for the predicted class c, smoothed over 15 pixels and scaled to 0..1: which
    wavelengths drove the decision. x: (N,) scaled flux → (calibrated probabilities (C,), saliency (N,),
    subclass probabilities (S,) or None, outlier score)."""
    model.eval()
    x = x.clone().requires_grad_(True)
    e = model.embed(x.unsqueeze(0))
    logits = model.calibrated(model.out(e))[0]
    c = int(logits.argmax())
    logits[c].backward()
    s = (x.grad * x).abs().detach()
    s = F.avg_pool1d(s.view(1, 1, -1), 15, stride=1, padding=7).view(-1)
    with torch.no_grad():
        sub = model.subclass(e)[0].softmax(-1) if model.cfg.n_subclasses else None
        score = float(model.outlier_score(e)[0])
    return logits.softmax(-1).detach(), s / s.max().clamp(min=1e-12), sub, score


def line_comb_redshift(flux: np.ndarray, kind: str) -> float:
    """The tab's redshift before template fitting (the benchmark's baseline): the z (galaxy 0–0.3, QSO 0.5–3)
    whose rest-frame emission lines land on the most continuum-subtracted flux (a line comb). Stars: 0."""
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



def legendre_rows(n_poly: int, n: int = N_POINTS) -> np.ndarray:
    """(n_poly, n) Legendre polynomials over the grid: the smooth part a fit may add (continuum and calibration
    errors that the templates cannot know)."""
    x = np.linspace(-1, 1, n)
    return np.stack([np.polynomial.legendre.Legendre.basis(k)(x) for k in range(n_poly)])


def _sliding_dots(a: np.ndarray, b: np.ndarray, n: int) -> np.ndarray:
    """Σ_j a[start + j]·b[j] over j < n for every start: a (L,), b (n,) → (L − n + 1,) (a correlation, by FFT)."""
    size = 1 << int(np.ceil(np.log2(len(a) + n - 1)))
    full = np.fft.irfft(np.fft.rfft(a, size) * np.fft.rfft(b[::-1], size), size)
    return full[n - 1:len(a)]


def trial_starts(z_lo: float, z_hi: float, n: int = N_POINTS) -> tuple[np.ndarray, np.ndarray]:
    """The template windows to try: start indices into REST (GRID[j] / (1 + z) = REST[start + j]) and their z."""
    starts = np.arange(len(REST) - n + 1)
    zs = np.exp((N_BLUE - starts) * DLOG) - 1
    keep = (zs >= z_lo) & (zs <= z_hi)
    return starts[keep], zs[keep]


def single_template_chi2(flux: np.ndarray, templates: np.ndarray, z_lo: float, z_hi: float,
                         n_poly: int = 3) -> np.ndarray:
    """χ² of each template *alone* (+ ``n_poly`` Legendre terms) at each of the few trial shifts in a narrow z
    range (a star's velocity), all at once: templates (m, len(REST)) → (m, shifts)."""
    flux = np.asarray(flux, np.float64)
    n = len(flux)
    starts, _ = trial_starts(z_lo, z_hi, n)
    W = templates[:, starts[:, None] + np.arange(n)]                  # (m, S, n)
    P = legendre_rows(n_poly, n)
    m, S = W.shape[:2]
    A = np.zeros((m, S, 1 + n_poly, 1 + n_poly))
    A[..., 0, 0] = (W * W).sum(-1)
    A[..., 0, 1:] = A[..., 1:, 0] = W @ P.T
    A[..., 1:, 1:] = P @ P.T
    b = np.concatenate([(W @ flux)[..., None], np.broadcast_to(P @ flux, (m, S, n_poly))], -1)
    A += 1e-9 * np.trace(A, axis1=-2, axis2=-1)[..., None, None] / (1 + n_poly) * np.eye(1 + n_poly)
    coef = np.linalg.solve(A, b[..., None])[..., 0]
    return flux @ flux - (coef * b).sum(-1)


def template_fit(flux: np.ndarray, basis: np.ndarray, z_lo: float, z_hi: float, n_poly: int = 3) -> dict:
    """χ²(z) of the best linear combination of ``basis`` (k templates on REST) redshifted onto GRID plus
    ``n_poly`` Legendre terms, for every pixel shift with z in [z_lo, z_hi] — the way survey pipelines
    (SDSS, redrock) measure redshifts. One least-squares problem per shift, all solved at once from sliding dot
    products (so a QSO's 2,900 trial redshifts cost a few ms). → {"z", "chi2" (per shift), "zs", "model" (the fit
    on GRID), "coefficients"}; z refined between pixels by a parabola through the three χ² around the minimum."""
    flux = np.asarray(flux, np.float64)
    n, k = len(flux), len(basis)
    P = legendre_rows(n_poly, n)
    starts, zs = trial_starts(z_lo, z_hi, n)
    m = k + n_poly
    A = np.zeros((len(starts), m, m))
    b = np.zeros((len(starts), m))
    for i in range(k):
        b[:, i] = _sliding_dots(basis[i], flux, n)[starts]
        for j in range(i, k):
            cum = np.concatenate([[0.0], np.cumsum(basis[i] * basis[j])])
            A[:, i, j] = A[:, j, i] = (cum[starts + n] - cum[starts])
        for p in range(n_poly):
            A[:, i, k + p] = A[:, k + p, i] = _sliding_dots(basis[i], P[p], n)[starts]
    A[:, k:, k:] = P @ P.T
    b[:, k:] = P @ flux
    A += 1e-9 * np.trace(A, axis1=1, axis2=2)[:, None, None] / m * np.eye(m)
    coef = np.linalg.solve(A, b[..., None])[..., 0]
    chi2 = flux @ flux - (coef * b).sum(1)
    best = int(np.argmin(chi2))
    z = float(zs[best])
    if 0 < best < len(zs) - 1:                          # parabola through the three around the minimum
        c0, c1, c2 = chi2[best - 1:best + 2]
        denom = c0 - 2 * c1 + c2
        if denom > 0:
            step = 0.5 * (c0 - c2) / denom              # in shifts; z falls as the start grows
            z = float(np.exp((N_BLUE - starts[best] - step) * DLOG) - 1)
    window = basis[:, starts[best]:starts[best] + n]
    model = coef[best, :k] @ window + coef[best, k:] @ P
    return {"z": z, "chi2": chi2, "zs": zs, "model": model, "coefficients": coef[best]}


# A spectrum has no features of its class when the best template explains less than 1.5 % of what is left around a
# smooth curve although its noise is low (S/N ≥ 15): at low S/N real spectra's lines drown, and the network decides.
# Measured: a flat line + 1 % noise on the grid 0.006–0.009, sampled twice as finely and resampled 0.012, sampled on
# the grid's own wavelengths and resampled 0.013–0.019 (the resampling correlates the noise, which templates then fit
# a little); test-split spectra called right, 0.5th percentile 0.018 (star) – 0.027 (galaxy, QSO); real LAMOST
# stars ≥ 0.148.
FEATURELESS, FEATURELESS_MIN_SNR = 0.015, 15.0


def noise_snr(flux: np.ndarray) -> float:
    """Median |flux| over the per-pixel noise estimated from neighbouring differences (median |Δ| / 0.954)."""
    flux = np.asarray(flux, np.float64)
    return float(np.median(np.abs(flux)) / max(np.median(np.abs(np.diff(flux))) / 0.954, 1e-12))


def is_featureless(flux: np.ndarray, fit: dict) -> tuple[bool, float]:
    """(no features of the class at a S/N where they would show, the feature strength)."""
    strength = feature_strength(flux, fit)
    return strength < FEATURELESS and noise_snr(flux) >= FEATURELESS_MIN_SNR, strength


def feature_strength(flux: np.ndarray, fit: dict, n_poly: int = 3) -> float:
    """The share of the flux's variation around a smooth curve (``n_poly`` Legendre terms) that the class's best
    template fit explains: 1 − χ²_template / χ²_polynomial."""
    flux = np.asarray(flux, np.float64)
    P = legendre_rows(n_poly, len(flux))
    smooth = np.linalg.lstsq(P.T, flux, rcond=None)[0] @ P
    around = float(((flux - smooth) ** 2).sum())
    return 1.0 - float(((flux - fit["model"]) ** 2).sum()) / around if around > 0 else 0.0


def load_templates(folder) -> dict:
    """The redshift templates written by training (``templates.npz``): {"galaxy": (k, len(REST)), "qso": …,
    "star": (n, len(REST)), "star_subclass": (n,), "star_name": (n,)}."""
    with np.load(Path(folder) / "templates.npz") as f:
        return {key: f[key].astype(np.float64) if f[key].dtype.kind == "f" else f[key] for key in f.files}


def fit_class(flux: np.ndarray, templates: dict, kind: str) -> dict:
    """The best template fit for one class: galaxies and QSOs by their basis (a redshift), stars by the single
    star template of least χ² (a velocity within ±600 km/s; its subclass is the template's). → template_fit's dict,
    plus "star_subclass" and "star_name" for stars."""
    if kind == "galaxy":
        return template_fit(flux, templates[kind], *Z_RANGE[kind])
    if kind == "qso":
        # the QSO basis' higher components mostly describe the blue continuum and the Lyα forest, which lets a wrong
        # z fit as well as the right one (on the test split: 40 % within 0.003 with all five, 87 % with the mean
        # alone): the mean spectrum searches, the first component only refines within ±1 % in 1 + z
        lo, hi = Z_RANGE[kind]
        z = template_fit(flux, templates[kind][:1], lo, hi)["z"]
        return template_fit(flux, templates[kind][:2], max(lo, (1 + z) * np.exp(-0.01) - 1),
                            min(hi, (1 + z) * np.exp(0.01) - 1))
    i = int(single_template_chi2(flux, templates["star"], *Z_RANGE["star"]).min(1).argmin())
    return template_fit(flux, templates["star"][i:i + 1], *Z_RANGE["star"]) | {
        "star_subclass": int(templates["star_subclass"][i]), "star_name": str(templates["star_name"][i])}


@dataclass
class Classified:
    """What :func:`classify` finds in one spectrum."""
    probabilities: dict[str, float]   # class → calibrated probability
    kind: str                         # the most probable class, or "unknown" for an outlier
    scaled: np.ndarray                # (N,) the flux the network read (see :func:`scale`)
    saliency: np.ndarray              # (N,) in 0..1
    z: float                          # redshift of the template fit (0 for unknown)
    subclass: dict[str, float] | None = None    # a star's spectral class → probability (the second head)
    outlier: bool = False             # the features are farther from every class than the threshold allows
    outlier_score: float = 0.0
    template: np.ndarray | None = None          # (N,) the best template fit, on the scaled flux's scale
    template_name: str = ""
    feature_strength: float = float("nan")      # what the class's template explains beyond a smooth curve
    featureless: bool = False         # below FEATURELESS: called unknown


def classify(model: SpectrumNet, flux_on_grid: np.ndarray, templates: dict | None = None,
             members=()) -> Classified:
    """Flux on GRID (any units) → calibrated class probabilities, saliency, a star's subclass, the outlier
    verdict and — with ``templates`` — the best template of the class and its redshift. With ``members`` (other
    seeds, :func:`load_members`) the probabilities and the subclass are the mean over all the networks; the saliency
    and the outlier score are ``model``'s."""
    x = scale(torch.tensor(flux_on_grid, dtype=torch.float32))
    probs, sal, sub, score = saliency(model, x)
    if members:  # the first network's outputs are saliency's: only the members run again
        first = {"probs": probs[None], "subclass": None if sub is None else sub[None], "outlier": None}
        both = with_members(first, x.unsqueeze(0), members)
        probs, sub = both["probs"][0], None if sub is None else both["subclass"][0]
    kind = CLASSES[int(probs.argmax())]
    outlier = score > model.cfg.outlier_threshold
    found = Classified({c: float(p) for c, p in zip(CLASSES, probs)}, "unknown" if outlier else kind, x.numpy(),
                       sal.numpy(), 0.0, None, outlier, score)
    if sub is not None and kind == "star":
        found.subclass = {c: float(p) for c, p in zip(SUBCLASSES, sub)}
    if templates is not None and found.kind in ("star", "galaxy", "qso"):
        fit = fit_class(x.numpy(), templates, found.kind)
        found.z, found.template = fit["z"], fit["model"]
        found.template_name = fit.get("star_name", f"{found.kind} templates")
        featureless, found.feature_strength = is_featureless(x.numpy(), fit)
        if featureless:                              # a featureless curve: no star, galaxy or QSO
            found.kind, found.featureless, found.z, found.template = "unknown", True, 0.0, None
    return found


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


def load_members(folder) -> list[SpectrumNet]:
    """The other seeds shipped beside a checkpoint (``folder/members/*/``, each a checkpoint folder of the same
    network trained with another ``--seed``), in name order; [] when there are none."""
    root = Path(folder) / "members"
    return [load(p) for p in sorted(root.iterdir()) if (p / "config.json").exists()] if root.is_dir() else []


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
    narrow features keep their equivalent width); a pixel the template covers in part is the mean over that part;
    outside the template's range: NaN."""
    edges = np.sqrt(grid[1:] * grid[:-1])
    edges = np.concatenate([[grid[0] ** 2 / edges[0]], edges, [grid[-1] ** 2 / edges[-1]]])
    cum = np.concatenate([[0.0], np.cumsum(0.5 * (flux[1:] + flux[:-1]) * np.diff(wave))])  # ∫ flux dλ
    at = np.interp(edges, wave, cum)
    covered = np.diff(np.clip(edges, wave[0], wave[-1]))   # a pixel the data cover only in part: the mean over that part
    out = np.full(len(grid), np.nan)
    ok = covered > 0
    out[ok] = np.diff(at)[ok] / covered[ok]
    return out


def fill_edges(x: np.ndarray, n: int = 20) -> np.ndarray:
    """NaN at either end of the grid (beyond a template's range) → the template continued flat at the mean of its
    ``n`` nearest valid pixels."""
    ok = np.flatnonzero(np.isfinite(x))
    x = x.copy()
    x[:ok[0]] = x[ok[:n]].mean()
    x[ok[-1] + 1:] = x[ok[-n:]].mean()
    return x
