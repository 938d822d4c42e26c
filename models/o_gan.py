"""O-GAN — orthogonal GAN: the discriminator becomes an encoder (Su 2019, arXiv 1903.01931; kexue.fm/archives/6409).

The critic is an encoder E: x → R^{n_z} whose *average* over the code dimensions is the critic's score,
T(x) = avg(E(x)). One extra term makes the code meaningful: the Pearson correlation between the latent z and the
code of the image made from it,

    ρ(z, E(G(z))) = Σ_i (z_i − z̄)(e_i − ē) / (‖z − z̄‖ ‖e − ē‖)      (across the n_z dimensions of one sample)

is *maximised* by both E and G (loss term −λρ, λ = 0.5). Correlation rather than MSE: it ignores the code's mean
(which is the critic's score — the mean and the direction of a vector are orthogonal, hence the name) and its scale,
so the score and the code do not fight. Following the post's code, one loss trains both nets in one optimiser step,
with stop-gradients sg(·) deciding who learns what (scores are "real low, fake high" there):

    t1 = avg E(x_r) − avg E(sg(x_f))        E's critic term: only E learns from it
    t2 = avg E(x_f) − avg E(sg(x_f))        zero in value; its gradient reaches only G (the E parts cancel)
    loss = mean(t1 + t2 − λρ) + mean(t1² / (4 · mean((x_r − sg(x_f))²)))     the second mean: GAN-QP's quadratic
                                                                              penalty with a squared-L2 distance

Reconstruction: x̂ = G(0.9 · standardise(E(x))) — standardising (mean 0, std 1 across dimensions) puts the code
where the latents live, since ρ ignored its mean and scale; 0.9 is a mild truncation. Refined reconstruction (not
in the post): the encoder's code is the start of a few Adam steps on z that lower ‖G(z) − x‖² + 10⁻³‖z‖² — the
encoder-initialised inversion of In-Domain GAN Inversion (Zhu et al. 2020). The encoder alone is one pass; 100 steps
(chosen on training images) add detail the 128-d code lost (bench/bench_o_gan.py measures both, and the same steps
started from the nearest of 10,000 GAN-QP samples instead of from E(x)).

The nets are GAN-QP's (models/gan_qp.py): its generator, and its critic with n_z outputs as the encoder.
"""
from __future__ import annotations

from dataclasses import asdict

import torch

from models import checkpoint
from models.gan_qp import Critic, GanConfig, Generator, latents, sample

RHO_WEIGHT = 0.5
RECON_SCALE = 0.9
REFINE_STEPS = 100  # Adam steps of the refined reconstruction (lr 0.05), chosen on training images (bench)
REFINE_PRIOR = 1e-3  # weight of ‖z‖², which keeps the refined code where latents live


def correlation(x: torch.Tensor, y: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """Pearson correlation of each row of x with the same row of y: (B, D), (B, D) → (B,)."""
    x = x - x.mean(1, keepdim=True)
    y = y - y.mean(1, keepdim=True)
    return (x * y).sum(1) / (x.norm(dim=1) * y.norm(dim=1) + eps)


def o_gan_loss(encoder: Critic, x_real: torch.Tensor, x_fake: torch.Tensor, z: torch.Tensor,
               rho_weight: float = RHO_WEIGHT):
    """The post's single loss for E and G → (loss, {"t1", "rho"} as floats for logging).

    x_fake = G(z) must carry G's graph; the stop-gradients inside route each term to the right net."""
    e_real = encoder(x_real)                       # (B, n_z)
    e_fake = encoder(x_fake)                       # (B, n_z): gradient to E and G
    e_fake_sg = encoder(x_fake.detach())           # (B, n_z): gradient to E only
    t1 = e_real.mean(1) - e_fake_sg.mean(1)        # (B,)
    t2 = e_fake.mean(1) - e_fake_sg.mean(1)        # (B,) = 0, ∂/∂E cancels, ∂/∂G remains
    rho = correlation(z, e_fake)                   # (B,)
    dist = (x_real - x_fake.detach()).pow(2).flatten(1).mean(1)  # (B,)
    loss = (t1 + t2 - rho_weight * rho).mean() + (0.25 * t1.pow(2) / dist).mean()
    return loss, {"t1": t1.mean().item(), "rho": rho.mean().item()}


def standardise(codes: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """Each code vector to mean 0, standard deviation 1 across its dimensions."""
    return (codes - codes.mean(1, keepdim=True)) / (codes.std(1, keepdim=True) + eps)


@torch.no_grad()
def encode(encoder: Critic, x: torch.Tensor) -> torch.Tensor:
    """Images (B, C, 32, 32) → latents (B, n_z) ready for the generator: 0.9 · standardise(E(x))."""
    return RECON_SCALE * standardise(encoder(x))


def refine(generator: Generator, z: torch.Tensor, x: torch.Tensor, steps: int = REFINE_STEPS,
           lr: float = 0.05) -> torch.Tensor:
    """``steps`` Adam steps on the latents z (B, n_z), from where they are, lowering Σ‖G(z) − x‖² + 10⁻³·Σ‖z‖²;
    only z changes (gradients are taken with respect to z alone). Each image's code moves on its own: the
    generator is in eval mode (batch norm's running statistics) and the loss is a sum over the batch."""
    with torch.inference_mode(False), torch.enable_grad():
        z = z.detach().clone().requires_grad_(True)
        x = x.detach().clone()
        opt = torch.optim.Adam([z], lr=lr)
        for _ in range(steps):
            loss = (generator(z) - x).pow(2).sum() + REFINE_PRIOR * z.pow(2).sum()
            z.grad, = torch.autograd.grad(loss, z)
            opt.step()
    return z.detach()


def reconstruct(generator: Generator, encoder: Critic, x: torch.Tensor, refine_steps: int = 0) -> torch.Tensor:
    """x̂ = G(0.9 · standardise(E(x))), (B, C, 32, 32); with ``refine_steps``, G of the code :func:`refine`d from
    there."""
    z = encode(encoder, x)
    if refine_steps:
        z = refine(generator, z, x, refine_steps)
    with torch.no_grad():
        return generator(z)


def build(cfg: GanConfig) -> tuple[Generator, Critic]:
    """A generator and an encoder (the critic with z_dim outputs) for ``cfg``."""
    cfg = GanConfig(**{**cfg.__dict__, "out_dim": cfg.z_dim})
    return Generator(cfg), Critic(cfg)


def load(path) -> tuple[Generator, Critic]:
    """(generator, encoder) in eval mode from a checkpoint folder (models/checkpoint.py; one weights file with keys
    ``generator.*`` and ``encoder.*``) or an older stem (``<stem>.json`` + ``<stem>.safetensors``)."""
    config, weights = checkpoint.read_folder(path)
    G, E = build(checkpoint.config_from(GanConfig, config))
    for prefix, net in (("generator.", G), ("encoder.", E)):
        net.load_state_dict({k[len(prefix):]: v for k, v in weights.items() if k.startswith(prefix)})
    return G.eval(), E.eval()


def save(generator_and_encoder: tuple[Generator, Critic], folder, card: str) -> None:
    """Write what :func:`load` reads: both nets' fp16 weights in one file, the generator's config, the card."""
    G, E = generator_and_encoder
    weights = {f"generator.{k}": v for k, v in G.state_dict().items()} | \
              {f"encoder.{k}": v for k, v in E.state_dict().items()}
    checkpoint.save_folder(folder, weights, asdict(G.cfg), card)


@torch.no_grad()
def evaluate(G: Generator, E: Critic, x_test: torch.Tensor, y_test: torch.Tensor, fid, classifier,
             n_samples: int = 10_000, refine_steps: int = REFINE_STEPS) -> dict:
    """FID of samples (``fid``: images → FID, e.g. models.image_classifier.FidScorer); on the test images: the
    reconstruction pixel MSE (images in [0, 1]), the rate at which ``classifier`` gives a reconstruction the
    original's label (and, for scale, the originals themselves) — for the encoder alone and, with ``refine_steps``,
    for the refined reconstruction (``recon_refined_*``) — and ρ(z, E(G(z)))."""
    classifier = classifier.cpu().eval()
    G, E = G.eval(), E.eval()
    recon = torch.cat([reconstruct(G, E, x_test[i:i + 500]) for i in range(0, len(x_test), 500)])
    refined = (torch.cat([reconstruct(G, E, x_test[i:i + 500], refine_steps) for i in range(0, len(x_test), 500)])
               if refine_steps else None)
    z = latents(30_000, n_samples, G.cfg.z_dim)
    codes = torch.cat([E(G(z[i:i + 500])) for i in range(0, n_samples, 500)])

    def labels(images):
        return torch.cat([classifier(images[i:i + 500]).argmax(1) for i in range(0, len(images), 500)])

    out = {"fid_10k": fid(sample(G, n_samples, seed=20_000)),
           "recon_mse": ((recon - x_test) / 2).pow(2).mean().item(),
           "recon_label_rate": (labels(recon) == y_test).float().mean().item(),
           "original_label_rate": (labels(x_test) == y_test).float().mean().item(),
           "rho": correlation(z, codes).mean().item(), "n_test": len(y_test)}
    if refined is not None:
        out |= {"refine_steps": refine_steps, "recon_refined_mse": ((refined - x_test) / 2).pow(2).mean().item(),
                "recon_refined_label_rate": (labels(refined) == y_test).float().mean().item()}
    return out
