"""Labelled 1-D spectra (star / galaxy / QSO / unknown) built from real spectral templates, for the Conv1D tab.

    python -m training.spectra_data      # fetch the two wheels, read the templates, write the three splits + counts

LAMOST spectra cannot be downloaded here, so spectra are *made*: real template spectra from two PyPI wheels are
redshifted, put on one LAMOST-like wavelength grid and given the defects of a survey spectrum. Templates:

* **stars** — ``sdss-mangadap`` 4.5.0: MILES (985 stars, 3,540–7,410 Å, spectral types from
  ``paramsMILES_v9.1.txt``), STELIB (most 3,200–9,900 Å) and MaStar hierarchical-cluster spectra (3,622–10,354 Å).
  MILES stops at 7,410 Å (and some STELIB stars near 8,000 Å), so above 7,350 Å (or their own end) such a star is
  continued by the full-range star of its split whose shape over the 1,350 Å before is closest (scaled to meet).
* **galaxies** — the same wheel's stellar-population models (BC03 and MIUSCAT SSPs): an old population plus 0–50 %
  of a young one, dust (a power-law attenuation), and, for 60 % of them, emission lines (Hα, Hβ, [O II], [O III],
  [N II], [S II] with random but typical ratios); z ∈ [0.005, 0.3]. Below the models' blue end (3,326 / 3,465 Å)
  the spectrum is continued flat (at z > 0.07 up to a few hundred Å at the blue edge of the grid).
* **QSOs** — ``pypeit`` 2.0.1's QSO PCA (``qso_pca_1200_3100.fits``: 1,050 fitted coefficient sets; and
  ``qso_pca_2200_5100.fits``: 3,434), rebuilt as exp(coefficients · components): one of each, joined in their
  2,200–3,100 Å overlap, gives a 1,200–5,100 Å rest spectrum; z ∈ [0.6, 2.6], with a power law above 5,100 Å and,
  below Lyα, the continuum times a random Lyα-forest transmission.
* **unknown** — what a survey labels unknown: spectra of any class at S/N < 1.5, sky-dominated spectra (the
  ``pypeit`` Paranal sky spectrum, little or no object), and corrupted ones (a dead arm, a flux jump between the
  arms, runs of bad columns).

Every spectrum: a flux-calibration error (a smooth multiplicative curve, ± up to 15 %), Gaussian noise at S/N
(per pixel, median) drawn log-uniformly in [3, 60] (more noise where the sky is bright), sky-line residuals, and
now and then a few bad pixels. No template feeds two splits: templates (and QSO coefficient sets) are split
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

from models.spectrum import CLASSES, GRID, HI, N_POINTS, fill_edges, header_wavelengths, rebin
from training import cache_dir, prepare_command, wheel_file
from training.couplet_data import split_of

MANGADAP = "sdss-mangadap==4.5.0"
PYPEIT = "pypeit==2.0.1"
ARM_SPLIT = 5800.0                      # LAMOST's blue and red arms meet near here
SHARES = {"star": 0.8, "galaxy": 0.05, "qso": 0.05, "unknown": 0.1}
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
    stars, ssps = [], []
    with zipfile.ZipFile(mangadap_wheel) as whl:
        names = whl.namelist()
        types = miles_types(whl.read(TPL + "miles/paramsMILES_v9.1.txt").decode("latin-1"))
        for folder in STAR_DIRS + SSP_DIRS:
            for name in sorted(n for n in names if n.startswith(f"{TPL}{folder}/") and ".fits" in n):
                data = whl.read(name)
                hdu = _fits(gzip.decompress(data) if name.endswith(".gz") else data)[0]
                flux = np.asarray(hdu.data, dtype=np.float64).ravel()
                wave = header_wavelengths(hdu.header, len(flux))
                wave, flux = clean(wave, flux)
                stem = Path(name).name.removesuffix(".gz").removesuffix(".fits")
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
    return {"stars": stars, "ssps": ssps, "qso": qso, "sky": (sky_wave, sky_flux)}


def clean(wave: np.ndarray, flux: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Drop the zero / negative / NaN padding at both ends (STELIB and MaStar have some); interpolate over such
    pixels inside."""
    ok = np.isfinite(flux) & (flux > 0)
    first, last = np.argmax(ok), len(ok) - np.argmax(ok[::-1])
    wave, flux, ok = wave[first:last], flux[first:last], ok[first:last]
    if not ok.all():
        flux = np.interp(wave, wave[ok], flux[ok])
    return wave, flux


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


def make_galaxy(rng: np.random.Generator, ssps: list[dict]) -> tuple[np.ndarray, np.ndarray, dict]:
    """An old population + 0–50 % (at 5,500 Å) of a young one from one library, dust, and (60 %) emission lines
    → rest (wave, flux, info)."""
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
    info = {"templates": [old["name"], young["name"]], "young": round(young_share, 3), "Av": round(av, 3),
            "lines": False}
    if rng.random() < 0.6:
        cont = np.interp(6564.6, wave, flux)
        ha = cont * rng.uniform(3, 120)        # Hα equivalent width 3–120 Å
        hb = ha / rng.uniform(2.86, 5.0)       # Balmer decrement: 2.86 without dust
        o3 = hb * rng.uniform(0.2, 4.0)
        n2 = ha * rng.uniform(0.1, 0.7)
        lines = [(6564.6, ha), (4862.7, hb), (5008.2, o3), (4960.3, o3 / 3), (6585.3, n2), (6549.9, n2 / 3),
                 (3727.4, hb * rng.uniform(0.5, 3.0)), (6718.3, ha * rng.uniform(0.05, 0.2)),
                 (6732.7, ha * rng.uniform(0.05, 0.15))]
        flux = flux + gaussian_lines(wave, lines, rng.uniform(40, 200))
        info["lines"] = True
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


def observe(rng: np.random.Generator, wave: np.ndarray, flux: np.ndarray, z: float, snr: float,
            sky: np.ndarray) -> np.ndarray:
    """A rest-frame spectrum seen at redshift z on the grid, with a calibration error, noise at median S/N ``snr``
    (σ grows where the sky is bright), sky-line residuals and (30 %) a few bad pixels. Flux is scaled so the
    median is about 1 (surveys' fluxes are arbitrary here: the network scales every spectrum anyway)."""
    obs = fill_edges(rebin(wave * (1 + z), flux))
    obs = obs / max(np.median(np.abs(obs)), 1e-12) * calibration_curve(rng)
    sigma = (1.0 / snr) * np.sqrt(0.6 + 0.4 * sky)
    obs = obs + rng.normal(0, 1, N_POINTS) * sigma + sky * rng.normal(0, 0.02) * (sky > 2)
    if rng.random() < 0.3:
        bad = rng.integers(0, N_POINTS, rng.integers(1, 6))
        obs[bad] = rng.choice([0.0, obs.max() * rng.uniform(2, 10)])
    return obs.astype(np.float32)


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


def generate(part: dict, qso: list[dict], sky: np.ndarray, n: int, seed: int, desc: str = "spectra"):
    """n spectra of one split → (flux (n, N_POINTS) float32, labels (n,) int64, meta: list of dicts). Classes are
    drawn with SHARES; an unknown is made from a spectrum of any of the other classes."""
    rng = np.random.default_rng(seed)
    labels = rng.choice(len(CLASSES), size=n, p=[SHARES[c] for c in CLASSES])
    X = np.empty((n, N_POINTS), dtype=np.float32)
    meta = []
    for i, label in enumerate(tqdm(labels, desc=desc, unit=" spectra", leave=False)):
        base = CLASSES[label] if CLASSES[label] != "unknown" else rng.choice(CLASSES[:3], p=[0.6, 0.2, 0.2])
        if base == "star":
            star = part["stars"][rng.integers(len(part["stars"]))]
            wave, flux, z = star["wave"], star["flux"], rng.uniform(-0.001, 0.001)   # ±300 km/s
            info = {"templates": [star["name"]], "type": star.get("type", "")}
        elif base == "galaxy":
            (wave, flux, info), z = make_galaxy(rng, part["ssps"]), rng.uniform(0.005, 0.3)
        else:
            (wave, flux, info), z = make_qso(rng, qso, part["qso_blue"], part["qso_red"]), rng.uniform(0.6, 2.6)
        snr = float(np.exp(rng.uniform(np.log(3), np.log(60))))
        X[i] = observe(rng, wave, flux, z, snr, sky)
        info = info | {"base": base, "z": round(float(z), 4), "snr": round(snr, 2)}
        if CLASSES[label] == "unknown":
            X[i], info["unknown"] = make_unknown(rng, X[i], sky)
        meta.append(info)
    return X, labels.astype(np.int64), meta


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
    folder = cache / "spectra"
    paths = {s: folder / f"{s}.npz" for s in SPLITS} | {"counts": folder / "counts.json"}
    if all(p.exists() for p in paths.values()):
        return paths
    parts, qso, sky = load_parts(cache, seed)
    counts = {"stars left out (a MILES star and no full-range star in its split to continue it)":
              sum(p["left_out"] for p in parts.values())}
    for split, part in parts.items():
        counts[f"{split} templates: stars"] = len(part["stars"])
        counts[f"{split} templates: stars continued above 7,350 Å (MILES, short STELIB)"] = sum("spliced_with" in s
                                                                                  for s in part["stars"])
        counts[f"{split} templates: stellar populations"] = len(part["ssps"])
        counts[f"{split} templates: QSO fits 1,200–3,100 Å"] = len(part["qso_blue"])
        counts[f"{split} templates: QSO fits 2,200–5,100 Å"] = len(part["qso_red"])
    for split, n, offset in (("train", n_train, 0), ("valid", n_valid, 1), ("test", n_test, 2)):
        X, y, meta = generate(parts[split], qso, sky, n, seed=seed * 1000 + offset, desc=split)
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
