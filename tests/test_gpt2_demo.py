"""The GPT2_ML tab's adapter on the shipped checkpoint (no browser)."""
import time

import gradio as gr
import pytest
import torch

from demos import gpt2


def run(prompt="床前明月光，", style="poem", max_new=40, temperature=1.0, top_k=20, top_p=0.95, penalty=1.1,
        n=1, seed=0, stop=False, checkpoint="", min_new=gpt2.MIN_NEW, form=0):
    """Every streamed update of the tab's generate()."""
    return list(gpt2.generate(prompt, style, max_new, temperature, top_k, top_p, penalty, n, seed, stop,
                              checkpoint, min_new, form))


def test_output_is_streamed_and_starts_with_the_prompt(monkeypatch):
    monkeypatch.setattr(gpt2, "SHOW_EVERY", 0.0)                # an update per token
    updates = run(max_new=60)
    texts = [t for t, _ in updates]
    assert len(updates) >= 10                                    # many partial updates, not one at the end
    assert all(b.startswith(a) for a, b in zip(texts, texts[1:]))  # each update extends the last
    final, notes = updates[-1]
    assert final.startswith("床前明月光，") and len(final) > len("床前明月光，") + 5
    assert " " not in final                                       # characters joined without spaces
    assert "tokens/s" in notes and "generating" not in notes


def test_updates_are_spaced_in_time_and_the_last_one_is_whole(monkeypatch):
    whole = run(max_new=60)[-1]
    monkeypatch.setattr(gpt2, "SHOW_EVERY", 3600.0)
    updates = run(max_new=60)
    assert len(updates) == 2                                     # the first token at once, then the end
    assert updates[-1][0] == whole[0] and len(updates[0][0]) == len("床前明月光，") + 1


def test_same_seed_same_text_other_seed_other_text():
    a, b, c = (run(seed=s)[-1][0] for s in (5, 5, 6))
    assert a == b and a != c


def test_greedy_is_deterministic_and_needs_no_seed():
    a, b = (run(temperature=0, seed=s)[-1][0] for s in (1, 2))
    assert a == b


def test_every_style_generates_from_an_empty_prompt():
    from models.gpt2 import STYLES

    ckpt = gpt2.checkpoint()
    assert ckpt.styles == list(STYLES)
    for _, style in gpt2.STYLE_CHOICES:
        text, _ = run("", style, max_new=50, seed=1)[-1]
        assert len(text) >= 5, style


def test_a_visitor_gets_at_least_the_minimum_by_default():
    """The tab's defaults: no end of text before MIN_NEW new tokens (the old model stopped after 6–20 characters)."""
    import inspect

    defaults = inspect.signature(gpt2.generate).parameters
    assert defaults["min_new_tokens"].default == gpt2.MIN_NEW >= 40
    for prompt, style in (("这本书", "review"), ("今天", "news"), ("春风", "ci")):
        for seed in range(2):
            *_, (text, notes) = gpt2.generate(prompt, style, seed=seed)
            assert len(text) - len(prompt) >= gpt2.MIN_NEW - 5, (style, text)   # a few tokens are Latin words
            assert int(notes.split(" 个新词元")[0].split()[-1]) >= gpt2.MIN_NEW


@pytest.mark.parametrize("form", [5, 7])
def test_poem_form_writes_whole_lines(form):
    import re

    for seed in range(3):
        prompt = "床前明月光，" if form == 5 and seed == 0 else ""
        text, _ = run(prompt, "poem", max_new=120, seed=seed, form=form)[-1]
        lines = re.findall(r"([^，。]+)([，。])", text)
        assert 4 <= len(lines) <= 8 and text.endswith("。"), text
        assert all(len(body) == form for body, _ in lines), text
        assert "".join(mark for _, mark in lines) == "，。" * (len(lines) // 2), text


def test_stop_at_period_ends_at_the_first_full_stop_after_the_minimum():
    for seed in range(3):
        text, _ = run("今天", "news", max_new=200, seed=seed, stop=True, min_new=0)[-1]
        assert text.count("。") <= 1
        assert text.endswith("。") or len(text) >= 150        # or it ran out of tokens first
        text, _ = run("今天", "news", max_new=200, seed=seed, stop=True, min_new=60)[-1]
        assert text.endswith("。") and "。" not in text[:-1][60:]


def test_several_samples_are_numbered():
    text, _ = run(n=3, max_new=20)[-1]
    assert text.startswith("【1】") and "【2】" in text and "【3】" in text


def test_a_long_prompt_is_cut_to_the_context_and_said_so():
    prompt = "春眠不觉晓，处处闻啼鸟。" * 900                          # 10,800 characters
    t0 = time.time()
    text, notes = run(prompt, max_new=30)[-1]
    assert time.time() - t0 < 30
    assert "cut to its last" in notes
    ckpt = gpt2.checkpoint()
    kept = ckpt.context - 30 - 1
    assert len(text) <= kept + 30 + 5 and text.startswith(prompt[-kept:][:10])


def test_characters_outside_the_vocabulary_are_named():
    text, notes = run("我们😀来到𪚥这里", max_new=10)[-1]
    assert "[UNK]" in notes and "😀" in notes and "𪚥" in notes


@pytest.mark.parametrize("kwargs,message", [
    (dict(prompt="😀😀😀🎉"), "vocabulary"),
    (dict(prompt="春" * (gpt2.MAX_PROMPT + 1)), "too long"),
    (dict(prompt=123), "must be text"),
    (dict(max_new=0), "between"),
    (dict(max_new=5000), "between"),
    (dict(max_new=float("nan")), "between"),
    (dict(temperature=-1), "between"),
    (dict(top_p=0), "between"),
    (dict(n=9), "between"),
    (dict(seed=-3), "between"),
    (dict(style="sonnet"), "unknown style"),
    (dict(form=6), "poem form"),
    (dict(form=5, prompt="床前明月光疑是"), "longer than 5"),
    (dict(min_new=-1), "between"),
])
def test_bad_input_is_refused_clearly(kwargs, message):
    t0 = time.time()
    with pytest.raises(gr.Error, match=message):
        run(**kwargs)
    assert time.time() - t0 < 5                                   # fails fast: nothing tried on the network


@pytest.mark.parametrize("name,message", [
    ("/no/such/folder", "no such folder"),
    ("not a model id!", "neither a folder nor a hub id"),
    ("uer/gpt2-chinese-cluecorpussmall", "offline"),
])
def test_listed_checkpoints_that_cannot_load_are_refused_clearly(monkeypatch, name, message):
    monkeypatch.setenv(gpt2.ALLOW_ENV, f"something/else, {name}")
    t0 = time.time()
    with pytest.raises(gr.Error, match=message):
        run(checkpoint=name)
    assert time.time() - t0 < 5                                   # fails fast: nothing tried on the network


@pytest.mark.parametrize("name", ["/etc", "/no/such/folder", str(gpt2.REPO / "data" / "couplet"),
                                  "uer/gpt2-chinese-cluecorpussmall", "../../etc/passwd"])
def test_only_listed_checkpoints_are_loaded(monkeypatch, name):
    """By default a visitor cannot make the server load any folder or hub model, and the answer is the same
    whether the folder exists or not."""
    monkeypatch.delenv(gpt2.ALLOW_ENV, raising=False)
    with pytest.raises(gr.Error) as refused:
        run(checkpoint=name, max_new=5)
    assert "KEXUE_GPT2_ALLOWED" in str(refused.value) and name not in str(refused.value)
    assert run(checkpoint="", max_new=5)[-1][0]  # the embedded model needs no listing


def test_control_characters_are_removed_and_empty_prompt_allowed():
    text, _ = run("\x00\x07", "news", max_new=10)[-1]
    assert "\x00" not in text and "\x07" not in text and text


def test_a_gpt2_ml_layout_folder_loads_from_the_page(tmp_path, monkeypatch):
    """A converted GPT2_ML checkpoint (here: a small random one) is generated from by folder name."""
    from models import gpt2_ml

    vocab = (gpt2.WEIGHTS / "vocab.txt").read_text(encoding="utf-8")
    torch.manual_seed(0)
    model = gpt2_ml.GPT2ML(gpt2_ml.GPT2MLConfig(vocab_size=len(vocab.split("\n")) - 1, hidden_size=32,
                                                num_hidden_layers=2, num_attention_heads=2,
                                                max_position_embeddings=64))
    gpt2_ml.save_folder(model, tmp_path)
    (tmp_path / "vocab.txt").write_text(vocab, encoding="utf-8")
    monkeypatch.setenv(gpt2.ALLOW_ENV, str(tmp_path))
    a = run("床前", "poem", max_new=12, seed=3, checkpoint=str(tmp_path))
    b = run("床前", "poem", max_new=12, seed=3, checkpoint=str(tmp_path))
    assert a[-1][0] == b[-1][0] and a[-1][0].startswith("床前")
    assert str(tmp_path) in a[-1][1]
    with pytest.raises(gr.Error, match="context"):                # this one has 64 positions
        run("床前", "poem", max_new=100, checkpoint=str(tmp_path))


def test_environment_variable_chooses_the_checkpoint(monkeypatch, tmp_path):
    monkeypatch.setenv(gpt2.ENV, str(tmp_path / "missing"))
    with pytest.raises(gr.Error, match="no such folder"):
        run()
    monkeypatch.setenv(gpt2.ENV, "")
    assert run(max_new=5)[-1][0]


def test_a_pickle_only_checkpoint_is_refused(tmp_path, monkeypatch):
    """transformers would unpickle pytorch_model.bin; the tab loads safetensors only."""
    import shutil

    shutil.copy(gpt2.WEIGHTS / "config.json", tmp_path / "config.json")
    shutil.copy(gpt2.WEIGHTS / "vocab.txt", tmp_path / "vocab.txt")
    (tmp_path / "pytorch_model.bin").write_bytes(b"\x80\x04not really a pickle")
    monkeypatch.setenv(gpt2.ALLOW_ENV, str(tmp_path))
    with pytest.raises(gr.Error, match="cannot load"):
        run(checkpoint=str(tmp_path))
