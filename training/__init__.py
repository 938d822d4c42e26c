"""Data preparation and training commands. Each module is runnable: ``python -m training.<name> --help``.

Everything is rebuilt from package registries (PyPI, npm, Debian) into a cache folder: ``$KEXUE_CACHE``, or
``~/.cache/kexue-space`` when unset. Nothing here is imported by the app.
"""
import os
from pathlib import Path


def cache_dir() -> Path:
    path = Path(os.environ.get("KEXUE_CACHE") or Path.home() / ".cache" / "kexue-space")
    path.mkdir(parents=True, exist_ok=True)
    return path
