"""training/gan_qp.py on a handful of fixture images: a few steps, the files it writes, determinism."""
import json

import torch

from conftest import FIXTURES
from models import gan_qp
from training import gan_qp as training
from training.image_data import read_idx, to_tensor


def mean_brightness(images):  # stands in for the classifier FID (the shipped classifier is tested elsewhere)
    return float(images.mean() + 1)


def run(loss="qp-l1", seed=0, steps=4, **kw):
    x = to_tensor(read_idx(FIXTURES / "fashion-mnist" / "train-images-idx3-ubyte.gz"))
    return training.train_gan(loss, x, mean_brightness, steps=steps, seed=seed, width=8, batch_size=4, fid_every=2,
                              fid_samples=8, **kw)


def test_train_logs_history_and_progress_rows():
    G, D, history, progress, seconds = run()
    assert [h["step"] for h in history] == [2, 4] and seconds > 0
    assert all(set(h) == {"step", "fid", "d_loss", "g_loss", "seconds"} for h in history)
    assert len(progress) == 2 and progress[0].shape == (8, 1, 32, 32)
    assert not G.training


def test_same_seed_same_generator_other_seed_differs():
    a, b, c = run(seed=0)[0], run(seed=0)[0], run(seed=1)[0]
    assert all(torch.equal(a.state_dict()[k], b.state_dict()[k]) for k in a.state_dict())
    assert not torch.equal(a.fc.weight, c.fc.weight)


def test_an_interrupted_run_resumed_ends_where_the_whole_run_ends(tmp_path):
    whole = run("qp-l1", steps=6)
    run("qp-l1", steps=4, run=tmp_path / "run", save_minutes=0)   # stopped after 4 steps, state saved
    resumed = run("qp-l1", steps=6, run=tmp_path / "run")         # the same command goes on from step 4
    for a, b in ((whole[0], resumed[0]), (whole[1], resumed[1])):  # generator and critic (batch-norm stats too)
        assert all(torch.equal(a.state_dict()[k], b.state_dict()[k]) for k in a.state_dict())
    assert [(h["step"], h["d_loss"]) for h in whole[2]] == [(h["step"], h["d_loss"]) for h in resumed[2]]
    assert len(resumed[3]) == 3 and torch.equal(whole[3][-1], resumed[3][-1])


def test_each_loss_gets_its_critic_normalisation():
    kinds = {loss: {type(m).__name__ for m in run(loss, steps=2)[1].modules()} for loss in gan_qp.LOSSES}
    assert "BatchNorm2d" in kinds["qp-l1"] and "BatchNorm2d" in kinds["sgan"]
    assert "GroupNorm" in kinds["wgan-gp"] and "BatchNorm2d" not in kinds["wgan-gp"]   # per-sample penalty
    assert "ParametrizedConv2d" in kinds["sgan-sn"] and "BatchNorm2d" not in kinds["sgan-sn"]


def test_checkpoint_files_card_and_plot(tmp_path):
    for loss in ("qp-l1", "sgan"):
        G, _, history, progress, _ = run(loss)
        info = {"dataset": "fashion", "loss": loss, "steps": 4, "minutes": 0.01, "fid_10k": 1.5,
                "fid_real_train": 0.1, "seed": 0, "device": "cpu", "command": "python -m training.gan_qp --steps 4"}
        (tmp_path / f"fashion_{loss}.json").write_text("{}")  # an older checkpoint of the same name: replaced
        training.save_checkpoint(tmp_path, f"fashion_{loss}", G, history, progress, info)
    assert {p.name for p in tmp_path.iterdir()} == {"fashion_qp-l1", "fashion_sgan"}
    assert {p.name for p in (tmp_path / "fashion_qp-l1").iterdir()} == {
        "config.json", "model.safetensors", "MODEL_CARD.md", "history.json", "progress.png"}
    saved = json.loads((tmp_path / "fashion_sgan" / "history.json").read_text())
    assert saved["info"]["loss"] == "sgan" and len(saved["history"]) == 2
    assert "**1.50**" in (tmp_path / "fashion_sgan" / "MODEL_CARD.md").read_text()
    z = torch.randn(3, 128)
    with torch.no_grad():
        assert torch.allclose(gan_qp.load(tmp_path / "fashion_qp-l1")(z), G(z), atol=2e-2)
    assert training.plot_fid(tmp_path, "fashion").exists()
    assert training.plot_fid(tmp_path, "mnist") is None
    training.write_card(tmp_path)
    card = (tmp_path / "MODEL_CARD.md").read_text()
    assert "| Fashion-MNIST | GAN-QP L1 | none | 4 | **1.50** |" in card and "SGAN" in card
    assert "Not Inception FID" in card


def test_o_gan_resumed_ends_where_the_whole_run_ends(tmp_path):
    """O-GAN's state (both nets with the encoder's batch-norm statistics, RMSprop's averages, random states) is
    saved and resumed as GAN-QP's is."""
    from training import o_gan

    x = to_tensor(read_idx(FIXTURES / "fashion-mnist" / "train-images-idx3-ubyte.gz"))

    def o_run(steps, **kw):
        return o_gan.train_o_gan(x, mean_brightness, steps=steps, width=8, batch_size=4, fid_every=2, fid_samples=8,
                                 **kw)

    whole = o_run(6)
    o_run(4, run=tmp_path / "run", save_minutes=0)
    resumed = o_run(6, run=tmp_path / "run")
    for a, b in ((whole[0], resumed[0]), (whole[1], resumed[1])):             # generator and encoder
        assert all(torch.equal(a.state_dict()[k], b.state_dict()[k]) for k in a.state_dict())
    assert [(h["step"], h["rho"]) for h in whole[2]] == [(h["step"], h["rho"]) for h in resumed[2]]
    assert "BatchNorm2d" in {type(m).__name__ for m in whole[1].modules()}    # the post's encoder
