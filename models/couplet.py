"""Couplet robot by sequence labelling: a CNN that writes the lower line character by character.

Su Jianlin, 基于CNN和序列标注的对联机器人, https://kexue.fm/archives/6270
(reference code: bojone/seq2seq ``couplet_by_seq_tagging.py``).

A couplet's lower line has the upper line's length and answers it position by position, so Su drops seq2seq:
tag every upper character with its lower character. Embedding(V, 128) → Dropout → 6 gated residual blocks →
per-position softmax over the vocabulary. A block is

    h, g = Conv1D(2d, 3, same)(x)          # split the 2d channels in halves
    out  = x ⊗ σ(g) + h ⊗ σ(−g)            # a gate between keeping x and taking the new h

Decoding (Su's rule): per-position argmax, never <unk>, never the upper line's character at the same position
(:func:`decode_greedy`); marks between clauses (，、；：！？) are copied. Chosen position by position, such lines
answer every character and may still make no sense, so :func:`write_lower` (what the tab calls) runs a beam
search (:func:`beam_search`) whose score adds, to the tagger's Σ log p, the log-probability of a couplet language
model (models/couplet_lm.py), a bonus per adjacent pair of lower characters that real couplets use to answer the
upper pair (:class:`PhraseTable`: 岁月 → 乾坤) and a bonus per position whose classical tone (平仄,
:func:`tone_pattern`, from the 平水韵 rhyme book) opposes the upper line's, under the form rules: repeated
characters of the upper line mirrored, no other repeats; its candidates differ in at least two characters
(:func:`diverse`), or are sampled.
"""
from __future__ import annotations

import functools
import math
from dataclasses import asdict, dataclass, field
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
    max_len: int = 34  # longest line the app accepts, marks included (the net itself is length-agnostic)


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


MARKS = "，、；：！？"  # marks a couplet keeps inside its lines: the lower line has the same mark at the same place
# typed forms of those marks, made full-width; an internal 。 ends a clause, read as ；
ASCII_MARKS = str.maketrans({",": "，", ";": "；", ":": "：", "!": "！", "?": "？", "。": "；"})
BEAM = 40  # the beam's width, at least: 8 lines for each of the tab's 5 candidates (the bench decodes the same way)
TONE_SIGN = {"平": 1.0, "仄": -1.0}  # level / oblique as opposite signs: opposed tones multiply to −1


def mark_ids(vocab: Vocab) -> set[int]:
    """Vocabulary ids of :data:`MARKS`."""
    return {vocab.stoi[m] for m in MARKS if m in vocab.stoi}


def allowed_log_probs(logits: torch.Tensor, upper_ids: list[int], marks: set[int] = frozenset()) -> torch.Tensor:
    """Per-position log-probabilities under Su's rule: <pad>, <unk> and the upper character at the same
    position are impossible; a mark of the upper line is copied, and marks appear nowhere else.
    logits: (T, V) → (T, V); ``marks``: the vocabulary ids of :data:`MARKS`."""
    mask = torch.zeros_like(logits, dtype=torch.bool)
    mask[:, :2] = True
    mask[torch.arange(len(upper_ids)), torch.tensor(upper_ids)] = True
    if marks:
        mask[:, sorted(marks)] = True
    logp = torch.log_softmax(logits.masked_fill(mask, float("-inf")), dim=-1)
    for t, u in enumerate(upper_ids):
        if u in marks:
            logp[t] = float("-inf")
            logp[t, u] = 0.0
    return logp


def without_upper_characters(tag_logp: torch.Tensor, upper_ids: list[int], marks: set[int] = frozenset()):
    """A form rule of couplets (上下联不重字): the lower line uses no character of the upper line, at any position
    (Su's rule forbids only the same position). Real couplets keep it — 0 of wb14123's 3,991 test couplets break it,
    0.9 % of the verse pairs — while the tab broke it in a quarter of its lines (山高水长 → 天静山高). Patterned lines
    still mirror: the lower line repeats its *own* characters. (T, V) → (T, V); marks stay copied."""
    banned = sorted({u for u in upper_ids if u not in marks and u > 1})
    out = tag_logp.clone()
    out[:, banned] = float("-inf")
    return out


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
            out[i] = vocab.decode(allowed_log_probs(row, up, mark_ids(vocab)).argmax(-1).tolist())
    return [out[i] for i in range(len(uppers))]


@dataclass
class Candidate:
    """A lower line with its scores and tones."""
    lower: str
    score: float                 # what the decoder ranked by: tag_log_p + lm_weight · lm_log_p (+ tone and pair bonus)
    tag_log_p: float             # Σ_t log p(y_t | upper) of the tagger under Su's rule
    lm_log_p: float | None       # log p(lower <eos> | upper) of the couplet LM (None without one)
    tones: str                   # 平 / 仄 / ○ per character, · for a mark (:func:`tone_pattern`)
    marks: list[bool | None]     # per position: opposed to the upper line's tone? None where unknown
    opposed: float               # share of opposed positions among the known ones
    pair_bonus: float = 0.0      # the phrase table's weighted bonus summed over the line (:class:`PhraseTable`)
    pairs: list = field(default_factory=list)  # the aligned pairs the table knows: [(upper pair, lower pair, count)]


def repeat_groups(upper: str) -> list[int]:
    """For each position, the first position holding the same character (itself when new): 风声雨声 → 0 1 2 1."""
    return [upper.index(c) for c in upper]


def beam_search(tag_logp: torch.Tensor, upper: str, lm=None, lm_weight: float = 0.0, tag_weight: float = 1.0,
                bonus: torch.Tensor | None = None, beam: int = 16, temperature: float = 1.0,
                generator: torch.Generator | None = None, n_samples: int = 5,
                phrases=None) -> list[tuple[float, float, float, list[int]]]:
    """Left-to-right search for lower lines: score = ``tag_weight`` × the tagger's log-probs + ``lm_weight`` × the
    couplet LM's (``lm`` = (LM, its vocabulary, the tagger's vocabulary)) + ``bonus`` (T, V) where given (e.g.
    :func:`tone_bonus`) + ``phrases(t, previous ids)`` (B, V) where given (:meth:`PhraseTable.scorer`: the bonus of
    each lower pair), under the form rules.

    Form rules a reader expects, as constraints: where the upper line repeats a character (风声雨声…声声, 事事), the
    lower line repeats its own at the same positions — the first position chooses for the whole group, by the
    tagger's log-probs summed over the group; and the lower line repeats nothing where the upper line does not.
    tag_logp: (T, V) from :func:`allowed_log_probs` (Su's rule, marks copied; −inf stays −inf at any weight).
    Returns the final beam as (score, tagger log p, LM log p, ids), best first; with a ``generator``,
    ``n_samples`` lines sampled position by position from the same scores at ``temperature`` instead.
    """
    T, V = tag_logp.shape
    first = repeat_groups(upper)
    group_logp = tag_logp.clone()  # row t of a group's first position: the group's summed log-probs
    group_bonus = torch.zeros_like(tag_logp) if bonus is None else bonus.clone()
    for t in range(T):
        if first[t] != t:
            group_logp[first[t]] += tag_logp[t]
            group_bonus[first[t]] += group_bonus[t]
    weighted = torch.where(torch.isfinite(group_logp), tag_weight * group_logp + group_bonus, float("-inf"))
    B0 = n_samples if generator is not None else 1
    use_lm = lm is not None and lm_weight > 0
    if use_lm:
        from models.couplet_lm import EOS, encode_pair

        lm_model, lm_vocab, vocab = lm
        to_lm = torch.tensor([lm_vocab.stoi.get(c, 1) for c in vocab.itos])  # tagger id → LM id
        logits, cache = lm_model(torch.tensor([encode_pair(lm_vocab, upper)] * B0), [], line_len=T)
        lm_lp = torch.log_softmax(logits[:, -1].float(), dim=-1)  # (B, V_lm): the next token's log-probs
    beams = [(0.0, 0.0, 0.0, [])] * B0  # a hypothesis: (score, tagger log p, LM log p, ids)
    for t in range(T):
        lm_tag = lm_lp[:, to_lm] if use_lm else torch.zeros(len(beams), V)  # (B, V) in tagger ids
        pair = phrases(t, [h[3][-1] for h in beams]) if phrases is not None and t else None  # (B, V) or None
        extra = lm_weight * lm_tag + (0.0 if pair is None else pair)  # (B, V): what the beam's history adds
        if first[t] != t:  # the upper line repeats here: so does the lower line (its score was counted already)
            picks = [(b, h[3][first[t]]) for b, h in enumerate(beams)]
            beams = [(h[0] + float(extra[b, y]), h[1], h[2] + float(lm_tag[b, y]), h[3] + [y])
                     for (b, y), h in zip(picks, beams)]
        else:
            scores = weighted[t].unsqueeze(0) + extra  # (B, V)
            for b, h in enumerate(beams):
                if h[3]:  # a new upper character: no lower character may repeat
                    scores[b, torch.tensor(h[3])] = float("-inf")
            scores = scores + torch.tensor([h[0] for h in beams]).unsqueeze(1)
            if generator is not None:
                z = (scores - scores.max(1, keepdim=True).values) / max(temperature, 1e-6)
                probs = torch.softmax(z, dim=-1)
                picks = [(b, int(torch.multinomial(probs[b], 1, generator=generator))) for b in range(len(beams))]
            else:
                top = scores.flatten().topk(min(beam, int(torch.isfinite(scores).sum())))
                picks = [(int(i) // V, int(i) % V) for i in top.indices]
            beams = [(float(scores[b, y]), beams[b][1] + float(group_logp[t, y]), beams[b][2] + float(lm_tag[b, y]),
                      beams[b][3] + [y]) for b, y in picks]
        if use_lm:  # the LM reads the chosen characters: one token per beam, its cache rows following the beams
            rows = torch.tensor([b for b, _ in picks])
            cache = [(k[rows], v[rows]) for k, v in cache]
            logits, cache = lm_model(to_lm[torch.tensor([[y] for _, y in picks])], cache, line_len=T)
            lm_lp = torch.log_softmax(logits[:, -1].float(), dim=-1)
    if use_lm:  # the closing <eos>: a line that should go on scores low
        eos = lm_lp[:, lm_vocab.stoi[EOS]].tolist()
        beams = [(s + lm_weight * e, tg, lp + e, ys) for (s, tg, lp, ys), e in zip(beams, eos)]
    return sorted(beams, key=lambda h: -h[0])


class PhraseTable:
    """Aligned character pairs of real couplets: how often an upper pair AB (two adjacent characters) was answered
    by the lower pair xy at the same two positions — 岁月 → 乾坤, 明月 → 清风. The tagger chooses every position on
    its own; this table knows which *pairs* of lower characters go together in answer to which upper pairs.

    As a Bayesian update of the tagger: its two positions give the pair the prior p(x)·p(y); the table's N answers to
    AB, c of them xy, move it to the posterior mean (c + k·p(x)p(y)) / (N + k) (a Dirichlet of strength k centred on
    the tagger). The beam adds the log of the ratio, posterior / prior,

        bonus(x, y) = log(1 + c / (k·p(x)·p(y))) − log(1 + N / k)

    for every adjacent pair of the lower line whose upper pair the table knows (0 where it does not), times a weight.

    ``counts``: {AB: {xy: count}}; ``totals``: {AB: N} (N may exceed the kept counts: pairs seen too rarely to be
    kept still count as answers that are not xy)."""

    def __init__(self, counts: dict[str, dict[str, float]], totals: dict[str, float], k: float = 1.0):
        self.counts, self.totals, self.k = counts, totals, k

    def __len__(self) -> int:
        return sum(map(len, self.counts.values()))

    @classmethod
    def build(cls, pairs, min_count: int = 2, k: float = 1.0) -> "PhraseTable":
        """From (upper, lower, weight) rows: each row adds ``weight`` to the counts of its aligned pairs (marks
        aside); a pair is kept where it occurs in at least ``min_count`` rows — so the table holds what couplets
        share, not fragments of single couplets — while every row's weight counts in N."""
        from collections import Counter, defaultdict

        counts, totals, rows = defaultdict(Counter), Counter(), Counter()
        for upper, lower, weight in pairs:
            for i in range(len(upper) - 1):
                ab, xy = upper[i:i + 2], lower[i:i + 2]
                if ab[0] in MARKS or ab[1] in MARKS:
                    continue
                counts[ab][xy] += weight
                totals[ab] += weight
                rows[ab, xy] += 1
        kept = {ab: {xy: c for xy, c in row.items() if rows[ab, xy] >= min_count} for ab, row in counts.items()}
        return cls({ab: row for ab, row in kept.items() if row}, {ab: totals[ab] for ab, row in kept.items() if row},
                   k)

    def save(self, path) -> None:
        """One line per upper pair: ``AB<TAB>N<TAB>xy c xy c …``, gzip-compressed."""
        import gzip

        lines = (f"{ab}\t{self.totals[ab]:g}\t" + " ".join(f"{xy} {c:g}" for xy, c in sorted(row.items()))
                 for ab, row in sorted(self.counts.items()))
        with gzip.open(path, "wt", encoding="utf-8") as f:
            f.write(f"#k\t{self.k:g}\n" + "\n".join(lines) + "\n")

    @classmethod
    def load(cls, path) -> "PhraseTable":
        import gzip

        counts, totals, k = {}, {}, 1.0
        with gzip.open(path, "rt", encoding="utf-8") as f:
            for line in f:
                if line.startswith("#k\t"):  # the header: the prior's strength
                    k = float(line[3:])
                    continue
                ab, n, rest = line.rstrip("\n").split("\t")
                items = rest.split(" ")
                counts[ab] = {items[i]: float(items[i + 1]) for i in range(0, len(items), 2)}
                totals[ab] = float(n)
        return cls(counts, totals, k)

    def scorer(self, upper: str, tag_logp: torch.Tensor, vocab: Vocab, weight: float = 1.0):
        """For :func:`beam_search`: ``f(t, prev_ids) → (B, V)``, the weighted bonus of every lower character at
        position t after each beam's character at t − 1; None at positions whose upper pair the table lacks."""
        T, V = tag_logp.shape
        known = {}
        for t in range(1, T):
            row = self.counts.get(upper[t - 1:t + 1])
            if row:
                by_prev: dict[int, list[tuple[int, float]]] = {}
                for xy, c in row.items():
                    x, y = vocab.stoi.get(xy[0]), vocab.stoi.get(xy[1])
                    if x is not None and y is not None:
                        by_prev.setdefault(x, []).append((y, c))
                known[t] = (by_prev, math.log1p(self.totals[upper[t - 1:t + 1]] / self.k))
        p = tag_logp.exp().clamp_min(1e-12)  # (T, V)

        def score(t: int, prev_ids: list[int]) -> torch.Tensor | None:
            if t not in known:
                return None
            by_prev, log_norm = known[t]
            out = torch.full((len(prev_ids), V), -weight * log_norm)
            for b, x in enumerate(prev_ids):
                for y, c in by_prev.get(x, ()):
                    out[b, y] += weight * math.log1p(c / (self.k * float(p[t - 1, x]) * float(p[t, y])))
            return out

        return score

    def matches(self, upper: str, lower: str) -> list[tuple[str, str, float]]:
        """The aligned pairs of a couplet that the table knows: [(AB, xy, count)]."""
        return [(upper[i:i + 2], lower[i:i + 2], self.counts[upper[i:i + 2]][lower[i:i + 2]])
                for i in range(len(upper) - 1) if lower[i:i + 2] in self.counts.get(upper[i:i + 2], {})]


@functools.lru_cache(maxsize=4)
def _char_tones(chars: tuple[str, ...]) -> torch.Tensor:
    """+1 for 平, −1 for 仄, 0 unknown: each character's tone out of context (:func:`tone_pattern`)."""
    return torch.tensor([TONE_SIGN.get(tone_pattern(c) if len(c) == 1 else "", 0.0) for c in chars])


def tone_bonus(upper: str, vocab: Vocab) -> torch.Tensor:
    """(T, V): 1 where a character's tone is opposed to the upper line's tone at that position, else 0."""
    sign = torch.tensor([TONE_SIGN.get(t, 0.0) for t in tone_pattern(upper)])  # (T,)
    return (sign.unsqueeze(1) * _char_tones(tuple(vocab.itos)).unsqueeze(0) < 0).float()


def apart(h, k, min_diff: int, upper: str) -> bool:
    """Do two beam lines (score, …, ids) differ in at least ``min_diff`` characters (or in all of a shorter line)?"""
    return sum(a != b for a, b in zip(h[3], k[3])) >= min(min_diff, len(upper))


def diverse(found: list, n: int, upper: str) -> list:
    """``n`` of ``found`` (best first), each differing from every one kept before in at least two characters —
    or, when too few do, in at least one."""
    keep = []
    for min_diff in (2, 1):
        for h in found:
            if len(keep) < n and h not in keep and all(apart(h, k, min_diff, upper) for k in keep):
                keep.append(h)
    return keep


@torch.inference_mode()
def write_lower(model: CoupletNet, vocab: Vocab, upper: str, n: int = 5, sampled: bool = False,
                temperature: float = 1.0, seed: int = 0, lm=None, lm_weight: float = 0.0, tag_weight: float = 1.0,
                tone_weight: float = 0.0, beam: int = BEAM, phrases: "PhraseTable | None" = None,
                phrase_weight: float = 0.0, reuse: bool = False) -> list[Candidate]:
    """The ``n`` best lower lines for ``upper`` (punctuation copied): beam search under the form rules
    (:func:`beam_search`), the tagger's log-probs plus ``lm_weight`` × the couplet LM's (``lm`` = (LM, its
    vocabulary)) plus ``tone_weight`` per position whose tone is opposed to the upper line's plus ``phrase_weight`` ×
    the phrase table's bonus of each aligned pair (:class:`PhraseTable`), ``n`` candidates that
    differ in at least two characters (:func:`diverse`); or ``n`` lines sampled at ``temperature`` from a generator
    seeded with ``seed``. Unless ``reuse``, no character of the upper line appears in the lower line
    (:func:`without_upper_characters`)."""
    model.eval()
    ids = vocab.encode(upper)
    logits = model(torch.tensor([ids]))[0]  # (T, V)
    lm_arg = (lm[0], lm[1], vocab) if lm is not None else None
    punctuation = mark_ids(vocab)
    tag_logp = allowed_log_probs(logits, ids, punctuation)
    if not reuse:
        tag_logp = without_upper_characters(tag_logp, ids, punctuation)
    bonus = tone_weight * tone_bonus(upper, vocab) if tone_weight else None
    pair = phrases.scorer(upper, tag_logp, vocab, phrase_weight) if phrases is not None and phrase_weight else None
    if sampled:
        found = beam_search(tag_logp, upper, lm_arg, lm_weight, tag_weight, bonus, temperature=temperature,
                            generator=torch.Generator().manual_seed(seed), n_samples=n * 2, phrases=pair)
        found = list({tuple(h[3]): h for h in found}.values())[:n]
    else:
        # ``beam`` lines, 8 per candidate when more are asked for; 32 per candidate when those hold too few that
        # differ in two characters: the phrase table makes the beam's lines alike (a strong pair bonus keeps them on
        # one pair)
        for width in (max(beam, n * 8), max(beam, n * 32)):
            found = diverse(beam_search(tag_logp, upper, lm_arg, lm_weight, tag_weight, bonus, beam=width,
                                        phrases=pair), n, upper)
            if all(apart(x, y, 2, upper) for i, x in enumerate(found) for y in found[i + 1:]):
                break
    upper_tones = tone_pattern(upper)
    out = []
    for score, tag_lp, lm_lp, line in found:
        lower = vocab.decode(line)
        tones = tone_pattern(lower)
        marks, share = oppose(upper_tones, tones)
        scores = [pair(t, [line[t - 1]]) for t in range(1, len(line))] if pair is not None else []
        pair_lp = sum(float(s[0, line[t]]) for t, s in enumerate(scores, 1) if s is not None)
        out.append(Candidate(lower, score, tag_lp, lm_lp if lm is not None else None, tones, marks, share, pair_lp,
                             phrases.matches(upper, lower) if phrases is not None else []))
    return out


# ----------------------------------------------------------------------------------------------------------------
# 平仄 (tones) and metrics
# ----------------------------------------------------------------------------------------------------------------

TONE_TABLE = Path(__file__).resolve().parents[1] / "data" / "tones" / "pingshui.txt"


@functools.lru_cache(maxsize=1)
def tone_table() -> dict[str, str]:
    """Character → 平 / 仄 / 两 (both) from the 平水韵 rhyme book (data/tones/SOURCES.md)."""
    table = {}
    for line in TONE_TABLE.read_text(encoding="utf-8").splitlines():
        tone, _, chars = line.partition("\t")
        table.update(dict.fromkeys(chars, tone))
    return table


def tone_pattern(text: str) -> str:
    """Classical tones per character: 平 (level) / 仄 (oblique) from the 平水韵 table, so that characters of the
    old entering tone (入声: 国, 白, 竹, 月…) are 仄 whatever their Mandarin tone; a character listed under both
    tones (看, 思, 重…) takes the tone of its Mandarin reading in context (pypinyin's phrase dictionary), as does
    a character outside the table (1–2 平, 3–4 仄); ○ where unknown, · for a mark."""
    from pypinyin import Style, pinyin

    table = tone_table()
    out = []
    readings = pinyin(text, style=Style.TONE3, heteronym=False, errors=lambda s: [["?"] for _ in s])
    for c, (syllable,) in zip(text, readings):
        classical = table.get(c)
        if c in MARKS:
            out.append("·")
        elif classical in ("平", "仄"):
            out.append(classical)
        else:
            tone = syllable[-1] if syllable and syllable[-1].isdigit() else ""
            out.append("平" if tone in ("1", "2") else "仄" if tone in ("3", "4") else "○")
    return "".join(out)


def tone_opposition(upper: str, lower: str) -> tuple[list[bool | None], float]:
    """Per position: are the tones opposed (平 against 仄)? None where a tone is unknown. Returns the list and the
    share of opposed positions among the known ones."""
    return oppose(tone_pattern(upper), tone_pattern(lower))


def oppose(upper_tones: str, lower_tones: str) -> tuple[list[bool | None], float]:
    """:func:`tone_opposition` on two tone patterns already computed."""
    marks = [x != y if x in "平仄" and y in "平仄" else None for x, y in zip(upper_tones, lower_tones)]
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


def mirrors(upper: str, lower: str) -> bool | None:
    """Does the lower line repeat characters exactly where the upper line does (风声雨声 ↔ 家事国事)? None when the
    upper line repeats nothing (marks aside)."""
    pos = [i for i, c in enumerate(upper) if c not in MARKS]
    pairs = [(i, j) for k, i in enumerate(pos) for j in pos[k + 1:]]
    if not any(upper[i] == upper[j] for i, j in pairs):
        return None
    return all((upper[i] == upper[j]) == (lower[i] == lower[j]) for i, j in pairs)


def stray_repeat(upper: str, lower: str) -> bool:
    """Does the lower line repeat a character where the upper line has two different ones?"""
    pos = [i for i, c in enumerate(upper) if c not in MARKS]
    return any(lower[i] == lower[j] and upper[i] != upper[j] for k, i in enumerate(pos) for j in pos[k + 1:])


def lower_line_metrics(uppers: list[str], hypotheses: list[str], references: list[str]) -> dict[str, float]:
    """What the card and the benchmark report of lower lines written for ``uppers`` against the human ones:
    character BLEU-2 and BLEU-4, character accuracy (marks aside), share of tone-opposed positions (classical
    tones), share of 仄-ending upper lines answered by a 平 ending, share of upper lines with repeated characters
    whose pattern the lower line mirrors, share of lower lines repeating a character where the upper line does not,
    share of lines repeating an upper character at the same position (marks aside)."""
    chars = [(h, r) for hy, re_, u in zip(hypotheses, references, uppers) for h, r, x in zip(hy, re_, u)
             if x not in MARKS]
    acc = sum(h == r for h, r in chars) / max(1, len(chars))
    opposed = sum(tone_opposition(u, h)[1] for u, h in zip(uppers, hypotheses)) / len(hypotheses)
    zeze = [h for u, h in zip(uppers, hypotheses) if tone_pattern(u[-1]) == "仄"]
    ends = sum(tone_pattern(h[-1]) == "平" for h in zeze) / max(1, len(zeze))
    mirrored = [m for m in (mirrors(u, h) for u, h in zip(uppers, hypotheses)) if m is not None]
    stray = sum(stray_repeat(u, h) for u, h in zip(uppers, hypotheses)) / len(hypotheses)
    repeat = sum(any(a == b and a not in MARKS for a, b in zip(u, h)) for u, h in zip(uppers, hypotheses)) \
        / len(hypotheses)
    return {"bleu2": char_bleu(hypotheses, references, 2), "bleu4": char_bleu(hypotheses, references),
            "accuracy": acc, "opposed": opposed, "ping_ending": ends,
            "mirrored": sum(mirrored) / max(1, len(mirrored)), "n_patterned": len(mirrored),
            "stray_repeats": stray, "same_position_repeat": repeat}
