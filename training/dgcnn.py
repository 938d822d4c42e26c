"""Train the DGCNN reader (models/dgcnn.py) — or its BiLSTM baseline — on CMRC 2018 + DRCD (training/reading_data.py).

    python -m training.dgcnn                                   # the shipped checkpoint (data/dgcnn/)
    python -m training.dgcnn --model bilstm --out data/dgcnn_bilstm   # the benchmark's BiLSTM pointer reader
    python -m training.dgcnn --resume                          # go on from the last finished epoch of a cut run
    python -m training.dgcnn --epochs 1 --questions 200 --valid 50 --test 50 --out /tmp/dgcnn   # a smoke run

Units are characters (seen ≥ 2 times in the training questions and passages) plus, with ``--words N``, the N most
frequent jieba words of the training text (each character also gets its word's embedding). Passages are cut into
the overlapping windows the model reads at inference (``window``, ``stride``); for every question the windows that
hold its answer are trained to mark it (every occurrence) and to say that they hold it, and ``NEGATIVES`` windows
drawn from the rest (other parts of its own paragraph, the distractor paragraphs) to say that they do not. Loss:
focal loss on start and end + binary cross-entropy on the window-level probability; Adam, gradient norm clipped at
1, learning rate × ``LR_DECAY`` per epoch; an exponential moving average of the weights (decay ``EMA``) is kept
beside them. An "epoch" is a seeded sample of ``--questions`` training questions (about ten minutes on 2 CPU
cores); after each, both the raw and the averaged weights are scored on ``--valid`` validation questions and the
run is saved (weights, Adam moments, EMA and best weights, history) for ``--resume``; the best scoring weights
are kept. Then the tab's default λ ("prefer short answers") is chosen, and at that λ the no-answer threshold is
calibrated on the validation questions asked again without the passages that hold the answer and on the
visitor-style validation questions, answerable or not (``calibrate``); the test split is scored with the official
CMRC 2018 rules, with distractors and with the question's own paragraph only (the usual setting of published
results). Writes the checkpoint through models.dgcnn.save (or models.bilstm_reader.save) and history.json beside it.
"""
from __future__ import annotations

import argparse
import json
import platform
import random
import re
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from models import bilstm_reader, dgcnn
from models.dgcnn import DGCNNConfig, Tokenizer, focal_loss, pad, read, scores, segment, windows
from models.vocab import Vocab
from training import REPO, cache_dir, load_run, save_run
from training.reading_data import prepare, read_jsonl

OUT = REPO / "data" / "dgcnn"
CLIP = 1.0        # gradient-norm clipping
LR_DECAY = 0.8    # the learning rate is multiplied by this after every epoch
EMA = 0.999       # decay of the weights' moving average
NEGATIVES = 2     # windows without the answer trained per question
MAX_POSITIVES = 2
SENTENCE_END = "。！？；!?;\n"   # where --cut-answer-sentence cuts
# finer at the low end: averaged readers and short visitor passages put right answers at scores of 0.01
THRESHOLDS = [0.005, 0.01, 0.015] + [round(0.02 * k, 2) for k in range(1, 50)]
LENGTH_PENALTIES = [0.0, 0.05, 0.1, 0.2, 0.3, 0.5]
# questions written the way a visitor asks them, over passages written for it: validation only (never trained on;
# the test set of the same kind is data/real_input/reading.json)
VISITOR_VALID = REPO / "data" / "real_input" / "reading_valid.json"


def targets(window: str, answer: str) -> tuple[list[float], list[float]]:
    """Start and end indicators of every occurrence of ``answer`` in ``window``."""
    start, end = [0.0] * len(window), [0.0] * len(window)
    at = window.find(answer)
    while at >= 0 and answer:
        start[at], end[at + len(answer) - 1] = 1.0, 1.0
        at = window.find(answer, at + 1)
    return start, end


def without_answer_sentence(passage: str, answers: list[str]) -> tuple[str, int] | None:
    """``passage`` with the sentence that holds the first answer cut out → (text, where the sentence was), or None
    when the answer is not there or an answer is still left in the text."""
    at = passage.find(answers[0])
    if at < 0 or not answers[0]:
        return None
    start = max(passage.rfind(c, 0, at) for c in SENTENCE_END) + 1
    ends = [i for i in (passage.find(c, at + len(answers[0])) for c in SENTENCE_END) if i >= 0]
    cut = passage[:start] + passage[min(ends) + 1 if ends else len(passage):]
    return None if not cut.strip() or any(a and a in cut for a in answers) else (cut, start)


def units(row: dict, window: int, stride: int, rng: random.Random, cut_sentence: float = 0.0
          ) -> list[tuple[str, str, int, int, str]]:
    """One question → [(question, passage, window offset, window length, answer or "")]: the windows holding the
    answer, and NEGATIVES more; with probability ``cut_sentence`` also the window of its own paragraph where the
    answer's sentence was, that sentence cut out — an unanswerable question about the very text at hand, which
    distractor paragraphs (other paragraphs, other articles) never are."""
    answer = row["answers"][0]
    pieces = [(p, off, piece) for p in row["passages"] for off, piece in windows(p, window, stride)]
    pos = [x for x in pieces if answer in x[2]]
    neg = [x for x in pieces if not any(a in x[2] for a in row["answers"])]
    pos = rng.sample(pos, min(MAX_POSITIVES, len(pos)))
    neg = rng.sample(neg, min(NEGATIVES, len(neg)))
    out = [(row["question"], p, off, len(piece), a) for a, group in ((answer, pos), ("", neg))
           for p, off, piece in group]
    if cut_sentence and rng.random() < cut_sentence:   # no draw without it: the default runs stay as they were
        own = next((p for p, h in zip(row["passages"], row["has_answer"]) if h and answer in p), None)
        cut = without_answer_sentence(own, row["answers"]) if own else None
        if cut:
            text, at = cut
            off = max(0, min(at - window // 2, len(text) - window))
            out.append((row["question"], text, off, min(window, len(text) - off), ""))
    return out


def batches(rows: list[dict], tok: Tokenizer, cfg, batch_size: int, rng: random.Random, cache: dict,
            cut_sentence: float = 0.0):
    """Batches of windows of similar length → (q, p, q_words, p_words, start, end, has) tensors. As in
    models.dgcnn.read, words are segmented on the whole passage and cut with the window (``cache``: text → ids)."""
    items = [u for r in rows for u in units(r, cfg.window, cfg.stride, rng, cut_sentence)]
    order = sorted(range(len(items)), key=lambda i: (items[i][3], rng.random()))
    chunks = [order[s:s + batch_size] for s in range(0, len(order), batch_size)]
    rng.shuffle(chunks)

    def encoded(text):
        if text not in cache:
            cache[text] = tok.encode(text)
        return cache[text]

    for chunk in chunks:
        part = [items[i] for i in chunk]
        qs = [encoded(q) for q, *_ in part]
        ps = [(c[off:off + n], w[off:off + n] if w else None)
              for (c, w), (_, _, off, n, _) in zip((encoded(p) for _, p, *_ in part), part)]
        q, p = pad([c for c, _ in qs]), pad([c for c, _ in ps])
        qw, pw = (pad([w for _, w in qs]), pad([w for _, w in ps])) if tok.words else (None, None)
        se = [targets(text[off:off + n], a) for _, text, off, n, a in part]
        start, end = pad([s for s, _ in se], 0.0), pad([e for _, e in se], 0.0)
        yield q, p, qw, pw, start, end, torch.tensor([float(bool(a)) for *_, a in part])


def span_nll(logits, target) -> torch.Tensor:
    """−log Σ softmax(logits) over the answer's positions (every occurrence counts), over the rows with an answer."""
    rows = target.sum(-1) > 0
    if not rows.any():
        return logits.sum() * 0.0
    logits, target = logits[rows], target[rows]
    return (torch.logsumexp(logits, -1) - torch.logsumexp(logits.masked_fill(target == 0, -1e4), -1)).mean()


def loss_fn(model, batch) -> torch.Tensor:
    q, p, qw, pw, y_start, y_end, y_has = batch
    if model.cfg.span_softmax:
        start, end, has = model(q, p, qw, pw, logits=True)
        return span_nll(start, y_start) + span_nll(end, y_end) + F.binary_cross_entropy_with_logits(has, y_has)
    start, end, has = model(q, p, qw, pw)
    mask = (p > 0).float()
    return (focal_loss(start, y_start, mask) + focal_loss(end, y_end, mask)
            + F.binary_cross_entropy(has.clamp(1e-7, 1 - 1e-7), y_has))


def predict(model, tok, rows: list[dict], desc: str = "evaluating", own_only: bool = False,
            length_penalty: float = 0.0) -> list[dict]:
    """read() on every row (all its passages, or with ``own_only`` just those that hold the answer)."""
    out = []
    for r in tqdm(rows, desc=desc, unit=" questions", leave=False):
        passages = [p for p, h in zip(r["passages"], r["has_answer"]) if h] if own_only else r["passages"]
        out.append(read(model, tok, r["question"], passages, length_penalty=length_penalty))
    return out


def evaluate(model, tok, rows, desc="evaluating", own_only=False, length_penalty: float = 0.0) -> dict:
    return scores([x["answer"] for x in predict(model, tok, rows, desc, own_only, length_penalty)], rows)["all"]


def calibrate(model, tok, rows: list[dict], visitor: list[dict] = (), length_penalty: float = 0.0
              ) -> tuple[float, list[dict]]:
    """The no-answer threshold. On ``rows`` (CMRC) asked with all their passages (answerable: kept when the best
    score ≥ t) and again with only those that do not hold the answer (unanswerable: refused when < t), the mean of
    kept and refused; with ``visitor`` (visitor-style rows of :func:`written_rows`, each with its own passage, some
    unanswerable) the same mean there too, and the threshold is the best mean of the two sets' — CMRC's distractors
    are other paragraphs of the same article, a visitor's unanswerable question is asked of the very passage it is
    about. Scores are read at ``length_penalty``, the λ the tab reads with → (threshold, table)."""
    answerable = [x["score"] for x in predict(model, tok, rows, "threshold: answerable",
                                              length_penalty=length_penalty)]
    unanswerable = [read(model, tok, r["question"], [p for p, h in zip(r["passages"], r["has_answer"]) if not h],
                         length_penalty=length_penalty)["score"]
                    for r in tqdm(rows, desc="threshold: unanswerable", leave=False) if not all(r["has_answer"])]
    written = [(x["score"], r["has_answer"][0]) for r, x in
               zip(visitor, predict(model, tok, list(visitor), "threshold: visitor", length_penalty=length_penalty))]
    both = {h for _, h in written} == {True, False}   # a visitor file without unanswerable questions: CMRC alone
    table = []
    for t in THRESHOLDS:
        row = {"t": t, "kept": sum(s >= t for s in answerable) / len(answerable),
               "refused": sum(s < t for s in unanswerable) / len(unanswerable)}
        row["mean"] = (row["kept"] + row["refused"]) / 2
        if both:
            row["visitor_kept"] = sum(s >= t for s, h in written if h) / sum(h for _, h in written)
            row["visitor_refused"] = sum(s < t for s, h in written if not h) / sum(not h for _, h in written)
            row["mean"] = (row["mean"] + (row["visitor_kept"] + row["visitor_refused"]) / 2) / 2
        table.append(row)
    best = max(table, key=lambda x: (round(x["mean"], 6), -x["t"]))
    return best["t"], table


def written_rows(path: Path, unanswerable: bool = False) -> list[dict]:
    """A real-input reading file ({"passage", "questions": [{"question", "answers"}], "unanswerable": [question]}
    per passage) → question rows in the training data's layout, each with its own passage only; with
    ``unanswerable`` also the questions the passage does not answer (``has_answer`` [False], no answers)."""
    items = json.loads(Path(path).read_text(encoding="utf-8"))
    rows = [{"question": q["question"], "answers": q["answers"], "passages": [item["passage"]], "has_answer": [True]}
            for item in items for q in item["questions"]]
    return rows + [{"question": q, "answers": [], "passages": [item["passage"]], "has_answer": [False]}
                   for item in items for q in item.get("unanswerable", []) if unanswerable]


def choose_length_penalty(model, tok, cmrc_rows: list[dict], visitor_rows: list[dict]) -> tuple[float, list[dict]]:
    """The tab's default "prefer short answers" λ: the best mean exact match of CMRC validation questions (with their
    distractors) and of the visitor-style validation questions (VISITOR_VALID) — CMRC's annotators keep long
    spans, a visitor asking a fact wants the short one, and the tab serves both → (λ, table)."""
    table = []
    for lam in LENGTH_PENALTIES:
        cmrc = evaluate(model, tok, cmrc_rows, f"λ {lam}: CMRC", length_penalty=lam)
        visitor = evaluate(model, tok, visitor_rows, f"λ {lam}: visitor", length_penalty=lam)
        table.append({"lambda": lam, "cmrc_em": cmrc["em"], "cmrc_f1": cmrc["f1"], "visitor_em": visitor["em"],
                      "visitor_f1": visitor["f1"], "mean_em": (cmrc["em"] + visitor["em"]) / 2})
    best = max(table, key=lambda x: (round(x["mean_em"], 6), -x["lambda"]))
    return best["lambda"], table


def tab_defaults(model, tok, cmrc_sample: list[dict], cmrc_all: list[dict], visitor: Path) -> tuple:
    """The tab's defaults, chosen on validation → (λ, λ table, threshold, calibration table). λ first
    (:func:`choose_length_penalty` on ``cmrc_sample`` and the visitor file's answerable questions), then the
    threshold read at that λ (:func:`calibrate` on ``cmrc_all`` and all the visitor file's questions): the score the
    tab compares with the threshold is the span its λ chose."""
    lam, penalties = choose_length_penalty(model, tok, cmrc_sample, written_rows(visitor))
    threshold, calibration = calibrate(model, tok, cmrc_all, written_rows(visitor, unanswerable=True), lam)
    return lam, penalties, threshold, calibration


def train(model, tok, train_rows, valid_rows, epochs: int, questions: int, batch_size: int = 32, lr: float = 1e-3,
          seed: int = 0, device: str = "cpu", run: Path | None = None, resume: bool = False, cut_sentence: float = 0.0):
    """→ (best model on CPU, history, minutes). Each epoch: a seeded sample of ``questions`` training questions."""
    torch.manual_seed(seed)
    model.to(device)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    ema = {k: v.detach().clone() for k, v in model.state_dict().items()}
    history, best, best_state, start, minutes, cache = [], -1.0, None, 1, 0.0, {}
    if run is not None and resume and (run / "state.json").exists():
        state, extra = load_run(run, model, opt)
        history, best, start, minutes = state["history"], state["best"], state["epoch"] + 1, state["minutes"]
        ema = {k[len("ema."):]: v.to(device) for k, v in extra.items() if k.startswith("ema.")}
        best_state = {k[len("best."):]: v for k, v in extra.items() if k.startswith("best.")}
        tqdm.write(f"resumed after epoch {state['epoch']}", file=sys.stderr)
    for epoch in range(start, epochs + 1):
        t0 = time.perf_counter()
        rng = random.Random(seed * 1_000_003 + epoch)   # the same sample and order after a resume
        torch.manual_seed(seed * 1_000_003 + epoch)
        for group in opt.param_groups:
            group["lr"] = lr * LR_DECAY ** (epoch - 1)
        sample = rng.sample(train_rows, min(questions, len(train_rows)))
        model.train()
        bar = tqdm(batches(sample, tok, model.cfg, batch_size, rng, cache, cut_sentence), desc=f"epoch {epoch}",
                   unit=" batches", leave=False)
        total = 0.0
        for n, batch in enumerate(bar, 1):
            loss = loss_fn(model, [t.to(device) if t is not None else None for t in batch])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            # without clipping, a run diverged in its 4th epoch (loss 0.009 → 6): one bad step saturates σ's
            torch.nn.utils.clip_grad_norm_(model.parameters(), CLIP)
            opt.step()
            with torch.no_grad():
                for k, v in model.state_dict().items():
                    if v.is_floating_point():
                        ema[k].mul_(EMA).add_(v, alpha=1 - EMA)
            total += loss.item()
            bar.set_postfix(loss=f"{total / n:.4f}")
        minutes += (time.perf_counter() - t0) / 60
        model.cpu()
        raw_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        valid_raw = evaluate(model, tok, valid_rows, f"validating epoch {epoch}")
        model.load_state_dict({k: v.cpu() for k, v in ema.items()})
        valid_ema = evaluate(model, tok, valid_rows, f"validating epoch {epoch} (EMA)")
        model.load_state_dict(raw_state)
        model.to(device)
        history.append({"epoch": epoch, "train_loss": total / n, "minutes": minutes,
                        **{f"valid_{k}": v for k, v in valid_raw.items()},
                        **{f"valid_ema_{k}": v for k, v in valid_ema.items()}})
        tqdm.write(f"epoch {epoch}: train loss {total / n:.4f}  valid EM {valid_raw['em']:.4f} F1 "
                   f"{valid_raw['f1']:.4f} | EMA EM {valid_ema['em']:.4f} F1 {valid_ema['f1']:.4f} "
                   f"({minutes:.1f} min)", file=sys.stderr)
        for which, valid, state in (("raw", valid_raw, raw_state), ("ema", valid_ema, ema)):
            if valid["score"] > best:
                best, history[-1]["kept"] = valid["score"], which
                best_state = {k: v.detach().cpu().clone() for k, v in state.items()}
        if run is not None:
            save_run(run, model, opt, {"epoch": epoch, "history": history, "best": best, "minutes": minutes},
                     extra={f"best.{k}": v for k, v in best_state.items()} | {f"ema.{k}": v for k, v in ema.items()})
    model.cpu().load_state_dict(best_state)
    return model.eval(), history, minutes


def init_embeddings(model, tok: Tokenizer, vectors: dict, freeze_words: bool = True) -> dict:
    """Start the character (and word) embeddings from pre-trained vectors (training/reading_vectors.py), scaled to
    the embeddings' own N(0, 1) spread; units without a vector keep their random start. With ``freeze_words`` the
    word embeddings stay as pre-trained (as DrQA keeps its GloVe vectors): 17k questions cannot move 20k word
    vectors without forgetting what the corpus taught the ones they never use. → {"chars": found, "words": found}."""
    found = {}
    pairs = [("chars", model.embed, tok.chars)] + ([("words", model.word_embed, tok.words)] if tok.words else [])
    for name, embedding, vocab in pairs:
        table = vectors[name]
        scale = float(np.std(np.stack(list(table.values()))))
        with torch.no_grad():
            rows = [(i, unit) for i, unit in enumerate(vocab.itos) if i > 1 and unit in table]
            for i, unit in rows:
                embedding.weight[i] = torch.from_numpy(table[unit] / scale)
        found[name] = len(rows)
    if freeze_words and tok.words:
        model.word_embed.weight.requires_grad_(False)
    return found


def template_rows(rows: list[dict], n: int, seed: int = 0) -> list[dict]:
    """``n`` of the first version's template questions ``rows`` (training/qa_data.py), half over an idiom
    dictionary's entries and half over poets' classical biographies (a seeded sample of each; the layouts CMRC's
    Wikipedia lacks), in the reading rows' format."""
    rng = random.Random(seed)
    picked = []
    for source, k in (("idiom", n // 2), ("poet", n - n // 2)):
        pool = [r for r in rows if r["source"] == source]
        picked += rng.sample(pool, min(k, len(pool)))
    return [{"id": f"template-{r['id']}", "source": f"template:{r['source']}", "question": r["question"],
             "answers": [r["answer"]], "passages": r["passages"], "has_answer": r["has_answer"]} for r in picked]


# ChineseSquad (github.com/pluto-junzeng/ChineseSquad): SQuAD 2.0 dev, machine-translated into Chinese and corrected by
# hand; English questions written by crowd workers over English Wikipedia. Its README: "academic research only, not
# for commercial use" — so it stays out of this repository, and weights trained on it say so.
TRANSLATED_URL = ("https://raw.githubusercontent.com/pluto-junzeng/ChineseSquad/"
                  "6cc7b1cd0d96abd2fe71f587aacff5e9eff1ed7f/squad_2.0/dev-v2.0-zh.json")


def translated_rows(path: Path | None, seed: int = 0) -> tuple[list[dict], dict]:
    """The answerable questions of ChineseSquad's SQuAD 2.0 dev (``path``: a local copy; None: downloaded from
    TRANSLATED_URL into the cache) as training rows, each with its paragraph and distractors as for CMRC
    (training/reading_data.py) → (rows, counts). Its unanswerable questions are left out."""
    from collections import Counter

    from training import reading_data

    if path is None:
        path = reading_data.fetch("dev-v2.0-zh.json.xz", cache_dir() / "chinese-squad",
                                  {"dev-v2.0-zh.json.xz": TRANSLATED_URL})
    items = reading_data.articles(reading_data.read_squad(path), "squad-zh")
    counts = Counter(f"train: translated SQuAD 2.0 dev, {'answerable' if q[3] else 'unanswerable (left out)'}"
                     for art in items for q in art["questions"])
    for art in items:
        art["questions"] = [q for q in art["questions"] if q[3]]
    rows = reading_data.build(items, "squad-zh", random.Random(seed), counts, "train")
    return rows, dict(counts)


def build_tokenizer(rows: list[dict], n_words: int) -> Tokenizer:
    texts = list(dict.fromkeys(t for r in rows for t in [r["question"], *r["passages"]]))
    chars = Vocab.from_texts(texts)
    if not n_words:
        return Tokenizer(chars)
    words = Vocab.from_texts((segment(t) for t in tqdm(texts, desc="jieba", leave=False)), min_count=2)
    return Tokenizer(chars, Vocab(words.itos[2:n_words]))


def threshold_section(calibration: list[dict], chosen: float, cmrc: str, lam: float) -> str:
    """The card's no-answer bullet and table: a few thresholds and the chosen one, with the visitor-style columns
    where the calibration had them (not when the visitor file holds no unanswerable questions)."""
    visitor = "visitor_kept" in calibration[0]
    rows = sorted((r for r in calibration if r["t"] in (0.01, 0.02, 0.06, 0.1, 0.2, 0.3, 0.5, chosen)),
                  key=lambda r: r["t"])
    cells = [f"| {r['t']:g}{' ← chosen' if r['t'] == chosen else ''} | {r['kept']:.4f} | {r['refused']:.4f} |"
             + (f" {r['visitor_kept']:.4f} | {r['visitor_refused']:.4f} | {r['mean']:.4f} |" if visitor else "")
             for r in rows]
    if not visitor:
        return (f"- **No-answer threshold**: {chosen:g}, calibrated on {cmrc} asked with their passages\n"
                "  (kept when the best score ≥ t) and again with only the distractors (refused when < t):\n\n"
                "| t | answerable kept | unanswerable refused |\n|---|---|---|\n" + "\n".join(cells))
    return (f"- **No-answer threshold**: {chosen:g}, the best mean of two sets' (kept + refused) / 2, scores read at "
            f"λ {lam:g}:\n  {cmrc} asked with their passages (kept when the best score ≥ t) and again with only the "
            f"distractors\n  (refused when < t); and the visitor-style validation questions ({VISITOR_VALID.name}), "
            "each asked of its own\n  passage — those it answers (kept) and those it does not (refused): a visitor's "
            "unanswerable question is\n  about the very passage it is asked of.\n\n"
            "| t | CMRC answerable kept | CMRC unanswerable refused | visitor answerable kept | visitor unanswerable "
            "refused | mean |\n|---|---|---|---|---|---|\n" + "\n".join(cells))


def penalty_rows(penalties: list[dict], chosen: float, mean: bool = False) -> str:
    """The λ choice's rows for a card: | λ | CMRC trial EM / F1 | visitor EM / F1 | [mean EM |]."""
    return "\n".join(f"| {r['lambda']:.2f}{' ← chosen' if r['lambda'] == chosen else ''} | "
                     f"{r['cmrc_em']:.4f} / {r['cmrc_f1']:.4f} | {r['visitor_em']:.4f} / {r['visitor_f1']:.4f} |"
                     + (f" {r['mean_em']:.4f} |" if mean else "") for r in penalties)


def card(model, tok, history, test: dict, counts: dict, minutes: float, device: str, flags: str,
         calibration: list[dict], vectors: dict | None = None, penalties: list[dict] | None = None) -> str:
    cfg = model.cfg
    n_params = sum(p.numel() for p in model.parameters())
    bilstm = isinstance(model, bilstm_reader.BiLSTMReader)
    best = max(history, key=lambda h: max(h["valid_score"], h["valid_ema_score"]))
    epochs = "\n".join(f"| {h['epoch']} | {h['train_loss']:.4f} | {h['valid_em']:.4f} | {h['valid_f1']:.4f} | "
                       f"{h['valid_ema_em']:.4f} | {h['valid_ema_f1']:.4f} | {h['minutes']:.1f} |" for h in history)
    data = "\n".join(f"| {k} | {v:,} |" for k, v in counts.items())
    thresholds = threshold_section(calibration, cfg.threshold, "the validation questions", cfg.length_penalty)
    machine = f"{platform.machine()} CPU, 2 cores" if device == "cpu" else f"{device} ({torch.cuda.get_device_name()})"
    if bilstm:
        what = (f"models/bilstm_reader.py — the benchmark's recurrent baseline: the DGCNN reader's inputs, attention "
                f"and heads with a BiLSTM question encoder and two BiLSTM passage layers (width {cfg.dim})")
    else:
        what = (f"models/dgcnn.py (kexue.fm/archives/5409): question blocks at rates {list(cfg.question_rates)} + "
                f"additive attention pooling; passage blocks at rates {list(cfg.passage_rates)}; gated residual "
                f"blocks Y = X ⊗ (1 − σ) + Conv1D₁(X) ⊗ σ with gate noise ε ~ U[±{cfg.gate_noise}]; width {cfg.dim}; "
                f"position embedding over {cfg.positions} characters; passage → question attention: "
                f"{'yes' if cfg.question_attention else 'no'}")
    words = f" + {cfg.words - 2:,} jieba words" if cfg.words else ""
    match = ("Su's match features (the passage character" + (", and its word," if cfg.words else "") +
             " occurs in the question)" if cfg.match_features else "no match features (left out to measure them)")
    heads = "softmaxes over the window" if cfg.span_softmax else "sigmoids"
    length_section = ""
    if penalties:
        lines = penalty_rows(penalties, cfg.length_penalty)
        length_section = f"""- **Prefer short answers** (the tab's default λ: span score × e^(−λ·length)), chosen by the best mean exact
  match of the CMRC validation questions and {VISITOR_VALID.name} (questions written the way a visitor
  asks them, over passages written for it; EM / F1):

| λ | CMRC 2018 trial (the validation sample) | visitor-style validation |
|---|---|---|
{lines}

"""
    if vectors:
        c = vectors["counts"]
        corpus = ", ".join(f"{k.split(':')[0]} {v:,}" for k, v in c.items() if k.endswith(": characters"))
        pretrained = (f"- **Pre-trained vectors** (`python -m training.reading_vectors`): word2vec skip-gram on "
                      f"{c['sentences']:,} sentences of our own unlabelled text (characters: {corpus}; the wiki part is "
                      f"the training split's paragraphs and questions only, no validation or test passage; reviews "
                      f"include ChnSentiCorp, non-commercial, and SophonPlus, no licence stated — these weights "
                      f"inherit those terms); {vectors['found']['chars']:,} of {len(tok.chars) - 2:,} characters and "
                      f"{vectors['found'].get('words', 0):,} of {max(len(tok.words or []) - 2, 0):,} words start from them; the word "
                      f"vectors are {'kept fixed' if vectors['frozen'] else 'trained on'}. No pre-trained language "
                      f"model.")
    else:
        pretrained = ("- No pre-trained language model or pre-trained vectors: everything is learned from these 17k "
                      "questions.")
    loss = ("cross-entropy of the answer's start and end positions" if cfg.span_softmax
            else "focal loss (γ 2) on start and end")
    return f"""# Model card: {'BiLSTM pointer reader (baseline)' if bilstm else 'DGCNN reader'}

- **Model**: {what}. Inputs: {len(tok.chars):,} characters{words}; {match}; start / end {heads} × a window-level has-answer probability; decoding:
  best start × end with the answer at most {cfg.max_answer} characters, passages read as windows of
  {cfg.window} every {cfg.stride}, noisy-OR vote across passages. {n_params / 1e6:.2f}M parameters, fp16 weights.
- **Data** — human-written questions over Wikipedia, `python -m training.reading_data` (vendored in
  data/reading_comprehension/, CC BY-SA; see its SOURCES.md): train = CMRC 2018 train + DRCD dev + test
  (OpenCC t2s), valid = CMRC 2018 trial, test = CMRC 2018 dev. Each question comes with its paragraph and 2
  distractor paragraphs (same article first, then the closest of 20 others by shared characters):

| step | count |
|---|---|
{data}

- **Training**: per question the windows with the answer + {NEGATIVES} without; {loss}
  + BCE on has-answer; Adam 1e-3 × {LR_DECAY} per epoch, gradient norm clipped at {CLIP}; EMA of the weights
  (decay {EMA}) scored beside the raw weights after every epoch; kept: epoch {best['epoch']}
  ({best.get('kept', 'raw')} weights); {minutes:.1f} min of training on {machine}, torch {torch.__version__}.

| epoch | train loss | valid EM | valid F1 | EMA valid EM | EMA valid F1 | minutes |
|---|---|---|---|---|---|---|
{epochs}

{thresholds}

{length_section}- **Test — CMRC 2018 dev** ({test['distractors']['n']:,} questions; official rules: EM and F1 after normalisation,
  the best over the annotators' answers):

| setting | EM | F1 |
|---|---|---|
| own paragraph only (as published results) | **{test['own']['em']:.4f}** | **{test['own']['f1']:.4f}** |
| own paragraph + 2 distractors | {test['distractors']['em']:.4f} | {test['distractors']['f1']:.4f} |

{pretrained}
- Comparison with the overlap and BiLSTM baselines, the template set and the real-input set
  (data/real_input/reading.json): `python -m bench.bench_dgcnn`. No training command reads the real-input set: the
  bench writes the shipped reader's score on it, by layout too, to `real_input.json`, which the tab shows.
- **Rebuild**: `python -m training.dgcnn{(" " + flags) if flags else ""}`.
"""


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", choices=["dgcnn", "bilstm"], default="dgcnn")
    ap.add_argument("--source", type=Path, help="folder with the CMRC 2018 / DRCD files (default: the vendored copy)")
    ap.add_argument("--dim", type=int, default=128)
    ap.add_argument("--words", type=int, default=20000, help="jieba words embedded (0: characters only)")
    ap.add_argument("--vectors", action="store_true",
                    help="start the embeddings from word2vec vectors of our own text (training/reading_vectors.py)")
    ap.add_argument("--reviews", type=Path, help="with --vectors: a copy of shared/datasets/sentiment for the corpus")
    ap.add_argument("--classics", type=Path,
                    help="with --vectors: a copy of github.com/chinese-poetry/chinese-poetry; its classical texts join "
                         "the corpus")
    ap.add_argument("--tune-words", action="store_true", help="with --vectors: train the word vectors too")
    ap.add_argument("--no-positions", action="store_true")
    ap.add_argument("--no-question-attention", action="store_true")
    ap.add_argument("--no-match-features", action="store_true",
                    help="leave out Su's hand features (the passage character / its word occurs in the question)")
    ap.add_argument("--cut-answer-sentence", type=float, default=0.0, metavar="P",
                    help="per question, with probability P, also train its own paragraph with the answer's sentence "
                         "cut out as a window without the answer")
    ap.add_argument("--templates", type=int, default=0,
                    help="template questions (idiom entries, poets' biographies: training/qa_data.py) added to the "
                         "training split")
    ap.add_argument("--translated", nargs="?", const="download", metavar="FILE",
                    help="add ChineseSquad's answerable SQuAD 2.0 dev questions (translated; non-commercial) to the "
                         "training split: a local copy of dev-v2.0-zh.json, or none to download it")
    ap.add_argument("--epochs", type=int, default=8)
    ap.add_argument("--questions", type=int, default=8000, help="training questions sampled per epoch")
    ap.add_argument("--valid", type=int, default=400, help="validation questions scored after each epoch")
    ap.add_argument("--test", type=int, default=0, help="test questions scored (0: all)")
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--resume", action="store_true")
    ap.add_argument("--visitor-valid", type=Path, default=VISITOR_VALID, help="visitor-style validation questions")
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    paths = prepare(args.source)   # the data's own seed: --seed changes the model's start and sampling, not the data
    train_rows, valid_all, test_rows = (read_jsonl(paths[s]) for s in ("train", "valid", "test"))
    valid_rows = random.Random(args.seed).sample(valid_all, min(args.valid, len(valid_all)))
    if args.test:
        test_rows = test_rows[:args.test]
    extra = []
    if args.templates:
        from training import qa_data

        extra = template_rows(read_jsonl(qa_data.prepare(seed=args.seed)["train"]), args.templates, args.seed)
    translated_counts = {}
    if args.translated:
        rows, translated_counts = translated_rows(None if args.translated == "download" else Path(args.translated),
                                                  args.seed)
        extra += rows
    train_rows = train_rows + extra
    tok = build_tokenizer(train_rows, args.words)
    words = len(tok.words) if tok.words else 0
    if args.model == "bilstm":
        model = bilstm_reader.BiLSTMReader(bilstm_reader.BiLSTMReaderConfig(
            len(tok.chars), args.dim, words, max_answer=48, span_softmax=True,
            match_features=not args.no_match_features))
    else:
        model = dgcnn.DGCNN(DGCNNConfig(len(tok.chars), args.dim, max_answer=48, words=words,
                                        positions=0 if args.no_positions else 256,
                                        question_attention=not args.no_question_attention, span_softmax=True,
                                        match_features=not args.no_match_features))
    vectors = None
    if args.vectors:
        from training import reading_vectors

        vectors = reading_vectors.read(reading_vectors.prepare(args.source, args.reviews, classics=args.classics))
        vectors["found"] = init_embeddings(model, tok, vectors, freeze_words=not args.tune_words)
        vectors["frozen"] = not args.tune_words
        print(f"pre-trained vectors: {vectors['found']}", file=sys.stderr)
    # a run written to a scratch folder resumes from its own state, so that two ablations can train side by side
    run = cache_dir() / "dgcnn-runs" / (args.model if args.out.resolve().is_relative_to(REPO)
                                        else f"{args.model}-{args.out.name}")
    model, history, minutes = train(model, tok, train_rows, valid_rows, args.epochs, args.questions,
                                    args.batch_size, seed=args.seed, device=args.device, run=run, resume=args.resume,
                                    cut_sentence=args.cut_answer_sentence)
    # the shipped weights are fp16: evaluate the model as it will be loaded
    model.load_state_dict({k: v.half().float() if v.is_floating_point() else v for k, v in model.state_dict().items()})
    model.cfg.length_penalty, penalties, model.cfg.threshold, calibration = tab_defaults(
        model, tok, valid_rows, valid_all[:args.valid * 2] if args.test else valid_all, args.visitor_valid)
    test = {"distractors": evaluate(model, tok, test_rows, "testing"),
            "own": evaluate(model, tok, test_rows, "testing (own paragraph)", own_only=True)}
    print(f"test: {json.dumps(test)}", file=sys.stderr)
    counts = json.loads(paths["counts"].read_text(encoding="utf-8"))
    counts |= translated_counts
    if args.templates:
        counts["train: template questions (idiom entries, poets' biographies; training/qa_data.py)"] = \
            sum(r["source"].startswith("template:") for r in extra)
    flags = " ".join(argv if argv is not None else sys.argv[1:])
    flags = re.sub(r"\s*--(resume|threads \S+)", "", flags).strip()  # how it was run is no setting
    if not args.out.resolve().is_relative_to(REPO):   # written to a scratch folder first, then copied in
        flags = re.sub(r"\s*--out \S+", "", flags).strip()
    text = card(model, tok, history, test, counts, minutes, args.device, flags, calibration, vectors, penalties)
    (bilstm_reader if args.model == "bilstm" else dgcnn).save((model, tok), args.out, text)
    for old in ("dgcnn.safetensors",):   # the weights' name before the common layout
        (args.out / old).unlink(missing_ok=True)
    (args.out / "history.json").write_text(json.dumps({"history": history, "test": test, "calibration": calibration,
                                                       "length_penalty": penalties}, indent=1), encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
