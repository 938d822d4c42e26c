"""Couplet robot by sequence labelling: a CNN that writes the lower line character by character.

Su Jianlin, 基于CNN和序列标注的对联机器人, https://kexue.fm/archives/6270
(reference code: bojone/seq2seq ``couplet_by_seq_tagging.py``).

A couplet's lower line has the upper line's length and answers it position by position, so Su drops seq2seq:
tag every upper character with its lower character. Embedding(V, 128) → Dropout → 6 gated residual blocks →
per-position softmax over the vocabulary. A block is

    h, g = Conv1D(2d, 3, same)(x)          # split the 2d channels in halves
    out  = x ⊗ σ(g) + h ⊗ σ(−g)            # a gate between keeping x and taking the new h

Decoding (Su's rule): per-position argmax, never <unk>, never the upper line's character at the same position
(:func:`decode_greedy`). We add n-best: positions are independent given the upper line, so the k best lower lines
by Σ log p are found exactly (:func:`k_best`), or lines are sampled with a temperature; :func:`write_lower` is what
the tab calls (candidates with their tones, optionally re-ranked by tone opposition).
"""
from __future__ import annotations

import heapq
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import torch.nn as nn

from models import checkpoint
from models.vocab import Vocab


@dataclass
class CoupletConfig:
    vocab_size: int = 6000
    dim: int = 128
    n_blocks: int = 6
    kernel: int = 3
    dropout: float = 0.25
    max_len: int = 32  # longest line the app accepts (the net itself is length-agnostic)


class GatedResidualConv(nn.Module):
    """out = x·σ(g) + h·σ(−g) with (h, g) = Conv1D(2d, k)(x)."""

    def __init__(self, dim: int, kernel: int):
        super().__init__()
        self.conv = nn.Conv1d(dim, 2 * dim, kernel, padding=kernel // 2)

    def forward(self, x):  # x: (B, d, T)
        h, g = self.conv(x).chunk(2, dim=1)  # (B, d, T) each
        return x * torch.sigmoid(g) + h * torch.sigmoid(-g)


class CoupletNet(nn.Module):
    def __init__(self, cfg: CoupletConfig):
        super().__init__()
        self.cfg = cfg
        self.embed = nn.Embedding(cfg.vocab_size, cfg.dim, padding_idx=0)
        self.drop = nn.Dropout(cfg.dropout)
        self.blocks = nn.Sequential(*[GatedResidualConv(cfg.dim, cfg.kernel) for _ in range(cfg.n_blocks)])
        self.head = nn.Linear(cfg.dim, cfg.vocab_size)

    def forward(self, ids):  # ids: (B, T) upper-line character ids → logits (B, T, V)
        x = self.drop(self.embed(ids)).transpose(1, 2)  # (B, d, T): Conv1d wants channels first
        x = self.blocks(x).transpose(1, 2)  # (B, T, d)
        return self.head(x)


def allowed_log_probs(logits: torch.Tensor, upper_ids: list[int], temperature: float = 1.0) -> torch.Tensor:
    """Per-position log-probabilities under Su's rule: <pad>, <unk> and the upper character at the same
    position are impossible. logits: (T, V) → (T, V)."""
    logits = logits / max(temperature, 1e-6)
    mask = torch.zeros_like(logits, dtype=torch.bool)
    mask[:, :2] = True
    mask[torch.arange(len(upper_ids)), torch.tensor(upper_ids)] = True
    return torch.log_softmax(logits.masked_fill(mask, float("-inf")), dim=-1)


def k_best(logp: torch.Tensor, k: int, beam: int = 8) -> list[tuple[float, list[int]]]:
    """The k highest-scoring lines Σ_t logp[t, y_t] (positions are independent), best first.

    Exact: best-first search over the per-position top-``beam`` lists (Lawler-style: each popped line spawns the
    lines that move one position one step down its list).
    """
    top_lp, top_id = logp.topk(min(beam, logp.shape[1]), dim=-1)  # (T, beam)
    top_lp, top_id = top_lp.tolist(), top_id.tolist()
    T = len(top_lp)
    start = (0,) * T
    heap = [(-sum(row[0] for row in top_lp), start)]
    seen = {start}
    out = []
    while heap and len(out) < k:
        neg, ranks = heapq.heappop(heap)
        if neg == float("inf"):
            break
        out.append((-neg, [top_id[t][r] for t, r in enumerate(ranks)]))
        for t in range(T):
            if ranks[t] + 1 < len(top_lp[t]):
                nxt = ranks[:t] + (ranks[t] + 1,) + ranks[t + 1:]
                if nxt not in seen:
                    seen.add(nxt)
                    score = -neg - top_lp[t][ranks[t]] + top_lp[t][ranks[t] + 1]
                    heapq.heappush(heap, (-score, nxt))
    return out


def sample(logp: torch.Tensor, n: int, generator: torch.Generator) -> list[tuple[float, list[int]]]:
    """n lines sampled position by position from ``logp`` (already temperature-scaled), distinct, best first."""
    probs = logp.exp()  # (T, V)
    lines = {}
    for _ in range(n * 4):
        ids = torch.multinomial(probs, 1, generator=generator).squeeze(1)  # (T,)
        key = tuple(ids.tolist())
        if key not in lines:
            lines[key] = float(logp[torch.arange(len(key)), ids].sum())
        if len(lines) == n:
            break
    return sorted(((s, list(k)) for k, s in lines.items()), reverse=True)


def load(folder) -> tuple[CoupletNet, Vocab]:
    """(model in eval mode, its vocabulary) from a checkpoint folder (models/checkpoint.py)."""
    config, weights = checkpoint.read_folder(folder, legacy="couplet.safetensors")
    model = CoupletNet(checkpoint.config_from(CoupletConfig, config))
    model.load_state_dict(weights)
    return model.eval(), Vocab.load(Path(folder) / "vocab.txt")


def save(model_and_vocab: tuple[CoupletNet, Vocab], folder, card: str) -> None:
    """Write what :func:`load` reads: fp16 weights, config, card and vocab.txt."""
    model, vocab = model_and_vocab
    checkpoint.save_folder(folder, model.state_dict(), asdict(model.cfg), card)
    vocab.save(Path(folder) / "vocab.txt")


@torch.no_grad()
def decode_greedy(model: CoupletNet, vocab: Vocab, uppers: list[str], device="cpu") -> list[str]:
    """Su's rule, batched by length: per-position argmax without <unk> or the same-position character."""
    model.eval()
    out = {}
    by_len: dict[int, list[int]] = {}
    for i, u in enumerate(uppers):
        by_len.setdefault(len(u), []).append(i)
    for idx in by_len.values():
        ids = [vocab.encode(uppers[i]) for i in idx]
        logits = model(torch.tensor(ids, device=device)).float().cpu()
        for i, row, up in zip(idx, logits, ids):
            out[i] = vocab.decode(allowed_log_probs(row, up).argmax(-1).tolist())
    return [out[i] for i in range(len(uppers))]


@dataclass
class Candidate:
    """A lower line with its score and tones."""
    lower: str
    log_p: float                 # Σ_t log p(y_t | upper) under Su's rule (at the sampling temperature)
    tones: str                   # 平 / 仄 / ○ per character (:func:`tone_pattern`)
    marks: list[bool | None]     # per position: opposed to the upper line's tone? None where unknown
    opposed: float               # share of opposed positions among the known ones


@torch.inference_mode()
def write_lower(model: CoupletNet, vocab: Vocab, upper: str, n: int = 5, sampled: bool = False,
                temperature: float = 1.0, rerank_by_tone: bool = False, seed: int = 0) -> list[Candidate]:
    """The ``n`` best lower lines for ``upper`` (exact k-best), or ``n`` distinct lines sampled at ``temperature``
    from a generator seeded with ``seed``; with ``rerank_by_tone``, 4n lines ranked by tone opposition, then log p."""
    model.eval()
    ids = vocab.encode(upper)
    logits = model(torch.tensor([ids]))[0]  # (T, V)
    pool = n * 4 if rerank_by_tone else n
    if sampled:
        found = sample(allowed_log_probs(logits, ids, temperature), pool, torch.Generator().manual_seed(seed))
    else:
        found = k_best(allowed_log_probs(logits, ids), pool)
    upper_tones = tone_pattern(upper)
    out = []
    for score, line in found:
        lower = vocab.decode(line)
        tones = tone_pattern(lower)
        marks, share = oppose(upper_tones, tones)
        out.append(Candidate(lower, score, tones, marks, share))
    if rerank_by_tone:
        out.sort(key=lambda c: (-c.opposed, -c.log_p))
    return out[:n]


# ----------------------------------------------------------------------------------------------------------------
# 平仄 (tones) and metrics
# ----------------------------------------------------------------------------------------------------------------

def tone_pattern(text: str) -> str:
    """平 (level: Mandarin tones 1, 2) / 仄 (oblique: tones 3, 4) per character; ○ where unknown.

    Modern Mandarin readings (PyPI pypinyin): characters of the old entering tone (入声), which classical
    prosody counts as 仄, may come out 平 — a known limit of any Mandarin-based check.
    """
    from pypinyin import Style, pinyin

    out = []
    for (syllable,) in pinyin(text, style=Style.TONE3, heteronym=False, errors=lambda s: [["?"] for _ in s]):
        tone = syllable[-1] if syllable and syllable[-1].isdigit() else ""
        out.append("平" if tone in ("1", "2") else "仄" if tone in ("3", "4") else "○")
    return "".join(out)


def tone_opposition(upper: str, lower: str) -> tuple[list[bool | None], float]:
    """Per position: are the tones opposed (平 against 仄)? None where a tone is unknown. Returns the list and the
    share of opposed positions among the known ones."""
    return oppose(tone_pattern(upper), tone_pattern(lower))


def oppose(upper_tones: str, lower_tones: str) -> tuple[list[bool | None], float]:
    """:func:`tone_opposition` on two tone patterns already computed."""
    marks = [None if "○" in (x, y) else x != y for x, y in zip(upper_tones, lower_tones)]
    known = [m for m in marks if m is not None]
    return marks, (sum(known) / len(known) if known else 0.0)


def char_bleu(hypotheses: list[str], references: list[str], max_n: int = 4) -> float:
    """Corpus-level BLEU over characters (one reference each, add-one smoothing for n > 1)."""
    import math
    from collections import Counter

    log_p = 0.0
    for n in range(1, max_n + 1):
        match = total = 0
        for h, r in zip(hypotheses, references):
            hc = Counter(h[i:i + n] for i in range(len(h) - n + 1))
            rc = Counter(r[i:i + n] for i in range(len(r) - n + 1))
            match += sum(min(c, rc[g]) for g, c in hc.items())
            total += max(0, len(h) - n + 1)
        if total:  # add-one smoothing for n > 1; a floor for unigrams so that no match is not log(0)
            log_p += math.log((match + 1) / (total + 1)) if n > 1 else math.log(max(match, 0.1) / total)
    hyp_len, ref_len = sum(map(len, hypotheses)), sum(map(len, references))
    bp = 1.0 if hyp_len >= ref_len else math.exp(1 - ref_len / max(1, hyp_len))
    return bp * math.exp(log_p / max_n)


def lower_line_metrics(uppers: list[str], hypotheses: list[str], references: list[str]) -> dict[str, float]:
    """What the card and the benchmark report of lower lines written for ``uppers`` against the poets' own:
    character BLEU-2 and BLEU-4, character accuracy, share of tone-opposed positions, share of 仄-ending upper lines
    answered by a 平 ending, share of lines repeating an upper character at the same position."""
    acc = sum(h == r for hy, re_ in zip(hypotheses, references) for h, r in zip(hy, re_)) / sum(map(len, references))
    opposed = sum(tone_opposition(u, h)[1] for u, h in zip(uppers, hypotheses)) / len(hypotheses)
    zeze = [h for u, h in zip(uppers, hypotheses) if tone_pattern(u[-1]) == "仄"]
    ends = sum(tone_pattern(h[-1]) == "平" for h in zeze) / max(1, len(zeze))
    repeat = sum(any(a == b for a, b in zip(u, h)) for u, h in zip(uppers, hypotheses)) / len(hypotheses)
    return {"bleu2": char_bleu(hypotheses, references, 2), "bleu4": char_bleu(hypotheses, references),
            "accuracy": acc, "opposed": opposed, "ping_ending": ends, "same_position_repeat": repeat}
