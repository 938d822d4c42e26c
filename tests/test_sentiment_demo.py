"""The sentiment tab's adapter on the shipped checkpoint."""
import json
import re

import gradio as gr
import numpy as np
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
    picture = sentiment.attention_maps(sentiment.EXAMPLES[0][0])
    heads = json.loads((sentiment.WEIGHTS / "config.json").read_text())["n_heads"]
    n = min(len(sentiment.EXAMPLES[0][0]), sentiment.HEATMAP_CHARS)
    side = (sentiment.PANEL_PX // n) * n
    rows = -(-heads // 4)
    assert picture.dtype == np.uint8 and picture.shape[2] == 3
    assert picture.shape[0] == sentiment.HEAD_PX + 14 + rows * (sentiment.HEAD_PX + side) + sentiment.MARGIN_PX


def test_heatmap_grid_draws_each_weight_where_it_belongs():
    """Panel h, row i (query), column j (key): viridis of the weight scaled by the head's maximum."""
    maps = np.zeros((5, 6, 6), np.float32)
    for h in range(5):
        maps[h, h, (h + 1) % 6] = 0.5  # one hot cell per head; everything else 0
    picture = sentiment.heatmap_grid(maps, list("我爱天安门啊"))
    cell = sentiment.PANEL_PX // 6
    side = cell * 6
    yellow, purple = sentiment._viridis()[255], sentiment._viridis()[0]
    for h in range(5):
        r, c = divmod(h, 4)
        x0 = sentiment.MARGIN_PX + c * (side + 8)
        y0 = sentiment.HEAD_PX + 14 + r * (sentiment.HEAD_PX + side) + sentiment.HEAD_PX
        hot = picture[y0 + h * cell + cell // 2, x0 + ((h + 1) % 6) * cell + cell // 2]
        cold = picture[y0 + cell // 2 + (0 if h else cell), x0 + cell // 2]
        assert (hot == yellow).all() and (cold == purple).all(), h
    assert (picture[:, -4:] == 255).all()  # a white margin on the right, nothing drawn outside the panels


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


def test_line_breaks_and_spaces_in_a_review_are_drawn_as_dots():
    """Found by the fuzz test: PIL cannot anchor a label that is a line break ("anchor not supported for multiline")."""
    maps = np.random.default_rng(0).random((8, 5, 5))
    assert sentiment.heatmap_grid(maps, ["好", "\n", " ", "\t", "吃"]).shape[2] == 3
    picture = sentiment.attention_maps("好吃\n\n不贵 。")
    assert picture.ndim == 3 and picture.dtype == np.uint8


def test_the_real_input_score_the_bench_wrote_is_shown_in_both_languages():
    r = json.loads(sentiment.REAL_INPUT_SCORE.read_text(encoding="utf-8"))
    rows = (sentiment.REPO / r["set"]).read_text(encoding="utf-8").splitlines()[1:]
    assert r["n"] == len(rows) >= 200 and r["accuracy"] == pytest.approx(r["right"] / r["n"])
    assert r["domains"] == len({row.split("\t")[1] for row in rows})
    zh, en = sentiment.real_input_text()
    assert f"{r['domains']} 个领域" in zh and f"{r['domains']} domains" in en
    assert all(f"{r['right']}/{r['n']}" in t and f"{r['accuracy']:.1%}" in t for t in (zh, en))
    assert "真实输入" in zh and "Real input" in en
    with gr.Blocks() as page:   # in the tab's explanation, in both languages
        sentiment.build_tab()
    explanation = next(b for b in page.blocks.values() if isinstance(b, gr.Markdown)).value
    assert zh.strip() in explanation and en.strip() in explanation
