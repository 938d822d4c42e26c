"""Train Su's Conv1D spectrum classifier (models/spectrum.py) on the template-based spectra (training/spectra_data.py).

    python -m training.spectrum                    # the shipped checkpoint (settings below)
    python -m training.spectrum --epochs 2 --finetune-epochs 1 --out /tmp/spectrum   # a quick run
    python -m training.spectrum --resume           # go on from the last finished epoch of a cut run

Su's two stages: (1) cross-entropy, Adam 1e-3, batches of 160 drawn class-stratified (star 80 %, unknown 10 %,
galaxy 5 %, QSO 5 % of every batch); (2) from the best stage-1 model, the soft macro-F1 loss with Adam 1e-4. After
every epoch the validation macro-F1 decides which weights are kept. Seeded. Writes data/spectrum/ through
models.spectrum.save (model.safetensors in fp16, config.json, MODEL_CARD.md; the stage-1 model, for the benchmark,
in stage1/) and beside them examples/ (two test spectra per class as CSV), history.json and the training curves.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from models import spectrum
from models.spectrum import (CLASSES, GRID, SUBCLASSES, SpectrumConfig, SpectrumNet, expected_calibration_error,
                             fit_outlier_score, fit_temperature, macro_f1, macro_f1_loss, predict_all, scale)
from training import REPO, cache_dir, load_run, save_run
from training.spectra_data import SHARES, TRAIN_SHARES, load_parts, prepare, read_split, redshift_templates

OUT = REPO / "data" / "spectrum"
RUN = "spectrum-run"   # in the cache: each stage's last epoch, for --resume
BATCH = 160


def stratified_batches(labels: np.ndarray, n_batches: int, rng: np.random.Generator, size: int = BATCH):
    """Index batches with a fixed number of each class (``TRAIN_SHARES`` of ``size``, the training split's own
    mix), each class cycled in a fresh shuffled order."""
    per_class = {c: max(1, round(size * TRAIN_SHARES[name])) for c, name in enumerate(CLASSES)}
    pools = {c: np.flatnonzero(labels == c) for c in per_class}
    orders = {c: rng.permutation(pools[c]) for c in per_class}
    at = dict.fromkeys(per_class, 0)
    for _ in range(n_batches):
        batch = []
        for c, k in per_class.items():
            if at[c] + k > len(orders[c]):
                orders[c], at[c] = rng.permutation(pools[c]), 0
            batch.append(orders[c][at[c]:at[c] + k])
            at[c] += k
        yield rng.permutation(np.concatenate(batch))


SUBCLASS_WEIGHT = 0.5   # the subclass head's share of the loss (the class is what the post is about)


def evaluate(model, X, y, sub=None) -> dict:
    """Macro-F1, per-class F1, accuracy and expected calibration error (probabilities calibrated for the survey's
    mix); with ``sub`` (a star's subclass, −1 where unknown) the head's exact and within-one-class agreement on
    stars called star."""
    out = predict_all(model, X)
    pred = out["probs"].argmax(-1)
    f1, per_class = macro_f1(pred, y)
    result = {"macro_f1": f1, **{f"f1_{c}": v for c, v in zip(CLASSES, per_class)},
              "accuracy": (pred == y).float().mean().item(),
              "ece": expected_calibration_error(out["probs"].numpy(), y.numpy())}
    if sub is not None and out["subclass"] is not None:
        known = (sub >= 0) & (y == 0)
        guess = out["subclass"].argmax(-1)
        result["subclass_exact"] = (guess[known] == sub[known]).float().mean().item()
        result["subclass_within_one"] = ((guess[known] - sub[known]).abs() <= 1).float().mean().item()
    return result


def subclass_labels(meta: list[dict], y: np.ndarray) -> torch.Tensor:
    """A star's subclass index where the spectrum is labelled star and its template has a type, else −1."""
    return torch.tensor([m.get("subclass", -1) if label == 0 else -1 for m, label in zip(meta, y)])


def run_stage(model, X, y, Xv, yv, epochs: int, lr: float, loss_name: str, seed: int, device: str, desc: str,
              sub=None, sub_v=None, run: Path | None = None, resume: bool = False):
    """One training stage → (best model, history rows). The best validation macro-F1 decides. The subclass head
    (where the model has one) learns beside the class with cross-entropy on the stars whose type is known. After
    every epoch the stage is saved in ``run`` (weights, Adam moments, best weights, history); with ``resume`` it
    goes on from there — each epoch's batches and dropout are seeded by the epoch, so a resumed run is the same run."""
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    class_loss = F.cross_entropy if loss_name == "cross-entropy" else macro_f1_loss

    def loss_fn(xb, idx):
        e = model.embed(xb)
        loss = class_loss(model.out(e), y[idx].to(device))
        if sub is not None and model.cfg.n_subclasses and (sub[idx] >= 0).any():
            loss = loss + SUBCLASS_WEIGHT * F.cross_entropy(model.subclass(e), sub[idx].to(device), ignore_index=-1)
        return loss

    n_batches = len(y) // BATCH
    best, best_state, history, done = -1.0, None, [], 0
    if run is not None and resume and (run / "state.json").exists():
        state, best_state = load_run(run, model, opt)
        best, history, done = state["best"], state["history"], state["epoch"]
        tqdm.write(f"{desc}: resumed after epoch {done}", file=sys.stderr)
    for epoch in range(done + 1, epochs + 1):
        model.train().to(device)
        total = 0.0
        rng = np.random.default_rng([seed, epoch, *desc.encode()])   # the stage's name tells the stages apart
        torch.manual_seed(int(rng.integers(2 ** 62)))                 # dropout
        bar = tqdm(stratified_batches(y.numpy(), n_batches, rng), total=n_batches, desc=f"{desc} epoch {epoch}",
                   unit=" batches", leave=False)
        for n, idx in enumerate(bar, 1):
            idx = torch.from_numpy(idx)
            loss = loss_fn(X[idx].to(device), idx)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total += loss.item()
            bar.set_postfix(loss=f"{total / n:.4f}")
        model.cpu()
        valid = evaluate(model, Xv, yv, sub_v)
        history.append({"stage": desc, "epoch": epoch, "loss": loss_name, "train_loss": total / n_batches,
                        **{f"valid_{k}": v for k, v in valid.items()}})
        tqdm.write(f"{desc} epoch {epoch}: train {loss_name} {total / n_batches:.4f}  valid macro-F1 "
                   f"{valid['macro_f1']:.4f}", file=sys.stderr)
        if valid["macro_f1"] > best:
            best = valid["macro_f1"]
            best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        if run is not None:
            save_run(run, model, opt, {"epoch": epoch, "best": best, "history": history}, best_state)
    model.load_state_dict(best_state)
    return model.eval(), history


def export_examples(X: np.ndarray, y: np.ndarray, meta: list[dict], out: Path, per_class: int = 2) -> list[Path]:
    """The first ``per_class`` test spectra of every class as two-column CSV files (wavelength Å, flux) — the
    tab's examples, in the format users upload; the file name says what they are."""
    import re

    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("*.csv"):
        old.unlink()
    paths = []
    for c, name in enumerate(CLASSES):
        for k, i in enumerate(np.flatnonzero(y == c)[:per_class], 1):
            m = meta[i]
            what = (m.get("type") or "star") if m["base"] == "star" else f"{m['base']}-z{m['z']:.3f}"
            if name == "unknown":
                what = f"{m['unknown']}-{what}"
            stem = re.sub(r"[^A-Za-z0-9.+-]+", "_", f"{name}_{k}_{what}_snr{m['snr']:.0f}")
            path = out / f"{stem}.csv"
            rows = "".join(f"{w:.2f},{f:.5g}\n" for w, f in zip(GRID, X[i]))
            path.write_text("wavelength,flux\n" + rows, encoding="utf-8")
            paths.append(path)
    return paths


def plot_history(history: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 3.6), dpi=100)
    x = np.arange(1, len(history) + 1)
    for stage, colour in (("stage 1", "tab:blue"), ("stage 2", "tab:orange")):
        rows = [(i, h) for i, h in zip(x, history) if h["stage"] == stage]
        if rows:
            a.plot([i for i, _ in rows], [h["train_loss"] for _, h in rows], "o-", color=colour,
                   label=f"{stage}: {rows[0][1]['loss']}")
            b.plot([i for i, _ in rows], [h["valid_macro_f1"] for _, h in rows], "o-", color=colour, label=stage)
    a.set(xlabel="epoch", ylabel="training loss", title="loss (each stage its own)")
    b.set(xlabel="epoch", ylabel="validation macro-F1", title="validation macro-F1")
    a.legend(fontsize=8)
    b.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def parse_args(argv=None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--epochs", type=int, default=10, help="stage 1 (cross-entropy) epochs")
    ap.add_argument("--finetune-epochs", type=int, default=4, help="stage 2 (macro-F1 loss) epochs")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--out", type=Path, default=OUT)
    ap.add_argument("--resume", action="store_true", help="go on from the run saved in the cache after every epoch")
    return ap.parse_args(argv)


def as_shipped(model: SpectrumNet) -> SpectrumNet:
    """A copy with fp16-rounded weights: the model as :func:`models.spectrum.load` will read it."""
    copy = SpectrumNet(dataclasses.replace(model.cfg))   # its own config: calibration sets values in it
    copy.load_state_dict({k: v.half().float() for k, v in model.state_dict().items()})
    return copy.eval()


def card(cfg: SpectrumConfig, n_params: int, counts: dict, history: list, stage1: dict, stage2: dict, n_test: int,
         minutes: float, args, flags: str, calibration: dict) -> str:
    machine = f"{platform.machine()} CPU" if args.device == "cpu" else torch.cuda.get_device_name()
    rows = "\n".join(f"| {name} | {r['test']['macro_f1']:.4f} | "
                     + " | ".join(f"{r['test'][f'f1_{c}']:.4f}" for c in CLASSES)
                     + f" | {r['test']['ece']:.4f} | {r['test'].get('subclass_exact', float('nan')):.3f} / "
                       f"{r['test'].get('subclass_within_one', float('nan')):.3f} | {r['valid']['macro_f1']:.4f} |"
                     for name, r in (("after stage 1 (cross-entropy)", stage1), ("after stage 2 (macro-F1 loss)", stage2)))
    shares = ", ".join(f"{c} {TRAIN_SHARES[c]:.0%}" for c in CLASSES)
    survey = ", ".join(f"{c} {SHARES[c]:.0%}" for c in CLASSES)
    epochs = "\n".join(f"| {h['stage']} | {h['epoch']} | {h['loss']} | {h['train_loss']:.4f} | "
                       f"{h['valid_macro_f1']:.4f} |" for h in history)
    data = "\n".join(f"| {k} | {v:,} |" for k, v in counts.items())
    return f"""# Model card: Conv1D spectrum classifier

- **Model**: models/spectrum.py, Su's network (kexue.fm/archives/5505): 8 blocks of three dilated convolutions
  (rates {list(cfg.dilations)}) whose 2f channels' halves are added, residuals, widths {list(cfg.widths)}, max pool
  after the first seven, channel dropout {cfg.dropout}, global max pool, dense {cfg.hidden}, {cfg.n_classes} classes;
  beyond the post, a second head on the same {cfg.hidden} features: a star's spectral class ({", ".join(SUBCLASSES)};
  trained on the stars whose MILES type is known, loss weight {SUBCLASS_WEIGHT});
  {n_params / 1e6:.2f}M parameters, weights stored in fp16. Input: {cfg.n_points} flux
  values on the grid of training/spectra_data.py, divided by the spectrum's median absolute flux.
- **Calibration** (on the validation split, a survey's mix: {survey}): the training split and batches over-sample
  the rare classes ({shares}), so the logits are shifted by log(survey prior / training prior); then a temperature
  T = {calibration['temperature']:.3f} (validation NLL; ECE {calibration['valid_ece_before']:.4f} → {calibration['valid_ece_after']:.4f}; test ECE in the table,
  reliability plot `reliability.png`). **Outliers**: the Mahalanobis distance of the features to the nearest
  class mean (8,000 training spectra, shared covariance); above {calibration['outlier_threshold']:.1f} (99.5 % of validation
  spectra fall below) the tab says "unknown".
- **Redshift**: `templates.npz` — galaxy and QSO bases (mean + 4 principal components of 600 rest-frame spectra
  each, made from the *training* templates) and {len(SUBCLASSES)}×≤8 MILES stars; models.spectrum.template_fit fits every
  trial redshift by least squares (+ 3 Legendre terms); QSOs are searched with the mean spectrum alone and refined
  with the first component (the others fit wrong redshifts too well: models.spectrum.fit_class).
- **Data**: *template-based spectra, not LAMOST observations* — real templates from PyPI `sdss-mangadap` 4.5.0
  (MILES, STELIB, MaStar stars; BC03 and MIUSCAT stellar populations) and `pypeit` 2.0.1 (QSO PCA, Paranal sky),
  redshifted, resampled and degraded as described in training/spectra_data.py; templates split 80/10/10 (none in
  two splits) (`python -m training.spectra_data`):

| step | count |
|---|---|
{data}

- **Training**: stage 1 cross-entropy, Adam 1e-3, {args.epochs} epochs; stage 2 soft macro-F1 loss from the best
  stage-1 model, Adam 1e-4, {args.finetune_epochs} epochs; batches of {BATCH} drawn class-stratified; the best
  validation macro-F1 of each stage is kept; seed {args.seed}; {minutes:.1f} min on {machine}, torch {torch.__version__}.

| stage | epoch | loss | train loss | valid macro-F1 |
|---|---|---|---|---|
{epochs}

- **Test** ({n_test:,} spectra from templates never seen in training):

| model | test macro-F1 | {' | '.join(f'F1 {c}' for c in CLASSES)} | ECE | subclass exact / within one | valid macro-F1 |
|---|---|{'---|' * len(CLASSES)}---|---|---|
{rows}

  The shipped weights are the stage-2 model (the stage-1 model is in `stage1/`). Baseline and F1 versus S/N:
  `python -m bench.bench_spectrum`.
- **Rebuild**: `python -m training.spectrum{(" " + flags) if flags else ""}`.
"""


@torch.no_grad()
def prior_shifted_logits(model: SpectrumNet, X, batch: int = 500):
    """The logits moved to the survey's class mix, before any temperature (what calibration and its plot start from)."""
    logits = torch.cat([model(X[i:i + batch]) for i in range(0, len(X), batch)])
    return logits + logits.new_tensor(model.cfg.log_prior_shift)


def calibrate(model: SpectrumNet, X, y, Xv, yv, n_fit: int = 8000) -> dict:
    """Set the model's temperature (validation NLL after the prior shift) and its outlier threshold (Mahalanobis
    fitted on ``n_fit`` training spectra, 99.5 % of validation spectra inside) → the values and the validation
    ECE before and after."""
    shifted = prior_shifted_logits(model, Xv)
    before = expected_calibration_error(shifted.softmax(-1).numpy(), yv.numpy())
    model.cfg.temperature = fit_temperature(shifted, yv)
    after = expected_calibration_error((shifted / model.cfg.temperature).softmax(-1).numpy(), yv.numpy())
    pick = torch.from_numpy(np.random.default_rng(0).permutation(len(y))[:n_fit])
    model.cfg.outlier_threshold = fit_outlier_score(model, X[pick], y[pick], Xv)
    return {"temperature": model.cfg.temperature, "valid_ece_before": before, "valid_ece_after": after,
            "outlier_threshold": model.cfg.outlier_threshold}


def plot_reliability(model: SpectrumNet, Xt, yt, path: Path, n_bins: int = 10) -> None:
    """Accuracy against confidence (the top probability) on the test split, before (T = 1) and after the
    temperature: a calibrated model lies on the diagonal."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    shifted = prior_shifted_logits(model, Xt)
    fig = Figure(figsize=(5.2, 4.4), dpi=100)
    ax = fig.subplots()
    ax.plot([0, 1], [0, 1], ":", color="grey", label="perfect")
    for name, t, colour in (("T = 1 (prior-shifted only)", 1.0, "tab:orange"),
                            (f"T = {model.cfg.temperature:.2f} (shipped)", model.cfg.temperature, "tab:blue")):
        probs = (shifted / t).softmax(-1).numpy()
        conf, right = probs.max(-1), probs.argmax(-1) == yt.numpy()
        bins = np.minimum((conf * n_bins).astype(int), n_bins - 1)
        xs = [conf[bins == b].mean() for b in range(n_bins) if (bins == b).sum() >= 5]
        ys = [right[bins == b].mean() for b in range(n_bins) if (bins == b).sum() >= 5]
        ece = expected_calibration_error(probs, yt.numpy())
        ax.plot(xs, ys, "o-", color=colour, label=f"{name}: ECE {ece:.3f}")
    ax.set(xlabel="confidence (top probability)", ylabel="accuracy", xlim=(0.2, 1.01), ylim=(0.2, 1.01),
           title="reliability on the test split")
    ax.legend(fontsize=8, loc="upper left")
    fig.tight_layout()
    fig.savefig(path)


def main(argv=None):
    args = parse_args(argv)
    paths = prepare(seed=args.seed)
    (X, y, meta), (Xv, yv, meta_v), (Xt, yt, meta_t) = (read_split(paths[s]) for s in ("train", "valid", "test"))
    export_examples(Xt, yt, meta_t, args.out / "examples")
    sub, sub_v, sub_t = (subclass_labels(m, labels) for m, labels in ((meta, y), (meta_v, yv), (meta_t, yt)))
    X, Xv, Xt = (scale(torch.from_numpy(a)) for a in (X, Xv, Xt))
    y, yv, yt = (torch.from_numpy(a) for a in (y, yv, yt))
    torch.manual_seed(args.seed)
    shift = tuple(float(np.log(SHARES[c] / TRAIN_SHARES[c])) for c in CLASSES)
    model = SpectrumNet(SpectrumConfig(log_prior_shift=shift))
    run = cache_dir() / RUN
    if not args.resume:
        for old in run.glob("stage*/*"):
            old.unlink()
    t0 = time.perf_counter()
    model, h1 = run_stage(model, X, y, Xv, yv, args.epochs, 1e-3, "cross-entropy", args.seed, args.device,
                          "stage 1", sub, sub_v, run / "stage1", args.resume)
    stage1_model = as_shipped(model)
    model, h2 = run_stage(model, X, y, Xv, yv, args.finetune_epochs, 1e-4, "macro-F1", args.seed, args.device,
                          "stage 2", sub, sub_v, run / "stage2", args.resume)
    minutes = (time.perf_counter() - t0) / 60
    model = as_shipped(model)
    calibration = {name: calibrate(m, X, y, Xv, yv) for name, m in (("stage1", stage1_model), ("stage2", model))}
    stage1, stage2 = ({"valid": evaluate(m, Xv, yv, sub_v), "test": evaluate(m, Xt, yt, sub_t)}
                      for m in (stage1_model, model))

    parts, qso, _ = load_parts(seed=args.seed)
    np.savez_compressed(args.out / "templates.npz", **redshift_templates(parts["train"], qso, seed=args.seed))
    history = h1 + h2
    counts = json.loads(paths["counts"].read_text(encoding="utf-8"))
    flags = " ".join(argv if argv is not None else sys.argv[1:])
    text = card(model.cfg, sum(p.numel() for p in model.parameters()), counts, history, stage1, stage2, len(yt),
                minutes, args, flags, calibration["stage2"])
    spectrum.save(model, args.out, text)
    spectrum.save(stage1_model, args.out / "stage1", "# Stage-1 model (cross-entropy) of the Conv1D spectrum "
                  "classifier\n\nKept for `python -m bench.bench_spectrum`; the shipped model and its card are in the "
                  "folder above.\n")
    for old in ("spectrum.safetensors", "spectrum_stage1.safetensors"):  # the weights' names before the common layout
        (args.out / old).unlink(missing_ok=True)
    (args.out / "history.json").write_text(json.dumps({"history": history, "stage1": stage1, "stage2": stage2,
                                                       "calibration": calibration}, indent=1), encoding="utf-8")
    plot_history(history, args.out / "training_curves.png")
    plot_reliability(model, Xt, yt, args.out / "reliability.png")
    print(text)


if __name__ == "__main__":
    main()
