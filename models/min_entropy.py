"""Minimum-entropy lexicon construction and unigram segmentation.

Su Jianlin, 最小熵原理（二）：“当机立断”之词库构建, https://kexue.fm/archives/5476
(reference code: bojone/nlp-zero ``Word_Finder``).

If a corpus is read word by word instead of character by character, the average information per character is

    L = H / l = -(Σ_w p_w log p_w) / (Σ_w p_w |w|)

and merging an adjacent pair (a, b) into one word lowers L by about

    F_ab = p_ab · (ln(p_ab / (p_a p_b)) − 1) / l,

so a merge pays off when the pair's pointwise mutual information PMI(a, b) = ln(p_ab / (p_a p_b)) exceeds 1.
The algorithm that follows from it:

1. count characters and adjacent pairs;
2. cut the text between neighbours whose pair probability is below ``min_proba`` or whose PMI is below
   ``min_pmi``; the fragments left whose probability exceeds ``min_proba`` are candidate words;
3. remove redundancy, longest candidates first: take the word out, re-segment it with the unigram model of the
   other words, and keep it only if ln(p_w / Π p_part) still passes the threshold; otherwise give its count to
   its parts;
4. segment new text with a unigram model: the path through the word lattice that maximises Σ log p_w (Viterbi).

What this module adds to the post, each switchable in :class:`LexiconConfig`:

* **atoms** — a run of digits (``１９９８``, ``3.5%``) or of Latin letters is one symbol, so ``１９９８年`` can be
  learnt as the word "〈数〉年" for every year at once; everything that is not a CJK character, digit or letter
  separates sentences (as in nlp-zero).
* **word_pmi** — the de-redundancy threshold is its own knob (the post reuses ``min_pmi``): a word of k parts
  is kept when ln(p_w / Π p_part) ≥ word_pmi · (k − 1). Cutting generously (low ``min_pmi``) and pruning
  strictly (higher ``word_pmi``) keeps frequent words made of frequent characters (工作) while dropping
  collocations with function words (发展的).

Counting is vectorised with numpy and streams the corpus in blocks, so memory is bounded by the number of
distinct characters, pairs and fragments, not by the size of the corpus.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Iterable, Iterator

import numpy as np

# Private-use code points stand for a run of digits / Latin letters inside a word.
NUM, LAT = "\ue000", "\ue001"
ATOM_NAMES = {NUM: "〈数〉", LAT: "〈字母〉"}
_NUM_CP, _LAT_CP = ord(NUM), ord(LAT)
_HASH_MUL = np.uint64(0x9E3779B97F4A7C15)  # odd 64-bit multiplier (golden ratio): polynomial hash of fragments


@dataclass
class LexiconConfig:
    min_proba: float = 1e-5  # minimum probability of a pair and of a candidate word
    min_pmi: float = 1.0  # minimum PMI (nats) of a kept pair; the post's break-even point is 1
    word_pmi: float = 3.0  # a multi-part word is kept when ln(p_w / Π p_part) ≥ word_pmi · (parts − 1)
    max_word_len: int = 6  # longest word, in atoms (a digit run counts as one)
    block_chars: int = 4_000_000  # characters per streamed block


# ----------------------------------------------------------------------------------------------------------------
# Text → atoms
# ----------------------------------------------------------------------------------------------------------------

def _classify(cp: np.ndarray) -> np.ndarray:
    """Class of each code point: 0 separator, 1 CJK, 2 digit-ish, 3 Latin letter."""
    cjk = ((cp >= 0x4E00) & (cp <= 0x9FFF)) | ((cp >= 0x3400) & (cp <= 0x4DBF)) | (cp == 0x3007)
    digit = ((cp >= 0x30) & (cp <= 0x39)) | ((cp >= 0xFF10) & (cp <= 0xFF19))
    # '.', '．', '%', '％' right after a digit belong to the number (3.5%, １．５)
    numpunct = (cp == 0x2E) | (cp == 0xFF0E) | (cp == 0x25) | (cp == 0xFF05)
    after_digit = np.zeros_like(digit)
    after_digit[1:] = digit[:-1]
    digit = digit | (numpunct & after_digit)
    latin = ((cp | 0x20) >= 0x61) & ((cp | 0x20) <= 0x7A) & (cp < 0x80)
    latin |= ((cp >= 0xFF21) & (cp <= 0xFF3A)) | ((cp >= 0xFF41) & (cp <= 0xFF5A))
    cls = np.zeros(cp.shape, np.int8)
    cls[cjk] = 1
    cls[digit] = 2
    cls[latin] = 3
    return cls


def to_atoms(text: str) -> tuple[np.ndarray, np.ndarray]:
    """Code points of ``text`` → (atoms, starts).

    atoms: uint32 [n_atoms]; a CJK character is its own code point, a digit run is NUM, a letter run LAT,
    and a run of anything else becomes one separator 0. starts: int64 [n_atoms + 1], the offset in ``text``
    where each atom begins (and len(text) at the end), so atoms map back to the original characters.
    """
    cp = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)
    if cp.size == 0:
        return np.zeros(0, np.uint32), np.zeros(1, np.int64)
    cls = _classify(cp)
    atoms = cp.copy()
    atoms[cls == 0] = 0
    atoms[cls == 2] = _NUM_CP
    atoms[cls == 3] = _LAT_CP
    # collapse runs: a digit run, letter run or separator run is one atom; CJK characters are never merged
    new = np.ones(cp.size, bool)
    new[1:] = (cls[1:] != cls[:-1]) | (cls[1:] == 1)
    starts = np.flatnonzero(new)
    return atoms[starts], np.append(starts, cp.size).astype(np.int64)


def _blocks(texts: Iterable[str], block_chars: int) -> Iterator[np.ndarray]:
    """Stream texts as atom arrays of about ``block_chars`` characters, texts joined by a separator."""
    buf, size = [], 0
    for t in texts:
        buf.append(t)
        size += len(t) + 1
        if size >= block_chars:
            yield to_atoms("\n".join(buf) + "\n")[0]
            buf, size = [], 0
    if buf:
        yield to_atoms("\n".join(buf) + "\n")[0]


def _merge_counts(keys: np.ndarray, counts: np.ndarray, new_keys: np.ndarray, new_counts: np.ndarray):
    """Add (new_keys, new_counts) into the sorted unique (keys, counts) tables."""
    k = np.concatenate([keys, new_keys])
    c = np.concatenate([counts, new_counts])
    uk, inv = np.unique(k, return_inverse=True)
    return uk, np.bincount(inv, weights=c, minlength=uk.size).astype(np.int64)


def _fragment_hashes(atoms: np.ndarray, starts: np.ndarray, lengths: np.ndarray, max_len: int) -> np.ndarray:
    """64-bit polynomial hash of atoms[s : s+l] for every fragment (vectorised over fragments)."""
    h = np.zeros(starts.size, np.uint64)
    with np.errstate(over="ignore"):
        for k in range(max_len):
            live = lengths > k
            idx = np.minimum(starts + k, atoms.size - 1)
            h = np.where(live, h * _HASH_MUL + atoms[idx].astype(np.uint64) + np.uint64(1), h)
    return h


# ----------------------------------------------------------------------------------------------------------------
# The lexicon
# ----------------------------------------------------------------------------------------------------------------

@dataclass
class Lexicon:
    """A unigram lexicon: word → count (words are atom strings; see :data:`NUM`, :data:`LAT`)."""

    counts: dict[str, int]
    pmi: dict[str, float] = field(default_factory=dict)  # ln(p_w / Π p_parts) against its best split
    max_word_len: int = 6
    n_chars: int = 0  # atoms in the corpus the lexicon was built from
    char_entropy: float = float("nan")  # H of the character distribution (nats): the "no words" baseline of L

    def __post_init__(self):
        self._index()

    def _index(self):
        self.total = max(1, sum(self.counts.values()))
        log_total = math.log(self.total)
        self.logp = {w: math.log(c) - log_total for w, c in self.counts.items() if c > 0}
        self.unk = -log_total - 1.0  # an atom never seen: rarer than anything seen once
        self.prefixes = {w[:k] for w in self.logp for k in range(1, len(w))}

    def proba(self, w: str) -> float:
        return self.counts.get(w, 0) / self.total

    def entropy_per_char(self) -> float:
        """The post's L = H / l = −Σ p_w ln p_w / Σ p_w |w| (nats per character) under this lexicon."""
        c = np.array(list(self.counts.values()), dtype=np.float64)
        n = np.array([len(w) for w in self.counts], dtype=np.float64)
        p = c[c > 0] / c.sum()
        return float(-(p * np.log(p)).sum() / (p * n[c > 0]).sum())

    # -- segmentation -------------------------------------------------------------------------------------------
    def cut_atoms(self, s: str) -> list[int]:
        """Unigram Viterbi over an atom string without separators → end offsets of the words."""
        n = len(s)
        best = [0.0] + [-math.inf] * n  # best[i]: best log-probability of s[:i]
        back = [0] * (n + 1)
        logp, prefixes, max_len, unk = self.logp, self.prefixes, self.max_word_len, self.unk
        for i in range(n):
            b = best[i]
            # the single atom is always a path, known or not
            sc = b + logp.get(s[i], unk)
            if sc > best[i + 1]:
                best[i + 1], back[i + 1] = sc, i
            j = i + 2
            w = s[i:j]
            while j <= n and j - i <= max_len:
                p = logp.get(w)
                if p is not None and b + p > best[j]:
                    best[j], back[j] = b + p, i
                if w not in prefixes:
                    break
                j += 1
                w = s[i:j]
        ends, j = [], n
        while j > 0:
            ends.append(j)
            j = back[j]
        return ends[::-1]

    def cut(self, text: str) -> list[str]:
        """Segment ``text``; the words concatenate back to ``text`` exactly.

        Non-word characters: each punctuation mark is a token of its own (a run of the same mark, like ——
        or ……, is one token); whitespace runs are tokens too.
        """
        if not text:
            return []
        atoms, starts = to_atoms(text)
        out: list[str] = []
        sep = np.flatnonzero(atoms == 0)
        bounds = np.concatenate([[-1], sep, [atoms.size]])
        for a, b in zip(bounds[:-1], bounds[1:]):
            a = int(a) + 1
            b = int(b)
            if b > a:  # a run of word atoms
                s = "".join(map(chr, atoms[a:b]))
                prev = a
                for e in self.cut_atoms(s):
                    out.append(text[starts[prev]:starts[a + e]])
                    prev = a + e
            if b < atoms.size:  # the separator run itself
                out.extend(_split_separators(text[starts[b]:starts[b + 1]]))
        return out

    def build_word_table(self) -> list[tuple[str, int, float, float]]:
        """(display word, count, probability, PMI) for every multi-atom word, most frequent first."""
        rows = [(display(w), c, c / self.total, self.pmi.get(w, float("nan")))
                for w, c in self.counts.items() if len(w) > 1 and c > 0]
        rows.sort(key=lambda r: -r[1])
        return rows


def _split_separators(run: str) -> list[str]:
    """A separator run → tokens: whitespace runs and runs of one repeated mark stay whole."""
    out: list[str] = []
    for ch in run:
        if out and (ch == out[-1][-1] or (ch.isspace() and out[-1].isspace())):
            out[-1] += ch
        else:
            out.append(ch)
    return out


def display(word: str) -> str:
    """Atom string → readable word (〈数〉 for a digit run, 〈字母〉 for a letter run)."""
    for atom, name in ATOM_NAMES.items():
        word = word.replace(atom, name)
    return word


# ----------------------------------------------------------------------------------------------------------------
# Construction
# ----------------------------------------------------------------------------------------------------------------

def build_lexicon(texts: Iterable[str] | str, config: LexiconConfig | None = None, progress=None) -> Lexicon:
    """Build a lexicon from ``texts`` (a string, or an iterable of lines/documents; a callable that returns a
    fresh iterator is also accepted so the corpus can be streamed twice from disk).

    ``progress(fraction, message)`` is called between stages when given.
    """
    cfg = config or LexiconConfig()
    if isinstance(texts, str):
        corpus = [texts]
        stream = lambda: iter(corpus)  # noqa: E731
    elif callable(texts):
        stream = texts
    else:
        corpus = list(texts)
        stream = lambda: iter(corpus)  # noqa: E731
    say = progress or (lambda f, m: None)

    # 1. characters and adjacent pairs ------------------------------------------------------------------------
    say(0.0, "counting characters and pairs")
    char_keys = np.zeros(0, np.uint32); char_counts = np.zeros(0, np.int64)  # noqa: E702
    pair_keys = np.zeros(0, np.uint64); pair_counts = np.zeros(0, np.int64)  # noqa: E702
    for atoms in _blocks(stream(), cfg.block_chars):
        c, n = np.unique(atoms[atoms != 0], return_counts=True)
        char_keys, char_counts = _merge_counts(char_keys, char_counts, c, n)
        both = (atoms[:-1] != 0) & (atoms[1:] != 0)
        pk = (atoms[:-1][both].astype(np.uint64) << np.uint64(32)) | atoms[1:][both].astype(np.uint64)
        p, n = np.unique(pk, return_counts=True)
        pair_keys, pair_counts = _merge_counts(pair_keys, pair_counts, p, n)
    n_chars, n_pairs = int(char_counts.sum()), int(pair_counts.sum())
    if n_chars == 0:
        raise ValueError("corpus has no Chinese characters, digits or letters")

    # PMI of every distinct pair; the pairs that stay glued together
    log_pc = np.log(char_counts) - math.log(n_chars)
    a = np.searchsorted(char_keys, (pair_keys >> np.uint64(32)).astype(np.uint32))
    b = np.searchsorted(char_keys, (pair_keys & np.uint64(0xFFFFFFFF)).astype(np.uint32))
    log_pp = np.log(np.maximum(pair_counts, 1)) - math.log(max(n_pairs, 1))
    pair_pmi = log_pp - log_pc[a] - log_pc[b]
    glued = (log_pp > math.log(cfg.min_proba)) & (pair_pmi > cfg.min_pmi)
    glue_keys = pair_keys[glued]

    # 2. cut the corpus, count the fragments --------------------------------------------------------------------
    say(0.3, "cutting on weak pairs and counting fragments")
    frag_keys = np.zeros(0, np.uint64); frag_counts = np.zeros(0, np.int64)  # noqa: E702
    names: dict[int, str] = {}
    for atoms in _blocks(stream(), cfg.block_chars):
        pk = (atoms[:-1].astype(np.uint64) << np.uint64(32)) | atoms[1:].astype(np.uint64)
        keep = np.zeros(atoms.size - 1, bool)
        if glue_keys.size:
            pos = np.minimum(np.searchsorted(glue_keys, pk), glue_keys.size - 1)
            keep = glue_keys[pos] == pk
        word = atoms != 0
        # a glued run longer than max_word_len is not thrown away: it is split at its weakest pair, recursively
        if keep.any():
            gap = np.full(keep.size, np.inf)
            i = np.searchsorted(pair_keys, pk[keep])
            gap[keep] = pair_pmi[i]
            keep = _split_long_runs(keep, gap, word, cfg.max_word_len)
        fs, fl = _fragments(keep, word)
        h = _fragment_hashes(atoms, fs, fl, cfg.max_word_len)
        u, first, n = np.unique(h, return_index=True, return_counts=True)
        unseen = ~np.isin(u, frag_keys, assume_unique=True)
        for key, i in zip(u[unseen].tolist(), first[unseen].tolist()):
            names[key] = "".join(map(chr, atoms[fs[i]:fs[i] + fl[i]].tolist()))
        frag_keys, frag_counts = _merge_counts(frag_keys, frag_counts, u, n)

    total_frags = int(frag_counts.sum())
    min_count = max(1.0, cfg.min_proba * total_frags)
    counts = {names[k]: int(c) for k, c in zip(frag_keys.tolist(), frag_counts.tolist())
              if c > min_count or len(names[k]) == 1}

    # 3. de-redundancy, longest first ---------------------------------------------------------------------------
    say(0.6, f"removing redundant candidates ({len(counts):,})")
    pc = char_counts / n_chars
    lex = Lexicon(dict(counts), max_word_len=cfg.max_word_len, n_chars=n_chars,
                  char_entropy=float(-(pc * np.log(pc)).sum()))
    _remove_redundant(lex, cfg)

    say(1.0, f"{sum(len(w) > 1 for w in lex.counts):,} words")
    return lex


def _fragments(keep: np.ndarray, word: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Maximal runs of word atoms joined by glued gaps → (starts, lengths).

    keep[p] says whether the gap between atoms p and p+1 is glued; word marks non-separator atoms.
    """
    begin = word.copy()  # a fragment starts at a word atom not glued to its left neighbour
    begin[1:] &= ~keep
    end = word.copy()  # ... and ends at one not glued to its right neighbour
    end[:-1] &= ~keep
    fs = np.flatnonzero(begin)
    return fs, np.flatnonzero(end) + 1 - fs


def _split_long_runs(keep: np.ndarray, gap: np.ndarray, word: np.ndarray, max_len: int) -> np.ndarray:
    """Cut every run longer than ``max_len`` at its lowest-PMI gap until none is (vectorised over runs)."""
    keep = keep.copy()
    while True:
        fs, fl = _fragments(keep, word)
        long = fl > max_len
        if not long.any():
            return keep
        fs, fl = fs[long], fl[long]
        # gaps inside the long runs: positions fs .. fs+fl-2, labelled by run
        mark = np.zeros(keep.size + 1, np.int64)
        np.add.at(mark, fs, 1)
        np.add.at(mark, fs + fl - 1, -1)
        inside = np.flatnonzero(np.cumsum(mark)[:-1] > 0)
        run = np.searchsorted(fs, inside, side="right") - 1
        run_min = np.full(fs.size, np.inf)
        np.minimum.at(run_min, run, gap[inside])
        at_min = gap[inside] == run_min[run]
        _, first = np.unique(run[at_min], return_index=True)
        keep[inside[at_min][first]] = False


def _remove_redundant(lex: Lexicon, cfg: LexiconConfig) -> None:
    """Longest first: drop a word whose parts explain it (PMI against its best split below the threshold)."""
    counts = lex.counts
    log_total = math.log(lex.total)
    logp = lex.logp
    for w in sorted((w for w in counts if len(w) > 1), key=len, reverse=True):
        n = counts[w]
        del logp[w]
        ends = lex.cut_atoms(w)
        parts = [w[i:j] for i, j in zip([0] + ends[:-1], ends)]
        pmi = math.log(n) - log_total - sum(logp.get(p, lex.unk) for p in parts)
        if pmi < cfg.word_pmi * (len(parts) - 1):
            del counts[w]
            for p in parts:
                counts[p] = counts.get(p, 0) + n
                logp[p] = math.log(counts[p]) - log_total
        else:
            logp[w] = math.log(n) - log_total
            lex.pmi[w] = pmi
    lex._index()
