"""Tab: Conv1D 光谱分类 — Su's spectrum classifier (models/spectrum.py) on template-based spectra."""
from __future__ import annotations

from pathlib import Path

import gradio as gr

from demos.adapter import REPO, Lazy, cjk_font, error, explanation, model_card, png_outputs, upload_path
from demos.language import bi

TAB_ID = "spectrum"
TITLE = bi("Conv1D 光谱分类", "Conv1D spectra", both="光谱分类 Spectra")
POST = "https://kexue.fm/archives/5505"
WEIGHTS = REPO / "data" / "spectrum"
EXAMPLES = sorted(str(p) for p in (WEIGHTS / "examples").glob("*.csv"))
REAL_EXAMPLES = sorted(str(p) for p in (WEIGHTS / "real").glob("*.fits"))   # real LAMOST DR1 files (real/README.md)
MAX_MB = 20
MAX_ROWS = 500_000
MIN_POINTS = 100
MIN_OVERLAP = 0.5   # at least half of the grid (3,700–9,000 Å) must be covered
MIN_GOOD = 0.6      # a LAMOST image's flagged pixels are dropped when at least this share is left
NAMES = {"star": "恒星 star", "galaxy": "星系 galaxy", "qso": "类星体 QSO", "unknown": "未知 unknown"}


def _load():
    from models import spectrum

    return spectrum.load(WEIGHTS)


def _load_templates():
    from models import spectrum

    return spectrum.load_templates(WEIGHTS)


def _load_members():
    from models import spectrum

    return spectrum.load_members(WEIGHTS)


MODEL = Lazy(_load)
MEMBERS = Lazy(_load_members)   # the same network trained with another seed: the probabilities are their mean
TEMPLATES = Lazy(_load_templates)


def _read_fits(path):
    """SDSS spec-*.fits (HDU 1 table: flux, loglam), LAMOST (2-D image: flux, …, wavelength rows) or a 1-D image
    with CRVAL1 / CDELT1 (linear, or log10 λ) → (wave, flux)."""
    import numpy as np
    from astropy.io import fits

    def damaged():
        return error("无法读取这个 FITS 文件（文件损坏或被截断）",
                     "this FITS file cannot be read (damaged or cut short)")

    try:
        hdus = fits.open(path, memmap=False)
    except Exception:
        raise damaged() from None
    with hdus:
        size = Path(path).stat().st_size
        try:
            for hdu in hdus:  # a header may claim more data than the file holds (NAXIS1 = 10⁹): refuse, don't read
                axes = [int(hdu.header.get(f"NAXIS{i}", 0)) for i in range(1, int(hdu.header.get("NAXIS", 0)) + 1)]
                if axes and np.prod(np.array(axes, dtype=float)) * abs(int(hdu.header.get("BITPIX", 8))) / 8 > size:
                    raise damaged()
            return _spectrum_in(hdus)
        except gr.Error:
            raise
        except Exception:  # noqa: BLE001 - astropy and numpy fail in many ways on a damaged file
            raise damaged() from None


def _spectrum_in(hdus):
    """The (wave, flux) of the first HDU that holds a spectrum in one of the layouts :func:`_read_fits` reads."""
    import numpy as np

    from models.spectrum import header_wavelengths

    for hdu in hdus:
        cols = [c.lower() for c in getattr(getattr(hdu, "columns", None), "names", []) or []]
        if "flux" in cols and ("loglam" in cols or "wavelength" in cols or "wave" in cols):
            data = hdu.data
            flux = np.asarray(data[hdu.columns.names[cols.index("flux")]], dtype=float).ravel()
            if "loglam" in cols:
                wave = 10 ** np.asarray(data[hdu.columns.names[cols.index("loglam")]], dtype=float).ravel()
            else:
                key = "wavelength" if "wavelength" in cols else "wave"
                wave = np.asarray(data[hdu.columns.names[cols.index(key)]], dtype=float).ravel()
            if "ivar" in cols:                      # SDSS and LAMOST DR8+ tables carry the inverse variance
                flux = _drop_flagged(flux, np.asarray(data[hdu.columns.names[cols.index("ivar")]]).ravel())
            return wave, flux
    image = hdus[0]
    if image.data is not None and image.data.ndim == 2 and image.data.shape[0] >= 3:   # LAMOST image layout
        return _lamost_image(np.asarray(image.data, dtype=float), image.header)
    if image.data is not None and image.data.ndim == 1 and "CRVAL1" in image.header:
        return header_wavelengths(image.header, image.data.size), np.asarray(image.data, dtype=float)
    raise error("FITS 文件里找不到光谱（需要 flux + loglam/wavelength 列，或一维图像 + CRVAL1/CDELT1）",
                "no spectrum found in the FITS file (expected flux + loglam/wavelength columns, or a 1-D image with "
                "CRVAL1/CDELT1)")


def _lamost_image(rows, header):
    """LAMOST's 5 × N image → (wave, flux). Row 0 is the flux, row 1 its inverse variance (0 = no data: those
    pixels become NaN); the wavelength is row 2 where that row is one (DR2 and later: flux, invvar, wavelength,
    andmask, ormask) and otherwise the header's log-linear solution 10^(COEFF0 + COEFF1·i) (DR1: row 2 is the
    subtracted continuum)."""
    import numpy as np

    n = rows.shape[1]
    row2 = rows[2]
    if np.all(np.isfinite(row2)) and np.all(np.diff(row2) > 0) and 1000 < row2[0] and row2[-1] < 30000:
        wave = row2
    elif "COEFF0" in header and "COEFF1" in header:
        wave = 10 ** (float(header["COEFF0"]) + float(header["COEFF1"]) * np.arange(n))
    else:
        raise error("LAMOST 图像里没有波长（第 3 行不是波长，头里也没有 COEFF0 / COEFF1）",
                    "no wavelengths in this LAMOST image (row 3 is not one and the header has no COEFF0 / COEFF1)")
    return wave, _drop_flagged(rows[0], rows[1])


def _drop_flagged(flux, ivar):
    """Pixels the pipeline flags (inverse variance 0) become NaN (dropped later), unless that leaves less than
    MIN_GOOD of them: then the flux is read as is."""
    import numpy as np

    flux, good = np.array(flux, dtype=float), np.asarray(ivar) > 0
    if len(good) == len(flux) and good.mean() >= MIN_GOOD:
        flux[~good] = np.nan
    return flux


def _read_table(path):
    """Two columns (wavelength in Å, flux), comma / tab / space separated; a header line is allowed."""
    import numpy as np

    data = path.read_bytes()
    if b"\x00" in data[:4096]:
        raise error("这不是文本表格（含二进制内容）", "this is not a text table (binary content)")
    lines = [ln for ln in data.decode("utf-8", errors="replace").replace(",", " ").replace("\t", " ").splitlines()
             if ln.strip() and not ln.lstrip().startswith("#")]
    if len(lines) > MAX_ROWS:
        raise error(f"行数太多：{len(lines):,}，上限 {MAX_ROWS:,}", f"too many rows: {len(lines):,}, the limit is {MAX_ROWS:,}")
    rows = []
    for k, line in enumerate(lines):
        parts = line.split()
        if len(parts) < 2:
            raise error(f"第 {k + 1} 行不是两列（波长, 流量）", f"line {k + 1} does not have two columns (wavelength, flux)")
        try:
            rows.append((float(parts[0]), float(parts[1])))
        except ValueError:
            if k == 0:
                continue   # a header line
            raise error(f"第 {k + 1} 行不是数字：{line[:40]}", f"line {k + 1} is not numeric: {line[:40]}") from None
    if not rows:
        raise error("表格里没有数据", "the table has no data")
    a = np.array(rows)
    return a[:, 0], a[:, 1]


def read_spectrum(path):
    """An uploaded file → (wavelength, flux on the model's grid, notes)."""
    import numpy as np

    from models.spectrum import GRID, fill_edges, rebin

    path = upload_path(path, "光谱文件", "spectrum file", max_mb=MAX_MB)
    with open(path, "rb") as f:
        head = f.read(6)   # a FITS file starts with "SIMPLE", whatever its name (the table reader reads it whole)
    is_fits = path.suffix.lower() in (".fits", ".fit", ".fts") or head == b"SIMPLE"
    wave, flux = _read_fits(path) if is_fits else _read_table(path)
    notes = []
    ok = np.isfinite(wave) & np.isfinite(flux)
    if ok.sum() < len(wave):
        if ok.sum() < len(wave) / 2:
            raise error(f"超过一半的点是 NaN / inf（{len(wave) - ok.sum():,} / {len(wave):,}）",
                        f"more than half of the points are NaN / inf ({len(wave) - ok.sum():,} of {len(wave):,})")
        notes.append(f"去掉 {len(wave) - ok.sum():,} 个 NaN / inf 点 · {len(wave) - ok.sum():,} NaN / inf points dropped")
    wave, flux = wave[ok], flux[ok]
    if len(wave) < MIN_POINTS:
        raise error(f"点太少：{len(wave)}，至少 {MIN_POINTS}", f"too few points: {len(wave)}, at least {MIN_POINTS}")
    order = np.argsort(wave)
    wave, flux = wave[order], flux[order]
    keep = np.concatenate([[True], np.diff(wave) > 0])
    wave, flux = wave[keep], flux[keep]
    if wave[0] <= 0:
        raise error("波长必须为正（单位 Å）", "wavelengths must be positive (in Å)")
    covered = (np.minimum(wave[-1], GRID[-1]) - np.maximum(wave[0], GRID[0])) / (GRID[-1] - GRID[0])
    if covered < MIN_OVERLAP:
        raise error(f"波长范围 {wave[0]:.0f}–{wave[-1]:.0f} Å 与模型的 3700–9000 Å 重叠不足一半（波长单位须是 Å）",
                    f"the wavelength range {wave[0]:.0f}–{wave[-1]:.0f} Å covers less than half of the model's "
                    f"3,700–9,000 Å (wavelengths must be in Å)")
    if covered < 0.999:
        notes.append(f"只覆盖网格的 {covered:.0%}，两端按平直延伸 · covers {covered:.0%} of the grid; the ends are "
                     "continued flat")
    on_grid = fill_edges(rebin(wave, flux))
    if not np.any(on_grid):
        raise error("流量全为零", "the flux is all zero")
    return on_grid, notes


WIDTH, HEIGHT = 990, 468   # pixels of the picture
LEFT, RIGHT, TOP, BOTTOM, GAP = 72, 12, 30, 44, 10   # margins around the two panels, and between them
DARK, GREY, RED, AMBER, BLUE = (31, 41, 55), (110, 110, 110), (220, 38, 38), (245, 158, 11), (37, 99, 235)


def spectrum_picture(flux, sal, kind: str, z: float, template=None, template_name: str = ""):
    """The spectrum on the model's grid (upper panel) with the lines of its class at redshift ``z`` (red) and the
    best-fitting template (blue, where given), and the saliency (lower panel, amber) → an RGB picture (uint8).
    Drawn with numpy + PIL: matplotlib's layout and text measurement took 110 ms a call, this takes a few."""
    import numpy as np
    from PIL import Image, ImageDraw

    from models.spectrum import GRID, LINES, QSO_LINES, STAR_LINES

    lines = {"star": STAR_LINES, "galaxy": LINES, "qso": QSO_LINES}.get(kind, {})
    picture = Image.new("RGB", (WIDTH, HEIGHT), "white")
    draw = ImageDraw.Draw(picture)
    font, small = cjk_font(12), cjk_font(10)
    x0, x1 = LEFT, WIDTH - RIGHT
    inner = HEIGHT - TOP - BOTTOM - GAP
    top = (TOP, TOP + inner * 3 // 4)                       # the spectrum's panel, y from its top to its bottom
    low = (top[1] + GAP, HEIGHT - BOTTOM)                   # the saliency's panel

    def x_of(wave):
        return x0 + (np.asarray(wave) - GRID[0]) / (GRID[-1] - GRID[0]) * (x1 - x0)

    lo, hi = (float(v) for v in np.percentile(flux, [0.5, 99.5]))
    pad = 0.1 * (hi - lo or 1)
    y_lo, y_hi = lo - pad, hi + 3 * pad

    def y_of(value):
        return top[1] - (np.clip(value, y_lo, y_hi) - y_lo) / (y_hi - y_lo) * (top[1] - top[0])

    for name, rest in lines.items():      # under the spectrum, as matplotlib would stack them
        at = rest * (1 + z)
        if GRID[0] < at < GRID[-1]:
            x = float(x_of(at))
            draw.line([(x, top[0]), (x, top[1])], fill=(240, 160, 160), width=1)
            label = _upright(name, small, 12)
            picture.paste(Image.new("RGB", label.size, RED), (int(x) - label.size[0] - 1, top[0] + 3), label)
    if template is not None:                # under the spectrum, which stays readable on top
        points = np.stack([x_of(GRID), y_of(np.asarray(template, float))], 1)
        draw.line([tuple(p) for p in points.tolist()], fill=BLUE, width=2)
        draw.text((x1 - 6, top[0] + 4), f"template 模板: {template_name}", fill=BLUE, font=small, anchor="rt")
    points = np.stack([x_of(GRID), y_of(np.asarray(flux, float))], 1)
    draw.line([tuple(p) for p in points.tolist()], fill=DARK, width=1)

    columns = np.clip(x_of(GRID).astype(int) - x0, 0, x1 - x0 - 1)   # the saliency's maximum per pixel column
    per_column = np.zeros(x1 - x0)
    np.maximum.at(per_column, columns, np.clip(np.asarray(sal, float), 0, 1))
    heights = (per_column / 1.05 * (low[1] - low[0])).astype(int)
    canvas = np.asarray(picture).copy()
    rows = np.arange(low[0], low[1])[:, None]
    canvas[low[0]:low[1], x0:x1][rows >= low[1] - heights[None, :]] = AMBER
    picture = Image.fromarray(canvas)
    draw = ImageDraw.Draw(picture)

    for y_top, y_bottom in (top, low):
        draw.rectangle([x0, y_top, x1, y_bottom], outline=GREY)
    for wave in range(4000, 9001, 500):
        x = float(x_of(wave))
        if x0 <= x <= x1:
            for y_bottom in (top[1], low[1]):
                draw.line([(x, y_bottom), (x, y_bottom - 4)], fill=GREY)
            draw.text((x, low[1] + 4), f"{wave}", fill=DARK, font=font, anchor="mt")
    y_ticks = [(float(y_of(v)), v) for v in _ticks(y_lo, y_hi)] + \
        [(low[1] - v / 1.05 * (low[1] - low[0]), v) for v in (0, 0.5, 1)]   # the flux's, then the saliency's
    for y, value in y_ticks:
        draw.line([(x0, y), (x0 + 4, y)], fill=GREY)
        draw.text((x0 - 5, y), f"{value:g}", fill=DARK, font=small, anchor="rm")
    draw.text(((x0 + x1) / 2, HEIGHT - 4), "wavelength 波长 (Å)", fill=DARK, font=font, anchor="md")
    where = f" at z ≈ {z:.3f}" if kind in ("galaxy", "qso") else " (z = 0)"
    title = f"spectrum on the model's grid; lines of a {kind}{where}" if lines else "spectrum on the model's grid"
    draw.text(((x0 + x1) / 2, 8), title, fill=DARK, font=font, anchor="mt")
    for text, (y_top, y_bottom) in (("flux (scaled)", top), ("saliency", low)):
        label = _upright(text, font, 14)
        picture.paste(Image.new("RGB", label.size, DARK), (4, (y_top + y_bottom - label.size[1]) // 2), label)
    return np.asarray(picture)


def _upright(text: str, font, height: int):
    """``text`` turned to read upwards, as a mask (mode L) to paste a colour through."""
    from PIL import Image, ImageDraw

    mask = Image.new("L", (int(font.getlength(text)) + 2, height), 0)
    ImageDraw.Draw(mask).text((1, 0), text, fill=255, font=font)
    return mask.rotate(90, expand=True)


def _ticks(lo: float, hi: float, n: int = 4):
    """About ``n`` round numbers between ``lo`` and ``hi`` (1, 2 or 5 × a power of ten apart)."""
    import numpy as np

    raw = (hi - lo) / n
    step = min((m * 10 ** np.floor(np.log10(raw)) for m in (1, 2, 5, 10)), key=lambda s: abs(s - raw))
    return np.round(np.arange(np.ceil(lo / step) * step, hi, step), 10)


def classify(path):
    """An uploaded spectrum (CSV or FITS) → ({class: probability}, the figure's picture, notes)."""
    from models import spectrum
    from models.spectrum import FEATURELESS

    on_grid, notes = read_spectrum(path)
    found = spectrum.classify(MODEL.get(), on_grid, TEMPLATES.get(), members=MEMBERS.get())
    label = {NAMES[c]: p for c, p in found.probabilities.items()}
    network = max(found.probabilities, key=found.probabilities.get)   # what the network alone says
    if found.outlier or found.featureless:
        label = {name: float(c == "unknown") for c, name in NAMES.items()}
    if found.outlier:
        notes.append(f"**不像任何一类训练光谱**（特征与各类中心的马氏距离 {found.outlier_score:.0f}，阈值 "
                     f"{MODEL.get().cfg.outlier_threshold:.0f}），判为未知；仅看网络会是 {NAMES[network]} "
                     f"{found.probabilities[network]:.2f} · **unlike every class of training spectra** (Mahalanobis "
                     f"distance of its features {found.outlier_score:.0f}, threshold "
                     f"{MODEL.get().cfg.outlier_threshold:.0f}): called unknown; the network alone would say "
                     f"{network} at {found.probabilities[network]:.2f}")
    if found.featureless:
        notes.append(f"**没有任何谱线特征**：{NAMES[network]} 的模板只解释了平滑曲线之外起伏的 "
                     f"{found.feature_strength:.1%}（阈值 {FEATURELESS:.1%}，噪声已低到谱线应当可见），判为未知 · "
                     f"**no spectral features**: the {network} templates explain only {found.feature_strength:.1%} "
                     f"of what varies around a smooth curve (threshold {FEATURELESS:.1%}) at a S/N where lines would "
                     f"show, so it is called unknown; the network alone would say {network} at "
                     f"{found.probabilities[network]:.2f}")
    if found.subclass and not found.featureless:
        ranked = sorted(found.subclass.items(), key=lambda kv: -kv[1])[:3]
        notes.append("恒星光谱型（第二个输出头）star's spectral class (second head): "
                     + ", ".join(f"**{c}** {p:.2f}" if i == 0 else f"{c} {p:.2f}" for i, (c, p) in enumerate(ranked)))
    if found.kind == "star" and found.template is not None:
        notes.append(f"最像的模板 best template: {found.template_name}; 视向速度 radial velocity ≈ "
                     f"{found.z * 299_792.458:+.0f} km/s")
    elif found.kind in ("galaxy", "qso"):
        notes.append(f"红移（模板拟合，逐个红移最小二乘）redshift by template fit (least squares at every trial z): "
                     f"**z = {found.z:.4f}**")
    picture = spectrum_picture(found.scaled, found.saliency, found.kind, found.z, found.template, found.template_name)
    return label, picture, "  \n".join(notes)


def build_tab() -> None:
    gr.Markdown(explanation(
        zh="**基于 Conv1D 的光谱分类模型。** 一条光谱是同一波长网格上的 2600 个流量值。苏剑林的网络：8 个残差块，每块三层膨胀卷积"
           "（膨胀率 1, 2, 4），每层输出 2f 个通道、前后两半相加；前七块后各接一个最大池化；整通道 dropout、全局最大池化、"
           "全连接 128、softmax 四类。先用交叉熵训练，再从最好的模型出发用可导的 macro-F1 损失微调；同一网络用两个随机种子各训练一次，"
           "概率取平均。"
           "另加（原文没有）：第二个输出头给出恒星光谱型（O/B、A、F、G、K、M）；按巡天的类别比例校正先验并做温度缩放；"
           "特征离所有类别太远或没有任何谱线特征时判为未知；用模板在每个候选红移上做最小二乘拟合求红移，并把最匹配的模板画在光谱上（蓝线）。"
           "**注意：训练光谱由真实模板合成（MILES / STELIB / MaStar 恒星，BC03 / MIUSCAT 星族，pypeit 类星体 PCA，"
           "Paranal 天光），不是 LAMOST 观测数据。** 在 176 条真实的 LAMOST DR1 恒星光谱上（可直接上传巡天发布的 FITS），"
           "98.3% 判为恒星（以前 87%），光谱型与 LAMOST 相差不超过一型的占 98.9%（176 条中 174 条）；两条真实的 SDSS 近邻星系（z≈0.004）判为星系。",
        en="**A Conv1D spectrum classifier.** A spectrum is 2,600 flux values on one wavelength grid. Su's network: "
           "8 residual blocks of three dilated convolutions (rates 1, 2, 4) with 2f channels whose halves are added; "
           "a max pool after each of the first seven; whole-channel dropout, global max pool, dense 128, softmax over "
           "4 classes. Trained with cross-entropy, then fine-tuned from the best model with a differentiable "
           "macro-F1 loss; the same network trained with two seeds, their probabilities averaged. Beyond the post: "
           "a second head for a star's spectral class (O/B, A, F, G, K, M); "
           "probabilities corrected to a survey's class mix and temperature-scaled; 'unknown' for inputs far from "
           "every class or with no spectral features; the redshift by least-squares template fits at every trial z, "
           "with the best template drawn over the spectrum (blue). **The training spectra are made from real "
           "templates (MILES / STELIB / MaStar stars, BC03 / MIUSCAT populations, pypeit's QSO PCA, the Paranal sky) — "
           "not LAMOST observations.** On 176 real LAMOST DR1 stars (upload the survey's FITS as it ships) 98.3 % are "
           "called star (87 % before), their spectral class within one of LAMOST's for 174 (98.9 %); two real SDSS "
           "spectra of nearby galaxies (z ≈ 0.004) are called galaxies.",
        url=POST,
        formula=r"\mathcal{L} = -\log \frac{1}{C}\sum_{c} \frac{2\sum_n y_{nc}\,p_{nc}}{\sum_n (y_{nc} + p_{nc})}",
    ))
    with gr.Row():
        with gr.Column(scale=1):
            upload = gr.File(label=bi("光谱：CSV（波长 Å, 流量）或 FITS（SDSS / LAMOST）",
                                      "Spectrum: CSV (wavelength Å, flux) or FITS (SDSS / LAMOST)"), elem_id="spectrum-input")
            btn = gr.Button(bi("分类", "Classify"), variant="primary")
            gr.Examples([[e] for e in EXAMPLES], inputs=[upload],
                        label=bi("例子：测试集光谱（每类两条，模板未参与训练）",
                                 "Examples: test-split spectra, two per class (templates unseen in training)"))
            gr.Examples([[e] for e in REAL_EXAMPLES], inputs=[upload],
                        label=bi("真实光谱：LAMOST DR1 发布的 FITS（F9 恒星；一半像素被标为坏的 K7 恒星）",
                                 "Real spectra: LAMOST DR1 FITS as released (an F9 star; a K7 star with half its "
                                 "pixels flagged)"))
        with gr.Column(scale=1):
            label = gr.Label(label=bi("类别", "Class"), elem_id="spectrum-label")
            notes = gr.Markdown(elem_id="spectrum-notes")
    plot = gr.Image(label=bi("光谱、谱线与显著性", "Spectrum, lines and saliency"), interactive=False, format="png",
                    elem_id="spectrum-plot")
    btn.click(png_outputs(classify), [upload], [label, plot, notes], api_name="spectrum_classify")
    model_card(WEIGHTS / "MODEL_CARD.md", [(WEIGHTS / "training_curves.png", None),
                                           (WEIGHTS / "f1_vs_snr.png", None), (WEIGHTS / "reliability.png", None)])
    for member in sorted((WEIGHTS / "members").glob("*/MODEL_CARD.md")):  # the other seeds the tab averages with
        model_card(member, [], title=bi(f"模型卡：另一个种子（{member.parent.name}）",
                                        f"Model card: another seed ({member.parent.name})"))
