"""Tab adapters, in the order the app shows them (the posts' order). The contract: demos/adapter.py.

A tab is listed here only when its model really works (trained weights shipped, tests green).
"""
from demos import couplet, dgcnn, gan_qp, gpt2, lexicon, o_gan, sentiment, spectrum

TABS = [sentiment, spectrum, dgcnn, gpt2, lexicon, couplet, gan_qp, o_gan]
