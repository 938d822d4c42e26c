"""Train the couplet language model (models/couplet_lm.py) on real couplets + regulated-verse pairs.

    python -m training.couplet_lm --source ../shared/datasets/couplets     # ~90 min on 2 CPU cores
    python -m training.couplet_lm --steps 40 --limit 2000 --out /tmp/couplet_lm   # a quick smoke run
    python -m training.couplet_lm --resume          # continue the run saved in the cache (every ~10 minutes)

Sequences ``<eos> 上联 <sep> 下联 <eos>``, batches of one length (no padding) holding ~``--batch-tokens`` tokens;
real couplets repeated ``--real-weight`` times per pass (the verse pairs outnumber them 2.6 : 1 and the main test
set is real couplets); AdamW with warm-up and cosine decay over ``--steps``; the validation loss of the *lower*
lines of the real validation pairs (what the decoder uses) every ``--eval-every`` steps, the best weights kept.
The vocabulary is the tagger's (training/couplet.py builds both from the same pairs) + <sep>, <eos>.
Writes data/couplet_lm/ through models.couplet_lm.save, with history.json and loss_curve.png.
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

from models import couplet_lm
from models.couplet_lm import CoupletLM, CoupletLMConfig, encode_pair, lm_vocab
from training import REPO, cache_dir, load_run, save_run, warmup_cosine
from training.couplet import (add_run_args, data_card_rows, loss_plot, read_splits, real_pairs, repeat_real,
                              train_vocab)

OUT = REPO / "data" / "couplet_lm"
RUN = "couplet-lm-run"  # the resumable run's folder in the cache
DEFAULT_STEPS = 10000


def token_batches(pairs, vocab, batch_tokens: int, rng: random.Random | None):
    """Tensors (B, 2L + 3) of encoded pairs, one line length L per batch, ~batch_tokens tokens each."""
    by_len = defaultdict(list)
    for a, b in pairs:
        by_len[len(a)].append(encode_pair(vocab, a, b))
    out = []
    for group in by_len.values():
        if rng:
            rng.shuffle(group)
        size = max(1, batch_tokens // len(group[0]))
        out += [torch.tensor(group[i:i + size]) for i in range(0, len(group), size)]
    if rng:
        rng.shuffle(out)
    return out


def lower_loss(model, batches) -> float:
    """Mean cross-entropy (nats) of the lower-line characters and the closing <eos>, given the upper line."""
    model.eval()
    total = n = 0
    with torch.no_grad():
        for ids in batches:
            start = (ids.shape[1] - 3) // 2 + 1  # index of <sep>: it predicts the first lower character
            logits = model(ids[:, :-1])[:, start:]
            total += F.cross_entropy(logits.flatten(0, 1), ids[:, start + 1:].flatten(), reduction="sum").item()
            n += ids[:, start + 1:].numel()
    model.train()
    return total / n


def lr_at(step: int, args) -> float:
    warm = max(1, args.steps // 50)
    return warmup_cosine(step, (step - warm) / (args.steps - warm), args.lr, warm)


def parse_args(argv=None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--source", type=Path, help="a copy of shared/datasets/couplets (when the splits are not cached)")
    ap.add_argument("--steps", type=int, default=DEFAULT_STEPS)
    ap.add_argument("--batch-tokens", type=int, default=3072)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--dim", type=int, default=CoupletLMConfig.dim)
    ap.add_argument("--layers", type=int, default=CoupletLMConfig.n_layers)
    ap.add_argument("--no-columns", dest="columns", action="store_false",
                    help="leave out the column embedding (the place within the line, shared by both lines)")
    ap.add_argument("--eval-every", type=int, default=250)
    ap.add_argument("--save-minutes", type=float, default=10.0)
    return add_run_args(ap, OUT).parse_args(argv)


def card(cfg, vocab, n_params, counts, state, minutes, args) -> str:
    command = "python -m training.couplet_lm" + (f" --steps {args.steps}" if args.steps != DEFAULT_STEPS else "") + \
        (f" --dim {args.dim}" if args.dim != CoupletLMConfig.dim else "") + \
        (f" --layers {args.layers}" if args.layers != CoupletLMConfig.n_layers else "") + \
        ("" if args.columns else " --no-columns") + (f" --limit {args.limit}" if args.limit else "")
    best = min(state["history"]["valid"], key=lambda h: h["loss"])
    columns = (", plus a column embedding (the place within the line, the same\n  for the upper and the lower line)"
               if cfg.columns else "")
    return f"""# Model card: couplet language model (对联语言模型)

- **Model**: models/couplet_lm.py — a small GPT over characters of whole couplets, `<eos> 上联 <sep> 下联 <eos>`:
  {cfg.n_layers} blocks, width {cfg.dim}, {cfg.n_heads} heads, positions up to {cfg.max_len}{columns}, input and output
  embeddings tied;
  {len(vocab):,} tokens (the tagger's characters + `<sep>`, `<eos>`); {n_params / 1e6:.2f}M parameters, stored fp16.
  The couplet tab adds its log-probability of a lower line (given the upper line) to the tagger's when it re-ranks.
- **Data**: the couplet tagger's training pairs (its card, `data/couplet/MODEL_CARD.md`, has every count): real couplets
  (Spring Festival and collected couplets, classical primers, Tang parallel lines, wb14123's train sample — no
  licence stated upstream: research and demo use, **not in this repository**) and the middle couplets of regulated
  verse (npm `chinese-poetry`, MIT); real couplets repeated {args.real_weight}× per pass. Test sets: none trained on.

| step | count |
|---|---|
{data_card_rows(counts)}

- **Training**: AdamW {args.lr} (warm-up, cosine to 10 %), ~{args.batch_tokens:,} tokens per batch of one line length,
  seed {args.seed}; {state['step']:,} steps; best validation loss of the lower lines of the real validation pairs
  {best['loss']:.4f} nats/char at step {best['step']:,} (kept); {minutes:.1f} min on {args.device}
  ({platform.processor() or platform.machine()}, torch {torch.__version__}).
- **Rebuild**: `{command}` (after `python -m training.couplet`, whose vocabulary it shares).

![loss curve](loss_curve.png)
"""


def main(argv=None):
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    rng = random.Random(args.seed)
    splits, counts = read_splits(args.source)
    train = splits["train"]
    if args.limit:
        train = rng.sample(train, args.limit)
    vocab = lm_vocab(train_vocab(train))
    real_valid = real_pairs(splits["valid"])
    train_pairs = repeat_real(train, args.real_weight)
    cfg = CoupletLMConfig(vocab_size=len(vocab), dim=args.dim, n_layers=args.layers, columns=args.columns)
    model = CoupletLM(cfg).to(args.device)
    n_params = sum(p.numel() for p in model.parameters())
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.01, betas=(0.9, 0.98))
    run = cache_dir() / (RUN if args.out.resolve() == OUT.resolve() else f"{RUN}-{args.out.resolve().name}")
    state = {"step": 0, "seconds": 0.0, "epoch": 0, "history": {"train": [], "valid": []}, "best": math.inf}
    if args.resume and (run / "state.json").exists():
        state, extra = load_run(run, model, opt)
        best_state = extra or None
        print(f"resumed at step {state['step']}")
    else:
        best_state = None
    valid_batches = token_batches(real_valid, vocab, 8192, None)
    print(f"{len(train):,} train pairs ({len(train_pairs):,} with real ×{args.real_weight}); "
          f"{len(real_valid):,} real valid; vocab {len(vocab):,}; {n_params / 1e6:.2f}M parameters on {args.device}")
    t0, last_save = time.perf_counter() - state["seconds"], time.perf_counter()
    running = None
    bar = tqdm(total=args.steps, initial=state["step"], unit=" steps")
    model.train()
    while state["step"] < args.steps:
        epoch_rng = random.Random(args.seed * 1000 + state["epoch"])
        batches = token_batches(train_pairs, vocab, args.batch_tokens, epoch_rng)
        skip = state.get("in_epoch", 0)  # a resumed run continues inside its epoch
        for i, ids in enumerate(batches):
            if i < skip:
                continue
            if state["step"] >= args.steps:
                break
            for g in opt.param_groups:
                g["lr"] = lr_at(state["step"], args)
            ids = ids.to(args.device)
            logits = model(ids[:, :-1])
            loss = F.cross_entropy(logits.flatten(0, 1), ids[:, 1:].flatten())
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            state["step"] += 1
            state["in_epoch"] = i + 1
            running = loss.item() if running is None else 0.98 * running + 0.02 * loss.item()
            bar.update(1)
            if state["step"] % 25 == 0:
                state["history"]["train"].append({"step": state["step"], "loss": running})
                bar.set_postfix(loss=f"{running:.3f}")
            if state["step"] % args.eval_every == 0 or state["step"] == args.steps:
                v = lower_loss(model, valid_batches)
                state["history"]["valid"].append({"step": state["step"], "loss": v})
                print(f"\nstep {state['step']}: validation loss (real lower lines) {v:.4f}", flush=True)
                if v < state["best"]:
                    state["best"] = v
                    best_state = {k: t.detach().cpu().clone() for k, t in model.state_dict().items()
                                  if k != "head.weight"}
            if time.perf_counter() - last_save > args.save_minutes * 60:
                state["seconds"] = time.perf_counter() - t0
                save_run(run, model, opt, state, best_state)
                last_save = time.perf_counter()
        else:
            state["epoch"] += 1
            state["in_epoch"] = 0
    bar.close()
    state["seconds"] = time.perf_counter() - t0
    save_run(run, model, opt, state, best_state)
    model.load_state_dict(best_state, strict=False)
    text = card(cfg, vocab, n_params, counts, state, state["seconds"] / 60, args)
    couplet_lm.save((model.cpu().eval(), vocab), args.out, text)
    loss_plot(state["history"], args.out / "loss_curve.png", "Couplet LM training")
    (args.out / "history.json").write_text(json.dumps(state["history"]), encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
