"""Weight matching reaches the exhaustive optimum where plain coordinate ascent does not.

Coordinate ascent from the identity, groups in order (the matching before
issue 19), stops in a local optimum for these independently initialised pairs
of tiny networks with two and three hidden layers (found by comparing with the
exhaustive search over all permutations of every hidden layer). The matching
(identity and greedy starts, groups in order and in shuffled orders, best
objective kept) must reach the exhaustive optimum exactly.
"""

import itertools

import numpy as np
import pytest
import torch

from statmech_nn import alignment as al
from statmech_nn import overlap as ov
from statmech_nn.nets import MLP as Model

pytestmark = pytest.mark.usefixtures("one_thread")
F64 = torch.float64
# init-seed pairs (2s, 2s + 1) where ascent from the identity misses the optimum
STUCK = {"mlp-d2-w4-tanh": [2, 5, 6, 8, 13], "mlp-d3-w3-tanh": [2, 4, 14, 23, 24]}


def _exhaustive(model, a, b):
    """max over every permutation of every hidden layer of ⟨θa, π(θb)⟩, and its argmax."""
    width, depth = model.arch.width, model.arch.depth
    perms = list(itertools.product(itertools.permutations(range(width)), repeat=depth))
    index = torch.stack([ov.permutation_index(model, [np.array(p) for p in ps]) for ps in perms])
    values = (a * b[index]).sum(-1)
    return float(values.max()), perms[int(values.argmax())]


def _ascent_from_identity(model, a, b):
    """The old matching: one ascent from the identity, groups in order (for the contrast)."""
    pa, pb = al._numpy_layers(model, a), al._numpy_layers(model, b)
    perm, _ = al._ascend(model, pa, pb, ov.identity_permutation(model), None, 100)
    return float(ov.matching_objective(a, ov.permute(model, b, perm)))


@pytest.mark.parametrize("arch", sorted(STUCK))
def test_matching_reaches_the_exhaustive_optimum_where_ascent_gets_stuck(arch):
    model = Model.build(arch, 3, 2)
    for s in STUCK[arch]:
        a, b = model.init(2 * s, F64), model.init(2 * s + 1, F64)
        best, argbest = _exhaustive(model, a, b)
        assert _ascent_from_identity(model, a, b) < best - 1e-9, s  # the trap is real
        perm, sweeps = ov.weight_matching(model, a, b)
        got = float(ov.matching_objective(a, ov.permute(model, b, perm)))
        assert got == pytest.approx(best, rel=1e-13, abs=1e-13), s
        assert all(np.array_equal(p, q) for p, q in zip(perm.values(), argbest, strict=True))
        assert 1 <= sweeps < 100
        # and the aligned pair has the same function as b
        x = torch.randn(8, 3, generator=torch.Generator().manual_seed(s), dtype=F64)
        torch.testing.assert_close(
            model.forward(ov.permute(model, b, perm), x), model.forward(b, x), atol=1e-12, rtol=0
        )


def test_greedy_start_recovers_a_permuted_copy_layer_by_layer():
    """b = 2.5·π(a): the greedy start alone (each layer matched on the layers below it) is π⁻¹."""
    model = Model.build("mlp-d3-w5-relu", 4, 3)
    a = model.init(7, F64)
    gen = np.random.default_rng(3)
    planted = [gen.permutation(5) for _ in range(3)]
    b = 2.5 * ov.permute(model, a, planted)
    start = al._greedy_start(model, al._numpy_layers(model, a), al._numpy_layers(model, b))
    for found, p in zip(start.values(), planted, strict=True):
        np.testing.assert_array_equal(found, np.argsort(p))


def test_overlap_dataset_labels_its_pairs_layers_and_thresholds():
    model = Model.build("mlp-d2-w3-tanh", 3, 2)
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(12, 3, generator=gen, dtype=F64)
    y = torch.randint(0, 2, (12,), generator=gen)
    theta = torch.stack([model.init(s, F64) for s in (1, 2, 3)])
    ds = ov.overlap_dataset(model, theta, x, y, "cross_entropy", np.array([4, 5, 6]), 3, 0.05, 8.0)
    np.testing.assert_array_equal(ds["threshold"].values, ov.BASIN_THRESHOLDS)
    assert ds["threshold"].attrs == {"long_name": "barrier threshold", "units": "nats"}
    np.testing.assert_array_equal(ds["pair_b"].values, [5, 6, 6])
    assert ds["pair_b"].attrs == {"long_name": "replica b of pair", "units": "1"}
    assert ds["q_layer"].attrs["long_name"] == "overlap of one layer's weights and biases"
    assert ds["sweeps"].attrs["units"] == "1"
