"""The large lexicon corpus (training/lexicon_data.py) on fixtures of every source in its real layout."""
import json

import pytest

from conftest import FIXTURES, use_fixture_corpus_sources
from training import gpt2_data, lexicon_data, qa_data


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("lexicon_corpus")
    mp = pytest.MonkeyPatch()
    use_fixture_corpus_sources(mp, tmp)
    mp.setattr(qa_data, "fetch_idioms", lambda cache: FIXTURES / "qa" / "idiom.csv")
    mp.setattr(qa_data, "fetch_authors", lambda cache: [FIXTURES / "qa" / f"authors.{d}.json" for d in ("tang", "song")])
    try:
        yield lexicon_data.prepare(FIXTURES / "sentiment", FIXTURES / "chinese-poetry-github", FIXTURES / "couplets",
                                     cache=tmp, seed=0)
    finally:
        mp.undo()


def test_every_source_is_in_the_corpus_once(corpus):
    counts = json.loads(corpus["counts"].read_text(encoding="utf-8"))
    assert set(counts) == {*gpt2_data.SOURCES, "couplet", "idiom", "biography", "total"}
    assert all(c["documents"] > 0 for c in counts.values())
    lines = corpus["corpus"].read_text(encoding="utf-8").splitlines()
    assert len(lines) == counts["total"]["documents"] and len(set(lines)) >= len(lines) - 5  # dedup is per source
    assert sum(map(len, lines)) == counts["total"]["characters"]
    assert all(line.strip() == line and "\t" not in line for line in lines)
    # simplified: the traditional poet biographies of the fixture come out in simplified characters
    assert "諱" not in corpus["corpus"].read_text(encoding="utf-8")


def test_an_idiom_document_names_the_idiom_where_the_source_writes_a_tilde(monkeypatch, tmp_path):
    monkeypatch.setattr(qa_data, "fetch_idioms", lambda cache: FIXTURES / "qa" / "idiom.csv")
    docs = lexicon_data.idiom_documents(tmp_path)
    assert docs and not any("～" in d for d in docs)
    assert any("终至堕入阿鼻地狱。" in d for d in docs)


def test_modern_part_is_the_modern_sources_in_the_same_order(corpus):
    whole = corpus["corpus"].read_text(encoding="utf-8").splitlines()
    modern = corpus["modern"].read_text(encoding="utf-8").splitlines()
    counts = json.loads(corpus["counts"].read_text(encoding="utf-8"))
    assert len(modern) == sum(counts[s]["documents"] for s in lexicon_data.MODERN)
    positions = [whole.index(line) for line in modern]
    assert positions == sorted(positions)


def test_build_deduplicates_per_source_and_shuffles_by_seed():
    sources = {"a": ["一 二", "一  二", "三"], "b": ["三", "四"]}
    docs, counts = lexicon_data.build(sources, seed=1)
    assert sorted(docs) == [("a", "一 二"), ("a", "三"), ("b", "三"), ("b", "四")]
    assert counts["a"]["duplicates dropped"] == 1 and counts["total"]["documents"] == 4
    assert lexicon_data.build(sources, seed=1)[0] == docs


def test_prefix_cuts_at_a_line_end(tmp_path):
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("".join(f"第{i}行文字\n" for i in range(100_000)), encoding="utf-8")
    head = lexicon_data.prefix(corpus, 0.5)
    data = head.read_bytes()
    assert 0.5 * lexicon_data.MB - 30 < len(data) <= 0.5 * lexicon_data.MB and data.endswith(b"\n")
    assert corpus.read_bytes().startswith(data)
    assert lexicon_data.prefix(corpus, 1000) == corpus  # larger than the file: the file
