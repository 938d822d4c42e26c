"""The sentiment tab's adapter on the shipped checkpoint."""
import json
import re

import gradio as gr
import pytest

from demos import sentiment


@pytest.mark.parametrize("text,positive", [(sentiment.EXAMPLES[0], True), (sentiment.EXAMPLES[1], True),
                                           (sentiment.EXAMPLES[2], False), (sentiment.EXAMPLES[3], False)])
def test_examples_of_both_classes(text, positive):
    label, highlights, notes = sentiment.classify(text)
    assert set(label) == {"正面 positive", "负面 negative"}
    assert abs(sum(label.values()) - 1) < 1e-6
    assert (label["正面 positive"] > 0.5) == positive
    assert highlights.count('class="contrib"') == len(text)
    colours = re.findall(r"rgba\((\d+), \d+, \d+, ([\d.]+)\)", highlights)
    assert all(0 <= float(a) <= 1 for _, a in colours) and any(float(a) == 1.0 for _, a in colours)
    # the strongest character pushes the way of the decision
    titles = [float(t) for t in re.findall(r'title="([+-][\d.]+)"', highlights)]
    assert (max(titles, key=abs) > 0) == positive
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
    fig = sentiment.attention_maps(sentiment.EXAMPLES[0])
    images = [ax for ax in fig.axes if ax.images]
    heads = json.loads((sentiment.WEIGHTS / "config.json").read_text())["n_heads"]
    assert len(images) == heads
    n = min(len(sentiment.EXAMPLES[0]), sentiment.HEATMAP_CHARS)
    assert images[0].images[0].get_array().shape == (n, n)


def test_shipped_checkpoint_card():
    card = (sentiment.WEIGHTS / "MODEL_CARD.md").read_text(encoding="utf-8")
    assert "python -m training.sentiment" in card and "Test accuracy" in card
    assert (sentiment.WEIGHTS / "sentiment.safetensors").stat().st_size < 8 * 2**20
