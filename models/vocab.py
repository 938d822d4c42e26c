"""A character vocabulary shared by the character-level models: 0 is padding, 1 is <unk>."""
from __future__ import annotations

from pathlib import Path

PAD, UNK = "<pad>", "<unk>"


class Vocab:
    """Characters ↔ ids; 0 is padding, 1 is <unk>."""

    def __init__(self, chars: list[str]):
        self.itos = [PAD, UNK] + [c for c in chars if c not in (PAD, UNK)]
        self.stoi = {c: i for i, c in enumerate(self.itos)}

    def __len__(self):
        return len(self.itos)

    def encode(self, text: str) -> list[int]:
        return [self.stoi.get(c, 1) for c in text]

    def decode(self, ids) -> str:
        return "".join(self.itos[i] for i in ids)

    def save(self, path: Path) -> None:
        Path(path).write_text("\n".join(self.itos) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, path: Path) -> "Vocab":
        return cls(Path(path).read_text(encoding="utf-8").splitlines())
