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
        self._step = self._make_step()

    def _make_step(self):
        """``step(θ (R, P), x (R, n, features), y (R, n))`` -> (grads (R, P), losses (R,)),
        with losses (losses, batch statistics (R, B)) for a network with buffers."""
        network, loss = self.network, self.loss
        if self._tracking:

            def mean_loss(theta, x, y):
                out, stats = network.forward_train_statistics(theta, x)
                return per_sample_loss(out, y, loss).mean(), stats

            return vmap(grad_and_value(mean_loss, has_aux=True))

        def plain_loss(theta, x, y):
            return per_sample_loss(network.forward_train(theta, x), y, loss).mean()

        return vmap(grad_and_value(plain_loss))

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


class StackedTrainer(FunctionalTrainer):
    """A :class:`FunctionalTrainer` for networks that pass a stack of replicas at once
    (``network.train_outputs(θ (R, P), x (R, n, features))`` -> outputs (R, n, classes)
    and batch statistics (R, B) or None): every replica's gradient from one backward of
    the summed per-replica mean losses, which are independent, instead of ``vmap``."""

    def _make_step(self):
        network, loss, tracking = self.network, self.loss, self._tracking

        def step(theta, x, y):
            with torch.enable_grad():
                leaf = theta.detach().requires_grad_(True)
                out, stats = network.train_outputs(leaf, x)
                losses = per_sample_loss(out, y, loss).mean(-1)
                (grads,) = torch.autograd.grad(losses.sum(), leaf)
            losses = losses.detach()
            return (grads, (losses, stats.detach())) if tracking else (grads, losses)

        return step


def gradient_block(network, n: int, replicas: int, itemsize: int) -> int:
    """Samples per block of a full-batch gradient: all ``n`` when the forward and backward
    activations of all replicas fit :data:`EVAL_BUDGET_MB`, else as many as fit."""
    per_sample = 3 * getattr(network, "activations_per_sample", 0) * replicas * itemsize
    return int(max(1, min(n, EVAL_BUDGET_MB * 2**20 // max(per_sample, 1))))


def full_batch_gradient(bp, theta: torch.Tensor, x: torch.Tensor, y: torch.Tensor):
    """Mean training loss (R,) and its gradient (R, P) on the whole set ``x`` (n, features)
    for every replica, by the network's trainer ``bp`` (inputs shared, not copied);
    running statistics, where the trainer keeps any, are left unchanged.

    Without buffers the samples are walked in blocks within the memory budget
    (:func:`gradient_block`), the mean being Σ_b (n_b/n)·mean_b; a network with
    BatchNorm takes the whole set at once (its batch statistics are the set's).
    """
    r, n = theta.shape[0], y.shape[0]
    network = getattr(bp, "network", None)
    block = n
    if network is not None and network.n_buffers == 0:
        block = gradient_block(network, n, r, theta.element_size())
    grad, part = torch.zeros_like(theta), torch.empty_like(theta)
    loss = None
    with getattr(bp, "frozen", nullcontext)():
        for xb, yb in zip(x.split(block), y.split(block), strict=True):
            value = bp.loss_and_grad(theta, xb.expand(r, *xb.shape), yb.expand(r, *yb.shape), part)
            if block == n:
                return value, part
            share = yb.shape[0] / n
            grad.add_(part, alpha=share)
            loss = value * share if loss is None else loss + value * share
    return loss, grad
