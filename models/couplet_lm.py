"""A character language model of whole couplets, to make the couplet tagger's lower lines read as language.

Su's tagger (models/couplet.py) picks every lower character from the upper line alone: each position is right for
its neighbour in the upper line, but nothing asks whether the lower characters make sense *together*. This model
reads a couplet as one text, ``<eos> 上联 <sep> 下联 <eos>``, and learns

    p(text) = Π_t p(x_t | x_<t)                       (a small GPT: causal self-attention, character tokens)

so that, after ``<eos> 上联 <sep>``, it scores a lower line by how well it reads *and* how well it answers this upper
line. The couplet decoder (models/couplet.py :func:`beam_search`) adds its log-probability to the tagger's.
Trained on the same pairs as the tagger: real couplets and the middle couplets of regulated verse.

nanoGPT-shaped: pre-norm blocks, learned positions, weights of the input embedding and the output head tied.
With ``columns`` each token also gets the embedding of its *column*, its place within its own line (the markers
share one more): the lower character at column t and the upper character it answers carry the same vector, so
attention finds "the character I face" with one dot product instead of learning, for every line length L, that the
token L + 1 places back is the one. A couplet is aligned position by position; this tells the model so.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F

from models import checkpoint
from models.vocab import Vocab

SEP, EOS = "<sep>", "<eos>"  # tokens after the characters in the vocabulary (see :func:`lm_vocab`)


@dataclass
class CoupletLMConfig:
    vocab_size: int = 6000
    dim: int = 192
    n_layers: int = 3
    n_heads: int = 4
    max_len: int = 72  # tokens: <eos> + 34 + <sep> + 34 + <eos>
    dropout: float = 0.1
    columns: bool = False  # add a column embedding: the place within the line, shared by both lines


class Block(nn.Module):
    def __init__(self, cfg: CoupletLMConfig):
        super().__init__()
        self.n_heads = cfg.n_heads
        self.ln1, self.ln2 = nn.LayerNorm(cfg.dim), nn.LayerNorm(cfg.dim)
        self.qkv = nn.Linear(cfg.dim, 3 * cfg.dim)
        self.proj = nn.Linear(cfg.dim, cfg.dim)
        self.mlp = nn.Sequential(nn.Linear(cfg.dim, 4 * cfg.dim), nn.GELU(), nn.Linear(4 * cfg.dim, cfg.dim))
        self.drop = nn.Dropout(cfg.dropout)

    def forward(self, x, past=None):  # x: (B, T, d); past: keys and values (B, h, T_past, dh) of earlier tokens
        B, T, d = x.shape
        q, k, v = self.qkv(self.ln1(x)).split(d, dim=2)
        q, k, v = (t.view(B, T, self.n_heads, d // self.n_heads).transpose(1, 2) for t in (q, k, v))  # (B, h, T, dh)
        if past is not None:  # decoding one token at a time: it attends to every earlier one, so no mask
            k, v = torch.cat([past[0], k], 2), torch.cat([past[1], v], 2)
        a = F.scaled_dot_product_attention(q, k, v, is_causal=past is None,
                                           dropout_p=self.drop.p if self.training else 0.0)
        x = x + self.drop(self.proj(a.transpose(1, 2).reshape(B, T, d)))
        return x + self.drop(self.mlp(self.ln2(x))), (k, v)


class CoupletLM(nn.Module):
    def __init__(self, cfg: CoupletLMConfig):
        super().__init__()
        self.cfg = cfg
        self.embed = nn.Embedding(cfg.vocab_size, cfg.dim)
        self.pos = nn.Embedding(cfg.max_len, cfg.dim)
        # columns 0 … max_len/2 − 2 of a line, then one for the markers <eos> and <sep>
        self.col = nn.Embedding(cfg.max_len // 2, cfg.dim) if cfg.columns else None
        self.drop = nn.Dropout(cfg.dropout)
        self.blocks = nn.ModuleList(Block(cfg) for _ in range(cfg.n_layers))
        self.ln = nn.LayerNorm(cfg.dim)
        self.head = nn.Linear(cfg.dim, cfg.vocab_size, bias=False)
        self.head.weight = self.embed.weight  # tied: a character's input and output vectors are one
        self.apply(self._init)
        for name, p in self.named_parameters():  # GPT-2's scaled init of the residual projections
            if name.endswith(("proj.weight", "mlp.2.weight")):
                nn.init.normal_(p, std=0.02 / math.sqrt(2 * cfg.n_layers))

    @staticmethod
    def _init(m):
        if isinstance(m, (nn.Linear, nn.Embedding)):
            nn.init.normal_(m.weight, std=0.02)
        if isinstance(m, nn.Linear) and m.bias is not None:
            nn.init.zeros_(m.bias)

    def column_ids(self, start: int, length: int, line_len: int) -> torch.Tensor:
        """Columns of the tokens start … start + length − 1 of ``<eos> upper <sep> lower <eos>`` (lines of
        ``line_len`` characters): t for the t-th character of either line, the last id for the markers."""
        i = torch.arange(start, start + length)
        upper = (i >= 1) & (i <= line_len)
        lower = (i >= line_len + 2) & (i <= 2 * line_len + 1)
        marker = torch.full_like(i, self.cfg.max_len // 2 - 1)
        return torch.where(upper, i - 1, torch.where(lower, i - line_len - 2, marker))

    def forward(self, ids, cache: list | None = None, line_len: int | None = None):
        """ids: (B, T) → logits (B, T, V). With ``cache`` (a list: empty for a first call, then what the previous
        call returned, rows reordered to follow the beams), ``ids`` continue the cached tokens and the call returns
        (logits, new cache) — the decoder's key-value cache, so a beam step costs one token per beam.
        ``line_len``: the upper line's length, which the column embedding needs; without a cache it is read from
        the ids (``<eos> upper <sep> lower``, complete or not: T = 2L + 2 or 2L + 3)."""
        past = cache[0][0].shape[2] if cache else 0
        x = self.embed(ids) + self.pos(torch.arange(past, past + ids.shape[1], device=ids.device))
        if self.col is not None:
            if line_len is None:
                assert not cache, "decoding with a cache needs the line length"
                line_len = (ids.shape[1] - 2) // 2
            x = x + self.col(self.column_ids(past, ids.shape[1], line_len).to(ids.device))
        x = self.drop(x)
        new = []
        for i, block in enumerate(self.blocks):
            x, kv = block(x, cache[i] if cache else None)
            new.append(kv)
        logits = self.head(self.ln(x))
        return logits if cache is None else (logits, new)


def lm_vocab(chars: Vocab) -> Vocab:
    """The tagger's characters followed by <sep> and <eos>: ids of characters are the same in both models."""
    return Vocab(chars.itos[2:] + [SEP, EOS])


def encode_pair(vocab: Vocab, upper: str, lower: str = "") -> list[int]:
    """``<eos> upper <sep> lower`` (+ ``<eos>`` once the lower line is complete)."""
    eos, sep = vocab.stoi[EOS], vocab.stoi[SEP]
    tail = [eos] if len(lower) == len(upper) else []
    return [eos] + vocab.encode(upper) + [sep] + vocab.encode(lower) + tail


@torch.no_grad()
def lower_log_prob(model: CoupletLM, vocab: Vocab, upper: str, lowers: list[str]) -> list[float]:
    """log p(lower <eos> | <eos> upper <sep>) of each candidate lower line (same length as ``upper``)."""
    ids = torch.tensor([encode_pair(vocab, upper, lo) for lo in lowers])  # (N, 2T + 3)
    logp = torch.log_softmax(model(ids[:, :-1], line_len=len(upper)).float(), dim=-1)
    start = len(upper) + 1  # the <sep> position predicts the first lower character
    picked = logp[:, start:].gather(2, ids[:, start + 1:].unsqueeze(2)).squeeze(2)  # (N, T + 1)
    return picked.sum(1).tolist()


def load(folder) -> tuple[CoupletLM, Vocab]:
    """(model in eval mode, its vocabulary) from a checkpoint folder (models/checkpoint.py)."""
    config, weights = checkpoint.read_folder(folder)
    model = CoupletLM(checkpoint.config_from(CoupletLMConfig, config))
    weights.setdefault("head.weight", weights["embed.weight"])  # tied: stored once
    model.load_state_dict(weights)
    return model.eval(), Vocab.load(Path(folder) / "vocab.txt")


def save(model_and_vocab: tuple[CoupletLM, Vocab], folder, card: str) -> None:
    """Write what :func:`load` reads: fp16 weights (the tied head once), config, card and vocab.txt."""
    model, vocab = model_and_vocab
    weights = {k: v for k, v in model.state_dict().items() if k != "head.weight"}
    checkpoint.save_folder(folder, weights, asdict(model.cfg), card)
    vocab.save(Path(folder) / "vocab.txt")
