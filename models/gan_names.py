"""The names of the GAN comparison's losses and datasets: one home for the GAN tabs, the training commands and the
benchmarks. Apart from models/gan_qp.py so that the tab can list the shipped checkpoints at start-up without
importing torch (2.5 s of the app's cold start on a 2-core CPU)."""

LOSSES = ("qp-l1", "qp-l2", "wgan-gp", "sgan", "sgan-sn")
LOSS_NAMES = {"qp-l1": "GAN-QP L1", "qp-l2": "GAN-QP L2", "wgan-gp": "WGAN-GP", "sgan": "SGAN",
              "sgan-sn": "SGAN-SN"}
DATASET_NAMES = {"fashion": "Fashion-MNIST", "mnist": "MNIST"}  # the 32×32 grey datasets the GANs are trained on
