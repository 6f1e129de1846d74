"""RBM training data from Ising samples and the labels of the training Dataset (issue 19).

Mutation testing left unchecked: the dtype of the visible vectors made from the int8 Ising
samples of the study file, the full long_name of the memorisation bound and the units of
the epoch coordinate.
"""

import math

import numpy as np
import pytest
import torch

from statmech_nn import boltzmann
from statmech_nn.boltzmann import RBM

pytestmark = pytest.mark.usefixtures("one_thread")


def test_ising_visible_maps_int8_spins_to_float64_visible_vectors():
    """The Ising study stores int8 ±1 spins (S, L, L); the RBM works in float64: each row
    becomes the row-major {0, 1} vector, in float64, usable as is by the exact
    log-likelihood (closed form at W = 0: log p(v) = a·v − Σ_i softplus(a_i))."""
    spins = np.random.default_rng(3).choice([-1, 1], size=(5, 3, 3)).astype(np.int8)
    v = boltzmann.ising_visible(spins)
    assert v.dtype == torch.float64 and v.shape == (5, 9)
    for s in range(5):
        for r in range(3):
            for c in range(3):
                assert v[s, 3 * r + c] == (1.0 if spins[s, r, c] == 1 else 0.0)
    a = torch.linspace(-1.0, 1.5, 9, dtype=torch.float64)[None]
    rbm = RBM(a, torch.tensor([[0.3, -0.2]], dtype=torch.float64), torch.zeros(1, 9, 2).double())
    want = float((v @ a[0]).mean() - torch.nn.functional.softplus(a[0]).sum())
    assert float(boltzmann.log_likelihood(v, rbm)[0]) == pytest.approx(want, rel=1e-13)


@pytest.fixture(scope="module")
def run():
    data = boltzmann.bars_and_stripes(2)
    return boltzmann.train(
        data, "exact", hidden=2, replicas=2, epochs=3, batch_size=3, learning_rate=0.05,
        momentum=0.5, k=1, chains=2, init_std=0.01, seed=2,
    )  # fmt: skip


def test_memorisation_bound_is_labelled_in_full(run):
    """best_loglik is −H(data) = −ln 6 for the six 2×2 bars-and-stripes images, and its label
    says what the figures draw it as."""
    assert float(run.best_loglik) == pytest.approx(-math.log(6), rel=1e-12)
    assert run.best_loglik.attrs == {
        "long_name": "minus the entropy of the training sample, -H(data): the best training "
        "log-likelihood (for samples of a distribution: the memorisation bound)",
        "units": "nat",
    }


def test_epoch_and_replica_coordinates_are_labelled_counts(run):
    """epoch 0 is the model before training; both index coordinates are counts (units 1)."""
    np.testing.assert_array_equal(run.epoch.values, [0, 1, 2, 3])
    assert run.epoch.attrs == {"long_name": "epoch", "units": "1"}
    np.testing.assert_array_equal(run.replica.values, [0, 1])
    assert run.replica.attrs == {"long_name": "replica", "units": "1"}
    assert run.loglik.dims == ("replica", "epoch")
