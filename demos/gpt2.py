"""Tab: GPT2_ML 中文生成 — a small Chinese GPT-2 (models/gpt2.py), streamed; other GPT-2 / GPT2_ML checkpoints."""
from __future__ import annotations

import os
import re
import threading
import time

import gradio as gr

from demos.adapter import CONTROL, REPO, Lazy, check_number, check_seed, error, explanation, model_card
from demos.language import bi

TAB_ID = "gpt2"
TITLE = bi("GPT2_ML 中文生成", "GPT2_ML Chinese GPT-2", both="GPT2_ML 中文生成")
POST = "https://kexue.fm/archives/7292"
WEIGHTS = REPO / "data" / "gpt2"
ENV = "KEXUE_GPT2_MODEL"          # a folder or hub id to use instead of the embedded model
ALLOW_ENV = "KEXUE_GPT2_ALLOWED"  # comma-separated folders / hub ids a visitor may pick; none by default
MAX_PROMPT = 20_000               # characters; longer prompts are refused, shorter ones cut to the context
MAX_NEW = 400
MIN_NEW = 40                      # default: end-of-text is not allowed before this many new tokens
MAX_SAMPLES = 5
SHOW_EVERY = 0.05                 # seconds between streamed updates of the text
MAX_CHECKPOINT_BYTES = 3 * 2**30  # a hub model larger than this is refused (it would not fit a free Space)
STYLE_CHOICES = [(bi("新闻（人民日报 1998）", "News (People's Daily 1998)"), "news"), (bi("评论", "Reviews"), "review"),
                 (bi("诗（唐宋）", "Poems (Tang, Song)"), "poem"), (bi("词曲", "Ci and qu lyrics"), "ci"),
                 (bi("古文", "Classical prose"), "classic"), (bi("百科", "Encyclopedia"), "wiki"),
                 (bi("不指定", "None"), "none")]
FORM_CHOICES = [(bi("自由", "Free"), 0), (bi("五言", "5-character lines"), 5), (bi("七言", "7-character lines"), 7)]
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]{0,95}/[\w.-]{1,96}$")

EXAMPLES = [  # prompt, style, poem form
    ["新华社北京1月5日电", "news", 0],
    ["今年以来，全国农村", "news", 0],
    ["这家酒店的服务", "review", 0],
    ["手机收到了，", "review", 0],
    ["床前明月光，", "poem", 5],
    ["", "poem", 7],
    ["明月几时有", "ci", 0],
    ["子曰：", "classic", 0],
    ["长江是中国第一长河，", "wiki", 0],
]

EMBEDDED = Lazy(lambda: _load_checkpoint(str(WEIGHTS)))
_OTHERS: dict[str, object] = {}   # the last foreign checkpoint only (memory), by name
_OTHERS_LOCK = threading.Lock()


def _load_checkpoint(name: str):
    from models.gpt2 import load

    return load(name)


def allowed_checkpoints() -> list[str]:
    """The other checkpoints this server's operator allows (``$KEXUE_GPT2_ALLOWED``, comma-separated; also
    ``python app.py --gpt2-checkpoints``), and ``$KEXUE_GPT2_MODEL`` when set."""
    names = [n.strip() for n in os.environ.get(ALLOW_ENV, "").split(",")] + [os.environ.get(ENV, "").strip()]
    return list(dict.fromkeys(n for n in names if n))


def checkpoint(name=None, progress=None):
    """'' / None → $KEXUE_GPT2_MODEL or the embedded model; else one of :func:`allowed_checkpoints` (a local
    folder or a hub id, loaded once). Any other name is refused before anything is looked up, so a visitor can
    neither make the server read its disk nor learn which folders exist."""
    name = (name or "").strip() if isinstance(name, str) else name
    if name is not None and not isinstance(name, str):
        raise error("模型名须是文字", "the checkpoint name must be text")
    if name and name not in allowed_checkpoints():
        raise error(f"这个服务器不允许加载其他模型（只有内置模型和管理员在 {ALLOW_ENV} 里列出的）",
                    f"this server loads only the embedded model and those its operator lists in {ALLOW_ENV}")
    name = name or os.environ.get(ENV, "").strip()
    if not name or os.path.realpath(os.path.expanduser(name)) == os.path.realpath(WEIGHTS):
        return EMBEDDED.get()
    if len(name) > 300 or CONTROL.search(name):
        raise error("模型名不对", "that is not a folder or a hub id")
    with _OTHERS_LOCK:
        if name in _OTHERS:
            return _OTHERS[name]
        if progress:
            progress(0.1, desc=f"加载模型 loading {name}")
        ckpt = _load_other(name)
        _OTHERS.clear()
        _OTHERS[name] = ckpt
        return ckpt


def _load_other(name: str):
    from models.gpt2 import looks_like_path

    local = looks_like_path(name) or os.path.isdir(os.path.expanduser(name))
    if local and not os.path.isdir(os.path.expanduser(name)):
        raise error(f"找不到文件夹：{name}", f"no such folder: {name}")
    if not local:
        if not _HUB_ID.match(name):
            raise error(f"既不是文件夹也不是 Hub id（owner/name）：{name}",
                        f"neither a folder nor a hub id (owner/name): {name}")
        _check_hub_size(name)
    try:
        return _load_checkpoint(name)
    except Exception as e:  # noqa: BLE001 - any loading failure becomes a message
        raise error(f"无法加载模型 {name}：{type(e).__name__}", f"cannot load {name}: {e}"[:500]) from None


def _check_hub_size(name: str) -> None:
    """Refuse hub models that are offline-unreachable or too large, before downloading anything."""
    if os.environ.get("HF_HUB_OFFLINE", "0") not in ("0", "", "false", "False"):
        raise error("离线模式（HF_HUB_OFFLINE）下不能从 Hub 下载", f"offline (HF_HUB_OFFLINE): cannot fetch {name}")
    try:
        from huggingface_hub import model_info

        info = model_info(name, files_metadata=True, timeout=15)
    except Exception as e:  # noqa: BLE001
        raise error(f"Hub 上找不到或连不上：{name}", f"{name}: not found on the hub or no connection ({type(e).__name__})")
    weights = [s for s in info.siblings or [] if s.rfilename.endswith(".safetensors")]
    if not weights:
        raise error("只加载 safetensors 权重", f"{name} has no safetensors weights (only those are loaded)")
    size = sum(s.size or 0 for s in weights)
    if size > MAX_CHECKPOINT_BYTES:
        raise error(f"模型太大：{size / 2**30:.1f} GB", f"{name} is too large: {size / 2**30:.1f} GB "
                    f"(limit {MAX_CHECKPOINT_BYTES / 2**30:.0f} GB)")


def clean_prompt(prompt) -> str:
    """The prompt box → text: may be empty; control characters removed; at most MAX_PROMPT characters."""
    if prompt is None:
        return ""
    if not isinstance(prompt, str):
        raise error("开头须是文字", "the prompt must be text")
    prompt = CONTROL.sub("", prompt).strip()
    if len(prompt) > MAX_PROMPT:
        raise error(f"开头太长：{len(prompt):,} 字符，上限 {MAX_PROMPT:,}",
                    f"the prompt is too long: {len(prompt):,} characters, the limit is {MAX_PROMPT:,}")
    return prompt


def generate(prompt="", style="news", max_new_tokens=200, temperature=1.0, top_k=20, top_p=0.95,
             repetition_penalty=1.1, n_samples=1, seed=0, stop_at_period=False, checkpoint_name="",
             min_new_tokens=MIN_NEW, poem_form=0, progress=gr.Progress()):
    """Streams (text of every sample so far, notes markdown) while the samples are generated."""
    from models.gpt2 import PoemLines, Sampling, prompt_ids, stream

    prompt = clean_prompt(prompt)
    if not isinstance(style, str) or style not in {value for _, value in STYLE_CHOICES}:
        raise error("未知的风格", f"unknown style {style!r}")
    max_new = int(check_number(max_new_tokens, "生成长度", "max new tokens", 1, MAX_NEW))
    min_new = int(check_number(min_new_tokens, "最少生成", "min new tokens", 0, MAX_NEW))
    temperature = check_number(temperature, "温度", "temperature", 0, 2)
    top_k = int(check_number(top_k, "top-k", "top-k", 0, 200))
    top_p = check_number(top_p, "top-p", "top-p", 0.05, 1)
    penalty = check_number(repetition_penalty, "重复惩罚", "repetition penalty", 1, 2)
    n = int(check_number(n_samples, "样本数", "number of samples", 1, MAX_SAMPLES))
    form = int(check_number(poem_form, "诗体", "poem form", 0, 7))
    if form not in (0, 5, 7):
        raise error("诗体只能是 0（自由）、5 或 7", "the poem form is 0 (free), 5 or 7")
    seed = check_seed(seed)
    ckpt = checkpoint(checkpoint_name, progress)
    if max_new >= ckpt.context:
        raise error(f"生成长度须小于模型的上下文 {ckpt.context}",
                    f"max new tokens must be below the model's context of {ckpt.context}")

    notes = []
    if style != "none" and style not in ckpt.styles:
        notes.append(f"这个模型没有风格标记，忽略“{style}” this checkpoint has no style tokens; style ignored")
    start, body, dropped = prompt_ids(ckpt, prompt, style, max_new)
    ids = start + body
    unk = getattr(ckpt.tokenizer, "unk_token_id", None)
    if body and unk is not None:
        n_unk = sum(i == unk for i in body)
        if n_unk * 2 > len(body):
            raise error("开头大多是模型不认识的字符（表情、外文？）",
                        "most of the prompt is outside the model's vocabulary (emoji, other scripts?)")
        if n_unk:
            oov = sorted({c for c in prompt if not c.isspace() and ckpt.encode(c) in ([unk], [])})[:20]
            notes.append(f"字表外的字符按 [UNK] 处理 characters outside the vocabulary, read as [UNK]: {''.join(oov)}")
    if dropped:
        notes.append(f"开头太长，只保留最后 {len(body)} 个词元（上下文 {ckpt.context} = 开头 + 生成）"
                     f" the prompt was cut to its last {len(body)} tokens (context {ckpt.context} = prompt + new tokens)")
    shown_prompt = ckpt.decode(body)
    sampling = Sampling(max_new, temperature, top_k, top_p, penalty, min_new, bool(stop_at_period), form)
    if form:
        try:
            PoemLines(ckpt, form, shown_prompt)
        except ValueError:
            raise error(f"开头的最后一行已超过 {form} 个字，或模型的字表里没有“，”“。”",
                        f"the prompt's last line is longer than {form} characters, or this model has no “，” "
                        f"and “。”") from None

    texts, tokens, t0, shown_at = [], 0, time.time(), 0.0
    for i in range(n):
        poem = PoemLines(ckpt, form, shown_prompt) if form else None
        new: list[int] = []
        for token in stream(ckpt, ids, sampling, seed + i, poem):
            new.append(token)
            tokens += 1
            # at most one update per SHOW_EVERY seconds (the first token at once): no one reads faster, and each
            # update decodes the whole text so far and hands it to another thread
            if time.time() - shown_at >= SHOW_EVERY:
                shown_at = time.time()
                yield _render(texts + [shown_prompt + ckpt.decode(new)]), _notes(notes, ckpt, tokens, t0, True)
        texts.append(shown_prompt + ckpt.decode(new))
    yield _render(texts), _notes(notes, ckpt, tokens, t0, False)


def _render(texts: list[str]) -> str:
    if len(texts) == 1:
        return texts[0]
    return "\n\n".join(f"【{i + 1}】{t}" for i, t in enumerate(texts))


def _notes(notes: list[str], ckpt, tokens: int, t0: float, running: bool) -> str:
    dt = max(time.time() - t0, 1e-6)
    speed = f"{tokens} 个新词元 new tokens · {dt:.1f} s · {tokens / dt:.0f} tokens/s · 模型 model: " + (
        "内置 embedded" if ckpt.name == str(WEIGHTS) else f"`{ckpt.name}`") + (" · 生成中 generating…" if running else "")
    return "  \n".join(notes + [speed])


def build_tab() -> None:
    gr.Markdown(explanation(
        zh="**GPT2_ML：中文 GPT-2。** 语言模型逐字预测下一个字，生成时每一步从预测分布中采样（温度、top-k、top-p 截断，"
           "重复惩罚；苏神的演示用 top-k 5 / top-p 0.95，到“。”为止）。原文用 15 亿参数、48 层的 GPT2_ML；这里内置一个"
           "从零训练的小模型（4 层 × 448，1,460 万参数，在一块 H200 上训练 4 分钟），读过六种文体：1998 年 1 月《人民日报》、"
           "网购/酒店/外卖评论、全唐诗与全宋诗、宋词元曲、古文（诗经、论语、孟子、古文观止……）和中文维基百科段落。每篇以风格"
           "标记（[NEWS]、[REVIEW]、[POEM]、[CI]、[CLASSIC]、[WIKI]）开头，所以可以指定文体。“最少生成”之前不许结束；"
           "“五言/七言”让模型只写整行：一行 5 或 7 个汉字，单句末“，”、双句末“。”，至少四行。结果随输出逐字显示。",
        en="**GPT2_ML: a Chinese GPT-2.** A language model predicts the next character; generation samples from that "
           "distribution step by step (temperature, top-k, top-p, repetition penalty; Su's demo used top-k 5 / top-p "
           "0.95 and stopped at “。”). The post ran the 1.5B-parameter, 48-layer GPT2_ML; embedded here is a small "
           "model trained from scratch (4 layers × 448, 14.6M parameters, 4 minutes on one H200) on six styles: "
           "People's Daily (Jan 1998), shopping / hotel / food-delivery reviews, every Tang and Song poem, Song ci and "
           "Yuan qu, classical prose (Book of Songs, Analects, Mencius, Guwen Guanzhi…) and Chinese Wikipedia "
           "paragraphs. Every document starts with a style token ([NEWS], [REVIEW], [POEM], [CI], [CLASSIC], [WIKI]), "
           "so you can ask for a style. No end of text before the minimum length; the 5- / 7-character forms make it "
           "write whole lines only (5 or 7 Chinese characters, “，” after the first line of each couplet, “。” after "
           "the second, at least four lines). The text is streamed as it is generated.",
        url=POST,
        formula=r"p(x_1,\dots,x_T)=\prod_{t=1}^{T} p(x_t\mid x_{<t}),\qquad "
                r"\mathrm{PPL}=\exp\Big(-\frac1T\sum_t \log p(x_t\mid x_{<t})\Big)",
    ))
    with gr.Row():
        with gr.Column(scale=1):
            prompt = gr.Textbox(label=bi("开头（可留空）", "Prompt (may be empty)"), value=EXAMPLES[0][0], lines=3)
            style = gr.Radio(STYLE_CHOICES, value="news", label=bi("风格", "Style"))
            form = gr.Radio(FORM_CHOICES, value=0, label=bi("诗体", "Poem form"))
            with gr.Row():
                max_new = gr.Slider(1, MAX_NEW, value=200, step=1, label=bi("最多生成", "Max new tokens"))
                min_new = gr.Slider(0, MAX_NEW, value=MIN_NEW, step=1,
                                    label=bi("最少生成（之前不许结束）", "Min new tokens (no end before)"))
            n = gr.Slider(1, MAX_SAMPLES, value=1, step=1, label=bi("样本数", "Samples"))
            with gr.Accordion(bi("采样", "Sampling"), open=False):
                with gr.Row():
                    temperature = gr.Slider(0, 2, value=1.0, step=0.05,
                                            label=bi("温度（0 = 贪心）", "Temperature (0 = greedy)"))
                    top_k = gr.Slider(0, 200, value=20, step=1, label=bi("top-k（0 = 不用）", "top-k (0 = off)"))
                with gr.Row():
                    top_p = gr.Slider(0.05, 1, value=0.95, step=0.01, label="top-p")
                    penalty = gr.Slider(1, 2, value=1.1, step=0.05, label=bi("重复惩罚", "Repetition penalty"))
                with gr.Row():
                    seed = gr.Number(value=0, precision=0, label=bi("种子", "Seed"))
                    stop = gr.Checkbox(value=False, label=bi("到“。”为止", "Stop at “。”"))
            with gr.Accordion(bi("其他模型", "Other checkpoint"), open=False):
                others = allowed_checkpoints()
                other = gr.Dropdown([(bi("内置模型", "Embedded model"), "")] + others, value="",
                                    label=bi("模型", "Checkpoint"), interactive=bool(others),
                                    allow_custom_value=True)  # names are checked by checkpoint(), in both languages
                gr.Markdown(bi(f"只能选服务器管理员允许的模型：启动前设 `{ALLOW_ENV}=文件夹或 Hub id,…`（或 `python app.py "
                               f"--gpt2-checkpoints …`）。可以是任何 GPT-2（transformers 格式、safetensors 权重）或转换后"
                               f"的 GPT2_ML 权重文件夹（后置 LayerNorm，见 `models/gpt2_ml.py`）。`{ENV}` 换掉内置模型。",
                               f"Only checkpoints the server's operator allows: set `{ALLOW_ENV}=folder or hub id,…` "
                               f"before starting (or `python app.py --gpt2-checkpoints …`). Any GPT-2 (transformers "
                               f"layout, safetensors weights), or a folder of converted GPT2_ML weights (post-LN, see "
                               f"`models/gpt2_ml.py`). `{ENV}` replaces the embedded model.", "  \n"))
            btn = gr.Button(bi("生成", "Generate"), variant="primary")
            gr.Examples(EXAMPLES, inputs=[prompt, style, form], label=bi("例子（每种风格）", "Examples (per style)"))
        with gr.Column(scale=1):
            output = gr.Textbox(label=bi("生成结果", "Generated text"), lines=14, elem_id="gpt2-output")
            notes = gr.Markdown(elem_id="gpt2-notes")
    # the last run's text and notes are cleared first: after a refused request they would pass for its answer
    btn.click(lambda: ("", ""), None, [output, notes], queue=False, api_visibility="private",
              show_progress="hidden").then(
        generate, [prompt, style, max_new, temperature, top_k, top_p, penalty, n, seed, stop, other, min_new, form],
        [output, notes], api_name="gpt2_generate")
    from models.checkpoint import card_file

    model_card(card_file(WEIGHTS), [(WEIGHTS / "training_curve.png", None), (WEIGHTS / "sweep.png", None)])
