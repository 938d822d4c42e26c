"""models/attention.py and its training: the mask really masks, position embedding, variants, weights,
calibration, resuming."""
import math

import pytest
import torch

from models.attention import (AttentionConfig, MultiHeadAttention, SentimentClassifier, loss_fn,
                              sinusoidal_position_embedding)


def test_position_embedding_is_cos_then_sin():
    pe = sinusoidal_position_embedding(50, 16)
    assert pe.shape == (50, 16)
    p, i = 7, 3
    omega = 10000 ** (-2 * i / 16)
    assert pe[p, i].item() == pytest.approx(math.cos(p * omega), abs=1e-6)
    assert pe[p, 8 + i].item() == pytest.approx(math.sin(p * omega), abs=1e-6)
    assert torch.allclose(pe[0], torch.cat([torch.ones(8), torch.zeros(8)]))


def test_attention_rows_are_distributions_over_real_keys_only():
    torch.manual_seed(0)
    mha = MultiHeadAttention(12, 3, 4, out_proj=False)
    x = torch.randn(2, 5, 12)
    mask = torch.tensor([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]], dtype=torch.bool)
    out, w = mha(x, mask)
    assert out.shape == (2, 5, 12) and w.shape == (2, 3, 5, 5)
    assert torch.allclose(w.sum(-1), torch.ones(2, 3, 5))
    assert (w[0, :, :, 3:] == 0).all()


def test_changing_padded_positions_never_changes_the_output():
    torch.manual_seed(0)
    mha = MultiHeadAttention(12, 3, 4, out_proj=True)
    x = torch.randn(1, 6, 12)
    mask = torch.tensor([[1, 1, 1, 1, 0, 0]], dtype=torch.bool)
    y = x.clone()
    y[:, 4:] = torch.randn(1, 2, 12) * 100
    a, _ = mha(x, mask)
    b, _ = mha(y, mask)
    assert torch.allclose(a[:, :4], b[:, :4], atol=1e-5)


@pytest.mark.parametrize("variant", ["su", "encoder"])
@pytest.mark.parametrize("use_pe", [True, False])
def test_classifier_ignores_padding_and_reports_every_layer(variant, use_pe):
    torch.manual_seed(0)
    cfg = AttentionConfig(vocab_size=30, variant=variant, n_layers=2, use_pe=use_pe, d_model=32, n_heads=4,
                          head_dim=8, d_ff=64, max_len=20)
    model = SentimentClassifier(cfg).eval()
    ids = torch.tensor([[5, 6, 7, 8, 0, 0]])
    logits, attentions = model(ids)
    assert logits.shape == (1,) and len(attentions) == (1 if variant == "su" else 2)
    # same review without padding gives the same answer
    assert torch.allclose(model(ids[:, :4])[0], logits, atol=1e-5)
    # the contributions add up to the logit minus the bias (the head is linear after the mean)
    explained, contrib, _ = model.explain(ids)
    assert torch.allclose(explained, logits, atol=1e-5)
    assert torch.allclose(contrib.sum() + model.head.bias, logits, atol=1e-5)
    assert (contrib[0, 4:] == 0).all()


def test_wide_path_reads_each_ngram_once_ignores_padding_and_adds_up():
    torch.manual_seed(0)
    cfg = AttentionConfig(vocab_size=30, variant="encoder", d_model=32, n_heads=4, d_ff=64, max_len=20,
                          ngram_buckets=97)
    model = SentimentClassifier(cfg).eval()
    ids = torch.tensor([[5, 6, 7, 0, 0]])
    grams = model.ngram_ids(ids)[0]
    # position 0 holds 5, 56, 567; position 1: 6, 67 and no trigram; position 2: only 7; padding: nothing
    assert (grams[0] > 0).all() and (grams[1, :2] > 0).all() and grams[1, 2] == 0
    assert (grams[2, 1:] == 0).all() and grams[2, 0] > 0 and (grams[3:] == 0).all()
    assert len({int(g) for g in grams[grams > 0]}) == 6  # six different n-grams, six buckets here
    base = model(ids)[0]
    with torch.no_grad():
        model.ngram.weight[grams[0, 2]] = 3.0  # the trigram 567: +3 / √3 on the logit
    logits = model(ids)[0]
    assert (logits - base).item() == pytest.approx(3.0 / math.sqrt(3), abs=1e-5)
    assert torch.allclose(model(ids[:, :3])[0], logits, atol=1e-5)  # padding changes nothing
    explained, contrib, _ = model.explain(ids)
    assert torch.allclose(explained, logits, atol=1e-5)
    assert torch.allclose(contrib.sum() + model.head.bias, logits, atol=1e-5)
    assert (contrib[0, 3:] == 0).all()
    for short in ([[5]], [[5, 6]]):  # reviews shorter than a trigram
        assert model(torch.tensor(short))[0].shape == (1,)


def test_ngram_dropout_leaves_ngrams_out_in_training_only_and_keeps_the_mean():
    torch.manual_seed(0)
    cfg = AttentionConfig(vocab_size=30, variant="encoder", d_model=32, n_heads=4, d_ff=64, max_len=20,
                          ngram_buckets=97, ngram_dropout=0.5)
    model = SentimentClassifier(cfg)
    with torch.no_grad():
        model.ngram.weight.fill_(1.0)
    ids = torch.tensor([[5, 6, 7, 8, 9, 10]])
    mask = ids != 0
    full = model.eval().wide(ids, mask)
    assert torch.equal(full, model.wide(ids, mask))  # evaluation: every n-gram, every time
    model.train()
    draws = torch.stack([model.wide(ids, mask).sum() for _ in range(2000)])
    kept = {round(d.item() * math.sqrt(6) / 2) for d in draws[:50]}  # each kept n-gram adds 1 / (1 − p) / √n
    assert len(kept) > 3 and min(kept) >= 0 and max(kept) <= 15  # some of the 15 n-grams, a different few each time
    assert draws.mean().item() == pytest.approx(full.sum().item(), rel=0.05)  # unbiased


def test_words_are_read_at_their_first_character_with_stable_buckets():
    from models.attention import _jieba, word_buckets_of, word_ids

    text = "书的内容很充实，孩子很喜欢"
    words = _jieba().lcut(text)
    grams = word_buckets_of(text, 1000)
    starts = [sum(map(len, words[:i])) for i in range(len(words))]
    assert [t for t, g in enumerate(grams) if g[0]] == starts  # one word per start, none inside a word
    assert all(g[1] for t, g in enumerate(grams) if t in starts[:-1]) and grams[starts[-1]][1] == 0
    assert all(1 <= b <= 1000 for g in grams for b in g if b)
    assert word_buckets_of(text, 1000) == grams  # crc32: the same buckets in every process, not hash()'s
    assert word_buckets_of("内容很充实", 1000)[0][0] == grams[starts[words.index("内容")]][0]
    batch = word_ids([text, "很好"], 1000, 20)
    assert batch.shape == (2, 20, 2) and (batch[0, len(text):] == 0).all() and batch[1, 0, 0] > 0


def test_a_model_with_words_needs_them_and_each_word_weight_lands_on_its_first_character():
    from models.attention import word_ids

    torch.manual_seed(0)
    cfg = AttentionConfig(vocab_size=30, variant="encoder", d_model=32, n_heads=4, d_ff=64, max_len=20,
                          ngram_buckets=97, word_buckets=101)
    model = SentimentClassifier(cfg).eval()
    text = "质量很好"
    ids = torch.tensor([[5, 6, 7, 8]])
    words = word_ids([text], 101, 4)
    with pytest.raises(ValueError):
        model(ids)
    base, before = model(ids, words)[0], model.explain(ids, words)[1]
    start = int(words[0, :, 0].nonzero()[-1])  # the last word's first character
    with torch.no_grad():
        model.word.weight[words[0, start, 0]] = 2.0
    logits = model(ids, words)[0]
    assert (logits - base).item() == pytest.approx(2.0 / math.sqrt(4), abs=1e-5)
    explained, contrib, _ = model.explain(ids, words)
    assert torch.allclose(explained, logits, atol=1e-5)
    moved = torch.zeros(4)
    moved[start] = 2.0 / math.sqrt(4)
    assert torch.allclose(contrib[0] - before[0], moved, atol=1e-5)  # on the word's first character only
    # made last: the other weights are those of the same seed without words
    torch.manual_seed(0)
    plain = SentimentClassifier(AttentionConfig(vocab_size=30, variant="encoder", d_model=32, n_heads=4, d_ff=64,
                                                max_len=20, ngram_buckets=97))
    torch.manual_seed(0)
    again = SentimentClassifier(cfg)
    assert all(torch.equal(v, again.state_dict()[k]) for k, v in plain.state_dict().items())


def test_wide_weights_learn_faster_and_only_they():
    from training.sentiment import param_groups

    model = SentimentClassifier(AttentionConfig(vocab_size=30, variant="encoder", d_model=32, n_heads=4, d_ff=64,
                                                max_len=20, ngram_buckets=50))
    groups = param_groups(model, 1e-3, 10.0)
    assert [len(g["params"]) for g in groups] == [len(list(model.parameters())) - 1, 1]
    with_words = SentimentClassifier(AttentionConfig(vocab_size=30, variant="encoder", d_model=32, n_heads=4, d_ff=64,
                                                     max_len=20, ngram_buckets=50, word_buckets=40))
    assert param_groups(with_words, 1e-3, 10.0)[1]["params"] == [with_words.ngram.weight, with_words.word.weight]
    assert groups[1]["params"][0] is model.ngram.weight and groups[1]["lr"] == pytest.approx(1e-2)
    assert len(param_groups(SentimentClassifier(AttentionConfig(vocab_size=30)), 1e-3)) == 1


def test_position_embedding_makes_order_matter():
    torch.manual_seed(0)
    cfg = AttentionConfig(vocab_size=30, d_model=32, n_heads=4, head_dim=8, max_len=20)
    ids, rev = torch.tensor([[3, 4, 5, 6]]), torch.tensor([[6, 5, 4, 3]])
    with_pe = SentimentClassifier(cfg).eval()
    assert not torch.allclose(with_pe(ids)[0], with_pe(rev)[0])
    cfg.use_pe = False
    without = SentimentClassifier(cfg).eval()
    assert torch.allclose(without(ids)[0], without(rev)[0], atol=1e-5)  # a bag of characters without PE


def test_source_weights_balance_each_sources_classes():
    from training.sentiment import source_weights

    rows = [(1, "a", "x")] * 6 + [(0, "a", "x")] * 2 + [(1, "b", "x")] * 1 + [(0, "b", "x")] * 1
    w = source_weights(rows)
    assert w["a", 1] * 6 == pytest.approx(w["a", 0] * 2)      # within a source both classes weigh the same
    assert w["b", 1] == pytest.approx(w["b", 0])
    assert sum(w[s, y] for y, s, _ in rows) == pytest.approx(len(rows))  # mean weight 1
    # a shopping category is part of its source, or a source of its own
    rows = [(1, "shopping/书籍", "x")] * 1 + [(0, "shopping/书籍", "x")] * 9 + [(1, "shopping/水果", "x")] * 9 + \
        [(0, "shopping/水果", "x")] * 1
    assert source_weights(rows)["shopping/书籍", 1] == pytest.approx(1.0)      # the shopping set is balanced
    w = source_weights(rows, categories=True)
    assert w["shopping/书籍", 1] == pytest.approx(9 * w["shopping/书籍", 0]) and w["shopping/书籍", 1] == \
        pytest.approx(w["shopping/水果", 0])


def test_weighted_loss_is_the_weighted_mean():
    logits, labels = torch.tensor([2.0, -1.0]), torch.tensor([1, 1])
    each = torch.nn.functional.binary_cross_entropy_with_logits(logits, labels.float(), reduction="none")
    weighted = (each * torch.tensor([1.0, 3.0])).mean().item()
    assert loss_fn(logits, labels, torch.tensor([1.0, 3.0])).item() == pytest.approx(weighted)
    assert loss_fn(logits, labels).item() == pytest.approx(each.mean().item())


def test_temperature_undoes_overconfidence_and_reliability_measures_it():
    from models.attention import fit_temperature, reliability

    g = torch.Generator().manual_seed(0)
    true_logit = torch.randn(4000, generator=g) * 2
    labels = (torch.rand(4000, generator=g) < torch.sigmoid(true_logit)).long()
    t = fit_temperature(true_logit * 3, labels)                 # a model 3× too confident
    assert 2.6 < t < 3.4
    _, ece_over = reliability(torch.sigmoid(true_logit * 3), labels)
    rows, ece_fixed = reliability(torch.sigmoid(true_logit * 3 / t), labels)
    assert ece_fixed < ece_over / 3 and sum(n for _, _, n in rows) == 4000
    assert all(0.5 <= c <= 1 and 0 <= a <= 1 for c, a, _ in rows)


def test_a_resumed_run_ends_where_an_uninterrupted_one_does(tmp_path):
    from models.vocab import Vocab
    from training.sentiment import train

    rows = [(1, "a", "很好很满意"), (0, "a", "太差了失望"), (1, "b", "不错推荐"), (0, "b", "难用退货")] * 8
    vocab = Vocab.from_texts(t for _, _, t in rows)
    cfg = AttentionConfig(vocab_size=len(vocab), d_model=16, n_heads=2, head_dim=8, max_len=16)
    straight, h1 = train(cfg, rows, rows, vocab, epochs=3, patience=9, batch_size=8)
    train(cfg, rows, rows, vocab, epochs=2, patience=9, batch_size=8, run=tmp_path)   # "interrupted" after 2
    resumed, h2 = train(cfg, rows, rows, vocab, epochs=3, patience=9, batch_size=8, run=tmp_path, resume=True)
    # epoch 3's loss depends on the weights and the Adam moments restored after epoch 2
    assert [h["epoch"] for h in h2] == [1, 2, 3]
    assert [h["train_loss"] for h in h2] == pytest.approx([h["train_loss"] for h in h1], abs=1e-6)
    for k, v in straight.state_dict().items():
        assert torch.allclose(v, resumed.state_dict()[k], atol=1e-6), k
    # the training time goes on from the saved run, so a resumed run's card counts the epochs run before
    minutes = [h["minutes"] for h in h2]
    assert 0 < minutes[0] < minutes[1] < minutes[2]


def test_masked_lm_pretraining_lowers_its_loss():
    from models.vocab import Vocab
    from training.sentiment import pretrain_mlm

    torch.manual_seed(0)
    texts = ["天气很好我们去公园散步", "今天天气不好我们在家看书"] * 40
    vocab = Vocab(sorted(set("".join(texts))))
    cfg = AttentionConfig(vocab_size=len(vocab), variant="encoder", d_model=32, n_heads=4, d_ff=64, max_len=16)
    model = SentimentClassifier(cfg)
    ids = torch.tensor([vocab.encode(texts[0])])
    masked = ids.clone()
    masked[0, [2, 5, 8]] = 1  # hide 很, 去, 散 behind <unk>

    def loss():  # how well the hidden characters are predicted
        model.eval()
        with torch.no_grad():
            logits = model.mlm_logits(masked)[0, [2, 5, 8]]
            return torch.nn.functional.cross_entropy(logits, ids[0, [2, 5, 8]]).item()

    before = loss()
    pretrain_mlm(model, texts, vocab, epochs=3, window=12, batch_size=8)
    assert loss() < before


def test_cached_pretraining_is_the_seeded_run_and_is_read_back(tmp_path, monkeypatch):
    import types

    from models.vocab import Vocab
    from training import sentiment as trainer

    monkeypatch.setenv("KEXUE_CACHE", str(tmp_path))
    texts = ["天气很好我们去公园散步" * 12, "今天天气不好我们在家看书" * 12] * 4
    vocab = Vocab(sorted(set("".join(texts))))
    cfg = AttentionConfig(vocab_size=len(vocab), variant="encoder", d_model=32, n_heads=4, d_ff=64, max_len=128)
    args = types.SimpleNamespace(pretrain_epochs=1, seed=3, device="cpu")
    torch.manual_seed(3)   # the seeded run as written out: seed, make the model, pre-train
    expected = trainer.pretrain_mlm(SentimentClassifier(cfg), texts, vocab, 1, seed=3).state_dict()
    torch.manual_seed(99)  # whatever came before must not matter
    made = trainer.pretrained(cfg, texts, vocab, args).state_dict()
    assert list(tmp_path.glob("sentiment/pretrained-*.safetensors"))
    read = trainer.pretrained(cfg, texts, vocab, args).state_dict()
    for k, v in expected.items():
        assert torch.equal(v, made[k]) and torch.equal(v, read[k]), k


MEMBER_ROWS = [(1, "a", "很好很满意，推荐"), (0, "a", "太差了，很失望"), (1, "b", "不错不错，好用"), (0, "b", "难用，退货了"),
               (1, "a", "满意，好评"), (0, "b", "失望，差评"), (1, "b", "推荐，好用好用"), (0, "a", "差，不推荐")] * 3


def test_tfidf_member_is_the_fitted_tfidf_logistic_regression_and_adds_up():
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    from models.attention import ngram_keys
    from models.vocab import Vocab
    from training.sentiment import batches, fit_tfidf_member, source_weights

    torch.manual_seed(0)
    vocab = Vocab.from_texts(t for _, _, t in MEMBER_ROWS)
    cfg = AttentionConfig(vocab_size=len(vocab), variant="encoder", d_model=16, n_heads=2, d_ff=32, max_len=32,
                          ngram_buckets=97)
    net = SentimentClassifier(cfg).eval()
    model, grid = fit_tfidf_member(net, vocab, MEMBER_ROWS, MEMBER_ROWS)
    assert [w for w, _ in grid] == [0.25, 0.5, 0.75, 1.0, 1.5, 2.0] and model.cfg.tfidf_weight in dict(grid)
    best = max(a for _, a in grid)
    assert dict(grid)[model.cfg.tfidf_weight] == best and all(w >= model.cfg.tfidf_weight for w, a in grid if a == best)
    assert (model.tfidf_keys[1:] > model.tfidf_keys[:-1]).all()  # sorted, no duplicates: searchsorted finds them
    # the member's logit is scikit-learn's decision function (features of the same ids, fitted the same way)
    ids, y, w, _ = batches(MEMBER_ROWS, vocab, 256, None, source_weights(MEMBER_ROWS))[0]  # sorted by length
    keys, valid = ngram_keys(ids, len(vocab))
    docs = [k[v].tolist() for k, v in zip(keys, valid)]
    vec = TfidfVectorizer(analyzer=list, sublinear_tf=True, min_df=2)
    clf = LogisticRegression(C=4.0, max_iter=3000).fit(vec.fit_transform(docs), y.tolist(), sample_weight=w.tolist())
    expected = torch.tensor(clf.decision_function(vec.transform(docs)), dtype=torch.float32)
    with torch.no_grad():
        member = model.tfidf(ids).sum(1) + model.tfidf_bias
        assert torch.allclose(member, expected, atol=2e-3)  # the stored weights are rounded to fp16
        # the model's logit is the network's + w × the member's, and the per-character shares still add up
        assert torch.allclose(model(ids)[0], net(ids)[0] + model.cfg.tfidf_weight * member, atol=1e-5)
        explained, contrib, _ = model.explain(ids)
        assert torch.allclose(explained, model(ids)[0], atol=1e-5)
        assert (contrib[ids == 0] == 0).all()
        # a review made only of n-grams the member never saw (<unk>: every fixture character is in the vocabulary)
        assert model.tfidf(torch.tensor([[1, 1, 1]])).abs().sum() == 0


def test_a_checkpoint_with_the_tfidf_member_reads_back_the_same(tmp_path):
    from models import attention
    from models.vocab import Vocab
    from training.sentiment import batches, fit_tfidf_member

    torch.manual_seed(0)
    vocab = Vocab.from_texts(t for _, _, t in MEMBER_ROWS)
    cfg = AttentionConfig(vocab_size=len(vocab), variant="encoder", d_model=16, n_heads=2, d_ff=32, max_len=32)
    model, _ = fit_tfidf_member(SentimentClassifier(cfg).eval(), vocab, MEMBER_ROWS, MEMBER_ROWS)
    attention.save((model, vocab), tmp_path, "card")
    back, _ = attention.load(tmp_path)
    assert back.cfg.tfidf_features == model.cfg.tfidf_features > 0 and back.tfidf_keys.dtype == torch.long
    ids = batches(MEMBER_ROWS, vocab, 256, None)[0][0]
    with torch.no_grad():
        assert torch.allclose(back(ids)[0], model(ids)[0], atol=2e-3)
