"""Tab: 对联机器人 — the sequence-labelling couplet CNN (models/couplet.py), re-ranked by a couplet LM
(models/couplet_lm.py) and a phrase table of aligned pairs (models.couplet.PhraseTable) under the form rules."""
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
COLUMNS = ["#", "下联 lower line", "score", "log p 标注 tagger", "log p 语言模型 LM", "词组加分 pairs", "平仄 tones",
           "平仄相对 opposed"]
WEIGHTS = REPO / "data" / "couplet"
LM_WEIGHTS = REPO / "data" / "couplet_lm"
PHRASES = REPO / "data" / "couplet_phrases"
# the decoder's weights, chosen on the real validation pairs (bench_couplet's grid)
LM_WEIGHT = 1.25  # the LM's log-probability against the tagger's
TONE_WEIGHT = 1.5  # "prefer opposed tones": a bonus of 1.5 (nats) per position opposed to the upper line's tone
PHRASE_WEIGHT = 1.0  # the phrase table's bonus per aligned pair of lower characters
CANDIDATES = 5  # lower lines shown by default (the bench scores candidate 1 of as many)
MODES = [bi("最优", "k-best"), bi("采样", "sample")]  # the values (API) are the bilingual names
# upper lines of the famous-couplet sheet (data/real_input/couplets.tsv): in no training split
EXAMPLES = ["风声雨声读书声，声声入耳", "海纳百川，有容乃大", "书山有路勤为径", "天增岁月人增寿", "无边落木萧萧下",
            "明月松间照"]
_PUNCT = re.compile(r"[\s\u3000-\u303f\uff00-\uff0f\uff1a-\uff20\uff3b-\uff40\uff5b-\uff65!-/:-@\[-`{-~·—…“”‘’]")


def _load():
    from models import couplet

    return couplet.load(WEIGHTS)


def _load_lm():
    from models import couplet_lm

    return couplet_lm.load(LM_WEIGHTS)


def _load_phrases():
    from models.couplet import PhraseTable

    return PhraseTable.load(PHRASES / "phrases.tsv.gz")


MODEL = Lazy(_load)
LM = Lazy(_load_lm)
PHRASE_TABLE = Lazy(_load_phrases)


def clean_upper(text) -> tuple[str, list[str]]:
    """The upper line → (Chinese characters and the marks ，、；：！？ between its clauses, notes). Other punctuation,
    spaces and closing marks are removed (and said so); letters, digits or symbols are refused."""
    from models.couplet import ASCII_MARKS, MARKS, CoupletConfig
    from models.vocab import CJK, CJK_ONLY

    text = check_text(text, "上联", "upper line", 200)
    notes = []
    kept = _PUNCT.sub(lambda m: m.group() if m.group() in MARKS else "", text.translate(ASCII_MARKS))
    stripped = re.sub(f"[{MARKS}]+", lambda m: m.group()[0], kept).strip(MARKS)  # one mark between two clauses
    if stripped != text:
        notes.append("已整理标点和空格（分句的逗号等保留）punctuation and spaces tidied (marks between clauses kept)")
    if not stripped.strip(MARKS):
        raise error("上联里没有汉字", "the upper line has no Chinese characters")
    if not CJK_ONLY.fullmatch(re.sub(f"[{MARKS}]", "", stripped)):
        bad = "".join(sorted({c for c in stripped if not CJK.fullmatch(c) and c not in MARKS}))[:10]
        raise error(f"上联只能是汉字，不能有：{bad}", f"the upper line must be Chinese characters only, not: {bad}")
    max_len = CoupletConfig.max_len
    if len(stripped) > max_len:
        raise error(f"上联太长：{len(stripped)} 字，上限 {max_len} 字",
                    f"the upper line is too long: {len(stripped)} characters, the limit is {max_len}")
    return stripped, notes


def generate(upper, n=CANDIDATES, mode=MODES[0], temperature=1.0, prefer_tones=True, seed=0, lm_weight=LM_WEIGHT,
             phrase_weight=PHRASE_WEIGHT):
    """Upper line → (candidates table, tone chart HTML, notes markdown)."""
    from models.couplet import tone_pattern, write_lower

    upper, notes = clean_upper(upper)
    n = int(check_number(n, "候选数", "number of candidates", 1, 10))
    temperature = check_number(temperature, "温度", "temperature", 0.1, 3.0)
    seed = check_seed(seed)
    lm_weight = check_number(lm_weight, "语言模型权重", "LM weight", 0.0, 3.0)
    phrase_weight = check_number(phrase_weight, "词组表权重", "phrase-table weight", 0.0, 3.0)
    if mode not in MODES:
        raise error("未知的解码方式", f"unknown decoding mode {mode!r}")
    model, vocab = MODEL.get()
    oov = sorted({c for c, i in zip(upper, vocab.encode(upper)) if i == 1})
    if oov:
        notes.append(f"字表外的字按 `<unk>` 处理 characters outside the vocabulary, read as `<unk>`: {''.join(oov)}")
    rows = write_lower(model, vocab, upper, n, sampled=mode == MODES[1], temperature=temperature, seed=seed,
                       lm=LM.get() if lm_weight else None, lm_weight=lm_weight,
                       tone_weight=TONE_WEIGHT if bool(prefer_tones) else 0.0,
                       phrases=PHRASE_TABLE.get() if phrase_weight else None, phrase_weight=phrase_weight)
    table = pd.DataFrame([(i + 1, c.lower, round(c.score, 2), round(c.tag_log_p, 2),
                           None if c.lm_log_p is None else round(c.lm_log_p, 2), round(c.pair_bonus, 2), c.tones,
                           f"{c.opposed:.0%}")
                          for i, c in enumerate(rows)],
                         columns=COLUMNS)
    if rows and rows[0].pairs:
        known = "，".join(f"{ab}→{xy}（{c:g}）" for ab, xy, c in rows[0].pairs)
        notes.append(f"第 1 个下联里真实对联用过的对仗词组（次数） aligned pairs of candidate 1 that real couplets "
                     f"use (count): {known}")
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
           "同一位置的字。模型是 6 个带门残差卷积块，每个位置一个 softmax；苏神的解码规则：每个位置取概率最大的字，但不取"
           " `<unk>`，也不取上联同一位置的字。逐字独立选字，下联常常字字相对却不成话，所以我们再加一个整副对联的字级语言模型"
           "（小 GPT；上下联同一位置的字共用一个“列”向量，下联的字一眼找到它所对的上联字），在束搜索里与标注模型的分数"
           "相加（权重可调，0 = 只用苏神的模型）；再加一张对仗词组表：训练对联里上联"
           "相邻两字（如“岁月”）在下联同一位置对什么（“春秋”“乾坤”…）、对过几次，下联相邻两字是真实对联常用的对仗就加分"
           "（只收至少两副对联共有的词组）；与上联平仄相对的字另有加分，"
           "并守对联的格式：上联叠字（声声、事事）处下联同样叠字，上联不重复处下联不重复，下联不用上联的字，标点照抄；几个候选至少相差"
           "两个字。训练数据：真实对联（春联、楹联、《笠翁对韵》等，约 7.6 万对）加唐宋律诗的颔联、颈联（19.8 万对）；"
           "平仄按平水韵（入声字为仄）。",
        en="**A couplet robot by sequence labelling.** The lower line has the upper line's length and answers it "
           "position by position, so no seq2seq is needed: tag every upper character with the lower character at the "
           "same position. Six gated residual conv blocks, a softmax per position; Su's rule takes the best character "
           "per position, never `<unk>` and never the upper character at that position. Chosen position by position, "
           "such lines often answer every character and still make no sense, so a character language model of whole "
           "couplets (a small GPT; the characters at the same place of both lines share a column vector, so a lower "
           "character finds the upper one it answers) adds its log-probability to the tagger's in a beam search "
           "(weight adjustable; "
           "0 = Su's model alone); a phrase table adds what the tagger cannot see — which *pairs* of lower "
           "characters answer a pair of upper ones in real couplets (岁月 → 春秋, 乾坤…; only pairs that at least two "
           "couplets share) — so adjacent lower characters that real couplets use together get a bonus; "
           "characters whose tone opposes the upper line's get a bonus, and the form rules "
           "hold: where the upper line repeats a character (声声, 事事) the "
           "lower line repeats its own, it repeats nothing else, it uses none of the upper line's characters, marks "
           "are copied, and candidates differ in at least "
           "two characters. Trained on real couplets (Spring Festival and collected couplets, the classical primers; "
           "76k pairs) and the middle couplets of Tang and Song regulated verse (198k); tones from the 平水韵 rhyme "
           "book (entering-tone characters are 仄).",
        url=POST,
        formula=r"h, g = \mathrm{Conv1D}_{2d}(x),\qquad y = x\otimes\sigma(g) + h\otimes\sigma(-g)",
    ))
    with gr.Row():
        with gr.Column(scale=1):
            upper = gr.Textbox(label=bi("上联（≤ 34 字，可含分句的逗号）", "Upper line (≤ 34 characters, commas allowed)"),
                               value=EXAMPLES[0])
            with gr.Row():
                n = gr.Slider(1, 10, value=CANDIDATES, step=1, label=bi("候选数", "Candidates"))
                mode = gr.Radio(MODES, value=MODES[0], label=bi("解码", "Decoding"))
            with gr.Row():
                temperature = gr.Slider(0.1, 3.0, value=1.0, step=0.1, label=bi("温度（采样）", "Temperature (sampling)"))
                seed = gr.Number(value=0, precision=0, label=bi("种子（采样）", "Seed (sampling)"))
            with gr.Row():
                lm_weight = gr.Slider(0.0, 3.0, value=LM_WEIGHT, step=0.25,
                                      label=bi("语言模型权重（0 = 只用标注模型）", "LM weight (0 = the tagger alone)"))
                phrase_weight = gr.Slider(0.0, 3.0, value=PHRASE_WEIGHT, step=0.25,
                                          label=bi("对仗词组表权重（0 = 不用）", "Phrase-table weight (0 = off)"))
            prefer_tones = gr.Checkbox(label=bi("平仄相对优先", "Prefer opposed tones"), value=True)
            btn = gr.Button(bi("对下联", "Write the lower line"), variant="primary")
            gr.Examples([[e] for e in EXAMPLES], inputs=[upper], label=bi("例句", "Examples"))
        with gr.Column(scale=1):
            chart = gr.HTML(elem_id="couplet-chart")
            notes = gr.Markdown(elem_id="couplet-notes")
            table = gr.Dataframe(label=bi("下联候选", "Candidates"), headers=COLUMNS, interactive=False,
                                 elem_id="couplet-table")
            gr.Markdown(bi("平仄按平水韵：上平、下平为平，上、去、入为仄（入声字如“国”“白”“竹”都是仄）；平仄两读的字"
                           "（看、思、重…）按词中的普通话读音定；表外的字按普通话声调。绿色 = 与上联平仄相对。",
                           "Tones from the Pingshui rhyme book (1229): level or oblique, entering-tone characters "
                           "oblique whatever their Mandarin tone; characters listed under both take their Mandarin "
                           "reading in the word; characters outside the table, their Mandarin tone. Green = opposed to "
                           "the upper line.",
                           "  \n"))
    btn.click(generate, [upper, n, mode, temperature, prefer_tones, seed, lm_weight, phrase_weight],
              [table, chart, notes],
              api_name="couplet_generate")
    model_card(WEIGHTS / "MODEL_CARD.md", [(WEIGHTS / "loss_curve.png", None)],
               title=bi("模型卡：标注模型", "Model card: the tagger"))
    model_card(LM_WEIGHTS / "MODEL_CARD.md", [(LM_WEIGHTS / "loss_curve.png", None)],
               title=bi("模型卡：对联语言模型", "Model card: the couplet LM"))
    model_card(PHRASES / "MODEL_CARD.md", [], title=bi("模型卡：对仗词组表", "Model card: the phrase table"))
