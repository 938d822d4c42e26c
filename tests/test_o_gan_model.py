"""models/o_gan.py: the Pearson term and the stop-gradients against hand computations, encode → decode shapes."""
import pytest
import torch

from models import o_gan
from models.gan_qp import GanConfig


def test_correlation_by_hand():
    x = torch.tensor([[1.0, 2.0, 3.0], [1.0, 2.0, 3.0], [0.0, 1.0, 0.0]])
    y = torch.tensor([[2.0, 4.0, 6.5], [3.0, 2.0, 1.0], [5.0, 5.0, 5.0]])
    r = o_gan.correlation(x, y)
    # row 0: deviations (−1, 0, 1) and (−2.1667, −0.1667, 2.3333)
    dy = torch.tensor([2.0, 4.0, 6.5]) - 12.5 / 3
    want0 = (-dy[0] + dy[2]) / (2 ** 0.5 * dy.norm())
    assert r[0].item() == pytest.approx(want0.item(), abs=1e-6)
    assert r[1].item() == pytest.approx(-1.0, abs=1e-6)
    assert r[2].item() == pytest.approx(0.0, abs=1e-6)  # a constant row has no correlation (and no NaN)
    # blind to the mean and the scale of either side: why it does not fight the critic's score
    assert torch.allclose(o_gan.correlation(3 * x + 7, y), r, atol=1e-6)


class Linear(torch.nn.Module):
    """E(x) = x·W: small enough to differentiate by hand."""

    def __init__(self, w):
        super().__init__()
        self.w = torch.nn.Parameter(w)

    def forward(self, x):
        return x.flatten(1) @ self.w


def test_loss_value_and_stop_gradients_by_hand():
    torch.manual_seed(0)
    E = Linear(torch.randn(2, 3))
    x_real = torch.randn(4, 2)
    gen_param = torch.nn.Parameter(torch.randn(4, 2))  # stands in for G's output
    z = torch.randn(4, 3)
    loss, parts = o_gan.o_gan_loss(E, x_real, gen_param, z)

    with torch.no_grad():
        er, ef = E(x_real), E(gen_param)
        t1 = er.mean(1) - ef.mean(1)
        rho = o_gan.correlation(z, ef)
        dist = (x_real - gen_param).pow(2).mean(1)
        want = (t1 - 0.5 * rho).mean() + (0.25 * t1 ** 2 / dist).mean()  # t2 is zero in value
    assert loss.item() == pytest.approx(want.item(), abs=1e-6)
    assert parts["t1"] == pytest.approx(t1.mean().item(), abs=1e-6)
    assert parts["rho"] == pytest.approx(rho.mean().item(), abs=1e-6)
    # λ other than the post's ½ (training/o_gan.py --rho-weight) scales the ρ term alone
    loss3, _ = o_gan.o_gan_loss(E, x_real, gen_param, z, rho_weight=3.0)
    assert loss3.item() == pytest.approx(want.item() - 2.5 * rho.mean().item(), abs=1e-6)

    loss.backward()
    # G (the fake images) learns from t2 = avg E(x_f) − avg E(sg x_f) and from −ρ/2 only, not from t1 or the penalty
    fake = gen_param.detach().requires_grad_(True)
    ef = E(fake)
    g_only = (ef.mean(1) - 0.5 * o_gan.correlation(z, ef)).mean()
    want_g, = torch.autograd.grad(g_only, fake)
    assert torch.allclose(gen_param.grad, want_g, atol=1e-6)
    # E learns from t1, the penalty and −ρ/2; t2's two halves cancel for E
    w = E.w.detach().clone().requires_grad_(True)
    er, ef, ef_sg = x_real @ w, gen_param.detach() @ w, gen_param.detach() @ w
    t1 = er.mean(1) - ef_sg.mean(1)
    e_only = (t1 - 0.5 * o_gan.correlation(z, ef)).mean() + (0.25 * t1 ** 2 / dist).mean()
    want_e, = torch.autograd.grad(e_only, w)
    assert torch.allclose(E.w.grad, want_e, atol=1e-6)


def test_standardise_and_encode_reconstruct_shapes():
    codes = torch.randn(5, 128) * 3 + 2
    s = o_gan.standardise(codes)
    assert torch.allclose(s.mean(1), torch.zeros(5), atol=1e-5) and torch.allclose(s.std(1), torch.ones(5), atol=1e-4)
    G, E = o_gan.build(GanConfig(width=8))
    G.eval()
    x = torch.rand(3, 1, 32, 32) * 2 - 1
    z = o_gan.encode(E, x)
    assert z.shape == (3, 128) and z.std(1).allclose(torch.full((3,), 0.9), atol=1e-3)
    assert o_gan.reconstruct(G, E, x).shape == (3, 1, 32, 32)
    assert torch.equal(o_gan.reconstruct(G, E, x), o_gan.reconstruct(G, E, x))  # deterministic in eval mode


def test_load_round_trip(tmp_path):
    import json
    from dataclasses import asdict

    from safetensors.torch import save_file

    torch.manual_seed(0)
    G, E = o_gan.build(GanConfig(width=8))
    G.eval()
    weights = {f"generator.{k}": v for k, v in G.state_dict().items()} | \
              {f"encoder.{k}": v for k, v in E.state_dict().items()}
    save_file({k: v.contiguous() for k, v in weights.items()}, str(tmp_path / "m.safetensors"))
    (tmp_path / "m.json").write_text(json.dumps({"config": asdict(G.cfg)}))
    G2, E2 = o_gan.load(tmp_path / "m")
    x = torch.rand(2, 1, 32, 32)
    assert torch.equal(E2(x), E(x)) and torch.equal(o_gan.reconstruct(G2, E2, x), o_gan.reconstruct(G, E, x))


def test_refine_moves_only_the_codes_each_on_its_own_and_lowers_the_pixel_error():
    torch.manual_seed(0)
    G, E = o_gan.build(GanConfig(z_dim=16, width=8))
    G, E = G.eval(), E.eval()
    x = torch.rand(4, 1, 32, 32) * 2 - 1
    z0 = o_gan.encode(E, x)
    z = o_gan.refine(G, z0, x, steps=30)
    with torch.no_grad():
        before, after = ((G(z0) - x) ** 2).flatten(1).sum(1), ((G(z) - x) ** 2).flatten(1).sum(1)
    assert (after < before).all()
    assert all(p.grad is None for p in G.parameters())  # the generator is not touched
    one = o_gan.refine(G, z0[:1], x[:1], steps=30)  # a batch changes nothing for an image: the loss is a sum
    assert torch.allclose(one, z[:1], atol=1e-5)
    with torch.inference_mode():  # as the tab calls it
        assert torch.allclose(o_gan.reconstruct(G, E, x, 30), G(z), atol=1e-5)
