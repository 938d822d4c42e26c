"""GAN lab: the GAN-QP tab's losses (models/gan_qp.py) on 2-D targets, small enough to train live on a CPU.

In the spirit of GAN Lab (Kahng et al. 2018): two small MLP GANs learn the same 2-D target side by side, from the
same seed, the same data and the same latents — only the loss differs — and every few dozen steps the page is sent,
for each, the generated points over the target, the critic's potential T(x) over the plane as a heat map and the
loss curves. What to look for: GAN-QP's critic is a smooth potential whose slope stays bounded by the quadratic
term Δ²/(2λd) (no weight clipping, gradient penalty or spectral norm), so the fakes slide down it to the modes;
SGAN's critic can saturate into plateaus where the generator gets little gradient; WGAN-GP pays for its penalty
with an extra backward pass. bench/bench_gan_qp.py measures each loss on the ring and the grid.

Targets: a ring of 8 Gaussians (radius 2, σ 0.05), a 5×5 grid of Gaussians (spacing 1, σ 0.05), a spiral (one arm,
1.5 turns, σ 0.04) — all inside [−2.6, 2.6]². Nets: generator z (8) → 3 × 128 ReLU → 2; critic 2 → 3 × 128
LeakyReLU(0.2) → 1; Adam 1e-3 (β 0.5, 0.9), batch 256, 2 critic steps per generator step, as the image models.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn as nn

from models.gan_qp import critic_loss, generator_loss

TARGETS = ("ring", "grid", "spiral")
BOX = 2.6  # the plane shown: [−BOX, BOX]²


@dataclass
class LabConfig:
    z_dim: int = 8
    width: int = 128
    batch: int = 256
    lr: float = 1e-3
    critic_steps: int = 2


def sample_target(name: str, n: int, g: torch.Generator) -> torch.Tensor:
    """n points (n, 2) of a target distribution."""
    if name == "ring":
        k = torch.randint(8, (n,), generator=g).float()
        centre = 2.0 * torch.stack([torch.cos(k * math.pi / 4), torch.sin(k * math.pi / 4)], 1)
        return centre + 0.05 * torch.randn(n, 2, generator=g)
    if name == "grid":
        centre = torch.randint(5, (n, 2), generator=g).float() - 2.0
        return centre + 0.05 * torch.randn(n, 2, generator=g)
    if name == "spiral":
        t = torch.rand(n, generator=g) * 3 * math.pi + 0.5  # 1.5 turns
        r = 0.25 * t
        return torch.stack([r * torch.cos(t), r * torch.sin(t)], 1) + 0.04 * torch.randn(n, 2, generator=g)
    raise ValueError(f"unknown target {name!r}; one of {TARGETS}")


def mlp(n_in: int, width: int, n_out: int, act) -> nn.Sequential:
    return nn.Sequential(nn.Linear(n_in, width), act(), nn.Linear(width, width), act(), nn.Linear(width, width),
                         act(), nn.Linear(width, n_out))


class Pair:
    """One generator and its critic, trained with one loss."""

    def __init__(self, loss: str, cfg: LabConfig, seed: int):
        torch.manual_seed(seed)  # the same initial weights for every loss
        self.loss, self.cfg = loss, cfg
        self.G = mlp(cfg.z_dim, cfg.width, 2, nn.ReLU)
        self.D = mlp(2, cfg.width, 1, lambda: nn.LeakyReLU(0.2))
        if loss == "sgan-sn":  # every layer's weight divided by its largest singular value, as the image critic
            for i, layer in enumerate(self.D):
                if isinstance(layer, nn.Linear):
                    self.D[i] = nn.utils.parametrizations.spectral_norm(layer)
        self.opt_g = torch.optim.Adam(self.G.parameters(), lr=cfg.lr, betas=(0.5, 0.9))
        self.opt_d = torch.optim.Adam(self.D.parameters(), lr=cfg.lr, betas=(0.5, 0.9))

    def step(self, real: list[torch.Tensor], noise: list[torch.Tensor]) -> tuple[float, float]:
        """critic_steps critic updates then one generator update on the given batches → (critic loss, G loss)."""
        for x, z in zip(real[:-1], noise[:-1]):
            with torch.no_grad():
                fake = self.G(z)
            d_loss = critic_loss(self.loss, self.D, x, fake)
            self.opt_d.zero_grad(set_to_none=True)
            d_loss.backward()
            self.opt_d.step()
        self.D.requires_grad_(False)
        g_loss = generator_loss(self.loss, self.D, real[-1], self.G(noise[-1]))
        self.opt_g.zero_grad(set_to_none=True)
        g_loss.backward()
        self.opt_g.step()
        self.D.requires_grad_(True)
        return d_loss.item(), g_loss.item()

    @torch.no_grad()
    def potential(self, grid: torch.Tensor) -> np.ndarray:
        return self.D(grid).view(-1).numpy()


def train(target: str, losses: tuple[str, ...], steps: int, seed: int = 0, every: int = 50, n_show: int = 1000,
          resolution: int = 96, cfg: LabConfig | None = None):
    """Train one Pair per loss side by side on the same batches; every ``every`` steps (and at the end) yield
    {"step", "target": (n_show, 2), "losses": {loss: {"fake": (n_show, 2), "potential": (res, res), "d_loss",
    "g_loss"}}} — the fakes from fixed latents, the critic over the plane (row 0 at the top, y = +BOX)."""
    cfg = cfg or LabConfig()
    pairs = [Pair(loss, cfg, seed) for loss in losses]
    g = torch.Generator().manual_seed(seed)
    shown_z = torch.randn(n_show, cfg.z_dim, generator=g)
    shown_target = sample_target(target, n_show, g).numpy()
    axis = torch.linspace(-BOX, BOX, resolution)
    yy, xx = torch.meshgrid(axis.flip(0), axis, indexing="ij")
    plane = torch.stack([xx.reshape(-1), yy.reshape(-1)], 1)
    for step in range(1, steps + 1):
        real = [sample_target(target, cfg.batch, g) for _ in range(cfg.critic_steps + 1)]
        noise = [torch.randn(cfg.batch, cfg.z_dim, generator=g) for _ in range(cfg.critic_steps + 1)]
        scores = [p.step(real, noise) for p in pairs]
        if step % every == 0 or step == steps:
            out = {}
            for p, (d, gl) in zip(pairs, scores):
                with torch.no_grad():
                    fake = p.G(shown_z).numpy()
                out[p.loss] = {"fake": fake, "potential": p.potential(plane).reshape(resolution, resolution),
                               "d_loss": d, "g_loss": gl}
            yield {"step": step, "target": shown_target, "losses": out}


def mode_coverage(target: str, points: np.ndarray, radius: float = 0.25) -> tuple[int, int, float]:
    """For the ring and the grid: (modes with at least 1 % of the points within ``radius``, modes, share of points
    within ``radius`` of some mode) — the usual 2-D GAN scores (modes covered, high-quality samples)."""
    if target == "ring":
        modes = np.array([[2 * math.cos(k * math.pi / 4), 2 * math.sin(k * math.pi / 4)] for k in range(8)])
    elif target == "grid":
        modes = np.array([[i, j] for i in range(-2, 3) for j in range(-2, 3)], float)
    else:
        raise ValueError("mode coverage is defined for the ring and the grid")
    d = np.linalg.norm(points[:, None, :] - modes[None], axis=2)  # (n, modes)
    near = d.min(1) < radius
    counts = np.bincount(d.argmin(1)[near], minlength=len(modes))
    return int((counts >= 0.01 * len(points)).sum()), len(modes), float(near.mean())


def render(target: np.ndarray, fake: np.ndarray, potential: np.ndarray, size: int = 360) -> np.ndarray:
    """One panel (size, size, 3) uint8: the potential as a heat map (blue low → white → red high, normalised to its
    own range), the target points in grey and the generated points in black — drawn with numpy, no plotting library,
    so a frame costs milliseconds."""
    p = potential - np.median(potential)
    p = p / max(1e-9, np.abs(p).max())  # (res, res) in [−1, 1]
    red = np.array([214, 39, 40], float)
    blue = np.array([31, 119, 180], float)
    white = np.full(3, 255.0)
    w = np.abs(p)[..., None]
    img = np.where(p[..., None] > 0, (1 - w) * white + w * red, (1 - w) * white + w * blue)
    img = 0.55 * img + 0.45 * white  # paler, so the points stay readable
    res = potential.shape[0]
    idx = (np.arange(size) * res // size)
    img = img[idx][:, idx].astype(np.uint8)

    def dots(points, colour, r):
        px = np.round((points[:, 0] + BOX) / (2 * BOX) * (size - 1)).astype(int)
        py = np.round((BOX - points[:, 1]) / (2 * BOX) * (size - 1)).astype(int)
        for dx in range(-r, r + 1):
            for dy in range(-r, r + 1):
                x, y = px + dx, py + dy
                ok = (x >= 0) & (x < size) & (y >= 0) & (y < size)
                img[y[ok], x[ok]] = colour

    dots(target, (150, 150, 150), 1)
    dots(fake, (20, 20, 20), 1)
    return img
