"""DGCNN — dilated gated convolutional reading comprehension (Su 2018, kexue.fm/archives/5409), in PyTorch.

The building block is a gated residual 1-D convolution with dilation r:

    Y = X ⊗ (1 − σ) + Conv1D₁(X) ⊗ σ,       σ = sigmoid(Conv1D₂(X))

— where the gate σ is closed (0) the block passes X through unchanged, so stacking many is as easy to train as a
residual net, and where it opens the convolution's new features flow in. Both convolutions are one convolution with
2d outputs. During training the gate's pre-activation is perturbed, σ(Conv1D₂(X) ⊗ (1 + ε)), ε ~ U[−0.1, 0.1]
(Su's regulariser).

The model (Su's WebQA entry): characters are embedded; the **question** is encoded by blocks with rates 1, 2, 1 and
pooled into one vector by additive attention; every **passage** character, plus Su's hand-made match feature (does
this character occur in the question?), is concatenated with that vector, projected, and encoded by blocks with
rates 1, 2, 4, 8, 16, 1 (a receptive field of 65 characters). Three sigmoid heads: the start and the end of the
answer at each position, and whether the passage holds an answer at all (from the attention-pooled passage); the
start and end probabilities are multiplied by the passage-level one. Trained with a focal loss. Decoding picks
i ≤ j < i + max_len maximising start_i · end_j in each passage, then votes across passages: an answer found in
several passages scores 1 − Π(1 − s_k) (noisy-OR). :func:`read` is the whole way from a question and passages
(text) to the answer; :func:`scores` measures answers as extractive QA does (exact match, character F1).
"""
from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import torch.nn as nn

from models import checkpoint
from models.vocab import Vocab


@dataclass
class DGCNNConfig:
    vocab_size: int
    dim: int = 128
    kernel: int = 3
    question_rates: tuple = (1, 2, 1)
    passage_rates: tuple = (1, 2, 4, 8, 16, 1)
    dropout: float = 0.1
    gate_noise: float = 0.1   # ε ~ U[−gate_noise, gate_noise] multiplies the gate's pre-activation in training
    max_answer: int = 40      # longest answer span (characters) at decoding


class GatedDilatedBlock(nn.Module):
    """(B, T, d) → (B, T, d): Y = X ⊗ (1 − σ) + Conv1D₁(X) ⊗ σ, padding positions kept at zero."""

    def __init__(self, dim: int, rate: int, kernel: int = 3, gate_noise: float = 0.0):
        super().__init__()
        self.conv = nn.Conv1d(dim, 2 * dim, kernel, dilation=rate, padding=rate * (kernel - 1) // 2)
        self.gate_noise = gate_noise

    def forward(self, x, mask):
        h, g = self.conv((x * mask).transpose(1, 2)).transpose(1, 2).chunk(2, dim=-1)  # (B, T, d) each
        if self.training and self.gate_noise:
            g = g * (1 + (2 * torch.rand_like(g) - 1) * self.gate_noise)
        sigma = torch.sigmoid(g)
        return (x * (1 - sigma) + h * sigma) * mask


class AttentionPool(nn.Module):
    """Additive attention pooling: (B, T, d), mask (B, T, 1) → (B, d), weights (B, T)."""

    def __init__(self, dim: int):
        super().__init__()
        self.proj = nn.Linear(dim, dim)
        self.score = nn.Linear(dim, 1, bias=False)

    def forward(self, x, mask):
        logits = self.score(torch.tanh(self.proj(x))).squeeze(-1)            # (B, T)
        logits = logits.masked_fill(mask.squeeze(-1) == 0, -1e12)
        weights = torch.softmax(logits, dim=-1)
        return (weights.unsqueeze(-1) * x).sum(1), weights


class DGCNN(nn.Module):
    def __init__(self, cfg: DGCNNConfig):
        super().__init__()
        self.cfg = cfg
        d = cfg.dim
        self.embed = nn.Embedding(cfg.vocab_size, d, padding_idx=0)
        self.drop = nn.Dropout(cfg.dropout)
        self.question_blocks = nn.ModuleList(GatedDilatedBlock(d, r, cfg.kernel, cfg.gate_noise)
                                             for r in cfg.question_rates)
        self.question_pool = AttentionPool(d)
        self.in_question = nn.Embedding(2, d)   # Su's match feature: 1 where the passage character is in the question
        self.merge = nn.Linear(2 * d, d)
        self.passage_blocks = nn.ModuleList(GatedDilatedBlock(d, r, cfg.kernel, cfg.gate_noise)
                                            for r in cfg.passage_rates)
        self.passage_pool = AttentionPool(d)
        self.start = nn.Linear(d, 1)
        self.end = nn.Linear(d, 1)
        self.has_answer = nn.Linear(2 * d, 1)

    def encode_question(self, q_ids):
        """(B, Tq) → question vector (B, d)."""
        mask = (q_ids > 0).unsqueeze(-1).float()
        x = self.drop(self.embed(q_ids)) * mask
        for block in self.question_blocks:
            x = block(x, mask)
        return self.question_pool(x, mask)[0]

    def forward(self, q_ids, p_ids):
        """q_ids (B, Tq), p_ids (B, Tp) → start (B, Tp), end (B, Tp), has_answer (B,) — probabilities; start and end
        already multiplied by has_answer, 0 on padding."""
        q = self.encode_question(q_ids)                                              # (B, d)
        mask = (p_ids > 0).unsqueeze(-1).float()                                     # (B, Tp, 1)
        # (B, Tp): the character occurs in the question (padding and <unk> never match)
        match = ((p_ids.unsqueeze(2) == q_ids.unsqueeze(1)) & (q_ids > 1).unsqueeze(1)).any(-1).long()
        x = self.drop(self.embed(p_ids) + self.in_question(match))
        x = self.merge(torch.cat([x, q.unsqueeze(1).expand_as(x)], dim=-1)) * mask   # (B, Tp, d)
        for block in self.passage_blocks:
            x = block(x, mask)
        pooled = self.passage_pool(x, mask)[0]                                       # (B, d)
        has = torch.sigmoid(self.has_answer(torch.cat([pooled, q], dim=-1))).squeeze(-1)  # (B,)
        keep = mask.squeeze(-1)
        start = torch.sigmoid(self.start(x)).squeeze(-1) * has.unsqueeze(1) * keep
        end = torch.sigmoid(self.end(x)).squeeze(-1) * has.unsqueeze(1) * keep
        return start, end, has


def focal_loss(p, target, mask, gamma: float = 2.0, eps: float = 1e-7):
    """Binary focal loss −(1 − p)^γ y log p − p^γ (1 − y) log(1 − p), averaged over unmasked positions: the many easy
    non-answer positions count little, so the rare answer boundaries are not drowned out."""
    p = p.clamp(eps, 1 - eps)
    loss = -(target * (1 - p) ** gamma * torch.log(p) + (1 - target) * p ** gamma * torch.log(1 - p))
    return (loss * mask).sum() / mask.sum().clamp(min=1)


def best_span(start: torch.Tensor, end: torch.Tensor, max_len: int) -> tuple[int, int, float]:
    """The span (i, j), i ≤ j < i + max_len, maximising start[i]·end[j] → (i, j, score); (−1, −1, 0) if empty."""
    T = len(start)
    if T == 0:
        return -1, -1, 0.0
    scores = start.unsqueeze(1) * end.unsqueeze(0)                      # (T, T): [i, j]
    i_idx = torch.arange(T).unsqueeze(1)
    j_idx = torch.arange(T).unsqueeze(0)
    allowed = (j_idx >= i_idx) & (j_idx < i_idx + max_len)
    scores = scores.masked_fill(~allowed, -1.0)
    flat = int(scores.argmax())
    i, j = divmod(flat, T)
    return i, j, float(scores[i, j])


def vote(candidates: list[tuple[str, float]]) -> list[tuple[str, float]]:
    """Per-passage (answer, score) → answers ranked by noisy-OR 1 − Π(1 − s) over the passages that found them."""
    miss: dict[str, float] = {}
    for text, score in candidates:
        if text and score > 0:
            miss[text] = miss.get(text, 1.0) * (1.0 - min(max(score, 0.0), 1.0))
    return sorted(((t, 1.0 - m) for t, m in miss.items()), key=lambda x: -x[1])


def windows(text: str, size: int, stride: int) -> list[tuple[int, str]]:
    """Overlapping windows (offset, piece) covering ``text``; one window when it fits. Consecutive windows share
    size − stride characters, so an answer shorter than that lies whole inside at least one window."""
    if len(text) <= size:
        return [(0, text)]
    starts = list(range(0, len(text) - size, stride)) + [len(text) - size]
    return [(s, text[s:s + size]) for s in starts]


@torch.no_grad()
def read(model: DGCNN, vocab, question: str, passages: list[str], window: int = 256, stride: int = 192) -> dict:
    """Answer ``question`` from ``passages`` (text) → {"answer", "score", "ranked": [(answer, score)],
    "spans": [per passage: (start, end, score) in that passage's characters, or None], "has": [per passage]}.

    Characters are the model's units, so a span of ids is a span of the text. Long passages are read as
    overlapping windows; each passage keeps its best window's span; the answers are voted across passages."""
    model.eval()
    pieces = [(k, off, piece) for k, text in enumerate(passages) for off, piece in windows(text, window, stride)]
    if not question or not pieces:
        return {"answer": "", "score": 0.0, "ranked": [], "spans": [None] * len(passages), "has": [0.0] * len(passages)}
    q = torch.tensor([vocab.encode(question)]).expand(len(pieces), -1)
    T = max(len(p) for _, _, p in pieces)
    p_ids = torch.tensor([vocab.encode(p) + [0] * (T - len(p)) for _, _, p in pieces])
    start, end, has = model(q, p_ids)
    spans, has_by_passage = [None] * len(passages), [0.0] * len(passages)
    for row, (k, off, piece) in enumerate(pieces):
        has_by_passage[k] = max(has_by_passage[k], float(has[row]))
        i, j, score = best_span(start[row, :len(piece)], end[row, :len(piece)], model.cfg.max_answer)
        if i >= 0 and (spans[k] is None or score > spans[k][2]):
            spans[k] = (off + i, off + j, score)
    ranked = vote([(passages[k][s[0]:s[1] + 1], s[2]) for k, s in enumerate(spans) if s])
    answer, score = ranked[0] if ranked else ("", 0.0)
    return {"answer": answer, "score": score, "ranked": ranked, "spans": spans, "has": has_by_passage}


def load(folder) -> tuple[DGCNN, Vocab]:
    """(model in eval mode, its vocabulary) from a checkpoint folder (models/checkpoint.py)."""
    config, weights = checkpoint.read_folder(folder, legacy="dgcnn.safetensors")
    model = DGCNN(checkpoint.config_from(DGCNNConfig, config))
    model.load_state_dict(weights)
    return model.eval(), Vocab.load(Path(folder) / "vocab.txt")


def save(model_and_vocab: tuple[DGCNN, Vocab], folder, card: str) -> None:
    """Write what :func:`load` reads: fp16 weights, config, card and vocab.txt."""
    model, vocab = model_and_vocab
    checkpoint.save_folder(folder, model.state_dict(), asdict(model.cfg), card)
    vocab.save(Path(folder) / "vocab.txt")


def char_f1(pred: str, gold: str) -> float:
    """Character-level F1 (multiset overlap), the usual metric of Chinese extractive QA."""
    common = sum((Counter(pred) & Counter(gold)).values())
    if not common:
        return 0.0
    precision, recall = common / len(pred), common / len(gold)
    return 2 * precision * recall / (precision + recall)


def scores(predictions: list[str], rows: list[dict], types=None) -> dict:
    """EM, character F1 and Su's (EM + F1) / 2 — over all ``rows`` ({"answer", "type"}) and per question type, in
    the order of ``types`` (default: the order the types first appear)."""
    out = {}
    types = list(types or dict.fromkeys(r["type"] for r in rows))
    groups = {"all": range(len(rows))} | {t: [i for i, r in enumerate(rows) if r["type"] == t] for t in types}
    for name, idx in groups.items():
        if not idx:
            continue
        em = sum(predictions[i] == rows[i]["answer"] for i in idx) / len(idx)
        f1 = sum(char_f1(predictions[i], rows[i]["answer"]) for i in idx) / len(idx)
        out[name] = {"n": len(idx), "em": em, "f1": f1, "score": (em + f1) / 2}
    return out
