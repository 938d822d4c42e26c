"""The couplet tab's adapter on the shipped checkpoints (no browser)."""
import json
import time

import gradio as gr
import pytest

from demos import couplet
from models.couplet import mirrors, stray_repeat, tone_pattern


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
        assert lower[3] == lower[4] and mirrors("晚风摇树树还挺", lower) and not stray_repeat("晚风摇树树还挺", lower)
    assert list(table["score"]) == sorted(table["score"], reverse=True)
    opposed = [int(x.rstrip("%")) / 100 for x in table["平仄相对 opposed"]]
    up = tone_pattern("晚风摇树树还挺")  # the bonus: 1 per character whose own tone opposes the upper line's
    bonus = [sum(a in "平仄" and b in "平仄" and a != b for a, b in zip(up, map(tone_pattern, x))) for x in lines]
    assert all(s == pytest.approx(t + couplet.LM_WEIGHT * lm + couplet.TONE_WEIGHT * b + pair, abs=0.05)
               for s, t, lm, b, pair in zip(table["score"], table["log p 标注 tagger"], table["log p 语言模型 LM"], bonus,
                                            table["词组加分 pairs"]))
    assert min(opposed) > 0
    assert list(table["平仄 tones"]) == [tone_pattern(x) for x in lines]
    assert chart.count('class="tone-row"') == 6 and "上联" in chart
    # candidates differ in at least two characters
    assert all(sum(a != b for a, b in zip(x, y)) >= 2 for i, x in enumerate(lines) for y in lines[i + 1:])


def test_the_phrase_table_rewards_pairs_that_real_couplets_use_and_says_which():
    table, _, notes = couplet.generate("天增岁月人增寿", n=3)
    first = lower_lines(table)[0]
    known = couplet.PHRASE_TABLE.get().matches("天增岁月人增寿", first)
    assert known and table["词组加分 pairs"][0] > 0
    assert all(f"{ab}→{xy}" in notes for ab, xy, _ in known)  # the notes list the pairs candidate 1 took
    off, _, off_notes = couplet.generate("天增岁月人增寿", n=3, phrase_weight=0)
    assert (off["词组加分 pairs"] == 0).all() and "aligned pairs" not in off_notes
    # 岁月 is answered with one of the table's answers to it (春秋, 江山, 乾坤…)
    assert first[2:4] in couplet.PHRASE_TABLE.get().counts["岁月"]


def test_lm_weight_zero_is_su_s_tagger_alone():
    table, *_ = couplet.generate("海纳百川，有容乃大", n=3, lm_weight=0, prefer_tones=False, phrase_weight=0)
    assert table["log p 语言模型 LM"].isna().all()
    assert list(table["score"]) == list(table["log p 标注 tagger"])
    with_lm, *_ = couplet.generate("海纳百川，有容乃大", n=3, prefer_tones=False)
    assert list(with_lm["log p 语言模型 LM"].notna()) == [True] * 3


def test_marks_between_clauses_are_kept_at_their_places():
    table, _, notes = couplet.generate("风声雨声读书声, 声声入耳。", n=3)
    for lower in lower_lines(table):
        assert len(lower) == 12 and lower[7] == "，" and "，" not in lower[:7] + lower[8:]
        assert mirrors("风声雨声读书声，声声入耳", lower)
    assert "punctuation" in notes


def test_preferring_opposed_tones_opposes_more_tones():
    def opposed(prefer):
        shares = []
        for upper in ("春风得意马蹄疾", "书山有路勤为径", "天增岁月人增寿", "海纳百川，有容乃大"):
            table, *_ = couplet.generate(upper, n=3, prefer_tones=prefer)
            shares += [int(s.rstrip("%")) for s in table["平仄相对 opposed"]]
        return sum(shares) / len(shares)

    assert opposed(True) > opposed(False)


def test_sampling_is_reproducible_and_varies_with_the_seed():
    a, *_ = couplet.generate("明月松间照", n=5, mode=couplet.MODES[1], temperature=1.2, seed=7)
    b, *_ = couplet.generate("明月松间照", n=5, mode=couplet.MODES[1], temperature=1.2, seed=7)
    c, *_ = couplet.generate("明月松间照", n=5, mode=couplet.MODES[1], temperature=1.2, seed=8)
    assert lower_lines(a) == lower_lines(b) and lower_lines(a) != lower_lines(c)


def test_other_punctuation_is_stripped_and_said_so():
    table, _, notes = couplet.generate(" “海内存知己”。 ", n=3)
    assert all(len(x) == 5 for x in lower_lines(table)) and "punctuation" in notes


def test_characters_outside_the_vocabulary_are_read_as_unk_and_said_so():
    table, _, notes = couplet.generate("龘龘明月照", n=2)
    assert "<unk>" in notes and "龘" in notes and all(len(x) == 5 for x in lower_lines(table))


@pytest.mark.parametrize("text,message", [
    ("", "为空"), ("   ", "为空"), (None, "请输入"), ("，。！", "没有汉字"),
    ("hello world", "没有汉字"), ("明月2照", "只能是汉字"), ("明月😀照", "只能是汉字"), ("春" * 35, "太长"),
    ("春风，" * 12, "太长"),
])
def test_bad_upper_lines_are_refused_clearly(text, message):
    with pytest.raises(gr.Error, match=message):
        couplet.generate(text)


@pytest.mark.parametrize("kwargs", [dict(n=0), dict(n=11), dict(temperature=0), dict(temperature=float("nan")),
                                    dict(mode="beam"), dict(seed=-1), dict(lm_weight=-1), dict(lm_weight=9)])
def test_bad_settings_are_refused(kwargs):
    with pytest.raises(gr.Error):
        couplet.generate("明月松间照", **kwargs)


def test_shipped_checkpoints_match_their_vocabularies_and_cards():
    cfg = json.loads((couplet.WEIGHTS / "config.json").read_text())
    vocab = (couplet.WEIGHTS / "vocab.txt").read_text(encoding="utf-8").splitlines()
    assert cfg["vocab_size"] == len(vocab) and vocab[:2] == ["<pad>", "<unk>"] and "，" in vocab
    card = (couplet.WEIGHTS / "MODEL_CARD.md").read_text(encoding="utf-8")
    assert "python -m training.couplet" in card and f"{len(vocab):,} characters" in card
    assert "wb14123 test" in card and "not in this repository" in card
    lm_cfg = json.loads((couplet.LM_WEIGHTS / "config.json").read_text())
    lm_vocab = (couplet.LM_WEIGHTS / "vocab.txt").read_text(encoding="utf-8").splitlines()
    assert lm_cfg["vocab_size"] == len(lm_vocab) and lm_vocab[:len(vocab)] == vocab  # the same character ids
    assert lm_vocab[-2:] == ["<sep>", "<eos>"]
    assert "python -m training.couplet_lm" in (couplet.LM_WEIGHTS / "MODEL_CARD.md").read_text(encoding="utf-8")


def test_warm_generation_is_fast_enough_for_a_page():
    couplet.generate("明月松间照")
    t0 = time.perf_counter()
    for _ in range(5):
        couplet.generate("有志者，事竟成，破釜沉舟，百二秦关终属楚", n=10)
    assert (time.perf_counter() - t0) / 5 < 3.0  # a loose bound; the measured p50 is in bench/bench_couplet.py


def test_the_bench_decodes_as_the_tab_shows():
    # bench_couplet scores candidate 1 of write_lower(n=CANDIDATES) with the tab's weights: it must be the line the
    # tab shows first with its default settings, and the beam is at least BEAM wide (it once scored a 16-wide beam
    # while the tab searched 40)
    from models.couplet import BEAM, write_lower

    assert BEAM >= 8 * couplet.CANDIDATES
    model, vocab = couplet.MODEL.get()
    for upper in ("晨钟惊醒千家梦", "春风送暖千山绿", "小桥流水人家"):
        shown = lower_lines(couplet.generate(upper)[0])
        assert len(shown) == couplet.CANDIDATES
        scored = write_lower(model, vocab, upper, n=couplet.CANDIDATES, lm=couplet.LM.get(),
                             lm_weight=couplet.LM_WEIGHT, tone_weight=couplet.TONE_WEIGHT,
                             phrases=couplet.PHRASE_TABLE.get(), phrase_weight=couplet.PHRASE_WEIGHT)
        assert scored[0].lower == shown[0]
