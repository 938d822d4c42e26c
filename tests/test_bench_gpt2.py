"""The n-gram baseline of bench/bench_gpt2.py is a proper distribution and learns what it saw."""
import numpy as np
import pytest

from bench.bench_gpt2 import KneserNey


@pytest.mark.parametrize("order", [1, 2, 3, 4])
def test_kneser_ney_sums_to_one(order):
    rng = np.random.default_rng(0)
    V = 12
    train = np.concatenate([rng.integers(0, V, 300), np.tile([1, 2, 3, 4], 50)])
    lm = KneserNey(train, order, V)
    for context in ([1, 2, 3], [5, 5, 5], [11, 0, 7], [3]):
        probs = [np.exp(lm.log_probs(np.array(context + [w]))[-1]) for w in range(V)]
        assert sum(probs) == pytest.approx(1.0, abs=1e-9)
        assert min(probs) > 0


def test_kneser_ney_prefers_what_it_saw():
    train = np.tile([1, 2, 3, 4], 100)
    lm = KneserNey(train, 3, 8)
    lp = lm.log_probs(np.array([1, 2, 3, 4, 1, 2]))
    assert np.exp(lp[1:]).min() > 0.9                       # with two tokens of context, the cycle is certain
    assert np.exp(lm.log_probs(np.array([1, 2, 7]))[-1]) < 0.05
