"""models/spectrum.py: Su's network's shapes and blocks, the soft macro-F1 loss, the hard macro-F1, scaling."""
import math

import pytest
import torch

from models.spectrum import CLASSES, HalvesBlock, SpectrumConfig, SpectrumNet, macro_f1, macro_f1_loss, scale


def test_network_maps_2600_points_to_4_classes():
    torch.manual_seed(0)
    model = SpectrumNet(SpectrumConfig()).eval()
    x = torch.randn(3, 2600)
    assert model(x).shape == (3, len(CLASSES)) == (3, 4)
    # seven max pools: 2600 → 20 positions of 128 channels before the global max pool
    assert model.features(x).shape == (3, 128, 2600 // 2 ** 7)


def test_halves_block_adds_the_two_halves_and_the_residual():
    torch.manual_seed(0)
    block = HalvesBlock(4, 4, dilations=(1,))
    x = torch.randn(2, 4, 9)
    conv = block.convs[0]
    h = torch.relu(conv(x))
    assert torch.allclose(block(x), x + h[:, :4] + h[:, 4:], atol=1e-6)
    widened = HalvesBlock(2, 8)
    assert isinstance(widened.skip, torch.nn.Conv1d) and widened(torch.randn(1, 2, 16)).shape == (1, 8, 16)


def test_dropout_drops_whole_channels():
    torch.manual_seed(0)
    model = SpectrumNet(SpectrumConfig(dropout=0.5)).train()
    h = model.drop(torch.ones(2, 128, 20))
    per_channel = h.amax(-1) == h.amin(-1)   # a channel is all zero or all kept (scaled), never mixed
    assert per_channel.all() and (h == 0).any() and (h > 0).any()


def test_macro_f1_loss_by_hand():
    logits = torch.log(torch.tensor([[0.7, 0.1, 0.1, 0.1], [0.2, 0.6, 0.1, 0.1], [0.25, 0.25, 0.25, 0.25]]))
    labels = torch.tensor([0, 1, 0])
    p = logits.softmax(-1)
    # class 0: Σyp = 0.7 + 0.25, Σ(y+p) = 2 + (0.7+0.2+0.25); class 1: 0.6 / (1 + 0.1+0.6+0.25);
    # classes 2, 3: no examples → Σyp = 0
    f1 = [2 * 0.95 / (2 + 1.15), 2 * 0.6 / (1 + 0.95), 0.0, 0.0]
    assert p[0, 0].item() == pytest.approx(0.7)
    assert macro_f1_loss(logits, labels).item() == pytest.approx(-math.log(sum(f1) / 4), rel=1e-5)


def test_macro_f1_loss_is_lowest_for_confident_right_answers():
    labels = torch.tensor([0, 1, 2, 3])
    right = torch.eye(4) * 20
    wrong = torch.roll(torch.eye(4), 1, dims=1) * 20
    assert macro_f1_loss(right, labels).item() < 1e-3 < macro_f1_loss(torch.zeros(4, 4), labels).item()
    assert macro_f1_loss(wrong, labels).item() > macro_f1_loss(torch.zeros(4, 4), labels).item()


def test_hard_macro_f1():
    labels = torch.tensor([0, 0, 1, 2, 3, 3])
    pred = torch.tensor([0, 1, 1, 2, 3, 0])
    f1, per_class = macro_f1(pred, labels)
    assert per_class == pytest.approx([2 * 1 / 4, 2 * 1 / 3, 1.0, 2 * 1 / 3])
    assert f1 == pytest.approx(sum(per_class) / 4)


def test_scale_divides_by_the_median_absolute_flux_and_clips_spikes():
    x = torch.tensor([[1.0, 2.0, 3.0, -4.0, 100.0], [0.0, 0.0, 0.0, 0.0, 0.0]])
    y = scale(x)
    assert torch.allclose(y[0, :4], x[0, :4] / 3.0) and y[0, 4] == 10.0 and (y[1] == 0).all()
