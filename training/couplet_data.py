"""Couplet pairs (上联, 下联) from npm ``chinese-poetry``: the middle couplets of regulated verse + 声律启蒙.

    python -m training.couplet_data          # npm pack into the cache, write train/valid/test TSVs + counts

Source: npm ``chinese-poetry`` 2.0.1 (MIT), fetched with ``npm pack`` (~85 MB). Inside ``package/dist/``:

* ``quantangshi/poet.tang.*.json`` and ``poet.song.*.json`` — poems as ``{"paragraphs": [...], "id": ...}``.
  A regulated verse (律诗) has eight lines of five or seven characters, and its lines 3–4 (颔联) and 5–6 (颈联)
  must be antithetical: those are our pairs.
* ``mengxue/shenglvqimeng.json`` — 声律启蒙, a couplet primer: ``云对雨，雪对风，晚照对晴空。…``.

Texts are traditional characters: converted with OpenCC (``t2s``). Pairs that are not parallel are filtered
(counts of every step go into the data card). The split is by poem (a 声律启蒙 paragraph counts as one poem),
seeded, so no poem is in two splits.
"""
from __future__ import annotations

import glob
import hashlib
import json
import re
import subprocess
import tarfile
from collections import Counter
from pathlib import Path

from tqdm import tqdm

from training import cache_dir, prepare_command, save_splits, split_paths

NPM_PACKAGE = "chinese-poetry@2.0.1"
SPLITS = {"train": 0.90, "valid": 0.05, "test": 0.05}
CLAUSE = re.compile(r"[，。！？；、：]")
# A data rule, narrower than models.vocab.CJK_ONLY (the project's "Chinese characters"): the shipped model's pairs
# use the basic block only. Widening it to extension A keeps 385 more pairs (measured) and changes every split —
# a decision for the couplet retraining, not for a refactor.
BASIC_HAN_ONLY = re.compile(r"[\u4e00-\u9fff]+")


def npm_tarball(cache: Path) -> Path:
    """``npm pack`` the package into ``cache`` once; returns the .tgz."""
    found = sorted(cache.glob("chinese-poetry-*.tgz"))
    if not found:
        subprocess.run(["npm", "pack", NPM_PACKAGE, "--silent"], cwd=cache, check=True)
        found = sorted(cache.glob("chinese-poetry-*.tgz"))
    return found[-1]


def fetch_package(cache: Path) -> Path:
    """``npm pack`` the package into ``cache`` (once) and unpack it; returns the ``package/dist`` folder."""
    dist = cache / "chinese-poetry" / "package" / "dist"
    if dist.is_dir():
        return dist
    with tarfile.open(npm_tarball(cache)) as tar:
        members = [m for m in tar.getmembers()
                   if re.search(r"dist/(quantangshi/poet\.(tang|song)\.\d+\.json|mengxue/shenglvqimeng\.json)$",
                                m.name)]
        tar.extractall(cache / "chinese-poetry", members=members, filter="data")
    return dist


def regulated_verse_pairs(paragraphs: list[str]) -> list[tuple[str, str]] | None:
    """Lines 3–4 and 5–6 of an eight-line poem of 5 or 7 characters per line, else None."""
    lines = [s for s in CLAUSE.split("".join(paragraphs)) if s]
    if len(lines) != 8 or len({len(s) for s in lines}) != 1 or len(lines[0]) not in (5, 7):
        return None
    return [(lines[2], lines[3]), (lines[4], lines[5])]


def primer_pairs(paragraph: str) -> list[tuple[str, str]]:
    """声律启蒙 paragraph → pairs: ``甲对乙`` clauses, consecutive clauses of equal length, and the two halves
    of ``A，B；C，D`` sentences clause by clause."""
    pairs = []
    for sentence in re.split(r"[。！？]", paragraph):
        if "；" in sentence:
            left, _, right = sentence.partition("；")
            lc, rc = CLAUSE.split(left), CLAUSE.split(right)
            if len(lc) == len(rc):
                pairs += [(a, b) for a, b in zip(lc, rc) if a and len(a) == len(b)]
            continue
        pending = None
        for clause in (c for c in CLAUSE.split(sentence) if c):
            if "對" in clause or "对" in clause:
                a, _, b = clause.replace("对", "對").partition("對")
                if a and len(a) == len(b):
                    pairs.append((a, b))
                pending = None
            elif pending and len(pending) == len(clause):
                pairs.append((pending, clause))
                pending = None
            else:
                pending = clause
    return pairs


def split_of(key: str, seed: int = 0) -> str:
    """Seeded, stable split of a poem id by hashing."""
    x = int(hashlib.sha1(f"{seed}:{key}".encode()).hexdigest()[:8], 16) / 0xFFFFFFFF
    acc = 0.0
    for name, share in SPLITS.items():
        acc += share
        if x < acc:
            return name
    return "test"


def is_parallel(upper: str, lower: str) -> str | None:
    """Why a pair is not a usable couplet (None when it is)."""
    if len(upper) != len(lower):
        return "length mismatch"
    if not (BASIC_HAN_ONLY.fullmatch(upper) and BASIC_HAN_ONLY.fullmatch(lower)):
        return "non-CJK characters (missing glyphs, notes)"
    if upper == lower:
        return "identical lines"
    if sum(a == b for a, b in zip(upper, lower)) >= 2:
        return "2+ same characters at the same positions"
    if len(set(upper) & set(lower)) > len(upper) // 2:
        return "more than half the characters shared"
    return None


def build_pairs(dist: Path, seed: int = 0):
    """All pairs → ({split: [(upper, lower)]}, counts of every step)."""
    import opencc

    t2s = opencc.OpenCC("t2s")
    counts: Counter = Counter()
    raw = []  # (poem key, upper, lower)
    for kind in ("tang", "song"):
        files = sorted(glob.glob(str(dist / "quantangshi" / f"poet.{kind}.*.json")))
        for f in tqdm(files, desc=f"{kind} poems", unit=" files"):
            for poem in json.loads(Path(f).read_text(encoding="utf-8")):
                counts[f"{kind}: poems"] += 1
                pairs = regulated_verse_pairs(poem.get("paragraphs") or [])
                if pairs is None:
                    continue
                counts[f"{kind}: eight lines of 5 or 7 characters"] += 1
                raw += [(poem.get("id") or poem.get("title", ""), a, b) for a, b in pairs]
    primer = json.loads((dist / "mengxue" / "shenglvqimeng.json").read_text(encoding="utf-8"))
    for volume in primer["content"]:
        for chapter in volume["content"]:
            for i, paragraph in enumerate(chapter["paragraphs"]):
                for a, b in primer_pairs(paragraph):
                    counts["声律启蒙: pairs"] += 1
                    raw.append((f"shenglv:{chapter['chapter']}:{i}", a, b))
    counts["candidate pairs (lines 3–4, 5–6 + primer)"] = len(raw)
    out = {name: [] for name in SPLITS}
    seen = set()
    for key, a, b in tqdm(raw, desc="filtering", unit=" pairs"):
        a, b = t2s.convert(a), t2s.convert(b)
        why = is_parallel(a, b)
        if why:
            counts[f"dropped: {why}"] += 1
            continue
        if (a, b) in seen:
            counts["dropped: duplicate pair"] += 1
            continue
        seen.add((a, b))
        out[split_of(key, seed)].append((a, b))
    for name, pairs in out.items():
        counts[f"kept: {name}"] = len(pairs)
    return out, counts


def read_tsv(path: Path) -> list[tuple[str, str]]:
    return [tuple(line.split("\t")) for line in path.read_text(encoding="utf-8").splitlines() if "\t" in line]


def prepare(cache: Path | None = None, seed: int = 0) -> dict[str, Path]:
    """Fetch and prepare (once); returns {split: path} plus ``counts`` (JSON of the filter counts)."""
    cache = cache or cache_dir()
    paths = split_paths(cache / "couplets", SPLITS)
    if not all(p.exists() for p in paths.values()):
        save_splits(paths, *build_pairs(fetch_package(cache), seed))
    return paths


def main(argv=None):
    prepare_command(prepare, __doc__, argv)


if __name__ == "__main__":
    main()
