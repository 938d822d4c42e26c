"""Tab: 对联机器人 — the sequence-labelling couplet CNN (models/couplet.py)."""
from __future__ import annotations

import html
import re

import gradio as gr
import pandas as pd

from demos.adapter import REPO, Lazy, check_number, check_seed, check_text, error, explanation, model_card
from demos.language import bi

TAB_ID = "couplet"
TITLE = bi("对联机器人", "Couplets")
POST = "https://kexue.fm/archives/6270"
WEIGHTS = REPO / "data" / "couplet"
MODES = [bi("最优", "k-best"), bi("采样", "sample")]  # the values (API) are the bilingual names
EXAMPLES = ["晚风摇树树还挺", "春风得意马蹄疾", "明月松间照", "海内存知己", "一帆风顺年年好", "千山鸟飞绝"]
_PUNCT = re.compile(r"[\s\u3000-\u303f\uff00-\uff0f\uff1a-\uff20\uff3b-\uff40\uff5b-\uff65!-/:-@\[-`{-~·—…“”‘’]")


def _load():
    from models import couplet

    return couplet.load(WEIGHTS)


MODEL = Lazy(_load)


def clean_upper(text) -> tuple[str, list[str]]:
    """The upper line → (Chinese characters only, notes). Punctuation and spaces are removed (and said so);
    letters, digits or symbols are refused."""
    from models.couplet import CoupletConfig
    from models.vocab import CJK, CJK_ONLY

    text = check_text(text, "上联", "upper line", 200)
    notes = []
    stripped = _PUNCT.sub("", text)
    if stripped != text:
        notes.append("已去掉标点和空格 punctuation and spaces removed")
    if not stripped:
        raise error("上联里没有汉字", "the upper line has no Chinese characters")
    if not CJK_ONLY.fullmatch(stripped):
        bad = "".join(sorted({c for c in stripped if not CJK.fullmatch(c)}))[:10]
        raise error(f"上联只能是汉字，不能有：{bad}", f"the upper line must be Chinese characters only, not: {bad}")
    max_len = CoupletConfig.max_len
    if len(stripped) > max_len:
        raise error(f"上联太长：{len(stripped)} 字，上限 {max_len} 字",
                    f"the upper line is too long: {len(stripped)} characters, the limit is {max_len}")
    return stripped, notes


def generate(upper, n=5, mode=MODES[0], temperature=1.0, rerank_by_tone=False, seed=0):
    """Upper line → (candidates table, tone chart HTML, notes markdown)."""
    from models.couplet import tone_pattern, write_lower

    upper, notes = clean_upper(upper)
    n = int(check_number(n, "候选数", "number of candidates", 1, 10))
    temperature = check_number(temperature, "温度", "temperature", 0.1, 3.0)
    seed = check_seed(seed)
    if mode not in MODES:
        raise error("未知的解码方式", f"unknown decoding mode {mode!r}")
    model, vocab = MODEL.get()
    oov = sorted({c for c, i in zip(upper, vocab.encode(upper)) if i == 1})
    if oov:
        notes.append(f"字表外的字按 `<unk>` 处理 characters outside the vocabulary, read as `<unk>`: {''.join(oov)}")
    rows = write_lower(model, vocab, upper, n, sampled=mode == MODES[1], temperature=temperature,
                       rerank_by_tone=bool(rerank_by_tone), seed=seed)
    table = pd.DataFrame([(i + 1, c.lower, round(c.log_p, 2), c.tones, f"{c.opposed:.0%}") for i, c in enumerate(rows)],
                         columns=["#", "下联 lower line", "log p", "平仄 tones", "平仄相对 opposed"])
    return table, _tone_chart(upper, tone_pattern(upper), rows), "  \n".join(notes)


def _tone_chart(upper: str, upper_tones: str, rows) -> str:
    """The upper line and each candidate as character cells with their tone; opposed positions in green."""
    def cells(text, tones, marks=None):
        out = []
        for i, (c, t) in enumerate(zip(text, tones)):
            cls = "" if marks is None else (" tone-ok" if marks[i] else " tone-bad" if marks[i] is False else "")
            out.append(f'<span class="tone-cell{cls}"><b>{html.escape(c)}</b><small>{t}</small></span>')
        return "".join(out)

    lines = [f'<div class="tone-row"><span class="tone-label">上联</span>{cells(upper, upper_tones)}</div>']
    for i, c in enumerate(rows):
        lines.append(f'<div class="tone-row"><span class="tone-label">{i + 1}</span>'
                     f'{cells(c.lower, c.tones, c.marks)}<span class="tone-share">{c.opposed:.0%}</span></div>')
    return '<div class="tone-chart">' + "".join(lines) + "</div>"


CSS = """
.tone-row {display: flex; align-items: center; gap: 4px; margin: 4px 0}
.tone-label {width: 2.5em; color: #666; font-size: .9rem}
.tone-cell {display: inline-flex; flex-direction: column; align-items: center; width: 2.1em; padding: 2px 0;
            border: 1px solid #d0d5dd; border-radius: 4px}
.tone-cell b {font-size: 1.25rem; font-weight: 500}
.tone-cell small {font-size: .75rem; color: #555}
.tone-ok {background: #dcf5e3; border-color: #5cb87a}
.tone-bad {background: #fde2e1; border-color: #e07470}
.tone-share {margin-left: 8px; color: #555; font-size: .85rem}
"""


def build_tab() -> None:
    gr.Markdown(explanation(
        zh="**基于CNN和序列标注的对联机器人。** 下联与上联等长、逐字相对，所以不必用 seq2seq：把上联的每个字“标注”为下联"
           "同一位置的字。模型是 6 个带门残差卷积块，每个位置一个 softmax；解码时每个位置取概率最大的字，但不取 `<unk>`，"
           "也不取上联同一位置的字。训练数据是唐宋律诗的颔联、颈联和《声律启蒙》（共 22.8 万对）。",
        en="**A couplet robot by sequence labelling.** The lower line has the upper line's length and answers it "
           "position by position, so no seq2seq is needed: tag every upper character with the lower character at the "
           "same position. Six gated residual conv blocks, a softmax per position; decoding takes the best character "
           "per position, never `<unk>` and never the upper character at that position. Trained on the antithetical "
           "middle couplets of Tang and Song regulated verse plus 声律启蒙 (228k pairs).",
        url=POST,
        formula=r"h, g = \mathrm{Conv1D}_{2d}(x),\qquad y = x\otimes\sigma(g) + h\otimes\sigma(-g)",
    ))
    with gr.Row():
        with gr.Column(scale=1):
            upper = gr.Textbox(label=bi("上联（≤ 32 字）", "Upper line (≤ 32 characters)"), value=EXAMPLES[0],
                               max_length=200)
            with gr.Row():
                n = gr.Slider(1, 10, value=5, step=1, label=bi("候选数", "Candidates"))
                mode = gr.Radio(MODES, value=MODES[0], label=bi("解码", "Decoding"))
            with gr.Row():
                temperature = gr.Slider(0.1, 3.0, value=1.0, step=0.1, label=bi("温度（采样）", "Temperature (sampling)"))
                seed = gr.Number(value=0, precision=0, label=bi("种子（采样）", "Seed (sampling)"))
            rerank = gr.Checkbox(label=bi("按平仄相对重排", "Re-rank by tone opposition"), value=False)
            btn = gr.Button(bi("对下联", "Write the lower line"), variant="primary")
            gr.Examples([[e] for e in EXAMPLES], inputs=[upper], label=bi("例句", "Examples"))
        with gr.Column(scale=1):
            chart = gr.HTML(elem_id="couplet-chart")
            notes = gr.Markdown(elem_id="couplet-notes")
            table = gr.Dataframe(label=bi("下联候选", "Candidates"), interactive=False, elem_id="couplet-table")
            gr.Markdown(bi("平仄按普通话声调（pypinyin）：一二声为平，三四声为仄；古入声字会被判为平。绿色 = 与上联平仄相对。",
                           "Tones from Mandarin readings (pypinyin): tones 1–2 level (平), 3–4 oblique (仄); characters "
                           "of the old entering tone count as level here. Green = opposed to the upper line's tone.",
                           "  \n"))
    btn.click(generate, [upper, n, mode, temperature, rerank, seed], [table, chart, notes],
              api_name="couplet_generate")
    model_card(WEIGHTS / "MODEL_CARD.md", [(WEIGHTS / "loss_curve.png", None)])
