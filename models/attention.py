"""Attention is All You Need, written out: multi-head attention + sinusoidal position embedding, as a classifier.

Su Jianlin, 《Attention is All You Need》浅读（简介+代码）, https://kexue.fm/archives/4765 (code: bojone/attention).

    Attention(Q, K, V) = softmax(Q Kᵀ / √d_k) V
    head_i = Attention(Q W_i^Q, K W_i^K, V W_i^V),   MultiHead = Concat(head_1, …, head_h) [W^O]
    PE(p, 2i) = sin(p / 10000^{2i/d}),  PE(p, 2i+1) = cos(p / 10000^{2i/d})

Su's Keras layer has Q, K, V projections without bias, masks padded keys with −1e12 before the softmax, and no
output projection, residual, LayerNorm or FFN; his position embedding concatenates [cos | sin] instead of
interleaving them, and is added to the token embedding. Optionally (``bigram_buckets``) a hashed embedding of each
character pair is added too, and (``ngram_buckets``) a linear "wide" path — one weight per hashed 1-, 2- and
3-character n-gram, summed / √n and added to the logit (fastText; Cheng et al. 2016's wide & deep), and
(``word_buckets``) one more weight per hashed jieba word and pair of adjacent words, read at the word's first
character — our additions, measured in bench/bench_sentiment.py. His classifier: Embedding → +PE → one
Attention(8 × 16) → global average pool → Dropout 0.5 → Dense(1, sigmoid). ``variant="su"`` is exactly that;
``variant="encoder"`` stacks full post-LN encoder blocks (attention with W^O → add & LayerNorm → FFN → add &
LayerNorm).

Everything is written with plain tensors (no nn.MultiheadAttention / nn.TransformerEncoder): the tab shows the
attention weights of every head.
"""
from __future__ import annotations

import math
import zlib
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F

from models import checkpoint
from models.vocab import Vocab


@dataclass
class AttentionConfig:
    vocab_size: int = 5000
    variant: str = "su"  # "su": one bare attention layer; "encoder": full encoder blocks
    d_model: int = 128
    n_heads: int = 8
    head_dim: int = 16
    n_layers: int = 1  # encoder blocks (variant "encoder")
    d_ff: int = 256
    use_pe: bool = True
    bigram_buckets: int = 0  # > 0: add a hashed embedding of each (character, next character) pair
    ngram_buckets: int = 0  # > 0: a linear "wide" path, one weight per hashed 1-, 2- and 3-character n-gram
    ngram_dropout: float = 0.0  # in training, each n-gram of the wide path is left out with this probability
    word_buckets: int = 0  # > 0: the wide path also reads hashed jieba words and word pairs (words= of forward)
    max_len: int = 200
    dropout: float = 0.5  # after pooling (Su: 0.5)
    attn_dropout: float = 0.1  # inside encoder blocks
    # > 0: a TF-IDF + logistic-regression member over exact character 1–3-grams of the ids (the features and C of
    # the benchmark's baseline), fitted after the network; tfidf_weight × its logit is added to the network's
    tfidf_features: int = 0
    tfidf_weight: float = 0.0
    temperature: float = 1.0  # calibration, fitted on validation after training: P(positive) = σ(logit / T)


def sinusoidal_position_embedding(length: int, dim: int) -> torch.Tensor:
    """(length, dim): position p, frequency ω_i = 10000^(−2i/dim); Su's layout [cos(p ω) | sin(p ω)]."""
    pos = torch.arange(length, dtype=torch.float32)[:, None]  # (T, 1)
    omega = torch.pow(10000.0, -2 * torch.arange(dim // 2, dtype=torch.float32) / dim)  # (dim/2,)
    angle = pos * omega  # (T, dim/2)
    return torch.cat([torch.cos(angle), torch.sin(angle)], dim=-1)


def following(ids: torch.Tensor, k: int) -> torch.Tensor:
    """(B, T) → (B, T): the id k places later, 0 (padding) past the end — for any T ≥ 1."""
    return F.pad(ids, (0, k))[:, k:]


def ngram_keys(ids: torch.Tensor, base: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(B, T) ids → (keys (B, T, 3), valid (B, T, 3)): one integer for the 1-, 2- and 3-gram of ids starting at each
    character, a, a·base + b and (a·base + b)·base + c; valid is False where the n-gram runs past the end or into
    padding. With base > every id (the vocabulary size) the keys are exact and orders never collide (real ids are
    ≥ 1, so a 2-gram's key ≥ base + 1 > any 1-gram's); the wide path hashes them with a larger base."""
    n1, n2 = following(ids, 1), following(ids, 2)
    pair = ids * base + n1
    has1 = ids != 0
    has2 = has1 & (n1 != 0)
    return torch.stack([ids, pair, pair * base + n2], dim=-1), torch.stack([has1, has2, has2 & (n2 != 0)], dim=-1)


class MultiHeadAttention(nn.Module):
    """Scaled dot-product attention over ``n_heads`` heads of ``head_dim``; padded keys are masked out."""

    def __init__(self, d_in: int, n_heads: int, head_dim: int, out_proj: bool, dropout: float = 0.0):
        super().__init__()
        self.n_heads, self.head_dim = n_heads, head_dim
        self.q = nn.Linear(d_in, n_heads * head_dim, bias=False)
        self.k = nn.Linear(d_in, n_heads * head_dim, bias=False)
        self.v = nn.Linear(d_in, n_heads * head_dim, bias=False)
        self.o = nn.Linear(n_heads * head_dim, d_in) if out_proj else None
        self.drop = nn.Dropout(dropout)

    def forward(self, x, mask):  # x: (B, T, d_in); mask: (B, T) True where a real token
        B, T, _ = x.shape

        def heads(t):  # (B, T, H·dh) → (B, H, T, dh)
            return t.view(B, T, self.n_heads, self.head_dim).transpose(1, 2)

        q, k, v = heads(self.q(x)), heads(self.k(x)), heads(self.v(x))
        scores = q @ k.transpose(-1, -2) / math.sqrt(self.head_dim)  # (B, H, T, T)
        # a padded key gets −1e12 (Su's constant): exp() makes it exactly 0, whatever its content
        scores = scores.masked_fill(~mask[:, None, None, :], -1e12)
        weights = torch.softmax(scores, dim=-1)  # (B, H, T, T), rows sum to 1 over real keys
        out = (self.drop(weights) @ v).transpose(1, 2).reshape(B, T, -1)  # (B, T, H·dh)
        return (self.o(out) if self.o is not None else out), weights


class EncoderBlock(nn.Module):
    """Post-LN Transformer block: x = LN(x + MHA(x)); x = LN(x + FFN(x))."""

    def __init__(self, cfg: AttentionConfig):
        super().__init__()
        self.attn = MultiHeadAttention(cfg.d_model, cfg.n_heads, cfg.d_model // cfg.n_heads, out_proj=True,
                                       dropout=cfg.attn_dropout)
        self.ln1, self.ln2 = nn.LayerNorm(cfg.d_model), nn.LayerNorm(cfg.d_model)
        self.ffn = nn.Sequential(nn.Linear(cfg.d_model, cfg.d_ff), nn.GELU(), nn.Dropout(cfg.attn_dropout),
                                 nn.Linear(cfg.d_ff, cfg.d_model))
        self.drop = nn.Dropout(cfg.attn_dropout)

    def forward(self, x, mask):
        a, w = self.attn(x, mask)
        x = self.ln1(x + self.drop(a))
        return self.ln2(x + self.drop(self.ffn(x))), w


class SentimentClassifier(nn.Module):
    """Characters → P(positive). Returns logits (B,) and the attention weights of every layer [(B, H, T, T)]."""

    def __init__(self, cfg: AttentionConfig):
        super().__init__()
        self.cfg = cfg
        self.embed = nn.Embedding(cfg.vocab_size, cfg.d_model, padding_idx=0)
        self.bigram = nn.Embedding(cfg.bigram_buckets + 1, cfg.d_model, padding_idx=0) if cfg.bigram_buckets else None
        self.register_buffer("pe", sinusoidal_position_embedding(cfg.max_len, cfg.d_model), persistent=False)
        if cfg.variant == "su":
            self.layers = nn.ModuleList([MultiHeadAttention(cfg.d_model, cfg.n_heads, cfg.head_dim, out_proj=False)])
            width = cfg.n_heads * cfg.head_dim
        elif cfg.variant == "encoder":
            self.layers = nn.ModuleList([EncoderBlock(cfg) for _ in range(cfg.n_layers)])
            width = cfg.d_model
        else:
            raise ValueError(f"unknown variant {cfg.variant!r}")
        self.drop = nn.Dropout(cfg.dropout)
        self.head = nn.Linear(width, 1)
        # the wide path (fastText / wide & deep): a scalar weight per hashed n-gram, read at the n-gram's first
        # character; zero-initialised, so training starts from the attention model alone
        self.ngram = nn.Embedding(cfg.ngram_buckets + 1, 1, padding_idx=0) if cfg.ngram_buckets else None
        if self.ngram is not None:
            nn.init.zeros_(self.ngram.weight)
        # made last, so a model with words draws the same initial weights as one without (the same seed)
        self.word = nn.Embedding(cfg.word_buckets + 1, 1, padding_idx=0) if cfg.word_buckets else None
        if self.word is not None:
            nn.init.zeros_(self.word.weight)
        if cfg.tfidf_features:  # fitted, not trained (training/sentiment.py fit_tfidf_member): buffers, not parameters
            self.register_buffer("tfidf_keys", torch.zeros(cfg.tfidf_features, dtype=torch.long))  # sorted
            self.register_buffer("tfidf_idf", torch.zeros(cfg.tfidf_features))
            self.register_buffer("tfidf_coef", torch.zeros(cfg.tfidf_features))
            self.register_buffer("tfidf_bias", torch.zeros(1))

    def encode(self, ids):
        """ids (B, T) → token states (B, T, width), mask (B, T), attention weights per layer."""
        mask = ids != 0
        x = self.embed(ids)
        if self.bigram is not None:
            x = x + self.bigram(self.bigram_ids(ids))
        if self.cfg.use_pe:
            x = x + self.pe[: ids.shape[1]]
        attentions = []
        for layer in self.layers:
            x, w = layer(x, mask)
            attentions.append(w)
        return x, mask, attentions

    def bigram_ids(self, ids):
        """(B, T) → bucket of (ids[t], ids[t+1]) in 1..buckets; 0 where either is padding or at the end."""
        nxt = following(ids, 1)
        h = (ids * 1_000_003 + nxt) % self.cfg.bigram_buckets + 1
        return torch.where((ids != 0) & (nxt != 0), h, torch.zeros_like(h))

    def ngram_ids(self, ids):
        """(B, T) → (B, T, 3): buckets 1..ngram_buckets of the 1-, 2- and 3-grams starting at each character;
        0 (weight 0) where the n-gram runs past the end or into padding."""
        grams, valid = ngram_keys(ids, 1_000_003)  # the pair's key is bigram_ids' hash before the modulo
        # a different offset per order, so a character and a pair that hash alike still fall in different buckets
        h = (grams + torch.tensor([0, 7919, 104_729])) % self.cfg.ngram_buckets + 1
        return torch.where(valid, h, torch.zeros_like(h))

    def wide(self, ids, mask, words=None):
        """(B, T): what each character's n-grams (and the words starting at it) add to the logit, scaled by 1/√n (a
        TF-IDF vector's L2 norm grows like √n, so a long review's evidence is neither diluted nor summed up
        unboundedly). ``words``: (B, T, 2) from :func:`word_ids`, for a model with ``word_buckets``."""
        n = mask.sum(1, keepdim=True).clamp(min=1).float()
        w = self.ngram(self.ngram_ids(ids)).squeeze(-1)  # (B, T, 3)
        p = self.cfg.ngram_dropout
        if self.training and p > 0:
            # n-gram dropout: the wide path alone can memorise the training reviews (each rare n-gram a flag for its
            # one review); leaving n-grams out makes it spread the evidence and leaves the attention work to do
            w = w * (torch.rand_like(w) >= p) / (1 - p)
        w = w.sum(-1)
        if self.word is not None:
            if words is None:
                raise ValueError("this model also reads jieba words: pass words=word_ids(texts, …)")
            w = w + self.word(words).squeeze(-1).sum(-1)
        return w * mask / n.sqrt()

    def tfidf(self, ids):
        """(B, T): the TF-IDF member's logit (without its bias) shared out over the characters its n-grams start at.

        As scikit-learn's TfidfVectorizer(sublinear_tf=True) + LogisticRegression: feature f of a review has value
        v_f = (1 + ln tf_f)·idf_f / ‖v‖ and the logit is Σ_f coef_f·v_f + bias. Each of f's tf_f occurrences gets an
        equal share, coef_f·v_f / tf_f, so the shares add up to the logit exactly; ‖v‖² = Σ over occurrences of
        ((1 + ln tf)·idf)² / tf. N-grams outside the fitted vocabulary (seen in < 2 training reviews) weigh 0."""
        keys, valid = ngram_keys(ids, self.cfg.vocab_size)
        pos = torch.searchsorted(self.tfidf_keys, keys).clamp(max=self.cfg.tfidf_features - 1)
        found = valid & (self.tfidf_keys[pos] == keys)
        found = found.permute(0, 2, 1)  # (B, 3, T): per order and start
        f = torch.where(found, pos.permute(0, 2, 1), 0)  # feature index (0 where none: masked below)
        # (B, 3, T): how often this occurrence's n-gram occurs in its review
        tf = ((f[..., :, None] == f[..., None, :]) & found[..., None, :]).sum(-1).clamp(min=1).float()
        value = torch.where(found, (1 + tf.log()) * self.tfidf_idf[f], 0.0)  # v_f before the norm
        norm = (value ** 2 / tf).sum((1, 2)).sqrt().clamp(min=1e-12)  # (B,)
        share = self.tfidf_coef[f] * value / tf / norm[:, None, None]
        return share.sum(1)  # (B, T)

    def forward(self, ids, words=None):
        x, mask, attentions = self.encode(ids)
        m = mask[..., None].float()
        pooled = (x * m).sum(1) / m.sum(1).clamp(min=1)  # global average over real tokens
        logits = self.head(self.drop(pooled)).squeeze(-1)
        if self.ngram is not None:
            logits = logits + self.wide(ids, mask, words).sum(1)
        if self.cfg.tfidf_features:
            logits = logits + self.cfg.tfidf_weight * (self.tfidf(ids).sum(1) + self.tfidf_bias)
        return logits, attentions

    def mlm_logits(self, ids, where=None) -> torch.Tensor:
        """Masked-LM pre-training head, tied to the character embedding: (B, T) → (B, T, V), or (N, V) for the
        positions selected by the boolean mask ``where`` (only those are projected onto the vocabulary).

        Scaled by 1/√d: states and embeddings have unit-size entries, so raw dot products would start at ±√d."""
        x, _, _ = self.encode(ids)
        if where is not None:
            x = x[where]
        return x @ self.embed.weight.T / math.sqrt(self.cfg.d_model)

    def probability(self, logits: torch.Tensor) -> torch.Tensor:
        """Calibrated P(positive) = σ(logit / T) (T from the config; 1 = as trained)."""
        return torch.sigmoid(logits / self.cfg.temperature)

    def explain(self, ids, words=None):
        """One pass for the page (eval mode) → (logits (B,), per-token contributions (B, T), attentions).

        The head is linear after the mean, so logit = bias + Σ_t w·h_t / n exactly: w·h_t / n is what token t adds
        (0 at padding); with the wide path, token t also adds the weights of the n-grams (and words) that start at
        it / √n; with the TF-IDF member, its weight × the shares of the member's n-grams that start at it."""
        x, mask, attentions = self.encode(ids)
        n = mask.sum(1, keepdim=True).clamp(min=1)
        contrib = (x @ self.head.weight[0]) * mask / n
        bias = self.head.bias
        if self.ngram is not None:
            contrib = contrib + self.wide(ids, mask, words)
        if self.cfg.tfidf_features:
            contrib = contrib + self.cfg.tfidf_weight * self.tfidf(ids)
            bias = bias + self.cfg.tfidf_weight * self.tfidf_bias
        return contrib.sum(1) + bias, contrib, attentions


@lru_cache(maxsize=1)
def _jieba():
    import logging

    import jieba

    jieba.setLogLevel(logging.WARNING)
    return jieba.Tokenizer()


def word_buckets_of(text: str, buckets: int) -> list[list[int]]:
    """Per character of ``text``: [bucket of the jieba word that starts here, bucket of that word + the next one],
    each in 1..buckets; [0, 0] inside a word, and no pair after the last word. crc32, not hash(): Python salts
    str hashes per process, and the buckets must be the same in training and in the app."""
    words = _jieba().lcut(text) if text else []
    out, start = [[0, 0] for _ in text], 0
    for i, w in enumerate(words):
        out[start][0] = zlib.crc32(w.encode("utf-8")) % buckets + 1
        if i + 1 < len(words):
            out[start][1] = zlib.crc32(f"{w}\x00{words[i + 1]}".encode("utf-8")) % buckets + 1
        start += len(w)
    return out


def word_ids(texts: list[str], buckets: int, length: int) -> torch.Tensor:
    """(B, length, 2) word buckets of each text (its first ``length`` characters, as the model reads them),
    padded with 0 — the ``words`` argument of a model with ``word_buckets``."""
    rows = [word_buckets_of(t[:length], buckets) for t in texts]
    out = torch.tensor([r + [[0, 0]] * (length - len(r)) for r in rows], dtype=torch.long)
    return out.reshape(len(texts), length, 2)  # also when length is 0


def loss_fn(logits, labels, weights=None, smoothing: float = 0.0):
    """Binary cross-entropy; ``weights`` (B,) weigh the reviews (e.g. to balance each source's classes);
    ``smoothing`` ε moves the targets to ε/2 and 1 − ε/2 (label smoothing: no review is worth an infinite logit)."""
    targets = labels.float() * (1 - smoothing) + smoothing / 2
    return F.binary_cross_entropy_with_logits(logits, targets, weight=weights)


def fit_temperature(logits: torch.Tensor, labels: torch.Tensor) -> float:
    """The T > 0 minimising the negative log-likelihood of σ(logit / T) on held-out reviews (Guo et al. 2017):
    a log-spaced grid, then a finer one around its best point. It rescales confidence, never the decision."""
    def nll(t: float) -> float:
        return F.binary_cross_entropy_with_logits(logits / t, labels.float()).item()

    grid = torch.logspace(-1, 1, 41).tolist()  # 0.1 … 10
    best = min(grid, key=nll)
    return min((best * f for f in torch.linspace(0.9, 1.1, 41).tolist()), key=nll)


def reliability(probs: torch.Tensor, labels: torch.Tensor, bins: int = 10) -> tuple[list[tuple], float]:
    """Per confidence bin of the predicted class (0.5–1 in ``bins`` steps): (mean confidence, accuracy, count);
    and the expected calibration error Σ n_b/N · |accuracy_b − confidence_b|."""
    conf = torch.where(probs >= 0.5, probs, 1 - probs)
    right = ((probs >= 0.5).long() == labels).float()
    edges = torch.linspace(0.5, 1.0, bins + 1)
    rows, ece = [], 0.0
    for lo, hi in zip(edges[:-1], edges[1:]):
        sel = (conf >= lo) & ((conf < hi) | (hi == 1.0))
        if sel.any():
            c, a, n = conf[sel].mean().item(), right[sel].mean().item(), int(sel.sum())
            rows.append((c, a, n))
            ece += n / len(probs) * abs(a - c)
    return rows, ece


@torch.no_grad()
def accuracy(model: SentimentClassifier, batches, device="cpu") -> float:
    """Share of reviews whose sign of the logit matches the label, over ``batches`` of (ids (B, T), labels (B,),
    weights, words (B, T, 2) or None) — training/sentiment.py's batches."""
    model.eval()
    right = n = 0
    for x, y, _, words in batches:
        words = None if words is None else words.to(device)
        right += ((model(x.to(device), words)[0] > 0).long().cpu() == y).sum().item()
        n += len(y)
    return right / n


def load(folder) -> tuple[SentimentClassifier, Vocab]:
    """(model in eval mode, its vocabulary) from a checkpoint folder (models/checkpoint.py)."""
    config, weights = checkpoint.read_folder(folder, legacy="sentiment.safetensors")
    model = SentimentClassifier(checkpoint.config_from(AttentionConfig, config))
    model.load_state_dict(weights)
    return model.eval(), Vocab.load(Path(folder) / "vocab.txt")


def save(model_and_vocab: tuple[SentimentClassifier, Vocab], folder, card: str) -> None:
    """Write what :func:`load` reads: fp16 weights, config, card and vocab.txt."""
    model, vocab = model_and_vocab
    checkpoint.save_folder(folder, model.state_dict(), asdict(model.cfg), card)
    vocab.save(Path(folder) / "vocab.txt")
