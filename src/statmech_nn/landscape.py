"""Loss-landscape slices: directions, batched grid evaluation, projected curvature.

A slice is the loss on the affine set θ₀ + Σⱼ cⱼ dⱼ for coordinates c on a
grid (a line, k = 1, or a plane, k = 2). Directions are

- random Gaussian, rescaled per normalisation group (Li et al., "Visualizing the
  loss landscape of neural nets", NeurIPS 2018): ``filter`` makes every row of
  every weight matrix as long as the matching row of θ, ``layer`` every tensor,
  ``global`` the whole vector (|d| = |θ|), ``unit`` gives |d| = 1; 1-D tensors
  (biases) are zeroed or normalised as one group (``bias``);
- the Hessian's extreme eigenvectors (λmax, λmin), passed in as arrays;
- the top principal components of a training trajectory;
- the segment from one replica to another (θ₀ = θa, d = θb − θa).

Two random axes are made orthogonal *within every normalisation group* before
the groups are rescaled: rescaling a group by a positive number keeps the
group's inner product zero, so the pair stays exactly orthogonal after
normalisation (global orthogonalisation followed by per-filter rescaling does
not, a known bug of existing tools).

Grids are evaluated in chunks of points, all points of a chunk in one
broadcast forward pass. The first layer is linear in the coordinates, so its
pre-activations X·(W₀ + Σ cⱼDⱼ)ᵀ = X·W₀ᵀ + Σ cⱼ X·Dⱼᵀ come from k + 1 products
computed once per origin instead of one per point.

Projected curvature along δ at θ (Böttcher & Wheeler, J. Stat. Mech. 2024):
κ(δ) = δᵀHδ / |δ|², exactly by Hessian-vector products or by finite differences
[L(θ+hu) − 2L(θ) + L(θ−hu)] / h² with u = δ/|δ|. For δ ~ N(0, I_P),
E[δᵀHδ] = tr H and E[κ] = tr H / P: random slices show the mean curvature.
"""

import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import torch
import xarray as xr
from torch.func import vmap

from statmech_nn.arch import Architecture
from statmech_nn.dims import PARAM, REPLICA, SNAPSHOT
from statmech_nn.errors import InputError
from statmech_nn.hessian import hvp
from statmech_nn.io import labelled
from statmech_nn.losses import loss_and_hits, loss_units, per_sample_loss
from statmech_nn.nets import MLP, Network, network_from_attrs
from statmech_nn.nets.mlp import ACTIVATIONS
from statmech_nn.train import resolve_device

NORMALISATIONS = ("filter", "layer", "global", "unit")
BIAS_MODES = ("zero", "normalise")
AXIS_KINDS = ("random", "hessian_max", "hessian_min", "pca1", "pca2", "segment")
AXIS_NAMES = ("a", "b")
LossFn = Callable[[torch.Tensor], torch.Tensor]


# ---------------------------------------------------------------- directions


def normalisation_groups(model: Network, normalisation: str, bias: str) -> tuple[torch.Tensor, int]:
    """Group id of every flat parameter for ``normalisation`` and the number of groups.

    ``filter``: one group per row (output unit) of each weight matrix and per output
    channel (filter) of each convolution kernel; ``layer``:
    one per tensor; ``global`` and ``unit``: one for everything. 1-D tensors
    (biases, and the scales and shifts of normalisation layers) form one group
    each when ``bias == "normalise"``; with ``"zero"`` (Li et al.'s choice) they
    get the id ``n_groups`` (outside every group), which the normalisation sets
    to zero.
    """
    if normalisation not in NORMALISATIONS:
        raise InputError(f"normalisation {normalisation!r}: expected one of {NORMALISATIONS}")
    if bias not in BIAS_MODES:
        raise InputError(f"bias {bias!r}: expected one of {BIAS_MODES}")
    ids: list[torch.Tensor] = []
    n_groups = 1 if normalisation in ("global", "unit") else 0
    for shape in model.shapes.values():
        size = math.prod(shape)
        if len(shape) == 1 and bias == "zero":
            ids.append(torch.full((size,), -1))
        elif normalisation in ("global", "unit"):
            ids.append(torch.zeros(size, dtype=torch.long))
        elif normalisation == "filter" and len(shape) >= 2:
            ids.append(n_groups + torch.arange(shape[0]).repeat_interleave(size // shape[0]))
            n_groups += shape[0]
        else:  # a whole tensor: layer normalisation, or a 1-D tensor under filter
            ids.append(torch.full((size,), n_groups))
            n_groups += 1
    gid = torch.cat(ids)
    return torch.where(gid < 0, n_groups, gid), n_groups


def _group_sums(v: torch.Tensor, gid: torch.Tensor, n_groups: int) -> torch.Tensor:
    """Sums of ``v`` (..., P) over each group: (..., n_groups + 1), last = excluded entries."""
    out = v.new_zeros(*v.shape[:-1], n_groups + 1)
    return out.index_add_(-1, gid.to(v.device), v)


def normalise_direction(
    model: Network, d: torch.Tensor, theta: torch.Tensor, normalisation: str, bias: str = "zero"
) -> torch.Tensor:
    """Rescale every group of ``d`` (..., P) to the norm of the same group of ``theta``.

    Filter normalisation (Li et al. 2018): dᵢ ← dᵢ |θᵢ| / |dᵢ| for every row i
    of every weight matrix. ``unit`` rescales the whole vector to |d| = 1.
    Groups where d or θ vanish become zero; so do biases with ``bias="zero"``.
    """
    gid, n = normalisation_groups(model, normalisation, bias)
    d_norm = _group_sums(d * d, gid, n).sqrt()
    if normalisation == "unit":
        target = torch.ones_like(d_norm)
    else:
        target = _group_sums(theta * theta, gid, n).sqrt().expand_as(d_norm)
    scale = torch.where(d_norm > 0, target / d_norm.clamp_min(torch.finfo(d.dtype).tiny), 0.0)
    scale[..., n] = 0.0
    return d * scale[..., gid.to(d.device)]


def orthogonalise_within_groups(
    model: Network, d: torch.Tensor, against: torch.Tensor, normalisation: str, bias: str = "zero"
) -> torch.Tensor:
    """Remove from every group of ``d`` its projection on the same group of ``against``.

    Afterwards ⟨d_g, against_g⟩ = 0 for every group g, so any positive per-group
    rescaling (filter, layer or global normalisation) keeps ⟨d, against⟩ = 0.
    A one-element group cannot be orthogonal and non-zero: there d becomes 0.
    """
    gid, n = normalisation_groups(model, normalisation, bias)
    dot = _group_sums(d * against, gid, n)
    sq = _group_sums(against * against, gid, n)
    coef = torch.where(sq > 0, dot / sq.clamp_min(torch.finfo(d.dtype).tiny), 0.0)
    return d - coef[..., gid.to(d.device)] * against


def random_directions(
    model: Network,
    theta: torch.Tensor,
    k: int,
    normalisation: str = "filter",
    bias: str = "zero",
    generator: torch.Generator | None = None,
    against: torch.Tensor | None = None,
) -> torch.Tensor:
    """``k`` Gaussian directions (..., k, P) per θ (..., P), normalised and mutually orthogonal.

    Direction j is drawn from N(0, I), made orthogonal within every
    normalisation group to the earlier ones (and to the rows of ``against``,
    (..., m, P), if given) and then normalised (:func:`normalise_direction`).
    """
    shape = (*theta.shape[:-1], k, theta.shape[-1])
    raw = torch.randn(shape, generator=generator, dtype=torch.float64).to(theta)
    previous = [] if against is None else list(against.unbind(-2))
    out = []
    for j in range(k):
        d = raw[..., j, :]
        for p in previous:
            d = orthogonalise_within_groups(model, d, p, normalisation, bias)
        d = normalise_direction(model, d, theta, normalisation, bias)
        previous.append(d)
        out.append(d)
    return torch.stack(out, dim=-2)


def scale_direction(d: torch.Tensor, theta: torch.Tensor, normalisation: str) -> torch.Tensor:
    """Rescale a given direction (eigenvector, principal component) as a whole.

    ``unit``: |d| = 1; otherwise |d| = |θ| (per-group normalisation would destroy
    the eigenvector property, so filter and layer act globally here).
    """
    target = 1.0 if normalisation == "unit" else theta.norm(dim=-1, keepdim=True)
    return d * (target / d.norm(dim=-1, keepdim=True))


def pca_directions(snapshots: torch.Tensor, final: torch.Tensor, k: int = 2):
    """Top-``k`` principal directions of a training trajectory (Li et al. 2018, §7).

    ``snapshots`` (..., S, P) are parameters along training, ``final`` (..., P)
    the trained point; the rows θₛ − θ_final are centred and decomposed by SVD.
    Returns unit directions (..., k, P) and the explained variance ratios (..., k).
    """
    diff = snapshots - final.unsqueeze(-2)
    diff = diff - diff.mean(dim=-2, keepdim=True)
    _, s, vh = torch.linalg.svd(diff, full_matrices=False)
    var = s**2
    ratio = var[..., :k] / var.sum(-1, keepdim=True).clamp_min(torch.finfo(var.dtype).tiny)
    # fix the sign (largest-magnitude entry positive) so reruns agree
    v = vh[..., :k, :]
    sign = torch.sign(v.gather(-1, v.abs().argmax(-1, keepdim=True)))
    return v * sign, ratio


# ---------------------------------------------------------------- evaluation


def memory_per_point(model: Network, n_samples: int, itemsize: int) -> int:
    """Bytes one grid point needs in a chunk (activations, outputs, parameters), an estimate."""
    return itemsize * (n_samples * model.activations_per_sample + model.n_params)


def chunk_size(bytes_per_item: int, memory_budget_mb: float, total: int) -> int:
    """How many items fit into the memory budget (at least 1, at most ``total``)."""
    return int(max(1, min(total, memory_budget_mb * 2**20 // max(bytes_per_item, 1))))


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
    ``evaluate_grid(model, θa, (θb − θa)[None], t[:, None], ...)``.
    """
    k = directions.shape[-2]
    if coords.ndim != 2 or coords.shape[1] != k:
        raise ValueError(f"coords must be (n_points, {k}), got {tuple(coords.shape)}")
    lead = torch.broadcast_shapes(theta0.shape[:-1], directions.shape[:-2])
    theta0 = theta0.expand(*lead, theta0.shape[-1]).reshape(-1, theta0.shape[-1])
    directions = directions.expand(*lead, *directions.shape[-2:]).reshape(-1, k, theta0.shape[-1])
    coords = coords.to(theta0)
    x, y = x.to(theta0), y.to(theta0.device)
    grid = _mlp_grid if fast and isinstance(model, MLP) else _generic_grid
    with torch.no_grad():
        losses, accuracy = grid(model, theta0, directions, coords, x, y, loss, memory_budget_mb)
    n_points = coords.shape[0]
    return GridValues(losses.reshape(*lead, n_points), accuracy.reshape(*lead, n_points))


def _generic_grid(model: Network, theta0, directions, coords, x, y, loss, budget):
    """Any network: chunks of (origin, point) pairs, each chunk's parameter vectors
    θ₀ + Σⱼ cⱼdⱼ formed and passed through the network's batched forward at once."""
    n_points, n_batch = coords.shape[0], theta0.shape[0]
    total = n_batch * n_points
    per_point = memory_per_point(model, x.shape[0], theta0.element_size())
    step = chunk_size(per_point, budget, total)
    losses, accuracy = theta0.new_empty(total), theta0.new_empty(total)
    for start in range(0, total, step):
        idx = torch.arange(start, min(start + step, total), device=theta0.device)
        origin, point = idx // n_points, idx % n_points
        params = theta0[origin] + torch.einsum("ck,ckp->cp", coords[point], directions[origin])
        out = model.forward(params, x).movedim(-1, -2)  # (chunk, classes, n)
        per_sample, hits = loss_and_hits(out, y, loss)
        losses[start : start + len(idx)] = per_sample.mean(-1)
        accuracy[start : start + len(idx)] = hits.to(out.dtype).mean(-1)
    return losses.view(n_batch, n_points), accuracy.view(n_batch, n_points)


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


def line(
    model: Network,
    theta0: torch.Tensor,
    direction: torch.Tensor,
    t: torch.Tensor,
    x: torch.Tensor,
    y: torch.Tensor,
    loss: str,
    memory_budget_mb: float = 32.0,
) -> GridValues:
    """Loss and accuracy along θ₀ + t·d for θ₀ (..., P), d (..., P), t (n,): shape (..., n)."""
    return evaluate_grid(
        model, theta0, direction.unsqueeze(-2), t.reshape(-1, 1), x, y, loss, memory_budget_mb
    )


def interpolate(
    model: Network,
    theta_a: torch.Tensor,
    theta_b: torch.Tensor,
    t: torch.Tensor,
    x: torch.Tensor,
    y: torch.Tensor,
    loss: str,
    memory_budget_mb: float = 32.0,
) -> GridValues:
    """Loss and accuracy on the straight path (1 − t)·θa + t·θb: shape (..., n)."""
    return line(model, theta_a, theta_b - theta_a, t, x, y, loss, memory_budget_mb)


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


# ---------------------------------------------------------------- curvature


@dataclass(frozen=True)
class ProjectedCurvatures:
    """Curvature of the loss along directions δ (..., M): see :func:`projected_curvatures`."""

    quadratic_form: torch.Tensor  # δᵀHδ
    curvature: torch.Tensor  # δᵀHδ / |δ|²
    curvature_fd: torch.Tensor  # second difference along δ/|δ|, divided by h²
    hessian_times: torch.Tensor  # Hδ (..., M, P)


def projected_curvatures(
    loss_fn: LossFn,
    theta: torch.Tensor,
    directions: torch.Tensor,
    fd_step: float,
    chunk: int | None = None,
) -> ProjectedCurvatures:
    """Exact and finite-difference curvature of ``loss_fn`` at θ along each direction.

    ``loss_fn`` maps parameters (..., P) to losses (...) and broadcasts; θ is
    (..., P), ``directions`` (..., M, P). Exact: δᵀHδ by forward-over-reverse
    HVP (vectorised over the M directions in chunks of ``chunk``; the Hessian of
    Σ loss over leading dims is block-diagonal, so every θ gets its own H).
    Finite differences: [L(θ+hu) − 2L(θ) + L(θ−hu)] / h² with u = δ/|δ|,
    error O(h²) plus rounding O(ε L / h²).
    """

    def total(th: torch.Tensor) -> torch.Tensor:
        return loss_fn(th).sum()

    v = directions.movedim(-2, 0)
    hv = vmap(lambda d: hvp(total, theta, d), chunk_size=chunk)(v).movedim(0, -2)
    quad = (directions * hv).sum(-1)
    sq = (directions * directions).sum(-1)
    u = directions / sq.sqrt().unsqueeze(-1)
    centre = loss_fn(theta).unsqueeze(-1)
    step = chunk or u.shape[-2]
    fd = []
    with torch.no_grad():
        for s in range(0, u.shape[-2], step):
            us = u[..., s : s + step, :]
            plus = loss_fn(theta.unsqueeze(-2) + fd_step * us)
            minus = loss_fn(theta.unsqueeze(-2) - fd_step * us)
            fd.append((plus - 2 * centre + minus) / fd_step**2)
    return ProjectedCurvatures(quad.detach(), (quad / sq).detach(), torch.cat(fd, -1), hv.detach())


def plane_curvatures(d1: torch.Tensor, d2: torch.Tensor, h1: torch.Tensor, h2: torch.Tensor):
    """Eigenvalues (..., 2), ascending, of the Hessian projected on the plane span(d1, d2).

    ``h1``, ``h2`` are H·d1, H·d2. The plane is given an orthonormal basis by
    Gram–Schmidt (linear, so H applied to it is the same combination of h1, h2);
    the smaller eigenvalue is negative iff the plane shows negative curvature.
    """
    n1 = d1.norm(dim=-1, keepdim=True)
    e1, g1 = d1 / n1, h1 / n1
    c = (e1 * d2).sum(-1, keepdim=True)
    r = d2 - c * e1
    n2 = r.norm(dim=-1, keepdim=True)
    e2, g2 = r / n2, (h2 - c * g1) / n2
    m11, m22 = (e1 * g1).sum(-1), (e2 * g2).sum(-1)
    m12 = 0.5 * ((e1 * g2).sum(-1) + (e2 * g1).sum(-1))
    m = torch.stack([torch.stack([m11, m12], -1), torch.stack([m12, m22], -1)], -2)
    return torch.linalg.eigvalsh(m)


def model_loss(model: Network, x: torch.Tensor, y: torch.Tensor, loss: str) -> LossFn:
    """The mean training loss as a function of parameters (..., P)."""
    return lambda theta: per_sample_loss(model.forward(theta, x), y, loss).mean(-1)


def _mean_sem(v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    n = v.shape[-1]
    std = v.std(-1) if n > 1 else torch.zeros_like(v[..., 0])
    return v.mean(-1), std, std / math.sqrt(n)


def curvature_statistics(
    model: Network,
    theta: torch.Tensor,
    x: torch.Tensor,
    y: torch.Tensor,
    loss: str,
    n_directions: int,
    fd_step: float,
    seed: int,
    hessian_vectors: torch.Tensor,
    trace: torch.Tensor | None = None,
    memory_budget_mb: float = 32.0,
    device: torch.device | str = "cpu",
) -> xr.Dataset:
    """Curvature seen by random projections at trained points θ (replica, P), in float64.

    For M Gaussian directions δ ~ N(0, I_P) per replica: δᵀHδ (mean tr H,
    variance 2 tr H²) and κ = δᵀHδ / |δ|² (the unit-norm view, mean tr H / P),
    exactly and by finite differences with step ``fd_step``; the two-dimensional
    curvatures of the M // 2 random planes span(δ₂ᵢ, δ₂ᵢ₊₁); and the same along
    the Hessian's extreme eigenvectors ``hessian_vectors`` (replica, 2, P),
    order (max, min), whose Rayleigh quotients are λmax and λmin. ``trace``
    (replica,) is tr H from the Hessian stage, stored next to the means.
    """
    dt = torch.float64
    theta, x, y = theta.to(device, dt), x.to(device, dt), y.to(device)
    fn = model_loss(model, x, y, loss)
    gen = torch.Generator().manual_seed(seed % 2**63)  # drawn on the CPU: the same on any device
    deltas = torch.randn(*theta.shape[:-1], n_directions, theta.shape[-1], generator=gen, dtype=dt)
    deltas, hessian_vectors = deltas.to(device), hessian_vectors.to(device, dt)
    # forward-over-reverse keeps about four copies of the activations per direction
    per_dir = 4 * memory_per_point(model, x.shape[0], 8) * max(1, theta[..., 0].numel())
    chunk = chunk_size(per_dir, memory_budget_mb, n_directions)
    rand = projected_curvatures(fn, theta, deltas, fd_step, chunk)
    hess = projected_curvatures(fn, theta, hessian_vectors, fd_step, chunk)
    m2 = n_directions // 2 * 2
    planes = plane_curvatures(
        deltas[..., 0:m2:2, :],
        deltas[..., 1:m2:2, :],
        rand.hessian_times[..., 0:m2:2, :],
        rand.hessian_times[..., 1:m2:2, :],
    )
    hess_plane = plane_curvatures(*hessian_vectors.unbind(-2), *hess.hessian_times.unbind(-2))
    q_mean, q_std, q_sem = _mean_sem(rand.quadratic_form)
    k_mean, k_std, k_sem = _mean_sem(rand.curvature)
    n_params = model.n_params
    r, tr, dr, pl, wh = REPLICA, "trial", (REPLICA,), "plane", "which"
    data = {
        "quadratic_form": labelled(rand.quadratic_form, (r, tr), "δᵀHδ for Gaussian δ ~ N(0, I)"),
        "curvature": labelled(rand.curvature, (r, tr), "projected curvature δᵀHδ/|δ|² (HVP)"),
        "curvature_fd": labelled(
            rand.curvature_fd, (r, tr), "projected curvature by finite differences"
        ),
        "plane_curvature": labelled(
            planes, (r, pl, "eigen2d"), "eigenvalues of H projected on a random plane"
        ),
        "hessian_curvature": labelled(
            hess.curvature, (r, wh), "curvature along the Hessian eigenvector (HVP)"
        ),
        "hessian_curvature_fd": labelled(
            hess.curvature_fd, (r, wh), "curvature along the Hessian eigenvector (finite diff.)"
        ),
        "hessian_plane_curvature": labelled(
            hess_plane, (r, "eigen2d"), "eigenvalues of H projected on the Hessian plane"
        ),
        "mean_quadratic_form": labelled(q_mean, dr, "mean of δᵀHδ over Gaussian δ"),
        "std_quadratic_form": labelled(q_std, dr, "standard deviation of δᵀHδ"),
        "sem_quadratic_form": labelled(q_sem, dr, "standard error of the mean of δᵀHδ"),
        "mean_curvature": labelled(k_mean, dr, "mean projected curvature over random δ"),
        "std_curvature": labelled(k_std, dr, "standard deviation of the projected curvature"),
        "sem_curvature": labelled(k_sem, dr, "standard error of the mean projected curvature"),
        "fraction_negative": labelled(
            (rand.curvature < 0).double().mean(-1), dr, "fraction of random directions with κ < 0"
        ),
        "fraction_planes_negative": labelled(
            (planes[..., 0] < 0).double().mean(-1),
            dr,
            "fraction of random planes with a negative curvature",
        ),
        "lambda_max": labelled(hess.curvature[..., 0], dr, "largest Hessian eigenvalue λmax"),
        "lambda_min": labelled(hess.curvature[..., 1], dr, "smallest Hessian eigenvalue λmin"),
    }
    if trace is not None:
        trace = torch.as_tensor(trace, dtype=dt, device=device)
        data["trace"] = labelled(trace, dr, "Hessian trace tr H (Hessian stage)")
        data["trace_per_param"] = labelled(trace / n_params, dr, "mean curvature tr H / P")
    for name, var in data.items():  # curvatures are losses per squared (dimensionless) parameter
        if not name.startswith("fraction"):
            var.attrs["units"] = loss_units(loss)
    return xr.Dataset(
        data,
        coords={
            REPLICA: np.arange(theta.shape[0]),
            tr: np.arange(n_directions),
            pl: np.arange(m2 // 2),
            wh: ["max", "min"],
            "eigen2d": ["min", "max"],
        },
        attrs={"n_params": n_params, "fd_step": fd_step, "loss": loss},
    )


# ---------------------------------------------------------------- slices


def _axis_directions(
    model: Network,
    params: torch.Tensor,
    axes: Sequence[str],
    normalisation: str,
    bias: str,
    generator: torch.Generator,
    snapshots: torch.Tensor | None,
    hessian_vectors: torch.Tensor | None,
) -> tuple[torch.Tensor, torch.Tensor, dict[str, xr.Variable]]:
    """Origins (R, P), directions (R, k, P) and extra variables for a slice's axes."""
    bad = [a for a in axes if a not in AXIS_KINDS]
    if bad or not 1 <= len(axes) <= 2:
        raise InputError(f"slice axes {list(axes)}: expected one or two of {AXIS_KINDS}")
    if "segment" in axes and len(axes) != 1:
        raise InputError("slice axes: 'segment' is a line of its own, axes: [segment]")
    fixed = [a for a in axes if a != "random"]
    if len(set(fixed)) != len(fixed):
        raise InputError(f"slice axes {list(axes)}: a non-random axis can appear once")
    extra: dict[str, xr.Variable] = {}
    if axes[0] == "segment":
        r = params.shape[0]
        if r < 2:
            raise InputError("segment slices need at least two replicas")
        partner = (torch.arange(r) + 1) % r
        extra["partner"] = labelled(partner.numpy(), (REPLICA,), "replica at t = 1")
        return params, (params[partner] - params).unsqueeze(1), extra
    given: dict[str, torch.Tensor] = {}
    if any(a.startswith("hessian") for a in axes):
        if hessian_vectors is None:
            raise InputError("Hessian axes need the Hessian eigenvectors (results/hessian)")
        given["hessian_max"], given["hessian_min"] = hessian_vectors.to(params).unbind(1)
    if any(a.startswith("pca") for a in axes):
        if snapshots is None:
            raise InputError("PCA axes need training snapshots (snapshots in the train file)")
        pcs, ratio = pca_directions(snapshots.to(params), params)
        given["pca1"], given["pca2"] = pcs.unbind(1)
        extra["explained_variance_ratio"] = labelled(
            ratio.cpu().numpy(), (REPLICA, "component"), "trajectory variance explained"
        )
    dirs: list[torch.Tensor] = []
    for kind in axes:
        if kind == "random":
            against = torch.stack(dirs, 1) if dirs else None
            d = random_directions(model, params, 1, normalisation, bias, generator, against)[:, 0]
        else:
            d = scale_direction(given[kind], params, normalisation)
            if dirs:  # Hessian eigenvectors and principal components are orthogonal already
                d = (
                    d
                    - (d * dirs[0]).sum(-1, keepdim=True)
                    / dirs[0].pow(2).sum(-1, keepdim=True)
                    * dirs[0]
                )
        dirs.append(d)
    directions = torch.stack(dirs, 1)
    if snapshots is not None and any(a.startswith("pca") for a in axes):
        diff = snapshots.to(params) - params.unsqueeze(1)
        gram = directions @ directions.mT
        coef = torch.linalg.solve(gram, directions @ diff.mT).mT  # least-squares coordinates
        extra["trajectory"] = labelled(
            coef.cpu().numpy(), (REPLICA, SNAPSHOT, "axis"), "training trajectory on the plane"
        )
    return params, directions, extra


def grid_curvature(
    loss: np.ndarray, grids: Sequence[np.ndarray], norms: torch.Tensor
) -> np.ndarray:
    """Second-difference curvature at the grid point nearest the origin, per axis.

    ``loss`` (R, n[, m]) on the grids, ``norms`` (R, k) the directions' lengths:
    κⱼ = [L(cⱼ + Δ) − 2L(cⱼ) + L(cⱼ − Δ)] / (Δ² |dⱼ|²), NaN where the origin
    point lies on the grid's edge. Exact for a quadratic loss on a uniform grid.
    """
    centre = tuple(int(np.argmin(np.abs(g))) for g in grids)
    out = np.full((loss.shape[0], len(grids)), np.nan)
    for j, g in enumerate(grids):
        i = centre[j]
        if not 0 < i < len(g) - 1:
            continue
        at = [slice(None), *centre]
        values = []
        for shift in (-1, 0, 1):
            at[j + 1] = i + shift
            values.append(loss[tuple(at)].astype(np.float64))
        step = float(g[1] - g[0])
        norm2 = norms[:, j].double().cpu().numpy() ** 2
        out[:, j] = (values[0] - 2 * values[1] + values[2]) / (step**2 * norm2)
    return out


def slice_dataset(
    model: Network,
    params: torch.Tensor,
    data: Mapping[str, torch.Tensor],
    loss: str,
    axes: Sequence[str],
    ranges: Sequence[Sequence[float]],
    resolution: int,
    normalisation: str = "filter",
    bias: str = "zero",
    seed: int = 0,
    snapshots: torch.Tensor | None = None,
    hessian_vectors: torch.Tensor | None = None,
    param_tensor: Sequence[str] | None = None,
    memory_budget_mb: float = 32.0,
    device: torch.device | str = "cpu",
) -> xr.Dataset:
    """A labelled slice through every replica's trained parameters ``params`` (R, P).

    ``axes`` lists the kind of each axis (:data:`AXIS_KINDS`; one for a line,
    two for a plane), ``ranges`` the [low, high] coordinate range of each axis
    and ``resolution`` the points per axis. ``data`` holds x_train, y_train,
    x_test, y_test. Returns train/test loss and accuracy on dims (replica, a[, b]),
    the origins and directions, and the second-difference curvature at the
    grid point nearest the origin along each axis, κⱼ = Δ²L / (Δcⱼ² |dⱼ|²).
    """
    if len(ranges) != len(axes):
        raise InputError(f"slice ranges {list(ranges)}: expected one [low, high] per axis {axes}")
    gen = torch.Generator().manual_seed(seed % 2**63)
    origin, directions, extra = _axis_directions(
        model, params, axes, normalisation, bias, gen, snapshots, hessian_vectors
    )
    # directions are drawn on the CPU (the same on any device), the grid evaluated on ``device``
    origin, directions = origin.to(device), directions.to(device)
    k = len(axes)
    grids = [torch.linspace(lo, hi, resolution, dtype=params.dtype) for lo, hi in ranges]
    coords = torch.cartesian_prod(*grids).reshape(-1, k)
    names = AXIS_NAMES[:k]
    dims = (REPLICA, *names)
    shape = (params.shape[0], *([resolution] * k))
    variables: dict[str, xr.Variable] = {}
    for split in ("train", "test"):
        values = evaluate_grid(
            model,
            origin,
            directions,
            coords,
            data[f"x_{split}"],
            data[f"y_{split}"],
            loss,
            memory_budget_mb,
        )
        variables[f"{split}_loss"] = labelled(
            values.loss.reshape(shape).cpu().numpy(), dims, f"mean {split} loss ({loss})"
        )
        variables[f"{split}_accuracy"] = labelled(
            values.accuracy.reshape(shape).cpu().numpy(), dims, f"{split} accuracy"
        )
    variables["centre_curvature"] = labelled(
        grid_curvature(
            variables["train_loss"].values, [g.numpy() for g in grids], directions.norm(dim=-1)
        ),
        (REPLICA, "axis"),
        "second-difference curvature of the training loss at the origin along each axis",
    )
    for name in ("train_loss", "test_loss", "centre_curvature"):
        variables[name].attrs["units"] = loss_units(loss)
    variables["origin"] = labelled(origin.cpu().numpy(), (REPLICA, PARAM), "slice origin θ₀")
    variables["direction"] = labelled(
        directions.cpu().numpy(), (REPLICA, "axis", PARAM), "slice direction"
    )
    variables["direction_norm"] = labelled(
        directions.norm(dim=-1).cpu().numpy(), (REPLICA, "axis"), "norm of the slice direction"
    )
    if k == 2:
        cos = torch.nn.functional.cosine_similarity(directions[:, 0], directions[:, 1], dim=-1)
        variables["axes_cosine"] = labelled(
            cos.cpu().numpy(), (REPLICA,), "cosine between the two directions"
        )
    variables.update(extra)
    coords_out: dict[str, object] = {REPLICA: np.arange(params.shape[0]), "axis": list(names)}
    for name, g in zip(names, grids, strict=True):
        coords_out[name] = xr.Variable(
            name, g.cpu().numpy(), attrs={"long_name": f"coordinate along direction {name}"}
        )
    coords_out["axis_kind"] = ("axis", list(axes))
    if param_tensor is not None:
        coords_out["param_tensor"] = (PARAM, list(param_tensor))
    return xr.Dataset(
        variables,
        coords=coords_out,
        attrs={
            "axes_json": json.dumps(list(axes)),
            "normalisation": normalisation,
            "bias": bias,
            "loss": loss,
        },
    )


# ---------------------------------------------------------------- studies (rule level)


def healthy_replicas(train: xr.Dataset, count: int) -> np.ndarray:
    """Indices of the first ``count`` replicas whose training did not diverge."""
    ok = train[REPLICA].values[np.asarray(train["status"].values) == "ok"]
    if ok.size == 0:
        raise InputError(
            f"{train.attrs.get('arch', '?')}: every replica diverged, nothing to slice"
        )
    return ok[:count]


def _study_inputs(train: xr.Dataset, data: xr.Dataset, replicas: np.ndarray, dtype: torch.dtype):
    model = network_from_attrs(train.attrs)
    params = torch.as_tensor(train["params"].sel({REPLICA: replicas}).values).to(dtype)
    tensors = {
        name: torch.as_tensor(data[name].values).to(dtype if name[0] == "x" else torch.long)
        for name in ("x_train", "y_train", "x_test", "y_test")
    }
    return model, params, tensors


def hessian_eigenvectors(hessian: xr.Dataset, replicas: np.ndarray) -> torch.Tensor:
    """Eigenvectors of λmax and λmin (replica, 2, P) from a Hessian-stage Dataset."""
    try:
        vecs = hessian["eigenvectors"].sel({REPLICA: replicas, "which": ["max", "min"]})
    except KeyError as err:
        raise InputError(
            f"Hessian file: expected eigenvectors(replica, which=[max, min], param) for "
            f"replicas {list(replicas)}: {err}"
        ) from None
    return torch.as_tensor(vecs.transpose(REPLICA, "which", PARAM).values)


def slice_study(
    train: xr.Dataset,
    data: xr.Dataset,
    direction: Mapping,
    replicas: int,
    dtype: str,
    memory_mb: float,
    seed: int,
    hessian: xr.Dataset | None = None,
    device: str = "cpu",
) -> xr.Dataset:
    """The slice a config ``direction`` entry asks for, through the first healthy replicas.

    ``train`` and ``data`` are the training and data-set stages' Datasets,
    ``hessian`` the Hessian stage's (needed for Hessian axes). The entry holds
    ``axes``, ``ranges``, ``resolution`` and, optionally, ``normalisation`` and
    ``bias`` (see :func:`slice_dataset`).
    """
    chosen = healthy_replicas(train, replicas)
    model, params, tensors = _study_inputs(train, data, chosen, getattr(torch, dtype))
    axes = list(direction["axes"])
    vectors = None
    if any(a.startswith("hessian") for a in axes):
        if hessian is None:
            raise InputError(f"slice axes {axes} need the Hessian stage's eigenvectors")
        vectors = hessian_eigenvectors(hessian, chosen)
    snapshots = None
    if any(a.startswith("pca") for a in axes):
        snapshots = torch.as_tensor(train["snapshots"].sel({REPLICA: chosen}).values)
    ds = slice_dataset(
        model,
        params,
        tensors,
        train.attrs["loss"],
        axes,
        direction["ranges"],
        direction["resolution"],
        direction.get("normalisation", "filter"),
        direction.get("bias", "zero"),
        seed,
        snapshots,
        vectors,
        model.param_tensor,
        memory_mb,
        resolve_device(device),
    )
    ds = ds.assign_coords({REPLICA: chosen})
    ds.attrs.update(arch=train.attrs["arch"], dataset=train.attrs.get("dataset", ""))
    if "partner" in ds:
        ds["partner"].values = chosen[ds["partner"].values]
    return ds


def curvature_study(
    train: xr.Dataset,
    data: xr.Dataset,
    hessian: xr.Dataset,
    replicas: int,
    directions: int,
    fd_step: float,
    memory_mb: float,
    seed: int,
    device: str = "cpu",
) -> xr.Dataset:
    """:func:`curvature_statistics` at the first healthy replicas, on the training set.

    The Hessian stage supplies the extreme eigenvectors and tr H (the dense
    trace where H was formed, else Hutchinson's estimate) for comparison with
    the mean curvature.
    """
    chosen = healthy_replicas(train, replicas)
    model, params, tensors = _study_inputs(train, data, chosen, torch.float64)
    trace = None
    for name in ("trace_dense", "trace_hutchinson"):
        if name in hessian and np.isfinite(hessian[name].sel({REPLICA: chosen})).all():
            trace = torch.as_tensor(hessian[name].sel({REPLICA: chosen}).values)
            break
    ds = curvature_statistics(
        model,
        params,
        tensors["x_train"],
        tensors["y_train"],
        train.attrs["loss"],
        directions,
        fd_step,
        seed,
        hessian_eigenvectors(hessian, chosen),
        trace,
        memory_mb,
        resolve_device(device),
    )
    ds = ds.assign_coords({REPLICA: chosen})
    ds.attrs.update(arch=train.attrs["arch"], dataset=train.attrs.get("dataset", ""))
    return ds
