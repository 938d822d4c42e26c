"""The spectrum tab's adapter on the shipped checkpoint and examples."""
import json
from pathlib import Path

import gradio as gr
import numpy as np
import pytest

from demos import spectrum
from models.spectrum import CLASSES, GRID


def test_examples_cover_every_class_and_most_are_classified_right():
    names = [Path(e).name for e in spectrum.EXAMPLES]
    assert {n.split("_")[0] for n in names} == set(CLASSES) and len(names) == 2 * len(CLASSES)
    right = 0
    for path in spectrum.EXAMPLES:
        label, fig, notes = spectrum.classify(path)
        assert set(label) == set(spectrum.NAMES.values()) and abs(sum(label.values()) - 1) < 1e-5
        best = max(label, key=label.get)
        right += best == spectrum.NAMES[Path(path).name.split("_")[0]]
        spectrum_axis, saliency_axis = fig.axes
        assert len(spectrum_axis.lines[0].get_xdata()) == len(GRID) == 2600
        assert saliency_axis.collections        # the saliency trace is drawn
    assert right >= 6, right


def _csv(tmp_path, wave, flux, name="s.csv", header="wavelength,flux\n"):
    path = tmp_path / name
    path.write_text(header + "".join(f"{w},{f}\n" for w, f in zip(wave, flux)), encoding="utf-8")
    return path


def test_partial_coverage_and_nans_are_said(tmp_path):
    wave = np.linspace(4000, 8000, 3000)
    flux = 1 + 0.1 * np.sin(wave / 200)
    flux[::50] = np.nan
    label, fig, notes = spectrum.classify(_csv(tmp_path, wave, flux))
    assert "NaN" in notes and "covers" in notes


def test_fits_in_sdss_layout(tmp_path):
    from astropy.io import fits

    first = spectrum.EXAMPLES[0]
    wave, flux = np.loadtxt(first, delimiter=",", skiprows=1, unpack=True)
    table = fits.BinTableHDU.from_columns([fits.Column(name="flux", format="E", array=flux),
                                           fits.Column(name="loglam", format="E", array=np.log10(wave))])
    path = tmp_path / "spec-0000.fits"
    fits.HDUList([fits.PrimaryHDU(), table]).writeto(path)
    label_fits, _, _ = spectrum.classify(str(path))
    label_csv, _, _ = spectrum.classify(first)
    assert max(label_fits, key=label_fits.get) == max(label_csv, key=label_csv.get)


@pytest.mark.parametrize("content,message", [
    ("wavelength,flux\n" + "".join(f"{4000 + i},{1.0}\n" for i in range(50)), "点太少"),
    ("a b\nfoo bar\n", "不是数字"),
    ("4000\n4001\n4002\n", "不是两列"),
    ("".join(f"{100 + i},{1.0}\n" for i in range(500)), "重叠不足一半"),
    ("".join(f"{4000 + i},nan\n" for i in range(500)), "NaN"),
    ("".join(f"{4000 + i},0\n" for i in range(6000)), "全为零"),
    ("", "没有数据"),
])
def test_bad_tables_are_refused(tmp_path, content, message):
    path = tmp_path / "bad.csv"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(gr.Error, match=message):
        spectrum.classify(str(path))


def test_binary_file_huge_file_and_no_file(tmp_path):
    png = tmp_path / "x.png"
    png.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 100)
    with pytest.raises(gr.Error, match="二进制"):
        spectrum.classify(str(png))
    big = tmp_path / "big.csv"
    with open(big, "wb") as f:
        f.truncate(21 * 2**20)
    with pytest.raises(gr.Error, match="太大"):
        spectrum.classify(str(big))
    with pytest.raises(gr.Error, match="没有上传"):
        spectrum.classify(None)
    broken = tmp_path / "broken.fits"
    broken.write_bytes(b"SIMPLE  =                    T" + b"garbage" * 10)
    with pytest.raises(gr.Error, match="FITS"):
        spectrum.classify(str(broken))


def test_shipped_checkpoint_card():
    card = (spectrum.WEIGHTS / "MODEL_CARD.md").read_text(encoding="utf-8")
    stage2 = json.loads((spectrum.WEIGHTS / "history.json").read_text())["stage2"]["test"]
    assert f"{stage2['macro_f1']:.4f}" in card and "python -m training.spectrum" in card
    assert "not LAMOST" in card or "not LAMOST observations" in card
    for f in ("spectrum.safetensors", "spectrum_stage1.safetensors"):
        assert (spectrum.WEIGHTS / f).stat().st_size < 8 * 2**20

