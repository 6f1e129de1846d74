"""Training and evaluation of any :class:`~statmech_nn.nets.base.Network` by ``torch.func``.

The per-replica mean loss ℓ_r(θ_r) = (1/n) Σᵢ loss(f(θ_r, xᵢ), yᵢ) and its gradient
come from ``vmap(grad_and_value(ℓ))`` over the stacked parameters (R, P): each
replica gets exactly its own gradient, as the MLP's hand-written backward gives
(parity tests pin the two together).

Buffers (BatchNorm running statistics) are kept per replica, (R, B), and updated
after every training step as torch does: running ← (1 − m)·running + m·batch with
the layer's ``momentum`` m (or m = 1/steps when it is None, a cumulative average),
the batch mean and the unbiased batch variance (tests pin them to torch's own).
"""

from contextlib import contextmanager, nullcontext

import torch
from torch.func import grad_and_value, vmap

from statmech_nn.losses import per_sample_loss

EVAL_BUDGET_MB = 256.0  # activations of one block of samples in an evaluation


class FunctionalTrainer:
    """Mean loss, gradient and outputs of ``network`` for stacked parameters (R, P);
    ``buffers`` (R, B) are the replicas' running statistics (None without any)."""

    def __init__(self, network, loss: str):
        self.network, self.loss = network, loss
        self.buffers: torch.Tensor | None = None
        self.steps = 0  # training steps the buffers have seen (torch's num_batches_tracked)
        self._tracking = network.n_buffers > 0

        if self._tracking:

            def mean_loss(theta, x, y):
                out, stats = network.forward_train_statistics(theta, x)
                return per_sample_loss(out, y, loss).mean(), stats

            self._step = vmap(grad_and_value(mean_loss, has_aux=True))
        else:

            def mean_loss(theta, x, y):
                return per_sample_loss(network.forward_train(theta, x), y, loss).mean()

            self._step = vmap(grad_and_value(mean_loss))

    def loss_and_grad(
        self, theta: torch.Tensor, x: torch.Tensor, y: torch.Tensor, out: torch.Tensor
    ) -> torch.Tensor:
        """Per-replica mean loss (R,) on batches ``x`` (R, n, features), ``y`` (R, n);
        writes every replica's own gradient into ``out`` (R, P) and, for a network with
        buffers, updates every replica's running statistics with its batch's."""
        if not self._tracking:
            grads, losses = self._step(theta, x, y)
        else:
            grads, (losses, stats) = self._step(theta, x, y)
            self._update(stats.detach())
        out.copy_(grads)
        return losses.detach()

    def _update(self, stats: torch.Tensor) -> None:
        if self.buffers is None:
            self.buffers = self.network.init_buffers(stats.shape[0], stats.dtype).to(stats.device)
        self.steps += 1
        m = self.network.buffer_momentum.to(stats)
        m = torch.where(torch.isnan(m), 1.0 / self.steps, m)
        self.buffers.mul_(1 - m).add_(m * stats)

    @contextmanager
    def frozen(self):
        """Steps taken inside leave the running statistics as they were (evaluations
        such as full-batch gradients are not training steps)."""
        tracking, self._tracking = self._tracking, False
        step, self._step = self._step, _untracked(self._step) if tracking else self._step
        try:
            yield
        finally:
            self._tracking, self._step = tracking, step

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


def _untracked(step):
    """A tracking step's (grads, losses), its batch statistics dropped."""

    def apply(theta, x, y):
        grads, (losses, _) = step(theta, x, y)
        return grads, losses

    return apply


def full_batch_gradient(bp, theta: torch.Tensor, x: torch.Tensor, y: torch.Tensor):
    """Mean training loss (R,) and its gradient (R, P) on the whole set ``x`` (n, features)
    for every replica, by the network's trainer ``bp`` (inputs shared, not copied);
    running statistics, where the trainer keeps any, are left unchanged."""
    grad = torch.empty_like(theta)
    r = theta.shape[0]
    with getattr(bp, "frozen", nullcontext)():
        loss = bp.loss_and_grad(theta, x.expand(r, *x.shape), y.expand(r, *y.shape), grad)
    return loss, grad
