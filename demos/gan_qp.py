"""Tab: GAN-QP — samples and latent interpolations from the shipped generators (models/gan_qp.py), and a live 2-D
lab where two losses train side by side (models/gan_lab.py)."""
from __future__ import annotations

import time

import gradio as gr

from demos.adapter import (MAX_SEED, REPO, Lazy, check_number, check_seed, enlarge, error, explanation, model_card,
                           png_outputs)
from demos.language import bi, by_language, heading, pick, translate
from models.checkpoint import beside, list_checkpoints, read_history
from models.gan_names import DATASET_NAMES, LOSS_NAMES, LOSSES

TAB_ID = "gan_qp"
TITLE = bi("GAN-QP 二次势 GAN", "GAN-QP", both="GAN-QP 二次势")
POST = "https://kexue.fm/archives/6163"
WEIGHTS = REPO / "data" / "gan_qp"
MAX_SAMPLES = 64
MAX_STEPS = 16
ZOOM = 3  # 32×32 tiles are tiny on a screen: shown 3× larger, pixels kept sharp (no blur)
DATASET_ZH = {"fashion": "服装", "mnist": "手写数字"}


def _results() -> dict[str, tuple]:
    """{checkpoint name: (its path, its training record {info, history})} for every shipped generator."""
    return {name: (path, read_history(path)) for name, path in list_checkpoints(WEIGHTS).items()}


RESULTS = _results()


def _checkpoint_name(info: dict) -> str:
    """The checkpoint's shown name, e.g. ``Fashion-MNIST 服装 · GAN-QP L1`` (English: without the Chinese)."""
    en, loss = DATASET_NAMES[info["dataset"]], LOSS_NAMES[info["loss"]]
    zh = f"{en} {DATASET_ZH[info['dataset']]}"
    return bi(f"{zh} · {loss}", f"{en} · {loss}", both=f"{zh} · {loss}")


def _order(item) -> tuple:
    info = item[1][1]["info"]
    return info["dataset"] != "fashion", LOSSES.index(info["loss"])


CHECKPOINTS = {name: _checkpoint_name(r[1]["info"]) for name, r in sorted(RESULTS.items(), key=_order)}
DEFAULT = "fashion_qp-l1" if "fashion_qp-l1" in CHECKPOINTS else next(iter(CHECKPOINTS), None)


def _loader(name):
    def load():
        from models import gan_qp

        return gan_qp.load(RESULTS[name][0])
    return load


MODELS = {name: Lazy(_loader(name)) for name in CHECKPOINTS}


def _generator(checkpoint):
    if not isinstance(checkpoint, str) or checkpoint not in MODELS:  # an API caller may send a list
        raise error(f"没有这个模型：{checkpoint!r}", f"unknown checkpoint {checkpoint!r}; one of {list(MODELS)}")
    return MODELS[checkpoint].get()


def sample_grid(checkpoint, seed, n_samples, temperature):
    """→ a grid picture (uint8) of ``n_samples`` images from latents z ~ N(0, temperature²) drawn with ``seed``."""
    from models import gan_qp

    seed = check_seed(seed)
    n = int(check_number(n_samples, "样本数", "number of samples", 1, MAX_SAMPLES))
    t = check_number(temperature, "温度", "temperature", 0.0, 2.0)
    return enlarge(gan_qp.sample_grid(_generator(checkpoint), seed, n, t), ZOOM)


def interpolate(checkpoint, seed_a, seed_b, steps, temperature):
    """→ a strip picture: G along the great circle from the first latent of ``seed_a`` to that of ``seed_b``."""
    from models.gan_qp import interpolation_strip, latents

    a, b = check_seed(seed_a, "起点种子", "start seed"), check_seed(seed_b, "终点种子", "end seed")
    k = int(check_number(steps, "插值步数", "interpolation steps", 2, MAX_STEPS))
    t = check_number(temperature, "温度", "temperature", 0.0, 2.0)
    G = _generator(checkpoint)
    z0, z1 = latents(a, 1, G.cfg.z_dim, t)[0], latents(b, 1, G.cfg.z_dim, t)[0]
    return enlarge(interpolation_strip(G, z0, z1, k), ZOOM)


def fid_table(lang: str = "both") -> str:
    """The shipped checkpoints' classifier FID (from the training run) as a Markdown table, in ``lang``."""
    head = [("数据", "dataset"), ("损失", "loss"), ("判别器归一化", "critic norm"), ("生成器步数", "G steps"),
            ("FID (10k) ↓",) * 2, ("训练时间", "train time")]
    rows = ["| " + " | ".join(pick(zh, en, lang) for zh, en in head) + " |", "|---" * len(head) + "|"]
    for name in CHECKPOINTS:
        i = RESULTS[name][1]["info"]
        dataset = DATASET_NAMES[i["dataset"]] + ("" if lang == "en" else f" {DATASET_ZH[i['dataset']]}")
        rows.append(f"| {dataset} | {LOSS_NAMES[i['loss']]} | {i.get('critic_norm', 'none')} | {i['steps']:,} | "
                    f"{i['fid_10k']:.2f} | "
                    f"{i['minutes']:.0f} min |")
    return "\n".join(rows)


def _fid_section(lang: str) -> str:
    title = pick("同样的生成器网络：分类器 FID", "Classifier FID, the same generator net", lang, " · ")
    note = pick("越低越好；特征来自在同一数据集上训练的小分类器，**不是 Inception FID**，不能与论文数字比较。"
                "Fashion-MNIST 的五种损失都在同样的网络、数据顺序和隐变量上训练了 30,000 步：SGAN 17.9 与 WGAN-GP 18.0 "
                "最好，GAN-QP L2 41.2、SGAN-SN 47.2（起步最慢，到最后仍在下降）、GAN-QP L1 50.7 其次——在这个预算下没有"
                "复现论文里 GAN-QP 领先的结论。MNIST 一行仍是最初的 4,000 步。",
                "Lower is better; features of a small classifier trained on the same dataset — **not Inception "
                "FID**, not comparable with the paper. The five Fashion-MNIST losses were each trained 30,000 steps "
                "on the same nets, data order and latents: SGAN 17.9 and WGAN-GP 18.0 lead, GAN-QP L2 41.2, SGAN-SN "
                "47.2 (slowest to start, still falling at the end) and GAN-QP L1 50.7 follow — the paper's lead "
                "for GAN-QP is not reproduced at this budget. The MNIST row is still "
                "the first 4,000-step run.",
                lang, sep="  \n")
    return f"### {title}\n{note}\n\n{fid_table(lang)}"


# -- the live 2-D lab (models/gan_lab.py) ------------------------------------------------------------------------
LAB_TARGETS = {"ring": bi("8 个高斯组成的环", "Ring of 8 Gaussians", both="环 Ring of 8 Gaussians"),
               "grid": bi("5×5 高斯网格", "5×5 grid of Gaussians", both="网格 5×5 grid"),
               "spiral": bi("螺线", "Spiral", both="螺线 Spiral")}
LAB_MAX_STEPS = 3000
LAB_EVERY = 50  # steps between two frames


def lab(target, loss_a, loss_b, steps, seed):
    """Train two small 2-D GANs side by side (same seed, data and latents; only the loss differs); every
    ``LAB_EVERY`` steps yield (panel of A, panel of B, loss curves as a table, notes)."""
    import pandas as pd

    from models import gan_lab

    if target not in LAB_TARGETS:
        raise error(f"没有这个目标分布：{target!r}", f"unknown target {target!r}; one of {list(LAB_TARGETS)}")
    for loss in (loss_a, loss_b):
        if loss not in LOSSES:
            raise error(f"没有这个损失：{loss!r}", f"unknown loss {loss!r}; one of {list(LOSSES)}")
    n = int(check_number(steps, "训练步数", "training steps", LAB_EVERY, LAB_MAX_STEPS))
    seed = check_seed(seed)
    losses = (loss_a, loss_b) if loss_a != loss_b else (loss_a,)
    rows, t0 = [], time.perf_counter()
    for snap in gan_lab.train(target, losses, n, seed=seed, every=LAB_EVERY):
        notes = []
        for loss in losses:
            o = snap["losses"][loss]
            rows += [{"step": snap["step"], "loss": o["d_loss"], "series": f"{LOSS_NAMES[loss]} · critic 判别器"},
                     {"step": snap["step"], "loss": o["g_loss"], "series": f"{LOSS_NAMES[loss]} · G 生成器"}]
            note = f"**{LOSS_NAMES[loss]}**"
            if target != "spiral":
                covered, modes, near = gan_lab.mode_coverage(target, o["fake"])
                note += f": {covered}/{modes} 个模式 modes, {near:.0%} 的点在模式附近 of points near a mode"
            notes.append(note)
        left, right = (gan_lab.render(snap["target"], snap["losses"][k]["fake"], snap["losses"][k]["potential"])
                       for k in (loss_a, loss_b))
        head = f"第 {snap['step']} / {n} 步 step · {time.perf_counter() - t0:.1f} s"
        yield left, right, pd.DataFrame(rows), head + "  \n" + " · ".join(notes)


def _lab_section() -> None:
    gr.Markdown(heading("二维实验室：看着两个损失实时训练", "2-D lab: watch two losses train live"))
    gr.Markdown(bi(
        "两个小 GAN（MLP）在 CPU 上学同一个二维分布：同样的种子、数据和隐变量，只有损失不同。底色是判别器的势函数 "
        "T(x)（红高蓝低），灰点是目标，黑点是生成的点。GAN-QP 的判别器没有任何 Lipschitz 约束，二次项 Δ²/(2λd) "
        "让势函数保持平滑、坡度有界，生成点顺着坡流向各个模式：在环上约 650 步（单个损失约 5 秒）覆盖全部 8 个模式；"
        "同样设置下 WGAN-GP（每步 2 次判别器更新）学不会，标准 GAN 也能收敛但在网格上覆盖的模式更少。",
        "Two small MLP GANs learn the same 2-D distribution on the CPU: same seed, data and latents — only the loss "
        "differs. Background: the critic's potential T(x) (red high, blue low); grey: the target; black: generated "
        "points. GAN-QP's critic has no Lipschitz constraint at all: the quadratic term Δ²/(2λd) keeps its potential "
        "smooth with a bounded slope, and the fakes flow down it to the modes — all 8 of the ring in about 650 steps "
        "(~5 s for one loss). With the same settings (2 critic steps per generator step) WGAN-GP does not get there; "
        "the standard GAN converges on the ring but covers fewer modes of the grid.", "  \n"))
    loss_choices = [(LOSS_NAMES[k], k) for k in LOSSES]
    with gr.Row():
        target = gr.Dropdown([(v, k) for k, v in LAB_TARGETS.items()], value="ring", label=bi("目标分布", "Target"))
        loss_a = gr.Dropdown(loss_choices, value="qp-l1", label=bi("左：损失", "Left: loss"))
        loss_b = gr.Dropdown(loss_choices, value="sgan", label=bi("右：损失", "Right: loss"))
        steps = gr.Slider(LAB_EVERY, LAB_MAX_STEPS, value=1000, step=LAB_EVERY, label=bi("训练步数", "Steps"))
        seed = gr.Number(0, label=bi("随机种子", "Seed"), precision=0, minimum=0, maximum=MAX_SEED)
        run = gr.Button(bi("开始训练", "Train"), variant="primary")
    notes = gr.Markdown(elem_id="gan-lab-notes")
    with gr.Row():
        left = gr.Image(label=bi("左", "Left"), elem_id="gan-lab-left", interactive=False, format="png")
        right = gr.Image(label=bi("右", "Right"), elem_id="gan-lab-right", interactive=False, format="png")
        curves = gr.LinePlot(x="step", y="loss", color="series", label=bi("损失曲线", "Loss curves"),
                             elem_id="gan-lab-curves", height=300)
    run.click(png_outputs(lab), [target, loss_a, loss_b, steps, seed], [left, right, curves, notes],
              api_name="gan_qp_lab")


COVERAGE = WEIGHTS / "coverage.json"  # written by bench/bench_gan_qp.py


def coverage_section(lang: str = "both") -> str:
    """Beside FID: each shipped generator's class shares, their entropy and precision / recall, from the bench run
    (empty when it has not been run)."""
    import json

    if not COVERAGE.exists():
        return ""
    data = json.loads(COVERAGE.read_text(encoding="utf-8"))
    title = pick("FID 之外：覆盖了哪些类别", "Beside FID: which classes are covered", lang, " · ")
    note = pick(f"每个模型 {data['samples']:,} 个样本，由分类器判定类别；熵 / ln 10 = 1 表示各类均匀；precision = 样本落在"
                "真实数据流形内的比例（像不像），recall = 真实数据被样本流形覆盖的比例（全不全），"
                "在分类器特征空间中计算（Kynkäänniemi et al. 2019，k = 3）。粗体：不到 5% 的类别。",
                f"{data['samples']:,} samples per generator, labelled by the classifier; entropy / ln 10 = 1 is an "
                "even spread; precision = share of samples inside the real data's manifold (realistic?), recall = "
                "share of real images inside the samples' manifold (covered?), in the classifier's features "
                "(Kynkäänniemi et al. 2019, k = 3). Bold: a class under 5 % of the samples.", lang, sep="  \n")
    classes = [c.split(" ")[-1] if lang == "zh" else c.split(" ")[0] if lang == "en" else c
               for c in data["classes"]]
    head = [pick("模型", "generator", lang)] + classes + [pick("熵", "entropy", lang), "precision", "recall"]
    rows = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in data["rows"]:
        cells = [f"**{x:.0%}**" if x < 0.05 else f"{x:.0%}" for x in r["shares"]]  # bold: under 5 %
        rows.append(f"| {r['name']} | " + " | ".join(cells)
                    + f" | {r['entropy']:.3f} | {r['precision']:.3f} | {r['recall']:.3f} |")
    return f"### {title}\n{note}\n\n" + "\n".join(rows)


def build_tab() -> None:
    gr.Markdown(explanation(
        zh="**GAN-QP：二次势 GAN。** 判别器 T 不用权重裁剪、梯度惩罚或谱归一化：它最大化真假样本得分差 Δ，同时减去 "
           "Δ²/(2λd)，d 是真假样本之间的 L1 或 L2 距离，这个二次项温和地让 Δ 不超过 λd。生成器只最小化 Δ，没有二次项。"
           "这里的模型在 Fashion-MNIST 和 MNIST 上训练（32×32），用同样的生成器网络与 WGAN-GP、标准 GAN 对比（步数见下表）。",
        en="**GAN-QP, the quadratic-potential GAN.** No weight clipping, gradient penalty or spectral norm: the critic "
           "maximises the score gap Δ between real and fake while subtracting Δ²/(2λd), with d the L1 or L2 distance "
           "between the real and the fake image — the quadratic term softly keeps Δ below λd. The generator only "
           "minimises Δ, without the quadratic term. Trained on Fashion-MNIST and MNIST (32×32) and compared with "
           "WGAN-GP and the standard GAN on the same generator net (steps per run in the table below).",
        url=POST,
        formula=r"\min_G\max_T\ \mathbb{E}_{x_r,x_f}\Big[\Delta-\frac{\Delta^2}{2\lambda\,d(x_r,x_f)}\Big],"
                r"\quad \Delta=T(x_r)-T(x_f),\ \lambda=10;\qquad G:\ \min\ \mathbb{E}[\Delta]",
    ))
    choices = [(label, name) for name, label in CHECKPOINTS.items()]
    with gr.Row():
        with gr.Column(scale=1):
            checkpoint = gr.Dropdown(choices, value=DEFAULT,
                                     label=bi("模型（数据 · 损失）", "Checkpoint (dataset · loss)"))
            seed = gr.Number(0, label=bi("随机种子", "Seed"), precision=0, minimum=0, maximum=MAX_SEED)
            n = gr.Slider(1, MAX_SAMPLES, value=16, step=1, label=bi("样本数", "Number of samples"))
            temperature = gr.Slider(0.0, 2.0, value=1.0, step=0.05,
                                    label=bi("温度（z ~ N(0, T²)；小 → 更典型）",
                                             "Temperature (z ~ N(0, T²); smaller → more typical)"))
            btn = gr.Button(bi("生成", "Sample"), variant="primary")
        with gr.Column(scale=2):
            grid = gr.Image(label=bi("样本", "Samples"), elem_id="gan-qp-grid", interactive=False, format="png")
    gr.Examples([["fashion_qp-l1", 7, 16, 1.0], ["fashion_qp-l1", 7, 16, 0.6], ["fashion_wgan-gp", 7, 16, 1.0],
                 ["mnist_qp-l1", 3, 36, 0.8]], inputs=[checkpoint, seed, n, temperature],
                label=bi("例子：同一种子，不同损失或温度", "Examples: one seed, different losses or temperatures"),
                # buttons, not a table: four columns with the inputs' long labels overflowed the box
                example_labels=["Fashion-MNIST · GAN-QP L1 · seed 7 · T 1.0", "Fashion-MNIST · GAN-QP L1 · seed 7 · T 0.6",
                                "Fashion-MNIST · WGAN-GP · seed 7 · T 1.0", "MNIST · GAN-QP L1 · seed 3 · 36 · T 0.8"])
    gr.Markdown(heading("隐空间插值（球面）", "Latent interpolation (slerp)"))
    with gr.Row():
        seed_a = gr.Number(1, label=bi("起点种子", "Start seed"), precision=0, minimum=0, maximum=MAX_SEED)
        seed_b = gr.Number(2, label=bi("终点种子", "End seed"), precision=0, minimum=0, maximum=MAX_SEED)
        steps = gr.Slider(2, MAX_STEPS, value=10, step=1, label=bi("插值步数", "Steps"))
        btn_interp = gr.Button(bi("插值", "Interpolate"), variant="primary")
    strip = gr.Image(label=bi("从起点到终点的样本", "Samples from the start to the end latent"),
                     elem_id="gan-qp-strip", interactive=False, format="png")
    btn.click(png_outputs(sample_grid), [checkpoint, seed, n, temperature], [grid], api_name="gan_qp_sample")
    btn_interp.click(png_outputs(interpolate), [checkpoint, seed_a, seed_b, steps, temperature], [strip],
                     api_name="gan_qp_interpolate")
    _lab_section()
    gr.Markdown(by_language(_fid_section))
    if COVERAGE.exists():
        gr.Markdown(by_language(coverage_section))
    pictures = [(path, None) for path in sorted(WEIGHTS.glob("fid_curve_*.png"))]
    pictures += [(beside(RESULTS[name][0], "progress.png"),
                  bi(f"{translate(CHECKPOINTS[name], 'zh')}：训练中的样本（每行一次评估）",
                     f"{translate(CHECKPOINTS[name], 'en')}: samples during training (a row per evaluation)"))
                 for name in CHECKPOINTS]
    model_card(WEIGHTS / "MODEL_CARD.md", pictures)
