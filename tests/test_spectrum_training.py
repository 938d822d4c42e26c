"""training/spectrum.py: a stage saved after every epoch resumes into the same run (tiny network, random spectra)."""
import torch

from models.spectrum import CLASSES, SpectrumConfig, SpectrumNet
from training import spectrum as trainer


def tiny():
    return SpectrumNet(SpectrumConfig(n_points=256, widths=(4,) * 8, hidden=8))


def test_a_stage_resumed_after_its_first_epoch_ends_where_an_uncut_stage_ends(tmp_path):
    g = torch.Generator().manual_seed(0)
    X, y = torch.randn(2 * trainer.BATCH, 256, generator=g), torch.arange(2 * trainer.BATCH) % len(CLASSES)
    Xv, yv = X[:40], y[:40]
    sub = torch.where(y == 0, torch.arange(len(y)) % 6, -1)

    torch.manual_seed(1)
    whole, history = trainer.run_stage(tiny(), X, y, Xv, yv, 2, 1e-3, "cross-entropy", 0, "cpu", "stage 1", sub,
                                       sub[:40], tmp_path / "whole")
    assert [h["epoch"] for h in history] == [1, 2] and (tmp_path / "whole" / "state.json").exists()

    torch.manual_seed(1)
    trainer.run_stage(tiny(), X, y, Xv, yv, 1, 1e-3, "cross-entropy", 0, "cpu", "stage 1", sub, sub[:40],
                      tmp_path / "cut")
    torch.manual_seed(99)   # a new process: other initial weights, which the saved run replaces
    resumed, more = trainer.run_stage(tiny(), X, y, Xv, yv, 2, 1e-3, "cross-entropy", 0, "cpu", "stage 1", sub,
                                      sub[:40], tmp_path / "cut", resume=True)
    assert [h["epoch"] for h in more] == [1, 2]
    assert [h["train_loss"] for h in more] == [h["train_loss"] for h in history]
    for (name, a), b in zip(whole.state_dict().items(), resumed.state_dict().values()):
        assert torch.equal(a, b), name
