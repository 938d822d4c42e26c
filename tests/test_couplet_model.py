"""models/couplet.py, models/couplet_lm.py, training/couplet_data.py and training/tone_table.py: shapes, the gated
block, decoding rules and the beam search, the LM's cache, classical tones, metrics, data."""
import itertools
import json
import math

import opencc
import pytest
import torch

from conftest import FIXTURES
from models import couplet_lm
from models.couplet import (CoupletConfig, CoupletNet, GatedResidualConv, PhraseTable, allowed_log_probs, beam_search,
                            char_bleu, diverse, lower_line_metrics, mirrors, stray_repeat, tone_opposition, tone_pattern,
                            write_lower)
from models.vocab import Vocab
from training import couplet_data, tone_table


def test_net_maps_every_position_to_a_distribution():
    cfg = CoupletConfig(vocab_size=50, dim=16, n_blocks=2)
    net = CoupletNet(cfg).eval()
    logits = net(torch.randint(2, 50, (3, 7)))
    assert logits.shape == (3, 7, 50)
    # length-agnostic: a 5-character line gives 5 distributions
    assert net(torch.randint(2, 50, (1, 5))).shape == (1, 5, 50)


def test_gated_block_is_the_post_formula():
    torch.manual_seed(0)
    block = GatedResidualConv(4, 3)
    x = torch.randn(2, 4, 6)
    h, g = block.conv(x)[:, :4], block.conv(x)[:, 4:]
    expected = x * torch.sigmoid(g) + h * torch.sigmoid(-g)
    assert torch.allclose(block(x), expected)


def test_decoding_rule_forbids_pad_unk_and_the_same_position_character():
    logits = torch.zeros(3, 6)
    logits[:, 1] = 10  # <unk> would win
    logits[0, 4] = 9  # the upper character at position 0 would win next
    logp = allowed_log_probs(logits, upper_ids=[4, 5, 2])
    assert torch.isinf(logp[:, :2]).all()
    assert torch.isinf(logp[0, 4]) and torch.isinf(logp[1, 5]) and torch.isinf(logp[2, 2])
    assert torch.allclose(logp.exp().sum(-1), torch.ones(3))


def test_marks_are_copied_and_appear_nowhere_else():
    logp = allowed_log_probs(torch.randn(3, 8), upper_ids=[4, 7, 5], marks={7})
    assert logp[1, 7] == 0 and torch.isinf(logp[1, :7]).all()  # the comma of the upper line, copied
    assert torch.isinf(logp[[0, 2], 7]).all()  # and no comma elsewhere


def brute_force(tag_logp, upper, k, pair=None):
    """Every line of the vocabulary's characters under the form rules, scored by the tagger (+ ``pair(t, x, y)``
    for every adjacent pair where given): the k best."""
    T, V = tag_logp.shape
    out = []
    for ys in itertools.product(range(V), repeat=T):
        if mirrors(upper, "".join(map(chr, ys))) is False or stray_repeat(upper, "".join(map(chr, ys))):
            continue
        score = sum(tag_logp[t, y].item() for t, y in enumerate(ys))
        if pair is not None:
            score += sum(pair(t, ys[t - 1], ys[t]) for t in range(1, T))
        if math.isfinite(score):
            out.append((score, list(ys)))
    return sorted(out, reverse=True)[:k]


@pytest.mark.parametrize("upper", ["甲乙丙", "甲乙甲"])
def test_beam_search_with_a_wide_beam_is_exact_under_the_form_rules(upper):
    torch.manual_seed(0)
    ids = [{"甲": 2, "乙": 3, "丙": 4}[c] for c in upper]
    tag_logp = allowed_log_probs(torch.randn(3, 6), ids)
    got = beam_search(tag_logp, upper, beam=6 ** 3)
    expected = brute_force(tag_logp, upper, 5)
    assert [ys for *_, ys in got[:5]] == [ys for _, ys in expected]
    assert all(math.isclose(g[0], e[0], abs_tol=1e-4) and math.isclose(g[1], e[0], abs_tol=1e-4)
               for g, e in zip(got, expected))


def test_phrase_table_keeps_pairs_that_couplets_share(tmp_path):
    rows = [("天增岁月", "春满乾坤", 2), ("岁月如歌", "乾坤似画", 1), ("天增，岁月", "地满，乾坤", 1),
            ("岁月长流", "山河永在", 1)]
    table = PhraseTable.build(rows, min_count=2)
    assert table.counts == {"岁月": {"乾坤": 4}}  # in three couplets (weights 2 + 1 + 1); 山河 in one only
    assert table.totals == {"岁月": 5}  # …but counted among the answers to 岁月
    assert "增，" not in table.counts and len(table) == 1  # no pair across a mark
    assert PhraseTable.build(rows, min_count=1).counts["天增"] == {"春满": 2, "地满": 1}
    table.save(tmp_path / "p.tsv.gz")
    again = PhraseTable.load(tmp_path / "p.tsv.gz")
    assert (again.counts, again.totals, again.k) == (table.counts, table.totals, table.k)
    assert table.matches("看岁月", "观乾坤") == [("岁月", "乾坤", 4)] and table.matches("岁月", "江山") == []


def test_phrase_bonus_is_the_tagger_s_pair_updated_by_the_counts():
    vocab = Vocab(list("岁月乾坤江山"))
    ids = vocab.encode("岁月")
    tag_logp = allowed_log_probs(torch.randn(2, len(vocab)), ids)
    table = PhraseTable({"岁月": {"乾坤": 3.0}}, {"岁月": 5.0}, k=2.0)
    score = table.scorer("岁月", tag_logp, vocab, weight=0.5)
    x, y, other = vocab.stoi["乾"], vocab.stoi["坤"], vocab.stoi["山"]
    bonus = score(1, [x, vocab.stoi["江"]])  # (B, V): one row per beam's previous character
    p = tag_logp.exp()
    expected = math.log(1 + 3 / (2 * p[0, x] * p[1, y])) - math.log(1 + 5 / 2)
    assert bonus[0, y].item() == pytest.approx(0.5 * expected, rel=1e-5)
    assert bonus[0, other].item() == pytest.approx(-0.5 * math.log(1 + 5 / 2))  # any other answer: N counts against
    assert bonus[1, y].item() == pytest.approx(-0.5 * math.log(1 + 5 / 2))  # 江坤 is not 乾坤
    assert PhraseTable({}, {}).scorer("岁月", tag_logp, vocab)(1, [x]) is None  # an unknown upper pair: no bonus


@pytest.mark.parametrize("upper", ["甲乙丙", "甲乙甲"])
def test_beam_search_with_the_phrase_table_is_exact(upper):
    torch.manual_seed(1)
    vocab = Vocab(list("甲乙丙丁戊"))  # ids 2… (0, 1: <pad>, <unk>)
    ids = vocab.encode(upper)
    tag_logp = allowed_log_probs(torch.randn(3, len(vocab)), ids)
    table = PhraseTable({"甲乙": {"丁戊": 2.0, "丙丁": 1.0}, "乙丙": {"戊甲": 1.0}, "乙甲": {"丁丙": 3.0}},
                        {"甲乙": 4.0, "乙丙": 2.0, "乙甲": 3.0})
    score = table.scorer(upper, tag_logp, vocab, weight=1.5)

    def pair(t, x, y):
        s = score(t, [x])
        return 0.0 if s is None else s[0, y].item()

    got = beam_search(tag_logp, upper, beam=len(vocab) ** 3, phrases=score)
    expected = brute_force(tag_logp, upper, 5, pair)
    assert [ys for *_, ys in got[:5]] == [ys for _, ys in expected]
    assert all(math.isclose(g[0], e[0], abs_tol=1e-4) for g, e in zip(got, expected))


def test_repeated_upper_characters_are_mirrored_and_nothing_else_repeats():
    vocab = Vocab(list("风声雨读书家事国天下入耳关心，月影山水"))
    upper = "风声雨声读书声，声声入耳"
    logits = torch.randn(len(upper), len(vocab))
    for c in write_lower(CoupletNet(CoupletConfig(vocab_size=len(vocab), dim=8, n_blocks=1)).eval(), vocab, upper, 3):
        assert mirrors(upper, c.lower) and not stray_repeat(upper, c.lower) and c.lower[7] == "，"
    assert logits.shape[0] == 12


def tiny_models(chars="风雨花月山水云天春秋，", columns=False):
    torch.manual_seed(0)
    vocab = Vocab(list(chars))
    tagger = CoupletNet(CoupletConfig(vocab_size=len(vocab), dim=8, n_blocks=1)).eval()
    lm_vocab = couplet_lm.lm_vocab(vocab)
    lm = couplet_lm.CoupletLM(couplet_lm.CoupletLMConfig(vocab_size=len(lm_vocab), dim=16, n_layers=1,
                                                         n_heads=2, columns=columns)).eval()
    return tagger, vocab, lm, lm_vocab


@pytest.mark.parametrize("columns", [False, True])
def test_lm_cache_gives_the_full_forward_pass(columns):
    _, _, lm, _ = tiny_models(columns=columns)
    ids = torch.randint(0, 10, (2, 9))  # <eos> + 3 + <sep> + 3 + <eos>: lines of 3
    full = lm(ids)
    logits, cache = lm(ids[:, :5], [], line_len=3)
    steps = [logits[:, -1]]
    for t in range(5, 9):
        logits, cache = lm(ids[:, t:t + 1], cache, line_len=3)
        steps.append(logits[:, -1])
    assert torch.allclose(torch.stack(steps[:-1], 1), full[:, 4:8], atol=1e-5)


def test_lm_columns_align_the_two_lines():
    _, _, lm, _ = tiny_models(columns=True)
    marker = lm.cfg.max_len // 2 - 1
    assert lm.column_ids(0, 9, 3).tolist() == [marker, 0, 1, 2, marker, 0, 1, 2, marker]
    assert lm.column_ids(6, 2, 3).tolist() == [1, 2]  # the middle of the lower line, as a cached step sees it
    ids = torch.tensor([[3, 4, 5, 6, 7, 8, 9, 10]])  # the same tokens, read as lines of 3 and of 2 (+ a tail)
    assert not torch.allclose(lm(ids, line_len=3), lm(ids, line_len=2))


@pytest.mark.parametrize("columns", [False, True])
def test_the_beam_s_lm_score_is_the_lm_s_log_probability_of_the_line(columns):
    tagger, vocab, lm, lm_vocab = tiny_models(columns=columns)
    found = write_lower(tagger, vocab, "风雨，春秋", 4, lm=(lm, lm_vocab), lm_weight=1.5)
    scored = couplet_lm.lower_log_prob(lm, lm_vocab, "风雨，春秋", [c.lower for c in found])
    for c, lp in zip(found, scored):
        assert c.lm_log_p == pytest.approx(lp, abs=1e-4)
        assert c.score == pytest.approx(c.tag_log_p + 1.5 * c.lm_log_p, abs=1e-4)
    assert [c.score for c in found] == sorted((c.score for c in found), reverse=True)


def test_lower_lines_use_no_character_of_the_upper_line_unless_allowed():
    from models.couplet import mark_ids, without_upper_characters

    tagger, vocab, lm, lm_vocab = tiny_models()
    for upper in ["风雨花月", "花月，山水", "风风雨雨"]:
        for c in write_lower(tagger, vocab, upper, 3, lm=(lm, lm_vocab), lm_weight=1.0):
            assert not set(c.lower) & (set(upper) - {"，"}) and mirrors(upper, c.lower) is not False
    allowed = [c.lower for c in write_lower(tagger, vocab, "风雨花月", 5, reuse=True)]
    assert any(set(line) & set("风雨花月") for line in allowed)  # the same search without the rule uses them
    ids = vocab.encode("风，雨")
    marks = mark_ids(vocab)
    out = without_upper_characters(allowed_log_probs(torch.randn(3, len(vocab)), ids, marks), ids, marks)
    assert torch.isinf(out[:, [vocab.stoi["风"], vocab.stoi["雨"]]]).all() and out[1, vocab.stoi["，"]] == 0


def test_candidates_differ_in_at_least_two_characters_when_they_can():
    tagger, vocab, *_ = tiny_models()
    lines = [c.lower for c in write_lower(tagger, vocab, "风雨花月", 5)]
    assert len(lines) == 5
    assert all(sum(a != b for a, b in zip(x, y)) >= 2 for i, x in enumerate(lines) for y in lines[i + 1:])
    # diverse() falls back to one differing character when the pool allows no more
    pool = [(0.0, 0, 0, [2, 3]), (-1.0, 0, 0, [2, 4]), (-2.0, 0, 0, [5, 6])]
    assert [h[3] for h in diverse(pool, 3, "甲乙")] == [[2, 3], [5, 6], [2, 4]]


def test_sampling_is_seeded_and_varies_with_the_seed():
    tagger, vocab, lm, lm_vocab = tiny_models()
    run = [[c.lower for c in write_lower(tagger, vocab, "风雨花月山", 4, sampled=True, temperature=1.5, seed=s,
                                         lm=(lm, lm_vocab), lm_weight=1.0)] for s in (3, 3, 4)]
    assert run[0] == run[1] != run[2] and len(set(run[0])) == len(run[0])


def test_classical_tones():
    assert tone_pattern("天地") == "平仄"
    assert tone_pattern("国白竹月") == "仄仄仄仄"  # entering tone: Mandarin guó, bái, zhú read 平 — classically 仄
    assert tone_pattern("看守") == "平仄" and tone_pattern("看见") == "仄仄"  # 看 has both: by the word
    assert tone_pattern("风雨，同舟") == "平仄·平平"
    assert tone_opposition("天地", "水山") == ([True, True], 1.0)
    assert tone_opposition("天地", "山水") == ([False, False], 0.0)
    assert tone_opposition("风雨，同舟", "日月，异时") == ([True, False, None, True, False], 0.5)


def test_tone_table_from_the_rhyme_book():
    book = {"ping": {"上平聲部": {"上平聲一東": ["東同"]}}, "ze": {"入聲部": {"入聲一屋": ["屋國"]},
                                                                 "去聲部": {"去聲一送": ["東送"]}}}
    lines = tone_table.table_text(book, opencc.OpenCC("t2s").convert).splitlines()
    assert lines[0] == "平\t同" and set(lines[1][2:]) == set("屋國国送") and set(lines[2][2:]) == set("東东")


def test_pattern_metrics():
    assert mirrors("风声雨声", "家事国事") is True
    assert mirrors("风声雨声", "家事国家") is False
    assert mirrors("明月松间照", "清泉石上流") is None
    assert stray_repeat("明月松间照", "清泉清上流") and not stray_repeat("风声雨声", "家事国事")
    m = lower_line_metrics(["风声雨声", "明月松间照"], ["家事国事", "清泉清上流"], ["家事国事", "清泉石上流"])
    assert m["mirrored"] == 1.0 and m["n_patterned"] == 1 and m["stray_repeats"] == 0.5


def test_char_bleu():
    assert char_bleu(["夜雨敲花花更香"], ["夜雨敲花花更香"]) == pytest.approx(1.0)
    assert char_bleu(["甲乙丙丁戊己庚"], ["夜雨敲花花更香"]) < 0.15  # smoothing keeps it above 0
    assert 0.3 < char_bleu(["夜雨敲花花更红"], ["夜雨敲花花更香"]) < 1.0


def test_vocab_round_trip(tmp_path):
    v = Vocab(["风", "雨"])
    assert v.encode("风雪") == [2, 1] and v.decode([3, 2]) == "雨风"
    v.save(tmp_path / "v.txt")
    assert Vocab.load(tmp_path / "v.txt").itos == v.itos


# -- data preparation, on fixture files in the package's exact format -------------------------------------------------

def test_regulated_verse_pairs_take_lines_3_to_6():
    poems = json.loads((FIXTURES / "chinese-poetry/quantangshi/poet.tang.0.json").read_text(encoding="utf-8"))
    assert couplet_data.regulated_verse_pairs(poems[0]["paragraphs"]) == [("綺殿千尋起", "離宮百雉餘"),
                                                                           ("連甍遙接漢", "飛觀迥凌虛")]
    assert couplet_data.regulated_verse_pairs(poems[2]["paragraphs"]) is None  # sixteen lines


def test_primer_pairs():
    primer = json.loads((FIXTURES / "chinese-poetry/mengxue/shenglvqimeng.json").read_text(encoding="utf-8"))
    pairs = couplet_data.primer_pairs(primer["content"][0]["content"][0]["paragraphs"][0])
    for expected in [("雲", "雨"), ("晚照", "晴空"), ("三尺劍", "六鈞弓"), ("人間清暑殿", "天上廣寒宮"),
                     ("兩鬢風霜", "一蓑煙雨"), ("途次早行之客", "溪邊晚釣之翁")]:
        assert expected in pairs
    assert all(len(a) == len(b) for a, b in pairs)


@pytest.mark.parametrize("upper,lower,why", [
    ("明月松间照", "清泉石上流", None),
    ("明月松间照", "清泉石上", "length mismatch"),
    ("明月松间□", "清泉石上流", "non-CJK characters (missing glyphs, notes)"),
    ("明月松间照", "明月石间流", "2+ same characters at the same positions"),
    ("明月松间照", "明月松间照", "identical lines"),
])
def test_is_parallel(upper, lower, why):
    assert couplet_data.is_parallel(upper, lower) == why


def test_build_pairs_on_fixture_package():
    splits, counts = couplet_data.build_pairs(FIXTURES / "chinese-poetry")
    pairs = [p for split in splits.values() for p in split]
    assert ("绮殿千寻起", "离宫百雉余") in pairs  # converted to simplified characters
    assert counts["tang: poems"] == 3 and counts["tang: eight lines of 5 or 7 characters"] == 2
    assert sum(counts[f"kept: {s}"] for s in couplet_data.SPLITS) == len(pairs)
    # a poem's two pairs land in the same split
    first = {name for name, split in splits.items() for p in split if p[0] in ("绮殿千寻起", "连甍遥接汉")}
    assert len(first) == 1


def test_split_is_seeded_and_stable():
    assert couplet_data.split_of("abc") == couplet_data.split_of("abc")
    shares = [couplet_data.split_of(str(i)) for i in range(4000)]
    assert 0.87 < shares.count("train") / 4000 < 0.93


# -- real couplets, on fixture files in the shared folder's exact formats --------------------------------------------

def test_normalise_and_real_problems():
    t2s = opencc.OpenCC("t2s").convert
    assert couplet_data.normalise("風 雨 , 同 舟 。", t2s) == "风雨，同舟"
    assert couplet_data.normalise("一屋一椽。一粥一饭", t2s) == "一屋一椽；一粥一饭"
    assert couplet_data.real_problem("风雨，同舟", "江山，如画") is None
    assert couplet_data.real_problem("风雨，同舟", "江山如，画") == "punctuation at different positions"
    assert couplet_data.real_problem("春风□意", "秋月无边") == "other characters (symbols, letters, missing glyphs)"
    assert couplet_data.real_problem("春" * 35, "秋" * 35) == "longer than 34 characters"


def test_build_real_on_fixtures(tmp_path):
    t2s = opencc.OpenCC("t2s").convert
    verse = {"train": [("明月松间照", "清泉石上流"), ("晚风摇树树", "夜雨敲花花")], "valid": [("云对雨来", "雪对风去")],
             "test": [("春风得意马", "秋月无心人")]}
    rows = list(couplet_data.read_real(FIXTURES / "couplets", t2s))
    splits, counts = couplet_data.build_real(rows, verse)
    assert counts["wb14123_test: read"] == 6 and counts["kept: test"] == 6
    assert splits["test"][0] == ("wb14123_test", "江城，千帆竞发争朝夕，一水连天", "山国，万木争春竞短长，群峰入画")
    uppers = {s: {a for _, a, _ in rows} for s, rows in splits.items()}
    assert all(not uppers[x] & uppers[y] for x, y in itertools.combinations(uppers, 2))  # no upper in two splits
    assert counts["dropped: upper line already in an earlier split"] >= 1  # a test upper line in the spring file
    assert counts["dropped: holds a line of the famous-couplet sheet"] >= 2  # 书山有路勤为径, 明月松间照
    assert counts["dropped: duplicate pair"] >= 1
    assert counts["dropped: punctuation at different positions"] == 1
    everything = [(a, b) for rows in splits.values() for _, a, b in rows]
    assert ("明月松间照", "清泉石上流") not in everything and len(everything) == len(set(everything))
    assert ("verse", "春风得意马", "秋月无心人") in splits["test_verse"]
