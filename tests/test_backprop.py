"""The hand-written backward equals autograd through Model.forward and per_sample_loss."""

import pytest
import torch

from statmech_nn.backprop import BLOCK, Backprop
from statmech_nn.nets import MLP as Model
from statmech_nn.train import mean_loss

ARCHS = ["mlp-d2-w6-tanh", "mlp-d2-w6-sigmoid", "mlp-d2-w6-relu", "mlp-d2-w6-gelu", "perceptron"]


def _problem(arch: str, batch: int = 9):
    gen = torch.Generator().manual_seed(0)
    model = Model.build(arch, 5, 4)
    theta = torch.randn(3, model.n_params, generator=gen, dtype=torch.float64)
    x = torch.randn(3, batch, 5, generator=gen, dtype=torch.float64)
    y = torch.randint(0, 4, (3, batch), generator=gen)
    return model, theta, x, y


@pytest.mark.parametrize("loss", ["cross_entropy", "mse"])
@pytest.mark.parametrize("arch", [*ARCHS, "mlp-d1-w7", "mlp-d3-w4"])
def test_loss_and_gradient_equal_autograd(arch, loss):
    model, theta, x, y = _problem(arch)
    ref_theta = theta.clone().requires_grad_(True)
    ref_losses = mean_loss(model, ref_theta, x, y, loss)
    (ref_grad,) = torch.autograd.grad(ref_losses.sum(), ref_theta)
    grad = torch.full_like(theta, torch.nan)
    losses = Backprop(model, loss).loss_and_grad(theta, x, y, grad)
    torch.testing.assert_close(losses, ref_losses.detach(), rtol=1e-12, atol=1e-14)
    torch.testing.assert_close(grad, ref_grad, rtol=1e-10, atol=1e-13)


@pytest.mark.parametrize("arch", ARCHS)
def test_outputs_on_shared_inputs_equal_the_model_forward(arch):
    model, theta, x, _ = _problem(arch)
    bp = Backprop(model, "cross_entropy")
    for _ in range(2):  # the second call reuses the buffers
        out = bp.outputs(theta, bp.shared_input(x[0]))
        torch.testing.assert_close(out, model.forward(theta, x[0]).mT, rtol=1e-12, atol=1e-14)


def test_a_batch_of_another_size_gives_its_own_mean():
    model, theta, x, y = _problem("mlp-d1-w7", batch=2)
    bp, grad = Backprop(model, "mse"), torch.empty_like(theta)
    _, big_x, big_y = _problem("mlp-d1-w7", batch=11)[1:]
    bp.loss_and_grad(theta, big_x, big_y, grad)
    losses = bp.loss_and_grad(theta, x, y, grad)
    torch.testing.assert_close(losses, mean_loss(model, theta, x, y, "mse"), rtol=1e-12, atol=0)


@pytest.mark.parametrize("arch", ["mlp-d2-w6-tanh", "perceptron"])
def test_outputs_over_several_column_blocks_equal_the_model_forward(arch):
    """More samples than one block, and a count that is no multiple of the padding."""
    model, theta, _, _ = _problem(arch)
    x = torch.randn(2 * BLOCK + 21, 5, dtype=torch.float64)
    bp = Backprop(model, "mse")
    out = bp.outputs(theta, bp.shared_input(x))
    assert out.shape == (3, 4, x.shape[0])
    torch.testing.assert_close(out, model.forward(theta, x).mT, rtol=1e-12, atol=1e-14)


def test_parameters_changed_in_place_or_replaced_are_seen():
    """The layer views are kept for the same tensor, which an optimizer updates in place."""
    model, theta, x, y = _problem("mlp-d1-w7")
    bp, grad = Backprop(model, "cross_entropy"), torch.empty_like(theta)
    bp.loss_and_grad(theta, x, y, grad)
    theta.mul_(0.5)
    losses = bp.loss_and_grad(theta, x, y, grad)
    ref = mean_loss(model, theta, x, y, "cross_entropy")
    torch.testing.assert_close(losses, ref, rtol=1e-12, atol=0)
    other = theta.flip(0).contiguous()
    losses = bp.loss_and_grad(other, x, y, grad)
    ref = mean_loss(model, other, x, y, "cross_entropy")
    torch.testing.assert_close(losses, ref, rtol=1e-12, atol=0)
