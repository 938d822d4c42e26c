"""Tab: 最小熵原理 — unsupervised lexicon construction and unigram segmentation (models/min_entropy.py)."""
from __future__ import annotations

import csv
import html
import logging
import math
import os
import tempfile
import threading
import time
import uuid
from collections import OrderedDict
from pathlib import Path

import gradio as gr
import pandas as pd

from demos.adapter import (REPO, Lazy, check_number, check_text, error, explanation, model_card, prune_oldest,
                           read_text_file)
from demos.language import bi, heading
from models.min_entropy import (PASS_ENDS, Lexicon, LexiconConfig, build_lexicon, display, load, span_prf,
                                word_spans)

TAB_ID = "lexicon"
TITLE = bi("最小熵分词", "Min-entropy words", both="最小熵分词 Words")
POST = "https://kexue.fm/archives/5476"

SAMPLE_PATH = REPO / "data" / "peoples_daily_sample.txt"
SHIPPED_LEXICON = REPO / "data" / "lexicon"  # built by `python -m training.min_entropy_lexicon`
SOURCES = [bi("人民日报示例语料", "People's Daily sample", both="示例语料 People's Daily sample"),  # the values (API)
           bi("粘贴文本", "Pasted text"), bi("上传 .txt", "Uploaded file")]                      # are these texts
MAX_CORPUS_CHARS = 20_000_000  # a 20 MB upload of Chinese is ~7M characters: well inside this
MAX_PASTE_CHARS = 1_000_000
MAX_SEGMENT_CHARS = 20_000
EXPORTS = Path(tempfile.gettempdir()) / "kexue-lexicons"  # one folder per build: its two downloads
MAX_EXPORTS = 200  # builds kept; beyond this, the older half is removed
KEPT_LEXICONS = 8  # built lexicons the server keeps (all sessions together), the most recently used
SESSION_HOURS = 6  # a session's key to its lexicon is forgotten after this long
COLUMNS = ["词 word", "次数 count", "概率 probability", "互信息 PMI"]
TABLE_ROWS = 300  # rows shown on the page (every session keeps what it was shown); the downloads hold all
# thresholds: (low, high, default) — the sliders and the checks of API calls use the same ranges
_TUNED = LexiconConfig()  # the defaults chosen on People's Daily (bench/bench_lexicon.py --grid)
RANGES = dict(min_proba_exp=(-9, -3, round(math.log10(_TUNED.min_proba), 1)), min_pmi=(0, 8, _TUNED.min_pmi),
              word_pmi=(0, 8, _TUNED.word_pmi), max_word_len=(2, 10, _TUNED.max_word_len))
EXAMPLE_TEXT = "在一九九八年来临之际，我十分高兴地通过中央人民广播电台、中国国际广播电台和中央电视台，向全国各族人民致以诚挚的问候和良好的祝愿！"


def _sample_lines() -> list[str]:
    return SAMPLE_PATH.read_text(encoding="utf-8").splitlines()


DEFAULT_LEXICON = Lazy(lambda: load(SHIPPED_LEXICON))
_jieba = Lazy(lambda: _load_jieba())


def _load_jieba():
    import jieba

    jieba.setLogLevel(logging.WARNING)
    tok = jieba.Tokenizer()
    tok.initialize()
    return tok


class Shelf:
    """The lexicons built on this server, at most ``size``, the least recently used dropped first.

    A session keeps only a key (a short string in ``gr.State``), not its lexicon: a lexicon is ~18 MiB, and Gradio
    keeps the states of thousands of sessions, so 80 new sessions that each built one took the server from 0.7 to
    2.2 GB. Here memory is bounded by ``size`` whatever the number of visitors."""

    def __init__(self, size: int):
        self.size = size
        self._items: OrderedDict[str, Lexicon] = OrderedDict()
        self._lock = threading.Lock()

    def put(self, lex: Lexicon) -> str:
        key = uuid.uuid4().hex
        with self._lock:
            self._items[key] = lex
            while len(self._items) > self.size:
                self._items.popitem(last=False)
        return key

    def get(self, key) -> Lexicon | None:
        with self._lock:
            if not isinstance(key, str) or key not in self._items:
                return None
            self._items.move_to_end(key)
            return self._items[key]

    def drop(self, key) -> None:
        if isinstance(key, str):
            with self._lock:
                self._items.pop(key, None)

    def __len__(self) -> int:
        return len(self._items)


BUILT = Shelf(KEPT_LEXICONS)


def _config(min_proba_exp, min_pmi, word_pmi, max_word_len) -> LexiconConfig:
    r = RANGES
    return LexiconConfig(
        min_proba=10 ** check_number(min_proba_exp, "最小概率指数", "log10 min probability", *r["min_proba_exp"][:2]),
        min_pmi=check_number(min_pmi, "最小互信息", "min PMI", *r["min_pmi"][:2]),
        word_pmi=check_number(word_pmi, "成词互信息", "word PMI", *r["word_pmi"][:2]),
        max_word_len=int(check_number(max_word_len, "最大词长", "max word length", *r["max_word_len"][:2])),
    )


def load_corpus(source: str, pasted: str | None, upload) -> tuple[list[str], str]:
    """The chosen corpus → (lines, description)."""
    if source == SOURCES[0]:
        lines = _sample_lines()
        return lines, f"People's Daily 1998 sample ({SAMPLE_PATH.name})"
    if source == SOURCES[1]:
        text = check_text(pasted, "语料", "corpus", MAX_PASTE_CHARS)
        return text.splitlines(), "pasted text"
    if source == SOURCES[2]:
        text = check_text(read_text_file(upload), "上传的语料", "uploaded corpus", MAX_CORPUS_CHARS)
        return text.splitlines(), f"uploaded file {Path(getattr(upload, 'name', upload)).name}"
    raise error("未知的语料来源", f"unknown corpus source {source!r}")


def lexicon_table(lex: Lexicon, rows: int = TABLE_ROWS) -> pd.DataFrame:
    table = lex.build_word_table()[:rows]
    return pd.DataFrame(
        [(w, c, float(f"{p:.3g}"), round(m, 2)) for w, c, p, m in table],
        columns=COLUMNS,
    )


def export_files(lex: Lexicon, stem: str = "lexicon") -> list[str]:
    """Write the whole lexicon as a jieba user dictionary (``word freq``) and as CSV; return both paths.

    Words that contain a digit/letter-run atom (〈数〉年) have no literal form, so they are in the CSV only.
    """
    EXPORTS.mkdir(parents=True, exist_ok=True)
    out = Path(tempfile.mkdtemp(prefix="lexicon_", dir=EXPORTS))
    prune_oldest(EXPORTS, "lexicon_*", MAX_EXPORTS)
    table = lex.build_word_table()
    dict_path, csv_path = out / f"{stem}_jieba_userdict.txt", out / f"{stem}.csv"
    # each file is written under a temporary name and renamed when complete: a build killed midway (a restart, a
    # stopped Space) leaves no truncated download behind
    with open(dict_path.with_suffix(".part"), "w", encoding="utf-8") as f:
        for w, c, _, _ in table:
            if "〈" not in w and not any(ch.isspace() for ch in w):
                f.write(f"{w} {c}\n")
    os.replace(dict_path.with_suffix(".part"), dict_path)
    with open(csv_path.with_suffix(".part"), "w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["word", "count", "probability", "pmi"])
        for w, c, p, m in table:
            writer.writerow([w, c, f"{p:.6g}", f"{m:.4f}"])
    os.replace(csv_path.with_suffix(".part"), csv_path)
    return [str(dict_path), str(csv_path)]


def length_plot(lex: Lexicon):
    """Bar chart of word lengths in the lexicon (by types and by tokens)."""
    from matplotlib.figure import Figure  # not pyplot: its global state is shared by concurrent requests

    lengths = sorted({len(w) for w in lex.counts})
    types = [sum(len(w) == n for w in lex.counts) for n in lengths]
    tokens = [sum(c for w, c in lex.counts.items() if len(w) == n) for n in lengths]
    fig = Figure(figsize=(6, 2.8), dpi=100)
    ax = fig.subplots()
    x = range(len(lengths))
    ax.bar([i - 0.2 for i in x], [t / sum(types) for t in types], 0.4, label="lexicon entries")
    ax.bar([i + 0.2 for i in x], [t / sum(tokens) for t in tokens], 0.4, label="corpus tokens")
    ax.set_xticks(list(x), [str(n) for n in lengths])
    ax.set_xlabel("word length (characters)")
    ax.set_ylabel("share")
    ax.legend(frameon=False)
    ax.set_title("Word lengths")
    fig.tight_layout()
    return fig


STAGES = [(PASS_ENDS[0], "统计字与相邻字对", "counting characters and pairs"),
          (PASS_ENDS[1], "在弱连接处切开，统计片段", "cutting at weak pairs, counting fragments"),
          (1.01, "去除冗余候选词", "removing redundant candidates")]


def with_estimate(progress, clock=time.perf_counter):
    """build_lexicon's progress(fraction, message) → the page's bar: the stage in both languages, the share done
    and the time left, extrapolated from the pace so far (shown once 5 % is done)."""
    t0 = clock()

    def report(fraction: float, message: str) -> None:
        zh, en = next((zh, en) for end, zh, en in STAGES if fraction < end)
        desc = f"{zh} {en} · {fraction:.0%}"
        if fraction >= 0.05:
            left = (clock() - t0) * (1 - fraction) / fraction
            desc += f" · 约剩 {left:.0f} 秒 about {left:.0f} s left"
        progress(fraction, desc=desc)
    return report


def build(source, pasted, upload, min_proba_exp, min_pmi, word_pmi, max_word_len, progress=gr.Progress()):
    """Build a lexicon → (table, summary markdown, [jieba dict, CSV], length plot, the session's key to it).

    The lexicon itself stays on the server's :data:`BUILT` shelf; :func:`segment` takes the key."""
    cfg = _config(min_proba_exp, min_pmi, word_pmi, max_word_len)
    progress(0.0, desc="读取语料 reading the corpus")
    lines, where = load_corpus(source, pasted, upload)
    t0 = time.perf_counter()
    try:
        lex = build_lexicon(lines, cfg, progress=with_estimate(progress))
    except ValueError:
        raise error("语料里没有可用的汉字、数字或字母", "the corpus has no Chinese characters, digits or letters")
    seconds = time.perf_counter() - t0
    n_words = lex.n_words
    if n_words == 0:
        raise error("语料太短或阈值太严，没有找到任何词；请放宽阈值或换更长的语料",
                    "no words found: the corpus is too short or the thresholds too strict")
    summary = (
        f"**{n_words:,}** 个多字词 multi-character words from {where}: "
        f"{lex.n_chars:,} characters, built in {seconds:.2f} s "
        f"(min p = {cfg.min_proba:.1e}, min PMI {cfg.min_pmi:g}, "
        f"word PMI {cfg.word_pmi:g}, max length {cfg.max_word_len}).\n\n"
        f"平均字信息熵 average information per character L = H/l: "
        f"**{lex.char_entropy:.3f}** nats read character by character → "
        f"**{lex.entropy_per_char():.3f}** nats read word by word."
    )
    return lexicon_table(lex), summary, export_files(lex), length_plot(lex), BUILT.put(lex)


def _chips(words: list[str], other: set[tuple[int, int]]) -> str:
    """Words as bordered chips; a chip is highlighted where the other segmenter has no word at that span."""
    out, i = [], 0
    for w in words:
        span = (i, i + len(w))
        i += len(w)
        if w.isspace():
            continue
        cls = "seg-same" if span in other else "seg-diff"
        out.append(f'<span class="seg {cls}">{html.escape(w)}</span>')
    return '<div class="seg-box">' + "".join(out) + "</div>"


def segment(text, lex: Lexicon | str | None = None) -> tuple[str, str, str]:
    """Segment ``text`` with the session's lexicon (a Lexicon, or the key :func:`build` returned; else the shipped
    full-corpus one) and with jieba, side by side.

    Returns (our words as HTML chips, jieba's words as HTML chips, a summary with the words and their agreement).
    """
    text = check_text(text, "待分词文本", "text to segment", MAX_SEGMENT_CHARS)
    expired = ""
    if isinstance(lex, str):
        lex = BUILT.get(lex)
        if lex is None:
            expired = (f"你构建的词库已不在服务器上（只保留最近 {KEPT_LEXICONS} 个），请重新构建 · the lexicon you built is "
                       f"no longer kept (the server keeps the {KEPT_LEXICONS} most recent); build it again.\n\n")
    lex = lex if isinstance(lex, Lexicon) else DEFAULT_LEXICON.get()
    ours = lex.cut(text)
    theirs = _jieba.get().lcut(text, HMM=True)
    f1 = span_prf([ours], [[w for w in theirs if w.strip()]])[2]
    which = expired + ("本次构建的词库 the lexicon you built" if lex is not DEFAULT_LEXICON.get() else
                       "内置词库（人民日报全文构建）the shipped lexicon, built on all of People's Daily 1998")
    summary = (f"{which}. 最小熵 min-entropy: {len([w for w in ours if w.strip()])} words · "
               f"jieba: {len([w for w in theirs if w.strip()])} words · "
               f"一致 agreement (span F1 against jieba): **{f1:.3f}**\n\n"
               f"`{' / '.join(display(w) for w in ours if w.strip())}`")
    return _chips(ours, word_spans(theirs)), _chips(theirs, word_spans(ours)), summary


CSS = """
.seg-box {line-height: 2.1; font-size: 1.05rem; max-height: 24em; overflow-y: auto}
.seg {border: 1px solid #c7cdd6; border-radius: 4px; padding: 1px 4px; margin: 0 2px; white-space: nowrap}
.seg-diff {background: #ffe8a3; border-color: #e0b000}
"""


def build_tab() -> None:
    gr.Markdown(explanation(
        zh="**最小熵原理（二）：“当机立断”之词库构建。** 不用任何词典：先统计字与相邻字对的频率，在概率低或互信息低的"
           "相邻字之间切开，得到候选词；再按从长到短去冗余（一个词若能被它的部分解释就去掉）；最后用一元模型的"
           "动态规划分词。合并一对字能降低平均字信息熵，当且仅当它们的互信息大于 1。",
        en="**Minimum entropy, part 2: building a lexicon.** No dictionary: count characters and adjacent pairs, cut "
           "between neighbours whose pair probability or PMI is low, keep the fragments as candidate words, remove "
           "redundant ones longest first, then segment with a unigram model (Viterbi). Merging a pair lowers the "
           "average information per character exactly when its PMI exceeds 1.",
        url=POST,
        formula=r"L=\frac{H}{l},\qquad F_{ab}\approx\frac{p_{ab}}{l}\Big(\ln\frac{p_{ab}}{p_a p_b}-1\Big)",
    ))
    lex_state = gr.State(None, time_to_live=SESSION_HOURS * 3600, delete_callback=BUILT.drop)
    with gr.Row():
        with gr.Column(scale=1):
            source = gr.Radio(SOURCES, value=SOURCES[0], label=bi("语料", "Corpus"))
            pasted = gr.Textbox(label=bi("粘贴语料", "Paste a corpus"), lines=4,
                                placeholder=bi("选择“粘贴文本”后在此粘贴", "choose 'Pasted text' and paste here", " / "))
            upload = gr.File(label=bi("上传 .txt（UTF-8 / GBK / UTF-16，≤ 20 MB）",
                                      "Upload a .txt (UTF-8 / GBK / UTF-16, ≤ 20 MB)"))
            gr.Markdown(bi("更大的语料（100 MB 以上也行，从磁盘流式读取）请用命令行："
                           "`python -m training.min_entropy_lexicon --corpus 文件.txt --out 目录`",
                           "Larger corpora (100 MB and more, streamed from disk): on the command line, "
                           "`python -m training.min_entropy_lexicon --corpus FILE.txt --out DIR`", "  \n"))
            min_proba = gr.Slider(*RANGES["min_proba_exp"], step=0.5,
                                  label=bi("最小概率（log10，字对和词）", "log10 min probability (pairs and words)"))
            min_pmi = gr.Slider(*RANGES["min_pmi"], step=0.5, label=bi("切分互信息", "min PMI to keep a pair"))
            word_pmi = gr.Slider(*RANGES["word_pmi"], step=0.5,
                                 label=bi("成词互信息（去冗余）", "word PMI per extra part (de-redundancy)"))
            max_len = gr.Slider(*RANGES["max_word_len"], step=1, label=bi("最大词长", "max word length"))
            build_btn = gr.Button(bi("构建词库", "Build lexicon"), variant="primary")
        with gr.Column(scale=2):
            summary = gr.Markdown(elem_id="lexicon-summary")
            table = gr.Dataframe(label=bi("词库（可排序）", "Lexicon (click a header to sort)"), headers=COLUMNS,
                                 interactive=False, max_height=360, elem_id="lexicon-table")
            with gr.Row():
                files = gr.File(label=bi("下载：jieba 用户词典 · CSV", "Download: jieba user dict · CSV"),
                                file_count="multiple")
                plot = gr.Plot(label=bi("词长", "Word lengths"))
    gr.Markdown(heading("分词对比：本词库 vs jieba", "Segmentation: this lexicon vs jieba"))
    gr.Markdown(bi("构建之前用内置词库（人民日报 1998 全文构建）；构建之后用你的词库。黄色 = 与另一方切分不同。",
                   "Before you build, the shipped lexicon (built on all of People's Daily 1998) is used; after, "
                   "yours. Yellow = a word the other segmenter does not have.", "  \n"))
    with gr.Row():
        text = gr.Textbox(label=bi("待分词文本", "Text to segment"), lines=3, value=EXAMPLE_TEXT, scale=4)
        seg_btn = gr.Button(bi("分词", "Segment"), variant="primary", scale=1)
    with gr.Row():
        with gr.Column():
            gr.Markdown(bi("**最小熵词库**", "**Min-entropy lexicon**"))
            ours = gr.HTML(elem_id="seg-ours")
        with gr.Column():
            gr.Markdown(bi("**jieba 0.42.1（精确模式）**", "**jieba 0.42.1 (precise mode)**"))
            jieba_out = gr.HTML(elem_id="seg-jieba")
    seg_summary = gr.Markdown(elem_id="seg-summary")
    gr.Examples(
        [[EXAMPLE_TEXT],
         ["中国共产党成功地召开了第十五次全国代表大会，高举邓小平理论伟大旗帜。"],
         ["这家酒店的服务很好，房间干净，早餐也不错，下次还会再来。"],
         ["１９９７年，国民经济保持了“高增长、低通胀”的良好发展态势。"]],
        inputs=[text], label=bi("例句", "Examples"),
    )
    build_btn.click(build, [source, pasted, upload, min_proba, min_pmi, word_pmi, max_len],
                    [table, summary, files, plot, lex_state], api_name="lexicon_build")
    seg_btn.click(segment, [text, lex_state], [ours, jieba_out, seg_summary], api_name="lexicon_segment")
    scale = SHIPPED_LEXICON / "scale.png"  # written by bench/bench_lexicon.py
    model_card(SHIPPED_LEXICON / "MODEL_CARD.md",
               [(scale, bi("构建时间与内存随语料大小（对数坐标）：本实现 vs nlp-zero",
                           "Build time and memory against corpus size (log-log): ours vs nlp-zero"))]
               if scale.exists() else [],
               title=bi("内置词库的数据卡", "Card of the shipped lexicon"))
