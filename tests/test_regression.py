"""Regression (real targets, MSE): function data through train, Hessian, slices, curvature."""

from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from statmech_nn import hessian, landscape, train
from statmech_nn.backprop import Backprop
from statmech_nn.data import make_dataset, smooth_function
from statmech_nn.hessian.operators import dense_hessian
from statmech_nn.losses import loss_and_hits, per_sample_loss, targets
from statmech_nn.nets import MLP
from statmech_nn.train import mean_loss

QUICK = yaml.safe_load((Path(__file__).resolve().parents[1] / "config/quick.yaml").read_text())
SPEC = {"kind": "function", "n_train": 200, "n_test": 100, "dim": 2, "frequency": 1.0, "noise": 0.1}

pytestmark = pytest.mark.usefixtures("one_thread")


def test_function_data_set_holds_real_targets_of_the_smooth_function():
    ds = make_dataset(SPEC, seed=4)
    assert ds.attrs["task"] == "regression" and ds.attrs["n_classes"] == 1
    assert ds.y_train.dtype == np.float64 and ds.x_train.shape == (200, 2)
    np.testing.assert_allclose(ds.y_test, smooth_function(ds.x_test.values, 1.0), rtol=0, atol=0)
    noise = ds.y_train - smooth_function(ds.x_train.values, 1.0)
    assert 0.07 < float(noise.std()) < 0.13  # the configured 0.1
    assert float(np.abs(ds.x_train).max()) <= 1.0
    # f(x) = (sin(πx₁) + sin(πx₂ + 1))/√2 at a point
    x = np.array([[0.5, 0.0]])
    assert smooth_function(x, 1.0)[0] == pytest.approx((1.0 + np.sin(1.0)) / np.sqrt(2))


def test_mse_against_real_targets_and_undefined_accuracy():
    out = torch.tensor([[0.5], [2.0], [-1.0]], dtype=torch.float64)  # (n, 1)
    y = targets(np.array([0.0, 1.0, 1.0]), torch.float64)
    torch.testing.assert_close(
        per_sample_loss(out, y, "mse"), torch.tensor([0.125, 0.5, 2.0]).double()
    )
    losses, hits = loss_and_hits(out.mT, y, "mse")
    torch.testing.assert_close(losses, torch.tensor([0.125, 0.5, 2.0]).double())
    assert torch.isnan(hits).all()
    with pytest.raises(ValueError, match="regression"):
        per_sample_loss(out, y, "cross_entropy")
    assert targets(np.array([1, 2]), torch.float32).dtype == torch.long


@pytest.mark.parametrize("arch", ["mlp-d2-w6-tanh", "mlp-d1-w7-relu"])
def test_fast_backward_equals_autograd_for_real_targets(arch):
    gen = torch.Generator().manual_seed(0)
    model = MLP.build(arch, 3, 1)
    theta = torch.randn(2, model.n_params, generator=gen, dtype=torch.float64)
    x = torch.randn(2, 9, 3, generator=gen, dtype=torch.float64)
    y = torch.randn(2, 9, generator=gen, dtype=torch.float64)
    ref = theta.clone().requires_grad_(True)
    ref_losses = mean_loss(model, ref, x, y, "mse")
    (ref_grad,) = torch.autograd.grad(ref_losses.sum(), ref)
    grad = torch.full_like(theta, torch.nan)
    losses = Backprop(model, "mse").loss_and_grad(theta, x, y, grad)
    torch.testing.assert_close(losses, ref_losses.detach(), rtol=1e-12, atol=1e-14)
    torch.testing.assert_close(grad, ref_grad, rtol=1e-10, atol=1e-13)
    loss, accuracy = train.evaluate(model, theta, x[0], y[0], "mse")
    torch.testing.assert_close(loss, mean_loss(model, theta, x[0], y[0], "mse"))
    assert torch.isnan(accuracy).all()


def test_regression_through_train_hessian_slices_and_curvature():
    data = make_dataset(SPEC, seed=0)
    cfg = {**QUICK["train"], "replicas": 2, "epochs": 30, "dtype": "float64", "lr": 0.01}
    trained = train.train_study(data, "mlp-d1-w16-tanh", cfg, seed=1)  # config loss: cross_entropy
    assert trained.attrs["loss"] == "mse"
    loss = trained.train_loss.values
    assert np.all(loss[:, -1] < 0.3 * loss[:, 0])
    assert np.isnan(trained.test_accuracy).all()
    hcfg = {**QUICK["hessian"], "replicas": 2, "k": 2, "slq_probes": 2, "trace_probes": 4}
    hess = hessian.hessian_study(data, trained, hcfg, seed=2)
    # the dense Hessian of the objective ½ mean (f − y)² + (wd/2)|θ|² at replica 0 has the
    # stored extreme eigenvalues
    model = MLP.build("mlp-d1-w16-tanh", 2, 1)
    x = torch.as_tensor(data.x_train.values)
    y = torch.as_tensor(data.y_train.values)
    theta = torch.as_tensor(trained.params.values[0])
    wd = float(cfg["weight_decay"])
    assert trained.attrs["weight_decay"] == wd

    def objective(t):
        return mean_loss(model, t, x, y, "mse") + 0.5 * wd * (t * t).sum(-1)

    eig = torch.linalg.eigvalsh(dense_hessian(objective, theta))
    dense = np.sort(hess["dense_eigenvalues"].sel(replica=0).values)
    np.testing.assert_allclose(dense, eig.numpy(), rtol=1e-8, atol=1e-10)
    lam = hess["lambda_extreme"].sel(replica=0).values  # (max, min)
    np.testing.assert_allclose(lam, [float(eig[-1]), float(eig[0])], rtol=1e-6, atol=1e-9)
    s = QUICK["slices"]
    for name in ("random", "hessian"):
        sl = landscape.slice_study(
            trained, data, s["directions"][name], 2, "float64", s["memory_mb"], seed=3, hessian=hess
        )
        centre = sl.train_loss.isel(a=5, b=5).values  # the grid's origin is the replica
        at_params = objective(torch.as_tensor(trained.params.values)).numpy()  # polished θ*
        np.testing.assert_allclose(centre, at_params, rtol=1e-6)
        assert np.isnan(sl.train_accuracy).all()
    curv = landscape.curvature_study(trained, data, hess, 2, 8, 1e-3, s["memory_mb"], seed=4)
    np.testing.assert_allclose(curv.curvature_fd, curv.curvature, rtol=1e-3, atol=1e-5)
