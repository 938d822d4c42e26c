"""Benchmark of the O-GAN tab, one run: the shipped O-GAN against the shipped GAN-QP generator, same metric.

    python -m bench.bench_o_gan          # ~12 min on 2 CPU cores

Rows: sample FID (classifier FID, 10,000 samples against the test split — as training/gan_qp.py) of the O-GAN
generator and of the GAN-QP (L1) and WGAN-GP generators trained on the same data with the same nets; for O-GAN the
reconstruction of the test split — pixel MSE (images in [0, 1]) and how often the classifier gives the
reconstruction the original's label — and the correlation ρ(z, E(G(z))) reached. For scale, the same
reconstruction metrics for a baseline that needs no encoder: the test image's nearest neighbour among 10,000 GAN-QP
samples (pixel distance), and the label rate of the original images themselves. Both reconstructions again after
the same Adam steps on the latent (models/o_gan.py ``refine``): from E(x) for O-GAN, from the nearest sample's
latent for the baseline — written to data/o_gan/reconstruction.json for the tab. How the number of steps was
chosen: the same measures on the last 1,000 training images for 50, 100 and 200 steps (never the test split).
Then the tab's latency.
"""
from __future__ import annotations

import json
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def main():
    import torch

    from bench import markdown_table, p50_p95, time_calls_ms
    from demos import o_gan as tab
    from models import checkpoint, gan_qp, image_classifier, o_gan
    from models.image_classifier import FidScorer
    from training.image_data import load, to_tensor

    dataset = tab.DATASET
    x_test, y_test = load(dataset, "test")
    x_test, y_test = to_tensor(x_test), torch.from_numpy(y_test)
    classifier = image_classifier.load(REPO / "data" / "image_classifier" / dataset)
    fid = FidScorer(classifier, x_test)
    G, E = o_gan.load(tab.CHECKPOINT)
    t0 = time.perf_counter()
    ours = o_gan.evaluate(G, E, x_test, y_test, fid, classifier)
    eval_s = time.perf_counter() - t0
    info = checkpoint.read_history(tab.CHECKPOINT)["info"]

    x, y = x_test[:2000], y_test[:2000]
    rows = []
    for loss in ("qp-l1", "wgan-gp"):
        stem = REPO / "data" / "gan_qp" / f"{dataset}_{loss}"
        generator = gan_qp.load(stem)
        steps = checkpoint.read_history(stem)["info"]["steps"]
        pool_seed, pool_size = 20_000, 10_000  # the samples' latents are drawn again below, from the same seed
        pool = gan_qp.sample(generator, pool_size, seed=pool_seed)
        nearest_mse, nearest_label = "–", "–"
        if loss == "qp-l1":  # nearest GAN-QP sample as a reconstruction without an encoder
            with torch.no_grad():
                d = torch.cdist(x.flatten(1), pool.flatten(1))
                nn = pool[d.argmin(1)]
                nearest_mse = f"{((nn - x) / 2).pow(2).mean().item():.4f}"
                nearest_label = f"{(classifier(nn).argmax(1) == y).float().mean().item():.4f}"
                # the same refinement as O-GAN's, started from the nearest sample's latent instead of from E(x)
                z_nn = gan_qp.latents(pool_seed, pool_size, generator.cfg.z_dim)[d.argmin(1)]
                nn_refined = torch.cat([generator(o_gan.refine(generator, z_nn[i:i + 500], x[i:i + 500]))
                                        for i in range(0, len(x), 500)]).detach()
                refined_row = (f"GAN-QP `{stem.name}`: nearest of 10k samples + {o_gan.REFINE_STEPS} Adam steps on "
                               f"its latent (first 2,000 test images)", "–", "–",
                               f"{((nn_refined - x) / 2).pow(2).mean().item():.4f}",
                               f"{(classifier(nn_refined).argmax(1) == y).float().mean().item():.4f}")
        rows.append((f"GAN-QP checkpoint `{stem.name}` ({steps:,} steps){'; reconstruction = nearest of 10k samples (first 2,000 test images)' if loss == 'qp-l1' else ''}",
                     f"{fid(pool):.2f}", "–", nearest_mse, nearest_label))
    rows.insert(0, (f"O-GAN `{dataset}` ({info['steps']:,} steps)", f"{ours['fid_10k']:.2f}", f"{ours['rho']:.4f}",
                    f"{ours['recon_mse']:.4f}", f"{ours['recon_label_rate']:.4f}"))
    rows.insert(1, (f"O-GAN `{dataset}`, refined: E(x) + {ours['refine_steps']} Adam steps on the code", "–", "–",
                    f"{ours['recon_refined_mse']:.4f}", f"{ours['recon_refined_label_rate']:.4f}"))
    rows.insert(3, refined_row)
    tab.RECONSTRUCTION.write_text(json.dumps({k: ours[k] for k in (
        "refine_steps", "recon_mse", "recon_label_rate", "recon_refined_mse", "recon_refined_label_rate",
        "original_label_rate", "n_test")}, indent=1))
    rows.append(("the original test images (reference)", "–", "–", "0", f"{ours['original_label_rate']:.4f}"))

    print(f"## O-GAN vs GAN-QP on {dataset} (classifier FID, not Inception FID; test split of {ours['n_test']:,})\n")
    print(markdown_table(["model", "sample FID ↓", "ρ(z, E(G(z)))", "reconstruction MSE ↓",
                          "reconstruction keeps label ↑"], rows))
    print(f"\n(O-GAN evaluation {eval_s:.0f} s.)")

    print("\n## Refinement steps, chosen on the last 1,000 training images (not the test split)\n")
    x_train, y_train = load(dataset, "train")
    x_sel, y_sel = to_tensor(x_train[-1000:]), torch.from_numpy(y_train[-1000:])
    z0 = o_gan.encode(E, x_sel)
    rows = []
    for steps in (0, 50, 100, 200):
        with torch.no_grad():
            r = G(o_gan.refine(G, z0, x_sel, steps) if steps else z0)
            rows.append((f"{steps}" + (" (default)" if steps == o_gan.REFINE_STEPS else ""),
                         f"{((r - x_sel) / 2).pow(2).mean().item():.4f}",
                         f"{(classifier(r).argmax(1) == y_sel).float().mean().item():.4f}"))
    print(markdown_table(["Adam steps from E(x)", "reconstruction MSE ↓", "keeps label ↑"], rows))

    example = tab.EXAMPLES[0]
    tab.encode_image(example)  # warm
    p50, p95 = p50_p95(time_calls_ms([lambda: tab.encode_image(example)] * 30))
    grid_ms = statistics.mean(time_calls_ms([lambda s=s: tab.samples(s, 16, 1.0) for s in range(20)]))
    print(f"Tab latency (warm): encode + reconstruct p50 {p50:.1f} ms, p95 {p95:.1f} ms; "
          f"a 16-sample grid {grid_ms:.1f} ms on average.")


if __name__ == "__main__":
    main()
