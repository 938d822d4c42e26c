"""Train the couplet CNN (models/couplet.py) on real couplets + the middle couplets of regulated verse.

    python -m training.couplet --source ../shared/datasets/couplets   # data (training/couplet_data.py) + ~70 min
    python -m training.couplet --epochs 2 --limit 20000 --out /tmp/couplet   # a quick smoke run
    python -m training.couplet --resume            # continue the run saved in the cache after every epoch

Seeded; batches hold lines of one length (no padding); real couplets repeated ``--real-weight`` times per epoch
(the verse pairs outnumber them and the main test set is real couplets); Adam 1e-3; early stopping on the
validation loss of the real validation pairs. Punctuation is part of the lines (the decoder copies it).
Writes data/couplet/ through models.couplet.save (model.safetensors in fp16, config.json, vocab.txt, MODEL_CARD.md)
and beside them history.json and loss_curve.png.
"""
from __future__ import annotations

import argparse
import json
import math
import platform
import random
import time
from collections import defaultdict
from pathlib import Path

import torch
import torch.nn.functional as F
from tqdm import tqdm

from models import couplet
from models.couplet import CoupletConfig, CoupletNet, decode_greedy, lower_line_metrics
from models.vocab import Vocab
from training import REPO, cache_dir, load_run, save_run
from training.couplet_data import REAL_SPLITS, prepare, read_rows

OUT = REPO / "data" / "couplet"
DEFAULT_EPOCHS = 6
RUN = "couplet-run"  # the resumable run's folder in the cache


def read_splits(source: Path | None = None) -> tuple[dict[str, list[tuple[str, str, str]]], dict]:
    """{split: [(source, upper, lower)]} and the data-preparation counts (training/couplet_data.py)."""
    paths = prepare(source)
    return {s: read_rows(paths[s]) for s in REAL_SPLITS}, json.loads(paths["counts"].read_text(encoding="utf-8"))


def train_vocab(train_rows) -> Vocab:
    """Characters (and marks) seen at least twice in the training pairs: the tagger's and the LM's vocabulary."""
    return Vocab.from_texts(a + b for _, a, b in train_rows)


def repeat_real(train_rows, weight: int) -> list[tuple[str, str]]:
    """(upper, lower) pairs with the real couplets (every source but verse) repeated ``weight`` times."""
    return [(a, b) for s, a, b in train_rows for _ in range(1 if s == "verse" else weight)]


def real_pairs(rows) -> list[tuple[str, str]]:
    """(upper, lower) of the real couplets among ``rows`` (all of them when there are none, as in a smoke run)."""
    return [(a, b) for s, a, b in rows if s != "verse"] or [(a, b) for _, a, b in rows]


def data_card_rows(counts: dict) -> str:
    """The data card's table rows: what every split holds, by source."""
    return "\n".join(f"| {k} | {v:,} |" for k, v in counts.items() if k.startswith(("kept", "dropped", "train:")))


def batches(pairs, vocab: Vocab, batch_size: int, rng: random.Random | None):
    """Batches of (upper ids, lower ids), every batch one line length; shuffled when ``rng`` is given."""
    by_len = defaultdict(list)
    for a, b in pairs:
        by_len[len(a)].append((vocab.encode(a), vocab.encode(b)))
    out = []
    for group in by_len.values():
        if rng:
            rng.shuffle(group)
        for i in range(0, len(group), batch_size):
            chunk = group[i:i + batch_size]
            out.append((torch.tensor([x for x, _ in chunk]), torch.tensor([y for _, y in chunk])))
    if rng:
        rng.shuffle(out)
    return out


def evaluate(model, data, device) -> float:
    """Mean per-character cross-entropy (nats)."""
    model.eval()
    total = n = 0
    with torch.no_grad():
        for x, y in data:
            logits = model(x.to(device))
            total += F.cross_entropy(logits.flatten(0, 1), y.to(device).flatten(), reduction="sum").item()
            n += y.numel()
    return total / n


def fit(model: CoupletNet, train, valid, vocab: Vocab, args) -> tuple[dict, float, float]:
    """Adam with early stopping on the validation loss → (history, best validation loss, seconds); the model ends
    holding its best state. The run is saved in the cache after every epoch (``--resume`` continues it)."""
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    valid_batches = batches(valid, vocab, 512, None)
    run = cache_dir() / RUN
    state = {"epoch": 0, "step": 0, "bad": 0, "best": math.inf, "seconds": 0.0, "history": {"train": [], "valid": []}}
    best_state = None
    if args.resume and (run / "state.json").exists():
        state, best_state = load_run(run, model, opt)
        print(f"resumed after epoch {state['epoch']}")
    history, best, bad, step = state["history"], state["best"], state["bad"], state["step"]
    t0 = time.perf_counter() - state["seconds"]
    for epoch in range(state["epoch"] + 1, args.epochs + 1):
        if bad >= args.patience:
            break
        model.train()
        running = None
        rng = random.Random(args.seed * 1000 + epoch)
        bar = tqdm(batches(train, vocab, args.batch_size, rng), desc=f"epoch {epoch}", unit=" batches")
        for x, y in bar:
            logits = model(x.to(args.device))
            loss = F.cross_entropy(logits.flatten(0, 1), y.to(args.device).flatten())
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            step += 1
            running = loss.item() if running is None else 0.98 * running + 0.02 * loss.item()
            if step % 50 == 0:
                history["train"].append({"step": step, "loss": running})
                bar.set_postfix(loss=f"{running:.3f}")
        v = evaluate(model, valid_batches, args.device)
        history["valid"].append({"step": step, "loss": v, "epoch": epoch})
        print(f"epoch {epoch}: validation loss {v:.4f} ({time.perf_counter() - t0:.0f} s)")
        if v < best - 1e-4:
            best, bad = v, 0
            best_state = {k: t.detach().cpu().clone() for k, t in model.state_dict().items()}
        else:
            bad += 1
            if bad >= args.patience:
                print(f"early stop: no improvement for {bad} epochs")
        save_run(run, model, opt, {"epoch": epoch, "step": step, "bad": bad, "best": best, "history": history,
                                   "seconds": time.perf_counter() - t0}, best_state)
    model.load_state_dict(best_state)
    return history, best, time.perf_counter() - t0


def test_metrics(model, vocab: Vocab, test, device) -> dict:
    """Test cross-entropy and the lower-line metrics of Su's greedy rule (models.couplet.lower_line_metrics)."""
    uppers, refs = [a for a, _ in test], [b for _, b in test]
    hyps = decode_greedy(model, vocab, uppers, device)
    return {"loss": evaluate(model, batches(test, vocab, 512, None), device)} | lower_line_metrics(uppers, hyps, refs)


def loss_plot(history, path: Path, title: str = "Couplet CNN training") -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.2), dpi=100)
    ax.plot([h["step"] for h in history["train"]], [h["loss"] for h in history["train"]], lw=0.8,
            label="train (running mean)")
    ax.plot([h["step"] for h in history["valid"]], [h["loss"] for h in history["valid"]], "o-",
            label="validation (real couplets)")
    ax.set_xlabel("step")
    ax.set_ylabel("cross-entropy (nats / char)")
    ax.set_title(title)
    ax.legend(frameon=False)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def card(cfg: CoupletConfig, vocab: Vocab, n_params: int, counts: dict, history: dict, best: float,
         tests: dict[str, tuple[int, dict]], minutes: float, args) -> str:
    size = n_params * 2 / 2**20  # fp16
    command = "python -m training.couplet" + (f" --limit {args.limit}" if args.limit else "") + \
        (f" --epochs {args.epochs}" if args.epochs != DEFAULT_EPOCHS else "")
    results = "\n".join(f"| {name} | {n:,} | {m['loss']:.4f} | {m['bleu2']:.3f} | {m['accuracy']:.3f} | "
                        f"{m['opposed']:.3f} | {m['mirrored']:.3f} |" for name, (n, m) in tests.items())
    return f"""# Model card: couplet CNN (对联机器人)

- **Model**: models/couplet.py — Su's sequence-labelling CNN (kexue.fm/archives/6270): embedding {cfg.dim},
  dropout {cfg.dropout}, {cfg.n_blocks} gated residual conv blocks (kernel {cfg.kernel}), per-position softmax over
  {len(vocab):,} characters and marks (train characters seen ≥ 2 times, + `<pad>`, `<unk>`); {n_params / 1e6:.2f}M
  parameters, stored fp16 ({size:.1f} MB).
- **Data** (`python -m training.couplet_data --source DIR`, DIR a copy of the project's shared/datasets/couplets):
  real couplets — Spring Festival couplets and 中国对联(大全)/中国对联网, hand-collected couplets, the primers
  笠翁对韵 / 声律启蒙 / 训蒙骈句, parallel line pairs of 全唐诗 (all from GitHub ZiJianZhao/Couplet-Machine) and
  the 1,000-pair head of wb14123's train split; **no licence is stated for them upstream: research and demo use;
  they are not in this repository**. Plus the middle couplets (lines 3–4, 5–6) of Tang and Song regulated verse
  and 声律启蒙 from npm `chinese-poetry` 2.0.1 (MIT), split by poem. Main test set: the wb14123 test split (the
  standard test of couplet systems; its upper lines claimed first, so none is in training); second: the verse test
  split. Real couplets repeated {args.real_weight}× per epoch. The famous couplets of `data/real_input/couplets.tsv`
  are kept out of every split.

| step | count |
|---|---|
{data_card_rows(counts)}

- **Training**: Adam {args.lr}, batch {args.batch_size} lines of one length, seed {args.seed}, early stopping on the
  loss of the real validation pairs (patience {args.patience}); {len(history['valid'])} epochs, best validation loss
  {best:.4f} nats/char; {minutes:.1f} min on {args.device} ({platform.processor() or platform.machine()}, torch
  {torch.__version__}, {torch.get_num_threads()} threads).
- **Test sets**, Su's greedy rule (per-position argmax, punctuation copied; classical tones from the 平水韵 table):

| test set | pairs | cross-entropy | char BLEU-2 | char accuracy | tones opposed | repeats mirrored |
|---|---|---|---|---|---|---|
{results}

  The re-ranked decoder (tagger + couplet LM), the baseline and the famous-couplet sheet are in
  `python -m bench.bench_couplet`.
- **Rebuild**: `{command}`.

![loss curve](loss_curve.png)
"""


def parse_args(argv=None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--source", type=Path, help="a copy of shared/datasets/couplets (when the splits are not cached)")
    ap.add_argument("--epochs", type=int, default=DEFAULT_EPOCHS)
    ap.add_argument("--patience", type=int, default=2, help="epochs without validation improvement before stopping")
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--dim", type=int, default=CoupletConfig.dim)
    return add_run_args(ap, OUT).parse_args(argv)


def add_run_args(ap: argparse.ArgumentParser, out: Path) -> argparse.ArgumentParser:
    """The options the tagger's and the LM's training commands share."""
    ap.add_argument("--real-weight", type=int, default=2, help="passes over the real couplets per pass over verse")
    ap.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--limit", type=int, default=0, help="use only this many training pairs (smoke runs)")
    ap.add_argument("--resume", action="store_true", help="continue the run saved in the cache")
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--out", type=Path, default=out)
    return ap


def main(argv=None):
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    splits, counts = read_splits(args.source)
    train = splits["train"]
    if args.limit:
        train = random.Random(args.seed).sample(train, args.limit)
    vocab = train_vocab(train)
    valid = real_pairs(splits["valid"])
    cfg = CoupletConfig(vocab_size=len(vocab), dim=args.dim)
    model = CoupletNet(cfg).to(args.device)
    n_params = sum(p.numel() for p in model.parameters())
    pairs = repeat_real(train, args.real_weight)
    print(f"{len(train):,} train pairs ({len(pairs):,} with real ×{args.real_weight}) / {len(valid):,} real valid; "
          f"vocab {len(vocab):,}; {n_params / 1e6:.2f}M parameters on {args.device}")
    history, best, seconds = fit(model, pairs, valid, vocab, args)
    tests = {name: [(a, b) for _, a, b in splits[split]]
             for name, split in (("wb14123 test", "test"), ("verse test", "test_verse"))}
    results = {name: (len(rows), test_metrics(model, vocab, rows, args.device)) for name, rows in tests.items()}
    text = card(cfg, vocab, n_params, counts, history, best, results, seconds / 60, args)
    couplet.save((model.cpu(), vocab), args.out, text)
    (args.out / "couplet.safetensors").unlink(missing_ok=True)  # the weights' name before the common layout
    loss_plot(history, args.out / "loss_curve.png")
    (args.out / "history.json").write_text(json.dumps(history), encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
