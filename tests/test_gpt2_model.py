"""The GPT2_ML post-LN layout, its converted-weights loader, and loading checkpoints (no trained weights needed)."""
import time

import pytest
import torch

from models import gpt2_ml
from models.gpt2 import CharDecoder, load, looks_like_path

TINY = gpt2_ml.GPT2MLConfig(vocab_size=40, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                            max_position_embeddings=24)
VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "[NEWS]", "[REVIEW]", "[POEM]", "。", "，"] + list(
    "床前明月光疑是地上霜举头望低思故乡春眠不觉晓处闻啼鸟夜来") + ["a", "##a"]


@pytest.fixture()
def tiny():
    torch.manual_seed(0)
    model = gpt2_ml.GPT2ML(TINY).eval()
    for p in model.parameters():       # non-trivial LayerNorm weights, so a wrong mapping would show
        p.data += 0.05 * torch.randn_like(p)
    return model


def test_block_is_post_ln(tiny):
    """Every block ends with a LayerNorm: each position's output has that LayerNorm's statistics."""
    block = tiny.blocks[0]
    torch.nn.init.ones_(block.ln1.weight)
    torch.nn.init.zeros_(block.ln1.bias)
    y, _ = block(torch.randn(2, 5, TINY.hidden_size) * 3 + 1)
    assert torch.allclose(y.mean(-1), torch.zeros(2, 5), atol=1e-5)
    assert torch.allclose(y.var(-1, unbiased=False), torch.ones(2, 5), atol=1e-3)


def test_block_formula(tiny):
    """LN₁(a + W₂ gelu(W₁ a)) with a = LN₀(x + Attention(x)), written out."""
    block, x = tiny.blocks[1], torch.randn(1, 6, TINY.hidden_size)
    att, _ = block.attn(x)
    a = block.ln0(x + att)
    want = block.ln1(a + block.output(torch.nn.functional.gelu(block.intermediate(a), approximate="tanh")))
    assert torch.allclose(block(x)[0], want, atol=1e-6)


def test_attention_is_causal(tiny):
    ids = torch.randint(0, 40, (1, 10))
    changed = ids.clone()
    changed[0, 7:] = (changed[0, 7:] + 1) % 40
    a, b = tiny(ids)[0], tiny(changed)[0]
    assert torch.allclose(a[0, :7], b[0, :7], atol=1e-5) and not torch.allclose(a[0, 7:], b[0, 7:])


def test_kv_cache_matches_the_full_forward(tiny):
    ids = torch.randint(0, 40, (1, 12))
    full = tiny(ids)[0]
    logits, past = tiny(ids[:, :5])
    steps = [logits]
    for t in range(5, 12):
        logits, past = tiny(ids[:, t:t + 1], past)
        steps.append(logits)
    assert torch.allclose(torch.cat(steps, 1), full, atol=1e-5)


def test_converted_weights_save_and_reload(tiny, tmp_path):
    names = gpt2_ml.to_tf_names(tiny)
    assert names["newslm/layer01/query_layer/kernel"].shape == (32, 32)
    assert names["newslm/layer00/intermediate/kernel"].shape == (32, 128)      # TF Dense: (in, out)
    assert names["newslm/embeddings/LayerNorm_embed_norm/gamma"].shape == (32,)
    assert len(names) == 4 + 2 * 16
    gpt2_ml.save_folder(tiny, tmp_path)
    (tmp_path / "vocab.txt").write_text("\n".join(VOCAB) + "\n", encoding="utf-8")
    assert gpt2_ml.is_gpt2_ml_folder(tmp_path)
    again = gpt2_ml.load_folder(tmp_path)
    ids = torch.randint(0, 40, (2, 9))
    assert torch.equal(again(ids)[0], tiny(ids)[0])
    ckpt = load(str(tmp_path))                          # the tab's loader recognises the layout
    assert ckpt.kind == "gpt2_ml" and ckpt.context == 24 and ckpt.styles == ["news", "review", "poem"]
    assert torch.equal(ckpt.model(ids)[0], tiny(ids)[0])


def test_loader_refuses_missing_or_misshapen_variables(tiny):
    names = gpt2_ml.to_tf_names(tiny)
    names.pop("newslm/layer01/output/bias")
    with pytest.raises(ValueError, match="missing"):
        gpt2_ml.from_tf_names(names, TINY)
    names = gpt2_ml.to_tf_names(tiny)
    names["adam_m/ignored"] = torch.zeros(1)           # optimizer slots some converters keep: ignored
    names["newslm/layer00/key_layer/kernel"] = names["newslm/layer00/key_layer/kernel"][:, :16]
    with pytest.raises(ValueError, match="shape"):
        gpt2_ml.from_tf_names(names, TINY)


def test_config_reads_gpt2_ml_json():
    cfg = gpt2_ml.GPT2MLConfig.from_dict({"vocab_size": 8021, "hidden_size": 1536, "num_hidden_layers": 48,
                                          "num_attention_heads": 24, "max_position_embeddings": 1024,
                                          "hidden_dropout_prob": 0.1, "initializer_range": 0.014})
    assert cfg.intermediate_size == 6144 and cfg.vocab_size == 8021


def test_generation_is_seeded_and_stops(tiny, tmp_path):
    ids = torch.tensor([[5, 10, 11]])
    runs = []
    for _ in range(2):
        torch.manual_seed(3)
        runs.append(tiny.generate(ids, max_new_tokens=15, temperature=0.9, top_k=10, top_p=0.9,
                                  repetition_penalty=1.2))
    assert torch.equal(*runs) and runs[0].shape == (1, 18)
    greedy = tiny.generate(ids, max_new_tokens=15, do_sample=False)
    stop = int(greedy[0, 4])                             # the second greedy token, used as a stop token
    stopped = tiny.generate(ids, max_new_tokens=15, do_sample=False, eos_token_id=[stop])
    assert stopped[0, -1].item() == stop and stopped.shape[1] <= 5
    no_cache = tiny.generate(ids, max_new_tokens=15, do_sample=False, use_cache=False)
    assert torch.equal(no_cache, greedy)
    assert tiny.generate(ids, max_new_tokens=100, do_sample=False).shape[1] == TINY.max_position_embeddings


def test_char_decoder_joins_chinese_and_keeps_latin_word_spaces():
    d = CharDecoder()
    assert "".join(d.decode_chain(["床", "前", "1", "##9", "##9", "##8", "年"])) == "床前1998年"
    assert "".join(d.decode_chain(["hello", "world", "，", "a", "##b"])) == "hello world，ab"


def test_missing_local_folder_fails_fast(tmp_path):
    t0 = time.time()
    for name in (str(tmp_path / "nope"), "./no/such/folder", "~/no-such-model-here"):
        assert looks_like_path(name)
        with pytest.raises(FileNotFoundError):
            load(name)
    assert time.time() - t0 < 2
    assert not looks_like_path("uer/gpt2-chinese-cluecorpussmall")


@pytest.fixture()
def poet(tmp_path):
    """A random GPT2_ML-layout checkpoint with 96 positions, loaded as the tab loads one: the sampler's rules must
    hold whatever the weights say."""
    torch.manual_seed(1)
    cfg = gpt2_ml.GPT2MLConfig(vocab_size=40, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                               max_position_embeddings=96)
    gpt2_ml.save_folder(gpt2_ml.GPT2ML(cfg).eval(), tmp_path)
    (tmp_path / "vocab.txt").write_text("\n".join(VOCAB) + "\n", encoding="utf-8")
    return load(str(tmp_path))


def test_stream_matches_generate_and_is_seeded(poet):
    from models.gpt2 import Sampling, stream

    ids = poet.start_ids("poem") + poet.encode("床前")
    greedy = list(stream(poet, ids, Sampling(max_new_tokens=20, temperature=0, repetition_penalty=1.2,
                                             min_new_tokens=0)))
    ref = poet.model.generate(torch.tensor([ids]), max_new_tokens=20, do_sample=False, repetition_penalty=1.2,
                              eos_token_id=poet.stop_ids(False))
    assert greedy == ref[0, len(ids):].tolist()                 # the same processors as transformers' generate
    sampling = Sampling(max_new_tokens=30, min_new_tokens=0)
    a, b, c = (list(stream(poet, ids, sampling, seed)) for seed in (4, 4, 5))
    assert a == b and a != c


def test_no_end_of_text_before_the_minimum(poet):
    from models.gpt2 import Sampling, stream

    ids = poet.start_ids("news")
    end = poet.stop_ids(False)
    free = [list(stream(poet, ids, Sampling(max_new_tokens=40, min_new_tokens=0, temperature=2.0, top_k=0,
                                            top_p=1.0), seed)) for seed in range(30)]
    assert any(len(t) < 25 for t in free)                       # this random model does end early when allowed
    for seed in range(30):
        tokens = list(stream(poet, ids, Sampling(max_new_tokens=40, min_new_tokens=25, temperature=2.0, top_k=0,
                                                 top_p=1.0), seed))
        assert len(tokens) >= 25 and not set(tokens[:25]) & set(end)


@pytest.mark.parametrize("n", [5, 7])
def test_poem_lines_have_n_characters_and_alternate_marks(poet, n):
    import re

    from models.gpt2 import PoemLines, Sampling, is_cjk, stream

    for seed in range(5):
        prompt = "床前明" if seed % 2 else ""
        ids = poet.start_ids("poem") + poet.encode(prompt)
        tokens = list(stream(poet, ids, Sampling(max_new_tokens=80, min_new_tokens=0, temperature=1.5, top_k=0,
                                                 top_p=1.0), seed, PoemLines(poet, n, prompt)))
        text = prompt + poet.decode(tokens)
        lines = re.findall(r"([^，。]*)([，。])", text)
        assert all(len(body) == n and all(is_cjk(c) for c in body) for body, _ in lines), text
        assert [mark for _, mark in lines] == ["，", "。"] * (len(lines) // 2), text   # ，。，。…
        assert 4 <= len(lines) <= 8 and text.endswith("。"), text
        assert tokens[-1] in poet.stop_ids(False) or len(lines) == 8


def test_poem_lines_count_the_prompt():
    class Tok:
        def get_vocab(self):
            return {t: i for i, t in enumerate(VOCAB)}

    from models.gpt2 import Checkpoint, PoemLines

    ckpt = Checkpoint(None, Tok(), "vocab only", 64, "gpt2")
    state = PoemLines(ckpt, 5, "床前明月光，疑是地")
    assert (state.lines, state.open) == (1, 3)
    with pytest.raises(ValueError):
        PoemLines(ckpt, 5, "床前明月光疑")                  # the open line is already longer than 5
    with pytest.raises(ValueError):
        PoemLines(ckpt, 6, "")
