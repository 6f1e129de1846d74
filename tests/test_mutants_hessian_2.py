"""Hessian stage: promises a second mutation run found unexercised (issue 19).

The Krylov basis of the top/bottom-k Lanczos holds ``ncv`` vectors (its cost per cycle);
Gauss–Newton products trace J·v once where they can and walk the data chunk by chunk
otherwise; the study's attrs and log say what was done.
"""

import logging

import numpy as np
import pytest
import torch
from test_mutants_hessian import study_inputs
from torch.func import jacrev

from statmech_nn import hessian as hs
from statmech_nn.hessian.problem import LossProblem
from statmech_nn.hessian.study import stochastic_estimates
from statmech_nn.nets import MLP as Model
from statmech_nn.train import per_sample_loss

pytestmark = pytest.mark.usefixtures("one_thread")
F64 = torch.float64


def _spectrum_matmat(n=40, seed=0):
    """A dense symmetric matrix with a spread, indefinite spectrum, as a matmat."""
    gen = torch.Generator().manual_seed(seed)
    lam = torch.linspace(-3.0, 5.0, n, dtype=F64) + 0.01 * torch.rand(n, generator=gen, dtype=F64)
    q, _ = torch.linalg.qr(torch.randn(n, n, generator=gen, dtype=F64))
    a = q @ torch.diag(lam) @ q.T
    a = 0.5 * (a + a.T)
    return a, lambda v: v @ a


@pytest.mark.parametrize(("k", "ncv"), [(2, 4), (1, 3), (3, 11)])
def test_one_lanczos_cycle_spends_exactly_ncv_products(k, ncv):
    """The Krylov basis holds ``ncv`` vectors, k + 2 the smallest: one cycle that does not
    converge (maxiter = 1, a tolerance no pair meets) costs exactly ncv products, and its
    pairs come back NaN."""
    _, matvec = _spectrum_matmat()
    for which in ("top", "bottom"):
        pairs = hs.eigenpairs(matvec, 40, k, which, tol=1e-15, ncv=ncv, maxiter=1)
        assert pairs.hvps == ncv, which
        assert torch.isnan(pairs.values).all()


def _mlp_problem(n=12, seed=4):
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 3, generator=gen, dtype=F64)
    y = torch.randint(0, 3, (n,), generator=gen)
    model = Model.build("mlp-d1-w5-tanh", 3, 3)
    theta = 2 * model.init(5, F64)
    return model, x, y, theta, gen


def _dense_ggn(model, x, y, theta):
    j = jacrev(lambda th: model.forward(th, x))(theta)
    f = model.forward(theta, x)
    hl = torch.func.hessian(lambda f: per_sample_loss(f, y, "cross_entropy").mean(-1))(f)
    return torch.einsum("acp,acbd,bdq->pq", j, hl, j)


def test_default_ggn_product_replays_one_trace_of_the_outputs():
    """ggn_matmat by default traces J·v once (``linearize``): products replay the trace and
    never run the network's forward again; the fresh-jvp variant runs it per call. Both
    give Jᵀ(∇²_f ℓ)J·V."""
    model, x, y, theta, gen = _mlp_problem()
    calls = []

    def outputs(th):
        calls.append(1)
        return model.forward(th, x)

    def output_loss(f):
        return per_sample_loss(f, y, "cross_entropy").mean(-1)

    v = torch.randn(4, model.n_params, generator=gen, dtype=F64)
    want = v @ _dense_ggn(model, x, y, theta)
    traced = hs.ggn_matmat(outputs, output_loss, theta)
    before = len(calls)
    torch.testing.assert_close(traced(v), want, rtol=1e-10, atol=1e-12)
    traced(v)
    assert len(calls) == before, "the default GGN product re-ran the forward pass"
    fresh = hs.ggn_matmat(outputs, output_loss, theta, linearized=False)
    before = len(calls)
    torch.testing.assert_close(fresh(v), want, rtol=1e-10, atol=1e-12)
    assert len(calls) > before


class _Recording:
    """A network that records how many samples every forward pass sees."""

    def __init__(self, model):
        self.model, self.samples = model, []

    def forward(self, theta, x, buffers=None):
        self.samples.append(x.shape[-2])
        return self.model.forward(theta, x, buffers)

    def __getattr__(self, name):
        return getattr(self.model, name)


def test_problem_ggn_over_one_chunk_in_linearize_mode_is_traced_once():
    """LossProblem.ggn, one data chunk, mode ``linearize``: J·v traced once, so products run
    no further forward pass; the product is (G + wd·I)·V."""
    model, x, y, theta, gen = _mlp_problem()
    net = _Recording(model)
    problem = LossProblem(net, x, y, "cross_entropy", weight_decay=0.01)
    v = torch.randn(3, model.n_params, generator=gen, dtype=F64)
    want = v @ _dense_ggn(model, x, y, theta) + 0.01 * v
    ggn = problem.ggn(theta, "linearize")
    seen = len(net.samples)
    torch.testing.assert_close(ggn(v), want, rtol=1e-10, atol=1e-12)
    ggn(v)
    assert len(net.samples) == seen


@pytest.mark.parametrize("chunk", [6, 5])
def test_problem_ggn_in_chunks_never_runs_more_than_a_chunk(chunk):
    """``sample_chunk`` bounds the memory of a product: with the data in two or three
    chunks every forward pass of a GGN product sees at most ``chunk`` samples, and the
    weighted chunk products still give the full-data (G + wd·I)·V."""
    model, x, y, theta, gen = _mlp_problem()
    net = _Recording(model)
    problem = LossProblem(net, x, y, "cross_entropy", sample_chunk=chunk, weight_decay=0.01)
    v = torch.randn(3, model.n_params, generator=gen, dtype=F64)
    want = v @ _dense_ggn(model, x, y, theta) + 0.01 * v
    got = problem.ggn(theta, "linearize")(v)
    torch.testing.assert_close(got, want, rtol=1e-10, atol=1e-12)
    assert net.samples and max(net.samples) <= chunk, net.samples


def _study_inputs():
    return study_inputs(30)


CFG = {
    "datasets": ["toy"], "hvp": "reverse", "dtype": "float64", "samples": None,
    "replicas": None, "k": 2, "tol": 1e-10, "ggn": False, "ggn_tol": 1e-3, "ncv": None,
    "maxiter": 500, "dense_max_params": 1000, "trace_probes": 4, "fd_step": 1e-3,
    "slq_probes": 2, "slq_steps": 6, "density_sigma": 0.02, "density_points": 20,
    "tau": 0.01, "memory_mb": 50,
}  # fmt: skip


@pytest.mark.parametrize("bn", ["recompute", "eval"])
def test_study_of_a_network_without_buffers_records_bn_statistics_none(bn):
    """A network without running statistics records ``bn_statistics: none`` whatever the
    config asked, the value the slice, curvature and overlap stages write for it."""
    data, trained = _study_inputs()
    ds = hs.hessian_study(data, trained, CFG | {"bn_statistics": bn}, seed=0)
    assert ds.attrs["bn_statistics"] == "none"


def test_stochastic_estimates_log_the_wall_time_of_each_stage(caplog):
    """The Hessian rule's log shows where time goes: one line per stochastic stage,
    named after it (Hutchinson trace, loss-value trace, SLQ, Gauss-Newton trace)."""
    model, x, y, _, _ = _mlp_problem()
    theta = torch.stack([2 * model.init(s, F64) for s in (5, 6)])
    problem = LossProblem(model, x, y, "cross_entropy")
    cfg = CFG | {"ggn": True, "hvp": "fresh"}
    extremes = np.full((2, 2), np.nan)
    with caplog.at_level(logging.INFO, logger="statmech_nn"):
        stochastic_estimates(problem, theta, cfg, 0, extremes)
    stages = [r.getMessage().rsplit(":", 1)[0] for r in caplog.records]
    assert stages == ["Hutchinson trace", "loss-value trace", "SLQ", "Gauss-Newton trace"]


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_lanczos_runs_on_the_device_of_its_matmat():
    """``device``: the Krylov basis lives with the matmat (a CUDA Hessian) and the
    eigenpairs agree with eigh."""
    a, _ = _spectrum_matmat(30)
    a_dev = a.cuda()
    top = hs.eigenpairs(lambda v: v @ a_dev, 30, 3, "top", device="cuda")
    want = torch.linalg.eigvalsh(a).flip(0)[:3]
    torch.testing.assert_close(top.values.cpu(), want, rtol=1e-8, atol=1e-10)
