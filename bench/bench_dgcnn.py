"""Benchmark of the DGCNN tab, one run: the shipped reader against two baselines on human-written questions.

    python -m bench.bench_dgcnn                 # all 3,219 CMRC dev questions (~15 min on 2 CPU cores)
    python -m bench.bench_dgcnn --cmrc 1000     # the first 1,000 (~8 min)
    python -m bench.bench_dgcnn --quick         # 300 CMRC dev and 500 template questions (~5 min)

Readers:

* **DGCNN** — the shipped reader: data/dgcnn/ (`python -m training.dgcnn`), and with its ensemble.json the
  readers it names averaged (`python -m training.dgcnn_ensemble`: the characters-only reader + data/dgcnn_words/).
* **BiLSTM pointer** — data/dgcnn_bilstm/ (`python -m training.dgcnn --model bilstm --out data/dgcnn_bilstm`):
  the same inputs, attention, heads and training data with recurrent encoders instead of dilated gated
  convolutions (models/bilstm_reader.py).
* **Overlap baseline** — the classic sliding-window reader (Richardson et al., MCTest 2013), no training: every
  clause of every passage (text between punctuation marks, at most 40 characters) is a candidate; its score is how
  many distinct question characters occur in the ``WINDOW`` characters around it, minus those inside it (an answer
  rarely repeats the question). The best-scoring clause is the answer.

Sets, all scored with the official CMRC 2018 rules (models.dgcnn.scores: EM and F1 after normalisation, the best
over the annotators' answers):

* **CMRC 2018 dev** (3,219 questions, the field's standard test set; never trained on) with the question's own
  paragraph only — the setting of published results — and with 2 distractor paragraphs (training/reading_data.py).
* **Real input** — data/real_input/reading.json: 118 questions over 21 passages written for this benchmark in ten
  layouts (biographies modern and classical, news, product specifications, narrative, dictionary entries, a notice,
  a recipe, a travel guide, popular science); with the own passage only, and with 2 other passages of the set;
  per layout too. The shipped reader's score there is written to data/dgcnn/real_input.json, which the tab shows.
* **Template set** — the template questions over idiom and poet entries that the first checkpoint was trained on
  (training/qa_data.py, a seeded sample of its test split: idioms and poets never seen), 3 passages each; no reader
  here trained on it.

Then the tab's "prefer short answers" control (a length penalty λ on the span score) on CMRC dev and on the real
input, the real input as the tab answers it (below the no-answer threshold it says "no answer": the questions
each passage answers and those it leaves unanswered, both written with the set), the no-answer threshold on CMRC
dev (the questions asked again with only the distractors), and the tab's
latency: one question with 3 CMRC passages (warm, batch 1, incl. the highlighted HTML).
"""
from __future__ import annotations

import argparse
import datetime
import json
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
REAL = REPO / "data" / "real_input" / "reading.json"
REAL_OWN = "real input, own passage"
BILSTM = REPO / "data" / "dgcnn_bilstm"


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


def real_rows(distractors: int = 0, seed: int = 0) -> list[dict]:
    """The real-input set as rows {"question", "answers", "layout", "passages"}: the own passage, plus
    ``distractors`` other passages of the set (seeded), shuffled."""
    items = json.loads(REAL.read_text(encoding="utf-8"))
    rng, rows = random.Random(seed), []
    for k, item in enumerate(items):
        for q in item["questions"]:
            others = rng.sample([x["passage"] for j, x in enumerate(items) if j != k], distractors)
            passages = [item["passage"], *others]
            rng.shuffle(passages)
            rows.append({"question": q["question"], "answers": q["answers"], "layout": item["layout"],
                         "passages": passages, "has_answer": [p == item["passage"] for p in passages]})
    return rows


def own_only(rows: list[dict]) -> list[dict]:
    return [r | {"passages": [p for p, h in zip(r["passages"], r["has_answer"]) if h]} for r in rows]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cmrc", type=int, default=0, help="the first N CMRC dev questions (0: all)")
    ap.add_argument("--template", type=int, default=1000, help="template test questions, a seeded sample")
    ap.add_argument("--quick", action="store_true", help="--cmrc 300 --template 500")
    args = ap.parse_args(argv)
    if args.quick:
        args.cmrc, args.template = 300, 500
    from tqdm import tqdm

    from bench import markdown_table, p50_p95, time_calls_ms
    from demos import dgcnn as tab
    from models import bilstm_reader
    from models.dgcnn import read, scores
    from training import qa_data, reading_data

    cmrc = reading_data.read_jsonl(reading_data.prepare()["test"])
    template = qa_data.read_jsonl(qa_data.prepare()["test"])
    template = random.Random(0).sample(template, min(args.template, len(template)))
    cmrc = cmrc[:args.cmrc or len(cmrc)]
    sets = {"CMRC 2018 dev, own paragraph": own_only(cmrc), "CMRC 2018 dev, + 2 distractors": cmrc,
            REAL_OWN: real_rows(0), "real input, + 2 other passages": real_rows(2),
            f"template set ({len(template):,} of its test split), 3 passages": template}
    model, tok = tab.MODEL.get()
    lstm, lstm_tok = bilstm_reader.load(BILSTM)
    # each reader at its own default "prefer short answers" λ (chosen by its trainer on validation questions)
    lam, lstm_lam = model.cfg.length_penalty, lstm.cfg.length_penalty
    readers = {"DGCNN": lambda r: read(model, tok, r["question"], r["passages"], length_penalty=lam)["answer"],
               "BiLSTM pointer": lambda r: read(lstm, lstm_tok, r["question"], r["passages"],
                                                length_penalty=lstm_lam)["answer"],
               "overlap baseline": lambda r: overlap_baseline(r["question"], r["passages"])}
    results, seconds, hits = {}, {}, {}
    for name, rows in sets.items():
        for reader, fn in readers.items():
            t0 = time.perf_counter()
            predictions = [fn(r) for r in tqdm(rows, desc=f"{reader} · {name}", leave=False)]
            seconds[reader] = seconds.get(reader, 0.0) + time.perf_counter() - t0
            results[name, reader] = scores(predictions, rows)["all"]
            if name == REAL_OWN:
                hits[reader] = [bool(scores([p], [r])["all"]["em"]) for r, p in zip(rows, predictions)]
                misses = [(r["question"], p) for r, p, hit in zip(rows, predictions, hits[reader]) if not hit]
                print(f"{reader} misses on real input ({len(misses)}): "
                      + "; ".join(f"{q} → {p or '∅'}" for q, p in misses[:40]), file=sys.stderr)
    print(f"\n## EM / F1 (official CMRC 2018 rules; CMRC dev: the first {len(cmrc):,} questions; λ: DGCNN {lam:.2f}, "
          f"BiLSTM {lstm_lam:.2f})\n")
    print(markdown_table(["set", "n", *readers],
                         [[name, f"{len(rows):,}", *(f"{results[name, r]['em']:.4f} / {results[name, r]['f1']:.4f}"
                                                     for r in readers)] for name, rows in sets.items()]))
    print("\nSeconds per reader over all sets: " + ", ".join(f"{r} {s:.0f} s" for r, s in seconds.items()))

    real = sets[REAL_OWN]
    layouts = list(dict.fromkeys(r["layout"] for r in real))  # in the file's order
    by_layout = {reader: {lay: [sum(h for r, h in zip(real, hits[reader]) if r["layout"] == lay),
                                sum(r["layout"] == lay for r in real)] for lay in layouts} for reader in readers}
    print(f"\n## Real input by layout ({len(real)} questions, own passage): exact matches / questions\n")
    print(markdown_table(["layout", *readers], [[lay, *(f"{by_layout[r][lay][0]} / {by_layout[r][lay][1]}"
                                                        for r in readers)] for lay in layouts]))
    # as the tab answers: below its no-answer threshold it says "no answer" — a miss where the passage holds the
    # answer, right where it does not (the questions each passage leaves unanswered, written with the set)
    unanswered = [q for item in json.loads(REAL.read_text(encoding="utf-8")) for q in
                  ({"question": u, "passages": [item["passage"]]} for u in item["unanswerable"])]
    as_tab = {}
    for reader, (m, tk, lam_) in {"DGCNN": (model, tok, lam), "BiLSTM pointer": (lstm, lstm_tok, lstm_lam)}.items():
        said = [read(m, tk, r["question"], r["passages"], length_penalty=lam_) for r in real + unanswered]
        shown = [x["answer"] if x["score"] >= m.cfg.threshold else "" for x in said]
        right = sum(bool(a) and bool(scores([a], [r])["all"]["em"]) for a, r in zip(shown, real))
        as_tab[reader] = {"threshold": m.cfg.threshold, "right": right, "answered": sum(map(bool, shown[:len(real)])),
                          "refused": sum(not a for a in shown[len(real):]), "unanswerable": len(unanswered),
                          "scores": [x["score"] for x in said]}
    print(f"\n## Real input as the tab answers it: below its threshold a reader says \"no answer\" ({len(real)} "
          f"questions the passage answers, {len(unanswered)} it does not; own passage)\n")
    print(markdown_table(["reader", "threshold", "answerable: right", "answerable: answered", "unanswerable: refused"],
                         [[r, f"{x['threshold']:g}", f"{x['right']} / {len(real)} ({x['right'] / len(real):.4f})",
                           f"{x['answered']} / {len(real)}", f"{x['refused']} / {x['unanswerable']}"]
                          for r, x in as_tab.items()]))
    rows, dg = [], as_tab["DGCNN"]["scores"]
    for t in sorted({0.005, 0.01, 0.02, 0.05, 0.1, model.cfg.threshold}):
        kept = sum(s >= t for s in dg[:len(real)]) / len(real)
        refused = sum(s < t for s in dg[len(real):]) / len(unanswered)
        rows.append([f"{t:g}{' (default)' if t == model.cfg.threshold else ''}", f"{kept:.4f}", f"{refused:.4f}",
                     f"{(kept + refused) / 2:.4f}"])
    print("\nDGCNN's threshold on the same questions:\n")
    print(markdown_table(["threshold t", "answerable with score ≥ t", "unanswerable with score < t", "mean"], rows))
    # the tab shows this score (no training command reads the real-input set, so the card cannot carry it)
    tab.REAL_INPUT_SCORE.write_text(json.dumps({
        "set": "data/real_input/reading.json", "n": len(real), "passages": len({r["passages"][0] for r in real}),
        "right": sum(hits["DGCNN"]), "em": results[REAL_OWN, "DGCNN"]["em"], "f1": results[REAL_OWN, "DGCNN"]["f1"],
        "length_penalty": lam, "by_layout": by_layout["DGCNN"],
        "as_tab": {k: v for k, v in as_tab["DGCNN"].items() if k != "scores"},
        "baselines": {r: {k: results[REAL_OWN, r][k] for k in ("em", "f1")} for r in readers if r != "DGCNN"},
        "measured": datetime.date.today().isoformat()}, indent=1, ensure_ascii=False), encoding="utf-8")

    print("\n## Prefer short answers — the tab's λ slider: span score × exp(−λ · length), DGCNN, own paragraph\n")
    rows, own_cmrc, own_real = [], sets["CMRC 2018 dev, own paragraph"], sets[REAL_OWN]
    for penalty in sorted({0.0, 0.1, 0.3, lam}):
        cells = []
        for rows_ in (own_cmrc, own_real):
            answers = [read(model, tok, r["question"], r["passages"], length_penalty=penalty)["answer"]
                       for r in tqdm(rows_, desc=f"λ {penalty}", leave=False)]
            got = scores(answers, rows_)["all"]
            cells.append(f"{got['em']:.4f} / {got['f1']:.4f}")
        rows.append([f"{penalty:.2f}{' (default)' if penalty == lam else ''}", *cells])
    print(markdown_table(["λ", f"CMRC 2018 dev ({len(own_cmrc):,})", f"real input ({len(own_real)})"], rows))

    answerable = [read(model, tok, r["question"], r["passages"], length_penalty=lam)["score"]
                  for r in tqdm(cmrc, leave=False)]
    unanswerable = [read(model, tok, r["question"], [p for p, h in zip(r["passages"], r["has_answer"]) if not h],
                         length_penalty=lam)["score"]
                    for r in tqdm(cmrc, desc="no-answer", leave=False) if not all(r["has_answer"])]
    print(f"\n## No-answer threshold on CMRC 2018 dev ({len(answerable):,} questions with their paragraph, "
          f"{len(unanswerable):,} with only the distractors; scores at λ {lam:g}, as the tab reads); the tab's "
          f"default {model.cfg.threshold:g} was calibrated on CMRC trial and the visitor-style validation questions\n")
    rows = []
    for t in sorted({0.01, 0.02, 0.05, 0.1, 0.2, 0.5, model.cfg.threshold}):
        kept = sum(s >= t for s in answerable) / len(answerable)
        refused = sum(s < t for s in unanswerable) / len(unanswerable)
        rows.append([f"{t:g}{' (default)' if t == model.cfg.threshold else ''}", f"{kept:.4f}", f"{refused:.4f}",
                     f"{(kept + refused) / 2:.4f}"])
    print(markdown_table(["threshold t", "answerable with score ≥ t", "unanswerable with score < t", "mean"], rows))

    three = [r for r in cmrc if len(r["passages"]) == 3][:200]
    times = time_calls_ms(lambda r=r: tab.answer(r["question"], "\n\n".join(r["passages"])) for r in three)[20:]
    lstm_times = time_calls_ms(lambda r=r: read(lstm, lstm_tok, r["question"], r["passages"]) for r in three)[20:]
    chars = sum(len("".join(r["passages"])) for r in three) / len(three)
    p50, p95 = p50_p95(times)
    print(f"\nTab latency (warm, batch 1, `demos.dgcnn.answer` incl. jieba and the highlighted HTML): 3 CMRC passages "
          f"(mean {chars:.0f} characters) p50 {p50:.1f} ms, p95 {p95:.1f} ms over {len(times)} questions; "
          f"the BiLSTM reader on the same: p50 {p50_p95(lstm_times)[0]:.1f} ms.")


if __name__ == "__main__":
    main()
