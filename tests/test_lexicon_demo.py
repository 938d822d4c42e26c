"""The lexicon tab's adapter functions, called as the page calls them (no browser)."""
import csv
import re
import threading

import gradio as gr
import pandas as pd
import pytest

from demos import lexicon
from demos.adapter import Lazy
from models.min_entropy import Lexicon, span_prf

SAMPLE, PASTE, UPLOAD = lexicon.SOURCES
ARGS = (-6.0, 2.0, 3.0, 6)


def test_build_from_the_shipped_sample():
    table, summary, files, plot, key = lexicon.build(SAMPLE, "", None, *ARGS)
    assert isinstance(table, pd.DataFrame) and 100 < len(table) <= lexicon.TABLE_ROWS
    assert list(table.columns) == ["词 word", "次数 count", "概率 probability", "互信息 PMI"]
    assert table["次数 count"].is_monotonic_decreasing
    top = set(table["词 word"][:50])
    assert {"中国", "发展", "经济"} <= top
    assert isinstance(key, str) and len(key) < 64  # the session keeps a key; the lexicon stays on the server
    assert isinstance(lexicon.BUILT.get(key), Lexicon)
    assert "nats" in summary and "People's Daily" in summary
    dict_path, csv_path = files
    lines = open(dict_path, encoding="utf-8").read().splitlines()
    assert len(lines) > 1000
    word, freq = lines[0].split(" ")
    assert len(word) > 1 and int(freq) > 0
    with open(csv_path, encoding="utf-8") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["word", "count", "probability", "pmi"] and len(rows) > len(lines)
    assert plot is not None


def test_jieba_can_load_the_exported_dictionary(tmp_path):
    import jieba

    *_, files, _, _ = lexicon.build(SAMPLE, "", None, *ARGS)
    tok = jieba.Tokenizer(dictionary=files[0])
    words = tok.lcut("中国经济发展", HMM=False)
    assert "".join(words) == "中国经济发展" and "中国" in words


def test_build_from_pasted_text():
    text = "我们在学习自然语言处理。" * 30 + "自然语言处理很有意思。" * 30
    table, *_ = lexicon.build(PASTE, text, None, -4.0, 1.0, 1.0, 6)
    assert any("语言" in w for w in table["词 word"])


def test_build_from_an_uploaded_gbk_file(tmp_path):
    path = tmp_path / "corpus.txt"
    path.write_bytes(("今天天气很好，我们去公园散步。" * 50).encode("gb18030"))
    table, summary, *_ = lexicon.build(UPLOAD, "", str(path), -4.0, 1.0, 1.0, 6)
    assert len(table) > 0 and "corpus.txt" in summary


@pytest.mark.parametrize("source,pasted,message", [
    (PASTE, "", "为空"),
    (PASTE, "   \n\t ", "为空"),
    (PASTE, "only English text here, no Chinese at all", "没有汉字"),
    (PASTE, "😀" * 100, "没有汉字"),
    (PASTE, "，。！？、" * 100 + "好", "没有找到任何词"),
    (UPLOAD, "", "没有上传文件"),
    ("somewhere else", "", "未知"),
])
def test_build_refuses_bad_corpora(source, pasted, message):
    with pytest.raises(gr.Error, match=message):
        lexicon.build(source, pasted, None, *ARGS)


def test_build_refuses_binary_and_huge_uploads(tmp_path):
    binary = tmp_path / "image.txt"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 10)
    with pytest.raises(gr.Error, match="不是文本文件"):
        lexicon.build(UPLOAD, "", str(binary), *ARGS)
    huge = tmp_path / "huge.txt"
    with open(huge, "wb") as f:
        f.truncate(50 * 1024 * 1024)
    with pytest.raises(gr.Error, match="文件太大"):
        lexicon.build(UPLOAD, "", str(huge), *ARGS)


@pytest.mark.parametrize("args", [
    (float("nan"), 2, 3, 6), (-1, 2, 3, 6), (-6, -1, 3, 6), (-6, 2, 99, 6), (-6, 2, 3, 50), (-6, "x", 3, 6),
    (-6, 2, 3, float("inf")), (-6, None, 3, 6),
])
def test_build_refuses_thresholds_out_of_range(args):
    with pytest.raises(gr.Error, match="between|not a number"):
        lexicon.build(SAMPLE, "", None, *args)


def test_segment_side_by_side_with_jieba():
    ours, theirs, summary = lexicon.segment("中国共产党成功地召开了第十五次全国代表大会。")
    assert ours.count('class="seg ') >= 8 and theirs.count('class="seg ') >= 8
    assert "中国" in ours and "agreement" in summary
    # the agreement shown is the span F1 of the two segmentations shown
    words = [re.findall(r'class="seg [^"]*"[^>]*>([^<]+)<', side) for side in (ours, theirs)]
    assert "".join(words[0]) == "".join(words[1]) == "中国共产党成功地召开了第十五次全国代表大会。"
    assert float(summary.split("**")[1]) == pytest.approx(span_prf([words[0]], [words[1]])[2], abs=5e-4)


def test_segment_uses_the_session_lexicon():
    lex = Lexicon({"天安门": 10, "天": 1, "安": 1, "门": 1, "我": 5, "爱": 5})
    ours, _, summary = lexicon.segment("我爱天安门", lex)
    assert ">天安门<" in ours and "我 / 爱 / 天安门" in summary


def test_the_server_keeps_a_bounded_number_of_built_lexicons(monkeypatch):
    """A session holds a key; the lexicons live on a shelf of KEPT_LEXICONS (memory no longer grows per session).
    A key whose lexicon was dropped segments with the shipped lexicon and says so."""
    shelf = lexicon.Shelf(3)
    monkeypatch.setattr(lexicon, "BUILT", shelf)
    keys = [shelf.put(Lexicon({"天安门": 10 + i, "我": 5, "爱": 5})) for i in range(4)]
    assert len(shelf) == 3 and shelf.get(keys[0]) is None
    assert shelf.get(keys[1]) is not None  # used now: the least recently used is keys[2]
    shelf.put(Lexicon({"我": 1}))
    assert shelf.get(keys[2]) is None and shelf.get(keys[1]) is not None
    ours, _, summary = lexicon.segment("我爱天安门", keys[1])
    assert ">天安门<" in ours and "the lexicon you built" in summary
    _, _, summary = lexicon.segment("我爱天安门", keys[0])
    assert "no longer kept" in summary and "the shipped lexicon" in summary
    shelf.drop(keys[1])  # Gradio's delete_callback when the session's state expires
    assert shelf.get(keys[1]) is None


def test_a_build_killed_midway_leaves_no_truncated_download(tmp_path, monkeypatch):
    monkeypatch.setattr(lexicon, "EXPORTS", tmp_path)
    lex = Lexicon({"中国": 5, "人民": 3, "中": 1, "国": 1})

    def dying_writerow(self, row):
        raise KeyboardInterrupt  # the process stopped while writing the CSV

    class DyingWriter:
        writerow = dying_writerow

    monkeypatch.setattr(lexicon.csv, "writer", lambda f: DyingWriter())
    with pytest.raises(KeyboardInterrupt):
        lexicon.export_files(lex)
    assert not list(tmp_path.rglob("*.csv"))  # only a .part file, never a CSV that looks complete


def test_segment_escapes_html_and_strips_control_characters():
    ours, theirs, _ = lexicon.segment("<b>中国</b>\x07人民")
    assert "<b>" not in ours and "&lt;" in ours and "\x07" not in ours and "人民" in ours


@pytest.mark.parametrize("text,message", [
    ("", "为空"), (None, "请输入"), ("hello", "没有汉字"), ("中" * 20_001, "太长"),
])
def test_segment_refuses_bad_text(text, message):
    with pytest.raises(gr.Error, match=message):
        lexicon.segment(text)


def test_lazy_loads_once_under_concurrency():
    calls = []
    barrier = threading.Barrier(8)

    def loader():
        calls.append(1)
        return object()

    lazy = Lazy(loader)
    results = []

    def worker():
        barrier.wait()
        results.append(lazy.get())

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(calls) == 1 and len({id(r) for r in results}) == 1


def test_shipped_lexicon_is_the_training_command_output():
    from models.min_entropy import load, read_header
    from training.min_entropy_lexicon import OUT, TUNED

    assert lexicon.SHIPPED_LEXICON == OUT
    lex, header = load(OUT), read_header(OUT)
    assert header["config"] == TUNED.__dict__
    assert sum(len(w) > 1 for w in lex.counts) > 10_000 and header["f1"] > 0.7
    assert lexicon.segment("中国经济发展")[0].count('class="seg ') >= 2


def test_exports_of_old_builds_are_pruned(tmp_path, monkeypatch):
    """Every build writes its two downloads into a folder of its own; past MAX_EXPORTS the older half goes."""
    monkeypatch.setattr(lexicon, "EXPORTS", tmp_path)
    monkeypatch.setattr(lexicon, "MAX_EXPORTS", 4)
    lex = lexicon.DEFAULT_LEXICON.get()
    paths = [lexicon.export_files(lex) for _ in range(5)]
    folders = sorted(p.name for p in tmp_path.iterdir())
    assert len(folders) == 3  # 5 > 4: the older 2 removed
    assert all(tmp_path / p.split("/")[-2] in tmp_path.iterdir() for p in paths[-1])  # the newest build is kept


def test_build_progress_names_the_stage_in_both_languages_and_estimates_the_time_left():
    shown, now = [], [0.0]
    report = lexicon.with_estimate(lambda f, desc: shown.append((f, desc)), clock=lambda: now[0])
    report(0.0, "counting characters and pairs")
    now[0] = 3.0
    report(0.3, "counting characters and pairs: 3.0 of 10.0 M characters")
    now[0] = 6.0
    report(0.6, "counting fragments")
    assert shown[0] == (0.0, "统计字与相邻字对 counting characters and pairs · 0%")
    assert shown[1][1].endswith("约剩 7 秒 about 7 s left")      # 3 s for 30 %: 7 s for the other 70 %
    assert shown[2][1].startswith("在弱连接处切开") and "about 4 s left" in shown[2][1]
