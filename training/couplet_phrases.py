"""Count the aligned character pairs of the training couplets: the couplet decoder's phrase table
(models/couplet.py :class:`PhraseTable`).

    python -m training.couplet_phrases --source ../shared/datasets/couplets   # ~20 s once the splits are cached
    python -m training.couplet_phrases --min-count 1 --out /tmp/phrases       # every pair (not for the repository)

For every training pair and every two adjacent positions holding characters, the upper pair AB and the lower pair
xy at the same positions are counted (real couplets with the tagger's ``--real-weight``, so both see the same mix);
a pair is kept where at least ``--min-count`` different couplets hold it. The real couplets state no licence, so
the table keeps what couplets share (2 by default), never fragments that only one couplet holds — the one-off
pairs stay counted in N, the number of answers to AB. Writes data/couplet_phrases/phrases.tsv.gz and MODEL_CARD.md.
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

from models.couplet import PhraseTable
from training import REPO
from training.couplet import data_card_rows, read_splits

OUT = REPO / "data" / "couplet_phrases"
TABLE = "phrases.tsv.gz"
DEFAULTS = {"min_count": 2, "real_weight": 2}   # the card names only the flags that differ from these


def weighted_rows(train_rows, real_weight: int):
    """(upper, lower, weight) of the training rows: verse pairs weigh 1, real couplets ``real_weight``."""
    return ((a, b, 1 if s == "verse" else real_weight) for s, a, b in train_rows)


def card(table: PhraseTable, n_rows: int, counts: dict, args, seconds: float) -> str:
    flags = "".join(f" --{k.replace('_', '-')} {v}" for k, v in (("min_count", args.min_count),
                                                                   ("real_weight", args.real_weight))
                    if v != DEFAULTS[k])
    return f"""# Model card: couplet phrase table (对仗词组表)

- **What**: for each upper pair of adjacent characters AB, how often the training couplets answered it with the
  lower pair xy at the same two positions (models/couplet.py `PhraseTable`): {len(table):,} pairs (AB → xy) over
  {len(table.counts):,} upper pairs, counted in {n_rows:,} training couplets (real couplets weigh
  {args.real_weight}, verse pairs 1); kept where at least {args.min_count} different couplets hold the pair — the
  one-off pairs are not in the file, but count among the N answers of their upper pair. Example: 岁月 →
  {", ".join(f"{xy} ({c:g})" for xy, c in sorted(table.counts.get("岁月", {}).items(), key=lambda kv: -kv[1])[:5])}.
- **How the decoder uses it**: the beam adds, per adjacent lower pair, weight × (log(1 + c / (k·p(x)·p(y))) −
  log(1 + N / k)), k = {table.k:g}: the tagger's p(x)·p(y) updated by the table's counts (a Dirichlet prior of strength
  k centred on the tagger); the weight is chosen on the real validation pairs (`python -m bench.bench_couplet`).
- **Data**: the training split of `python -m training.couplet_data` (the same pairs as the tagger and the couplet
  LM; no validation or test couplet): real couplets from GitHub ZiJianZhao/Couplet-Machine and the head of wb14123's
  train split — **no licence is stated for them upstream: research and demo use**; the table holds pairs that at
  least {args.min_count} couplets share, not the couplets — and the middle couplets of regulated verse (npm
  `chinese-poetry` 2.0.1, MIT).

| step | count |
|---|---|
{data_card_rows(counts)}

- **Rebuild**: `python -m training.couplet_phrases{flags}` ({seconds:.0f} s on one CPU core).
"""


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--source", type=Path, help="a copy of shared/datasets/couplets (when the splits are not cached)")
    ap.add_argument("--min-count", type=int, default=DEFAULTS["min_count"],
                    help="keep a pair where at least this many couplets hold it")
    ap.add_argument("--real-weight", type=int, default=DEFAULTS["real_weight"],
                    help="the weight of a real couplet (the tagger's --real-weight)")
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    splits, counts = read_splits(args.source)
    train = splits["train"]
    table = PhraseTable.build(weighted_rows(train, args.real_weight), min_count=args.min_count)
    args.out.mkdir(parents=True, exist_ok=True)
    table.save(args.out / TABLE)
    text = card(table, len(train), counts, args, time.perf_counter() - t0)
    (args.out / "MODEL_CARD.md").write_text(text, encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
