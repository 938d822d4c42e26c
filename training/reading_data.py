"""Human-written reading comprehension for the DGCNN tab: CMRC 2018 and DRCD, with distractor passages.

    python -m training.reading_data                      # from the vendored copy in data/reading_comprehension/
    python -m training.reading_data --source DIR         # from another copy (same file names; see SOURCES.md there)

Splits (the field's standard use of CMRC 2018):

| split | from | questions |
|---|---|---|
| train | CMRC 2018 train + DRCD dev + DRCD test (Traditional → Simplified, OpenCC ``t2s``) | 17,159 |
| valid | CMRC 2018 trial | 1,002 |
| test | CMRC 2018 dev, 1–3 annotators' answers per question, scored with the official rules | 3,219 |

A file missing from the source folder is downloaded from its upstream address when online (``URLS``). Every
question keeps its own paragraph and gets ``DISTRACTORS`` more, as in WebQA: the paragraphs that share the most
characters with the question among the other paragraphs of the same article (DRCD articles have several) and
``POOL`` random paragraphs of other articles of the same split — hard distractors, on the same words, that hold
none of the answers. The passages are shuffled (seeded). Whitespace runs inside a paragraph become one space (the
tab does the same to what users paste). Questions whose answers are not found in their own paragraph (upstream
noise) are dropped and counted.

Rows (JSON lines): ``{"id", "source", "question", "answers": [...], "passages": [...], "has_answer": [bool, ...]}``
— every passage that contains one of the answers counts as holding it.
"""
from __future__ import annotations

import json
import lzma
import random
import re
from collections import Counter
from pathlib import Path

from training import REPO, cache_dir, prepare_command

SOURCE = REPO / "data" / "reading_comprehension"
FILES = {  # split → [(dataset, file name)]
    "train": [("cmrc2018", "cmrc2018_train.json.xz"), ("drcd", "DRCD_dev.json.xz"), ("drcd", "DRCD_test.json.xz")],
    "valid": [("cmrc2018", "cmrc2018_trial.json.xz")],
    "test": [("cmrc2018", "cmrc2018_dev.json.xz")],
}
URLS = {
    "cmrc2018_train.json.xz": "https://raw.githubusercontent.com/ymcui/cmrc2018/master/squad-style-data/cmrc2018_train.json",
    "cmrc2018_trial.json.xz": "https://raw.githubusercontent.com/ymcui/cmrc2018/master/squad-style-data/cmrc2018_trial.json",
    "cmrc2018_dev.json.xz": "https://raw.githubusercontent.com/ymcui/cmrc2018/master/squad-style-data/cmrc2018_dev.json",
    "DRCD_dev.json.xz": "https://raw.githubusercontent.com/DRCKnowledgeTeam/DRCD/master/DRCD_dev.json",
    "DRCD_test.json.xz": "https://raw.githubusercontent.com/DRCKnowledgeTeam/DRCD/master/DRCD_test.json",
}
SPLITS = ("train", "valid", "test")
DISTRACTORS = 2
POOL = 20
_SPACE = re.compile(r"\s+")
_HAN = re.compile(r"[\u4e00-\u9fff]")


def read_squad(path: Path) -> list[dict]:
    """A SQuAD-layout file (.json or .json.xz) → its ``data`` list."""
    opener = lzma.open if str(path).endswith(".xz") else open
    with opener(path, "rt", encoding="utf-8") as f:
        return json.load(f)["data"]


def fetch(name: str, folder: Path, urls: dict[str, str] = URLS) -> Path:
    """``folder / name`` (or the uncompressed ``.json`` beside it); downloaded from ``urls`` and xz-compressed when
    neither is there."""
    path = folder / name
    if not path.exists() and path.with_suffix("").exists():
        return path.with_suffix("")
    if not path.exists():
        import urllib.request

        with urllib.request.urlopen(urls[name], timeout=60) as r:
            data = r.read()
        folder.mkdir(parents=True, exist_ok=True)
        path.write_bytes(lzma.compress(data))
    return path


def clean(text: str) -> str:
    return _SPACE.sub(" ", text).strip()


def articles(data: list[dict], dataset: str, convert=None) -> list[dict]:
    """SQuAD ``data`` → [{"id", "paragraphs": [text], "questions": [(paragraph index, id, question, answers)]}]."""
    convert = convert or (lambda s: s)
    out = []
    for a, article in enumerate(data):
        paragraphs, questions = [], []
        for p in article["paragraphs"]:
            paragraphs.append(clean(convert(p["context"])))
            for qa in p["qas"]:
                answers = list(dict.fromkeys(clean(convert(x["text"])) for x in qa["answers"]))
                questions.append((len(paragraphs) - 1, f"{dataset}-{qa['id']}", clean(convert(qa["question"])),
                                  [x for x in answers if x]))
        out.append({"id": f"{dataset}-{article.get('id', a)}", "paragraphs": paragraphs, "questions": questions})
    return out


def build(items: list[dict], source: str, rng: random.Random, counts: Counter, split: str) -> list[dict]:
    """Question rows of one split (``items`` from :func:`articles`), each with ``DISTRACTORS`` distractors."""
    every = [(k, i) for k, art in enumerate(items) for i in range(len(art["paragraphs"]))]
    chars = [[set(_HAN.findall(p)) for p in art["paragraphs"]] for art in items]
    rows = []
    for k, art in enumerate(items):
        for i, qid, question, answers in art["questions"]:
            own = art["paragraphs"][i]
            if not answers or not any(a in own for a in answers):
                counts[f"{split}: dropped, answer not in its paragraph"] += 1
                continue
            q = set(_HAN.findall(question))
            candidates = [(k, j) for j in range(len(art["paragraphs"])) if j != i]
            candidates += [c for c in rng.sample(every, min(POOL, len(every))) if c[0] != k]
            candidates = [c for c in dict.fromkeys(candidates)
                          if not any(a in items[c[0]]["paragraphs"][c[1]] for a in answers)]
            candidates.sort(key=lambda c: (-len(q & chars[c[0]][c[1]]), c))
            passages = [own] + [items[a]["paragraphs"][b] for a, b in candidates[:DISTRACTORS]]
            rng.shuffle(passages)
            rows.append({"id": qid, "source": source, "question": question, "answers": answers,
                         "passages": passages, "has_answer": [any(a in p for a in answers) for p in passages]})
            counts[f"{split}: questions from {source}"] += 1
    return rows


def paths_in(folder: Path) -> dict[str, Path]:
    return {s: folder / f"{s}.jsonl" for s in SPLITS} | {"counts": folder / "counts.json"}


def prepare(source: Path | None = None, cache: Path | None = None, seed: int = 0) -> dict[str, Path]:
    """The three splits as JSONL in the cache (built once), from ``source`` (default: the vendored copy)."""
    paths = paths_in((cache or cache_dir()) / "reading")
    if all(p.exists() for p in paths.values()):
        return paths
    from opencc import OpenCC

    t2s = OpenCC("t2s").convert
    source = Path(source or SOURCE)
    rng, counts = random.Random(seed), Counter()
    splits = {}
    for split, files in FILES.items():
        splits[split] = []
        for dataset, name in files:
            items = articles(read_squad(fetch(name, source)), dataset, t2s if dataset == "drcd" else None)
            splits[split] += build(items, dataset, rng, counts, split)
        counts[f"{split}: questions"] = len(splits[split])
    paths["counts"].parent.mkdir(parents=True, exist_ok=True)
    for split, rows in splits.items():
        paths[split].write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    paths["counts"].write_text(json.dumps(dict(sorted(counts.items())), ensure_ascii=False, indent=1),
                               encoding="utf-8")
    return paths


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in Path(path).read_text(encoding="utf-8").splitlines() if line]


def main(argv=None):
    prepare_command(prepare, __doc__, argv, f"folder with the five files (default: {SOURCE.relative_to(REPO)})")


if __name__ == "__main__":
    main()
