"""Benchmark of the couplet tab: Su's tagger, the tagger under the form rules, the tagger + phrase table, the tagger +
couplet LM + phrase table (the tab), the LM alone and an aligned-character baseline, in one run, on real couplets
and on famous ones.

    python -m bench.bench_couplet              # ~70 min on one thread (after training.couplet_data --source)
    python -m bench.bench_couplet --quick      # 300 lines per set

Sets: the wb14123 test split (3,991 real couplets, the standard test of couplet systems: no upper line of it is in
our training data), the regulated-verse test split (the first 2,000 of 12,838 for the beam decoders), and the
sheet of famous couplets ``data/real_input/couplets.tsv`` (kept out of every split by the data command).
Columns: character BLEU-2 and BLEU-4 against the human lower line, per-position character accuracy (marks
aside), the share of tone-opposed positions (classical tones: the 平水韵 table), the share of 仄-ending upper
lines answered by a 平 ending, the share of patterned upper lines (repeated characters) whose pattern the lower
line mirrors, the share of lower lines repeating a character where the upper line does not, the share repeating
an upper character at the same position. The baseline writes, for every upper character, the lower character most
often aligned with it in the training pairs (never the same one; marks copied). The LM weight, the tone bonus and
the phrase table's weight of the tab are chosen on 500 real validation pairs (a table here: the best BLEU-2, and among settings within 0.001 of
it — noise on 500 pairs — the one that opposes the most tones); every beam decoder is scored on its
candidate 1 of the tab's default 5 (``demos.couplet.CANDIDATES``; a beam of 40 lines, ``models.couplet.BEAM``) —
the line the tab shows first; latency is the tab's own ``generate``, warm.
"""
from __future__ import annotations

import argparse
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench import markdown_table, p50_p95, time_calls_ms  # noqa: E402
from models.couplet import MARKS, decode_greedy, lower_line_metrics, write_lower  # noqa: E402
from training.couplet_data import prepare, read_rows, read_tsv  # noqa: E402

SHEET = REPO / "data" / "real_input" / "couplets.tsv"
GREEDY, BASELINE = "Su's tagger, greedy rule", "baseline: most frequent aligned character"
TAB = "tagger + LM + tone bonus + phrase table + form rules — the tab"
GRID = ((0.0, 0.0, 0.0), (0.0, 1.5, 0.0), (1.0, 1.5, 0.0), (0.0, 1.5, 1.0), (0.5, 1.5, 1.0), (0.75, 1.5, 1.0),
        (1.0, 1.5, 1.0), (1.25, 1.5, 1.0), (1.5, 1.5, 1.0), (2.0, 1.5, 1.0), (1.0, 2.0, 1.0), (1.0, 1.0, 1.0),
        (1.0, 1.5, 0.5), (1.0, 1.5, 2.0))  # (LM, tone, phrase-table) weights
BLEU_NOISE = 0.001  # BLEU-2 gaps below this on 500 pairs are noise: among such settings, more tones opposed wins


class AlignedBaseline:
    """Most frequent lower character aligned with each upper character in the training pairs; marks copied."""

    def __init__(self, pairs):
        table = defaultdict(Counter)
        overall = Counter()
        for a, b in pairs:
            for x, y in zip(a, b):
                if x not in MARKS:
                    table[x][y] += 1
                    overall[y] += 1
        self.best = {x: [y for y, _ in c.most_common(2)] for x, c in table.items()}
        self.fallback = [y for y, _ in overall.most_common(2)]

    def __call__(self, upper: str) -> str:
        out = []
        for x in upper:
            cands = self.best.get(x, self.fallback) + self.fallback
            out.append(x if x in MARKS else next(y for y in cands if y != x))
        return "".join(out)


COLUMNS = ("bleu2", "bleu4", "accuracy", "opposed", "ping_ending", "mirrored", "stray_repeats",
           "same_position_repeat")
HEADER = ["method", "char BLEU-2", "char BLEU-4", "char accuracy", "tones opposed", "仄→平 ending",
          "pattern mirrored", "stray repeats", "same-position repeat"]


def row(name, uppers, hyps, refs):
    m = lower_line_metrics(uppers, hyps, refs)
    return (name, *(f"{m[k]:.3f}" for k in COLUMNS))


def main(argv=None):
    from demos import couplet

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="300 lines per set")
    args = ap.parse_args(argv)
    paths = prepare()
    train = read_tsv(paths["train"])
    valid = [(a, b) for s, a, b in read_rows(paths["valid"]) if s != "verse"][:500]
    sheet = [tuple(line.split("\t")[:2]) for line in SHEET.read_text(encoding="utf-8").splitlines()]
    model, vocab = couplet.MODEL.get()
    lm = couplet.LM.get()
    phrases = couplet.PHRASE_TABLE.get()
    baseline = AlignedBaseline(train)

    def beam_lines(uppers, **kw):  # candidate 1 of the tab's default number: the line the tab shows first
        return [write_lower(model, vocab, u, n=couplet.CANDIDATES, **kw)[0].lower for u in uppers]

    # the LM's weight and the tone bonus, chosen on real validation pairs (never on a test set)
    vu, vr = [a for a, _ in valid], [b for _, b in valid]
    rows, scores = [], {}
    for w, tone, pw in GRID:
        m = lower_line_metrics(vu, beam_lines(vu, lm=lm, lm_weight=w, tone_weight=tone, phrases=phrases,
                                              phrase_weight=pw), vr)
        rows.append((f"{w:g}", f"{tone:g}", f"{pw:g}",
                     *(f"{m[k]:.3f}" for k in ("bleu2", "bleu4", "accuracy", "opposed"))))
        scores[w, tone, pw] = m
    top = max(m["bleu2"] for m in scores.values())
    best = max((m["opposed"], key) for key, m in scores.items() if m["bleu2"] >= top - BLEU_NOISE)
    print(f"## Decoder weights on {len(valid)} real validation pairs (tagger + w · LM + tone bonus + phrase-table "
          f"weight · pair bonus, beam, rules)\n")
    print(markdown_table(["LM weight w", "tone bonus", "phrase table", "char BLEU-2", "char BLEU-4", "char accuracy",
                          "tones opposed"], rows))
    print(f"\nBest BLEU-2 (settings within {BLEU_NOISE} of it: the most tones opposed): w = {best[1][0]:g}, "
          f"tone bonus {best[1][1]:g}, phrase table {best[1][2]:g}; the tab uses w = {couplet.LM_WEIGHT:g}, "
          f"tone bonus {couplet.TONE_WEIGHT:g}, phrase table {couplet.PHRASE_WEIGHT:g}.\n")

    tab = {"lm": lm, "lm_weight": couplet.LM_WEIGHT, "tone_weight": couplet.TONE_WEIGHT, "phrases": phrases,
           "phrase_weight": couplet.PHRASE_WEIGHT}
    no_phrases = {"lm": lm, "lm_weight": 1.0, "tone_weight": 1.5}
    limit = 300 if args.quick else None
    sets = [("wb14123 test", read_tsv(paths["test"])[:limit], None),
            ("verse test", read_tsv(paths["test_verse"])[:limit or 12838], limit or 2000),
            ("famous couplets (data/real_input/couplets.tsv)", sheet, None)]
    sheet_lines = {}
    for title, pairs, beam_limit in sets:
        uppers, refs = [a for a, _ in pairs], [b for _, b in pairs]
        bu, br = uppers[:beam_limit], refs[:beam_limit]
        t0 = time.perf_counter()
        systems = {GREEDY: decode_greedy(model, vocab, uppers, "cpu")}
        times = {GREEDY: time.perf_counter() - t0}
        for name, kw in (("tagger + form rules (beam)", {}),
                         ("tagger + form rules + tone bonus", {"tone_weight": couplet.TONE_WEIGHT}),
                         ("couplet LM alone + form rules", {"lm": lm, "lm_weight": 1.0, "tag_weight": 0.0}),
                         ("tagger + phrase table + form rules", {"phrases": phrases, "phrase_weight": 1.0}),
                         ("tagger + LM (w 1) + tone bonus + form rules (no phrase table)", no_phrases),
                         ("the tab, upper characters allowed in the lower line (before that rule)",
                          tab | {"reuse": True}),
                         (TAB, tab)):
            t0 = time.perf_counter()
            systems[name] = beam_lines(bu, **kw)
            times[name] = time.perf_counter() - t0
        t0 = time.perf_counter()
        systems[BASELINE] = [baseline(u) for u in uppers]
        times[BASELINE] = time.perf_counter() - t0
        out = []
        for name, hyps in systems.items():
            n = len(hyps)
            out.append(row(name + ("" if n == len(uppers) else f" (first {n:,})"), uppers[:n], hyps, refs[:n]))
        out.append(row("the human lower lines (reference)", uppers, refs, refs))
        n_pat = lower_line_metrics(uppers, refs, refs)["n_patterned"]
        print(f"## {title}: {len(pairs):,} pairs ({n_pat} with repeated characters)\n")
        print(markdown_table(HEADER, out))
        print("\nDecoding time: " + ", ".join(f"{k.split(',')[0].split(' (')[0]} {v:.1f} s" for k, v in times.items())
              + "\n")
        if title.startswith("famous"):
            sheet_lines = systems

    print("## The famous couplets, line by line\n")
    print(markdown_table(["上联 upper", "human", "Su's tagger (greedy)", "the tab", "baseline"],
                         [(u, r, sheet_lines[GREEDY][i], sheet_lines[TAB][i], sheet_lines[BASELINE][i])
                          for i, (u, r) in enumerate(sheet)]))

    # candidates of the tab: how different are they from each other?
    wb = [a for a, _ in read_tsv(paths["test"])[:300]]
    diffs = []
    for u in wb:
        cands = [c.lower for c in write_lower(model, vocab, u, couplet.CANDIDATES, **tab)]
        diffs += [sum(x != y for x, y in zip(a, b)) for i, a in enumerate(cands) for b in cands[i + 1:]]
    apart = sum(d >= 2 for d in diffs) / len(diffs)
    print(f"\nThe tab's {couplet.CANDIDATES} candidates (300 wb14123 test lines): pairs differ in "
          f"{sum(diffs) / len(diffs):.2f} characters on average; {apart:.1%} of pairs in 2 or more.")
    couplet.generate(wb[0])  # warm
    p50, p95 = p50_p95(time_calls_ms([lambda u=u: couplet.generate(u) for u in wb]))
    print(f"\nTab latency (generate, {couplet.CANDIDATES} candidates, warm, 300 wb14123 test lines): p50 {p50:.1f} ms, "
          f"p95 {p95:.1f} ms.")


if __name__ == "__main__":
    main()
