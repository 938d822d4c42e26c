"""training/spectra_data.py on fixture files cut from the real wheels (tests/fixtures/spectra/: a few templates in
their original FITS layout, the two QSO PCA files with 6 coefficient sets each, the Paranal sky every 10th pixel)."""
import zipfile
from collections import Counter

import numpy as np
import pytest

from training import spectra_data as sd

FIXTURES = sd.Path(__file__).parent / "fixtures" / "spectra"


@pytest.fixture(scope="module")
def wheels(tmp_path_factory):
    """Two zip files with the fixture files at their paths inside the real wheels."""
    folder = tmp_path_factory.mktemp("wheels")
    paths = {}
    for prefix, name in (("mangadap", "sdss_mangadap-4.5.0-py3-none-any.whl"), ("pypeit", "pypeit-2.0.1-py3-none-any.whl")):
        paths[prefix] = folder / name
        with zipfile.ZipFile(paths[prefix], "w") as z:
            for f in FIXTURES.glob(f"{prefix}__*"):
                z.writestr(f.name.replace("__", "/"), f.read_bytes())
    return paths["mangadap"], paths["pypeit"]


@pytest.fixture(scope="module")
def templates(wheels):
    return sd.read_templates(*wheels)


def test_templates_are_read_with_their_ranges_and_types(templates):
    libraries = Counter(s["library"] for s in templates["stars"] + templates["ssps"])
    assert libraries == {"miles": 2, "stelib": 1, "mastarhc_v2": 1, "bc03_mpajhu": 1, "miuscat": 1}
    miles = {s["name"]: s for s in templates["stars"] if s["library"] == "miles"}
    assert miles["miles/MILES_res2.50_star_m0001V"]["type"] == "G3 V"
    assert miles["miles/MILES_res2.50_star_m0081V"]["type"] == "G1V"
    for s in templates["stars"] + templates["ssps"]:
        assert (s["flux"] > 0).all() and np.all(np.diff(s["wave"]) > 0)
    m = miles["miles/MILES_res2.50_star_m0001V"]
    # MILES is in air (its header: 3,540.5 Å first); read into vacuum like LAMOST, +1.0 Å there, +2.0 Å at 7,409.6
    assert m["wave"][0] == pytest.approx(3541.51, abs=0.02) and m["wave"][-1] == pytest.approx(7411.64, abs=0.05)
    mastar = next(s for s in templates["stars"] if s["library"] == "mastarhc_v2")
    assert mastar["wave"][0] < 3700 and mastar["wave"][-1] > 9000       # log-λ header decoded
    blue, red = templates["qso"]
    assert blue["coeffs"].shape == (6, 10) and red["coeffs"].shape == (6, 9)
    assert blue["wave"][0] == pytest.approx(1198, abs=1) and red["wave"][-1] == pytest.approx(5100, abs=10)
    assert np.allclose(blue["coeffs"][:, 0], 1.0)   # the first component is the mean spectrum


def test_a_star_with_a_gap_inside_is_left_out(templates):
    # STELIB's HD 112300 has no flux between ~4,750 and ~7,850 Å: read as before, that was a straight line
    assert templates["gapped"] == ["stelib/STELIB_v3.2_HD112300"]
    assert all("HD112300" not in s["name"] for s in templates["stars"])
    wave = np.arange(4000.0, 4400.0)
    flux = np.ones_like(wave)
    assert sd.inner_gap(wave, flux) == 0.0
    flux[100:150] = 0.0                       # 50 pixels missing inside: 51 Å between the good pixels either side
    flux[:10] = np.nan                        # padding at an end is not a gap inside
    assert sd.inner_gap(wave, flux) == 51.0


def test_dust_reddens_with_cardellis_law():
    # CCM 1989, R_V = 3.1: A_B / A_V ≈ 1.32 (4,400 Å), A_I / A_V ≈ 0.60 (8,000 Å), 1 at V
    assert sd.ccm_extinction(np.array([4400.0, 5500.0, 8000.0])) == pytest.approx([1.32, 1.0, 0.60], abs=0.01)
    wave = np.linspace(3700, 9000, 500)
    a = sd.ccm_extinction(wave)
    assert np.all(np.diff(a) < 0)            # more extinction in the blue, all the way
    reddened = sd.redden(wave, np.ones_like(wave), 1.0)
    assert reddened[0] < reddened[-1] < 1.0 and reddened[-1] / reddened[0] == pytest.approx(10 ** (0.4 * (a[0] - a[-1])))


def test_air_wavelengths_become_vacuum():
    # NIST: Hα 6562.80 Å in air is 6564.61 in vacuum, Hβ 4861.33 → 4862.68, Ca II K 3933.66 → 3934.78
    assert sd.air_to_vacuum(np.array([6562.80, 4861.33, 3933.66])) == pytest.approx([6564.61, 4862.68, 3934.78], abs=0.02)


def test_miles_types_fixed_width():
    text = (FIXTURES / "mangadap__data__spectral_templates__miles__paramsMILES_v9.1.txt").read_text("latin-1")
    assert sd.miles_types(text) == {"0081": "G1V", "0001": "G3 V"}


def test_rebin_keeps_the_mean_and_a_line_s_flux():
    wave = np.linspace(3000, 10000, 70001)
    flat = np.full_like(wave, 2.0)
    assert np.allclose(sd.rebin(wave, flat), 2.0)
    line = flat + sd.gaussian_lines(wave, [(6000.0, 50.0)], sigma_kms=60)
    excess = (sd.rebin(wave, line) - 2.0) * np.gradient(sd.GRID)     # flux density × pixel width
    # the line's 50 Å of equivalent flux survive the resampling (within a pixel-edge error)
    assert excess.sum() == pytest.approx(50.0, rel=0.05)
    assert np.isnan(sd.rebin(wave[wave > 5000], flat[wave > 5000])[0])


def test_miles_stars_are_continued_to_the_red_end(templates):
    full = [s for s in templates["stars"] if s["wave"][-1] >= sd.HI]
    miles = [s for s in templates["stars"] if s["library"] == "miles"]
    out = sd.splice_red(miles, full)
    for before, after in zip(miles, out):
        assert after["wave"][-1] >= sd.HI and after["spliced_with"] in {s["name"] for s in full}
        join = np.searchsorted(after["wave"], 7350)
        left, right = after["flux"][join - 20:join].mean(), after["flux"][join:join + 20].mean()
        assert right == pytest.approx(left, rel=0.2)                     # scaled to meet
        keep = before["wave"] <= 7350
        assert np.array_equal(after["flux"][:keep.sum()], before["flux"][keep])


def test_split_keeps_every_template_in_one_split(templates):
    parts = sd.split_templates(templates, seed=0)
    names = [s["name"] for p in parts.values() for s in p["stars"] + p["ssps"]]
    assert len(names) == len(set(names))
    # MILES stars are only left out where their split has no full-range star to continue them
    everything = {s["name"] for s in templates["stars"] + templates["ssps"]}
    assert everything - set(names) <= {s["name"] for s in templates["stars"] if s["library"] == "miles"}
    for key in ("qso_blue", "qso_red"):
        ids = [k for p in parts.values() for k in p[key]]
        assert sorted(ids) == list(range(6))


def test_generated_spectra(templates):
    full = [s for s in templates["stars"] if s["wave"][-1] >= sd.HI]
    part = {"stars": full + sd.splice_red([s for s in templates["stars"] if s["wave"][-1] < sd.HI], full),
            "ssps": templates["ssps"], "qso_blue": list(range(6)), "qso_red": list(range(6))}
    sky = sd.sky_on_grid(*templates["sky"])
    assert sky.shape == (sd.N_POINTS,) and np.median(sky) == pytest.approx(1.0) and sky.max() > 10  # sky lines
    X, y, meta = sd.generate(part, templates["qso"], sky, 120, seed=3)
    assert X.shape == (120, sd.N_POINTS) and X.dtype == np.float32 and np.isfinite(X).all()
    assert set(y.tolist()) <= {0, 1, 2, 3} and (y == 0).mean() > 0.5          # stars dominate, as in LAMOST
    for label, m in zip(y, meta):
        name = sd.CLASSES[label]
        if name == "unknown":
            assert m["unknown"] in {"low S/N", "sky", "dead arm", "arm jump", "bad columns"}
        else:
            assert m["base"] == name
        lo, hi = {"star": (-0.001, 0.001), "galaxy": (0.0, 0.4), "qso": (0.6, 2.6)}[m["base"]]
        assert lo <= m["z"] <= hi and 3 <= m["snr"] <= 60
    X2, y2, _ = sd.generate(part, templates["qso"], sky, 120, seed=3)
    assert np.array_equal(X, X2) and np.array_equal(y, y2)                 # seeded


def test_qso_is_rebuilt_over_the_whole_rest_range(templates):
    rng = np.random.default_rng(0)
    wave, flux, info = sd.make_qso(rng, templates["qso"], [0, 1], [2, 3])
    assert wave[0] <= 1000.5 and wave[-1] >= 5990 and (flux > 0).all() and np.all(np.diff(wave) > 0)
    assert len(info["templates"]) == 2
    lya = flux[np.abs(wave - 1216) < 10].mean()
    assert lya > 2 * np.median(flux)                 # the Lyα emission line of the PCA mean spectrum


def test_spectral_types_become_subclasses():
    assert [sd.subclass_of(t) for t in ("G6 IV-Vw", "kA3hF0mF2", "sd:F", "M0III", "B9", "O9.5V", "K3 III", "C", "")] \
        == [3, 1, 2, 5, 0, 0, 4, -1, -1]


def test_broadening_keeps_the_flux_and_widens_a_line():
    wave = np.linspace(4000, 6000, 20001)
    line = 1 + sd.gaussian_lines(wave, [(5000.0, 10.0)], sigma_kms=50)
    w, f = sd.broaden(wave, line, sigma_kms=200)
    excess = np.trapezoid(f - 1, w)
    assert excess == pytest.approx(10.0, rel=0.02)
    width = np.sqrt(np.trapezoid((f - 1) * (w - 5000) ** 2, w) / excess) / 5000 * 299_792.458
    assert width == pytest.approx(np.hypot(50, 200), rel=0.05)


def test_gaps_are_bridged_as_the_reader_bridges_them():
    x = np.linspace(0, 1, sd.N_POINTS) ** 2
    gap = np.zeros(sd.N_POINTS, dtype=bool)
    gap[:40] = gap[1000:1100] = True
    out = sd.bridge(x, gap)
    assert np.all(out[:40] == x[40])                                          # flat at the end
    assert np.allclose(out[1000:1100], np.interp(sd.GRID[1000:1100], sd.GRID[[999, 1100]], x[[999, 1100]]))
    assert np.array_equal(out[~gap], x[~gap])
    rng = np.random.default_rng(0)
    shares = np.mean([sd.survey_gaps(rng)[:5].any() for _ in range(400)])   # the blue edge, about half the time
    assert 0.45 < shares < 0.65


def test_galaxies_reach_the_rest_frame_with_lines_of_every_kind(templates):
    rng = np.random.default_rng(0)
    zs = np.array([sd.galaxy_redshift(rng) for _ in range(2000)])
    assert zs.min() >= 0 and zs.max() <= 0.4 and 0.3 < (zs < 0.01).mean() < 0.45   # ¼ + ¾·P(0.4u² < 0.01) ≈ 0.37
    kinds = set()
    for _ in range(40):
        wave, flux, info = sd.make_galaxy(rng, templates["ssps"])
        kinds.add(info["lines"])
        assert wave[0] <= 2500.5 and (flux > 0).all() and 40 <= info["sigma_kms"] <= 300
        assert np.isfinite(flux).all() and np.all(np.diff(wave) > 0)
    assert kinds == set(sd.LINE_KINDS)


def test_redshift_templates_from_one_split(templates):
    from models.spectrum import REST

    full = [s for s in templates["stars"] if s["wave"][-1] >= sd.HI]
    part = {"stars": full + sd.splice_red([s for s in templates["stars"] if s["wave"][-1] < sd.HI], full),
            "ssps": templates["ssps"], "qso_blue": list(range(6)), "qso_red": list(range(6))}
    out = sd.redshift_templates(part, templates["qso"], n=30, k=3)
    assert out["galaxy"].shape == out["qso"].shape == (3, len(REST)) and np.isfinite(out["galaxy"]).all()
    assert set(out["star_subclass"].tolist()) == {3} and len(out["star"]) == len(out["star_name"]) == 2   # the G stars


def test_rebin_of_samples_on_the_grid_itself_keeps_the_end_pixels():
    """An upload sampled exactly on the grid covers only half of each end pixel; those were halved (0.5 for a flat
    1) — a step that templates then 'explained'."""
    out = sd.rebin(sd.GRID, np.ones(sd.N_POINTS))
    assert np.allclose(out, 1.0)
