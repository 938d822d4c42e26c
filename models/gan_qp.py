"""GAN-QP — the quadratic-potential GAN (Su 2018, arXiv 1811.07296; kexue.fm/archives/6163), in PyTorch.

The critic T sees a real batch x_r and a fake batch x_f and maximises

    E[ T(x_r, x_f) − T(x_f, x_r) − (T(x_r, x_f) − T(x_f, x_r))² / (2λ·d(x_r, x_f)) ]

while the generator minimises E[ T(x_r, x_f) − T(x_f, x_r) ] — **without** the quadratic term. As in the post's code,
T(x_r, x_f) = T(x_r): with Δ = T(x_r) − T(x_f) the critic's loss is mean(−Δ + Δ² / (2λ·d)) and d is the L1 or L2
distance between each real image and the fake it is paired with, λ = 10:

    L1: d = mean|x_r − x_f|          L2: d = sqrt(mean (x_r − x_f)²)      (means over pixels, one d per pair)

The quadratic term keeps Δ ≤ λ·d (a Lipschitz bound that is enforced softly, pair by pair), so no weight clipping,
gradient penalty or spectral norm is needed. For the post's comparison this module also has WGAN-GP and the standard
non-saturating GAN (SGAN) on exactly the same nets.

Nets: DCGAN-style for 32×32 (the post's code uses the same shape at 64–256 px): the generator maps z (128) through a
dense layer to 4×4 and three stride-2 transposed convolutions with batch norm; the critic is three stride-2
convolutions with LeakyReLU and a dense output — no batch norm, because WGAN-GP's penalty is per sample and the
comparison must use one critic for every loss. ``out_dim`` > 1 turns the critic into O-GAN's encoder.

Sampling (:func:`sample`, :func:`sample_grid`, :func:`interpolation_strip`) is shared by the tab, the training
command and the benchmark, and by O-GAN (the same generator).
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from models import checkpoint
from models.gan_names import LOSSES


@dataclass
class GanConfig:
    z_dim: int = 128
    img_size: int = 32      # must be 4·2³: three stride-2 layers between 4×4 and the image
    channels: int = 1
    width: int = 64         # channels next to the image; doubled at each lower resolution (64 → 128 → 256)
    out_dim: int = 1        # critic outputs: 1 score (GAN-QP, WGAN-GP, SGAN) or z_dim codes (O-GAN's encoder)
    critic_norm: str = "none"  # the critic's normalisation after its 2nd and 3rd conv: CRITIC_NORMS


class Generator(nn.Module):
    """z (B, z_dim) → image (B, C, 32, 32) in [−1, 1]."""

    def __init__(self, cfg: GanConfig):
        super().__init__()
        self.cfg = cfg
        w = cfg.width
        self.fc = nn.Linear(cfg.z_dim, 4 * w * 4 * 4)
        self.bn0 = nn.BatchNorm2d(4 * w)
        self.up = nn.Sequential(
            nn.ConvTranspose2d(4 * w, 2 * w, 4, 2, 1), nn.BatchNorm2d(2 * w), nn.ReLU(),  # 4 → 8
            nn.ConvTranspose2d(2 * w, w, 4, 2, 1), nn.BatchNorm2d(w), nn.ReLU(),          # 8 → 16
            nn.ConvTranspose2d(w, cfg.channels, 4, 2, 1), nn.Tanh(),                      # 16 → 32
        )

    def forward(self, z):
        x = self.fc(z).view(len(z), 4 * self.cfg.width, 4, 4)  # (B, 4w, 4, 4)
        return self.up(F.relu(self.bn0(x)))                     # (B, C, 32, 32)


# The critic's normalisation. "batch" is the paper's code (bojone/gan-qp: batch norm after every convolution but
# the first); WGAN-GP's penalty is per sample, which batch statistics break, so its critic takes "layer" norm (as
# Gulrajani et al. advise); "spectral" divides every layer's weight by its largest singular value (Miyato et al.,
# SGAN-SN in the paper's table); "none" is what the first checkpoints (and O-GAN's encoder) were trained with.
CRITIC_NORMS = ("none", "batch", "layer", "spectral")


class Critic(nn.Module):
    """image (B, C, 32, 32) → (B, out_dim): the critic's score, or O-GAN's code."""

    def __init__(self, cfg: GanConfig):
        super().__init__()
        if cfg.critic_norm not in CRITIC_NORMS:
            raise ValueError(f"critic_norm must be one of {CRITIC_NORMS}, not {cfg.critic_norm!r}")
        w, norm = cfg.width, cfg.critic_norm

        def conv(c_in, c_out, normalised):  # stride 2: the side halves
            layer = nn.Conv2d(c_in, c_out, 4, 2, 1)
            if norm == "spectral":
                return [nn.utils.parametrizations.spectral_norm(layer), nn.LeakyReLU(0.2)]
            extra = {"batch": [nn.BatchNorm2d(c_out)], "layer": [nn.GroupNorm(1, c_out)]}.get(norm, [])
            return [layer, *(extra if normalised else []), nn.LeakyReLU(0.2)]

        head = nn.Linear(4 * w * 4 * 4, cfg.out_dim)
        self.net = nn.Sequential(
            *conv(cfg.channels, w, False),   # 32 → 16
            *conv(w, 2 * w, True),           # 16 → 8
            *conv(2 * w, 4 * w, True),       # 8 → 4
            nn.Flatten(),
            nn.utils.parametrizations.spectral_norm(head) if norm == "spectral" else head,
        )

    def forward(self, x):
        return self.net(x)


# ---------------------------------------------------------------------------------------------------------------
# Losses. Each takes critic scores of shape (B,) or (B, 1); the critic's loss is minimised by the critic, the
# generator's by the generator (scores of the fakes must then carry the generator's graph).

def pair_distance(x_real, x_fake, norm: str = "l1"):
    """d(x_r, x_f) per pair (B,): mean absolute (L1) or root-mean-square (L2) pixel difference."""
    diff = (x_real - x_fake).flatten(1)
    if norm == "l1":
        return diff.abs().mean(1)
    if norm == "l2":
        return diff.pow(2).mean(1).sqrt()
    raise ValueError(f"norm must be l1 or l2, not {norm!r}")


def qp_critic_loss(real_score, fake_score, x_real, x_fake, norm: str = "l1", lam: float = 10.0):
    """mean(−Δ + Δ² / (2λ·d)), Δ = T(x_r) − T(x_f). The images only enter through d, which is a constant here."""
    delta = (real_score - fake_score).view(-1)                     # (B,)
    d = lam * pair_distance(x_real, x_fake, norm).detach()         # (B,)
    return (-delta + 0.5 * delta.pow(2) / d).mean()


def qp_generator_loss(real_score, fake_score):
    """mean(Δ) = mean(T(x_r) − T(x_f)): no quadratic term (the post is explicit that adding it breaks training)."""
    return (real_score - fake_score).mean()


def wgan_gp_critic_loss(critic, x_real, x_fake, real_score, fake_score, weight: float = 10.0):
    """mean T(x_f) − mean T(x_r) + 10·mean(‖∇T(x̂)‖ − 1)², x̂ a random point between each real and fake image."""
    eps = torch.rand(len(x_real), *[1] * (x_real.dim() - 1), device=x_real.device)  # images or 2-D points
    mix = (eps * x_real + (1 - eps) * x_fake.detach()).requires_grad_(True)
    grad, = torch.autograd.grad(critic(mix).sum(), mix, create_graph=True)
    penalty = (grad.flatten(1).norm(dim=1) - 1).pow(2).mean()
    return fake_score.mean() - real_score.mean() + weight * penalty


def wgan_generator_loss(real_score, fake_score):
    return -fake_score.mean()


def sgan_critic_loss(real_score, fake_score):
    """Standard GAN: −log σ(T(x_r)) − log(1 − σ(T(x_f)))."""
    return F.softplus(-real_score).mean() + F.softplus(fake_score).mean()


def sgan_generator_loss(real_score, fake_score):
    """The non-saturating generator loss −log σ(T(x_f))."""
    return F.softplus(-fake_score).mean()


def critic_loss(loss: str, critic, x_real, x_fake):
    """The critic's loss for ``loss`` ∈ LOSSES on a real and a (detached) fake batch."""
    x_fake = x_fake.detach()
    real_score, fake_score = critic(x_real).view(-1), critic(x_fake).view(-1)
    if loss in ("qp-l1", "qp-l2"):
        return qp_critic_loss(real_score, fake_score, x_real, x_fake, norm=loss[-2:])
    if loss == "wgan-gp":
        return wgan_gp_critic_loss(critic, x_real, x_fake, real_score, fake_score)
    if loss in ("sgan", "sgan-sn"):
        return sgan_critic_loss(real_score, fake_score)
    raise ValueError(f"unknown loss {loss!r}; one of {LOSSES}")


def generator_loss(loss: str, critic, x_real, x_fake):
    """The generator's loss for ``loss`` ∈ LOSSES (x_fake carries the generator's graph)."""
    fake_score = critic(x_fake).view(-1)
    if loss in ("qp-l1", "qp-l2"):
        with torch.no_grad():
            real_score = critic(x_real).view(-1)  # a constant for G; kept so the logged value is Δ as in the post
        return qp_generator_loss(real_score, fake_score)
    if loss == "wgan-gp":
        return wgan_generator_loss(None, fake_score)
    if loss in ("sgan", "sgan-sn"):
        return sgan_generator_loss(None, fake_score)
    raise ValueError(f"unknown loss {loss!r}; one of {LOSSES}")


# ---------------------------------------------------------------------------------------------------------------
# Sampling helpers shared by the tab and the benchmark.

def latents(seed: int, n: int, z_dim: int, temperature: float = 1.0) -> torch.Tensor:
    """n latent vectors from N(0, temperature²), reproducible from the seed alone."""
    g = torch.Generator().manual_seed(int(seed))
    return torch.randn(n, z_dim, generator=g) * temperature


def slerp(z0: torch.Tensor, z1: torch.Tensor, steps: int) -> torch.Tensor:
    """Spherical interpolation (steps, z_dim) from z0 to z1: stays at the norm a Gaussian latent has, unlike a
    straight line, whose middle is atypically short in 128 dimensions."""
    t = torch.linspace(0, 1, steps).unsqueeze(1)
    cos = (F.normalize(z0, dim=0) @ F.normalize(z1, dim=0)).clamp(-1, 1)
    omega = torch.acos(cos)
    if omega.abs() < 1e-4:
        return (1 - t) * z0 + t * z1
    return (torch.sin((1 - t) * omega) * z0 + torch.sin(t * omega) * z1) / math.sin(float(omega))


def to_grid(images: torch.Tensor, nrow: int, pad: int = 2) -> np.ndarray:
    """(N, C, H, W) in [−1, 1] → one uint8 picture (rows × cols tiles, white gutters), (H', W') or (H', W', 3)."""
    x = ((images.detach().float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).cpu().numpy()
    n, c, h, w = x.shape
    rows = math.ceil(n / nrow)
    grid = np.full((c, rows * (h + pad) + pad, nrow * (w + pad) + pad), 255, dtype=np.uint8)
    for i in range(n):
        r, col = divmod(i, nrow)
        grid[:, pad + r * (h + pad): pad + r * (h + pad) + h, pad + col * (w + pad): pad + col * (w + pad) + w] = x[i]
    return grid[0] if c == 1 else grid.transpose(1, 2, 0)


@torch.no_grad()
def sample(generator: Generator, n: int, seed: int, device="cpu", batch_size: int = 500,
           temperature: float = 1.0) -> torch.Tensor:
    """n images (n, C, 32, 32) on the CPU from latents reproducible by seed; eval mode (batch-norm running stats)."""
    generator.eval()
    z = latents(seed, n, generator.cfg.z_dim, temperature)
    return torch.cat([generator(z[i:i + batch_size].to(device)).cpu() for i in range(0, n, batch_size)])


def sample_grid(generator: Generator, seed: int, n: int, temperature: float = 1.0) -> np.ndarray:
    """n samples from latents z ~ N(0, temperature²) drawn with ``seed``, as one picture as square as it gets."""
    return to_grid(sample(generator, n, seed, temperature=temperature), nrow=math.ceil(math.sqrt(n)))


@torch.no_grad()
def interpolation_strip(generator: Generator, z0: torch.Tensor, z1: torch.Tensor, steps: int) -> np.ndarray:
    """G along the great circle from latent z0 to z1 (:func:`slerp`), ``steps`` images in one row."""
    generator.eval()
    return to_grid(generator(slerp(z0, z1, steps)), nrow=steps)


def load(path) -> Generator:
    """A trained generator in eval mode from a checkpoint folder (models/checkpoint.py) or an older stem
    (``<stem>.json`` + ``<stem>.safetensors``)."""
    config, weights = checkpoint.read_folder(path)
    model = Generator(checkpoint.config_from(GanConfig, config))
    model.load_state_dict(weights)
    return model.eval()


def save(generator: Generator, folder, card: str) -> None:
    """Write what :func:`load` reads: fp16 weights (batch-norm counters stay integers), config and card."""
    checkpoint.save_folder(folder, generator.state_dict(), asdict(generator.cfg), card)
