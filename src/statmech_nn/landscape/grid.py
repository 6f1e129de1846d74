"""Loss and accuracy on grids θ₀ + Σⱼ cⱼdⱼ (lines, planes, paths), batched over points.

Points are evaluated in chunks that fit a memory budget, all points of a
chunk in one batched forward pass of the network; an MLP takes its fast path
(:mod:`statmech_nn.landscape.mlp_grid`), pinned to the generic one by tests.
When one point's activations on all samples exceed the budget, the data are
walked in blocks of samples that fit (:func:`sample_block`), so memory stays
within the budget however large n × P grows; the losses are the blocks' sums
over n (tests pin chunked to unchunked).

Networks with buffers (BatchNorm) are evaluated with the statistics they are
given — ``buffers0 + Σⱼ cⱼ·buffer_directionsⱼ``, the same linear combination as
the parameters: a slice keeps its origin's running statistics at every point,
the path (1 − t)·θa + t·θb gets (1 − t)·buffers_a + t·buffers_b (the trained
networks in eval mode at its ends) — or, with ``buffers0 = None``, statistics
recomputed at every point on the network's bound training subset.

With ``weight_decay`` wd > 0 the loss is the training objective
J = L + (wd/2)‖θ‖² (:mod:`statmech_nn.objective`); the penalty is added in float64
from ‖θ₀‖², Dθ₀ and DDᵀ (no point formed), after the data loss.
"""

from dataclasses import dataclass

import torch

from statmech_nn.landscape.budget import chunk_size, memory_per_point
from statmech_nn.landscape.mlp_grid import _mlp_grid
from statmech_nn.losses import loss_and_hits
from statmech_nn.nets import MLP, Network
from statmech_nn.objective import Objective


@dataclass(frozen=True)
class GridValues:
    """Mean loss and accuracy at each grid point, shape (..., n_points) or (..., n, m)."""

    loss: torch.Tensor
    accuracy: torch.Tensor


def evaluate_grid(
    model: Network,
    theta0: torch.Tensor,
    directions: torch.Tensor,
    coords: torch.Tensor,
    x: torch.Tensor,
    y: torch.Tensor,
    loss: str,
    memory_budget_mb: float = 32.0,
    fast: bool = True,
    buffers0: torch.Tensor | None = None,
    buffer_directions: torch.Tensor | None = None,
    weight_decay: float = 0.0,
) -> GridValues:
    """Loss and accuracy at θ₀ + Σⱼ cⱼ dⱼ for every row c of ``coords`` (n_points, k).

    ``theta0`` (..., P) and ``directions`` (..., k, P) may carry leading batch
    dimensions (replicas, pairs, probes) that broadcast against each other; the
    result has shape (..., n_points). Loss is the mean of
    :func:`statmech_nn.train.per_sample_loss` over the samples ``x``, ``y``;
    accuracy the fraction of argmax hits. Points are evaluated in chunks that fit
    ``memory_budget_mb``, all points of a chunk in one broadcast pass; the first
    layer uses X·W₀ᵀ + Σ cⱼ X·Dⱼᵀ with the k + 1 products computed once per origin.
    Runs in the dtype of ``theta0``. An MLP takes its fast path unless ``fast`` is
    False (parity tests); any other network the generic one. Interpolation between θa and θb is
    ``evaluate_grid(model, θa, (θb − θa)[None], t[:, None], ...)``. ``buffers0``
    (..., B) and ``buffer_directions`` (..., k, B): running statistics at the points
    (see the module docstring); None recomputes them. ``weight_decay``: the loss is the
    objective L + (wd/2)‖θ‖² (see the module docstring).
    """
    k = directions.shape[-2]
    if coords.ndim != 2 or coords.shape[1] != k:
        raise ValueError(f"coords must be (n_points, {k}), got {tuple(coords.shape)}")
    lead = torch.broadcast_shapes(theta0.shape[:-1], directions.shape[:-2])
    theta0 = theta0.expand(*lead, theta0.shape[-1]).reshape(-1, theta0.shape[-1])
    directions = directions.expand(*lead, *directions.shape[-2:]).reshape(-1, k, theta0.shape[-1])
    coords = coords.to(theta0)
    x, y = x.to(theta0), y.to(theta0.device)
    buffers = _point_buffers(model, lead, k, buffers0, buffer_directions, theta0)
    grid = _mlp_grid if fast and isinstance(model, MLP) else _generic_grid
    n = x.shape[0]
    block = sample_block(model, n, theta0.element_size(), memory_budget_mb)
    losses = accuracy = theta0.new_zeros(())
    with torch.no_grad():
        for start in range(0, n, block):
            xb, yb = x[start : start + block], y[start : start + block]
            args = (model, theta0, directions, coords, xb, yb, loss, memory_budget_mb)
            part = grid(*args, *buffers) if buffers else grid(*args)
            share = len(yb) / n  # the block's mean, weighted: the mean over all samples
            losses, accuracy = losses + share * part[0], accuracy + share * part[1]
    if weight_decay:
        penalty = Objective(loss, weight_decay).grid_penalty(theta0, directions, coords)
        losses = (losses.double() + penalty).to(losses.dtype)
    n_points = coords.shape[0]
    return GridValues(losses.reshape(*lead, n_points), accuracy.reshape(*lead, n_points))


def sample_block(model: Network, n_samples: int, itemsize: int, memory_budget_mb: float) -> int:
    """Samples per block: all of them when one grid point's activations on all samples fit
    ``memory_budget_mb``, else as many as fit (at least 1)."""
    per_sample = itemsize * model.activations_per_sample
    room = memory_budget_mb * 2**20 - itemsize * model.n_params
    return int(max(1, min(n_samples, room // max(per_sample, 1))))


def _point_buffers(model, lead, k, buffers0, buffer_directions, theta0):
    """(buffers (L, B), directions (L, k, B) or None) flattened like θ₀, or () without."""
    if buffers0 is None or model.n_buffers == 0:
        return ()
    b0 = buffers0.to(theta0).expand(*lead, model.n_buffers).reshape(-1, model.n_buffers)
    if buffer_directions is None:
        return (b0, None)
    db = buffer_directions.to(theta0).expand(*lead, k, model.n_buffers)
    return (b0, db.reshape(-1, k, model.n_buffers))


def _generic_grid(
    model: Network, theta0, directions, coords, x, y, loss, budget, buffers0=None, db=None
):
    """Any network: chunks of (origin, point) pairs, each chunk's parameter vectors
    θ₀ + Σⱼ cⱼdⱼ (and buffers, where given) formed and passed through the network's
    batched forward at once."""
    n_points, n_batch = coords.shape[0], theta0.shape[0]
    total = n_batch * n_points
    per_point = memory_per_point(model, x.shape[0], theta0.element_size())
    step = chunk_size(per_point, budget, total)
    losses, accuracy = theta0.new_empty(total), theta0.new_empty(total)
    for start in range(0, total, step):
        idx = torch.arange(start, min(start + step, total), device=theta0.device)
        origin, point = idx // n_points, idx % n_points
        params = theta0[origin] + torch.einsum("ck,ckp->cp", coords[point], directions[origin])
        buffers = None
        if buffers0 is not None:
            buffers = buffers0[origin]
            if db is not None:
                buffers = buffers + torch.einsum("ck,ckb->cb", coords[point], db[origin])
        out = model.forward(params, x, buffers).movedim(-1, -2)  # (chunk, classes, n)
        per_sample, hits = loss_and_hits(out, y, loss)
        losses[start : start + len(idx)] = per_sample.mean(-1)
        accuracy[start : start + len(idx)] = hits.to(out.dtype).mean(-1)
    return losses.view(n_batch, n_points), accuracy.view(n_batch, n_points)


def line(
    model: Network,
    theta0: torch.Tensor,
    direction: torch.Tensor,
    t: torch.Tensor,
    x: torch.Tensor,
    y: torch.Tensor,
    loss: str,
    memory_budget_mb: float = 32.0,
    buffers0: torch.Tensor | None = None,
    buffer_direction: torch.Tensor | None = None,
    weight_decay: float = 0.0,
) -> GridValues:
    """Loss and accuracy along θ₀ + t·d for θ₀ (..., P), d (..., P), t (n,): shape (..., n);
    running statistics ``buffers0 + t·buffer_direction`` where given (see the module);
    the objective L + (wd/2)‖θ‖² with ``weight_decay``."""
    db = None if buffer_direction is None else buffer_direction.unsqueeze(-2)
    return evaluate_grid(
        model, theta0, direction.unsqueeze(-2), t.reshape(-1, 1), x, y, loss, memory_budget_mb,
        buffers0=buffers0, buffer_directions=db, weight_decay=weight_decay,
    )  # fmt: skip


def interpolate(
    model: Network,
    theta_a: torch.Tensor,
    theta_b: torch.Tensor,
    t: torch.Tensor,
    x: torch.Tensor,
    y: torch.Tensor,
    loss: str,
    memory_budget_mb: float = 32.0,
    buffers_a: torch.Tensor | None = None,
    buffers_b: torch.Tensor | None = None,
    weight_decay: float = 0.0,
) -> GridValues:
    """Loss and accuracy on the straight path (1 − t)·θa + t·θb: shape (..., n).

    With running statistics ``buffers_a``, ``buffers_b`` (BatchNorm, ``eval``) the
    point at t is evaluated with (1 − t)·buffers_a + t·buffers_b, interpolated as the
    parameters are; without, statistics are recomputed at every point. ``weight_decay``:
    the objective L + (wd/2)‖θ‖² (see the module).
    """
    db = None if buffers_a is None else buffers_b - buffers_a
    return line(
        model, theta_a, theta_b - theta_a, t, x, y, loss, memory_budget_mb, buffers_a, db,
        weight_decay,
    )  # fmt: skip


def plane(
    model: Network,
    theta0: torch.Tensor,
    d1: torch.Tensor,
    d2: torch.Tensor,
    a: torch.Tensor,
    b: torch.Tensor,
    x: torch.Tensor,
    y: torch.Tensor,
    loss: str,
    memory_budget_mb: float = 32.0,
) -> GridValues:
    """Loss and accuracy on θ₀ + a·d1 + b·d2 for a (n,), b (m,): shape (..., n, m)."""
    coords = torch.cartesian_prod(a, b).reshape(-1, 2)
    values = evaluate_grid(
        model, theta0, torch.stack([d1, d2], dim=-2), coords, x, y, loss, memory_budget_mb
    )
    shape = (*values.loss.shape[:-1], a.numel(), b.numel())
    return GridValues(values.loss.reshape(shape), values.accuracy.reshape(shape))
