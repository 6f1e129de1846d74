"""Curvature estimators against dense float64 ground truth (torch.func.hessian + eigh)."""

import math

import numpy as np
import pytest
import torch
import xarray as xr
from torch.func import grad, jacrev

from statmech_nn import hessian as hs
from statmech_nn.errors import InputError
from statmech_nn.nets import MLP as Model
from statmech_nn.train import mean_loss, per_sample_loss

F64 = torch.float64


pytestmark = pytest.mark.usefixtures("one_thread")


def _problem(arch="mlp-d2-w12-tanh", loss="cross_entropy", n=60, in_dim=6, classes=4, seed=0):
    """A small MLP (P ≤ 2000) on random data: model, loss closure, outputs closures, θ."""
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(n, in_dim, generator=gen, dtype=F64)
    y = torch.randint(0, classes, (n,), generator=gen)
    model = Model.build(arch, in_dim, classes)
    theta = model.init(seed + 1, F64) * 3  # larger weights: a curved, indefinite Hessian

    def loss_fn(th):
        return mean_loss(model, th, x, y, loss)

    def outputs(th):
        return model.forward(th, x)

    def output_loss(f):
        return per_sample_loss(f, y, loss).mean(-1)

    return model, loss_fn, outputs, output_loss, theta


@pytest.fixture(scope="module")
def mlp():
    model, loss_fn, outputs, output_loss, theta = _problem()
    h = hs.dense_hessian(loss_fn, theta)
    evals, evecs = torch.linalg.eigh(h)
    return {
        "model": model,
        "loss": loss_fn,
        "outputs": outputs,
        "output_loss": output_loss,
        "theta": theta,
        "H": h,
        "evals": evals,
        "evecs": evecs,
        "matvec": hs.hessian_matmat(loss_fn, theta),
    }


def _synthetic(eigenvalues, seed=0):
    """A dense symmetric matrix with the given spectrum and random eigenvectors, as a matmat."""
    gen = torch.Generator().manual_seed(seed)
    lam = torch.as_tensor(eigenvalues, dtype=F64)
    q, _ = torch.linalg.qr(torch.randn(len(lam), len(lam), generator=gen, dtype=F64))
    a = q @ torch.diag(lam) @ q.T
    a = 0.5 * (a + a.T)
    return a, lambda v: v @ a


# --------------------------------------------------------------------------- HVP


def test_hvp_equals_central_difference_of_gradients(mlp):
    gen = torch.Generator().manual_seed(3)
    v = torch.randn(mlp["model"].n_params, generator=gen, dtype=F64)
    eps = 1e-5
    g = grad(mlp["loss"])
    fd = (g(mlp["theta"] + eps * v) - g(mlp["theta"] - eps * v)) / (2 * eps)
    exact = hs.hvp(mlp["loss"], mlp["theta"], v)
    assert mlp["model"].n_params <= 2000
    # central difference error O(eps²) ~ 1e-10 relative
    torch.testing.assert_close(exact, fd, rtol=0, atol=1e-8 * fd.abs().max().item())


@pytest.mark.parametrize("mode", hs.HVP_MODES)
def test_batched_hvp_over_replicas_equals_dense_columns(mode):
    model, loss_fn, *_ = _problem()
    thetas = torch.stack([model.init(s, F64) * 3 for s in (1, 2, 3)])
    dense = hs.dense_hessian(loss_fn, thetas)  # vmapped over replicas
    eye = torch.eye(model.n_params, dtype=F64)[:7]
    matmat = hs.hessian_matmat(loss_fn, thetas, mode)
    got = matmat(eye.expand(3, 7, -1))
    torch.testing.assert_close(got, dense[:, :7, :], rtol=1e-12, atol=1e-12)
    one = matmat(eye[:1].expand(3, 1, -1))  # a single vector per replica
    torch.testing.assert_close(one, dense[:, :1, :], rtol=1e-12, atol=1e-12)
    for r in range(3):  # replica r sees its own Hessian
        torch.testing.assert_close(dense[r], hs.dense_hessian(loss_fn, thetas[r]))


def test_dense_hessian_in_chunks_equals_whole(mlp):
    chunked = hs.dense_hessian(mlp["loss"], mlp["theta"], chunk_size=50)
    torch.testing.assert_close(chunked, mlp["H"], rtol=1e-12, atol=1e-12)
    via_hvp = hs.dense_matrix(mlp["matvec"], (), mlp["model"].n_params, 64, F64)
    torch.testing.assert_close(via_hvp, mlp["H"], rtol=1e-10, atol=1e-12)


# --------------------------------------------------------------------------- eigenpairs


def _assert_pairs_match(pairs, evals, evecs, idx, scale):
    """Eigenvalues to 1e-6 relative (to the spectral radius), unit residuals < 1e-6."""
    np.testing.assert_allclose(pairs.values.numpy(), evals[idx].numpy(), rtol=0, atol=1e-6 * scale)
    assert (pairs.residuals < 1e-6 * scale).all(), pairs.residuals
    assert (pairs.residuals < 1e-6).all()
    overlap = (pairs.vectors * evecs[:, idx].T).sum(-1).abs()
    np.testing.assert_allclose(overlap.numpy(), 1.0, atol=1e-6)
    norms = torch.linalg.vector_norm(pairs.vectors, dim=-1)
    np.testing.assert_allclose(norms.numpy(), 1.0, atol=1e-12)


def test_extreme_eigenpairs_match_dense_eigh(mlp):
    evals, n = mlp["evals"], mlp["model"].n_params
    assert evals[0] < 0 < evals[-1]  # indefinite: both ends are informative
    pairs = hs.extreme_eigenpairs(mlp["matvec"], n, tol=1e-12, seed=1)
    _assert_pairs_match(pairs, evals, mlp["evecs"], [-1, 0], evals.abs().max().item())
    assert pairs.hvps > 2


@pytest.mark.parametrize(
    "spectrum",
    [
        pytest.param(np.r_[-7.0, np.linspace(-1.0, 2.0, 58), 2.5], id="abs-lambda-min-largest"),
        pytest.param(np.r_[0.3, np.linspace(0.5, 3.0, 58), 4.0], id="positive-definite"),
        pytest.param(np.r_[-4.0, np.linspace(-3.0, -0.2, 58), -0.1], id="negative-definite"),
        pytest.param(np.r_[-2.0, np.linspace(-0.5, 0.5, 58), 5.0], id="lambda-max-largest"),
    ],
)
def test_extreme_eigenpairs_synthetic(spectrum):
    a, matvec = _synthetic(spectrum)
    evals, evecs = torch.linalg.eigh(a)
    pairs = hs.extreme_eigenpairs(matvec, len(spectrum), tol=1e-12)
    assert pairs.values[0] >= pairs.values[1]
    np.testing.assert_allclose(pairs.values.numpy(), [spectrum.max(), spectrum.min()], atol=1e-9)
    _assert_pairs_match(pairs, evals, evecs, [-1, 0], np.abs(spectrum).max())


@pytest.mark.parametrize("which", ["top", "bottom"])
@pytest.mark.parametrize("k", [1, 5])
def test_top_and_bottom_k_match_dense_eigh(mlp, which, k):
    evals, n = mlp["evals"], mlp["model"].n_params
    pairs = hs.eigenpairs(mlp["matvec"], n, k, which, tol=1e-12, seed=2)
    idx = list(range(n - 1, n - 1 - k, -1)) if which == "top" else list(range(k))
    _assert_pairs_match(pairs, evals, mlp["evecs"], idx, evals.abs().max().item())


@pytest.mark.parametrize("which", ["top", "bottom"])
def test_top_and_bottom_k_through_many_restarts(mlp, which):
    """A basis of 9 vectors for k = 4: the thick restarts carry the run to dense eigh."""
    evals, n = mlp["evals"], mlp["model"].n_params
    pairs = hs.eigenpairs(mlp["matvec"], n, 4, which, tol=1e-12, seed=5, ncv=9)
    assert pairs.hvps > 9  # it did restart
    idx = [n - 1, n - 2, n - 3, n - 4] if which == "top" else [0, 1, 2, 3]
    _assert_pairs_match(pairs, evals, mlp["evecs"], idx, evals.abs().max().item())


def test_lanczos_residuals_equal_explicit_products(mlp):
    """The residuals come from the Lanczos relation, not from products: they must
    equal ‖Hv − λv‖ computed explicitly, to round-off of ‖H‖."""
    n, h = mlp["model"].n_params, mlp["H"]
    pairs = hs.eigenpairs(mlp["matvec"], n, 5, "top", tol=1e-8, seed=3, ncv=12)
    explicit = torch.linalg.vector_norm(
        pairs.vectors @ h - pairs.values.unsqueeze(-1) * pairs.vectors, dim=-1
    )
    scale = mlp["evals"].abs().max().item()
    torch.testing.assert_close(pairs.residuals, explicit, rtol=0, atol=1e-12 * scale)
    assert (explicit > 0).all()  # tol 1e-8 stops early: real, not round-off, residuals


def test_lanczos_goes_on_past_an_invariant_subspace():
    """Three distinct eigenvalues, each 20 times: a Krylov space closes after 3
    steps; the run must go on from fresh vectors to find 5 orthonormal top pairs."""
    a, matvec = _synthetic(np.repeat([3.0, 1.0, -1.0], 20))
    pairs = hs.eigenpairs(matvec, 60, 5, "top", tol=1e-10, seed=1)
    np.testing.assert_allclose(pairs.values.numpy(), 3.0, atol=1e-10)
    gram = pairs.vectors @ pairs.vectors.T
    torch.testing.assert_close(gram, torch.eye(5, dtype=gram.dtype), rtol=0, atol=1e-10)
    assert (pairs.residuals < 1e-9).all()


@pytest.mark.parametrize("which", ["top", "bottom"])
def test_shifted_eigenpairs_converge_at_an_exactly_singular_end(which):
    """Eigenvalues 0 and ≈ 0 at one end: without a shift ARPACK's relative tolerance
    on a Ritz value ≈ 0 is hard to meet; shifted by the other end it is easy."""
    sign = 1.0 if which == "bottom" else -1.0
    spectrum = sign * np.r_[0.0, 1e-7, 0.002, np.linspace(0.01, 1.0, 57)]
    a, matvec = _synthetic(spectrum)
    other = float(spectrum.max() if which == "bottom" else spectrum.min())
    pairs = hs.eigenpairs(matvec, 60, 3, which, tol=1e-10, shift=other, maxiter=200)
    np.testing.assert_allclose(pairs.values.numpy(), sign * np.r_[0.0, 1e-7, 0.002], atol=1e-10)
    assert (pairs.residuals < 1e-6).all()


def test_unknown_hvp_mode_is_an_input_error(mlp):
    with pytest.raises(InputError, match="HVP mode 'sideways'"):
        hs.hessian_matmat(mlp["loss"], mlp["theta"], "sideways")


def test_eigenpairs_reject_bad_k_and_which(mlp):
    with pytest.raises(InputError, match="k = 147"):
        hs.eigenpairs(mlp["matvec"], 147, 147, "top")
    with pytest.raises(InputError, match="which"):
        hs.eigenpairs(mlp["matvec"], 147, 2, "middle")


def test_negative_fraction_counts_below_minus_tau_lambda_max():
    lam = torch.tensor([[-3.0, -0.05, -0.2, 0.0, 1.0, 10.0]], dtype=F64)
    # below −0.01·10 = −0.1: −3 and −0.2
    assert hs.negative_fraction(lam, 0.01).item() == pytest.approx(2 / 6)
    assert hs.negative_fraction(lam, 0.0).item() == pytest.approx(3 / 6)
    # |λmin| > λmax: the threshold is still −τ·λmax (−0.1), not −τ·max|λ| (−0.2)
    lam = torch.tensor([[-20.0, -0.05, -0.2, 0.0, 1.0, 10.0]], dtype=F64)
    assert hs.negative_fraction(lam, 0.01).item() == pytest.approx(2 / 6)


# --------------------------------------------------------------------------- traces


def _rademacher_sd(a: torch.Tensor) -> torch.Tensor:
    """Exact standard deviation of zᵀAz for Rademacher z: √(2(‖A‖_F² − Σ A_ii²)) (..., P, P)."""
    off = (a**2).sum((-2, -1)) - (torch.diagonal(a, dim1=-2, dim2=-1) ** 2).sum(-1)
    return torch.sqrt(2 * off)


def test_hutchinson_trace_converges_within_four_exact_standard_errors(mlp):
    """Convergence in the style of curvlinops: with m probes the relative error stays below
    4σ/(√m |tr H|), σ the exact per-probe spread; at m = 1600 that bound is under 10 %, so
    an estimator off by a factor 1.2 fails (an own-stderr bound would scale with it)."""
    n, h = mlp["model"].n_params, mlp["H"]
    exact, sd = torch.trace(h).item(), _rademacher_sd(h).item()
    est = hs.hutchinson_trace(mlp["matvec"], (n,), probes=1600, seed=4, chunk_size=400)
    assert est.samples.shape == (1600,)
    for m in (100, 400, 1600):
        bound = 4 * sd / math.sqrt(m) / abs(exact)
        assert abs(est.samples[:m].mean().item() / exact - 1) < bound, m
    assert bound < 0.1
    assert est.mean.item() == est.samples.mean().item()
    # the standard error agrees with the exact Rademacher variance 2(‖H‖² − Σ H_ii²)
    assert est.stderr.item() == pytest.approx(sd / math.sqrt(1600), rel=0.1)


def test_hutchinson_trace_vectorised_over_replicas():
    model, loss_fn, *_ = _problem("mlp-d1-w6-tanh", n=40, in_dim=4, classes=3)
    thetas = torch.stack([model.init(s, F64) * 3 for s in (1, 2)])
    matvec = hs.hessian_matmat(loss_fn, thetas)
    est = hs.hutchinson_trace(matvec, (2, model.n_params), probes=1000, seed=5, chunk_size=300)
    h = hs.dense_hessian(loss_fn, thetas)
    exact = torch.diagonal(h, dim1=-2, dim2=-1).sum(-1)
    bound = 4 * _rademacher_sd(h) / math.sqrt(1000)
    assert est.mean.shape == (2,) and est.samples.shape == (2, 1000)
    assert (bound < 0.1 * exact.abs()).all()
    assert (torch.abs(est.mean - exact) < bound).all()


def test_loss_value_trace_within_three_standard_errors(mlp):
    exact = torch.trace(mlp["H"]).item()
    est = hs.loss_value_trace(mlp["loss"], mlp["theta"], probes=400, step=1e-3, seed=6)
    assert abs(est.mean.item() - exact) < 3 * est.stderr.item()
    # each sample is |δ|² κ(u); with exact curvatures they'd be δᵀHδ: the FD error is tiny
    gen = torch.Generator().manual_seed(6)
    delta = torch.randn((400, mlp["model"].n_params), generator=gen, dtype=F64)
    exact_samples = ((delta @ mlp["H"]) * delta).sum(-1)
    torch.testing.assert_close(est.samples, exact_samples, rtol=1e-4, atol=1e-6)


def test_loss_value_trace_exact_for_a_quadratic():
    a, _ = _synthetic(np.linspace(-1.0, 3.0, 20))
    est = hs.loss_value_trace(
        lambda th: 0.5 * th @ a @ th, torch.zeros((3, 20), dtype=F64), probes=8, step=0.1
    )
    gen = torch.Generator().manual_seed(0)
    delta = torch.randn((3, 8, 20), generator=gen, dtype=F64)
    torch.testing.assert_close(est.samples, ((delta @ a) * delta).sum(-1), rtol=1e-10, atol=1e-12)


# --------------------------------------------------------------------------- SLQ


def test_slq_density_normalised_and_mean_matches_trace(mlp):
    n, evals = mlp["model"].n_params, mlp["evals"]
    quad = hs.slq(mlp["matvec"], (n,), probes=20, steps=40, seed=7)
    assert quad.nodes.shape == (20, 40)
    np.testing.assert_allclose(quad.weights.sum(-1).numpy(), 1.0, atol=1e-12)
    lo, hi = evals[0].item(), evals[-1].item()
    assert (quad.nodes >= lo - 1e-8).all() and (quad.nodes <= hi + 1e-8).all()
    sigma = 0.02 * (hi - lo)
    grid = torch.linspace(lo - 8 * sigma, hi + 8 * sigma, 4001, dtype=F64)
    density = quad.density(grid, sigma)
    assert torch.trapezoid(density, grid).item() == pytest.approx(1.0, abs=1e-8)
    mean = quad.moment_mean()
    exact = evals.mean().item()  # tr H / P
    assert abs(mean.mean.item() - exact) < 3 * mean.stderr.item()
    assert torch.trapezoid(grid * density, grid).item() == pytest.approx(mean.mean.item(), abs=1e-8)


def test_slq_moments_converge_to_the_spectral_moments(mlp):
    """Each probe's quadrature gives Σ w θᵖ = qᵀHᵖq exactly for p ≤ 2·steps − 1, whose mean
    is tr Hᵖ / P. With 1600 probes the first moment lies within 4 exact standard errors,
    a bound under 10 % of tr H / P; the second moment (a PSD form, less noisy) within 4
    exact standard errors under 5 %. Weights off by a factor 1.2 fail both, nodes off by
    1.2 (1.44 on the second moment) too."""
    n, h = mlp["model"].n_params, mlp["H"]
    probes = 1600
    quad = hs.slq(mlp["matvec"], (n,), probes=probes, steps=3, seed=12)
    for p, rel_bound in ((1, 0.1), (2, 0.05)):
        hp = torch.linalg.matrix_power(h, p)
        exact = torch.trace(hp).item() / n
        bound = 4 * _rademacher_sd(hp).item() / n / math.sqrt(probes)
        assert bound < rel_bound * abs(exact), p
        estimate = (quad.weights * quad.nodes**p).sum(-1).mean().item()
        assert abs(estimate - exact) < bound, p
    mean = quad.moment_mean()
    assert mean.mean.item() == pytest.approx((quad.weights * quad.nodes).sum(-1).mean().item())
    np.testing.assert_allclose(quad.weights.sum(-1).numpy(), 1.0, atol=1e-12)


def test_lanczos_quadrature_exact_for_low_moments(mlp):
    """m Lanczos steps integrate polynomials of degree ≤ 2m − 1 exactly: Σ w θ^p = qᵀHᵖq."""
    n, h = mlp["model"].n_params, mlp["H"]
    gen = torch.Generator().manual_seed(8)
    start = hs.rademacher((3, n), gen, F64)
    alpha, beta = hs.lanczos(mlp["matvec"], start, 6, gen)
    t = torch.diag_embed(alpha) + torch.diag_embed(beta, 1) + torch.diag_embed(beta, -1)
    nodes, vecs = torch.linalg.eigh(t)
    w = vecs[..., 0, :] ** 2
    q = start / math.sqrt(n)
    for p in range(1, 12):
        exact = (q * (q @ torch.linalg.matrix_power(h, p))).sum(-1)
        torch.testing.assert_close((w * nodes**p).sum(-1), exact, rtol=1e-9, atol=1e-12)


def test_lanczos_survives_an_invariant_subspace():
    """Three distinct eigenvalues: the Krylov space closes after 3 steps (β = 0)."""
    a, matvec = _synthetic(np.repeat([-1.0, 0.5, 2.0], [5, 10, 15]))
    quad = hs.slq(matvec, (2, 30), probes=4, steps=10, seed=9)
    assert torch.isfinite(quad.nodes).all()
    np.testing.assert_allclose(quad.weights.sum(-1).numpy(), 1.0, atol=1e-12)
    # all weight sits on the three true eigenvalues
    on = torch.zeros_like(quad.weights)
    for lam in (-1.0, 0.5, 2.0):
        on += torch.where((quad.nodes - lam).abs() < 1e-8, quad.weights, 0.0)
    np.testing.assert_allclose(on.sum(-1).numpy(), 1.0, atol=1e-10)


def test_slq_steps_capped_at_dimension():
    a, matvec = _synthetic(np.linspace(-1.0, 1.0, 8))
    quad = hs.slq(matvec, (8,), probes=2, steps=50)
    assert quad.nodes.shape == (2, 8)
    # a full Krylov basis: the nodes are the exact eigenvalues
    np.testing.assert_allclose(
        quad.nodes.numpy(), np.tile(np.linspace(-1, 1, 8), (2, 1)), atol=1e-10
    )


# --------------------------------------------------------------------------- Gauss–Newton


def _dense_ggn(outputs, output_loss, theta):
    j = jacrev(outputs)(theta)  # (n, C, P)
    f = outputs(theta)
    hl = torch.func.hessian(output_loss)(f)  # (n, C, n, C)
    return torch.einsum("acp,acbd,bdq->pq", j, hl, j)


@pytest.mark.parametrize("loss", ["cross_entropy", "mse"])
def test_ggn_product_equals_dense_jt_h_j(loss):
    model, loss_fn, outputs, output_loss, theta = _problem("mlp-d1-w6-tanh", loss, n=15)
    g = _dense_ggn(outputs, output_loss, theta)
    got = hs.dense_matrix(hs.ggn_matmat(outputs, output_loss, theta), (), model.n_params, 32, F64)
    torch.testing.assert_close(got, g, rtol=1e-10, atol=1e-12)
    assert torch.linalg.eigvalsh(g)[0] > -1e-12 * torch.linalg.eigvalsh(g)[-1]  # G ⪰ 0
    # vectorised over replicas, with and without linearisation
    thetas = torch.stack([theta, model.init(7, F64) * 3])
    v = torch.randn((2, 3, model.n_params), generator=torch.Generator().manual_seed(0), dtype=F64)
    for linearized in (True, False):
        got = hs.ggn_matmat(outputs, output_loss, thetas, linearized)(v)
        for r in range(2):
            expected = v[r] @ _dense_ggn(outputs, output_loss, thetas[r])
            torch.testing.assert_close(got[r], expected, rtol=1e-10, atol=1e-12)


def test_ggn_equals_hessian_for_a_linear_model():
    """f linear in θ: ∇²f = 0, so R = 0 and G = H."""
    model, loss_fn, outputs, output_loss, theta = _problem("perceptron", n=30)
    g = hs.dense_matrix(hs.ggn_matmat(outputs, output_loss, theta), (), model.n_params, 32, F64)
    torch.testing.assert_close(g, hs.dense_hessian(loss_fn, theta), rtol=1e-10, atol=1e-12)


def test_ggn_extreme_eigenpairs_and_split():
    """G = JᵀJ/n ⪰ 0 is nonsingular here (nC ≫ P); H is indefinite: only R = H − G can
    make its negative curvature."""
    model, loss_fn, outputs, output_loss, theta = _problem("mlp-d1-w6-tanh", "mse", n=80)
    n = model.n_params
    h_evals = torch.linalg.eigvalsh(hs.dense_hessian(loss_fn, theta))
    g_evals = torch.linalg.eigvalsh(_dense_ggn(outputs, output_loss, theta))
    assert h_evals[0] < 0 < g_evals[0]
    ggn = hs.ggn_matmat(outputs, output_loss, theta)
    pairs = hs.extreme_eigenpairs(ggn, n, tol=1e-12, seed=3)
    scale = g_evals[-1].item()
    np.testing.assert_allclose(pairs.values.numpy(), g_evals[[-1, 0]].numpy(), atol=1e-6 * scale)
    assert (pairs.residuals < 1e-6 * scale).all()
    trace = hs.hutchinson_trace(ggn, (n,), probes=100, seed=4, chunk_size=50)
    assert abs(trace.mean.item() - g_evals.sum().item()) < 3 * trace.stderr.item()


def test_unconverged_eigenpairs_come_back_as_nan():
    _, matvec = _synthetic(np.linspace(-1.0, 1.0, 200))
    pairs = hs.extreme_eigenpairs(matvec, 200, tol=1e-14, ncv=4, maxiter=1)
    assert torch.isnan(pairs.values).all() and torch.isnan(pairs.residuals).all()
    assert pairs.hvps > 0
    top = hs.eigenpairs(matvec, 200, 3, "top", tol=1e-14, ncv=7, maxiter=1)
    assert torch.isnan(top.values).all()


# --------------------------------------------------------------------------- the study


def _study_inputs(replicas=3):
    model, *_ = _problem("mlp-d1-w4-tanh", n=40, in_dim=5, classes=3)
    gen = torch.Generator().manual_seed(11)
    data = xr.Dataset(
        {
            "x_train": (("train_sample", "feature"), torch.randn(40, 5, generator=gen).numpy()),
            "y_train": (("train_sample",), torch.randint(0, 3, (40,), generator=gen).numpy()),
        },
        attrs={"n_classes": 3},
    )
    params = torch.stack([model.init(s, F64) * 3 for s in range(replicas)]).numpy()
    status = np.array(["ok", "diverged", "ok"][:replicas], dtype=object)
    trained = xr.Dataset(
        {"params": (("replica", "param"), params), "status": (("replica",), status)},
        coords={"replica": np.arange(replicas)},
        attrs={"arch": "mlp-d1-w4-tanh", "loss": "cross_entropy", "dataset": "toy"},
    )
    return model, data, trained


STUDY_CFG = {
    "datasets": ["toy"],
    "hvp": "linearize",
    "dtype": "float64",
    "samples": None,
    "replicas": None,
    "k": 3,
    "tol": 1e-10,
    "ggn": True,
    "ggn_tol": 1e-3,
    "ncv": None,
    "maxiter": 1000,
    "dense_max_params": 1000,
    "trace_probes": 40,
    "fd_step": 1e-3,
    "slq_probes": 4,
    "slq_steps": 20,
    "density_sigma": 0.02,
    "density_points": 300,
    "tau": 0.01,
    "memory_mb": 50,
}


def test_study_dataset_lanczos_agrees_with_dense_and_marks_diverged():
    model, data, trained = _study_inputs()
    dense = hs.hessian_study(data, trained, STUDY_CFG, seed=0)
    lanczos = hs.hessian_study(data, trained, STUDY_CFG | {"dense_max_params": 0}, seed=0)
    assert dense.attrs["eigenpairs_from"] == "dense eigh"
    assert lanczos.attrs["eigenpairs_from"] == "lanczos"
    assert "dense_eigenvalues" in dense and "dense_eigenvalues" not in lanczos
    n = model.n_params
    assert dense["eigenvectors"].dims == ("replica", "which", "param")
    assert dense.sizes == {**dense.sizes, "replica": 3, "which": 2, "param": n, "eigen": 6}
    assert list(dense["eigen"].values) == [1, 2, 3, -1, -2, -3]
    assert all(dim in dense.coords for dim in dense.dims), "every dimension has coordinates"
    ok = [0, 2]
    for name in ("lambda_extreme", "eigenvalues"):
        scale = np.abs(dense["lambda_extreme"].values[ok]).max()
        np.testing.assert_allclose(
            lanczos[name].values[ok], dense[name].values[ok], rtol=0, atol=1e-8 * scale
        )
    overlap = np.abs((lanczos["eigenvectors"] * dense["eigenvectors"]).sum("param").values[ok])
    np.testing.assert_allclose(overlap, 1.0, atol=1e-6)
    # the diverged replica is NaN everywhere and spent no products
    assert np.isnan(dense["lambda_extreme"].sel(replica=1)).all()
    assert (dense["hvp_count"].sel(replica=1) == 0).all()
    assert (lanczos["hvp_count"].sel(replica=0, computation="extreme") > 0).all()
    # estimates agree with the dense trace; the density is normalised; labels are there
    tr = dense["trace_dense"].values[ok]
    for name in ("trace_hutchinson", "trace_loss_values"):
        err = 3 * dense[f"{name}_stderr"].values[ok]
        assert (np.abs(dense[name].values[ok] - tr) < err).all(), name
    integral = np.trapezoid(dense["density"].values[ok], dense["lambda"].values, axis=-1)
    np.testing.assert_allclose(integral, 1.0, atol=1e-6)
    assert dense["lambda_extreme"].attrs["units"] == "nats"
    assert dense["density"].attrs["units"] == "1/nats"
    for name, var in dense.data_vars.items():
        assert var.attrs.get("long_name"), name
    # G ⪰ 0 next to an indefinite H
    assert (dense["ggn_lambda_extreme"].values[ok, 1] > -1e-3 * tr[:, None].max()).all()


def test_study_analyses_the_first_replicas_of_a_subset():
    _, data, trained = _study_inputs()
    cfg = STUDY_CFG | {"replicas": 1, "samples": 25, "ggn": False, "hvp": "reverse"}
    ds = hs.hessian_study(data, trained, cfg, seed=0)
    assert ds.sizes["replica"] == 1 and ds.attrs["n_samples"] == 25
    assert "ggn_lambda_extreme" not in ds


def test_study_mean_curvature_and_negative_fraction_against_dense_eigh():
    """The study's derived quantities (stored and plotted) against eigh of the Hessian
    computed here: the dense negative fraction exactly; mean curvature tr H / P and the SLQ
    negative fraction within 4 exact standard errors (bounds under 10 % and 0.04). SLQ runs
    P steps, so its nodes are the eigenvalues and each probe's negative weight is qᵀΠq, Π
    the projector on eigenvectors below −τ·λmax, of exact spread √(2(‖Π‖² − Σ Π_ii²))/P.
    The stored SLQ nodes and weights must give the stored SLQ estimates."""
    model, data, trained = _study_inputs()
    n, tau, probes, slq_probes = model.n_params, STUDY_CFG["tau"], 2000, 120
    cfg = STUDY_CFG | {
        "ggn": False,
        "hvp": "fresh",
        "trace_probes": probes,
        "slq_probes": slq_probes,
    }
    ds = hs.hessian_study(data, trained, cfg | {"slq_steps": n}, seed=3)
    x = torch.as_tensor(data["x_train"].values, dtype=F64)
    y = torch.as_tensor(data["y_train"].values)
    for r in (0, 2):
        theta = torch.as_tensor(trained["params"].values[r])
        h = torch.func.hessian(lambda th: mean_loss(model, th, x, y, "cross_entropy"))(theta)
        lam, vec = torch.linalg.eigh(h)
        below = lam < -tau * lam[-1]
        assert 0.05 < below.double().mean() < 0.95  # an indefinite Hessian
        one = ds.sel(replica=r)
        np.testing.assert_allclose(one["dense_eigenvalues"], lam, rtol=0, atol=1e-10)
        assert float(one["negative_fraction"]) == below.double().mean().item()
        mean_curv = lam.mean().item()
        bound = 4 * _rademacher_sd(h).item() / n / math.sqrt(probes)
        assert bound < 0.1 * abs(mean_curv)
        assert abs(float(one["mean_curvature"]) - mean_curv) < bound
        assert float(one["mean_curvature"]) * n == pytest.approx(float(one["trace_hutchinson"]))
        assert abs(float(one["slq_mean"]) - mean_curv) < 4 * float(one["slq_mean_stderr"])
        proj = vec[:, below] @ vec[:, below].T
        bound = 4 * _rademacher_sd(proj).item() / n / math.sqrt(slq_probes)
        assert bound < 0.04
        assert abs(float(one["negative_fraction_slq"]) - below.double().mean().item()) < bound
        nodes, weights = one["slq_nodes"].values, one["slq_weights"].values
        assert float(one["slq_mean"]) == pytest.approx((weights * nodes).sum(-1).mean())
        negative = (weights * (nodes < -tau * nodes.max())).sum(-1).mean()
        assert float(one["negative_fraction_slq"]) == pytest.approx(negative, abs=1e-12)
        density, grid = one["density"].values, ds["lambda"].values
        assert np.trapezoid(grid * density, grid) == pytest.approx(float(one["slq_mean"]), abs=1e-6)
    # fewer steps than P: the SLQ fraction is still the weighted one (not a count of nodes)
    cfg |= {"trace_probes": 4, "slq_steps": 8, "slq_probes": 6}
    few = hs.hessian_study(data, trained, cfg, seed=3)
    nodes, weights = few["slq_nodes"].values[[0, 2]], few["slq_weights"].values[[0, 2]]
    threshold = -tau * nodes.max((-2, -1), keepdims=True)
    negative = (weights * (nodes < threshold)).sum(-1).mean(-1)
    np.testing.assert_allclose(few["negative_fraction_slq"].values[[0, 2]], negative, atol=1e-12)
    assert np.abs(negative - (nodes < threshold).mean((-2, -1))).max() > 0.01
