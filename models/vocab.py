"""Characters: the vocabulary shared by the character-level models (0 is padding, 1 is <unk>), and what counts as a
Chinese character — one definition for the whole project (models, tabs and data commands)."""
from __future__ import annotations

import re
from collections import Counter
from pathlib import Path
from typing import Iterable, Sequence

PAD, UNK = "<pad>", "<unk>"
HAN = "\u3400-\u4dbf\u4e00-\u9fff"  # CJK unified ideographs and extension A (a character class body, for patterns)
CJK = re.compile(f"[{HAN}]")         # one Chinese character
CJK_ONLY = re.compile(f"[{HAN}]+")   # use with .fullmatch: Chinese characters and nothing else


class Vocab:
    """Characters (or words) ↔ ids; 0 is padding, 1 is <unk>."""

    def __init__(self, chars: list[str]):
        self.itos = [PAD, UNK] + [c for c in chars if c not in (PAD, UNK)]
        self.stoi = {c: i for i, c in enumerate(self.itos)}

    @classmethod
    def from_texts(cls, texts: Iterable[Sequence[str]], min_count: int = 2) -> "Vocab":
        """Every unit (a character of a string, or an item of a list of words) seen at least ``min_count`` times,
        most frequent first (ties in code-point order, so the same texts always give the same ids)."""
        counts = Counter(unit for text in texts for unit in text)
        return cls(sorted((c for c, n in counts.items() if n >= min_count), key=lambda c: (-counts[c], c)))

    def __len__(self):
        return len(self.itos)

    def encode(self, text) -> list[int]:
        return [self.stoi.get(c, 1) for c in text]

    def decode(self, ids) -> str:
        return "".join(self.itos[i] for i in ids)

    def save(self, path: Path) -> None:
        Path(path).write_text("\n".join(self.itos) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, path: Path) -> "Vocab":
        return cls(Path(path).read_text(encoding="utf-8").splitlines())
