"""Benchmark of the DGCNN tab, one run: the shipped reader against a question-overlap baseline on the test split.

    python -m bench.bench_dgcnn          # ~1 min on 2 CPU cores

Metrics (as Su's WebQA entry): exact match, character F1 and (EM + F1) / 2, overall and per question type, over
all 5,087 test questions (each with 3 passages; no test idiom or poet was seen in training).

Baseline — the classic sliding-window reader (Richardson et al., MCTest 2013), no training: every clause of every
passage (text between punctuation marks, at most 40 characters) is a candidate; its score is how many distinct
question characters occur in the ``WINDOW`` characters around it, minus those inside it (an answer rarely repeats
the question). The best-scoring clause is the answer.

Long text: the first ``LONG_N`` test questions asked with one ~2,000-character passage — their own passage put at
a random place among passages of other test questions — which the tab reads as overlapping windows of 256.

No-answer threshold: the same test questions asked again with the passages that hold the answer removed (only
distractors left; questions whose every passage holds it are skipped): for thresholds t, how often an answerable
question's best score is ≥ t and an unanswerable one's < t — the tab's default threshold comes from this table.

Then the tab's latency: one question with 3 passages (warm, batch 1), and one 2,000-character passage read as
overlapping windows.
"""
from __future__ import annotations

import random
import re
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

CLAUSE = re.compile(r"[^，。：；（）《》、！？“”‘’\s,.;:()]+")
WINDOW = 12
MAX_ANSWER = 40
LONG_N = 500


def overlap_baseline(question: str, passages: list[str]) -> str:
    """The clause whose surroundings share the most characters with the question (see the module docstring)."""
    q = {c for c in question if CLAUSE.fullmatch(c)}  # question characters, punctuation left out
    best, best_score = "", float("-inf")
    for text in passages:
        for m in CLAUSE.finditer(text):
            span = m.group()
            if len(span) > MAX_ANSWER:
                continue
            around = set(text[max(0, m.start() - WINDOW):m.start()]) | set(text[m.end():m.end() + WINDOW])
            score = len(q & around) - len(q & set(span))
            if score > best_score:
                best, best_score = span, score
    return best


def table(title: str, results: dict[str, dict]) -> None:
    names = list(results)
    print(f"\n## {title}\n")
    print("| question type | n | " + " | ".join(f"{n} EM | {n} F1 | {n} (EM+F1)/2" for n in names) + " |")
    print("|---|---|" + "---|---|---|" * len(names))
    for t in results[names[0]]:
        cells = [f"{results[n][t]['em']:.4f} | {results[n][t]['f1']:.4f} | {results[n][t]['score']:.4f}"
                 for n in names]
        label = f"**{t}**" if t == "all" else t
        print(f"| {label} | {results[names[0]][t]['n']:,} | " + " | ".join(cells) + " |")


def main():
    from tqdm import tqdm

    from bench import p50_p95, time_calls_ms
    from demos import dgcnn as tab
    from models.dgcnn import read, scores
    from training.qa_data import TEMPLATES, prepare, read_jsonl

    rows = read_jsonl(prepare()["test"])
    model, vocab = tab.MODEL.get()
    t0 = time.perf_counter()
    results = [read(model, vocab, r["question"], r["passages"])
               for r in tqdm(rows, desc="DGCNN", unit=" questions", leave=False)]
    ours = [r["answer"] for r in results]
    ours_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    base = [overlap_baseline(r["question"], r["passages"]) for r in tqdm(rows, desc="baseline", leave=False)]
    base_s = time.perf_counter() - t0
    table(f"Test split, {len(rows):,} questions × 3 passages (DGCNN {ours_s:.0f} s, baseline {base_s:.0f} s)",
          {"DGCNN": scores(ours, rows, TEMPLATES), "overlap baseline": scores(base, rows, TEMPLATES)})

    rng = random.Random(0)
    long_rows, long_ours, long_base = rows[:LONG_N], [], []
    for k, r in enumerate(tqdm(long_rows, desc="long text", leave=False)):
        own = next(p for p, h in zip(r["passages"], r["has_answer"]) if h)
        others = []
        while sum(map(len, others)) < 2000 - len(own):
            other = rows[rng.randrange(len(rows))]
            piece = next(p for p, h in zip(other["passages"], other["has_answer"]) if h)
            if other is not r and r["answer"] not in piece:   # the answer must be in the own passage only
                others.append(piece)
        others.insert(rng.randrange(len(others) + 1), own)
        text = "".join(others)
        long_ours.append(tab.answer(r["question"], text, 0.0)[1])
        long_base.append(overlap_baseline(r["question"], [text]))
    long_ours = [max(c, key=c.get) if c else "" for c in long_ours]
    table(f"Long text: {LONG_N} test questions, each with one ~2,000-character passage (own passage at a random "
          "place among other test passages; the tab's windows of 256)",
          {"DGCNN": scores(long_ours, long_rows, TEMPLATES),
           "overlap baseline": scores(long_base, long_rows, TEMPLATES)})

    answerable = [r["score"] for r in results]
    unanswerable = [read(model, vocab, r["question"], [p for p, h in zip(r["passages"], r["has_answer"]) if not h])
                    ["score"] for r in tqdm(rows, desc="no-answer", leave=False) if not all(r["has_answer"])]
    print(f"\n## No-answer threshold ({len(answerable):,} answerable, {len(unanswerable):,} unanswerable: "
          "the same questions with only the distractors)\n")
    print("| threshold t | answerable with score ≥ t | unanswerable with score < t | mean of both |")
    print("|---|---|---|---|")
    for t in (0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.7):
        a = sum(s >= t for s in answerable) / len(answerable)
        u = sum(s < t for s in unanswerable) / len(unanswerable)
        print(f"| {t} | {a:.4f} | {u:.4f} | {(a + u) / 2:.4f} |")

    times = time_calls_ms(lambda r=r: tab.answer(r["question"], "\n\n".join(r["passages"])) for r in rows[:300])
    times = times[20:]  # the first calls warm the allocator
    long_passage = "".join(r["passages"][0] for r in rows[:60])[:2000]
    # one passage: no blank lines inside
    long_times = time_calls_ms([lambda: tab.answer(rows[0]["question"], long_passage)] * 20)
    p50, p95 = p50_p95(times)
    print(f"\nTab latency (warm, batch 1, `demos.dgcnn.answer`, incl. the highlighted HTML): 3 passages "
          f"p50 {p50:.1f} ms, p95 {p95:.1f} ms over {len(times)} test questions; "
          f"one {len(long_passage):,}-character passage (windows of 256) "
          f"p50 {p50_p95(long_times)[0]:.1f} ms.")


if __name__ == "__main__":
    main()
