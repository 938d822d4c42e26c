"""The O-GAN tab's adapter on the shipped checkpoint."""
import gradio as gr
import numpy as np
import pytest
from PIL import Image, ImageDraw

from demos import o_gan

SIDE = 32 * o_gan.ZOOM


def test_examples_are_test_images_of_every_class():
    assert len(o_gan.EXAMPLES) == 20
    assert {p.rsplit("class", 1)[1] for p in o_gan.EXAMPLES} == {f"{c}.png" for c in range(10)}
    assert (o_gan.CHECKPOINT / "model.safetensors").stat().st_size < 8 * 2**20


def test_samples_are_seeded_pictures():
    grid = o_gan.samples(3, 9, 1.0)
    assert grid.shape == ((3 * 34 + 2) * o_gan.ZOOM,) * 2 and grid.dtype == np.uint8
    assert np.array_equal(grid, o_gan.samples(3, 9, 1.0)) and not np.array_equal(grid, o_gan.samples(4, 9, 1.0))


def test_dataset_image_is_taken_as_is_and_reconstructed():
    seen, recon, notes = o_gan.encode_image(o_gan.EXAMPLES[0])
    original = np.asarray(Image.open(o_gan.EXAMPLES[0]))
    assert seen.shape == recon.shape == (SIDE, SIDE)
    inner = seen[2 * o_gan.ZOOM:30 * o_gan.ZOOM:o_gan.ZOOM, 2 * o_gan.ZOOM:30 * o_gan.ZOOM:o_gan.ZOOM]
    assert np.abs(inner.astype(int) - original).max() <= 1  # no crop or resize for a 28×28 grey picture
    assert "MSE" in notes and "28×28" not in notes.split("\n", 1)[1]


def test_dataset_image_made_rgb_by_the_browser_is_still_taken_as_is(tmp_path):
    rgb = tmp_path / "upload.png"
    Image.open(o_gan.EXAMPLES[0]).convert("RGB").save(rgb)
    assert np.array_equal(o_gan.preprocess(rgb)[1], np.asarray(Image.open(o_gan.EXAMPLES[0])))


def test_reconstructions_resemble_their_originals():
    """Each reconstruction is closer (in pixels) to its own original than to the other examples' on average."""
    seen, recon = zip(*[o_gan.encode_image(p)[:2] for p in o_gan.EXAMPLES])
    d = np.array([[np.abs(r.astype(float) - s).mean() for s in seen] for r in recon])
    own = np.diag(d)
    others = (d.sum(1) - own) / (len(own) - 1)
    assert (own < others).mean() >= 0.7


def test_refining_the_code_brings_the_reconstruction_closer_to_the_picture():
    """From E(x), the Adam steps on z lower the pixel error on every example (the notes give both MSEs)."""
    import re

    from models import o_gan as model

    assert o_gan.REFINE_STEPS == model.REFINE_STEPS
    for path in o_gan.EXAMPLES[:6]:
        _, alone, notes_alone = o_gan.encode_image(path, 0)
        _, refined, notes = o_gan.encode_image(path)
        mse = [float(v) for v in re.findall(r"(\d\.\d{4})", notes.rsplit("MSE", 1)[1])]
        assert len(mse) == 2 and mse[1] < mse[0]
        assert f"{mse[0]:.4f}" in notes_alone and "refined" not in notes_alone
        assert not np.array_equal(alone, refined)
    with pytest.raises(gr.Error, match="再优化步数"):
        o_gan.encode_image(o_gan.EXAMPLES[0], 500)


def test_photo_on_white_is_inverted_centred_and_resized(tmp_path):
    im = Image.new("RGB", (300, 200), "white")
    ImageDraw.Draw(im).rectangle([200, 20, 260, 180], fill=(30, 30, 30))  # a dark tall bar, right of centre
    path = tmp_path / "photo.jpg"
    im.save(path)
    x, seen, notes = o_gan.preprocess(path)
    assert x.shape == (1, 1, 32, 32) and seen.shape == (28, 28)
    assert "inverted" in " ".join(notes) and "centred" in " ".join(notes)
    cols = np.nonzero(seen.max(0) > 100)[0]
    assert seen[14, 14] > 150 and seen[0, 0] < 30 and abs((cols.min() + cols.max()) / 2 - 13.5) <= 1
    assert seen.max(1).astype(bool).sum() == 28  # the bar's height fills the square


def test_transparent_png_uses_alpha_as_background(tmp_path):
    im = Image.new("RGBA", (64, 64), (0, 0, 0, 0))
    ImageDraw.Draw(im).ellipse([16, 16, 48, 48], fill=(200, 50, 50, 255))
    path = tmp_path / "logo.png"
    im.save(path)
    _, seen, notes = o_gan.preprocess(path)
    assert "transparent" in " ".join(notes)
    assert seen[14, 14] > 50 and seen[0, 0] == 0
    seen_pic, recon, _ = o_gan.encode_image(path)
    assert recon.shape == (SIDE, SIDE)


def test_interpolation_strip():
    strip = o_gan.interpolate_images(o_gan.EXAMPLES[0], o_gan.EXAMPLES[5], 6)
    assert strip.shape == ((34 + 2) * o_gan.ZOOM, (6 * 34 + 2) * o_gan.ZOOM)
    # its ends are the two reconstructions
    a = o_gan.encode_image(o_gan.EXAMPLES[0], 0)[1]  # the encoder's own reconstruction, not refined
    lo = 2 * o_gan.ZOOM
    assert np.abs(strip[lo:lo + SIDE, lo:lo + SIDE].astype(int) - a).max() <= 2


def test_bad_pictures(tmp_path):
    text = tmp_path / "notes.png"
    text.write_text("not a picture")
    blank = tmp_path / "blank.png"
    Image.new("L", (50, 50), 255).save(blank)
    huge = tmp_path / "huge.png"
    Image.new("L", (6000, 5000)).save(huge)
    for path, message in [(None, "选择或上传"), ("", "选择或上传"), (tmp_path / "missing.png", "找不到"),
                          (text, "不是图片"), (blank, "空白"), (huge, "太大")]:
        with pytest.raises(gr.Error, match=message):
            o_gan.encode_image(path)
    with pytest.raises(gr.Error, match="插值步数"):
        o_gan.interpolate_images(o_gan.EXAMPLES[0], o_gan.EXAMPLES[1], 50)
    with pytest.raises(gr.Error, match="选择或上传"):
        o_gan.interpolate_images(o_gan.EXAMPLES[0], None, 5)
    with pytest.raises(gr.Error, match="种子"):
        o_gan.samples(-5, 4, 1.0)
    with pytest.raises(gr.Error, match="样本数"):
        o_gan.samples(0, 1000, 1.0)
