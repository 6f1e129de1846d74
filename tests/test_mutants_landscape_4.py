"""Landscape and synthetic-saddle stages: promises a second mutation run found unexercised
(issue 19).

Exact labels of the saved variables; the training objective (with its L2 term) in the
curvature closures; near-filled normalisation groups zeroed; the MLP grid's fast path
(every activation, the one-layer model, several origins per chunk); ``ranges: auto``
along a flat direction; the synthetic saddle's spectrum, plane probability and trace
study against independent computations.
"""

import math
import warnings

import numpy as np
import pytest
import torch
from test_mutants_landscape import _data

from statmech_nn import landscape as ls
from statmech_nn.arch import Architecture
from statmech_nn.landscape.local import AUTO_RANGE_MIN, auto_ranges
from statmech_nn.landscape.synthetic import (
    make_saddle,
    negative_probability,
    plane_negative_probability,
    saddle_spectrum,
)
from statmech_nn.landscape.synthetic_study import saddle_study, saddles, trace_study
from statmech_nn.nets import MLP as Model
from statmech_nn.nets import build_network
from statmech_nn.train import mean_loss

pytestmark = pytest.mark.usefixtures("one_thread")
F64 = torch.float64


# --------------------------------------------------------------------------- curvature


def test_model_loss_is_the_training_objective_with_its_l2_term():
    """model_loss(..., weight_decay) is J = L + (wd/2)‖θ‖² at every replica (unequal norms)."""
    model = Model.build("mlp-d1-w4-tanh", 3, 2)
    x, y = _data()
    theta = torch.stack([s * model.init(s, F64) for s in (1, 2, 3)])
    wd = 0.03
    got = ls.model_loss(model, x, y, "cross_entropy", wd)(theta)
    data = mean_loss(model, theta, x, y, "cross_entropy")
    want = data + 0.5 * wd * (theta**2).sum(-1)
    torch.testing.assert_close(got, want, rtol=1e-14, atol=0)
    assert (got - data).std() > 1e-3  # the penalty differs between replicas
    torch.testing.assert_close(ls.model_loss(model, x, y, "cross_entropy")(theta), data)


def test_curvature_statistics_store_the_trace_under_its_own_labels():
    """With tr H given, ``trace``, ``trace_per_param`` and the standard error of the mean
    curvature carry their exact long names (the figures and notes read them) and values."""
    model = Model.build("mlp-d1-w4-tanh", 3, 2)
    x, y = _data(seed=6)
    theta = torch.stack([model.init(s, F64) for s in (2, 3)])
    gen = torch.Generator().manual_seed(1)
    vecs = torch.linalg.qr(torch.randn(model.n_params, 2, generator=gen, dtype=F64))[0].T
    trace = torch.tensor([1.5, -0.25], dtype=F64)
    ds = ls.curvature_statistics(
        model, theta, x, y, "cross_entropy", n_directions=6, fd_step=1e-3, seed=3,
        hessian_vectors=vecs.expand(2, 2, -1), trace=trace,
    )  # fmt: skip
    np.testing.assert_array_equal(ds["trace"].values, trace.numpy())
    assert ds["trace"].dims == ("replica",)
    assert ds["trace"].attrs == {"long_name": "Hessian trace tr H (Hessian stage)", "units": "nats"}
    np.testing.assert_allclose(ds.trace_per_param.values, trace.numpy() / model.n_params)
    assert ds.trace_per_param.attrs["long_name"] == "mean curvature tr H / P"
    sem = ds.curvature.values.std(-1, ddof=1) / math.sqrt(6)
    np.testing.assert_allclose(ds.sem_curvature.values, sem, rtol=1e-12)
    assert ds.sem_curvature.attrs == {
        "long_name": "standard error of the mean projected curvature",
        "units": "nats",
    }


# --------------------------------------------------------------------------- directions


def test_a_group_nearly_filled_by_against_is_zeroed_whatever_its_size():
    """A normalisation group where the new Gaussian direction lies in the span of
    ``against`` up to a relative 3e-11 (rounding, not a direction) is set to zero rather
    than rescaled to |θ_g|; a group 1e-6 away from the span is kept, normalised and
    orthogonal. The cut is relative to the drawn group's norm (here 30 entries)."""
    model = Model.build("mlp-d1-w10-tanh", 3, 2)
    theta = model.init(1, F64)[None]
    p, first = model.n_params, 30  # layer0.weight: the first 30 entries, one layer group
    seed = 7
    raw = torch.randn(1, 1, p, generator=torch.Generator().manual_seed(seed), dtype=F64)[0, 0]
    r = raw[:first]
    gen = torch.Generator().manual_seed(99)
    for eps, kept in ((3e-11, False), (1e-6, True)):
        against = torch.randn(p, generator=gen, dtype=F64)
        e = torch.randn(first, generator=gen, dtype=F64)
        e = e - (e @ r) / (r @ r) * r
        against[:first] = r + eps * e * (r.norm() / e.norm())
        d = ls.random_directions(
            model, theta, 1, "layer", "normalise", torch.Generator().manual_seed(seed),
            against[None, None],
        )[0, 0]  # fmt: skip
        group = d[:first]
        if kept:
            assert float(group.norm()) == pytest.approx(float(theta[0, :first].norm()))
            assert abs(float(group @ against[:first])) < 1e-6 * float(against[:first].norm())
        else:
            assert (group == 0).all(), float(group.norm())
        # the other groups are drawn as usual: normalised to θ's groups
        assert float(d[first:].norm()) > 0.1


# --------------------------------------------------------------------------- grids


def test_an_mlp_grid_takes_the_fast_path_by_default(monkeypatch):
    """An MLP's grid runs its fast path (batched matmuls, no per-point MLP.forward) unless
    ``fast=False``; both give the same losses."""
    model = Model.build("mlp-d2-w4-tanh", 3, 2)
    x, y = _data()
    theta = torch.stack([model.init(s, F64) for s in (1, 2)])
    d = ls.random_directions(model, theta, 1, "filter", "zero", torch.Generator().manual_seed(2))
    coords = torch.linspace(-1, 1, 5, dtype=F64)[:, None]
    forward, calls = Model.forward, []

    def counted(self, *args, **kw):
        calls.append(1)
        return forward(self, *args, **kw)

    monkeypatch.setattr(Model, "forward", counted)
    fast = ls.evaluate_grid(model, theta, d, coords, x, y, "cross_entropy")
    assert not calls, "the default grid of an MLP went through MLP.forward"
    generic = ls.evaluate_grid(model, theta, d, coords, x, y, "cross_entropy", fast=False)
    assert calls
    torch.testing.assert_close(fast.loss, generic.loss, rtol=1e-12, atol=1e-14)


def _parity(model, x, y, origins=3, k=2, budget_points=None):
    theta = torch.stack([model.init(s, F64) for s in range(1, origins + 1)])
    gen = torch.Generator().manual_seed(4)
    d = ls.random_directions(model, theta, k, "filter", "normalise", gen)
    grids = [torch.linspace(-1, 1, 4, dtype=F64), torch.linspace(-0.5, 1, 3, dtype=F64)][:k]
    coords = torch.cartesian_prod(*grids).reshape(-1, k)
    budget = 32.0
    if budget_points:
        budget = budget_points * ls.memory_per_point(model, len(y), 8) / 2**20
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no resized output buffers
        fast = ls.evaluate_grid(model, theta, d, coords, x, y, "cross_entropy", budget)
    generic = ls.evaluate_grid(model, theta, d, coords, x, y, "cross_entropy", budget, fast=False)
    torch.testing.assert_close(fast.loss, generic.loss, rtol=1e-12, atol=1e-14)
    torch.testing.assert_close(fast.accuracy, generic.accuracy, rtol=0, atol=0)
    point = theta[-1] + coords[-1] @ d[-1]
    torch.testing.assert_close(fast.loss[-1, -1], mean_loss(model, point, x, y, "cross_entropy"))


@pytest.mark.parametrize("budget_points", [None, 3])
def test_fast_grid_of_a_gelu_mlp_equals_the_generic_path(budget_points):
    """GELU has no in-place torch form: the fast path falls back to F.gelu and agrees."""
    x, y = _data(18, 4, 3, seed=2)
    _parity(Model.build("mlp-d2-w5-gelu", 4, 3), x, y, budget_points=budget_points)


@pytest.mark.parametrize("budget_points", [None, 3])
def test_fast_grid_of_the_perceptron_over_several_origins(budget_points):
    """The one-layer model's output comes straight from the first-layer products, written
    into the work buffer for all origins of a chunk (no resize warning) and equal to the
    generic path, whole or in chunks of a few points."""
    x, y = _data(18, 4, 3, seed=2)
    _parity(build_network("perceptron", (4,), 3), x, y, budget_points=budget_points)


def test_fast_grid_of_a_one_layer_mlp_with_a_bias_adds_the_bias():
    """A one-layer MLP with a bias (logistic regression, built from an Architecture): the
    fast path's X·Wᵀ + b equals the generic forward."""
    x, y = _data(18, 4, 3, seed=2)
    model = Model.build(Architecture("logistic", 0, 0, "identity", True), 4, 3)
    assert "layer0.bias" in model.shapes
    _parity(model, x, y, origins=2, k=1)


# --------------------------------------------------------------------------- ranges: auto


def _flat_line(normalisation="unit"):
    """A linear model on inputs whose last feature is always 0: H has the exact null vector
    e_last, given as the λmin eigenvector; two replicas of unequal norms."""
    x, _ = _data(30, 4, 2, seed=3)
    x[:, -1] = 0.0
    y = x[:, :3] @ torch.tensor([1.0, -2.0, 0.5], dtype=F64)
    net = build_network("perceptron", (4,), 1)
    params = torch.stack([net.init(1, F64), 3.0 * net.init(2, F64)])
    null = torch.zeros(4, dtype=F64)
    null[-1] = 1.0
    top = torch.tensor([1.0, 0.0, 0.0, 0.0], dtype=F64)
    vectors = torch.stack([top, null]).expand(2, 2, 4)
    data = {"x_train": x, "y_train": y, "x_test": x, "y_test": y}
    return ls.slice_dataset(
        net, params, data, "mse", ["hessian_min"], "auto", 5, normalisation,
        hessian_vectors=vectors, auto_rise=0.05,
    ), params  # fmt: skip


def test_auto_range_along_a_flat_direction_reaches_the_length_of_each_origin():
    """κ = 0 along a null direction: r is clipped to |θ₀|/|d| = |θ₀| (unit d) per replica,
    the grid a runs over [−1, 1] and a_coordinate over [−r, r]; the loss is constant."""
    ds, params = _flat_line()
    np.testing.assert_array_equal(ds.axis_curvature.values, 0.0)
    norms = params.norm(dim=-1).numpy()
    np.testing.assert_allclose(ds.direction_norm.values[:, 0], 1.0, rtol=1e-15)
    np.testing.assert_allclose(ds.axis_range.values[:, 0], norms, rtol=1e-15)
    np.testing.assert_allclose(ds.a.values, np.linspace(-1.0, 1.0, 5), rtol=0, atol=1e-15)
    np.testing.assert_allclose(ds.a_coordinate.values, norms[:, None] * np.linspace(-1, 1, 5))
    loss = ds.train_loss.values
    np.testing.assert_allclose(loss, loss[:, 2:3].repeat(5, 1), rtol=1e-14)


def test_auto_ranges_of_flat_axes_are_the_origin_lengths_per_replica():
    """auto_ranges at κ = 0 (and κ so large that r is below the floor) for two replicas
    with unequal |θ₀| and |d|: |θ₀|/|d|, and AUTO_RANGE_MIN."""
    kappa = torch.tensor([[0.0, 1e14], [0.0, 2.0]], dtype=F64)
    norms = torch.tensor([[2.0, 1.0], [0.5, 1.0]], dtype=F64)
    r = auto_ranges(kappa, norms, 0.05, torch.tensor([3.0, 4.0], dtype=F64))
    np.testing.assert_allclose(r.numpy(), [[1.5, AUTO_RANGE_MIN], [8.0, math.sqrt(0.05)]])


# --------------------------------------------------------------------------- slices


def test_a_random_line_is_the_direction_random_directions_draws_from_the_seed():
    """A random axis can be regenerated from θ₀ and the slice seed alone: it is
    random_directions(model, θ₀, 1, normalisation, bias, Generator(seed)), replica by row."""
    model = Model.build("mlp-d1-w4", 3, 2)
    x, y = _data()
    params = torch.stack([model.init(s, F64) for s in (1, 2, 3)])
    data = {"x_train": x, "y_train": y, "x_test": x, "y_test": y}
    ds = ls.slice_dataset(model, params, data, "cross_entropy", ["random"], [[-1, 1]], 3, seed=5)
    gen = torch.Generator().manual_seed(5)
    want = ls.random_directions(model, params, 1, "filter", "zero", gen)
    np.testing.assert_array_equal(ds.direction.values, want.numpy())


def test_with_weight_decay_the_test_loss_is_still_labelled_the_data_loss():
    """wd > 0: the train loss is the training objective J (so named), the test loss the
    mean data loss on the test set, labelled as such."""
    model = Model.build("mlp-d1-w4", 3, 2)
    x, y = _data()
    xt, yt = _data(seed=9)
    params = torch.stack([model.init(s, F64) for s in (1, 2)])
    data = {"x_train": x, "y_train": y, "x_test": xt, "y_test": yt}
    ds = ls.slice_dataset(model, params, data, "cross_entropy", ["random"], [[-1, 1]], 3,
                          weight_decay=0.01)  # fmt: skip
    assert ds.test_loss.attrs["long_name"] == "mean test loss (cross_entropy)"
    assert ds.train_loss.attrs["long_name"] == (
        "training objective (cross_entropy + 0.5*0.01*|theta|^2)"
    )
    want = mean_loss(model, params, xt, yt, "cross_entropy").numpy()
    np.testing.assert_allclose(ds.test_loss.values[:, 1], want, rtol=1e-12)


# --------------------------------------------------------------------------- synthetic saddle


def test_saddle_spectrum_is_evenly_spaced_in_float64():
    """Both ends of the spectrum are float64 linspaces (no float32 rounding of −3.4, …)."""
    lam = saddle_spectrum(9, 4, (-3.7, -0.3), (0.1, 1.3))
    assert lam.dtype == F64
    want = np.sort(np.r_[np.linspace(-3.7, -0.3, 4), np.linspace(0.1, 1.3, 5)])
    np.testing.assert_allclose(lam.numpy(), want, rtol=1e-15, atol=0)


def test_plane_probability_is_the_average_of_exact_conditional_probabilities():
    """Given u, vᵀH_u v is Σ μⱼ zⱼ² with μ the eigenvalues of H_u = Λ − (Λu)(Λu)ᵀ/a, so
    P(not PD | u) = 1 − P(Σ μ z² > 0), computed independently by eigh and Imhof; averaged
    over the same seeded u it matches the quadrature to 1e-9."""
    lam = np.concatenate([np.linspace(-3.0, -1.0, 5), np.linspace(0.1, 2.0, 45)])
    p, se = plane_negative_probability(lam, 12, seed=3)
    rng = np.random.default_rng(3)
    cond = []
    for _ in range(12):
        u = rng.standard_normal(lam.size)
        a = float(np.sum(lam * u * u))
        if a <= 0:
            cond.append(1.0)
            continue
        mu = np.linalg.eigvalsh(np.diag(lam) - np.outer(lam * u, lam * u) / a)
        cond.append(negative_probability(mu))
    assert 0 < p < 1
    assert p == pytest.approx(np.mean(cond), abs=1e-9)
    assert se == pytest.approx(np.std(cond, ddof=1) / math.sqrt(12), abs=1e-9)


SADDLE = dict(n_params=20, n_negative=4, negative=[-3.0, -1.0], positive=[0.1, 1.0], quartic=1.0)


def test_saddle_study_labels():
    """The saddle study's curvature and the fraction's binomial error carry their exact
    long names (M the number of directions)."""
    cfg = SADDLE | dict(directions=10, fd_step=1e-3, plane_range=1.0, resolution=3,
                        plane_theory_samples=4)  # fmt: skip
    ds = saddle_study(cfg, seed=0)
    assert ds.curvature.dims == ("variant", "trial")
    assert ds.curvature.attrs["long_name"] == "κ = δᵀHδ/|δ|² (HVP)"
    assert ds.fraction_negative_stderr.attrs["long_name"] == (
        "binomial standard error √(p(1−p)/M) of the fraction"
    )


def test_trace_study_costs_errors_and_labels():
    """Loss-value estimates cost 2m + 1 loss values and no HVP, Hutchinson's m HVPs and no
    loss value; the theoretical errors are √(2 tr H²/m) and √(2(‖H‖_F² − Σ H_ii²)/m) from
    the dense Hessian; the estimates are labelled."""
    probes = [1, 4, 9]
    ds = trace_study(SADDLE, dict(probes=probes, trials=2, fd_step=1e-3), seed=0)
    m = np.array(probes)
    lv, hu = {"estimator": "loss_values"}, {"estimator": "hutchinson"}
    np.testing.assert_array_equal(ds.loss_evaluations.sel(lv).values, 2 * m + 1)
    np.testing.assert_array_equal(ds.loss_evaluations.sel(hu).values, 0)
    np.testing.assert_array_equal(ds.hvps.sel(lv).values, 0)
    np.testing.assert_array_equal(ds.hvps.sel(hu).values, m)
    h = saddles(SADDLE, 0)["quadratic"].hessian().numpy()
    frob, diag2 = (h**2).sum(), (np.diag(h) ** 2).sum()
    np.testing.assert_allclose(ds.stderr_theory.sel(lv).values, np.sqrt(2 * frob / m), rtol=1e-12)
    np.testing.assert_allclose(
        ds.stderr_theory.sel(hu).values, np.sqrt(2 * (frob - diag2) / m), rtol=1e-10
    )
    assert ds.estimate.dims == ("variant", "estimator", "trace_trial", "probes")
    assert ds.estimate.attrs["long_name"] == "trace estimate from m probes"
    assert make_saddle(**SADDLE, seed=1).trace == pytest.approx(float(ds.trace))
