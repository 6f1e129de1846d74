"""The synthetic saddle and the trace estimators against exact answers (float64)."""

import math

import numpy as np
import pytest
import torch

from statmech_nn.hessian.operators import dense_hessian
from statmech_nn.hessian.traces import hutchinson_trace, loss_value_trace, running_estimates
from statmech_nn.landscape.synthetic import (
    binomial_stderr,
    make_saddle,
    negative_probability,
    plane_losses,
    plane_negative_probability,
    random_basis,
    saddle_spectrum,
)
from statmech_nn.landscape.synthetic_study import saddle_study, trace_study

SMALL = dict(n_params=60, n_negative=6, negative=[-4.0, -1.0], positive=[0.05, 1.0])


@pytest.mark.parametrize("quartic", [0.0, 2.0], ids=["quadratic", "quartic"])
def test_hessian_at_the_centre_has_the_configured_spectrum(quartic):
    s = make_saddle(**SMALL, quartic=quartic, seed=3)
    h = dense_hessian(s.loss, s.centre)
    torch.testing.assert_close(h, s.hessian(), rtol=0, atol=1e-12)
    eig = torch.linalg.eigvalsh(h)
    torch.testing.assert_close(
        eig, saddle_spectrum(60, 6, (-4.0, -1.0), (0.05, 1.0)), atol=1e-12, rtol=0
    )
    assert int((eig < 0).sum()) == 6 and s.trace == pytest.approx(float(eig.sum()), abs=1e-12)
    v = torch.randn(3, 60, dtype=torch.float64)
    torch.testing.assert_close(s.matmat(v), v @ h, rtol=0, atol=1e-12)
    assert float(s.eigenvector("min") @ h @ s.eigenvector("min")) == pytest.approx(-4.0)
    assert float(s.eigenvector("max") @ h @ s.eigenvector("max")) == pytest.approx(1.0)


def test_quartic_variant_departs_from_the_quadratic_away_from_the_centre():
    q = make_saddle(**SMALL, quartic=0.0, seed=3)
    w = make_saddle(**SMALL, quartic=2.0, seed=3)
    u = q.eigenvector("min")
    for t in (0.5, 1.0, 2.0):  # along an eigenvector x = t e_0: ½λt² + γt⁴/4
        assert float(q.loss(t * u)) == pytest.approx(0.5 * -4.0 * t**2)
        assert float(w.loss(t * u)) == pytest.approx(0.5 * -4.0 * t**2 + 0.5 * t**4)


def test_random_basis_is_orthogonal():
    q = random_basis(40, 1)
    torch.testing.assert_close(q.T @ q, torch.eye(40, dtype=torch.float64), atol=1e-12, rtol=0)


@pytest.mark.parametrize("a", [0.3, 1.0, 4.0])
def test_imhof_two_eigenvalues_closed_form(a):
    # P(z1² < a z2²) = P(|z1/z2| < √a) = (2/π) arctan √a (Cauchy ratio)
    assert negative_probability([1.0, -a]) == pytest.approx(
        2 / math.pi * math.atan(math.sqrt(a)), abs=1e-9
    )


def test_imhof_definite_spectra():
    assert negative_probability([1.0, 2.0, 3.0]) == pytest.approx(0.0, abs=1e-9)
    assert negative_probability([-1.0, -0.5]) == pytest.approx(1.0, abs=1e-9)
    # chi-square with 3 degrees of freedom: P(χ²₃ < 3) = 0.608375...
    assert negative_probability([1.0, 1.0, 1.0], x=3.0) == pytest.approx(
        0.6083748237289110, abs=1e-8
    )


def test_imhof_against_an_independent_monte_carlo():
    lam = saddle_spectrum(200, 20, (-6.0, -1.0), (0.01, 1.0))
    p = negative_probability(lam)
    rng = np.random.default_rng(12345)  # independent of every torch stream used elsewhere
    m = 200_000
    hits = sum(
        int((((rng.standard_normal((20_000, 200)) ** 2) @ lam.numpy()) < 0).sum())
        for _ in range(m // 20_000)
    )
    assert 0.05 < p < 0.95
    assert hits / m == pytest.approx(p, abs=4 * binomial_stderr(p, m))
    assert abs(p * 1.05 - hits / m) > 4 * binomial_stderr(p, m)  # a 5 % error would be seen


def test_plane_losses_are_the_loss_on_the_grid():
    s = make_saddle(**SMALL, quartic=1.0, seed=0)
    d1, d2 = s.eigenvector("max"), s.eigenvector("min")
    a = torch.linspace(-1, 1, 5, dtype=torch.float64)
    grid = plane_losses(s.loss, s.centre, d1, d2, a, a)
    expect = 0.5 * (1.0 * a[:, None] ** 2 - 4.0 * a[None, :] ** 2) + 0.25 * (
        a[:, None] ** 4 + a[None, :] ** 4
    )
    torch.testing.assert_close(grid, expect, atol=1e-12, rtol=0)


def _positive():
    return make_saddle(300, 0, (0.0, 0.0), (0.1, 1.0), seed=2)


def test_loss_value_trace_matches_the_exact_trace():
    s = _positive()  # tr H = 165; per-probe sd √(2 tr H²) ≈ 15.2, so 400 probes: 0.76 (0.5 %)
    est = loss_value_trace(s.loss, s.centre, 400, 1e-3, seed=7)
    assert float(est.mean) == pytest.approx(s.trace, rel=0.02)
    assert abs(float(est.mean) - s.trace) < 4 * float(est.stderr)
    sd = math.sqrt(2 * float((s.eigenvalues**2).sum()))
    assert float(est.samples.std()) == pytest.approx(sd, rel=0.15)


def test_loss_value_samples_are_exact_quadratic_forms():
    s = make_saddle(**SMALL, seed=1)
    est = loss_value_trace(s.loss, s.centre, 8, 1e-2, seed=5)
    delta = torch.randn((8, 60), generator=torch.Generator().manual_seed(5), dtype=torch.float64)
    torch.testing.assert_close(
        est.samples, ((delta @ s.hessian()) * delta).sum(-1), rtol=1e-8, atol=1e-8
    )


def test_hutchinson_matches_the_exact_trace():
    s = _positive()
    est = hutchinson_trace(s.matmat, (300,), 400, seed=7)
    assert float(est.mean) == pytest.approx(s.trace, rel=0.02)
    assert abs(float(est.mean) - s.trace) < 4 * float(est.stderr)


def test_running_estimates_are_prefix_means():
    samples = torch.tensor([[1.0, 3.0, 5.0, 7.0]])
    out = running_estimates(samples, torch.tensor([1, 2, 4]))
    torch.testing.assert_close(out, torch.tensor([[1.0, 2.0, 4.0]]))
    with pytest.raises(ValueError):
        running_estimates(samples, torch.tensor([5]))


CFG = dict(
    SMALL,
    quartic=1.0,
    directions=400,
    fd_step=1e-3,
    plane_range=1.0,
    resolution=5,
    plane_theory_samples=512,
)


def test_saddle_study_fraction_and_extremes():
    ds = saddle_study(CFG, seed=0)
    assert ds.loss.dims == ("variant", "slice", "a", "b")
    assert float(ds.lambda_min) == -4.0 and float(ds.lambda_max) == 1.0
    p, se = float(ds.fraction_negative_theory), float(ds.fraction_negative_stderr)
    assert se == pytest.approx(binomial_stderr(p, 400))
    for variant in ("quadratic", "quartic"):
        assert abs(float(ds.fraction_negative.sel(variant=variant)) - p) < 3 * se
    pp = float(ds.fraction_planes_negative_theory)
    se_planes = np.hypot(
        float(ds.fraction_planes_negative_stderr), float(ds.fraction_planes_negative_theory_stderr)
    )
    assert float(ds.fraction_planes_negative_stderr) == pytest.approx(binomial_stderr(pp, 200))
    for variant in ("quadratic", "quartic"):
        assert abs(float(ds.fraction_planes_negative.sel(variant=variant)) - pp) < 3 * se_planes
    np.testing.assert_allclose(ds.curvature_fd, ds.curvature, atol=1e-4)
    mean_kappa = float(ds.curvature.sel(variant="quadratic").mean())
    assert mean_kappa == pytest.approx(
        float(ds.trace_per_param), abs=4 * float(ds.curvature.std()) / 20
    )
    # the Hessian plane shows λmin: the loss falls along the second axis
    hp = ds.loss.sel(variant="quadratic", slice="hessian")
    assert float(hp.isel(a=2, b=0)) == pytest.approx(0.5 * -4.0)


def test_trace_study_converges_to_the_exact_trace():
    ds = trace_study(CFG, dict(probes=[1, 4, 16, 64, 256], trials=6, fd_step=1e-3), seed=0)
    err = (ds.estimate - ds.trace) ** 2
    rms = np.sqrt(err.mean("trace_trial"))
    for est in ("loss_values", "hutchinson"):
        r = rms.sel(variant="quadratic", estimator=est).values
        assert r[-1] < r[0] / 4
        assert r[-1] < 3 * float(ds.stderr_theory.sel(estimator=est, probes=256))
    assert ds.loss_evaluations.sel(estimator="loss_values", probes=16) == 33
    assert ds.hvps.sel(estimator="hutchinson", probes=16) == 16


@pytest.mark.parametrize(
    "spectrum",
    [
        np.concatenate([np.linspace(-3.0, -1.0, 5), np.linspace(0.1, 2.0, 45)]),  # ~2 %
        np.concatenate([np.linspace(-12.0, -5.0, 10), np.linspace(0.01, 1.0, 190)]),  # ~70 %
        np.concatenate([np.linspace(-0.5, -0.1, 30), np.linspace(0.2, 0.6, 30)]),
    ],
)
def test_plane_probability_matches_brute_force_planes(spectrum):
    """The semi-analytic fraction of random planes that are not positive definite equals a
    brute-force count over 100 000 Gaussian planes (2x2 projected matrices) within the two
    standard errors, and is at least the fraction of single directions with κ < 0 (a plane
    shows negative curvature whenever one of its directions does)."""
    p, se = plane_negative_probability(spectrum, 400, seed=3)
    rng = np.random.default_rng(11)
    n = 100_000
    u = rng.standard_normal((n, spectrum.size))
    v = rng.standard_normal((n, spectrum.size))
    a, c, b = ((u * u) @ spectrum), ((v * v) @ spectrum), ((u * v) @ spectrum)
    brute = float(np.mean(~((a > 0) & (a * c - b * b > 0))))
    se_brute = np.sqrt(brute * (1 - brute) / n)
    assert abs(p - brute) < 3 * np.hypot(se, se_brute) + 1e-12, (p, se, brute)
    assert p >= negative_probability(spectrum) - 3 * se
