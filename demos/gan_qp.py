"""Tab: GAN-QP — samples and latent interpolations from the shipped generators (models/gan_qp.py)."""
from __future__ import annotations

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
    head = [("数据", "dataset"), ("损失", "loss"), ("生成器步数", "G steps"), ("FID (10k) ↓",) * 2,
            ("训练时间", "train time")]
    rows = ["| " + " | ".join(pick(zh, en, lang) for zh, en in head) + " |", "|---|---|---|---|---|"]
    for name in CHECKPOINTS:
        i = RESULTS[name][1]["info"]
        dataset = DATASET_NAMES[i["dataset"]] + ("" if lang == "en" else f" {DATASET_ZH[i['dataset']]}")
        rows.append(f"| {dataset} | {LOSS_NAMES[i['loss']]} | {i['steps']:,} | {i['fid_10k']:.2f} | "
                    f"{i['minutes']:.0f} min |")
    return "\n".join(rows)


def _fid_section(lang: str) -> str:
    title = pick("同样网络、同样步数下的分类器 FID", "Classifier FID at the same nets and steps", lang, " · ")
    note = pick("越低越好；特征来自在同一数据集上训练的小分类器，**不是 Inception FID**，不能与论文数字比较。",
                "Lower is better; features of a small classifier trained on the same dataset — **not Inception "
                "FID**, not comparable with the paper.", lang, sep="  \n")
    return f"### {title}\n{note}\n\n{fid_table(lang)}"


def build_tab() -> None:
    gr.Markdown(explanation(
        zh="**GAN-QP：二次势 GAN。** 判别器 T 不用权重裁剪、梯度惩罚或谱归一化：它最大化真假样本得分差 Δ，同时减去 "
           "Δ²/(2λd)，d 是真假样本之间的 L1 或 L2 距离，这个二次项温和地让 Δ 不超过 λd。生成器只最小化 Δ，没有二次项。"
           "这里的模型在 Fashion-MNIST 和 MNIST 上训练（32×32），并在同样的网络、同样的步数下与 WGAN-GP、标准 GAN 对比。",
        en="**GAN-QP, the quadratic-potential GAN.** No weight clipping, gradient penalty or spectral norm: the critic "
           "maximises the score gap Δ between real and fake while subtracting Δ²/(2λd), with d the L1 or L2 distance "
           "between the real and the fake image — the quadratic term softly keeps Δ below λd. The generator only "
           "minimises Δ, without the quadratic term. Trained on Fashion-MNIST and MNIST (32×32) and compared with "
           "WGAN-GP and the standard GAN on the same nets and the same number of steps.",
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
    gr.Markdown(by_language(_fid_section))
    pictures = [(path, None) for path in sorted(WEIGHTS.glob("fid_curve_*.png"))]
    pictures += [(beside(RESULTS[name][0], "progress.png"),
                  bi(f"{translate(CHECKPOINTS[name], 'zh')}：训练中的样本（每行一次评估）",
                     f"{translate(CHECKPOINTS[name], 'en')}: samples during training (a row per evaluation)"))
                 for name in CHECKPOINTS]
    model_card(WEIGHTS / "MODEL_CARD.md", pictures)
