"""The spectrum tab's adapter on the shipped checkpoint and examples."""
import json
from pathlib import Path

import gradio as gr
import numpy as np
import pytest

from conftest import FIXTURES
from demos import spectrum
from models.spectrum import CLASSES, GRID


def test_examples_cover_every_class_and_most_are_classified_right():
    names = [Path(e).name for e in spectrum.EXAMPLES]
    assert {n.split("_")[0] for n in names} == set(CLASSES) and len(names) == 2 * len(CLASSES)
    right = 0
    for path in spectrum.EXAMPLES:
        label, picture, notes = spectrum.classify(path)
        assert set(label) == set(spectrum.NAMES.values()) and abs(sum(label.values()) - 1) < 1e-5
        best = max(label, key=label.get)
        right += best == spectrum.NAMES[Path(path).name.split("_")[0]]
        assert picture.dtype == np.uint8 and picture.shape == (spectrum.HEIGHT, spectrum.WIDTH, 3)
    assert right >= 6, right


def test_the_picture_draws_the_spectrum_its_lines_and_the_saliency():
    flux, sal = np.sin(GRID / 300), np.linspace(0, 1, len(GRID))
    picture = spectrum.spectrum_picture(flux, sal, "galaxy", 0.1)
    assert picture.shape == (spectrum.HEIGHT, spectrum.WIDTH, 3) and picture.dtype == np.uint8
    dark = (np.abs(picture.astype(int) - spectrum.DARK).sum(2) < 30)
    assert dark[:, spectrum.LEFT + 5:-spectrum.RIGHT - 5].any(0).mean() > 0.95  # the spectrum spans the panel
    red = (picture[:, :, 0] > 200) & (picture[:, :, 1] < 190) & (picture[:, :, 2] < 190)
    x_of = lambda w: spectrum.LEFT + (w - GRID[0]) / (GRID[-1] - GRID[0]) * (  # noqa: E731
        spectrum.WIDTH - spectrum.RIGHT - spectrum.LEFT)
    halpha = int(round(x_of(6564.6 * 1.1)))
    assert red[:, halpha - 1:halpha + 2].sum() > 100        # Hα drawn where z = 0.1 puts it
    amber = (np.abs(picture.astype(int) - spectrum.AMBER).sum(2) < 10)
    left, right = amber[:, : spectrum.WIDTH // 2].sum(), amber[:, spectrum.WIDTH // 2:].sum()
    assert 0 < left < right                                 # the saliency rises to the right, as given


def _csv(tmp_path, wave, flux, name="s.csv", header="wavelength,flux\n"):
    path = tmp_path / name
    path.write_text(header + "".join(f"{w},{f}\n" for w, f in zip(wave, flux)), encoding="utf-8")
    return path


def test_partial_coverage_and_nans_are_said(tmp_path):
    wave = np.linspace(4000, 8000, 3000)
    flux = 1 + 0.1 * np.sin(wave / 200)
    flux[::50] = np.nan
    label, picture, notes = spectrum.classify(_csv(tmp_path, wave, flux))
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
    for f in ("model.safetensors", "stage1/model.safetensors", "templates.npz"):
        assert (spectrum.WEIGHTS / f).stat().st_size < 8 * 2**20
    assert "temperature" in card.lower() and "reliability.png" in card and (spectrum.WEIGHTS / "reliability.png").exists()



LAMOST = FIXTURES / "lamost"
DR1 = LAMOST / "spec-55862-B6212_sp06-003.fits"


def _dr1():
    from astropy.io import fits

    with fits.open(DR1) as hdus:
        return hdus[0].data.astype("float32"), hdus[0].header


def test_lamost_dr1_wavelengths_come_from_the_header():
    """DR1's third row is the subtracted continuum, not the wavelength: 10^(COEFF0 + COEFF1·i) from the header."""
    import numpy as np

    wave, flux = spectrum._read_fits(DR1)
    rows, header = _dr1()
    assert wave[0] == pytest.approx(10 ** header["COEFF0"]) and np.all(np.diff(wave) > 0)
    assert 3600 < wave[0] < 3800 and 9000 < wave[-1] < 9300 and len(flux) == rows.shape[1]
    assert np.isnan(flux[rows[1] <= 0]).all() and np.array_equal(flux[rows[1] > 0], rows[0][rows[1] > 0])


def test_lamost_later_layouts_read_the_same_spectrum(tmp_path):
    """DR2 and later: the image's third row is the wavelength; DR8 and later: a binary table of vector columns."""
    import numpy as np
    from astropy.io import fits

    rows, header = _dr1()
    wave = (10 ** (header["COEFF0"] + header["COEFF1"] * np.arange(rows.shape[1]))).astype("float32")
    image = np.stack([rows[0], rows[1], wave, rows[3], rows[4]])
    fits.PrimaryHDU(image).writeto(tmp_path / "dr5.fits")                  # no COEFF0 / COEFF1 in this header
    table = fits.BinTableHDU.from_columns([fits.Column(name=n, format=f"{rows.shape[1]}E", array=a[None])
                                           for n, a in (("FLUX", rows[0]), ("IVAR", rows[1]), ("WAVELENGTH", wave))])
    fits.HDUList([fits.PrimaryHDU(), table]).writeto(tmp_path / "dr9.fits")
    reference, _ = spectrum.read_spectrum(str(DR1))
    for name in ("dr5.fits", "dr9.fits"):
        on_grid, _ = spectrum.read_spectrum(str(tmp_path / name))
        assert np.allclose(on_grid, reference, rtol=1e-3, atol=1e-3 * np.abs(reference).max()), name
    broken = image.copy()
    broken[2] = rows[2]                                                      # neither row nor header has wavelengths
    fits.PrimaryHDU(broken).writeto(tmp_path / "none.fits")
    with pytest.raises(gr.Error, match="no wavelengths"):
        spectrum.read_spectrum(str(tmp_path / "none.fits"))


def test_lamost_spectrum_with_most_pixels_flagged_is_still_read():
    """52 % of this K7 star's pixels have inverse variance 0: dropping them would leave too little, so the flux is
    read as the survey gives it."""
    import numpy as np

    wave, flux = spectrum._read_fits(LAMOST / "spec-55862-B6212_sp06-145.fits")
    assert np.isfinite(flux).all()
    label, _, _ = spectrum.classify(str(LAMOST / "spec-55862-B6212_sp06-145.fits"))
    assert set(label) == set(spectrum.NAMES.values())


def test_a_real_lamost_star_is_called_a_star():
    label, _, _ = spectrum.classify(str(DR1))
    assert max(label, key=label.get) == spectrum.NAMES["star"]


def test_what_is_no_spectrum_is_called_unknown(tmp_path):
    """White noise and a flat line — the old model called a flat line "star" at 0.97–1.00 — are called unknown; the
    flat line because no template explains anything in it."""
    rng = np.random.default_rng(0)
    wave = np.geomspace(GRID[0], GRID[-1], 2 * len(GRID))                # sampled twice as finely as the grid
    for flux in (rng.normal(0, 1, len(wave)), 1 + rng.normal(0, 0.01, len(wave))):
        label, _, notes = spectrum.classify(_csv(tmp_path, wave, flux))
        assert max(label, key=label.get) == spectrum.NAMES["unknown"] and set(label) == set(spectrum.NAMES.values())
    assert "no spectral features" in notes


def test_outlier_rule_overrides_the_network(monkeypatch, tmp_path):
    """Where the features are farther from every class than the threshold, the tab says unknown and why."""
    model = spectrum.MODEL.get()
    monkeypatch.setattr(model.cfg, "outlier_threshold", 0.0)
    star = next(e for e in spectrum.EXAMPLES if "/star_2" in e)
    label, _, notes = spectrum.classify(star)
    assert label[spectrum.NAMES["unknown"]] == 1.0 and "unlike every class" in notes


def test_template_fit_is_drawn_and_its_redshift_and_subclass_said():
    galaxy = next(e for e in spectrum.EXAMPLES if "/galaxy_" in e)
    true_z = float(Path(galaxy).name.split("-z")[1].split("_")[0])
    label, picture, notes = spectrum.classify(galaxy)
    found = float(notes.split("z = ")[1].split("*")[0])
    assert abs(found - true_z) < 0.003 * (1 + true_z), (found, true_z)
    blue = (np.abs(picture.astype(int) - spectrum.BLUE).sum(2) < 30)
    assert blue[:, spectrum.LEFT:-spectrum.RIGHT].any(0).mean() > 0.5        # under the spectrum, across the panel
    _, _, notes = spectrum.classify(str(DR1))                                 # a real LAMOST F9 star
    assert "spectral class" in notes and "best template" in notes and "km/s" in notes


def test_real_lamost_examples():
    """The F9 star is a star whose spectral class the head puts within one class (F or G first); the K7 star with
    52 % of its pixels flagged is read and given a verdict (the shipped model says unknown — fair for half a
    spectrum)."""
    f9, k7 = spectrum.REAL_EXAMPLES
    label, _, notes = spectrum.classify(f9)
    assert max(label, key=label.get) == spectrum.NAMES["star"]
    assert notes.split("second head): **")[1][0] in "FG"
    label, _, _ = spectrum.classify(k7)
    assert set(label) == set(spectrum.NAMES.values())
