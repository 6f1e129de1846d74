"""Landscape slices: promises mutation testing found unexercised (issue 19).

A segment never runs from a replica to itself (two replicas: each other's
partner); the slope-vs-curvature test sits at exactly 0.1 (a ratio of 0.5 is
not critical); a slice without an explicit normalisation is filter-normalised.
"""

import warnings

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


def test_plane_curvatures_of_non_orthogonal_directions_are_those_of_the_plane():
    """Two Gaussian directions (not orthogonalised, unequal norms): the eigenvalues are those of
    H projected on an orthonormal basis Q of span(d1, d2), Qᵀ H Q, whatever basis spans it."""
    gen = torch.Generator().manual_seed(3)
    p = 30
    a = torch.randn(p, p, generator=gen, dtype=F64)
    h = (a + a.T) / 2
    d1 = torch.randn(4, p, generator=gen, dtype=F64)
    d2 = 0.5 * d1 + torch.randn(4, p, generator=gen, dtype=F64)  # correlated: cosine ≈ 0.45
    assert (torch.nn.functional.cosine_similarity(d1, d2).abs() > 0.1).all()
    got = ls.plane_curvatures(d1, d2, d1 @ h, d2 @ h)
    for i in range(4):
        q = torch.linalg.qr(torch.stack([d1[i], d2[i]], 1))[0]
        want = torch.linalg.eigvalsh(q.T @ h @ q)
        torch.testing.assert_close(got[i], want, rtol=1e-12, atol=1e-12)


@pytest.fixture(scope="module")
def curvature_stats():
    """curvature_statistics at two untrained replicas of a small tanh MLP (saddle regions),
    with the dense Hessian's trace given an invented standard error of ~ P·sem_κ."""
    model = Model.build("mlp-d1-w5-tanh", 3, 3)
    x, y = _data(24, 3, 3, seed=8)
    theta = torch.stack([model.init(s, F64) for s in (9, 10)])
    fn = ls.model_loss(model, x, y, "cross_entropy")
    spectra = [torch.linalg.eigh(torch.func.hessian(fn)(t)) for t in theta]
    vecs = torch.stack([torch.stack([v[:, -1], v[:, 0]]) for _, v in spectra])
    trace = torch.stack([e.sum() for e, _ in spectra])
    ds = ls.curvature_statistics(
        model, theta, x, y, "cross_entropy", n_directions=24, fd_step=1e-4, seed=2,
        hessian_vectors=vecs, trace=trace, trace_stderr=torch.tensor([0.05, 0.2], dtype=F64),
    )  # fmt: skip
    return model, ds


def test_fraction_of_negative_planes_is_that_of_the_stored_plane_curvatures(curvature_stats):
    _, ds = curvature_stats
    smaller = ds.plane_curvature.sel(eigen2d="min")
    want = (smaller < 0).mean("plane")
    np.testing.assert_array_equal(ds.fraction_planes_negative.values, want.values)
    assert ((want > 0) & (want < 1)).all()  # saddle regions: some planes curve down, some not


def test_z_score_spread_combines_both_standard_errors(curvature_stats):
    """z = (mean κ − tr H/P) / √(sem_κ² + (se_tr/P)²), from the stored variables."""
    model, ds = curvature_stats
    np.testing.assert_allclose(
        ds.trace_per_param_stderr.values, ds.trace_stderr.values / model.n_params, rtol=1e-15
    )
    spread = np.hypot(ds.sem_curvature.values, ds.trace_per_param_stderr.values)
    want = (ds.mean_curvature.values - ds.trace_per_param.values) / spread
    np.testing.assert_allclose(ds.z_mean_curvature.values, want, rtol=1e-12)
    # both errors matter here: dropping either changes z by more than 10 %
    ratio = ds.trace_per_param_stderr.values / ds.sem_curvature.values
    assert ((ratio > 0.3) & (ratio < 3)).any(), ratio


def test_curvature_statistics_labels_every_variable(curvature_stats):
    _, ds = curvature_stats
    assert set(ds.data_vars) == {
        "quadratic_form", "curvature", "curvature_fd", "plane_curvature", "hessian_curvature",
        "hessian_curvature_fd", "hessian_plane_curvature", "mean_quadratic_form",
        "std_quadratic_form", "sem_quadratic_form", "mean_curvature", "std_curvature",
        "sem_curvature", "fraction_negative", "fraction_planes_negative", "lambda_max",
        "lambda_min", "trace", "trace_stderr", "trace_per_param", "trace_per_param_stderr",
        "z_mean_curvature",
    }  # fmt: skip
    for name, var in ds.data_vars.items():
        assert isinstance(var.attrs.get("long_name"), str) and var.attrs["long_name"], name
        assert isinstance(var.attrs.get("units"), str) and var.attrs["units"], name
        want = "1" if name.startswith(("fraction", "z_")) else "nats"
        assert var.attrs["units"] == want, name
    for dim, size in ds.sizes.items():  # every dimension indexed by a coordinate
        assert dim in ds.coords and ds[dim].size == size, dim
    assert ds.which.values.tolist() == ["max", "min"]
    assert ds.eigen2d.values.tolist() == ["min", "max"]


@pytest.mark.parametrize("arch", ["mlp-d3-w5-tanh", "mlp-d4-w6-relu"])
def test_fast_grid_of_a_deep_mlp_equals_the_generic_path_in_chunks(arch):
    """Hidden layers alternate between two work buffers; three and four hidden layers reuse
    each several times. A budget of a few points forces chunks over origins and points; the
    fast path must not resize its output buffers (a warning, and results outside them)."""
    model = Model.build(arch, 4, 3)
    x, y = _data(18, 4, 3, seed=2)
    theta = torch.stack([model.init(s, F64) for s in (1, 2, 3)])
    gen = torch.Generator().manual_seed(4)
    d = ls.random_directions(model, theta, 2, "filter", "normalise", gen)
    a, b = torch.linspace(-1, 1, 4, dtype=F64), torch.linspace(-0.5, 1, 3, dtype=F64)
    coords = torch.cartesian_prod(a, b)
    budget = 3 * ls.memory_per_point(model, 18, 8) / 2**20
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fast = ls.evaluate_grid(model, theta, d, coords, x, y, "cross_entropy", budget)
    generic = ls.evaluate_grid(model, theta, d, coords, x, y, "cross_entropy", budget, fast=False)
    torch.testing.assert_close(fast.loss, generic.loss, rtol=1e-12, atol=1e-14)
    torch.testing.assert_close(fast.accuracy, generic.accuracy, rtol=0, atol=0)
    point = theta[2] + coords[7] @ d[2]
    torch.testing.assert_close(fast.loss[2, 7], mean_loss(model, point, x, y, "cross_entropy"))


def _slice(axes, seed, ranges=None, resolution=3):
    model = Model.build("mlp-d1-w4", 3, 2)
    x, y = _data()
    params = torch.stack([model.init(s, F64) for s in (1, 2)])
    data = {"x_train": x, "y_train": y, "x_test": x, "y_test": y}
    ranges = ranges or [[-1, 1]] * len(axes)
    return ls.slice_dataset(model, params, data, "cross_entropy", axes, ranges, resolution,
                            seed=seed)  # fmt: skip


def test_slice_seeds_give_their_own_random_directions():
    one, three, again = _slice(["random"], 1), _slice(["random"], 3), _slice(["random"], 1)
    np.testing.assert_array_equal(one.direction.values, again.direction.values)
    assert not np.allclose(one.direction.values, three.direction.values)
    big = _slice(["random"], 2**63 + 1)  # seeds are taken modulo 2**63
    np.testing.assert_array_equal(big.direction.values, one.direction.values)


def test_slice_coordinates_are_its_grids_and_axis_kinds():
    ds = _slice(["random", "random"], 0, ranges=[[-1.0, 2.0], [-0.5, 0.5]], resolution=4)
    assert ds.axis_kind.dims == ("axis",)
    assert ds.axis_kind.values.tolist() == ["random", "random"]
    assert ds.axis.values.tolist() == ["a", "b"]
    np.testing.assert_allclose(ds.a.values, np.linspace(-1.0, 2.0, 4), rtol=1e-15)
    np.testing.assert_allclose(ds.b.values, np.linspace(-0.5, 0.5, 4), rtol=1e-15)
    assert ds.a.attrs["long_name"] == "coordinate along direction a"
    np.testing.assert_array_equal(ds.replica.values, [0, 1])
    seg = _slice(["segment"], 0, ranges=[[0, 1]])
    assert seg.axis_kind.values.tolist() == ["segment"] and seg.a.values.tolist() == [0, 0.5, 1]
