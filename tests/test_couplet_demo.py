"""The couplet tab's adapter on the shipped checkpoint (no browser)."""
import json
import time

import gradio as gr
import pytest

from demos import couplet
from models.couplet import tone_pattern


def lower_lines(table):
    return list(table["下联 lower line"])


def test_the_post_s_example_gets_five_distinct_candidates_of_the_right_shape():
    table, chart, notes = couplet.generate("晚风摇树树还挺", n=5)
    lines = lower_lines(table)
    assert len(lines) == 5 == len(set(lines))
    for lower in lines:
        assert len(lower) == 7
        assert all(a != b for a, b in zip("晚风摇树树还挺", lower))  # Su's rule
        assert "<" not in lower
    assert list(table["log p"]) == sorted(table["log p"], reverse=True)
    assert list(table["平仄 tones"]) == [tone_pattern(x) for x in lines]
    assert chart.count('class="tone-row"') == 6 and "上联" in chart


def test_rerank_by_tone_puts_the_most_opposed_first():
    table, *_ = couplet.generate("春风得意马蹄疾", n=5, rerank_by_tone=True)
    shares = [int(s.rstrip("%")) for s in table["平仄相对 opposed"]]
    assert shares == sorted(shares, reverse=True)


def test_sampling_is_reproducible_and_varies_with_the_seed():
    a, *_ = couplet.generate("明月松间照", n=5, mode=couplet.MODES[1], temperature=1.2, seed=7)
    b, *_ = couplet.generate("明月松间照", n=5, mode=couplet.MODES[1], temperature=1.2, seed=7)
    c, *_ = couplet.generate("明月松间照", n=5, mode=couplet.MODES[1], temperature=1.2, seed=8)
    assert lower_lines(a) == lower_lines(b) and lower_lines(a) != lower_lines(c)


def test_punctuation_is_stripped_and_said_so():
    table, _, notes = couplet.generate(" 海内存知己， ", n=3)
    assert all(len(x) == 5 for x in lower_lines(table)) and "punctuation" in notes


def test_characters_outside_the_vocabulary_are_read_as_unk_and_said_so():
    table, _, notes = couplet.generate("龘龘明月照", n=2)
    assert "<unk>" in notes and "龘" in notes and all(len(x) == 5 for x in lower_lines(table))


@pytest.mark.parametrize("text,message", [
    ("", "为空"), ("   ", "为空"), (None, "请输入"), ("，。！", "没有汉字"),
    ("hello world", "没有汉字"), ("明月2照", "只能是汉字"), ("明月😀照", "只能是汉字"), ("春" * 33, "太长"),
])
def test_bad_upper_lines_are_refused_clearly(text, message):
    with pytest.raises(gr.Error, match=message):
        couplet.generate(text)


@pytest.mark.parametrize("kwargs", [dict(n=0), dict(n=11), dict(temperature=0), dict(temperature=float("nan")),
                                    dict(mode="beam"), dict(seed=-1)])
def test_bad_settings_are_refused(kwargs):
    with pytest.raises(gr.Error):
        couplet.generate("明月松间照", **kwargs)


def test_shipped_checkpoint_matches_its_vocab_and_card():
    cfg = json.loads((couplet.WEIGHTS / "config.json").read_text())
    vocab = (couplet.WEIGHTS / "vocab.txt").read_text(encoding="utf-8").splitlines()
    assert cfg["vocab_size"] == len(vocab) and vocab[:2] == ["<pad>", "<unk>"]
    card = (couplet.WEIGHTS / "MODEL_CARD.md").read_text(encoding="utf-8")
    assert "python -m training.couplet" in card and f"{len(vocab):,} characters" in card
    assert (couplet.WEIGHTS / "couplet.safetensors").stat().st_size < 8 * 2**20


def test_warm_generation_is_fast_enough_for_a_page():
    couplet.generate("明月松间照")
    t0 = time.perf_counter()
    for _ in range(5):
        couplet.generate("明月松间照", n=5)
    assert (time.perf_counter() - t0) / 5 < 1.0  # a loose bound; the measured p50 is in bench/bench_couplet.py
