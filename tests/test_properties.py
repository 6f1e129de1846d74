"""Property-based tests (Hypothesis): invariances that hold for every network and every draw.

Architectures, seeds, permutations and scales are drawn by Hypothesis; runs are
derandomised (the same examples on every run, so CI is reproducible) and small
(tiny float64 MLPs, a few dozen examples each).
"""

import numpy as np
import pytest
import torch
from hypothesis import example, given, settings
from hypothesis import strategies as st

from statmech_nn import overlap as ov
from statmech_nn.nets.mlp import ACTIVATIONS
from statmech_nn.nets.mlp import MLP as Model

pytestmark = pytest.mark.usefixtures("one_thread")
F64 = torch.float64
FAST = settings(max_examples=25, deadline=None, derandomize=True, database=None)


@st.composite
def networks(draw, min_depth: int = 1):
    """A tiny MLP, one parameter vector θ from a seed, and one permutation per hidden layer."""
    depth = draw(st.integers(min_depth, 3))
    width = draw(st.integers(2, 5))
    activation = draw(st.sampled_from(sorted(ACTIVATIONS)))
    model = Model.build(f"mlp-d{depth}-w{width}-{activation}", 3, 2)
    perm = [np.array(draw(st.permutations(range(width)))) for _ in range(depth)]
    return model, model.init(draw(st.integers(0, 2**31 - 1)), F64), perm


def _inputs(seed: int = 0) -> torch.Tensor:
    return torch.randn(16, 3, generator=torch.Generator().manual_seed(seed), dtype=F64)


@FAST
@given(networks())
def test_permuting_hidden_units_leaves_the_function_unchanged(net):
    model, theta, perm = net
    permuted = ov.permute(model, theta, perm)
    x = _inputs()
    torch.testing.assert_close(
        model.forward(permuted, x), model.forward(theta, x), atol=1e-12, rtol=0
    )
    # the same permutation as one gather, and undone by the inverse permutation
    torch.testing.assert_close(theta[ov.permutation_index(model, perm)], permuted, atol=0, rtol=0)
    back = ov.permute(model, permuted, [np.argsort(p) for p in perm])
    torch.testing.assert_close(back, theta, atol=0, rtol=0)


@FAST
@given(networks(), st.integers(0, 2**31 - 1))
def test_a_common_permutation_leaves_raw_and_aligned_overlaps_unchanged(net, seed_b):
    """Relabelling the hidden units of both replicas alike changes neither their overlap nor
    the overlap after weight matching (the matching is equivariant: it finds π·σ·π⁻¹)."""
    model, a, perm = net
    b = model.init(seed_b, F64)

    def overlaps(u, v):
        aligned = ov.permute(model, v, ov.weight_matching(model, u, v)[0])
        return ov.pair_overlaps(model, u, v), ov.pair_overlaps(model, u, aligned)

    pa, pb = ov.permute(model, a, perm), ov.permute(model, b, perm)
    for before, after in zip(overlaps(a, b), overlaps(pa, pb), strict=True):
        torch.testing.assert_close(after[0], before[0], atol=1e-12, rtol=0)
        torch.testing.assert_close(after[1], before[1], atol=1e-12, rtol=0)


@FAST
@given(
    networks(),
    st.integers(0, 2**31 - 1),
    st.floats(0.05, 20.0),
    st.floats(0.05, 20.0),
)
def test_overlaps_are_cosines_independent_of_the_norms(net, seed_b, scale_a, scale_b):
    """q(c·θa, c'·θb) = q(θa, θb) for c, c' > 0, total and per layer, and |q| ≤ 1."""
    model, a, _ = net
    b = model.init(seed_b, F64)
    q, per_layer = ov.pair_overlaps(model, a, b)
    q_scaled, per_layer_scaled = ov.pair_overlaps(model, scale_a * a, scale_b * b)
    torch.testing.assert_close(q_scaled, q, atol=1e-12, rtol=0)
    torch.testing.assert_close(per_layer_scaled, per_layer, atol=1e-12, rtol=0)
    assert (per_layer.abs() <= 1 + 1e-12).all() and abs(float(q)) <= 1 + 1e-12
    matrix = ov.overlap_matrix(torch.stack([a, scale_a * a, scale_b * b]))
    torch.testing.assert_close(matrix[0, 1], torch.tensor(1.0, dtype=F64), atol=1e-12, rtol=0)
    torch.testing.assert_close(matrix[1, 2], q, atol=1e-12, rtol=0)


_D3W2 = Model.build("mlp-d3-w2-gelu", 3, 2)


@FAST
@given(networks(), st.floats(0.1, 10.0))
@example((_D3W2, _D3W2.init(3, F64), [np.arange(2), np.arange(2), np.array([1, 0])]), 1.0)
def test_a_permuted_rescaled_copy_aligns_to_overlap_one(net, scale):
    """b = c·π(a): weight matching undoes π, so the aligned overlap is 1 in every layer."""
    model, a, perm = net
    b = scale * ov.permute(model, a, perm)
    aligned = ov.permute(model, b, ov.weight_matching(model, a, b)[0])
    q, per_layer = ov.pair_overlaps(model, a, aligned)
    assert abs(float(q) - 1) < 1e-10
    torch.testing.assert_close(per_layer, torch.ones_like(per_layer), atol=1e-10, rtol=0)
