"""The sentiment tab's adapter on the shipped checkpoint."""
import json
import re

import gradio as gr
import pytest

from demos import sentiment


def test_examples_span_domains_and_both_classes():
    assert len({where for _, _, where in sentiment.EXAMPLES}) >= 5
    assert {positive for _, positive, _ in sentiment.EXAMPLES} == {True, False}
    written = (sentiment.REPO / "data" / "real_input" / "sentiment.tsv").read_text(encoding="utf-8")
    assert sum(text in written for text, _, _ in sentiment.EXAMPLES) >= 4  # from the real-input set


@pytest.mark.parametrize("text,positive,where", sentiment.EXAMPLES)
def test_examples_of_both_classes(text, positive, where):
    label, highlights, notes = sentiment.classify(text)
    assert set(label) == {"正面 positive", "负面 negative"}
    assert abs(sum(label.values()) - 1) < 1e-6
    assert (label["正面 positive"] > 0.5) == positive
    assert highlights.count('class="contrib"') == len(text)
    colours = re.findall(r"rgba\((\d+), \d+, \d+, ([\d.]+)\)", highlights)
    assert all(0 <= float(a) <= 1 for _, a in colours) and any(float(a) == 1.0 for _, a in colours)
    # every character is shaded by its exact share of the logit (logit = bias + Σ contributions), scaled to −1..1
    import torch

    model, vocab = sentiment.MODEL.get()
    with torch.no_grad():
        logit, contrib, _ = model.explain(torch.tensor([vocab.encode(text)]))
    assert logit[0].item() == pytest.approx(model.head.bias.item() + contrib.sum().item(), abs=1e-4)
    titles = [float(t) for t in re.findall(r'title="([+-][\d.]+)"', highlights)]
    assert titles == pytest.approx((contrib[0] / contrib.abs().max()).tolist(), abs=2e-3)
    assert notes == ""


def test_long_review_is_cut_with_a_visible_notice():
    label, highlights, notes = sentiment.classify("服务很好。" * 20_000)  # 100k characters
    assert highlights.count('class="contrib"') == 200 and "200" in notes and "100,000" in notes


@pytest.mark.parametrize("text,message", [
    ("", "为空"), ("   ", "为空"), ("，。！？😀😀", "没有汉字"), ("great hotel, very clean", "没有汉字"),
    ("好" * 100_001, "太长"),
])
def test_bad_reviews_are_refused(text, message):
    with pytest.raises(gr.Error, match=message):
        sentiment.classify(text)


def test_attention_maps_one_panel_per_head():
    fig = sentiment.attention_maps(sentiment.EXAMPLES[0][0])
    images = [ax for ax in fig.axes if ax.images]
    heads = json.loads((sentiment.WEIGHTS / "config.json").read_text())["n_heads"]
    assert len(images) == heads
    n = min(len(sentiment.EXAMPLES[0][0]), sentiment.HEATMAP_CHARS)
    assert images[0].images[0].get_array().shape == (n, n)


def test_shipped_checkpoint_card():
    card = (sentiment.WEIGHTS / "MODEL_CARD.md").read_text(encoding="utf-8")
    assert "python -m training.sentiment" in card and "Test accuracy" in card and "non-commercial" in card
    assert (sentiment.WEIGHTS / "reliability.png").exists()
    shards = list(sentiment.WEIGHTS.glob("*.safetensors"))
    assert shards and all(p.stat().st_size < 10 * 2**20 for p in shards)  # a Space refuses larger files


def test_probability_is_calibrated_by_the_fitted_temperature():
    import torch

    model, vocab = sentiment.MODEL.get()
    assert model.cfg.temperature != 1.0  # fitted on validation by the training command
    ids = torch.tensor([vocab.encode(sentiment.EXAMPLES[0][0])])
    logit = model(ids)[0][0]
    label, _, _ = sentiment.classify(sentiment.EXAMPLES[0][0])
    assert label["正面 positive"] == pytest.approx(torch.sigmoid(logit / model.cfg.temperature).item(), abs=1e-5)
