"""Polishing trained replicas into critical points, and the slope-vs-curvature record of
slices (issue 16: landscapes analysed at real minima)."""

import numpy as np
import pytest
import torch

from statmech_nn.landscape import slice_dataset
from statmech_nn.nets import build_network
from statmech_nn.polish import polish
from statmech_nn.train import TrainSettings, train_replicas

pytestmark = pytest.mark.usefixtures("one_thread")


def _noisy_problem(seed: int = 0):
    """Overlapping Gaussian classes: cross-entropy has a finite minimum (not separable)."""
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(120, 4, generator=gen, dtype=torch.float64)
    y = ((x[:, 0] + 0.8 * torch.randn(120, generator=gen, dtype=torch.float64)) > 0).long()
    return x, y


def test_polish_reaches_the_gradient_tolerance_and_keeps_replicas_apart():
    net = build_network("mlp-d1-w2-tanh", (4,), 2)
    x, y = _noisy_problem()
    trained = train_replicas(net, x, y, x, y, TrainSettings(epochs=3, batch_size=16), [1, 2, 3])
    done = polish(net, trained.params, x, y, "cross_entropy", tol=1e-6, max_steps=1000)
    assert done.converged.all() and (done.grad_norm <= 1e-6).all()
    assert (trained.snapshot_grad_norms[:, -1] > 1e-3).all()  # training alone stopped short
    assert (done.loss <= trained.curves["train_loss"][:, -1] + 1e-12).all()
    # per replica: polishing replica 1 alone gives the same point
    alone = polish(net, trained.params[1:2], x, y, "cross_entropy", tol=1e-6, max_steps=1000)
    torch.testing.assert_close(alone.params[0], done.params[1], rtol=0, atol=1e-12)


def test_polish_logs_its_progress(monkeypatch, caplog):
    import statmech_nn.polish as polish_module

    monkeypatch.setattr(polish_module, "LOG_EVERY_S", 0.0)
    net = build_network("mlp-d1-w2-tanh", (4,), 2)
    x, y = _noisy_problem()
    theta = net.init_replicas([1, 2], torch.float64)
    with caplog.at_level("INFO", logger="statmech_nn.polish"):
        done = polish(net, theta, x, y, "cross_entropy", tol=1e-6, max_steps=40)
    lines = [r.getMessage() for r in caplog.records if r.name == "statmech_nn.polish"]
    assert lines[0].startswith("polish replica 0: 10 L-BFGS steps, |grad J| = ")
    assert any(line.startswith("polish replica 1: ") for line in lines)
    last = [line for line in lines if line.startswith("polish replica 1: ")][-1]
    assert float(last.rsplit("= ", 1)[1]) == pytest.approx(float(done.grad_norm[1]), rel=1e-2)


def test_slices_record_slope_against_curvature():
    net = build_network("mlp-d1-w2-tanh", (4,), 2)
    x, y = _noisy_problem()
    data = {"x_train": x, "y_train": y, "x_test": x, "y_test": y}
    trained = train_replicas(net, x, y, x, y, TrainSettings(epochs=3, batch_size=16), [1, 2])
    done = polish(net, trained.params, x, y, "cross_entropy", tol=1e-6, max_steps=1000)
    assert done.converged.all()
    kw = {"axes": ["random", "random"], "ranges": [[-0.3, 0.3]] * 2, "resolution": 7}
    before = slice_dataset(net, trained.params, data, "cross_entropy", normalisation="unit", **kw)
    after = slice_dataset(net, done.params, data, "cross_entropy", normalisation="unit", **kw)
    assert not before["critical"].values.all()
    assert after["critical"].values.all()
    g = float(after["grad_norm"].max())
    assert g <= 1e-6
    # the linear term is |gᵀd|·r with r the largest |coordinate|: here at most |g|·|d|·0.3
    bound = before["grad_norm"].values[:, None] * before["direction_norm"].values * 0.3
    assert np.all(before["linear_term"].values <= bound + 1e-15)
    assert before["linear_term"].attrs["units"] == "nats"


def test_polished_with_weight_decay_meets_the_criterion_on_separable_data():
    """Separable classes: cross-entropy alone has no finite minimum, L + (wd/2)|θ|² has one.
    Polished on it, the replicas are minima (∇²J ⪰ 0) and the slices along both Hessian
    eigenvectors meet |gᵀd|·r ≤ 0.1 · ½|κ|r² (issue 16 item 1)."""
    from statmech_nn.hessian import dense_hessian
    from statmech_nn.hessian.problem import LossProblem

    wd = 1e-2
    net = build_network("mlp-d1-w3-tanh", (4,), 2)
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(80, 4, generator=gen, dtype=torch.float64)
    y = (x[:, 0] + 0.5 * x[:, 1] > 0).long()  # linearly separable
    settings = TrainSettings(epochs=5, batch_size=16, weight_decay=wd)
    trained = train_replicas(net, x, y, x, y, settings, [1, 2])
    done = polish(net, trained.params, x, y, "cross_entropy", 1e-8, 2000, weight_decay=wd)
    assert done.converged.all() and (done.grad_norm <= 1e-8).all()
    problem = LossProblem(net, x, y, "cross_entropy", weight_decay=wd)
    lam, vec = torch.linalg.eigh(dense_hessian(problem.loss_fn, done.params))
    assert (lam[:, 0] > 0).all()  # a minimum of J, not a saddle
    vectors = torch.stack([vec[..., -1], vec[..., 0]], 1)  # (replica, max/min, P)
    data = {"x_train": x, "y_train": y, "x_test": x, "y_test": y}
    ds = slice_dataset(
        net, done.params, data, "cross_entropy", ["hessian_max", "hessian_min"],
        [[-0.2, 0.2], [-0.6, 0.6]], 21, "unit", hessian_vectors=vectors, weight_decay=wd,
    )  # fmt: skip
    assert ds["critical"].values.all()
    ratio = ds["linear_term"].values / ds["curvature_term"].values
    assert ratio.max() <= 0.1
    # the second differences see the eigenvalues (a quadratic to O(r²) over one grid step)
    np.testing.assert_allclose(ds["centre_curvature"].values, lam[:, [-1, 0]], rtol=1e-2)
    # the same replicas polished on L alone: the weights run away (no finite minimum) and the
    # gradient vanishes with the loss, far from any critical point
    bare = polish(net, trained.params, x, y, "cross_entropy", 1e-8, 200)
    assert (bare.params.norm(dim=-1) > 2 * done.params.norm(dim=-1)).all()
    assert (bare.loss < 0.1 * done.loss).all()
