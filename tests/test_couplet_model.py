"""models/couplet.py and training/couplet_data.py: shapes, the gated block, decoding rules, tones, metrics, data."""
import itertools
import json
import math

import pytest
import torch

from conftest import FIXTURES
from models.couplet import (CoupletConfig, CoupletNet, GatedResidualConv, allowed_log_probs, char_bleu, k_best,
                            sample, tone_opposition, tone_pattern)
from models.vocab import Vocab
from training import couplet_data


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


def test_k_best_matches_brute_force():
    torch.manual_seed(1)
    logp = torch.log_softmax(torch.randn(3, 5), -1)
    brute = sorted(((sum(logp[t, y].item() for t, y in enumerate(ys)), list(ys))
                    for ys in itertools.product(range(5), repeat=3)), reverse=True)[:10]
    got = k_best(logp, 10, beam=5)
    assert [ys for _, ys in got] == [ys for _, ys in brute]
    assert all(math.isclose(a, b, abs_tol=1e-5) for (a, _), (b, _) in zip(got, brute))


def test_k_best_never_returns_forbidden_characters():
    logp = allowed_log_probs(torch.randn(4, 9), upper_ids=[2, 3, 4, 5])
    for _, ys in k_best(logp, 20):
        assert all(y >= 2 for y in ys) and all(y != u for y, u in zip(ys, [2, 3, 4, 5]))


def test_sampling_is_seeded_distinct_and_sorted():
    logp = allowed_log_probs(torch.randn(5, 30), upper_ids=[2, 3, 4, 5, 6])
    a = sample(logp, 5, torch.Generator().manual_seed(3))
    b = sample(logp, 5, torch.Generator().manual_seed(3))
    assert a == b and len({tuple(ys) for _, ys in a}) == len(a)
    assert [s for s, _ in a] == sorted((s for s, _ in a), reverse=True)


def test_tones():
    assert tone_pattern("天地") == "平仄"
    assert tone_pattern("晚风摇树树还挺") == "仄平平仄仄平仄"
    assert tone_opposition("天地", "水山") == ([True, True], 1.0)
    assert tone_opposition("天地", "山水") == ([False, False], 0.0)


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
