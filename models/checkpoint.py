"""One on-disk layout for every trained model — a folder holding

    config.json        the model's config dataclass as JSON (what ``load`` needs to rebuild the network)
    model.safetensors  the weights, floating-point tensors in float16 (shards + an index past MAX_SHARD_BYTES)
    MODEL_CARD.md      where the data came from, how it was trained, what it scores
    vocab.txt          (character models) one unit per line, id = line number

Every model file has the pair nanoGPT and transformers give theirs: ``load(folder)`` returns what inference needs
(a model, or a tuple such as ``(model, vocab)``) and ``save(that, folder, card)`` writes it; the training commands
write through ``save``. Both use the two functions below. The GPT-2 folder is a transformers folder instead
(``save_pretrained`` writes the same three kinds of file under transformers' names).

Checkpoints written before this layout are read as they are, through ``legacy``: a weights file with another name
beside ``config.json`` (``data/couplet/couplet.safetensors``), or a stem (``data/gan_qp/fashion_qp-l1.json``, which
holds ``{"config": …}``, + ``.safetensors``). Each one moves to the common layout when its model is next retrained.
Weights are only ever read with safetensors (no pickle).
"""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # torch is imported by whoever saves or loads weights; listing checkpoints must not (cold start)
    import torch

CONFIG = "config.json"
WEIGHTS = "model.safetensors"
INDEX = "model.safetensors.index.json"  # transformers' name: {"weight_map": {tensor: shard file}}
CARD = "MODEL_CARD.md"
HISTORY = "history.json"  # what a training run records beside its checkpoint (curves, results): written by training
# A Hugging Face Space refuses files over 10 MB outside Git LFS: larger weights are written in shards.
MAX_SHARD_BYTES = 9 * 2**20


def save_folder(folder, weights: dict[str, torch.Tensor], config: dict, card: str, half: bool = True) -> Path:
    """Write ``weights`` (floating-point tensors as float16 when ``half``), ``config`` and ``card`` into ``folder``
    in the common layout; returns the folder. Shards of at most MAX_SHARD_BYTES when the weights are larger."""
    from safetensors.torch import save_file

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    tensors = {k: (v.detach().cpu().half() if half and v.is_floating_point() else v.detach().cpu()).contiguous()
               for k, v in weights.items()}
    for old in [folder / WEIGHTS, folder / INDEX, *folder.glob("model-*-of-*.safetensors")]:
        old.unlink(missing_ok=True)  # a smaller or larger model written before must not leave shards behind
    shards, size = [{}], 0
    for name, t in tensors.items():
        n = t.numel() * t.element_size()
        if shards[-1] and size + n > MAX_SHARD_BYTES:
            shards.append({})
            size = 0
        shards[-1][name] = t
        size += n
    if len(shards) == 1:
        save_file(shards[0], str(folder / WEIGHTS), metadata={"format": "pt"})
    else:
        weight_map = {}
        for i, shard in enumerate(shards, 1):
            name = f"model-{i:05d}-of-{len(shards):05d}.safetensors"
            save_file(shard, str(folder / name), metadata={"format": "pt"})
            weight_map |= dict.fromkeys(shard, name)
        (folder / INDEX).write_text(json.dumps({"weight_map": weight_map}, indent=1), encoding="utf-8")
    (folder / CONFIG).write_text(json.dumps(config, indent=1, ensure_ascii=False), encoding="utf-8")
    (folder / CARD).write_text(card, encoding="utf-8")
    return folder


def read_folder(path, legacy: str | None = None) -> tuple[dict, dict[str, torch.Tensor]]:
    """(config, weights as float32) of the checkpoint at ``path``: a folder in the common layout; else, for a
    checkpoint written before it, the folder's ``config.json`` + its ``legacy`` weights file, or the stem
    ``path`` (``<stem>.json`` with ``{"config": …}`` + ``<stem>.safetensors``)."""
    from safetensors.torch import load_file

    path = Path(path)
    if (path / CONFIG).is_file() and ((path / WEIGHTS).is_file() or (path / INDEX).is_file()):
        config = json.loads((path / CONFIG).read_text(encoding="utf-8"))
        files = [WEIGHTS] if (path / WEIGHTS).is_file() else \
            sorted(set(json.loads((path / INDEX).read_text(encoding="utf-8"))["weight_map"].values()))
        weights = {k: v for f in files for k, v in load_file(str(path / f)).items()}
    elif legacy and (path / CONFIG).is_file() and (path / legacy).is_file():
        config = json.loads((path / CONFIG).read_text(encoding="utf-8"))
        weights = load_file(str(path / legacy))
    elif path.with_suffix(".json").is_file() and path.with_suffix(".safetensors").is_file():
        config = json.loads(path.with_suffix(".json").read_text(encoding="utf-8"))["config"]
        weights = load_file(str(path.with_suffix(".safetensors")))
    else:
        raise FileNotFoundError(f"no checkpoint at {path}")
    return config, {k: v.float() if v.is_floating_point() else v for k, v in weights.items()}


def config_from(cls, raw: dict):
    """The config dataclass ``cls`` from its JSON: JSON lists back to tuples; keys ``cls`` lacks are an error."""
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = set(raw) - names
    if unknown:
        raise ValueError(f"{cls.__name__} has no field(s) {sorted(unknown)}")
    return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in raw.items()})


def read_history(path) -> dict:
    """The training record of the checkpoint at ``path`` with its config, ``{"config", "info", "history", …}``:
    ``history.json`` + ``config.json`` in a folder of the common layout, or the stem's JSON for an older checkpoint
    (which holds all of them in one file)."""
    path = Path(path)
    if path.is_dir():
        record = json.loads((path / HISTORY).read_text(encoding="utf-8"))
        return record | {"config": json.loads((path / CONFIG).read_text(encoding="utf-8"))}
    return json.loads(path.with_suffix(".json").read_text(encoding="utf-8"))


def list_checkpoints(folder) -> dict[str, Path]:
    """{name: path} of the checkpoints in ``folder`` (several models of one kind, e.g. one GAN per loss): its
    sub-folders in the common layout and, for older checkpoints, its ``<stem>.safetensors`` + ``<stem>.json``
    pairs. A folder wins over a stem of the same name."""
    folder = Path(folder)
    stems = {p.stem: p.with_suffix("") for p in folder.glob("*.safetensors") if p.with_suffix(".json").is_file()}
    folders = {p.name: p for p in folder.iterdir() if p.is_dir() and (p / CONFIG).is_file()}
    return dict(sorted((stems | folders).items()))


def beside(path, name: str) -> Path:
    """A file a training run wrote with the checkpoint at ``path`` (``progress.png``, ``MODEL_CARD.md``):
    ``path/name`` in a folder of the common layout; for an older stem, ``<stem>_<name>`` beside it where that
    exists, else ``name`` in the stem's folder (one card for several stems)."""
    path = Path(path)
    if path.is_dir():
        return path / name
    own = path.parent / f"{path.name}_{name}"
    return own if own.exists() else path.parent / name


def card_file(folder) -> Path:
    """The card of a checkpoint folder: MODEL_CARD.md, or README.md where an older transformers export named it so."""
    folder = Path(folder)
    return folder / CARD if (folder / CARD).exists() else folder / "README.md"


def remove_stem(folder, name: str, extra=()) -> None:
    """Delete the older files of checkpoint ``name`` (``<name>.json``, ``<name>.safetensors`` and ``extra``
    suffixes such as ``_progress.png``) once it has been written again as a folder."""
    for suffix in (".json", ".safetensors", *extra):
        (Path(folder) / f"{name}{suffix}").unlink(missing_ok=True)
