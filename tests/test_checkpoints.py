"""One on-disk layout for every model (models/checkpoint.py): each model file's save → load gives back a model with
the same outputs; shards past the size limit; older layouts still read; configs strict."""
import json

import pytest
import torch

from models import (attention, bilstm_reader, checkpoint, couplet, couplet_lm, dgcnn, gan_qp, image_classifier,
                    o_gan, spectrum)
from models.vocab import Vocab

LAYOUT = {"config.json", "model.safetensors", "MODEL_CARD.md"}


def names(folder):
    return {p.name for p in folder.iterdir()}


def test_save_folder_writes_the_layout_in_half_precision_and_reads_it_back(tmp_path):
    weights = {"w": torch.randn(3, 4), "steps": torch.tensor([7])}
    checkpoint.save_folder(tmp_path / "m", weights, {"dim": 4, "rates": [1, 2]}, "# card")
    assert names(tmp_path / "m") == LAYOUT
    config, back = checkpoint.read_folder(tmp_path / "m")
    assert config == {"dim": 4, "rates": [1, 2]} and (tmp_path / "m" / "MODEL_CARD.md").read_text() == "# card"
    assert back["w"].dtype == torch.float32 and torch.allclose(back["w"], weights["w"], atol=1e-2)
    assert torch.equal(back["steps"], weights["steps"])  # integers are not rounded


def test_large_weights_are_sharded_and_stale_shards_removed(tmp_path, monkeypatch):
    monkeypatch.setattr(checkpoint, "MAX_SHARD_BYTES", 1000)  # 1,000 bytes: 500 fp16 numbers a shard
    weights = {f"layer{i}": torch.randn(20, 20) for i in range(5)}  # 800 bytes each in fp16
    checkpoint.save_folder(tmp_path, weights, {}, "")
    shards = sorted(p.name for p in tmp_path.glob("model-*.safetensors"))
    assert shards == [f"model-0000{i}-of-00005.safetensors" for i in range(1, 6)]
    assert not (tmp_path / "model.safetensors").exists()
    index = json.loads((tmp_path / "model.safetensors.index.json").read_text())["weight_map"]
    assert set(index) == set(weights) and set(index.values()) == set(shards)
    _, back = checkpoint.read_folder(tmp_path)
    assert all(torch.allclose(back[k], v, atol=1e-2) for k, v in weights.items())
    monkeypatch.setattr(checkpoint, "MAX_SHARD_BYTES", 10**9)
    checkpoint.save_folder(tmp_path, weights, {}, "")  # smaller now: one file, the shards of before are gone
    assert names(tmp_path) == LAYOUT


def test_older_layouts_are_read_and_a_missing_checkpoint_is_an_error(tmp_path):
    from safetensors.torch import save_file

    w = {"w": torch.ones(2)}
    (tmp_path / "config.json").write_text('{"dim": 2}')
    save_file(w, str(tmp_path / "old_name.safetensors"))  # data/couplet/ before: another weights name
    assert checkpoint.read_folder(tmp_path, legacy="old_name.safetensors")[0] == {"dim": 2}
    save_file(w, str(tmp_path / "stem.safetensors"))  # data/gan_qp/ before: <stem>.json + <stem>.safetensors
    (tmp_path / "stem.json").write_text('{"config": {"dim": 3}, "info": {"steps": 5}}')
    assert checkpoint.read_folder(tmp_path / "stem")[0] == {"dim": 3}
    assert checkpoint.read_history(tmp_path / "stem")["info"] == {"steps": 5}
    with pytest.raises(FileNotFoundError):
        checkpoint.read_folder(tmp_path / "nothing")


def test_list_checkpoints_and_files_beside_them(tmp_path):
    from safetensors.torch import save_file

    save_file({"w": torch.ones(1)}, str(tmp_path / "a.safetensors"))
    (tmp_path / "a.json").write_text("{}")
    (tmp_path / "a_progress.png").write_bytes(b"")
    (tmp_path / "MODEL_CARD.md").write_text("")
    checkpoint.save_folder(tmp_path / "b", {"w": torch.ones(1)}, {}, "")
    assert checkpoint.list_checkpoints(tmp_path) == {"a": tmp_path / "a", "b": tmp_path / "b"}
    assert checkpoint.beside(tmp_path / "a", "progress.png") == tmp_path / "a_progress.png"
    assert checkpoint.beside(tmp_path / "a", "MODEL_CARD.md") == tmp_path / "MODEL_CARD.md"
    assert checkpoint.beside(tmp_path / "b", "progress.png") == tmp_path / "b" / "progress.png"
    checkpoint.remove_stem(tmp_path, "a", extra=("_progress.png",))
    assert names(tmp_path) == {"b", "MODEL_CARD.md"}


def test_config_from_turns_lists_into_tuples_and_refuses_unknown_fields():
    cfg = checkpoint.config_from(dgcnn.DGCNNConfig, {"vocab_size": 9, "passage_rates": [1, 2]})
    assert cfg.passage_rates == (1, 2) and cfg.vocab_size == 9
    with pytest.raises(ValueError, match="no field"):
        checkpoint.config_from(dgcnn.DGCNNConfig, {"vocab_size": 9, "typo": 1})


VOCAB = Vocab(list("春风得意马蹄疾明月松间照"))


def char_ids(n=7):
    return torch.randint(2, len(VOCAB), (2, n))


@pytest.mark.parametrize("module,make,run", [
    (couplet, lambda: couplet.CoupletNet(couplet.CoupletConfig(vocab_size=len(VOCAB), dim=16, n_blocks=2)),
     lambda m, x: m(x)),
    (couplet_lm, lambda: couplet_lm.CoupletLM(couplet_lm.CoupletLMConfig(vocab_size=len(VOCAB), dim=16, n_layers=1,
                                                                         n_heads=2)), lambda m, x: m(x)),
    (attention, lambda: attention.SentimentClassifier(attention.AttentionConfig(vocab_size=len(VOCAB), d_model=16,
                                                                                n_heads=2, head_dim=8)),
     lambda m, x: m(x)[0]),
])
def test_character_models_save_and_load_with_their_vocabulary(tmp_path, module, make, run):
    torch.manual_seed(0)
    model = make().eval()
    module.save((model, VOCAB), tmp_path, "# card")
    assert names(tmp_path) == LAYOUT | {"vocab.txt"}
    loaded, vocab = module.load(tmp_path)
    assert vocab.itos == VOCAB.itos and not loaded.training
    x = char_ids()
    with torch.no_grad():
        assert torch.allclose(run(loaded, x), run(model, x), atol=2e-2)  # fp16 weights


@pytest.mark.parametrize("module,make", [
    (dgcnn, lambda: dgcnn.DGCNN(dgcnn.DGCNNConfig(vocab_size=len(VOCAB), dim=16))),
    (bilstm_reader,
     lambda: bilstm_reader.BiLSTMReader(bilstm_reader.BiLSTMReaderConfig(vocab_size=len(VOCAB), dim=16))),
])
def test_readers_save_and_load_with_their_tokenizer(tmp_path, module, make):
    torch.manual_seed(0)
    model = make().eval()
    module.save((model, dgcnn.Tokenizer(VOCAB)), tmp_path, "# card")
    assert names(tmp_path) == LAYOUT | {"vocab.txt"}   # no words.txt: a characters-only model
    loaded, tok = module.load(tmp_path)
    assert tok.chars.itos == VOCAB.itos and tok.words is None and not loaded.training
    x = char_ids()
    with torch.no_grad():
        assert torch.allclose(loaded(x[:, :3], x)[0], model(x[:, :3], x)[0], atol=2e-2)  # fp16 weights


def test_spectrum_saves_both_stages(tmp_path):
    torch.manual_seed(0)
    cfg = spectrum.SpectrumConfig(n_points=200, widths=(4, 4, 8, 8, 8, 8, 8, 8))
    stage1, stage2 = spectrum.SpectrumNet(cfg).eval(), spectrum.SpectrumNet(cfg).eval()
    spectrum.save(stage2, tmp_path, "# card")
    spectrum.save(stage1, tmp_path / "stage1", "# stage 1")
    x = torch.randn(3, 200)
    with torch.no_grad():
        assert torch.allclose(spectrum.load(tmp_path)(x), stage2(x), atol=2e-2)
        assert torch.allclose(spectrum.load(tmp_path, stage=1)(x), stage1(x), atol=2e-2)
    assert spectrum.load(tmp_path).cfg == cfg


def test_gan_models_save_and_load(tmp_path):
    torch.manual_seed(0)
    G = gan_qp.Generator(gan_qp.GanConfig(width=8)).eval()
    gan_qp.save(G, tmp_path / "g", "# card")
    assert names(tmp_path / "g") == LAYOUT
    z = torch.randn(2, 128)
    with torch.no_grad():
        assert torch.allclose(gan_qp.load(tmp_path / "g")(z), G(z), atol=2e-2)
    G, E = o_gan.build(gan_qp.GanConfig(width=8))
    o_gan.save((G.eval(), E.eval()), tmp_path / "o", "# card")
    G2, E2 = o_gan.load(tmp_path / "o")
    x = torch.rand(2, 1, 32, 32) * 2 - 1
    with torch.no_grad():
        assert torch.allclose(E2(x), E(x), atol=2e-2) and torch.allclose(G2(z), G(z), atol=2e-2)
    classifier = image_classifier.ImageClassifier(image_classifier.ClassifierConfig(width=4)).eval()
    image_classifier.save(classifier, tmp_path / "c", "# card")
    with torch.no_grad():  # float32: FID features exactly those of the trained net
        assert torch.equal(image_classifier.load(tmp_path / "c").features(x), classifier.features(x))


def test_gpt2_saves_a_transformers_folder_with_its_vocabulary_and_card(tmp_path, monkeypatch):
    from conftest import REPO
    from models import gpt2
    from transformers import GPT2LMHeadModel

    tokenizer = gpt2.load_tokenizer(REPO / "data" / "gpt2")
    torch.manual_seed(0)
    model = GPT2LMHeadModel(gpt2.gpt2_config(len(tokenizer), n_layer=1, n_embd=32, n_head=2, n_positions=32)).eval()
    monkeypatch.setattr(checkpoint, "MAX_SHARD_BYTES", 200_000)  # the 10.6k × 32 embedding alone is 680 kB in fp16
    gpt2.save((model, tokenizer), tmp_path, "# card")
    assert (tmp_path / "MODEL_CARD.md").read_text() == "# card" and checkpoint.card_file(tmp_path).name == "MODEL_CARD.md"
    assert (tmp_path / "vocab.txt").read_text(encoding="utf-8") == (REPO / "data" / "gpt2" / "vocab.txt").read_text(
        encoding="utf-8")
    assert (tmp_path / "model.safetensors.index.json").exists()
    assert all(p.stat().st_size <= 750_000 for p in tmp_path.glob("*.safetensors"))   # one tensor a shard at most
    ckpt = gpt2.load(str(tmp_path))
    x = torch.tensor([ckpt.encode("春风得意")])
    with torch.no_grad():
        assert torch.allclose(ckpt.model(x).logits, model.float()(x).logits, atol=5e-2)
