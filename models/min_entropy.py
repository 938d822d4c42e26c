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
* **numbers start words** — a digit run may begin a word but nothing is glued in front of it, so dates come
  out as 〈数〉月 〈数〉日 rather than one template 〈数〉月〈数〉日.
* **over-long runs are split, not dropped** — a glued run longer than ``max_word_len`` is cut at its weakest
  (lowest-PMI) pair until its pieces fit; and de-redundancy sweeps again (``redundancy_passes``) because
  removing a word raises its parts' counts.

Counting is vectorised with numpy and streams the corpus in blocks, so memory is bounded by the number of
distinct characters, pairs and fragments, not by the size of the corpus.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np

# Private-use code points stand for a run of digits / Latin letters inside a word.
NUM, LAT = "\ue000", "\ue001"
ATOM_NAMES = {NUM: "〈数〉", LAT: "〈字母〉"}
_NUM_CP, _LAT_CP = ord(NUM), ord(LAT)
_HASH_MUL = np.uint64(0x9E3779B97F4A7C15)  # odd 64-bit multiplier (golden ratio): polynomial hash of fragments


@dataclass
class LexiconConfig:
    # defaults: the thresholds chosen on People's Daily (bench/bench_lexicon.py --grid); the post's example
    # is min_proba 1e-8, min_pmi 1, with word_pmi = min_pmi
    min_proba: float = 10 ** -5.5  # minimum probability of a pair and of a candidate word
    min_pmi: float = 2.0  # minimum PMI (nats) of a kept pair; the post's break-even point is 1
    word_pmi: float = 4.0  # a multi-part word is kept when ln(p_w / Π p_part) ≥ word_pmi · (parts − 1)
    redundancy_passes: int = 3  # de-redundancy sweeps (the post does one); stops early when nothing changes
    number_starts_word: bool = True  # a digit run may only begin a word: 〈数〉年 yes, 〈数〉月〈数〉日 / 去年〈数〉 no
    max_word_len: int = 4  # longest word, in atoms (a digit run counts as one)
    block_chars: int = 4_000_000  # characters per streamed block
    cache_atoms: int = 32_000_000  # a corpus up to this many atoms is read once and kept (128 MB); larger: twice


# ----------------------------------------------------------------------------------------------------------------
# Text → atoms
# ----------------------------------------------------------------------------------------------------------------

def _class_table() -> np.ndarray:
    """Class of every BMP code point: 0 separator, 1 CJK, 2 digit, 3 Latin letter, 4 '.', '%' (number if after one)."""
    t = np.zeros(0x10000, np.int8)
    t[0x4E00:0xA000] = t[0x3400:0x4DC0] = t[0x3007] = 1  # CJK unified ideographs, extension A, 〇
    t[0x30:0x3A] = t[0xFF10:0xFF1A] = 2  # 0-9, ０-９
    t[0x41:0x5B] = t[0x61:0x7B] = t[0xFF21:0xFF3B] = t[0xFF41:0xFF5B] = 3  # A-Z a-z, full width
    t[[0x2E, 0xFF0E, 0x25, 0xFF05]] = 4  # . ． % ％
    return t


_CLASS = _class_table()


def _classify(cp: np.ndarray) -> np.ndarray:
    """Class of each code point: 0 separator, 1 CJK, 2 digit-ish, 3 Latin letter (beyond the BMP: 0)."""
    cls = _CLASS[np.minimum(cp, 0xFFFF)]
    cls[cp > 0xFFFF] = 0
    # '.', '．', '%', '％' right after a digit belong to the number (3.5%, １．５); elsewhere they separate
    punct = np.flatnonzero(cls == 4)
    cls[punct] = np.where((punct > 0) & (cls[np.maximum(punct - 1, 0)] == 2), 2, 0)
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
    max_word_len: int = 4
    n_chars: int = 0  # atoms in the corpus the lexicon was built from
    char_entropy: float = float("nan")  # H of the character distribution (nats): the "no words" baseline of L

    def __post_init__(self):
        self._index()

    def _index(self):
        self.total = max(1, sum(self.counts.values()))
        log_total = math.log(self.total)
        self.logp = {w: math.log(c) - log_total for w, c in self.counts.items() if c > 0}
        self.unk = -log_total - 1.0  # an atom never seen: rarer than anything seen once
        self._prefixes: set[str] | None = None

    @property
    def prefixes(self) -> set[str]:
        """Proper prefixes of the words: the Viterbi stops extending a candidate that is none (built lazily)."""
        if self._prefixes is None:
            self._prefixes = {w[:k] for w in self.logp for k in range(1, len(w))}
        return self._prefixes

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


TABLE = "lexicon.tsv"  # in a lexicon folder, beside config.json (the header) and MODEL_CARD.md


def save(lex: Lexicon, folder, card: str, meta: dict | None = None) -> None:
    """A lexicon folder: ``config.json`` (corpus statistics the lexicon needs, plus ``meta``: the build config, its
    scores), ``lexicon.tsv`` (``word<TAB>count<TAB>pmi``, readable words, most frequent first) and ``MODEL_CARD.md``
    — the project's checkpoint layout (models/checkpoint.py) with a word table in place of weights."""
    from models.checkpoint import CARD, CONFIG

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    header = {"n_chars": lex.n_chars, "char_entropy": lex.char_entropy, "max_word_len": lex.max_word_len,
              **(meta or {})}
    (folder / CONFIG).write_text(json.dumps(header, ensure_ascii=False, indent=1), encoding="utf-8")
    with open(folder / TABLE, "w", encoding="utf-8") as f:
        for w, c in sorted(lex.counts.items(), key=lambda kv: (-kv[1], kv[0])):
            pmi = lex.pmi.get(w)
            f.write(f"{display(w)}\t{c}\t{'' if pmi is None else f'{pmi:.4f}'}\n")
    (folder / CARD).write_text(card, encoding="utf-8")


def read_header(folder) -> dict:
    """The ``config.json`` of a lexicon folder written by :func:`save`."""
    from models.checkpoint import CONFIG

    return json.loads((Path(folder) / CONFIG).read_text(encoding="utf-8"))


def load(folder) -> Lexicon:
    """Read a lexicon folder written by :func:`save`."""
    header = read_header(folder)
    counts, pmi = {}, {}
    with open(Path(folder) / TABLE, encoding="utf-8") as f:
        for line in f:
            word, count, p = line.rstrip("\n").split("\t")
            for atom, name in ATOM_NAMES.items():
                word = word.replace(name, atom)
            counts[word] = int(count)
            if p:
                pmi[word] = float(p)
    return Lexicon(counts, pmi, max_word_len=header["max_word_len"], n_chars=header["n_chars"],
                   char_entropy=header["char_entropy"])


def _split_separators(run: str) -> list[str]:
    """A separator run → tokens: whitespace runs and runs of one repeated mark stay whole."""
    out: list[str] = []
    for ch in run:
        if out and (ch == out[-1][-1] or (ch.isspace() and out[-1].isspace())):
            out[-1] += ch
        else:
            out.append(ch)
    return out


def span_prf(predicted: Iterable[list[str]], gold: Iterable[list[str]]) -> tuple[float, float, float]:
    """Word-span precision, recall and F1 summed over sentences (whitespace tokens are ignored)."""
    tp = n_pred = n_gold = 0
    for pred, ref in zip(predicted, gold):
        p, g = word_spans(w for w in pred if w.strip()), word_spans(ref)
        tp += len(p & g)
        n_pred += len(p)
        n_gold += len(g)
    prec, rec = tp / max(1, n_pred), tp / max(1, n_gold)
    return prec, rec, 2 * prec * rec / max(1e-12, prec + rec)


def word_spans(words: Iterable[str]) -> set[tuple[int, int]]:
    """The (start, end) character offsets of consecutive words."""
    out, i = set(), 0
    for w in words:
        out.add((i, i + len(w)))
        i += len(w)
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
    fresh iterator is also accepted so a corpus on disk is streamed instead of held in memory).

    ``progress(fraction, message)`` is called between stages when given. The stages: count characters and
    adjacent pairs; keep the pairs that glue (probability and PMI); cut the corpus between the others and count the
    fragments; remove redundant candidates, longest first.
    """
    cfg = config or LexiconConfig()
    if isinstance(texts, str):
        texts = [texts]
    if callable(texts):
        stream = texts
    else:
        corpus = list(texts)
        stream = lambda: iter(corpus)  # noqa: E731
    say = progress or (lambda f, m: None)

    say(0.0, "counting characters and pairs")
    chars, pairs, kept_blocks = _count_chars_and_pairs(stream, cfg)
    n_chars = int(chars[1].sum())
    if n_chars == 0:
        raise ValueError("corpus has no Chinese characters, digits or letters")
    glue = _glued_pairs(chars, pairs, cfg)

    say(0.3, "cutting on weak pairs and counting fragments")
    blocks = kept_blocks if kept_blocks is not None else _blocks(stream(), cfg.block_chars)
    fragments, singles = _count_fragments(blocks, chars[0], glue, cfg)
    keys, counts, mat, n_candidates = _candidates(chars[0], fragments, singles, cfg)

    say(0.6, f"removing redundant candidates ({n_candidates:,})")
    pmi = np.full(keys.size, np.nan)
    for _ in range(cfg.redundancy_passes):  # removing a word raises its parts' counts: sweep again
        if not _remove_redundant(keys, counts, mat, pmi, cfg.word_pmi):
            break
    alive = counts > 0
    words = np.ascontiguousarray(mat[alive]).view(f"<U{cfg.max_word_len}").ravel().tolist()
    pc = chars[1] / n_chars
    lex = Lexicon(dict(zip(words, counts[alive].tolist())),
                  pmi={w: p for w, p in zip(words, pmi[alive].tolist()) if p == p},
                  max_word_len=cfg.max_word_len, n_chars=n_chars, char_entropy=float(-(pc * np.log(pc)).sum()))
    say(1.0, f"{sum(len(w) > 1 for w in lex.counts):,} words")
    return lex


def _count_chars_and_pairs(stream, cfg: LexiconConfig):
    """Stage 1, one pass over the corpus → ((char keys, counts), (pair keys, counts), the atom blocks if they fit
    in ``cfg.cache_atoms``, else None: stage 3 then streams the corpus again). A pair key is a << 32 | b."""
    char_keys = np.zeros(0, np.uint32); char_counts = np.zeros(0, np.int64)  # noqa: E702
    pair_keys = np.zeros(0, np.uint64); pair_counts = np.zeros(0, np.int64)  # noqa: E702
    kept_blocks: list[np.ndarray] | None = []
    n_atoms = 0
    for atoms in _blocks(stream(), cfg.block_chars):
        n_atoms += atoms.size
        if kept_blocks is not None and n_atoms <= cfg.cache_atoms:
            kept_blocks.append(atoms)
        else:
            kept_blocks = None  # too large to keep: pass 2 streams the corpus again
        n = np.bincount(atoms)
        c = np.flatnonzero(n[1:]) + 1
        char_keys, char_counts = _merge_counts(char_keys, char_counts, c.astype(np.uint32), n[c])
        both = (atoms[:-1] != 0) & (atoms[1:] != 0)
        pk = (atoms[:-1][both].astype(np.uint64) << np.uint64(32)) | atoms[1:][both].astype(np.uint64)
        p, n = np.unique(pk, return_counts=True)
        pair_keys, pair_counts = _merge_counts(pair_keys, pair_counts, p, n)
    return (char_keys, char_counts), (pair_keys, pair_counts), kept_blocks


def _glued_pairs(chars, pairs, cfg: LexiconConfig):
    """Stage 2: the PMI of every distinct pair → (keys, PMI) of the pairs that stay glued together (probability
    above ``min_proba``, PMI above ``min_pmi``; never in front of a digit run when ``number_starts_word``)."""
    (char_keys, char_counts), (pair_keys, pair_counts) = chars, pairs
    n_chars, n_pairs = int(char_counts.sum()), int(pair_counts.sum())
    log_pc = np.log(char_counts) - math.log(n_chars)
    a = np.searchsorted(char_keys, (pair_keys >> np.uint64(32)).astype(np.uint32))
    b = np.searchsorted(char_keys, (pair_keys & np.uint64(0xFFFFFFFF)).astype(np.uint32))
    log_pp = np.log(np.maximum(pair_counts, 1)) - math.log(max(n_pairs, 1))
    pair_pmi = log_pp - log_pc[a] - log_pc[b]
    glued = (log_pp > math.log(cfg.min_proba)) & (pair_pmi > cfg.min_pmi)
    if cfg.number_starts_word:  # never glue anything in front of a digit run
        glued &= (pair_keys & np.uint64(0xFFFFFFFF)) != np.uint64(_NUM_CP)
    return pair_keys[glued], pair_pmi[glued]


def _count_fragments(blocks, char_keys, glue, cfg: LexiconConfig):
    """Stage 3: cut every block between pairs that do not glue → ((fragment hashes, counts, texts) of the
    multi-atom fragments, (atoms, counts) of the atoms that stood alone)."""
    glue_keys, glue_pmi = glue
    L = cfg.max_word_len
    frag_keys = np.zeros(0, np.uint64); frag_counts = np.zeros(0, np.int64)  # noqa: E702
    frag_names = np.zeros(0, f"<U{L}")
    single_keys = np.zeros(0, np.uint32); single_counts = np.zeros(0, np.int64)  # noqa: E702
    # glued pairs as a dense V×V bit table over character ids when it is small (O(1) lookups), else a sorted list
    lut = np.zeros(max(int(char_keys.max()) + 1, _LAT_CP + 1), np.int64)
    lut[char_keys] = np.arange(char_keys.size)
    V = char_keys.size
    dense = V * V <= 64_000_000
    if dense:
        glue_table = np.zeros(V * V, bool)
        glue_table[lut[(glue_keys >> np.uint64(32)).astype(np.int64)] * V
                   + lut[(glue_keys & np.uint64(0xFFFFFFFF)).astype(np.int64)]] = True
    for atoms in blocks:
        pk = (atoms[:-1].astype(np.uint64) << np.uint64(32)) | atoms[1:].astype(np.uint64)
        if dense:
            ids = lut[atoms]
            keep = glue_table[ids[:-1] * V + ids[1:]] & (atoms[:-1] != 0) & (atoms[1:] != 0)
        else:
            keep = np.zeros(pk.size, bool)
            if glue_keys.size:
                pos = np.minimum(np.searchsorted(glue_keys, pk), glue_keys.size - 1)
                keep = glue_keys[pos] == pk
        word = atoms != 0
        fs, fl = _fragments(keep, word)
        # a glued run longer than max_word_len is not thrown away: it is split at its weakest pair, recursively
        if (fl > L).any():
            keep = _split_long_runs(keep, fs, fl, lambda pos: glue_pmi[np.searchsorted(glue_keys, pk[pos])], L)
            fs, fl = _fragments(keep, word)
        one = fl == 1
        c, n = np.unique(atoms[fs[one]], return_counts=True)
        single_keys, single_counts = _merge_counts(single_keys, single_counts, c, n)
        fs, fl = fs[~one], fl[~one]
        u, first, n = np.unique(_fragment_hashes(atoms, fs, fl, L), return_index=True, return_counts=True)
        # the fragments' text, as fixed-width UTF-32 strings (numpy drops the zero padding)
        offsets = np.arange(L)
        idx = fs[first][:, None] + offsets
        text = np.where(offsets < fl[first][:, None], atoms[np.minimum(idx, atoms.size - 1)], 0)
        names = np.ascontiguousarray(text.astype("<u4")).view(f"<U{L}").ravel()
        frag_keys, frag_counts, frag_names = _merge_named(frag_keys, frag_counts, frag_names, u, n, names)
    return (frag_keys, frag_counts, frag_names), (single_keys, single_counts)


def _candidates(char_keys, fragments, singles, cfg: LexiconConfig):
    """The candidate table: every character (count 0 where it never stood alone) + the fragments more frequent
    than ``min_proba`` of all, as rows of a zero-padded atom matrix sorted by fragment hash → (keys, counts,
    matrix, number of frequent fragments)."""
    (frag_keys, frag_counts, frag_names), (single_keys, single_counts) = fragments, singles
    L = cfg.max_word_len
    total_frags = int(frag_counts.sum() + single_counts.sum())
    min_count = max(1.0, cfg.min_proba * total_frags)
    frequent = frag_counts > min_count
    chars = char_keys[char_keys != 0]
    ones = np.zeros(chars.size, np.int64)
    hit = np.isin(chars, single_keys)
    ones[hit] = single_counts[np.searchsorted(single_keys, chars[hit])]
    mat = np.zeros((chars.size + int(frequent.sum()), L), np.uint32)
    mat[:chars.size, 0] = chars
    mat[chars.size:] = np.ascontiguousarray(frag_names[frequent]).view("<u4").reshape(-1, L)
    keys = np.concatenate([chars.astype(np.uint64) + np.uint64(1), frag_keys[frequent]])
    counts = np.concatenate([ones, frag_counts[frequent]])
    order = np.argsort(keys)
    return keys[order], counts[order], mat[order], int(frequent.sum())


def _merge_named(keys, counts, names, new_keys, new_counts, new_names):
    """:func:`_merge_counts` that carries each key's text along."""
    k = np.concatenate([keys, new_keys])
    uk, first, inv = np.unique(k, return_index=True, return_inverse=True)
    c = np.bincount(inv, weights=np.concatenate([counts, new_counts]), minlength=uk.size).astype(np.int64)
    return uk, c, np.concatenate([names, new_names])[first]


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


def _split_long_runs(keep: np.ndarray, fs: np.ndarray, fl: np.ndarray, gap_pmi, max_len: int) -> np.ndarray:
    """Cut every run longer than ``max_len`` at its lowest-PMI gap, recursively, until every piece fits.

    keep: glued gaps (changed in place); fs, fl: the runs; gap_pmi(positions) → PMI of those gaps.
    Works on the gaps of the long runs only, laid end to end ("slots"); vectorised over pieces.
    """
    long = fl > max_len
    fs, fl = fs[long], fl[long]
    if fs.size == 0:
        return keep
    n_gaps = fl - 1
    first_slot = np.concatenate([[0], np.cumsum(n_gaps)[:-1]])
    slot_pos = np.repeat(fs - first_slot, n_gaps) + np.arange(n_gaps.sum())  # slot → gap position
    pmi = gap_pmi(slot_pos)
    ps, pl = first_slot, fl  # pieces: first slot, length in atoms (ordered by first slot)
    while ps.size:
        ng = pl - 1
        starts = np.concatenate([[0], np.cumsum(ng)[:-1]])
        slots = np.repeat(ps - starts, ng) + np.arange(ng.sum())  # the gaps of every piece, piece by piece
        vals = pmi[slots]
        mins = np.minimum.reduceat(vals, starts)
        piece = np.repeat(np.arange(ps.size), ng)
        at_min = np.flatnonzero(vals == mins[piece])
        _, first = np.unique(piece[at_min], return_index=True)
        cut = slots[at_min[first]]  # the weakest gap of each piece
        keep[slot_pos[cut]] = False
        k = cut - ps + 1  # atoms left of the cut
        ps = np.concatenate([ps, cut + 1])
        pl = np.concatenate([k, pl - k])
        order = np.argsort(ps, kind="stable")
        ps, pl = ps[order], pl[order]
        ps, pl = ps[pl > max_len], pl[pl > max_len]
    return keep


def _compositions(n: int) -> list[tuple[tuple[int, int], ...]]:
    """Every way to cut n atoms into two or more parts, as (start, end) spans."""
    out = []
    for mask in range(1, 2 ** (n - 1)):  # bit i set = a cut after atom i
        bounds = [0] + [i + 1 for i in range(n - 1) if mask >> i & 1] + [n]
        out.append(tuple(zip(bounds[:-1], bounds[1:])))
    return out


def _hash_rows(mat: np.ndarray) -> np.ndarray:
    """The fragment hash of every row of an atom matrix (same hash as :func:`_fragment_hashes`)."""
    h = np.zeros(mat.shape[0], np.uint64)
    with np.errstate(over="ignore"):
        for k in range(mat.shape[1]):
            h = h * _HASH_MUL + mat[:, k].astype(np.uint64) + np.uint64(1)
    return h


def _remove_redundant(keys, counts, mat, pmi, word_pmi: float) -> int:
    """One de-redundancy sweep, longest words first, in place; returns how many words were dropped.

    For a word w the best split is the segmentation of w into other words (any single atom allowed) with the
    highest Σ log p — what the unigram model would do without w; w stays when
    ln(p_w / Π p_part) ≥ word_pmi · (parts − 1), otherwise its count goes to those parts. Words of one length
    never contain each other, so a whole length is decided at once, vectorised over all its splits.
    """
    log_total = math.log(counts.sum())
    lens = (mat != 0).sum(1)
    singles = np.flatnonzero(lens == 1)
    row_of_atom = dict(zip(mat[singles, 0].tolist(), singles.tolist()))  # every atom has a row (count may be 0)
    lut = np.zeros(max(row_of_atom) + 1, np.int64)
    lut[list(row_of_atom)] = list(row_of_atom.values())
    unk = -log_total - 1.0  # an atom never seen alone
    dropped = 0
    for n in range(mat.shape[1], 1, -1):
        rows = np.flatnonzero((lens == n) & (counts > 0))
        if rows.size == 0:
            continue
        logp = np.where(counts > 0, np.log(np.maximum(counts, 1)) - log_total, -np.inf)
        spans = {}  # (a, b) → (row of the part, its log-probability), shared by all splits of this length
        for a in range(n):
            for b in range(a + 1, n + 1):
                if b - a == n:
                    continue
                if b - a == 1:
                    i = lut[mat[rows, a]]
                    spans[a, b] = i, np.where(counts[i] > 0, logp[i], unk)
                else:
                    h = _hash_rows(mat[rows, a:b])
                    i = np.minimum(np.searchsorted(keys, h), keys.size - 1)
                    spans[a, b] = i, np.where(keys[i] == h, logp[i], -np.inf)
        comps = _compositions(n)
        scores = np.stack([sum(spans[ab][1] for ab in comp) for comp in comps], 1)
        best = scores.argmax(1)
        n_parts = np.array([len(c) for c in comps])[best]
        w_pmi = np.log(counts[rows]) - log_total - scores[np.arange(rows.size), best]
        drop = w_pmi < word_pmi * (n_parts - 1)
        pmi[rows[~drop]] = w_pmi[~drop]
        for c in np.unique(best[drop]):
            sel = drop & (best == c)
            for ab in comps[c]:  # the dropped words' counts go to the parts of their best split
                np.add.at(counts, spans[ab][0][sel], counts[rows[sel]])
        counts[rows[drop]] = 0
        pmi[rows[drop]] = np.nan
        dropped += int(drop.sum())
    return dropped
