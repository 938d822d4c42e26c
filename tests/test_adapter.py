"""The adapter helpers shared by every tab (demos/adapter.py) that are not covered through one tab."""
import inspect
import os
import threading

import numpy as np
from PIL import Image

from demos import adapter
from demos.adapter import png_file, png_outputs


def test_png_file_is_written_once_per_picture_and_holds_it(tmp_path, monkeypatch):
    monkeypatch.setattr(adapter, "PICTURES", tmp_path)
    a = np.arange(64 * 48 * 3, dtype=np.uint8).reshape(64, 48, 3)
    path = png_file(a)
    assert np.array_equal(np.asarray(Image.open(path)), a)
    inode = os.stat(path).st_ino
    assert png_file(a.copy()) == path and os.stat(path).st_ino == inode  # the same file, not written again
    assert png_file(255 - a) != path
    assert not list(tmp_path.glob(".staging-*"))


def test_png_file_under_concurrent_requests_for_the_same_picture(tmp_path, monkeypatch):
    """Readers never see a partial file while other requests return the same picture (the bench_load failure)."""
    monkeypatch.setattr(adapter, "PICTURES", tmp_path)
    picture = np.random.default_rng(0).integers(0, 256, (96, 96), dtype=np.uint8)
    paths, bad = [], []

    def request():
        for _ in range(20):
            path = png_file(picture)
            paths.append(path)
            if not np.array_equal(np.asarray(Image.open(path)), picture):
                bad.append(path)

    threads = [threading.Thread(target=request) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not bad and len(set(paths)) == 1


def test_old_pictures_are_pruned(tmp_path, monkeypatch):
    monkeypatch.setattr(adapter, "PICTURES", tmp_path)
    monkeypatch.setattr(adapter, "MAX_PICTURES", 10)
    for i in range(11):
        png_file(np.full((4, 4), i, dtype=np.uint8))
    assert len(list(tmp_path.glob("*.png"))) == 6  # 11 > 10: the older half (5) removed


def test_png_outputs_converts_pictures_and_keeps_the_signature(tmp_path, monkeypatch):
    monkeypatch.setattr(adapter, "PICTURES", tmp_path)

    def encode(path, steps=3):
        """doc"""
        return np.zeros((2, 2), np.uint8), np.ones((2, 2, 3), np.uint8), "notes", np.zeros(2)

    wrapped = png_outputs(encode)
    assert inspect.signature(wrapped) == inspect.signature(encode) and wrapped.__doc__ == "doc"
    seen, recon, notes, floats = wrapped("x")
    assert seen.endswith(".png") and recon.endswith(".png") and seen != recon
    assert notes == "notes" and isinstance(floats, np.ndarray)  # only uint8 pictures become files
    assert png_outputs(lambda: np.zeros((2, 2), np.uint8))().endswith(".png")


def test_cjk_font_is_found_even_when_matplotlibs_font_cache_predates_it(monkeypatch):
    from pathlib import Path

    import pytest
    from matplotlib import font_manager

    from demos.adapter import cjk_font, cjk_font_file

    installed = [p for p in Path("/usr/share/fonts").rglob("wqy-microhei.tt[cf]")] if Path("/usr/share/fonts").is_dir() else []
    if not installed:
        pytest.skip("fonts-wqy-microhei is not installed")
    monkeypatch.setattr(font_manager.fontManager, "ttflist", [])  # a cache written before the font was installed
    cjk_font.cache_clear()
    cjk_font_file.cache_clear()
    try:
        font = cjk_font(13)
        assert Path(font.path).name == installed[0].name
        assert font.getbbox("注")[2] > 0
    finally:
        cjk_font.cache_clear()
        cjk_font_file.cache_clear()
