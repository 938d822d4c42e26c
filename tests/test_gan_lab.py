"""The 2-D GAN lab (models/gan_lab.py) and its place in the GAN-QP tab."""
import math

import gradio as gr
import numpy as np
import pytest
import torch

from demos import gan_qp
from models import gan_lab
from models.gan_qp import critic_loss


@pytest.mark.parametrize("target", gan_lab.TARGETS)
def test_targets_are_seeded_and_inside_the_plane(target):
    a = gan_lab.sample_target(target, 2000, torch.Generator().manual_seed(0))
    b = gan_lab.sample_target(target, 2000, torch.Generator().manual_seed(0))
    assert a.shape == (2000, 2) and torch.equal(a, b) and a.abs().max() < gan_lab.BOX
    if target == "ring":
        assert (a.norm(dim=1) - 2).abs().max() < 0.3


def test_mode_coverage_by_hand():
    modes = np.array([[2 * math.cos(k * math.pi / 4), 2 * math.sin(k * math.pi / 4)] for k in range(8)])
    assert gan_lab.mode_coverage("ring", np.repeat(modes, 10, 0)) == (8, 8, 1.0)
    collapsed = np.repeat(modes[:1], 80, 0)
    assert gan_lab.mode_coverage("ring", collapsed) == (1, 8, 1.0)
    between = np.zeros((40, 2))  # the centre: near no mode
    assert gan_lab.mode_coverage("ring", np.concatenate([collapsed, between])) == (1, 8, pytest.approx(2 / 3))
    assert gan_lab.mode_coverage("grid", np.array([[0.0, 0.0], [2.0, -2.0]]))[:2] == (2, 25)


def test_gradient_penalty_works_on_points_and_is_zero_for_a_unit_slope_critic():
    critic = torch.nn.Linear(2, 1)
    with torch.no_grad():
        critic.weight.copy_(torch.tensor([[0.6, 0.8]]))  # ‖∇T‖ = 1 everywhere
    x, y = torch.randn(64, 2), torch.randn(64, 2)
    gap = (critic(y).mean() - critic(x).mean()).item()
    assert critic_loss("wgan-gp", critic, x, y).item() == pytest.approx(gap, abs=1e-5)


def test_render_draws_target_grey_and_fakes_black_over_the_potential():
    potential = np.tile(np.linspace(-1, 1, 32), (32, 1))  # rises to the right
    img = gan_lab.render(np.array([[-2.0, 0.0]]), np.array([[2.0, 2.0]]), potential, size=100)
    assert img.shape == (100, 100, 3) and img.dtype == np.uint8
    col = lambda v: int(round((v + gan_lab.BOX) / (2 * gan_lab.BOX) * 99))  # noqa: E731
    assert tuple(img[col(0.0), col(-2.0)]) == (150, 150, 150)          # target point (y = 0: the middle row)
    assert tuple(img[99 - col(2.0), col(2.0)]) == (20, 20, 20)          # fake point (y up: row from the top)
    assert img[50, 95, 0] > img[50, 95, 2] and img[50, 3, 2] > img[50, 3, 0]  # red high on the right, blue left


def test_training_is_seeded_and_learns_the_ring():
    snaps = list(gan_lab.train("ring", ("qp-l1", "sgan"), 300, seed=3, every=150))
    assert [s["step"] for s in snaps] == [150, 300]
    again = list(gan_lab.train("ring", ("qp-l1",), 150, seed=3, every=150))
    assert np.array_equal(again[0]["losses"]["qp-l1"]["fake"], snaps[0]["losses"]["qp-l1"]["fake"])
    fake = {k: v["fake"] for k, v in snaps[-1]["losses"].items()}
    assert not np.array_equal(fake["qp-l1"], fake["sgan"])  # same seed and data, different loss
    radius = np.abs(np.linalg.norm(fake["qp-l1"], axis=1) - 2).mean()
    assert radius < 0.5  # an untrained generator puts its points near the origin, 2 away from the ring
    assert snaps[-1]["losses"]["qp-l1"]["potential"].shape == (96, 96)


def test_the_tab_streams_frames_with_curves_and_notes():
    frames = list(gan_qp.lab("grid", "qp-l2", "wgan-gp", 100, 1))
    assert len(frames) == 100 // gan_qp.LAB_EVERY
    left, right, curves, notes = frames[-1]
    assert left.shape == right.shape == (360, 360, 3)
    assert set(curves["series"]) == {"GAN-QP L2 · critic 判别器", "GAN-QP L2 · G 生成器", "WGAN-GP · critic 判别器",
                                     "WGAN-GP · G 生成器"}
    assert "第 100 / 100 步" in notes and "/25 个模式 modes" in notes
    same = list(gan_qp.lab("spiral", "sgan", "sgan", 50, 0))[-1]
    assert np.array_equal(same[0], same[1]) and len(same[2]) == 2


@pytest.mark.parametrize("args,message", [
    (("moon", "qp-l1", "sgan", 100, 0), "目标分布"), (("ring", "lsgan", "sgan", 100, 0), "损失"),
    (("ring", "qp-l1", ["sgan"], 100, 0), "损失"), (("ring", "qp-l1", "sgan", 10_000, 0), "训练步数"),
    (("ring", "qp-l1", "sgan", "many", 0), "训练步数"), (("ring", "qp-l1", "sgan", 100, -3), "种子"),
])
def test_bad_lab_input_is_refused_in_both_languages(args, message):
    with pytest.raises(gr.Error, match=message):
        next(gan_qp.lab(*args))
