"""Training and evaluation of any :class:`~statmech_nn.nets.base.Network` by ``torch.func``.

The per-replica mean loss ℓ_r(θ_r) = (1/n) Σᵢ loss(f(θ_r, xᵢ), yᵢ) and its gradient
come from ``vmap(grad_and_value(ℓ))`` over the stacked parameters (R, P): each
replica gets exactly its own gradient, as the MLP's hand-written backward gives
(parity tests pin the two together).
"""

import torch
from torch.func import grad_and_value, vmap

from statmech_nn.losses import per_sample_loss

EVAL_BUDGET_MB = 256.0  # activations of one block of samples in an evaluation


class FunctionalTrainer:
    """Mean loss, gradient and outputs of ``network`` for stacked parameters (R, P)."""

    def __init__(self, network, loss: str):
        self.network, self.loss = network, loss

        def mean_loss(theta, x, y):
            return per_sample_loss(network.forward_train(theta, x), y, loss).mean()

        self._step = vmap(grad_and_value(mean_loss))

    def loss_and_grad(
        self, theta: torch.Tensor, x: torch.Tensor, y: torch.Tensor, out: torch.Tensor
    ) -> torch.Tensor:
        """Per-replica mean loss (R,) on batches ``x`` (R, n, features), ``y`` (R, n);
        writes every replica's own gradient into ``out`` (R, P)."""
        grads, losses = self._step(theta, x, y)
        out.copy_(grads)
        return losses.detach()

    def shared_input(self, x: torch.Tensor) -> torch.Tensor:
        """Inputs (n, features) shared by all replicas, as :meth:`outputs` takes them."""
        return x

    def outputs(self, theta: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """Outputs (R, classes, n), classes first, in blocks of samples within a budget."""
        per_sample = self.network.activations_per_sample * theta.shape[0] * theta.element_size()
        block = max(1, int(EVAL_BUDGET_MB * 2**20 // max(per_sample, 1)))
        with torch.no_grad():
            parts = [self.network.forward(theta, xb) for xb in x.split(block)]
        return torch.cat(parts, dim=-2).movedim(-1, -2)


def full_batch_gradient(bp, theta: torch.Tensor, x: torch.Tensor, y: torch.Tensor):
    """Mean training loss (R,) and its gradient (R, P) on the whole set ``x`` (n, features)
    for every replica, by the network's trainer ``bp`` (inputs shared, not copied)."""
    grad = torch.empty_like(theta)
    r = theta.shape[0]
    loss = bp.loss_and_grad(theta, x.expand(r, *x.shape), y.expand(r, *y.shape), grad)
    return loss, grad
