"""models/dgcnn.py: the gated block, the heads' shapes and masking, the focal loss, decoding and voting."""
import math

import pytest
import torch

from models import dgcnn
from models.dgcnn import DGCNN, DGCNNConfig, GatedDilatedBlock


def test_block_keeps_shape_and_padding():
    torch.manual_seed(0)
    block = GatedDilatedBlock(8, rate=4).eval()
    x = torch.randn(2, 11, 8)
    mask = torch.ones(2, 11, 1)
    mask[1, 7:] = 0
    y = block(x, mask)
    assert y.shape == (2, 11, 8)
    assert (y[1, 7:] == 0).all()
    # padded positions never reach real ones: changing them changes nothing
    x2 = x.clone()
    x2[1, 7:] = 100.0
    assert torch.allclose(block(x2, mask), y)


def test_closed_gate_is_the_identity_and_open_gate_the_convolution():
    block = GatedDilatedBlock(4, rate=2).eval()
    x = torch.randn(1, 9, 4)
    mask = torch.ones(1, 9, 1)
    with torch.no_grad():
        block.conv.weight[4:].zero_()
        block.conv.bias[4:].fill_(-1e4)   # σ = 0: Y = X
    assert torch.allclose(block(x, mask), x)
    with torch.no_grad():
        block.conv.bias[4:].fill_(1e4)    # σ = 1: Y = Conv1D₁(X)
        h = block.conv(x.transpose(1, 2)).transpose(1, 2)[..., :4]
    assert torch.allclose(block(x, mask), h, atol=1e-6)


def test_gate_noise_only_in_training():
    torch.manual_seed(0)
    block = GatedDilatedBlock(4, rate=1, gate_noise=0.5)
    x, mask = torch.randn(1, 5, 4), torch.ones(1, 5, 1)
    assert not torch.equal(block(x, mask), block(x, mask))
    block.eval()
    assert torch.equal(block(x, mask), block(x, mask))


def test_model_outputs_are_probabilities_masked_and_scaled_by_has_answer():
    torch.manual_seed(0)
    model = DGCNN(DGCNNConfig(vocab_size=50, dim=16)).eval()
    q = torch.tensor([[5, 6, 7, 0], [8, 9, 0, 0]])
    p = torch.randint(2, 50, (2, 30))
    p[1, 20:] = 0
    start, end, has = model(q, p)
    assert start.shape == end.shape == (2, 30) and has.shape == (2,)
    assert (start[1, 20:] == 0).all() and (end[1, 20:] == 0).all()
    assert ((0 <= start) & (start <= has.unsqueeze(1))).all()
    # the receptive field of the passage encoder: 1 + 2·(1+2+4+8+16+1) = 65 characters
    assert 1 + 2 * sum(model.cfg.passage_rates) == 65


def test_focal_loss_by_hand():
    p = torch.tensor([[0.9, 0.2, 0.5]])
    y = torch.tensor([[1.0, 0.0, 0.0]])
    mask = torch.tensor([[1.0, 1.0, 0.0]])
    want = (-(0.1 ** 2) * math.log(0.9) - (0.2 ** 2) * math.log(0.8)) / 2
    assert dgcnn.focal_loss(p, y, mask).item() == pytest.approx(want, rel=1e-5)


def test_best_span_respects_order_and_length_cap():
    start = torch.tensor([0.1, 0.9, 0.1, 0.1, 0.1])
    end = torch.tensor([0.8, 0.1, 0.1, 0.1, 0.7])
    i, j, score = dgcnn.best_span(start, end, max_len=5)
    assert (i, j) == (1, 4) and score == pytest.approx(0.63)  # end 0 is before the start: not allowed
    i, j, _ = dgcnn.best_span(start, end, max_len=2)
    assert i <= j < i + 2
    assert dgcnn.best_span(torch.tensor([]), torch.tensor([]), 3) == (-1, -1, 0.0)


def test_length_penalty_prefers_the_shorter_span_and_reports_the_raw_score():
    start = torch.tensor([0.9, 0.1, 0.1])
    end = torch.tensor([0.5, 0.1, 0.6])
    assert dgcnn.best_span(start, end, max_len=5)[:2] == (0, 2)                 # 0.54 beats 0.45
    i, j, score = dgcnn.best_span(start, end, max_len=5, length_penalty=0.5)    # 0.54·e⁻¹ = 0.20 < 0.45
    assert (i, j) == (0, 0) and score == pytest.approx(0.45)


def test_vote_is_a_noisy_or_across_passages():
    ranked = dgcnn.vote([("杜甫", 0.5), ("李白", 0.6), ("杜甫", 0.5), ("", 0.9)])
    assert ranked[0][0] == "杜甫" and ranked[0][1] == pytest.approx(0.75)
    assert ranked[1] == ("李白", pytest.approx(0.6))


def test_match_feature_marks_passage_characters_found_in_the_question():
    torch.manual_seed(0)
    model = DGCNN(DGCNNConfig(vocab_size=20, dim=8, dropout=0.0)).eval()
    p = torch.tensor([[5, 7, 6, 1]])   # <unk> (1) never matches, even against an <unk> in the question
    with torch.no_grad():
        model.in_question.weight[0].zero_()
        model.in_question.weight[1].fill_(1000.0)
        model.embed.weight.zero_()
        seen = []
        model.merge.register_forward_hook(lambda m, inp, out: seen.append(inp[0][0, :, 0].clone()))
        model(torch.tensor([[5, 6, 1]]), p)
    assert seen[0].tolist() == [1000.0, 0.0, 1000.0, 0.0]


def test_without_match_features_the_passage_input_ignores_the_question():
    """The ablation switch: no hand-feature weights, and the passage's input vectors no longer depend on which
    characters the question holds (with the features on, they do)."""
    torch.manual_seed(0)
    off = DGCNN(DGCNNConfig(vocab_size=20, dim=8, dropout=0.0, match_features=False)).eval()
    on = DGCNN(DGCNNConfig(vocab_size=20, dim=8, dropout=0.0)).eval()
    assert not any("in_question" in k for k in off.state_dict())
    p = torch.tensor([[5, 7, 6, 9]])
    q1, q2 = torch.tensor([[5, 6, 3]]), torch.tensor([[8, 4, 3]])
    with torch.no_grad():
        assert torch.equal(dgcnn.passage_inputs(off, q1, p), dgcnn.passage_inputs(off, q2, p))
        assert not torch.equal(dgcnn.passage_inputs(on, q1, p), dgcnn.passage_inputs(on, q2, p))
        start, end, has = off(q1, p)
    assert start.shape == (1, 4) and has.shape == (1,)


def test_windows_cover_the_text_and_overlap():
    text = "".join(chr(0x4e00 + i) for i in range(700))
    pieces = dgcnn.windows(text, 256, 192)
    assert pieces[0] == (0, text[:256]) and pieces[-1][0] + 256 == 700
    assert all(text[o:o + len(p)] == p and len(p) == 256 for o, p in pieces)
    for (a, _), (b, _) in zip(pieces, pieces[1:]):
        assert 0 < b - a <= 192   # consecutive windows share at least 64 characters
    assert dgcnn.windows("短文", 256, 192) == [(0, "短文")]


def test_read_maps_spans_back_to_the_passages_and_votes():
    """A model whose start/end heads fire on two given characters: the span comes back in passage coordinates,
    also from a long passage read as windows, and the same answer in two passages is voted up."""
    from models.vocab import Vocab

    vocab = Vocab(list("问答甲乙丙丁戊"))
    model = DGCNN(DGCNNConfig(vocab_size=len(vocab), dim=4, dropout=0.0))
    start_id, end_id = vocab.stoi["甲"], vocab.stoi["乙"]

    def fake_forward(q, p, *words):
        start = (p == start_id).float() * 0.9
        end = (p == end_id).float() * 0.8
        return start, end, torch.full((p.shape[0],), 0.9)

    model.forward = fake_forward
    long = "丙" * 300 + "甲丁乙" + "丙" * 100
    result = dgcnn.read(model, dgcnn.Tokenizer(vocab), "问", ["丙甲丁乙丙", long, "丙丙丙"], window=256, stride=192)
    assert result["spans"][0][:2] == (1, 3) and result["spans"][1][:2] == (300, 302)
    assert result["answer"] == "甲丁乙"
    assert result["score"] == pytest.approx(1 - (1 - 0.72) ** 2)   # noisy-OR of two passages at 0.72
    assert result["spans"][2][2] == 0.0 and [t for t, _ in result["ranked"]] == ["甲丁乙"]  # score 0: no vote


def test_spans_are_tidied_past_separators_and_unpaired_brackets():
    def tidy(text):
        i, j = dgcnn.tidy_span(text, 0, len(text) - 1)
        return text[i:j + 1]

    assert tidy("】129元") == "129元"                       # a spec sheet's label bracket
    assert tidy("，汉族，湖北宜昌人。") == "汉族，湖北宜昌人"   # inner separators stay, edge ones go
    assert tidy("《静山集》") == "《静山集》" and tidy("“层控成矿”理论") == "“层控成矿”理论"
    assert tidy("（1923年") == "1923年" and tidy("1988年）") == "1988年"
    assert tidy("，。") == "，。"                             # nothing left: the span as it was

    # read() returns tidied spans, in passage coordinates
    from models.vocab import Vocab

    vocab = Vocab(list("问价元】"))
    model = DGCNN(DGCNNConfig(vocab_size=len(vocab), dim=4, dropout=0.0))
    model.forward = lambda q, p, *w: ((p == vocab.stoi["】"]).float(), (p == vocab.stoi["元"]).float(),
                                      torch.ones(p.shape[0]))
    result = dgcnn.read(model, dgcnn.Tokenizer(vocab), "问", ["价】9元"])
    assert result["answer"] == "9元" and result["spans"][0][:2] == (2, 3)


def test_official_cmrc_scoring():
    """The rules of cmrc2018_evaluate.py: punctuation and case ignored, Chinese characters one token each, other runs
    split into words, F1 from the longest common contiguous run, the best over the answers."""
    assert dgcnn.cmrc_tokens("《战国无双3》由光荣和ω-Force开发") == list("战国无双") + ["3"] + list("由光荣和") + [
        "ωforce"] + list("开发")
    assert dgcnn.cmrc_tokens("3.5亿 Apple Inc") == ["3.5", "亿", "apple", "inc"]
    assert dgcnn.cmrc_em("《红楼梦》", ["红楼梦"]) == 1.0 and dgcnn.cmrc_em("红楼", ["红楼梦"]) == 0.0
    assert dgcnn.cmrc_f1("1963年3月", ["1963年"]) == pytest.approx(2 * (2 / 4) * 1 / (2 / 4 + 1))
    # contiguous, not a bag: the same characters in another order share a run of one
    assert dgcnn.cmrc_f1("乙甲", ["甲乙"]) == pytest.approx(0.5)
    assert dgcnn.cmrc_f1("无关", ["甲乙", "无关"]) == 1.0 and dgcnn.cmrc_f1("", ["甲"]) == 0.0
    rows = [{"answers": ["甲乙", "甲"]}, {"answer": "丙"}]
    out = dgcnn.scores(["甲", "丁"], rows)["all"]
    assert out["n"] == 2 and out["em"] == 0.5 and out["f1"] == 0.5


def test_word_ids_follow_the_characters_of_each_jieba_word():
    from models.vocab import Vocab

    tok = dgcnn.Tokenizer(Vocab(list("我们在北京天安门")), Vocab(["我们", "北京", "天安门"]))
    chars, words = tok.encode("我们在北京天安门")
    assert len(chars) == len(words) == 8
    assert words == [2, 2, 1, 3, 3, 4, 4, 4]     # 在 is not a known word: <unk>
    assert dgcnn.Tokenizer(tok.chars).encode("北京")[1] is None


def test_full_model_features_change_the_output_and_respect_padding():
    """Words, positions and passage→question attention all reach the output; padding stays zero."""
    torch.manual_seed(0)
    cfg = DGCNNConfig(vocab_size=30, dim=16, words=12, positions=64, question_attention=True, dropout=0.0)
    model = DGCNN(cfg).eval()
    q, p = torch.tensor([[3, 4, 5]]), torch.tensor([[3, 9, 4, 8, 7, 0]])
    qw, pw = torch.tensor([[2, 2, 3]]), torch.tensor([[2, 5, 3, 6, 6, 0]])
    start, end, has = model(q, p, qw, pw)
    assert start[0, 5] == 0 and end[0, 5] == 0
    assert not torch.allclose(model(q, p, qw, torch.tensor([[7, 5, 8, 6, 6, 0]]))[0], start)   # words matter
    assert not torch.allclose(model(torch.tensor([[6, 4, 5]]), p, qw, pw)[0], start)          # the question matters
    with torch.no_grad():
        model.position.weight.zero_()
    assert not torch.allclose(model(q, p, qw, pw)[0], start)                                  # positions matter


def test_save_and_load_round_trip_with_words(tmp_path):
    from models.vocab import Vocab

    torch.manual_seed(0)
    tok = dgcnn.Tokenizer(Vocab(list("问答甲乙丙丁")), Vocab(["甲乙", "丙丁"]))
    model = DGCNN(DGCNNConfig(vocab_size=len(tok.chars), dim=8, words=len(tok.words), positions=32,
                              question_attention=True, threshold=0.3)).eval()
    dgcnn.save((model, tok), tmp_path, "# card")
    again, tok2 = dgcnn.load(tmp_path)
    assert again.cfg == model.cfg and tok2.words.itos == tok.words.itos and tok2.chars.itos == tok.chars.itos
    a = dgcnn.read(model, tok, "问甲", ["丙丁甲乙答"])
    b = dgcnn.read(again, tok2, "问甲", ["丙丁甲乙答"])
    assert a["answer"] == b["answer"] and a["score"] == pytest.approx(b["score"], abs=2e-3)   # fp16 weights


def test_an_ensemble_reads_the_mean_of_its_members_and_loads_from_its_file(tmp_path):
    """Two readers with different tokenizers (one with jieba words): the ensemble's window probabilities are the mean
    of theirs, its answer is decoded from that mean, and ensemble.json in the first folder makes load() build it
    with the file's threshold and λ (ensemble=False still gives the folder's own reader)."""
    import json

    from models.vocab import Vocab

    torch.manual_seed(0)
    chars = dgcnn.Tokenizer(Vocab(list("问答甲乙丙丁")))
    words = dgcnn.Tokenizer(Vocab(list("丁丙乙甲答问")), Vocab(["甲乙", "丙丁"]))
    a = DGCNN(DGCNNConfig(vocab_size=len(chars.chars), dim=8, span_softmax=True)).eval()
    b = DGCNN(DGCNNConfig(vocab_size=len(words.chars), dim=8, words=len(words.words), span_softmax=True)).eval()
    pair = dgcnn.Ensemble([(a, chars), (b, words)], threshold=0.3, length_penalty=0.1)
    question, passages = "问甲", ["丙丁甲乙答", "甲乙丙"]
    pieces = [(k, 0, p) for k, p in enumerate(passages)]
    with torch.no_grad():
        mean = [(x + y) / 2 for x, y in zip(dgcnn.window_outputs(a, chars, question, passages, pieces),
                                            dgcnn.window_outputs(b, words, question, passages, pieces))]
        got = dgcnn.window_outputs(pair, None, question, passages, pieces)
    assert all(torch.allclose(g, m) for g, m in zip(got, mean))
    assert not torch.allclose(got[0], dgcnn.window_outputs(a, chars, question, passages, pieces)[0])
    i, j, score = dgcnn.best_span(mean[0][0, :5], mean[1][0, :5], pair.cfg.max_answer)
    assert dgcnn.read(pair, chars, question, passages)["spans"][0][2] == pytest.approx(score)

    dgcnn.save((a, chars), tmp_path / "a", "# a")
    dgcnn.save((b, words), tmp_path / "b", "# b")
    (tmp_path / "a" / dgcnn.ENSEMBLE_FILE).write_text(json.dumps({"members": ["../b"], "threshold": 0.3,
                                                                   "length_penalty": 0.1}))
    loaded, tok = dgcnn.load(tmp_path / "a")
    assert isinstance(loaded, dgcnn.Ensemble) and len(loaded.members) == 2 and tok.chars.itos == chars.chars.itos
    assert (loaded.cfg.threshold, loaded.cfg.length_penalty) == (0.3, 0.1) and loaded.members[1][1].words
    alone, _ = dgcnn.load(tmp_path / "a", ensemble=False)
    assert isinstance(alone, DGCNN)
    r1, r2 = dgcnn.read(loaded, tok, question, passages), dgcnn.read(pair, chars, question, passages)
    assert r1["answer"] == r2["answer"] and r1["score"] == pytest.approx(r2["score"], abs=2e-3)   # fp16 weights
