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
(text) to the answer; :func:`scores` measures answers with the official CMRC 2018 rules (exact match and F1 after
normalisation, the best over the annotators' answers).

What Su's model had that the first version here lacked, each a switch in :class:`DGCNNConfig` (0 / False = off, the
first checkpoint's layout):

* ``words`` — mixed character + word embedding: every character also gets the embedding of the jieba word it
  belongs to (Su added a projected word vector to each character of the word); plus the word-level match feature
  (the character's word occurs among the question's words).
* ``positions`` — a learned position embedding over the window.
* ``match_features`` — Su's hand features: a learned vector added to every passage character that occurs in the
  question (and, with ``words``, whose word is one of the question's words). On in every checkpoint; the switch
  exists to measure them (README, DGCNN section).
* ``question_attention`` — beyond the post: each passage character also attends over the question's characters
  (c = softmax(x Qᵀ/√d) Q, BiDAF's context-to-question attention) and the merge sees [x, q, c, x ⊗ c]. One pooled
  question vector cannot say *which* question word a passage character answers; this is the cheapest fix.
* ``span_softmax`` — beyond the post: start and end as a softmax over the window's positions (× the window's
  has-answer probability), trained with cross-entropy, instead of per-position sigmoids with a focal loss; on real
  questions the focal loss learned an order of magnitude slower (measured: README, DGCNN section).
"""
from __future__ import annotations

import json
import math
import re
from collections import Counter
from dataclasses import asdict, dataclass
from functools import lru_cache
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
    words: int = 0            # word-vocabulary size (0: characters only)
    positions: int = 0        # learned position embeddings (0: none); the longest window the model reads
    question_attention: bool = False   # passage → question character attention (see the module docstring)
    match_features: bool = True   # Su's hand features: the passage character (and its word) occurs in the question
    window: int = 256         # passages are read as overlapping windows of this many characters…
    stride: int = 192         # …starting this far apart
    threshold: float = 0.1    # "no answer" below this best score (calibrated on validation data by the trainer)
    length_penalty: float = 0.0   # the tab's default "prefer short answers" λ (best_span; chosen by the trainer)
    span_softmax: bool = False   # start / end as a softmax over the window instead of sigmoids (span_outputs)


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
        if cfg.match_features:
            self.in_question = nn.Embedding(2, d)   # Su's match feature: 1 where the passage character is in the question
        if cfg.words:
            self.word_embed = nn.Embedding(cfg.words, d, padding_idx=0)
            if cfg.match_features:
                self.word_in_question = nn.Embedding(2, d)   # the character's word is one of the question's words
        if cfg.positions:
            self.position = nn.Embedding(cfg.positions, d)
        self.merge = nn.Linear((4 if cfg.question_attention else 2) * d, d)
        self.passage_blocks = nn.ModuleList(GatedDilatedBlock(d, r, cfg.kernel, cfg.gate_noise)
                                            for r in cfg.passage_rates)
        self.passage_pool = AttentionPool(d)
        self.start = nn.Linear(d, 1)
        self.end = nn.Linear(d, 1)
        self.has_answer = nn.Linear(2 * d, 1)

    def embed_text(self, ids, word_ids=None):
        """(B, T) characters [+ their words' ids] → (B, T, d)."""
        x = self.embed(ids)
        if self.cfg.words and word_ids is not None:
            x = x + self.word_embed(word_ids)
        return x

    def encode_question(self, q_ids, q_words=None):
        """(B, Tq) → (question vector (B, d), encoded characters (B, Tq, d), mask (B, Tq, 1))."""
        mask = (q_ids > 0).unsqueeze(-1).float()
        x = self.drop(self.embed_text(q_ids, q_words)) * mask
        for block in self.question_blocks:
            x = block(x, mask)
        return self.question_pool(x, mask)[0], x, mask

    def forward(self, q_ids, p_ids, q_words=None, p_words=None, logits: bool = False):
        """q_ids (B, Tq), p_ids (B, Tp) [+ the word ids of every character, same shapes, when ``cfg.words``] →
        start (B, Tp), end (B, Tp), has_answer (B,) — probabilities; start and end already multiplied by
        has_answer, 0 on padding (``logits``: see :func:`span_outputs`)."""
        q, q_seq, q_mask = self.encode_question(q_ids, q_words)                      # (B, d), (B, Tq, d)
        mask = (p_ids > 0).unsqueeze(-1).float()                                     # (B, Tp, 1)
        x = passage_inputs(self, q_ids, p_ids, q_words, p_words)                     # (B, Tp, d)
        if self.cfg.positions:
            x = x + self.position(torch.arange(p_ids.shape[1], device=p_ids.device).clamp(max=self.cfg.positions - 1))
        x = self.drop(x)
        parts = [x, q.unsqueeze(1).expand_as(x)]
        if self.cfg.question_attention:
            c = attend(x, q_seq, q_mask)                                             # (B, Tp, d)
            parts += [c, x * c]
        x = self.merge(torch.cat(parts, dim=-1)) * mask                              # (B, Tp, d)
        for block in self.passage_blocks:
            x = block(x, mask)
        pooled = self.passage_pool(x, mask)[0]                                       # (B, d)
        has = self.has_answer(torch.cat([pooled, q], dim=-1)).squeeze(-1)            # (B,) logit
        return span_outputs(self.start(x).squeeze(-1), self.end(x).squeeze(-1), has, mask.squeeze(-1),
                            self.cfg.span_softmax, logits)


def passage_inputs(model, q_ids, p_ids, q_words=None, p_words=None):
    """The passage characters' input vectors (B, Tp, d): character [+ word] embedding + Su's match features — the
    character occurs in the question, and (with words) its word is one of the question's words; padding and <unk>
    never match. ``model`` has ``embed_text``, ``in_question`` (and ``word_in_question``) unless its config turns
    ``match_features`` off."""
    x = model.embed_text(p_ids, p_words)
    if not model.cfg.match_features:
        return x
    match = ((p_ids.unsqueeze(2) == q_ids.unsqueeze(1)) & (q_ids > 1).unsqueeze(1)).any(-1)               # (B, Tp)
    x = x + model.in_question(match.long())
    if model.cfg.words and p_words is not None:
        word_match = ((p_words.unsqueeze(2) == q_words.unsqueeze(1)) & (q_words > 1).unsqueeze(1)).any(-1)
        x = x + model.word_in_question(word_match.long())
    return x


def attend(x, q_seq, q_mask):
    """Passage → question attention: (B, Tp, d), (B, Tq, d), (B, Tq, 1) → c = softmax(x Qᵀ / √d) Q, (B, Tp, d)."""
    att = torch.einsum("bpd,bqd->bpq", x, q_seq) / math.sqrt(x.shape[-1])                                 # (B, Tp, Tq)
    return att.masked_fill(q_mask.transpose(1, 2) == 0, -1e4).softmax(-1) @ q_seq


def span_outputs(start, end, has, keep, softmax: bool, logits: bool = False):
    """The heads' logits (B, T), (B, T), (B,) and the mask (B, T) → start, end, has-answer.

    Sigmoid heads (Su's, ``softmax`` False): start_i = σ(s_i) · p_has. Softmax heads: start_i = softmax(s)_i · p_has
    — one distribution over the window's positions, trained with cross-entropy on the answer's position, which
    learns far faster on real questions than a per-position focal loss (one positive among ~256). With ``logits``
    the raw logits come back (padding at −10⁴), for the loss."""
    start, end = start.masked_fill(keep == 0, -1e4), end.masked_fill(keep == 0, -1e4)
    if logits:
        return start, end, has
    p_has = torch.sigmoid(has)
    squash = (lambda z: z.softmax(-1)) if softmax else torch.sigmoid
    return squash(start) * p_has.unsqueeze(1) * keep, squash(end) * p_has.unsqueeze(1) * keep, p_has


def focal_loss(p, target, mask, gamma: float = 2.0, eps: float = 1e-7):
    """Binary focal loss −(1 − p)^γ y log p − p^γ (1 − y) log(1 − p), averaged over unmasked positions: the many easy
    non-answer positions count little, so the rare answer boundaries are not drowned out."""
    p = p.clamp(eps, 1 - eps)
    loss = -(target * (1 - p) ** gamma * torch.log(p) + (1 - target) * p ** gamma * torch.log(1 - p))
    return (loss * mask).sum() / mask.sum().clamp(min=1)


def best_span(start: torch.Tensor, end: torch.Tensor, max_len: int, length_penalty: float = 0.0
              ) -> tuple[int, int, float]:
    """The span (i, j), i ≤ j < i + max_len, maximising start[i]·end[j]·exp(−length_penalty·(j − i)) → (i, j,
    start[i]·end[j]); (−1, −1, 0) if empty. A penalty > 0 prefers short answers (CMRC's answers are long, a
    visitor's factual questions want short ones: bench/bench_dgcnn.py measures both)."""
    T = len(start)
    if T == 0:
        return -1, -1, 0.0
    raw = start.unsqueeze(1) * end.unsqueeze(0)                         # (T, T): [i, j]
    i_idx = torch.arange(T).unsqueeze(1)
    j_idx = torch.arange(T).unsqueeze(0)
    allowed = (j_idx >= i_idx) & (j_idx < i_idx + max_len)
    scores = raw * torch.exp(-length_penalty * (j_idx - i_idx).clamp(min=0).float()) if length_penalty else raw
    flat = int(scores.masked_fill(~allowed, -1.0).argmax())
    i, j = divmod(flat, T)
    return i, j, float(raw[i, j])


OPENERS, CLOSERS = "（(【[「『《“‘〈", "）)】]」』》”’〉"
EDGE_MARKS = set("，。、；：！？,;:!?…—·") | set(" \t")


def tidy_span(text: str, i: int, j: int) -> tuple[int, int]:
    """Shrink the span text[i..j] (inclusive) past what no answer starts or ends with: separators (，。、：…), a
    closing bracket or quote at the start or an opening one at the end, and a bracket whose partner is not inside the
    span (】129元 → 129元; 《静山集》 stays whole). A span with nothing left is returned as it was."""
    def unpaired(k: int, lo: int, hi: int) -> bool:
        c = text[k]
        if c in OPENERS:
            return CLOSERS[OPENERS.index(c)] not in text[k + 1:hi + 1]
        if c in CLOSERS:
            return OPENERS[CLOSERS.index(c)] not in text[lo:k]
        return False

    a, b = i, j
    while a <= b and (text[a] in EDGE_MARKS or text[a] in CLOSERS or unpaired(a, a, b)):
        a += 1
    while b >= a and (text[b] in EDGE_MARKS or text[b] in OPENERS or unpaired(b, a, b)):
        b -= 1
    return (a, b) if a <= b else (i, j)


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


@lru_cache(maxsize=1)
def _jieba():
    import logging

    import jieba

    jieba.setLogLevel(logging.WARNING)
    return jieba.Tokenizer()


def segment(text: str) -> list[str]:
    """jieba's words of ``text`` (default dictionary, HMM on); they cover the text exactly, in order."""
    return _jieba().lcut(text) if text else []


class Tokenizer:
    """Text → the model's inputs: character ids, and (when the model has words) the id of the jieba word each
    character belongs to — so the two sequences have the same length and a span of either is a span of the text."""

    def __init__(self, chars: Vocab, words: Vocab | None = None):
        self.chars, self.words = chars, words

    def encode(self, text: str) -> tuple[list[int], list[int] | None]:
        if self.words is None:
            return self.chars.encode(text), None
        return self.chars.encode(text), [self.words.stoi.get(w, 1) for w in segment(text) for _ in w]


def pad(rows: list[list], value=0) -> torch.Tensor:
    """Rows of different lengths → one (len(rows), longest) tensor, padded at the end."""
    T = max(map(len, rows))
    return torch.tensor([list(r) + [value] * (T - len(r)) for r in rows])


@torch.no_grad()
def read(model: DGCNN | Ensemble, tok: Tokenizer, question: str, passages: list[str], window: int | None = None,
         stride: int | None = None, length_penalty: float = 0.0) -> dict:
    """Answer ``question`` from ``passages`` (text) → {"answer", "score", "ranked": [(answer, score)],
    "spans": [per passage: (start, end, score) in that passage's characters, or None], "has": [per passage]}.

    Characters are the model's units, so a span of ids is a span of the text. Long passages are read as
    overlapping windows (the model's own size unless given); each passage keeps its best window's span (with
    ``length_penalty``, see :func:`best_span`); the answers are voted across passages. Words are segmented on the
    whole passage, then cut with the windows. An :class:`Ensemble` reads with the mean of its members' probabilities,
    each member with its own tokenizer (``tok`` is then unused)."""
    model.eval()
    window, stride = window or model.cfg.window, stride or model.cfg.stride
    pieces = [(k, off, piece) for k, text in enumerate(passages) for off, piece in windows(text, window, stride)]
    if not question or not pieces:
        return {"answer": "", "score": 0.0, "ranked": [], "spans": [None] * len(passages), "has": [0.0] * len(passages)}
    start, end, has = window_outputs(model, tok, question, passages, pieces)
    spans, has_by_passage = [None] * len(passages), [0.0] * len(passages)
    for row, (k, off, piece) in enumerate(pieces):
        has_by_passage[k] = max(has_by_passage[k], float(has[row]))
        i, j, score = best_span(start[row, :len(piece)], end[row, :len(piece)], model.cfg.max_answer,
                                length_penalty)
        if i >= 0 and (spans[k] is None or score > spans[k][2]):
            spans[k] = (*tidy_span(passages[k], off + i, off + j), score)
    ranked = vote([(passages[k][s[0]:s[1] + 1], s[2]) for k, s in enumerate(spans) if s])
    answer, score = ranked[0] if ranked else ("", 0.0)
    return {"answer": answer, "score": score, "ranked": ranked, "spans": spans, "has": has_by_passage}


def window_outputs(model, tok: Tokenizer, question: str, passages: list[str], pieces: list[tuple[int, int, str]]):
    """The reader's start (W, T), end (W, T) and has-answer (W,) probabilities for every window piece (passage
    index, offset, text) — an :class:`Ensemble`'s are the mean of its members', each encoding with its own tokenizer."""
    if isinstance(model, Ensemble):
        outputs = [window_outputs(m, t, question, passages, pieces) for m, t in model.members]
        return tuple(torch.stack(parts).mean(0) for parts in zip(*outputs))
    q_chars, q_words = tok.encode(question)
    encoded = [tok.encode(text) for text in passages]
    p_ids = pad([encoded[k][0][off:off + len(piece)] for k, off, piece in pieces])
    q_ids = torch.tensor([q_chars]).expand(len(pieces), -1)
    if tok.words is None:
        return model(q_ids, p_ids)
    p_words = pad([encoded[k][1][off:off + len(piece)] for k, off, piece in pieces])
    return model(q_ids, p_ids, torch.tensor([q_words]).expand(len(pieces), -1), p_words)


class Ensemble:
    """Readers averaged: every window's start, end and has-answer probabilities are the mean of the members'
    (:func:`window_outputs`), then decoded as one reader's. Each member keeps its own tokenizer (a word reader
    segments with jieba, a characters-only one does not); all read characters, so their windows and spans line up.
    ``cfg`` is the first member's with the ensemble's own no-answer threshold and λ, chosen on validation as a single
    reader's are (training/dgcnn_ensemble.py)."""

    def __init__(self, members: list[tuple[nn.Module, Tokenizer]], threshold: float, length_penalty: float):
        self.members = members
        first = members[0][0].cfg
        # spans are decoded from the mean over the same windows: every member must cut the passages alike
        assert all((m.cfg.window, m.cfg.stride) == (first.window, first.stride) for m, _ in members)
        self.cfg = DGCNNConfig(**{**asdict(first), "threshold": threshold, "length_penalty": length_penalty})
        self.cfg.max_answer = min(m.cfg.max_answer for m, _ in members)

    def eval(self):
        for m, _ in self.members:
            m.eval()
        return self


ENSEMBLE_FILE = "ensemble.json"   # in a reader's folder: the other members' folders (relative), threshold and λ


def load_reader(folder, model_class, config_class, legacy: str | None = None):
    """(model in eval mode, its tokenizer) from a checkpoint folder (models/checkpoint.py): vocab.txt, and
    words.txt when the model has word embeddings. Any reader with this file's inputs (also models/bilstm_reader.py)."""
    config, weights = checkpoint.read_folder(folder, legacy=legacy)
    model = model_class(checkpoint.config_from(config_class, config))
    model.load_state_dict(weights)
    words = Path(folder) / "words.txt"
    return model.eval(), Tokenizer(Vocab.load(Path(folder) / "vocab.txt"), Vocab.load(words) if model.cfg.words
                                   else None)


def load(folder, ensemble: bool = True) -> tuple[DGCNN | Ensemble, Tokenizer]:
    """The reader in ``folder`` — with its ``ensemble.json`` (and ``ensemble``), the ensemble of it and the readers
    that file names, with the first member's tokenizer (for checks on the question's characters)."""
    folder = Path(folder)
    reader = load_reader(folder, DGCNN, DGCNNConfig, legacy="dgcnn.safetensors")
    spec = folder / ENSEMBLE_FILE
    if not ensemble or not spec.exists():
        return reader
    spec = json.loads(spec.read_text(encoding="utf-8"))
    members = [reader] + [load_reader(folder / other, DGCNN, DGCNNConfig) for other in spec["members"]]
    return Ensemble(members, spec["threshold"], spec["length_penalty"]), reader[1]


def save(model_and_tokenizer: tuple, folder, card: str) -> None:
    """Write what :func:`load_reader` reads: fp16 weights, config, card, vocab.txt (and words.txt)."""
    model, tok = model_and_tokenizer
    checkpoint.save_folder(folder, model.state_dict(), asdict(model.cfg), card)
    tok.chars.save(Path(folder) / "vocab.txt")
    if tok.words is not None:
        tok.words.save(Path(folder) / "words.txt")


# The official CMRC 2018 evaluation (cmrc2018_evaluate.py of ymcui/cmrc2018), re-implemented: its punctuation list
# ("……" is one entry there, so a single "…" is kept, as there); lower case; punctuation dropped without ending a
# run; Chinese characters are single tokens, the runs between them are split into words (the official script calls
# nltk.word_tokenize there; on these answers — numbers, Latin names — the regex below splits the same way, decimal
# numbers kept whole). EM: equal after removing punctuation. F1: from the longest common *contiguous* run of tokens.
CMRC_PUNCTUATION = set("-:_*^/\\~`+=，。：？！“”；’《》·、「」（）－～『』")
_CHINESE = re.compile(r"[\u4e00-\u9fa5]")
_OTHER_TOKENS = re.compile(r"\d+(?:[.,]\d+)*|\w+|[^\w\s]")


def cmrc_tokens(text: str) -> list[str]:
    """The official mixed segmentation, punctuation removed."""
    out, run = [], ""
    for ch in str(text).lower().strip():
        if ch in CMRC_PUNCTUATION:
            continue
        if _CHINESE.match(ch):
            out += _OTHER_TOKENS.findall(run) + [ch]
            run = ""
        else:
            run += ch
    return out + _OTHER_TOKENS.findall(run)


def _without_punctuation(text: str) -> str:
    return "".join(ch for ch in str(text).lower().strip() if ch not in CMRC_PUNCTUATION)


def cmrc_em(prediction: str, answers: list[str]) -> float:
    return float(any(_without_punctuation(prediction) == _without_punctuation(a) for a in answers))


def _longest_common_run(a: list[str], b: list[str]) -> int:
    best, prev = 0, [0] * (len(b) + 1)
    for x in a:
        cur = [0] * (len(b) + 1)
        for j, y in enumerate(b):
            if x == y:
                cur[j + 1] = prev[j] + 1
                best = max(best, cur[j + 1])
        prev = cur
    return best


def cmrc_f1(prediction: str, answers: list[str]) -> float:
    pred, best = cmrc_tokens(prediction), 0.0
    for answer in answers:
        gold = cmrc_tokens(answer)
        common = _longest_common_run(gold, pred)
        if common:
            precision, recall = common / len(pred), common / len(gold)
            best = max(best, 2 * precision * recall / (precision + recall))
    return best


def char_f1(pred: str, gold: str) -> float:
    """Character-level F1 (multiset overlap)."""
    common = sum((Counter(pred) & Counter(gold)).values())
    if not common:
        return 0.0
    precision, recall = common / len(pred), common / len(gold)
    return 2 * precision * recall / (precision + recall)


def scores(predictions: list[str], rows: list[dict], types=None) -> dict:
    """EM, F1 (official CMRC 2018 rules, the best over a row's ``answers`` — or its one ``answer``) and Su's
    (EM + F1) / 2 — over all ``rows`` and per ``type`` where rows have one, in the order of ``types`` (default: the
    order the types first appear)."""
    out = {}
    types = list(types or dict.fromkeys(r["type"] for r in rows if "type" in r))
    groups = {"all": range(len(rows))} | {t: [i for i, r in enumerate(rows) if r.get("type") == t] for t in types}
    for name, idx in groups.items():
        if not idx:
            continue
        golds = [rows[i].get("answers") or [rows[i]["answer"]] for i in idx]
        em = sum(cmrc_em(predictions[i], g) for i, g in zip(idx, golds)) / len(idx)
        f1 = sum(cmrc_f1(predictions[i], g) for i, g in zip(idx, golds)) / len(idx)
        out[name] = {"n": len(idx), "em": em, "f1": f1, "score": (em + f1) / 2}
    return out
