"""Tab: O-GAN — samples, encode → reconstruct, and image-to-image interpolation (models/o_gan.py)."""
from __future__ import annotations

import json

import gradio as gr

from demos.adapter import (MAX_SEED, REPO, Lazy, UploadedPicture, check_number, check_seed, enlarge, error,
                           explanation, model_card, png_outputs, upload_path)
from demos.language import bi, by_language, heading, pick
from models.checkpoint import beside, read_history

TAB_ID = "o_gan"
TITLE = bi("O-GAN 判别器即编码器", "O-GAN", both="O-GAN 判别器即编码器")
POST = "https://kexue.fm/archives/6409"
WEIGHTS = REPO / "data" / "o_gan"
DATASET = "fashion"
ZOOM = 4
MAX_SAMPLES = 64
MAX_STEPS = 16
MAX_REFINE = 300  # Adam steps of the refined reconstruction (100 by default: ~0.3 s on a CPU)
MAX_PIXELS = 25_000_000  # larger pictures are refused before they are decoded (a 25-megapixel photo is plenty)
CHECKPOINT = WEIGHTS / DATASET  # a folder (models/checkpoint.py), or the stem of an older checkpoint
RECONSTRUCTION = WEIGHTS / "reconstruction.json"  # written by bench/bench_o_gan.py: encoder alone vs refined
REFINE_STEPS = 100  # as models.o_gan.REFINE_STEPS (not imported: the tab loads torch lazily)
EXAMPLES = sorted(str(p) for p in (WEIGHTS / "examples").glob(f"{DATASET}_*.png"))


def _load():
    from models import o_gan

    return o_gan.load(CHECKPOINT)


MODEL = Lazy(_load)


def samples(seed, n_samples, temperature):
    """→ a grid picture of generated images, latents z ~ N(0, temperature²) drawn with ``seed``."""
    from models.gan_qp import sample_grid

    seed = check_seed(seed)
    n = int(check_number(n_samples, "样本数", "number of samples", 1, MAX_SAMPLES))
    t = check_number(temperature, "温度", "temperature", 0.0, 2.0)
    return enlarge(sample_grid(MODEL.get()[0], seed, n, t), ZOOM)


def preprocess(path):
    """Any picture → (tensor (1, 1, 32, 32) in [−1, 1], the 28×28 uint8 picture the model sees, notes).

    Like Fashion-MNIST: grey, a light object on a dark background, the object's bounding box scaled to fill a
    28×28 square (aspect kept), then padded to 32×32. Transparent parts count as background; a picture whose border
    is mostly light (a photo on white paper) is inverted. A 28×28 picture is taken as it is (the dataset's format)."""
    import numpy as np
    import torch
    from PIL import Image, ImageOps, UnidentifiedImageError

    path = upload_path(path, "图片", "picture", empty=("请先选择或上传一张图片", "choose or upload a picture first"))
    unreadable = error("无法读取：这不是图片文件", "cannot read it: this is not a picture file")
    try:
        with Image.open(path) as im:  # reads the header only: the size is known before any decoding
            width, height = im.size
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        raise unreadable from None
    if width * height > MAX_PIXELS:
        raise error(f"图片太大：{width}×{height} 像素", f"the picture is too large: {width}×{height} pixels (the "
                    f"limit is {MAX_PIXELS // 10**6} megapixels)")
    try:
        with Image.open(path) as im:
            im.load()
            picture = im.copy()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        raise unreadable from None
    notes = [f"原图 original: {picture.width}×{picture.height} {picture.mode}"]
    if picture.mode in ("RGBA", "LA", "PA") or (picture.mode == "P" and "transparency" in picture.info):
        rgba = picture.convert("RGBA")
        grey = np.asarray(rgba.convert("L"), dtype=np.float32)
        alpha = np.asarray(rgba, dtype=np.float32)[..., 3] / 255
        border = np.concatenate([grey[0], grey[-1], grey[:, 0], grey[:, -1]])
        light = float(np.median(border)) > 127 if alpha.min() > 0 else False
        grey = (255 - grey if light else grey) * alpha  # transparent → dark background
        notes.append("透明部分当作背景 transparent parts become background")
    else:
        grey = np.asarray(picture.convert("L"), dtype=np.float32)
        border = np.concatenate([grey[0], grey[-1], grey[:, 0], grey[:, -1]])
        if float(np.median(border)) > 127:
            grey = 255 - grey
            notes.append("浅色背景已反色 light background inverted")
    if grey.shape != (28, 28):  # 28×28 is the dataset's format (the browser may have made it RGB): kept as is
        mask = grey > 0.2 * max(float(grey.max()), 1.0)
        if not mask.any():
            raise error("图片是空白的", "the picture is blank")
        rows, cols = np.nonzero(mask)
        crop = grey[rows.min():rows.max() + 1, cols.min():cols.max() + 1]
        h, w = crop.shape
        side = max(h, w)
        square = np.zeros((side, side), dtype=np.float32)
        square[(side - h) // 2:(side - h) // 2 + h, (side - w) // 2:(side - w) // 2 + w] = crop
        grey = np.asarray(ImageOps.contain(Image.fromarray(square.astype(np.uint8)), (28, 28),
                                           Image.Resampling.LANCZOS), dtype=np.float32)
        if grey.shape != (28, 28):  # ImageOps.contain keeps the aspect: pad a rounding pixel
            grey = np.pad(grey, ((0, 28 - grey.shape[0]), (0, 28 - grey.shape[1])))
        notes.append("裁到物体、居中、缩放到 28×28 cropped to the object, centred, resized to 28×28")
    seen = np.clip(grey, 0, 255).astype(np.uint8)
    x = torch.from_numpy(seen.astype(np.float32) / 127.5 - 1).view(1, 1, 28, 28)
    return torch.nn.functional.pad(x, (2, 2, 2, 2), value=-1.0), seen, notes


def _picture(x):
    from models.gan_qp import to_grid

    return enlarge(to_grid(x, nrow=1, pad=0), ZOOM)


def encode_image(path, refine_steps=REFINE_STEPS):
    """Picture → (what the model sees, its reconstruction, notes with the code's score and the pixel MSE).
    The reconstruction is G(0.9·standardise(E(x))) refined by ``refine_steps`` Adam steps on the code (0: the
    encoder's one pass alone)."""
    import torch

    from models.o_gan import encode, refine

    k = int(check_number(refine_steps, "再优化步数", "refinement steps", 0, MAX_REFINE))
    x, seen, notes = preprocess(path)
    G, E = MODEL.get()
    with torch.inference_mode():
        z = encode(E, x)  # once: the refinement starts from this code
        alone = G(z)
        recon = G(refine(G, z, x, k)) if k else alone
        score = E(x).mean().item()
    mse = [((r - x) / 2).pow(2).mean().item() for r in (alone, recon)]
    notes.append(f"判别器得分 critic score avg E(x) = {score:.3f}（越低越像真实图片 lower = more like the real "
                 f"images）· 重建像素均方误差 reconstruction pixel MSE: 编码器一步 encoder alone {mse[0]:.4f}"
                 + (f" → 再优化 {k} 步 refined in {k} steps {mse[1]:.4f}" if k else ""))
    return _picture(x), _picture(recon), "  \n".join(notes)


def interpolate_images(path_a, path_b, steps):
    """Two pictures → a strip: G along the great circle between their codes (both ends are reconstructions)."""
    import torch

    from models.gan_qp import interpolation_strip
    from models.o_gan import encode

    k = int(check_number(steps, "插值步数", "interpolation steps", 2, MAX_STEPS))
    xa, _, _ = preprocess(path_a)
    xb, _, _ = preprocess(path_b)
    G, E = MODEL.get()
    codes = encode(E, torch.cat([xa, xb]))
    return enlarge(interpolation_strip(G, codes[0], codes[1], k), ZOOM)


def results_table(lang: str = "both") -> str:
    """The shipped model's test-split results (from the training run) as a Markdown table, in ``lang``."""
    info = read_history(CHECKPOINT)["info"]
    r = info["results"]
    rows = [(("指标", "metric"), ("值", "value")),
            (("样本 FID（分类器特征，非 Inception）↓", "sample FID (classifier features, not Inception) ↓"),
             f"{r['fid_10k']:.2f}"),
            (("ρ(z, E(G(z))) ↑",) * 2, f"{r['rho']:.3f}"),
            (("测试集重建像素 MSE ↓（编码器一步）", "test reconstruction pixel MSE ↓ (encoder alone)"),
             f"{r['recon_mse']:.4f}"),
            (("重建保持原类别 ↑（编码器一步）", "reconstructions keep the label ↑ (encoder alone)"),
             f"{r['recon_label_rate']:.1%} ({pick('原图', 'originals', lang)} {r['original_label_rate']:.1%})")]
    if RECONSTRUCTION.exists():  # the refined reconstruction, measured by the bench on the same test split
        b = json.loads(RECONSTRUCTION.read_text(encoding="utf-8"))
        steps = b["refine_steps"]
        rows += [((f"测试集重建像素 MSE ↓（再优化 {steps} 步）", f"test reconstruction pixel MSE ↓ (refined, {steps} steps)"),
                  f"{b['recon_refined_mse']:.4f}"),
                 ((f"重建保持原类别 ↑（再优化 {steps} 步）", f"reconstructions keep the label ↑ (refined, {steps} steps)"),
                  f"{b['recon_refined_label_rate']:.1%}")]
    lines = [f"| {pick(*name, lang)} | {value if isinstance(value, str) else pick(*value, lang)} |"
             for name, value in rows]
    return "\n".join(lines[:1] + ["|---|---|"] + lines[1:])


def rho_weight() -> float:
    """λ of the shipped model's −λρ term (the post's 0.5 where its training record predates the option)."""
    return read_history(CHECKPOINT)["info"].get("rho_weight", 0.5)


def _results_section(lang: str) -> str:
    title = pick("测试集上的结果", "Results on the test split", lang, " · ")
    note = pick("与 GAN-QP 的比较", "Compared with GAN-QP by", lang, " · ") + ": `python -m bench.bench_o_gan`"
    return f"### {title}\n{note}\n\n{results_table(lang)}"


def build_tab() -> None:
    gr.Markdown(explanation(
        zh="**O-GAN：判别器就是编码器。** 把判别器的输出从 1 维改成 128 维的编码 E(x)，其平均值当作判别分数；"
           "再让 E 与 G 同时最大化 z 与 E(G(z)) 的皮尔逊相关系数。相关系数与均值（也就是分数）正交、与尺度无关，"
           "所以不干扰对抗训练，却让 E 学会把图片编码回隐变量：重建即 G(0.9·标准化(E(x)))。"
           "模型在 Fashion-MNIST 上训练（32×32），网络与 GAN-QP 标签页相同。",
        en="**O-GAN: the discriminator is an encoder.** The critic outputs a 128-d code E(x) whose average is the "
           "score, and E and G both maximise the Pearson correlation between z and E(G(z)). Correlation is "
           "orthogonal to the mean (the score) and blind to scale, so it leaves the adversarial game alone but teaches "
           "E to map images back to latents: reconstruction is G(0.9·standardise(E(x))). Trained on Fashion-MNIST "
           "(32×32) with the GAN-QP tab's nets.",
        url=POST,
        formula=r"T(x)=\operatorname{avg}E(x),\qquad \mathcal{L}_{E,G}=\mathcal{L}_{\mathrm{GAN}}-\lambda\,"
                r"\rho\big(z,E(G(z))\big),\ \lambda=" + f"{rho_weight():g}" +
                r",\qquad \hat x=G\big(0.9\cdot\mathrm{std}(E(x))\big)",
    ))
    with gr.Row():
        with gr.Column(scale=1):
            seed = gr.Number(0, label=bi("随机种子", "Seed"), precision=0, minimum=0, maximum=MAX_SEED)
            n = gr.Slider(1, MAX_SAMPLES, value=16, step=1, label=bi("样本数", "Number of samples"))
            temperature = gr.Slider(0.0, 2.0, value=1.0, step=0.05,
                                    label=bi("温度（z ~ N(0, T²)）", "Temperature (z ~ N(0, T²))"))
            btn = gr.Button(bi("生成", "Sample"), variant="primary")
        with gr.Column(scale=2):
            grid = gr.Image(label=bi("随机样本", "Random samples"), elem_id="o-gan-grid", interactive=False,
                            format="png", height=300)
    gr.Markdown(heading("编码与重建", "Encode → reconstruct"))
    gr.Markdown(bi("上传任意图片（转灰度、居中、缩放，右侧显示模型实际看到的图），或选一张测试集图片。编码器一步给出编码；"
                   "再从这个编码出发，对 z 做几十步 Adam 优化让 G(z) 更接近原图（GAN 反演），细节更多。",
                   "Upload any picture (made grey, centred and resized — the picture the model sees is shown) or "
                   "pick a test image. The encoder gives a code in one pass; a few dozen Adam steps on z from that "
                   "code then bring G(z) closer to the picture (GAN inversion), with more detail.", "  \n"))
    with gr.Row():
        with gr.Column(scale=1):
            image = UploadedPicture(label=bi("图片", "Picture"), type="filepath", sources=["upload", "clipboard"],
                                    height=240, elem_id="o-gan-input")
            refine = gr.Slider(0, MAX_REFINE, value=REFINE_STEPS, step=10,
                               label=bi("再优化步数（0：只用编码器一步）", "Refinement steps (0: the encoder's one pass alone)"))
            btn_encode = gr.Button(bi("编码并重建", "Encode and reconstruct"), variant="primary")
        with gr.Column(scale=2):
            with gr.Row():
                seen = gr.Image(label=bi("模型看到的（28×28 → 32×32）", "What the model sees (28×28 → 32×32)"),
                                interactive=False, format="png", height=240, elem_id="o-gan-seen")
                recon = gr.Image(label=bi("重建", "Reconstruction"), interactive=False, format="png", height=240,
                                 elem_id="o-gan-recon")
            notes = gr.Markdown(elem_id="o-gan-notes")
    gr.Examples([[p] for p in EXAMPLES], inputs=[image],
                label=bi("测试集图片（每类 2 张，训练时未见过）", "Test images (2 per class, never seen in training)"),
                examples_per_page=20)
    gr.Markdown(heading("两张图片之间插值", "Interpolate between two pictures"))
    with gr.Row():
        image_b = UploadedPicture(label=bi("终点图片", "End picture"), type="filepath",
                                  sources=["upload", "clipboard"], height=200,
                                  value=EXAMPLES[3] if len(EXAMPLES) > 3 else None, elem_id="o-gan-input-b")
        steps = gr.Slider(2, MAX_STEPS, value=10, step=1, label=bi("插值步数", "Steps"))
        btn_interp = gr.Button(bi("插值（起点：上面的图片）", "Interpolate (start: the picture above)"),
                               variant="primary")
    strip = gr.Image(label=bi("编码空间插值", "Interpolation between the codes"), interactive=False, format="png",
                     elem_id="o-gan-strip")
    btn.click(png_outputs(samples), [seed, n, temperature], [grid], api_name="o_gan_sample")
    btn_encode.click(png_outputs(encode_image), [image, refine], [seen, recon, notes], api_name="o_gan_reconstruct")
    btn_interp.click(png_outputs(interpolate_images), [image, image_b, steps], [strip], api_name="o_gan_interpolate")
    gr.Markdown(by_language(_results_section))
    model_card(beside(CHECKPOINT, "MODEL_CARD.md"), [(beside(CHECKPOINT, "progress.png"),
                                                      bi("训练中的样本（每行一次评估）",
                                                         "Samples during training (a row per evaluation)"))])
