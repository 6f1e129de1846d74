"""The MLP's fast path for grids: the first layer is linear in the coordinates.

Its pre-activations X·(W₀ + Σ cⱼDⱼ)ᵀ = X·W₀ᵀ + Σ cⱼ X·Dⱼᵀ come from k + 1 products
computed once per origin instead of one per point; later layers run as batched
matmuls over every point of a chunk, tanh in sigmoid form (about three times
cheaper on CPU).
"""

import math
from collections.abc import Callable

import torch

from statmech_nn.arch import Architecture
from statmech_nn.landscape.budget import chunk_size, memory_per_point
from statmech_nn.losses import loss_and_hits
from statmech_nn.nets import MLP
from statmech_nn.nets.mlp import ACTIVATIONS


def _tail_model(model: MLP) -> MLP | None:
    """The model of layers 1.. (their flat layout is that of this smaller MLP), or None."""
    if model.n_layers == 1:
        return None
    a = model.arch
    tail = Architecture(f"{a.name} after layer 0", a.depth - 1, a.width, a.activation, a.bias)
    return MLP(tail, a.width, model.out_dim)


def _sigmoid_form(model: MLP, v: torch.Tensor) -> torch.Tensor:
    """Parameters (..., P) of a tanh MLP rewritten for σ activations: the same outputs.

    tanh(u) = 2σ(2u) − 1, so a layer fed by tanh(u) computes W·tanh(u) + b =
    (2W)·σ(2u) + (b − W·1), and every hidden layer's weights and bias are
    doubled so that the next activation receives 2u. The map is linear in v
    (no constant term), so it applies to θ₀ and to the directions alike.
    torch's CPU sigmoid is about three times faster than its tanh; the
    rounding differs by ~1e-7.
    """
    params, out = model.unflatten(v), {}
    for name, t in params.items():
        layer, kind = name.split(".")
        index = int(layer.removeprefix("layer"))
        if index > 0 and kind == "weight":
            t = 2.0 * t
        elif index > 0:  # the bias absorbs −W·1 of the σ-form of the previous tanh
            t = t - params[f"{layer}.weight"].sum(-1)
        out[name] = 2.0 * t if index < model.n_layers - 1 else t
    return model.flatten(out)


def _first_layer_products(model: MLP, params: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """The first layer's X·Wᵀ + b for parameter sets (..., P): (..., n, width).

    For a one-layer model this is the output, returned classes first: (..., out, n).
    """
    p = model.unflatten(params)
    w, b = p["layer0.weight"], p.get("layer0.bias")
    if model.n_layers == 1:
        z = w @ x.mT
        return z if b is None else z + b.unsqueeze(-1)
    z = x @ w.mT
    return z if b is None else z + b.unsqueeze(-2)


def _workspace(model: MLP, count: int, n_samples: int, like: torch.Tensor) -> list[torch.Tensor]:
    """Flat buffers for :func:`_chunk_outputs` of up to ``count`` parameter sets.

    Allocated once per evaluation and reused by every chunk: a fresh allocation
    of a few MB per chunk is returned to the OS on free and page-faulted in
    again on the next chunk, which cost a third of the time on CPU.
    """
    rest = _tail_model(model)
    hidden = count * n_samples * model.arch.width
    sizes = [count * n_samples * model.out_dim]
    if rest is not None:
        sizes += [hidden, hidden, count * rest.n_params]
    return [like.new_empty(size) for size in sizes]


def _view(buffer: torch.Tensor, *shape: int) -> torch.Tensor:
    """The first elements of a flat ``buffer`` as a contiguous tensor of ``shape``."""
    return buffer[: math.prod(shape)].view(shape)


def _chunk_outputs(
    model: MLP, z: torch.Tensor, tail: torch.Tensor, c: torch.Tensor, work: list[torch.Tensor]
) -> torch.Tensor:
    """Network outputs (b·p, out, n), classes first, at θ₀ + Σⱼ cⱼdⱼ for b origins, p points.

    ``z`` (b, k + 1, n, width) holds the first layer's X·W₀ᵀ + b₀ and X·Dⱼᵀ + dⱼ
    (:func:`_first_layer_products`), ``tail`` (b, k + 1, P₁) the parameters of
    layers 1.. of θ₀ and the dⱼ; results go into the buffers ``work``
    (:func:`_workspace`). The same function as :meth:`MLP.forward` at each
    point, arranged for throughput: one product of the coordinates (1, c) with
    ``z`` gives the first layer, one with ``tail`` every point's later weights;
    those layers are batched matmuls over all b·p parameter sets with the bias
    folded in (``baddbmm``), and activations act in place. The last layer is
    computed as W·hᵀ (out, n): a narrow output layer makes a poor GEMM as
    h·Wᵀ (n, out), and the loss over classes first is faster too.
    """
    b, k1 = z.shape[:2]
    p, bp = c.shape[0], b * c.shape[0]
    c1 = torch.cat([c.new_ones(p, 1), c], dim=1).expand(b, p, k1)
    rest = _tail_model(model)
    if rest is None:
        return torch.bmm(c1, z.flatten(2), out=_view(work[0], b, p, z[0, 0].numel())).view(
            bp, *z.shape[2:]
        )
    n, width = z.shape[2:]
    h = torch.bmm(c1, z.flatten(2), out=_view(work[1], b, p, n * width)).view(bp, n, width)
    params = rest.unflatten(
        torch.bmm(c1, tail, out=_view(work[3], b, p, rest.n_params)).view(bp, -1)
    )
    act = _activation_in_place(
        "sigmoid" if model.arch.activation == "tanh" else rest.arch.activation
    )
    for layer in range(rest.n_layers):
        h = act(h)
        weight = params[f"layer{layer}.weight"]
        bias = params[f"layer{layer}.bias"]  # every MLP layer has one (only perceptrons do not)
        if layer < rest.n_layers - 1:
            out = _view(work[2 - layer % 2], bp, n, width)  # the buffer h is not in
            h = torch.baddbmm(bias.unsqueeze(-2), h, weight.mT, out=out)
        else:
            out = _view(work[0], bp, model.out_dim, n)
            h = torch.baddbmm(bias.unsqueeze(-1), weight, h.mT, out=out)
    return h


def _activation_in_place(name: str) -> Callable[[torch.Tensor], torch.Tensor]:
    """The activation, in place where torch has an in-place form (saves a large allocation)."""
    return getattr(torch, f"{name}_", None) or ACTIVATIONS[name]


def _mlp_grid(model: MLP, theta0, directions, coords, x, y, loss, memory_budget_mb):
    """The MLP's fast path: the first layer from k + 1 products per origin, later
    layers as batched matmuls over all points of a chunk (see :func:`evaluate_grid`)."""
    k = directions.shape[-2]
    per_point = memory_per_point(model, x.shape[0], theta0.element_size())
    n_points, n_batch = coords.shape[0], theta0.shape[0]
    points = chunk_size(per_point, memory_budget_mb, n_points)
    # the k + 1 products of one origin cost about k + 1 points; batch origins by the same budget
    origins = chunk_size(per_point * (points + k + 1), memory_budget_mb, n_batch)
    losses = theta0.new_empty(n_batch, n_points)
    accuracy = theta0.new_empty(n_batch, n_points)
    work = _workspace(model, origins * points, x.shape[0], theta0)
    n_first = sum(math.prod(s) for n, s in model.shapes.items() if n.startswith("layer0."))
    for b0 in range(0, n_batch, origins):
        vectors = torch.cat([theta0[b0 : b0 + origins, None], directions[b0 : b0 + origins]], 1)
        if model.arch.activation == "tanh" and model.n_layers > 1:
            vectors = _sigmoid_form(model, vectors)
        z = _first_layer_products(model, vectors, x)
        tail = vectors[..., n_first:]
        for p0 in range(0, n_points, points):
            out = _chunk_outputs(model, z, tail, coords[p0 : p0 + points], work)
            out = out.view(vectors.shape[0], -1, *out.shape[1:])
            per_sample, hits = loss_and_hits(out, y, loss)
            losses[b0 : b0 + origins, p0 : p0 + points] = per_sample.mean(-1)
            accuracy[b0 : b0 + origins, p0 : p0 + points] = hits.to(out.dtype).mean(-1)
    return losses, accuracy
