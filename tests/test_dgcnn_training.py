"""training/dgcnn.py on the fixture CMRC / DRCD files: training units, batches, the span loss, a resumable run."""
import json
import math
import random

import numpy as np
import pytest
import torch

from conftest import FIXTURES
from models import dgcnn
from training import dgcnn as trainer
from training import reading_data


@pytest.fixture(scope="module")
def rows(tmp_path_factory):
    paths = reading_data.prepare(FIXTURES / "reading", cache=tmp_path_factory.mktemp("cache"))
    return {s: reading_data.read_jsonl(paths[s]) for s in ("train", "valid")}


def test_units_hold_the_answer_or_none_of_the_answers(rows):
    rng = random.Random(0)
    for r in rows["train"]:
        units = trainer.units(r, 128, 96, rng)
        positives = [u for u in units if u[4]]
        assert 1 <= len(positives) <= trainer.MAX_POSITIVES
        assert len(units) - len(positives) <= trainer.NEGATIVES
        for question, passage, off, n, answer in units:
            window = passage[off:off + n]
            assert question == r["question"] and passage in r["passages"] and n <= 128
            assert (answer in window) if answer else not any(a in window for a in r["answers"])


def test_the_answer_sentence_cut_out_gives_an_unanswerable_window_of_the_same_paragraph(rows):
    text = "严嘉禾，湖北宜昌人。1945年毕业于武汉大学；后赴苏联进修。1988年在武汉病逝。"
    cut, at = trainer.without_answer_sentence(text, ["武汉大学"])
    assert cut == "严嘉禾，湖北宜昌人。后赴苏联进修。1988年在武汉病逝。" and at == len("严嘉禾，湖北宜昌人。")
    assert trainer.without_answer_sentence(text, ["武汉"]) is None   # still in the text: not unanswerable
    assert trainer.without_answer_sentence("只有一句武汉大学", ["武汉大学"]) is None   # nothing left
    extra = 0
    for r in rows["train"]:
        plain = trainer.units(r, 128, 96, random.Random(1))
        units = trainer.units(r, 128, 96, random.Random(1), cut_sentence=1.0)
        assert units[:len(plain)] == plain   # the usual units, drawn alike, then the cut one
        for question, passage, off, n, answer in units[len(plain):]:
            extra += 1
            own = next(p for p, h in zip(r["passages"], r["has_answer"]) if h)
            assert answer == "" and passage == trainer.without_answer_sentence(own, r["answers"])[0]
            assert len(passage) < len(own) and 0 < n <= 128 and not any(a in passage for a in r["answers"])
    assert extra > len(rows["train"]) // 2


def test_batches_mark_the_answer_and_cut_words_from_the_whole_passage(rows):
    tok = trainer.build_tokenizer(rows["train"], 500)
    cfg = dgcnn.DGCNNConfig(vocab_size=len(tok.chars), window=128, stride=96, words=len(tok.words))
    cache = {}
    seen = 0
    for q, p, qw, pw, start, end, has in trainer.batches(rows["train"], tok, cfg, 4, random.Random(0), cache):
        assert q.shape == qw.shape and p.shape == pw.shape == start.shape == end.shape and has.shape == (len(p),)
        for k in range(len(p)):
            assert bool(has[k]) == bool(start[k].sum() > 0) == bool(end[k].sum() > 0)
            assert (start[k].cumsum(0) >= end[k].cumsum(0)).all()        # every end after its start
        seen += len(p)
    assert seen > len(rows["train"])
    # the words of a window are those of its whole passage (as models.dgcnn.read cuts them), not re-segmented
    passage = rows["train"][0]["passages"][0]
    assert cache[passage] == tok.encode(passage)


def test_span_loss_is_the_negative_log_probability_of_the_answer_positions():
    logits = torch.tensor([[0.0, 1.0, 2.0], [5.0, 0.0, 0.0]])
    target = torch.tensor([[0.0, 0.0, 1.0], [0.0, 0.0, 0.0]])   # the second row holds no answer: no span loss
    want = -math.log(math.exp(2) / (1 + math.e + math.exp(2)))
    assert trainer.span_nll(logits, target).item() == pytest.approx(want, rel=1e-5)
    both = torch.tensor([[0.0, 1.0, 1.0]])                      # two occurrences: their probabilities add up
    assert trainer.span_nll(torch.tensor([[0.0, 0.0, 0.0]]), both).item() == pytest.approx(-math.log(2 / 3), rel=1e-5)


def test_a_run_is_saved_every_epoch_and_resumes_where_it_stopped(rows, tmp_path):
    tok = trainer.build_tokenizer(rows["train"], 0)
    torch.manual_seed(0)
    cfg = dgcnn.DGCNNConfig(vocab_size=len(tok.chars), dim=8, window=128, stride=96, span_softmax=True)
    model, history, _ = trainer.train(dgcnn.DGCNN(cfg), tok, rows["train"], rows["valid"][:2], epochs=1,
                                      questions=6, batch_size=4, run=tmp_path)
    assert len(history) == 1 and (tmp_path / "state.json").exists()
    again, more, _ = trainer.train(dgcnn.DGCNN(cfg), tok, rows["train"], rows["valid"][:2], epochs=2, questions=6,
                                   batch_size=4, run=tmp_path, resume=True)
    assert [h["epoch"] for h in more] == [1, 2] and more[0] == history[0]
    assert all(math.isfinite(h["train_loss"]) for h in more)


def test_pretrained_vectors_come_from_the_training_split_and_start_the_embeddings(rows, tmp_path):
    from training import reading_vectors

    text = "第一句话。" * 30 + "没有句号的很长一段" * 60
    assert "".join(reading_vectors.sentences(text)) == text
    assert all(len(s) <= reading_vectors.LINE for s in reading_vectors.sentences(text))
    path = reading_vectors.prepare(FIXTURES / "reading", cache=tmp_path, news=False, epochs=1)
    vectors = reading_vectors.read(path)
    # exactly the training split's paragraphs and questions: no validation or test passage was read
    texts = reading_vectors.wiki_texts(FIXTURES / "reading")
    train = {t for r in rows["train"] for t in [r["question"], *r["passages"]]}
    held_out = {p for r in rows["valid"] for p in r["passages"] if not any(p in r2["passages"] for r2 in rows["train"])}
    assert {r["question"] for r in rows["train"]} <= set(texts) and set(texts) <= train
    assert held_out and not held_out & set(texts)
    assert vectors["counts"]["wiki: texts"] == len(texts) and "news: texts" not in vectors["counts"]
    assert vectors["chars"] and vectors["words"]
    assert all(v.shape == (reading_vectors.DIM,) for v in vectors["words"].values())

    tok = trainer.build_tokenizer(rows["train"], 500)
    model = dgcnn.DGCNN(dgcnn.DGCNNConfig(vocab_size=len(tok.chars), dim=reading_vectors.DIM, words=len(tok.words)))
    before = model.embed.weight.detach().clone()
    found = trainer.init_embeddings(model, tok, vectors)
    assert 0 < found["chars"] <= len(tok.chars) and found["words"] > 0
    char = next(c for c in tok.chars.itos[2:] if c in vectors["chars"])
    row = model.embed.weight[tok.chars.stoi[char]].detach()
    scale = float(np.std(np.stack(list(vectors["chars"].values()))))
    assert torch.allclose(row, torch.from_numpy(vectors["chars"][char] / scale))
    assert torch.equal(model.embed.weight[0], before[0])   # padding stays zero
    assert not model.word_embed.weight.requires_grad and model.embed.weight.requires_grad


def test_the_length_penalty_is_the_best_mean_of_both_validation_sets(rows, monkeypatch):
    """With a fake reader whose answer is long at λ = 0 and short from λ = 0.2 on, the visitor questions (short
    gold) pick the first λ that makes them right, unless CMRC (long gold) loses more."""
    visitor = [{"question": "几岁？", "answers": ["6岁"], "passages": ["她6岁开始学琴。"], "has_answer": [True]}]
    cmrc = [{"question": "为什么？", "answers": ["因为下雨了所以"], "passages": ["因为下雨了所以没去。"],
             "has_answer": [True]}]

    def fake_read(model, tok, question, passages, length_penalty=0.0):
        short = length_penalty >= 0.2
        text = {"几岁？": ("6岁", "她6岁"), "为什么？": ("下雨", "因为下雨了所以")}[question]
        return {"answer": text[0] if short else text[1]}

    monkeypatch.setattr(trainer, "read", fake_read)
    lam, table = trainer.choose_length_penalty(None, None, cmrc, visitor)
    assert [r["lambda"] for r in table] == trainer.LENGTH_PENALTIES
    assert lam == 0.0   # EM 1 + 0 at λ 0 ties 0 + 1 at λ ≥ 0.2: the smaller λ wins a tie
    lam, _ = trainer.choose_length_penalty(None, None, cmrc[:0] + visitor, visitor)
    assert lam == 0.2   # both sets want the short answer: the first λ that gives it


def test_the_threshold_is_the_best_mean_of_cmrc_and_visitor_questions_read_at_the_tabs_length_penalty(monkeypatch):
    """A fake reader whose score is fixed per question (and halved below λ 0.2). On CMRC alone every threshold up to
    the answerable score 0.3 keeps it and refuses the distractor (0.004): the smallest wins the tie. The visitor
    set's unanswerable question scores 0.012, so with it the threshold must rise above 0.012 — and no higher than
    its answerable question's 0.016."""
    score = {"cmrc": 0.3, "visitor yes": 0.016, "visitor no": 0.012}
    cmrc = [{"question": "cmrc", "answers": ["甲"], "passages": ["甲乙", "丙丁"], "has_answer": [True, False]}]
    visitor = [{"question": "visitor yes", "answers": ["甲"], "passages": ["甲乙"], "has_answer": [True]},
               {"question": "visitor no", "answers": [], "passages": ["甲乙"], "has_answer": [False]}]
    seen = []

    def fake_read(model, tok, question, passages, length_penalty=0.0):
        seen.append(length_penalty)
        s = score[question] if passages != ["丙丁"] else 0.004
        return {"answer": "甲", "score": s if length_penalty >= 0.2 else s / 2}

    monkeypatch.setattr(trainer, "read", fake_read)
    t, table = trainer.calibrate(None, None, cmrc)
    assert t == min(trainer.THRESHOLDS) == 0.005 and "visitor_kept" not in table[0]
    t, table = trainer.calibrate(None, None, cmrc, visitor, length_penalty=0.2)
    assert t == 0.015 and set(seen) == {0.0, 0.2}
    best = next(r for r in table if r["t"] == t)
    assert (best["kept"], best["refused"], best["visitor_kept"], best["visitor_refused"], best["mean"]) == (1, 1, 1, 1, 1)
    # read at λ 0 the visitor scores halve (0.008, 0.006): no step of the grid parts them, and the smallest ties
    assert trainer.calibrate(None, None, cmrc, visitor)[0] == 0.005
    # a visitor file without unanswerable questions: CMRC alone decides, as before the visitor set
    t, table = trainer.calibrate(None, None, cmrc, visitor[:1], length_penalty=0.2)
    assert t == 0.005 and "visitor_kept" not in table[0]


def test_the_tabs_defaults_choose_the_length_penalty_first_and_read_the_threshold_at_it(monkeypatch, tmp_path):
    """The fake reader answers right only from λ 0.2 on, and its scores halve below λ 0.2 (as above): the λ rule
    picks 0.2, and the threshold, read at 0.2, parts the visitor file's answered (0.016) and unanswered (0.012)."""
    passage = "甲乙。"
    visitor = tmp_path / "visitor.json"
    visitor.write_text(json.dumps([{"layout": "x", "passage": passage, "unanswerable": ["visitor no"],
                                    "questions": [{"question": "visitor yes", "answers": ["甲"]}]}]), encoding="utf-8")
    cmrc = [{"question": "cmrc", "answers": ["甲"], "passages": ["甲乙", "丙丁"], "has_answer": [True, False]}]
    score = {"cmrc": 0.3, "visitor yes": 0.016, "visitor no": 0.012}

    def fake_read(model, tok, question, passages, length_penalty=0.0):
        s = score[question] if passages != ["丙丁"] else 0.004
        return {"answer": "甲" if length_penalty >= 0.2 else "甲乙", "score": s if length_penalty >= 0.2 else s / 2}

    monkeypatch.setattr(trainer, "read", fake_read)
    lam, penalties, t, calibration = trainer.tab_defaults(None, None, cmrc, cmrc, visitor)
    assert lam == 0.2 and t == 0.015 and len(penalties) == len(trainer.LENGTH_PENALTIES)
    assert next(r for r in calibration if r["t"] == t)["mean"] == 1


def test_template_questions_join_the_training_rows_half_idioms_half_poets():
    import csv
    import json

    import opencc

    from training import qa_data

    qa = FIXTURES / "qa"
    entries = qa_data.idiom_entries(list(csv.DictReader((qa / "idiom.csv").open(encoding="utf-8"))))
    entries += qa_data.poet_entries([a for name in ("authors.tang.json", "authors.song.json")
                                     for a in json.loads((qa / name).read_text(encoding="utf-8"))], opencc.OpenCC("t2s"))
    splits, _ = qa_data.build(entries, seed=0)
    extra = trainer.template_rows(splits["train"], 8, seed=0)
    assert [r["source"] for r in extra].count("template:idiom") == 4
    assert [r["source"] for r in extra].count("template:poet") == 4
    assert extra == trainer.template_rows(splits["train"], 8, seed=0)          # seeded
    rng = random.Random(0)
    for r in extra:   # the reading rows' format: the trainer cuts them into units holding the answer
        assert r["answers"][0] in "".join(p for p, has in zip(r["passages"], r["has_answer"]) if has)
        assert any(u[4] == r["answers"][0] for u in trainer.units(r, 128, 96, rng))


def test_translated_squad_adds_its_answerable_questions_with_distractors():
    """ChineseSquad's layout (SQuAD 2.0: empty answers where is_impossible); fixture written for the test."""
    rows, counts = trainer.translated_rows(FIXTURES / "chinese-squad" / "dev-v2.0-zh.json")
    assert counts["train: translated SQuAD 2.0 dev, answerable"] == len(rows) == 8
    assert counts["train: translated SQuAD 2.0 dev, unanswerable (left out)"] == 4
    for r in rows:
        assert r["source"] == "squad-zh" and r["answers"] and sum(r["has_answer"]) == 1
        own = r["passages"][r["has_answer"].index(True)]
        assert all(a in own for a in r["answers"]) and len(r["passages"]) == 3
        assert not any(a in p for p, h in zip(r["passages"], r["has_answer"]) if not h for a in r["answers"])


def test_classical_texts_join_the_vectors_corpus_simplified_and_without_poems_of_other_styles(tmp_path):
    from training import reading_vectors

    root = FIXTURES / "chinese-poetry-github"
    texts = reading_vectors.classic_texts(root)
    joined = "".join(texts)
    assert "遠" not in joined and "远" in joined                           # 孟子 comes out simplified
    ci = json.loads((root / "宋词" / "ci.song.0.json").read_text(encoding="utf-8"))[0]["paragraphs"][0]
    assert ci[:6] not in joined                                            # a 宋词 line is not classical prose
    path = reading_vectors.prepare(FIXTURES / "reading", cache=tmp_path, news=False, epochs=1, classics=root)
    assert path.name == "vectors-classics.npz"
    counts = reading_vectors.read(path)["counts"]
    assert counts["classics: texts"] == len(texts) and counts["classics: characters"] == len(joined)
