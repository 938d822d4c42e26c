"""A small Chinese GPT-2 with a BERT-style character vocabulary, as GPT2_ML; and loading other GPT-2 checkpoints.

Post: https://kexue.fm/archives/7292. A causal language model, trained by maximum likelihood:

    p(x₁ … x_T) = ∏ₜ softmax(W hₜ₋₁)[xₜ],   loss = −(1/T) Σₜ log p(xₜ | x<t),   perplexity = exp(loss)

The embedded model is ``transformers.GPT2LMHeadModel`` (pre-LN) trained from scratch by ``python -m
training.gpt2`` on six styles of text. Each document starts with a style token — ``[NEWS]``, ``[REVIEW]``,
``[POEM]``, ``[CI]``, ``[CLASSIC]`` or ``[WIKI]`` — and ends with ``[SEP]``, so the style is asked for by the first
token:

    [POEM] 床 前 明 月 光 ， … 。 [SEP] [POEM] …

The tokenizer is ``BertTokenizerFast`` over a ``vocab.txt`` of single characters (GPT2_ML uses BERT's Chinese
vocabulary the same way). BERT decodes with a space between tokens; Chinese has none, so :class:`CharDecoder` joins
tokens directly and keeps a space only between two Latin words / numbers.

Other checkpoints load through :func:`load`: a local folder or a hub id of any GPT-2 (with its own tokenizer), or a
folder of converted GPT2_ML weights (``models/gpt2_ml.py``, post-LN layout). :func:`save` writes ours as a
transformers folder (fp16, shards under 10 MB) with its vocab.txt and MODEL_CARD.md; :func:`perplexity` scores a
token stream. :func:`stream` samples token by token over the key/value cache (the tab's streaming): repetition
penalty, temperature, top-k, top-p, no end of text before a minimum, and :class:`PoemLines` for whole verse lines.
"""
from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from models.vocab import HAN

SPECIAL_TOKENS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")
STYLES = {"news": "[NEWS]", "review": "[REVIEW]", "poem": "[POEM]", "ci": "[CI]", "classic": "[CLASSIC]",
          "wiki": "[WIKI]"}
END = "[SEP]"           # end of a document
PERIOD = "。"           # Su's demo stops at the first full stop
# BERT's "Chinese character": the project's HAN plus compatibility ideographs and the supplementary planes
_CJK = re.compile(f"[{HAN}\uf900-\ufaff\U00020000-\U0002ffff]")
_WORD_END = re.compile(r"[0-9A-Za-z]$")
_WORD_START = re.compile(r"^[0-9A-Za-z]")


def is_cjk(ch: str) -> bool:
    """A character BERT's tokenizer treats as Chinese (split off on its own)."""
    return bool(_CJK.match(ch))


class CharDecoder:
    """A ``tokenizers`` decoder (see :func:`load_tokenizer`): ``床 前 1 ##9 ##9 ##8 年`` → ``床前1998年``; a space
    is kept between two Latin / number words: ``hello world`` stays ``hello world``."""

    def decode_chain(self, tokens: list[str]) -> list[str]:
        out, prev = [], ""
        for tok in tokens:
            if tok.startswith("##"):
                piece = tok[2:]
            else:
                piece = (" " + tok) if _WORD_END.search(prev) and _WORD_START.match(tok) else tok
            out.append(piece)
            prev = piece or prev
        return out


def load_tokenizer(folder: Path):
    """``BertTokenizerFast`` over ``folder/vocab.txt`` (``vocab=`` — transformers 5 silently ignores ``vocab_file=``),
    the style tokens as special tokens, and :class:`CharDecoder`."""
    from transformers import BertTokenizerFast

    vocab = Path(folder) / "vocab.txt"
    words = set(vocab.read_text(encoding="utf-8").split("\n"))
    tok = BertTokenizerFast(vocab=str(vocab), do_lower_case=True,
                            additional_special_tokens=[t for t in STYLES.values() if t in words])
    return with_char_decoder(tok)


def with_char_decoder(tokenizer):
    """Give a BERT-style (WordPiece) fast tokenizer :class:`CharDecoder`; other tokenizers are left as they are."""
    from tokenizers import decoders

    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is not None and type(backend.model).__name__ == "WordPiece":
        backend.decoder = decoders.Decoder.custom(CharDecoder())
    return tokenizer


def gpt2_config(vocab_size: int, n_layer: int = 4, n_embd: int = 256, n_head: int = 4, n_positions: int = 256,
                dropout: float = 0.0, pad_id: int = 0, end_id: int = 3):
    """The embedded model's configuration (GPT-2 small is 12 × 768 with 1,024 positions; ours must train on a CPU)."""
    from transformers import GPT2Config

    return GPT2Config(vocab_size=vocab_size, n_positions=n_positions, n_embd=n_embd, n_layer=n_layer,
                      n_head=n_head, resid_pdrop=dropout, embd_pdrop=dropout, attn_pdrop=dropout,
                      bos_token_id=end_id, eos_token_id=end_id, pad_token_id=pad_id, tie_word_embeddings=True)


@dataclass
class Checkpoint:
    """A loaded language model: ``model.generate`` takes transformers' sampling arguments."""
    model: torch.nn.Module
    tokenizer: object
    name: str
    context: int            # positions the model can attend to
    kind: str               # "gpt2" (transformers) or "gpt2_ml" (models/gpt2_ml.py)

    @property
    def styles(self) -> list[str]:
        """The style names this checkpoint was trained with (none for foreign checkpoints)."""
        vocab = self.tokenizer.get_vocab()
        return [name for name, tok in STYLES.items() if tok in vocab]

    def start_ids(self, style: str | None) -> list[int]:
        """What a sample starts with: the style token; for a model with style tokens but no style asked, the end of a
        document ([SEP]: the model then picks a style itself); else the tokenizer's [CLS] / BOS; else nothing."""
        vocab = self.tokenizer.get_vocab()
        if style in STYLES and STYLES[style] in vocab:
            return [vocab[STYLES[style]]]
        if self.styles and END in vocab:
            return [vocab[END]]
        for tok in (getattr(self.tokenizer, "cls_token", None), getattr(self.tokenizer, "bos_token", None)):
            if tok and tok in vocab:
                return [vocab[tok]]
        return []

    def stop_ids(self, at_period: bool) -> list[int]:
        vocab = self.tokenizer.get_vocab()
        ids = [i for i in (getattr(self.tokenizer, "eos_token_id", None), getattr(self.tokenizer, "sep_token_id", None))
               if i is not None]
        if at_period and PERIOD in vocab:
            ids.append(vocab[PERIOD])
        return sorted(set(ids))

    def encode(self, text: str) -> list[int]:
        return self.tokenizer(text, add_special_tokens=False)["input_ids"]

    def decode(self, ids) -> str:
        return self.tokenizer.decode(ids, skip_special_tokens=True)


def looks_like_path(name: str) -> bool:
    """A local path rather than a hub id ("owner/name"): absolute, relative with ./ or ../, ~, or backslashes."""
    return name.startswith(("/", "./", "../", "~", ".\\")) or "\\" in name or os.path.isabs(name)


def load(name: str | Path) -> Checkpoint:
    """A folder (ours, converted GPT2_ML, any transformers GPT-2) or a hub id → :class:`Checkpoint` (eval, float32).

    A missing local folder raises FileNotFoundError at once, instead of being tried as a hub id (which, offline,
    would wait on the network before failing)."""
    from models import gpt2_ml

    text = str(name).strip()
    folder = Path(text).expanduser()
    if looks_like_path(text) or folder.is_dir():
        if not folder.is_dir():
            raise FileNotFoundError(f"no such folder: {folder}")
        if gpt2_ml.is_gpt2_ml_folder(folder):
            model = gpt2_ml.load_folder(folder)
            return Checkpoint(model, load_tokenizer(folder), text, model.config.max_position_embeddings, "gpt2_ml")
        if (folder / "vocab.txt").is_file() and not (folder / "tokenizer.json").is_file():
            tokenizer = load_tokenizer(folder)
        else:
            tokenizer = _auto_tokenizer(folder)
        return _transformers_checkpoint(str(folder), tokenizer, text)
    return _transformers_checkpoint(text, _auto_tokenizer(text), text)


def _auto_tokenizer(name):
    from transformers import AutoTokenizer

    return with_char_decoder(AutoTokenizer.from_pretrained(str(name)))


def _transformers_checkpoint(source: str, tokenizer, name: str) -> Checkpoint:
    from transformers import AutoModelForCausalLM

    # safetensors only: a folder or hub repo with just pytorch_model.bin (pickle) is refused, not unpickled
    model = AutoModelForCausalLM.from_pretrained(source, dtype=torch.float32, use_safetensors=True).eval()
    context = getattr(model.config, "n_positions", None) or getattr(model.config, "max_position_embeddings", 1024)
    return Checkpoint(model, tokenizer, name, int(context), "gpt2")


@dataclass
class Sampling:
    """How :func:`stream` picks each next token (the tab's controls)."""
    max_new_tokens: int = 200
    temperature: float = 1.0        # 0: greedy
    top_k: int = 20                 # 0: off
    top_p: float = 0.95
    repetition_penalty: float = 1.1
    min_new_tokens: int = 40        # end-of-text is not allowed before this many new tokens
    stop_at_period: bool = False    # Su's demo: stop at the first "。" (once min_new_tokens are written)
    poem_line: int = 0              # 5 or 7: whole lines of that many characters (see PoemLines); 0: free text


class PoemLines:
    """Regulated-verse lines: inside a line only Chinese characters; after ``n`` of them a mark — "，" closing the
    first line of each couplet, "。" the second; end-of-text only after a "。" with at least ``min_lines`` lines
    written; after ``max_lines`` (a 律诗 has 8) nothing else. The prompt's lines count: ``床前明月光，`` is the
    first line of a 5-character poem, and a prompt whose open line is already longer than ``n`` is refused."""

    MARKS = "，。！？；"

    def __init__(self, ckpt: Checkpoint, n: int, prompt: str, min_lines: int = 4, max_lines: int = 8):
        if n not in (5, 7):
            raise ValueError("a poem line has 5 or 7 characters")
        vocab = ckpt.tokenizer.get_vocab()
        if "，" not in vocab or "。" not in vocab:
            raise ValueError("this vocabulary has no ， and 。")
        self.n, self.min_lines, self.max_lines = n, min_lines, max_lines
        self.comma, self.period = vocab["，"], vocab["。"]
        self.han = torch.zeros(max(vocab.values()) + 1, dtype=torch.bool)
        self.han[[i for t, i in vocab.items() if len(t) == 1 and is_cjk(t)]] = True
        self.lines, self.open = 0, 0                   # lines closed, characters of the open line
        for ch in prompt:
            if ch in self.MARKS:
                self.lines, self.open = self.lines + 1, 0
            elif is_cjk(ch):
                self.open += 1
        if self.open > n:
            raise ValueError(f"the prompt's last line has {self.open} characters, more than {n}")

    def allowed(self, stop_ids: list[int], may_stop: bool) -> torch.Tensor:
        """Bool mask over the vocabulary of the tokens allowed next."""
        mask = torch.zeros_like(self.han)
        if self.open < self.n and self.lines < self.max_lines:
            mask |= self.han
        elif self.open == self.n:
            mask[self.comma if self.lines % 2 == 0 else self.period] = True
        if self.open == 0 and self.lines % 2 == 0 and (self.lines >= self.min_lines and may_stop
                                                       or self.lines >= self.max_lines):
            mask[stop_ids] = True
        if not mask.any():                             # a prompt with more lines than a poem has: stop
            mask[stop_ids] = True
        return mask

    def update(self, token: int) -> None:
        if token in (self.comma, self.period):
            self.lines, self.open = self.lines + 1, 0
        elif bool(self.han[token]):
            self.open += 1


def _step(ckpt: Checkpoint, feed: torch.Tensor, past):
    """One forward pass with the key/value cache → (logits of the last position (vocab,), new cache)."""
    if ckpt.kind == "gpt2_ml":
        logits, past = ckpt.model(feed, past)
        return logits[0, -1], past
    out = ckpt.model(input_ids=feed, cache=past, use_cache=True)   # (transformers ≥ 5.24 names it cache)
    return out.logits[0, -1], out.cache


@torch.inference_mode()
def stream(ckpt: Checkpoint, ids: list[int], sampling: Sampling, seed: int = 0, poem: PoemLines | None = None):
    """Yield new token ids one by one after ``ids`` (start + prompt), with the key/value cache, until a stop token
    or ``max_new_tokens``: repetition penalty, temperature, top-k and top-p as ``transformers`` applies them; no
    end-of-text before ``min_new_tokens``; ``poem`` constrains the lines. Its own seeded generator: the same
    seed gives the same text whatever else runs."""
    from transformers import (LogitsProcessorList, RepetitionPenaltyLogitsProcessor, TemperatureLogitsWarper,
                              TopKLogitsWarper, TopPLogitsWarper)

    steps = LogitsProcessorList()
    if sampling.repetition_penalty != 1.0:
        steps.append(RepetitionPenaltyLogitsProcessor(sampling.repetition_penalty))
    if sampling.temperature > 0:
        if sampling.temperature != 1.0:
            steps.append(TemperatureLogitsWarper(sampling.temperature))
        if sampling.top_k:
            steps.append(TopKLogitsWarper(sampling.top_k))
        if sampling.top_p < 1.0:
            steps.append(TopPLogitsWarper(sampling.top_p))
    ends = ckpt.stop_ids(False)                        # end of text
    period = ckpt.tokenizer.get_vocab().get(PERIOD)
    generator = torch.Generator().manual_seed(int(seed))
    seq = torch.tensor([ids], dtype=torch.long)
    feed, past = seq, None
    for n in range(min(sampling.max_new_tokens, ckpt.context - len(ids))):
        logits, past = _step(ckpt, feed, past)
        scores = logits[None].float()
        may_stop = n >= sampling.min_new_tokens
        if poem is not None:
            allowed = torch.zeros(scores.shape[-1], dtype=torch.bool)
            mask = poem.allowed(ends, may_stop)[: len(allowed)]
            allowed[: len(mask)] = mask
            scores = scores.masked_fill(~allowed, float("-inf"))
        elif not may_stop and ends:
            scores[0, ends] = float("-inf")
        scores = steps(seq, scores)
        if sampling.temperature > 0:
            token = int(torch.multinomial(scores.softmax(-1)[0], 1, generator=generator))
        else:
            token = int(scores[0].argmax())
        yield token
        if token in ends or (sampling.stop_at_period and token == period and may_stop):
            return
        if poem is not None:
            poem.update(token)
        feed = torch.tensor([[token]])
        seq = torch.cat([seq, feed], 1)


def prompt_ids(ckpt: Checkpoint, prompt: str, style: str | None,
               max_new_tokens: int) -> tuple[list[int], list[int], int]:
    """The start token(s) and the prompt's tokens, the prompt cut from the left so that start + prompt + new tokens
    fit the context. Returns (start ids, kept prompt ids, prompt tokens dropped)."""
    start, body = ckpt.start_ids(style), ckpt.encode(prompt)
    room = max(ckpt.context - max_new_tokens - len(start), 0)
    dropped = max(len(body) - room, 0)
    return start, body[dropped:], dropped


def save(model_and_tokenizer, folder, card: str) -> None:
    """Our model as a transformers folder (float16; shards past 9 MB — a Space refuses files over 10 MB outside Git
    LFS), its character vocabulary and the card: what :func:`load` reads back."""
    from models.checkpoint import CARD, MAX_SHARD_BYTES

    model, tokenizer = model_and_tokenizer
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    model.to("cpu").to(torch.float16).save_pretrained(folder, max_shard_size=MAX_SHARD_BYTES)
    vocab = tokenizer.get_vocab()  # (transformers 5's save_vocabulary needs the vocab_file it ignored on loading)
    (folder / "vocab.txt").write_text("".join(f"{t}\n" for t in sorted(vocab, key=vocab.get)), encoding="utf-8")
    (folder / CARD).write_text(card, encoding="utf-8")


@torch.no_grad()
def perplexity(model, stream, block: int = 256, batch: int = 16, max_tokens: int | None = None,
               progress: str | None = None) -> tuple[float, int]:
    """Perplexity of ``stream`` (token ids; every token after the first scored once): windows of ``block`` tokens
    with stride ``block``/2; a window scores only its second half (the first window scores all), so every scored
    token sees ≥ ``block``/2 tokens of context. Returns (perplexity, tokens scored)."""
    from tqdm import tqdm

    model.eval()
    device = next(model.parameters(), torch.empty(0)).device
    ids = torch.as_tensor(np.asarray(stream[: max_tokens + 1 if max_tokens else None], dtype=np.int64), device=device)
    half = block // 2
    starts = list(range(0, max(len(ids) - block, 0) + 1, half))
    if starts[-1] + block < len(ids):
        starts.append(len(ids) - block)
    nll, count, scored_to = 0.0, 0, 0        # scored_to: tokens [1, scored_to) are already scored
    for b in tqdm(range(0, len(starts), batch), desc=progress, unit=" batches", disable=progress is None,
                  leave=False):
        chunk = starts[b:b + batch]
        x = torch.stack([ids[s:s + block] for s in chunk]) if len(ids) >= block else ids[None]
        out = model(x)
        logits = out.logits if hasattr(out, "logits") else out[0]  # transformers model, or models.gpt2_ml
        logp = torch.log_softmax(logits[:, :-1].float(), -1).gather(-1, x[:, 1:, None])[..., 0]  # (B, T-1)
        for row, s in zip(logp, chunk):
            first = max(scored_to, s + 1)        # absolute index of the first new target
            part = row[first - s - 1:]
            nll -= part.sum().item()
            count += part.numel()
            scored_to = s + x.shape[1]
    return math.exp(nll / max(count, 1)), count
