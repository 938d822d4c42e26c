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


def test_template_fit_finds_the_redshift_of_a_spectrum_made_from_its_basis():
    import numpy as np

    from models.spectrum import GRID, REST, template_fit

    rng = np.random.default_rng(0)
    continuum = (REST / 5000) ** -1.0
    lines = sum(np.exp(-0.5 * ((REST - c) / 4) ** 2) for c in (1549, 1909, 2799, 3727, 4862, 5008, 6564))
    basis = np.stack([continuum, lines])
    for z, lo, hi in ((0.0, 0.0, 0.45), (0.0042, 0.0, 0.45), (0.2371, 0.0, 0.45), (2.05, 0.5, 2.7)):
        flux = np.interp(GRID / (1 + z), REST, 2 * continuum + 3 * lines) + 0.3 + rng.normal(0, 0.05, len(GRID))
        fit = template_fit(flux, basis, lo, hi)
        # within a tenth of a pixel (a pixel is Δln(1+z) ≈ 3.4e-4); the offset goes to the polynomial (which can
        # also take part of the smooth continuum), the lines to their template
        assert abs(np.log1p(fit["z"]) - np.log1p(z)) < 3.4e-5, (z, fit["z"])
        assert np.abs(fit["model"] - flux).std() < 0.06 and fit["coefficients"][1] == pytest.approx(3, rel=0.05)
        assert lo <= fit["zs"].min() and fit["zs"].max() <= hi


def test_temperature_is_found_again():
    from models.spectrum import fit_temperature

    torch.manual_seed(0)
    true_logits = torch.randn(20_000, 4) * 3
    labels = torch.distributions.Categorical(logits=true_logits).sample()
    # an over-confident model: logits twice as large as the calibrated ones → T ≈ 2 undoes it
    assert fit_temperature(2 * true_logits, labels) == pytest.approx(2.0, rel=0.05)
    assert fit_temperature(true_logits, labels) == pytest.approx(1.0, rel=0.05)


def test_prior_shift_and_temperature_change_the_probabilities_as_documented():
    torch.manual_seed(0)
    cfg = SpectrumConfig(n_points=200, widths=(4, 4, 8, 8, 8, 8, 8, 8), hidden=8,
                         log_prior_shift=(math.log(2), 0.0, 0.0, 0.0), temperature=2.0)
    model = SpectrumNet(cfg).eval()
    logits = torch.randn(5, 4)
    expected = (logits + torch.tensor([math.log(2), 0, 0, 0])) / 2
    assert torch.allclose(model.calibrated(logits), expected)


def test_outlier_score_flags_what_is_far_from_every_class():
    from models.spectrum import fit_outlier_score

    torch.manual_seed(0)
    cfg = SpectrumConfig(n_points=256, widths=(4, 4, 8, 8, 8, 8, 8, 8), hidden=16)
    model = SpectrumNet(cfg).eval()
    # two kinds of inputs the model "knows": smooth ramps up and down, with noise
    ramp = torch.linspace(-1, 1, 256)
    X = torch.cat([ramp + 0.1 * torch.randn(300, 256), -ramp + 0.1 * torch.randn(300, 256)])
    y = torch.cat([torch.zeros(300, dtype=torch.long), torch.ones(300, dtype=torch.long)])
    Xv = torch.cat([ramp + 0.1 * torch.randn(100, 256), -ramp + 0.1 * torch.randn(100, 256)])
    threshold = fit_outlier_score(model, X, y, Xv)
    with torch.no_grad():
        inside = model.outlier_score(model.embed(Xv))
        far = model.outlier_score(model.embed(5 * torch.randn(50, 256)))
    assert (inside <= threshold).float().mean() >= 0.99 and (far > threshold).float().mean() > 0.9


def test_subclass_head_reads_the_same_features():
    torch.manual_seed(0)
    model = SpectrumNet(SpectrumConfig()).eval()
    x = torch.randn(2, 2600)
    assert model.subclass(model.embed(x)).shape == (2, 6) and torch.allclose(model.out(model.embed(x)), model(x))


def test_a_star_is_matched_to_its_own_template_and_velocity():
    import numpy as np

    from models.spectrum import GRID, REST, fit_class

    rng = np.random.default_rng(1)
    lines = [3934, 3969, 4102, 4340, 4861, 5175, 5893, 6563, 8542]
    stars = np.stack([1 + 0.2 * np.sin(REST / (300 + 40 * i)) - sum(
        (0.2 + 0.05 * ((i + j) % 4)) * np.exp(-0.5 * ((REST - c) / 3) ** 2) for j, c in enumerate(lines))
        for i in range(6)])
    templates = {"star": stars, "star_subclass": np.arange(6), "star_name": np.array([f"s{i}" for i in range(6)])}
    z = 120 / 299_792.458                                            # +120 km/s
    flux = 3 * np.interp(GRID / (1 + z), REST, stars[4]) + rng.normal(0, 0.02, len(GRID))
    fit = fit_class(flux, templates, "star")
    assert fit["star_subclass"] == 4 and fit["star_name"] == "s4"
    assert abs(fit["z"] - z) * 299_792.458 < 15                      # km/s; a pixel is ≈ 103


def test_seeds_averaged_mean_their_probabilities_and_keep_the_first_network_s_outlier_score(tmp_path):
    from models.spectrum import classify, load_members, predict, predict_all, save

    torch.manual_seed(0)
    cfg = SpectrumConfig(temperature=1.5)
    a, b = SpectrumNet(cfg).eval(), SpectrumNet(SpectrumConfig(temperature=0.7)).eval()
    X = torch.randn(3, 2600)
    mean = (predict(a, X) + predict(b, X)) / 2
    assert torch.allclose(predict(a, X, members=[b]), mean, atol=1e-6)
    assert not torch.allclose(mean, predict(a, X), atol=1e-3)  # the two seeds differ
    both, alone = predict_all(a, X, members=[b]), predict_all(a, X)
    assert torch.allclose(both["probs"], mean, atol=1e-6)
    assert torch.allclose(both["subclass"], (alone["subclass"] + predict_all(b, X)["subclass"]) / 2, atol=1e-6)
    assert torch.equal(both["outlier"], alone["outlier"])
    found = classify(a, X[0].numpy(), members=[b])
    flux = scale(X[0])
    assert [found.probabilities[c] for c in CLASSES] == pytest.approx(
        ((predict(a, flux[None]) + predict(b, flux[None])) / 2)[0].tolist(), abs=1e-5)
    assert found.outlier_score == pytest.approx(classify(a, X[0].numpy()).outlier_score)
    # the members of a checkpoint: folders under members/, in name order
    assert load_members(tmp_path) == []
    save(b, tmp_path / "members" / "seed1", "card")
    (members,) = load_members(tmp_path)
    assert members.cfg.temperature == pytest.approx(0.7) and torch.allclose(predict(members, X), predict(b, X), atol=2e-3)
