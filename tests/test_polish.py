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
