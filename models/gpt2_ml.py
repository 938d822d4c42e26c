"""GPT2_ML's block layout (imcaspar/gpt2-ml, after Grover), in PyTorch, and a loader for its converted weights.

Post: https://kexue.fm/archives/7292 (Su ran the 1.5B "mega" model with bert4keras). The language model is GPT-2's:

    p(x₁ … x_T) = ∏ₜ p(xₜ | x₁ … xₜ₋₁),   p(xₜ | x<t) = softmax(hₜ₋₁ Eᵀ)   (E: the token embedding, tied)

but the block is **post-LN** (as BERT), not OpenAI's pre-LN, and there is a LayerNorm after the embeddings:

    h₀ = LN(E[x] + P)
    a  = LN₀(h + Attention(h))          # attention → add → LayerNorm
    h' = LN₁(a + W₂ gelu(W₁ a))         # FFN → add → LayerNorm

so its weights cannot be poured into ``transformers.GPT2LMHeadModel`` (pre-LN, final LN instead of embedding LN).
This module is that layout, small enough to read, with a key/value cache for generation.

Weights: a GPT2_ML TensorFlow checkpoint converted to a flat ``{variable name: array}`` safetensors file (names as
in the checkpoint, e.g. ``newslm/layer00/query_layer/kernel``; TF Dense kernels are (in, out)).
:func:`from_tf_names` maps it onto :class:`GPT2ML`; :func:`to_tf_names` is its inverse (used by the tests, and to
write such a file). The mega model's config (``hidden_size`` 1536, 48 layers, 24 heads, 1024 positions, vocab 21128
or 8021) uses the key names of :class:`GPT2MLConfig`, so its ``config.json`` loads as is.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F

WEIGHTS = "model.safetensors"
PREFIX = "newslm/"  # every variable of a GPT2_ML checkpoint starts with it: how a folder is recognised


@dataclass
class GPT2MLConfig:
    vocab_size: int = 21128
    hidden_size: int = 1536
    num_hidden_layers: int = 48
    num_attention_heads: int = 24
    intermediate_size: int = 0          # 0 → 4 × hidden_size
    max_position_embeddings: int = 1024
    layer_norm_eps: float = 1e-5

    def __post_init__(self):
        self.intermediate_size = self.intermediate_size or 4 * self.hidden_size
        assert self.hidden_size % self.num_attention_heads == 0

    @classmethod
    def from_dict(cls, d: dict) -> "GPT2MLConfig":
        """Known keys only: GPT2_ML's JSON also carries dropout rates and the initializer range."""
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})


class SelfAttention(nn.Module):
    """Causal multi-head attention; separate q / k / v projections as in the checkpoint."""

    def __init__(self, cfg: GPT2MLConfig):
        super().__init__()
        d = cfg.hidden_size
        self.n_head = cfg.num_attention_heads
        self.query, self.key, self.value, self.proj = (nn.Linear(d, d) for _ in range(4))

    def forward(self, x, past=None):
        B, T, C = x.shape                                      # (batch, new positions, hidden)
        q, k, v = (lin(x).view(B, T, self.n_head, C // self.n_head).transpose(1, 2)
                   for lin in (self.query, self.key, self.value))  # (B, heads, T, head dim)
        if past is not None:                                   # cached keys / values of earlier positions
            k, v = torch.cat([past[0], k], 2), torch.cat([past[1], v], 2)
        # With a cache, the T new queries sit at the end: query i may see keys ≤ (S − T + i).
        S = k.shape[2]
        mask = torch.ones(T, S, dtype=torch.bool, device=x.device).tril(S - T)
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
        return self.proj(y.transpose(1, 2).reshape(B, T, C)), (k, v)


class Block(nn.Module):
    """Post-LN block: attention → add → LayerNorm → FFN → add → LayerNorm."""

    def __init__(self, cfg: GPT2MLConfig):
        super().__init__()
        self.attn = SelfAttention(cfg)
        self.ln0 = nn.LayerNorm(cfg.hidden_size, eps=cfg.layer_norm_eps)
        self.intermediate = nn.Linear(cfg.hidden_size, cfg.intermediate_size)
        self.output = nn.Linear(cfg.intermediate_size, cfg.hidden_size)
        self.ln1 = nn.LayerNorm(cfg.hidden_size, eps=cfg.layer_norm_eps)

    def forward(self, x, past=None):
        a, present = self.attn(x, past)
        x = self.ln0(x + a)
        x = self.ln1(x + self.output(F.gelu(self.intermediate(x), approximate="tanh")))
        return x, present


class GPT2ML(nn.Module):
    def __init__(self, cfg: GPT2MLConfig):
        super().__init__()
        self.config = cfg
        self.wte = nn.Embedding(cfg.vocab_size, cfg.hidden_size)
        self.wpe = nn.Embedding(cfg.max_position_embeddings, cfg.hidden_size)
        self.ln_emb = nn.LayerNorm(cfg.hidden_size, eps=cfg.layer_norm_eps)
        self.blocks = nn.ModuleList(Block(cfg) for _ in range(cfg.num_hidden_layers))
        self.apply(self._init)

    @staticmethod
    def _init(m):
        if isinstance(m, (nn.Linear, nn.Embedding)):
            nn.init.normal_(m.weight, std=0.02)
        if isinstance(m, nn.Linear):
            nn.init.zeros_(m.bias)

    def forward(self, ids, past=None):
        """ids (B, T) → logits (B, T, vocab), one (k, v) per block for the next call."""
        start = 0 if past is None else past[0][0].shape[2]
        pos = torch.arange(start, start + ids.shape[1], device=ids.device)
        h = self.ln_emb(self.wte(ids) + self.wpe(pos))         # (B, T, hidden)
        presents = []
        for i, block in enumerate(self.blocks):
            h, kv = block(h, None if past is None else past[i])
            presents.append(kv)
        return h @ self.wte.weight.T, presents                 # output embedding tied to the input one

    @torch.no_grad()
    def generate(self, input_ids, max_new_tokens=64, do_sample=True, temperature=1.0, top_k=0, top_p=1.0,
                 repetition_penalty=1.0, eos_token_id=None, streamer=None, use_cache=True, stopping_criteria=None,
                 **_ignored):
        """Sampling with the same arguments (and logits processors) as ``transformers``' ``generate``, so the tab
        drives both kinds of model alike. Uses torch's global RNG: seed it for repeatable samples."""
        from transformers import (LogitsProcessorList, RepetitionPenaltyLogitsProcessor, TemperatureLogitsWarper,
                                  TopKLogitsWarper, TopPLogitsWarper)

        steps = LogitsProcessorList()
        if repetition_penalty != 1.0:
            steps.append(RepetitionPenaltyLogitsProcessor(repetition_penalty))
        if do_sample:
            if temperature != 1.0:
                steps.append(TemperatureLogitsWarper(temperature))
            if top_k:
                steps.append(TopKLogitsWarper(top_k))
            if top_p < 1.0:
                steps.append(TopPLogitsWarper(top_p))
        stop = set([eos_token_id] if isinstance(eos_token_id, int) else eos_token_id or [])
        ids = input_ids
        max_new_tokens = min(max_new_tokens, self.config.max_position_embeddings - ids.shape[1])
        if streamer is not None:
            streamer.put(ids)
        past, feed = None, ids
        for _ in range(max(max_new_tokens, 0)):
            logits, presents = self(feed, past if use_cache else None)
            scores = steps(ids, logits[:, -1].float())
            nxt = (torch.multinomial(scores.softmax(-1), 1) if do_sample else scores.argmax(-1, keepdim=True))
            ids = torch.cat([ids, nxt], 1)
            if streamer is not None:
                streamer.put(nxt[0])
            if nxt.item() in stop or (stopping_criteria is not None and bool(stopping_criteria(ids, scores).any())):
                break
            past, feed = (presents, nxt) if use_cache else (None, ids)
        if streamer is not None:
            streamer.end()
        return ids


def _tf_names(n_layer: int) -> dict[str, tuple[str, bool]]:
    """Our parameter name → (GPT2_ML variable name, stored transposed?)."""
    names = {"wte.weight": ("newslm/embeddings/word_embed", False),
             "wpe.weight": ("newslm/embeddings/pos_embed", False),
             "ln_emb.weight": ("newslm/embeddings/LayerNorm_embed_norm/gamma", False),
             "ln_emb.bias": ("newslm/embeddings/LayerNorm_embed_norm/beta", False)}
    ours = {"attn.query": "query_layer", "attn.key": "key_layer", "attn.value": "value_layer",
            "attn.proj": "context_projection_layer", "intermediate": "intermediate", "output": "output"}
    for i in range(n_layer):
        tf = f"{PREFIX}layer{i:02d}/"
        for a, b in ours.items():
            names[f"blocks.{i}.{a}.weight"] = (tf + b + "/kernel", True)   # TF Dense kernel is (in, out)
            names[f"blocks.{i}.{a}.bias"] = (tf + b + "/bias", False)
        for a, b in (("ln0", "LayerNorm_mlp_ln0"), ("ln1", "LayerNorm_mlp_ln1")):
            names[f"blocks.{i}.{a}.weight"] = (tf + b + "/gamma", False)
            names[f"blocks.{i}.{a}.bias"] = (tf + b + "/beta", False)
    return names


def to_tf_names(model: GPT2ML) -> dict[str, torch.Tensor]:
    """Our state dict → GPT2_ML variable names and shapes (what a converted checkpoint holds)."""
    sd = model.state_dict()
    return {tf: (sd[k].T if transposed else sd[k]).contiguous()
            for k, (tf, transposed) in _tf_names(model.config.num_hidden_layers).items()}


def from_tf_names(tensors: dict[str, torch.Tensor], cfg: GPT2MLConfig) -> GPT2ML:
    """A converted GPT2_ML state dict → :class:`GPT2ML` (float32). Missing or misshapen variables raise ValueError;
    optimizer slots (``adam_m`` / ``adam_v``) and ``global_step`` that converters often keep are ignored."""
    model = GPT2ML(cfg)
    sd = model.state_dict()
    names = _tf_names(cfg.num_hidden_layers)
    missing = [tf for tf, _ in names.values() if tf not in tensors]
    if missing:
        raise ValueError(f"{len(missing)} GPT2_ML variables missing, e.g. {missing[0]}")
    for k, (tf, transposed) in names.items():
        t = tensors[tf].T if transposed else tensors[tf]
        if t.shape != sd[k].shape:
            raise ValueError(f"{tf}: shape {tuple(tensors[tf].shape)} does not fit the config ({tuple(sd[k].shape)})")
        sd[k] = t.float()
    model.load_state_dict(sd)
    return model.eval()


def is_gpt2_ml_folder(folder: Path) -> bool:
    """A folder whose model.safetensors holds GPT2_ML variable names."""
    from safetensors import safe_open

    path = Path(folder) / WEIGHTS
    if not path.is_file():
        return False
    with safe_open(str(path), "pt") as f:
        return any(k.startswith(PREFIX) for k in f.keys())


def load_folder(folder: Path) -> GPT2ML:
    """``config.json`` (GPT2_ML's keys) + ``model.safetensors`` (GPT2_ML variable names) → model."""
    from safetensors.torch import load_file

    folder = Path(folder)
    cfg = GPT2MLConfig.from_dict(json.loads((folder / "config.json").read_text(encoding="utf-8")))
    return from_tf_names(load_file(str(folder / WEIGHTS)), cfg)


def save_folder(model: GPT2ML, folder: Path) -> None:
    """Write ``config.json`` + ``model.safetensors`` in the converted GPT2_ML format."""
    from safetensors.torch import save_file

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text(json.dumps(asdict(model.config), indent=1), encoding="utf-8")
    save_file(to_tf_names(model), str(folder / WEIGHTS))


def n_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
