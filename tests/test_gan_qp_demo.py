"""The GAN-QP tab's adapter on the shipped generators."""
import gradio as gr
import numpy as np
import pytest

from demos import gan_qp

TILE = (32 + 2) * gan_qp.ZOOM  # a 32×32 image plus its gutter, zoomed


def test_every_comparison_checkpoint_ships():
    assert {"fashion_qp-l1", "fashion_qp-l2", "fashion_wgan-gp", "fashion_sgan", "mnist_qp-l1"} <= set(gan_qp.CHECKPOINTS)
    from models.checkpoint import beside

    for name in gan_qp.CHECKPOINTS:  # a folder of the common layout (retrained) or an older stem
        folder = gan_qp.WEIGHTS / name
        weights = folder / "model.safetensors" if folder.is_dir() else gan_qp.WEIGHTS / f"{name}.safetensors"
        assert weights.stat().st_size < 8 * 2**20
        assert beside(gan_qp.RESULTS[name][0], "progress.png").exists()


@pytest.mark.parametrize("checkpoint", ["fashion_qp-l1", "mnist_qp-l1"])
def test_sample_grid_is_a_seeded_picture(checkpoint):
    grid = gan_qp.sample_grid(checkpoint, 7, 16, 1.0)
    assert grid.dtype == np.uint8 and grid.shape == (4 * TILE + 2 * gan_qp.ZOOM, 4 * TILE + 2 * gan_qp.ZOOM)
    assert np.array_equal(grid, gan_qp.sample_grid(checkpoint, 7, 16, 1.0))
    assert not np.array_equal(grid, gan_qp.sample_grid(checkpoint, 8, 16, 1.0))
    assert grid.std() > 20  # pictures, not a flat field


def test_samples_look_like_the_data():
    """Clothes and digits are bright objects on a black background, as in the training set."""
    grid = gan_qp.sample_grid("fashion_qp-l1", 0, 16, 1.0)
    corners = grid[gan_qp.ZOOM * 2:gan_qp.ZOOM * 4, gan_qp.ZOOM * 2:gan_qp.ZOOM * 4]
    assert corners.mean() < 60 and grid.mean() > 30


def test_temperature_zero_gives_one_image_repeated():
    grid = gan_qp.sample_grid("fashion_qp-l1", 3, 4, 0.0)  # 2 × 2
    lo, size = 2 * gan_qp.ZOOM, 32 * gan_qp.ZOOM
    tiles = [grid[lo + r * TILE:lo + r * TILE + size, lo + c * TILE:lo + c * TILE + size] for r in (0, 1) for c in (0, 1)]
    assert all(np.array_equal(tiles[0], t) for t in tiles[1:])


def test_interpolation_starts_and_ends_at_the_seeds_samples():
    strip = gan_qp.interpolate("fashion_qp-l1", 1, 2, 6, 1.0)
    assert strip.shape == (TILE + 2 * gan_qp.ZOOM, 6 * TILE + 2 * gan_qp.ZOOM)
    first = gan_qp.sample_grid("fashion_qp-l1", 1, 1, 1.0)
    last = gan_qp.sample_grid("fashion_qp-l1", 2, 1, 1.0)
    size = 32 * gan_qp.ZOOM
    lo = 2 * gan_qp.ZOOM
    assert np.abs(strip[lo:lo + size, lo:lo + size].astype(int) - first[lo:lo + size, lo:lo + size]).max() <= 2
    end = lo + 5 * TILE
    assert np.abs(strip[lo:lo + size, end:end + size].astype(int) - last[lo:lo + size, lo:lo + size]).max() <= 2


@pytest.mark.parametrize("args,message", [
    (("fashion_qp-l1", -1, 16, 1.0), "种子"), (("fashion_qp-l1", 2**31, 16, 1.0), "种子"),
    (("fashion_qp-l1", 1.5, 16, 1.0), "整数"), (("fashion_qp-l1", "abc", 16, 1.0), "不是数字"),
    (("fashion_qp-l1", 0, 65, 1.0), "样本数"), (("fashion_qp-l1", 0, 0, 1.0), "样本数"),
    (("fashion_qp-l1", 0, 16, float("nan")), "温度"), (("fashion_qp-l1", 0, 16, 5.0), "温度"),
    (("celeba_qp-l1", 0, 16, 1.0), "没有这个模型"), ((None, 0, 16, 1.0), "没有这个模型"),
])
def test_bad_sampling_input(args, message):
    with pytest.raises(gr.Error, match=message):
        gan_qp.sample_grid(*args)


def test_bad_interpolation_input():
    with pytest.raises(gr.Error, match="插值步数"):
        gan_qp.interpolate("fashion_qp-l1", 1, 2, 100, 1.0)
    with pytest.raises(gr.Error, match="终点种子"):
        gan_qp.interpolate("fashion_qp-l1", 1, None, 5, 1.0)


def test_fid_table_lists_every_checkpoint():
    table = gan_qp.fid_table()
    assert table.count("\n") == len(gan_qp.CHECKPOINTS) + 1
    assert "WGAN-GP" in table and "SGAN" in table and "GAN-QP L2" in table


@pytest.mark.parametrize("checkpoint", [[], ["fashion_qp-l1"], {"a": 1}, None])
def test_a_checkpoint_that_is_not_a_name_is_refused_clearly(checkpoint):
    """Found by the fuzz test (1,000 cases): a list as the checkpoint raised TypeError (unhashable) instead."""
    with pytest.raises(gr.Error, match="unknown checkpoint"):
        gan_qp.sample_grid(checkpoint, 0, 4, 1.0)
