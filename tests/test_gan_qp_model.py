"""models/gan_qp.py: the losses against hand computations, shapes, sampling helpers."""
import math

import numpy as np
import pytest
import torch

from models import gan_qp
from models.gan_qp import GanConfig, Critic, Generator
from models.image_classifier import ClassifierConfig, ImageClassifier, frechet_distance, gaussian


def tiny_batch():
    # two pairs of 1×1×2 "images": pair 0 differs by (1, 1), pair 1 by (0.5, −1.5)
    x_real = torch.tensor([[[[1.0, 1.0]]], [[[0.0, -1.0]]]])
    x_fake = torch.tensor([[[[0.0, 0.0]]], [[[-0.5, 0.5]]]])
    return x_real, x_fake


def test_pair_distance_l1_l2_by_hand():
    x_real, x_fake = tiny_batch()
    assert gan_qp.pair_distance(x_real, x_fake, "l1").tolist() == pytest.approx([1.0, 1.0])
    assert gan_qp.pair_distance(x_real, x_fake, "l2").tolist() == pytest.approx([1.0, math.sqrt(1.25)])
    with pytest.raises(ValueError):
        gan_qp.pair_distance(x_real, x_fake, "l3")


def test_qp_critic_loss_by_hand():
    x_real, x_fake = tiny_batch()
    real, fake = torch.tensor([3.0, 1.0]), torch.tensor([1.0, 2.0])  # Δ = (2, −1)
    # L1: d = 10·(1, 1) → mean(−2 + 4/20, 1 + 1/20) = mean(−1.8, 1.05)
    assert gan_qp.qp_critic_loss(real, fake, x_real, x_fake, "l1").item() == pytest.approx((-1.8 + 1.05) / 2)
    # L2: d = 10·(1, √1.25)
    want = ((-2 + 4 / 20) + (1 + 1 / (20 * math.sqrt(1.25)))) / 2
    assert gan_qp.qp_critic_loss(real, fake, x_real, x_fake, "l2").item() == pytest.approx(want)


def test_critic_gradient_raises_real_and_lowers_fake_scores_until_the_bound():
    x_real, x_fake = tiny_batch()  # L1 d = 10 for both pairs
    real = torch.tensor([0.5, 25.0], requires_grad=True)
    fake = torch.tensor([0.0, 0.0], requires_grad=True)
    gan_qp.qp_critic_loss(real, fake, x_real, x_fake, "l1").backward()
    # ∂L/∂T(x_r) = (−1 + Δ/d)/B: pair 0 (Δ = 0.5 < λd) pushes the real score up (gradient descent on a negative
    # gradient); pair 1 (Δ = 25 > λd = 10) pulls it back down — the soft Lipschitz bound
    assert real.grad.tolist() == pytest.approx([(-1 + 0.05) / 2, (-1 + 2.5) / 2])
    assert fake.grad.tolist() == pytest.approx([-g for g in real.grad.tolist()])
    assert real.grad[0] < 0 < real.grad[1]


def test_generator_loss_has_no_quadratic_term():
    real = torch.tensor([3.0, 1.0])
    fake = torch.tensor([1.0, 2.0], requires_grad=True)
    loss = gan_qp.qp_generator_loss(real, fake)
    assert loss.item() == pytest.approx(((3 - 1) + (1 - 2)) / 2)
    loss.backward()
    assert fake.grad.tolist() == pytest.approx([-0.5, -0.5])  # the same for every pair, whatever its distance


def test_generator_loss_through_the_critic_is_the_mean_score_gap():
    torch.manual_seed(0)
    cfg = GanConfig(width=8)
    G, D = Generator(cfg), Critic(cfg)
    x_real, z = torch.rand(4, 1, 32, 32) * 2 - 1, torch.randn(4, 128)
    fake = G(z)
    loss = gan_qp.generator_loss("qp-l1", D, x_real, fake)
    with torch.no_grad():
        assert loss.item() == pytest.approx((D(x_real).mean() - D(fake).mean()).item(), abs=1e-6)
    loss.backward()
    assert all(p.grad is not None for p in G.parameters())
    # the real scores are a constant: only the fake path reaches the critic's input layer
    x_real.requires_grad_(True)
    again = gan_qp.generator_loss("qp-l1", D, x_real, G(z))
    assert torch.autograd.grad(again, x_real, allow_unused=True)[0] is None


def test_sgan_and_wgan_gp_by_hand():
    real, fake = torch.tensor([2.0, 0.0]), torch.tensor([-1.0, 1.0])
    sp = lambda v: math.log1p(math.exp(v))  # noqa: E731
    assert gan_qp.sgan_critic_loss(real, fake).item() == pytest.approx((sp(-2) + sp(0)) / 2 + (sp(-1) + sp(1)) / 2)
    assert gan_qp.sgan_generator_loss(real, fake).item() == pytest.approx((sp(1) + sp(-1)) / 2)
    assert gan_qp.wgan_generator_loss(real, fake).item() == pytest.approx(0.0)

    class Linear(torch.nn.Module):  # T(x) = a·Σx: ‖∇T‖ = |a|·√(#pixels) everywhere
        def __init__(self, a):
            super().__init__()
            self.a = a

        def forward(self, x):
            return self.a * x.flatten(1).sum(1, keepdim=True)

    x_real, x_fake = tiny_batch()  # 2 pixels
    critic = Linear(2.0)
    rs, fs = critic(x_real).view(-1), critic(x_fake).view(-1)
    got = gan_qp.wgan_gp_critic_loss(critic, x_real, x_fake, rs, fs).item()
    assert got == pytest.approx(fs.mean().item() - rs.mean().item() + 10 * (2 * math.sqrt(2) - 1) ** 2)


@pytest.mark.parametrize("loss", gan_qp.LOSSES)
def test_every_loss_trains_one_step(loss):
    torch.manual_seed(0)
    cfg = GanConfig(width=8)
    G, D = Generator(cfg), Critic(cfg)
    x = torch.rand(4, 1, 32, 32) * 2 - 1
    d_loss = gan_qp.critic_loss(loss, D, x, G(torch.randn(4, 128)))
    d_loss.backward()
    assert torch.isfinite(d_loss) and all(p.grad is not None for p in D.parameters())
    assert all(p.grad is None for p in G.parameters())  # the fakes are detached for the critic
    with pytest.raises(ValueError):
        gan_qp.critic_loss("lsgan", D, x, x)


def test_shapes_and_parameter_counts():
    cfg = GanConfig()
    G, D = Generator(cfg).eval(), Critic(cfg)
    x = G(torch.randn(3, 128))
    assert x.shape == (3, 1, 32, 32) and x.abs().max() <= 1
    assert D(x).shape == (3, 1)
    assert Critic(GanConfig(out_dim=128))(x).shape == (3, 128)  # O-GAN's encoder
    assert sum(p.numel() for p in G.parameters()) == 1_185_857
    assert sum(p.numel() for p in D.parameters()) == 660_929


def test_latents_are_determined_by_the_seed():
    a, b = gan_qp.latents(5, 4, 128), gan_qp.latents(5, 4, 128)
    assert torch.equal(a, b) and not torch.equal(a, gan_qp.latents(6, 4, 128))
    assert torch.allclose(gan_qp.latents(5, 4, 128, 0.5), a * 0.5)
    assert gan_qp.latents(5, 4, 128, 0.0).abs().sum() == 0


def test_slerp_ends_and_keeps_the_norm():
    z0, z1 = gan_qp.latents(1, 1, 128)[0], gan_qp.latents(2, 1, 128)[0]
    path = gan_qp.slerp(z0, z1, 7)
    assert path.shape == (7, 128)
    assert torch.allclose(path[0], z0, atol=1e-5) and torch.allclose(path[-1], z1, atol=1e-5)
    norms = path.norm(dim=1)
    assert norms.min() > 0.9 * min(z0.norm(), z1.norm())  # a straight line would dip to ~0.71 in the middle
    assert torch.allclose(gan_qp.slerp(z0, z0, 3), z0.expand(3, -1), atol=1e-5)


def test_to_grid_layout():
    images = torch.stack([torch.full((1, 32, 32), v) for v in (-1.0, 0.0, 1.0)])
    grid = gan_qp.to_grid(images, nrow=2, pad=2)
    assert grid.shape == (2 * 34 + 2, 2 * 34 + 2) and grid.dtype == np.uint8
    assert grid[2, 2] == 0 and grid[2, 36] == 128 and grid[36, 2] == 255 and grid[0, 0] == 255
    colour = gan_qp.to_grid(torch.zeros(2, 3, 32, 32), nrow=2)
    assert colour.shape == (36, 70, 3)


def test_load_reads_a_checkpoint_of_the_older_stem_layout(tmp_path):
    import json
    from dataclasses import asdict

    from safetensors.torch import save_file

    torch.manual_seed(0)
    G = Generator(GanConfig(width=8)).eval()
    save_file({k: v.half() if v.is_floating_point() else v for k, v in G.state_dict().items()},
              str(tmp_path / "g.safetensors"))
    (tmp_path / "g.json").write_text(json.dumps({"config": asdict(G.cfg)}))
    loaded = gan_qp.load(tmp_path / "g")
    z = torch.randn(2, 128)
    with torch.no_grad():
        assert torch.allclose(loaded(z), G(z), atol=2e-2)  # fp16 weights


def test_frechet_distance_matches_the_textbook_formula():
    from scipy import linalg

    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(400, 6)), rng.normal(size=(300, 6)) @ rng.normal(size=(6, 6)) + 1
    (m1, s1), (m2, s2) = gaussian(a), gaussian(b)
    covmean = linalg.sqrtm(s1 @ s2).real
    want = ((m1 - m2) ** 2).sum() + np.trace(s1 + s2 - 2 * covmean)
    assert frechet_distance(m1, s1, m2, s2) == pytest.approx(want, rel=1e-6)
    assert frechet_distance(m1, s1, m1, s1) == pytest.approx(0.0, abs=1e-8)


def test_classifier_features_and_logits():
    model = ImageClassifier(ClassifierConfig()).eval()
    x = torch.zeros(5, 1, 32, 32)
    assert model(x).shape == (5, 10) and model.features(x).shape == (5, 128)


def test_precision_recall_by_hand():
    from models.image_classifier import precision_recall

    rng = np.random.default_rng(0)
    real = rng.normal(size=(300, 4))
    assert precision_recall(real, real.copy()) == (1.0, 1.0)
    far = real + 100.0  # every sample far from every real point: neither realistic nor covering
    assert precision_recall(real, far) == (0.0, 0.0)
    # a generator that covers only half of the data (x₀ > 0): realistic samples, half the data covered
    half = real[real[:, 0] > 0]
    precision, recall = precision_recall(real, half, chunk=64)
    assert precision == 1.0 and 0.35 < recall < 0.75


def test_class_shares_count_the_argmax():
    from models.image_classifier import ClassifierConfig, ImageClassifier, class_shares

    model = ImageClassifier(ClassifierConfig(width=4, feature_dim=8)).eval()
    with torch.no_grad():
        for p in model.head.parameters():
            p.zero_()
        model.head[1].bias[3] = 1.0  # every image → class 3
    shares = class_shares(model, torch.zeros(7, 1, 32, 32), batch_size=3)
    assert shares.tolist() == [0, 0, 0, 1, 0, 0, 0, 0, 0, 0]
