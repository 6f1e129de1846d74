"""Landscape slices: promises mutation testing found unexercised (issue 19).

A segment never runs from a replica to itself (two replicas: each other's
partner); the slope-vs-curvature test sits at exactly 0.1 (a ratio of 0.5 is
not critical); a slice without an explicit normalisation is filter-normalised.
"""

import numpy as np
import pytest
import torch

from statmech_nn import landscape as ls
from statmech_nn.landscape.study import critical_point_terms
from statmech_nn.nets import MLP as Model
from statmech_nn.train import mean_loss

pytestmark = pytest.mark.usefixtures("one_thread")
F64 = torch.float64


def _data(n=20, dim=3, classes=2, seed=5):
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(n, dim, generator=gen, dtype=F64)
    return x, torch.randint(0, classes, (n,), generator=gen)


def test_segment_of_two_replicas_runs_from_each_to_the_other():
    model = Model.build("mlp-d1-w4", 3, 2)
    x, y = _data()
    params = torch.stack([model.init(s, F64) for s in (1, 2)])
    data = {"x_train": x, "y_train": y, "x_test": x, "y_test": y}
    ds = ls.slice_dataset(model, params, data, "cross_entropy", ["segment"], [[0, 1]], 3)
    assert ds.partner.values.tolist() == [1, 0]
    want = mean_loss(model, params, x, y, "cross_entropy").numpy()
    np.testing.assert_allclose(ds.train_loss.values[:, -1], want[::-1], rtol=1e-12)


def test_critical_flag_is_the_linear_term_against_a_tenth_of_the_curvature_term():
    """|gᵀd|·r ≤ 0.1·½|κ||d|²r²: κ chosen so that the ratio is 0.05 (critical), 0.5 and 2 (not)."""
    model = Model.build("mlp-d1-w5-tanh", 3, 2)
    x, y = _data()
    origin = torch.stack([model.init(s, F64) for s in (3, 4)])
    gen = torch.Generator().manual_seed(9)
    d = torch.randn(2, 2, model.n_params, generator=gen, dtype=F64) * 0.3
    ranges = [[-1.0, 2.3], [-0.7, 0.5]]  # reaches not exact in float32
    reach = np.array([2.3, 0.7])
    g = torch.stack([torch.func.grad(lambda t: mean_loss(model, t, x, y, "cross_entropy"))(o)
                     for o in origin])  # fmt: skip
    linear = (torch.einsum("rkp,rp->rk", d, g).abs() * torch.as_tensor(reach)).numpy()
    base = 0.5 * (d.norm(dim=-1).numpy() ** 2) * reach**2  # curvature term per unit |κ|
    for ratio, critical in [(0.05, True), (0.5, False), (2.0, False)]:
        kappa = -linear / (ratio * base)  # the sign of κ does not matter
        terms = critical_point_terms(model, origin, d, x, y, "cross_entropy", ranges, kappa)
        np.testing.assert_allclose(terms["linear_term"].values, linear, rtol=1e-12)
        np.testing.assert_allclose(terms["curvature_term"].values, linear / ratio, rtol=1e-12)
        np.testing.assert_allclose(terms["grad_norm"].values, g.norm(dim=-1).numpy(), rtol=1e-12)
        assert (terms["critical"].values == critical).all(), ratio


def test_default_normalisation_is_filter():
    model = Model.build("mlp-d2-w4", 3, 2)
    x, y = _data()
    params = torch.stack([model.init(s, F64) for s in (1, 2)])
    data = {"x_train": x, "y_train": y, "x_test": x, "y_test": y}
    args = (model, params, data, "cross_entropy", ["random"], [[-1, 1]], 3)
    default = ls.slice_dataset(*args, seed=4)
    explicit = ls.slice_dataset(*args, normalisation="filter", seed=4)
    np.testing.assert_array_equal(default.train_loss.values, explicit.train_loss.values)
    other = ls.slice_dataset(*args, normalisation="global", seed=4)
    assert not np.allclose(other.train_loss.values, default.train_loss.values)


def test_replicas_share_one_set_of_directions_and_the_generic_path_agrees():
    """θ₀ (R, P) with directions (k, P) shared by all replicas broadcast to (R, n_points), each
    row the replica's own grid; the generic path (fast=False) gives the same numbers."""
    model = Model.build("mlp-d2-w4-tanh", 3, 2)
    x, y = _data()
    theta = torch.stack([model.init(s, F64) for s in (1, 2, 3)])
    d = torch.randn(2, model.n_params, generator=torch.Generator().manual_seed(2), dtype=F64)
    coords = torch.cartesian_prod(
        torch.linspace(-1, 1, 3, dtype=F64), torch.tensor([0.0, 0.5], dtype=F64)
    )
    shared = ls.evaluate_grid(model, theta, d, coords, x, y, "cross_entropy", memory_budget_mb=1e-3)
    generic = ls.evaluate_grid(model, theta, d, coords, x, y, "cross_entropy", fast=False,
                               memory_budget_mb=1e-3)  # fmt: skip
    assert shared.loss.shape == (3, 6)
    for r in range(3):
        alone = ls.evaluate_grid(model, theta[r], d, coords, x, y, "cross_entropy")
        torch.testing.assert_close(shared.loss[r], alone.loss, rtol=1e-12, atol=0)
        torch.testing.assert_close(shared.accuracy[r], alone.accuracy, rtol=0, atol=1e-14)
        point = theta[r] + coords[4] @ d
        want = mean_loss(model, point, x, y, "cross_entropy")
        torch.testing.assert_close(shared.loss[r, 4], want, rtol=1e-12, atol=0)
    torch.testing.assert_close(generic.loss, shared.loss, rtol=1e-12, atol=0)
    torch.testing.assert_close(generic.accuracy, shared.accuracy, rtol=0, atol=0)


def test_plane_slice_labels_the_cosine_between_its_directions():
    model = Model.build("mlp-d1-w4", 3, 2)
    x, y = _data()
    params = torch.stack([model.init(s, F64) for s in (1, 2)])
    data = {"x_train": x, "y_train": y, "x_test": x, "y_test": y}
    ds = ls.slice_dataset(model, params, data, "cross_entropy", ["random", "random"],
                          [[-1, 1], [-1, 1]], 3)  # fmt: skip
    assert ds.axes_cosine.dims == ("replica",)
    assert ds.axes_cosine.attrs["long_name"] == "cosine between the two directions"
    assert (abs(ds.axes_cosine.values) < 0.3).all()  # random directions: nearly orthogonal


def test_slice_variables_carry_long_names_and_loss_units():
    model = Model.build("mlp-d1-w4", 3, 2)
    x, y = _data()
    params = torch.stack([model.init(s, F64) for s in (1, 2)])
    data = {"x_train": x, "y_train": y, "x_test": x, "y_test": y}
    ds = ls.slice_dataset(model, params, data, "cross_entropy", ["random"], [[-1, 1]], 3)
    for name, var in ds.data_vars.items():
        assert isinstance(var.attrs.get("long_name"), str) and var.attrs["long_name"], name
        assert "units" in var.attrs, name
    assert ds.train_loss.attrs["units"] == ds.test_loss.attrs["units"] == "nats"
    assert "curvature" in ds.centre_curvature.attrs["long_name"]
    np.testing.assert_array_equal(ds.origin.values, params.numpy())
    assert ds.origin.dims == ("replica", "param")


def test_curvature_statistics_of_a_float32_replica_run_in_float64():
    """The default study trains in float32: the analysis converts θ to float64 itself."""
    model = Model.build("mlp-d1-w4-tanh", 3, 2)
    x, y = _data(seed=6)
    theta = model.init(2, F64)
    gen = torch.Generator().manual_seed(1)
    vecs = torch.linalg.qr(torch.randn(model.n_params, 2, generator=gen, dtype=F64))[0].T
    args = (x, y, "cross_entropy")
    kw = {"n_directions": 8, "fd_step": 1e-3, "seed": 3, "hessian_vectors": vecs[None]}
    single = ls.curvature_statistics(model, theta.float()[None], *args, **kw)
    double = ls.curvature_statistics(model, theta.float().double()[None], *args, **kw)
    assert single.curvature.dtype == np.float64
    assert single.mean_curvature.attrs["long_name"] == "mean projected curvature over random δ"
    np.testing.assert_allclose(single.curvature.values, double.curvature.values, rtol=1e-12)
