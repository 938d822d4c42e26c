"""training/couplet.py and training/couplet_lm.py end to end on fixture data: splits from the shared folder's formats,
a tagger and an LM trained, saved, resumed and loaded, and the decoder using both."""
import json

import pytest

from conftest import FIXTURES
from models import couplet, couplet_lm
from training import couplet as train_tagger
from training import couplet_data
from training import couplet_lm as train_lm
from training import couplet_phrases as train_phrases

VERSE = {"train": [("明月松间照", "清泉石上流"), ("晚风摇树树", "夜雨敲花花"), ("春风得意马", "秋水无心云")] * 3,
         "valid": [("云对雨来去", "雪对风往还")], "test": [("江山千里秀", "日月万年新")]}


@pytest.fixture()
def cache(tmp_path, monkeypatch):
    """A cache holding the verse splits (as training.couplet_data.prepare_verse writes them), and the real splits
    built from the fixture copy of shared/datasets/couplets."""
    monkeypatch.setenv("KEXUE_CACHE", str(tmp_path / "cache"))
    folder = tmp_path / "cache" / "couplets"
    folder.mkdir(parents=True)
    for split, pairs in VERSE.items():
        (folder / f"{split}.tsv").write_text("".join(f"{a}\t{b}\n" for a, b in pairs), encoding="utf-8")
    (folder / "counts.json").write_text("{}", encoding="utf-8")
    couplet_data.prepare(FIXTURES / "couplets")
    return tmp_path


def test_prepare_needs_a_source_when_nothing_is_cached(tmp_path, monkeypatch):
    monkeypatch.setenv("KEXUE_CACHE", str(tmp_path))
    with pytest.raises(FileNotFoundError, match="--source DIR"):
        couplet_data.prepare()


def test_tagger_and_lm_train_resume_and_decode_together(cache):
    tagger_out, lm_out = cache / "tagger", cache / "lm"
    train_tagger.main(["--epochs", "1", "--threads", "1", "--out", str(tagger_out)])
    model, vocab = couplet.load(tagger_out)
    card = (tagger_out / "MODEL_CARD.md").read_text(encoding="utf-8")
    assert "| wb14123 test | 6 |" in card and "kept: train" in card and "not in this repository" in card
    train_tagger.main(["--epochs", "2", "--threads", "1", "--out", str(tagger_out), "--resume"])
    assert len(json.loads((tagger_out / "history.json").read_text())["valid"]) == 2  # epoch 1 kept, epoch 2 added

    train_lm.main(["--steps", "4", "--eval-every", "2", "--batch-tokens", "64", "--threads", "1", "--dim", "32",
                   "--out", str(lm_out)])
    lm, lm_vocab = couplet_lm.load(lm_out)
    assert lm.cfg.dim == 32 and "--steps 4 --dim 32" in (lm_out / "MODEL_CARD.md").read_text(encoding="utf-8")
    assert lm_vocab.itos[:len(vocab)] == vocab.itos and lm_vocab.itos[-2:] == ["<sep>", "<eos>"]
    train_lm.main(["--steps", "6", "--eval-every", "2", "--batch-tokens", "64", "--threads", "1", "--dim", "32",
                   "--out", str(lm_out), "--resume"])
    history = json.loads((lm_out / "history.json").read_text())
    assert [h["step"] for h in history["valid"]] == [2, 4, 6]

    found = couplet.write_lower(model, vocab, "风弦未拨，心先乱", 3, lm=(lm, lm_vocab), lm_weight=1.0)
    assert len(found) == 3 and all(len(c.lower) == 8 and c.lower[4] == "，" for c in found)


def test_phrase_table_command_counts_the_training_split(cache):
    out = cache / "phrases"
    train_phrases.main(["--out", str(out), "--min-count", "1"])
    table = couplet.PhraseTable.load(out / train_phrases.TABLE)
    train = couplet_data.read_rows(couplet_data.prepare()["train"])
    # every aligned pair of every training couplet is in the table (min count 1), real couplets weighing 2
    for source, a, b in train:
        for i in range(len(a) - 1):
            if a[i] not in couplet.MARKS and a[i + 1] not in couplet.MARKS:
                assert table.counts[a[i:i + 2]][b[i:i + 2]] >= (1 if source == "verse" else 2)
    assert sum(table.totals.values()) == sum(
        (1 if s == "verse" else 2) * sum(a[i] not in couplet.MARKS and a[i + 1] not in couplet.MARKS
                                         for i in range(len(a) - 1)) for s, a, _ in train)
    card = (out / "MODEL_CARD.md").read_text(encoding="utf-8")
    assert f"{len(table):,} pairs" in card and "--min-count 1" in card and "no licence" in card
