"""The objective near a slice's origin along its axes: slope, curvature and ranges from them.

Along a direction d through θ₀ the training objective J = L + (wd/2)‖θ‖²
(:mod:`statmech_nn.objective`) changes by J(θ₀ + c·d) − J(θ₀) ≈ gᵀd·c + ½κ|d|²c², with
g = ∇J(θ₀) and κ = dᵀ∇²J d / |d|² the curvature per unit length (THEORY.md, "Critical
points"). Two uses:

- the record of whether a slice shows curvature rather than slope over its range r,
  |gᵀd|·r ≤ 0.1 · ½|κ||d|²r² (:func:`critical_point_terms`, issue 16 item 1);
- ranges chosen from the curvature (``ranges: auto``): the coordinate range r at which
  the quadratic term reaches a given rise, ½|κ||d|²r² = rise, r = √(2·rise / (|κ||d|²)),
  per replica (:func:`auto_ranges`, issue 16 item 2), clipped where κ is near zero (flat)
  or huge: at least :data:`AUTO_RANGE_MIN` (units of |d|), at most the length of θ₀ itself
  (r|d| ≤ |θ₀|: a line never reaches further from θ₀ than θ₀ is from the origin).

Gradients and curvatures are exact (autodiff, one Hessian-vector product per axis) in
float64, with the replica's running statistics where given (BatchNorm ``eval``).
"""

from collections.abc import Mapping, Sequence

import numpy as np
import torch
import xarray as xr

from statmech_nn.dims import REPLICA
from statmech_nn.hessian.problem import LossProblem
from statmech_nn.io import labelled
from statmech_nn.losses import loss_units
from statmech_nn.nets import Network
from statmech_nn.objective import Objective

AUTO_RANGE_MIN = 1.0e-3  # the smallest r of ``ranges: auto``, in units of |d|


def _problem(model, x, y, loss, weight_decay, buffers, device) -> LossProblem:
    """J on all samples at once, float64, on ``device`` (the origin's)."""
    b = None if buffers is None else buffers.to(device, torch.float64)
    return LossProblem(
        model, x.to(device, torch.float64), y.to(device), loss, b, None, weight_decay
    )


def axis_curvature(
    model: Network,
    origin: torch.Tensor,
    directions: torch.Tensor,
    x: torch.Tensor,
    y: torch.Tensor,
    loss: str,
    weight_decay: float = 0.0,
    buffers: torch.Tensor | None = None,
) -> torch.Tensor:
    """κ = dᵀ∇²J d / |d|² at ``origin`` (R, P) along each of ``directions`` (R, k, P):
    (R, k), float64 (for a unit Hessian eigenvector, its eigenvalue)."""
    problem = _problem(model, x, y, loss, weight_decay, buffers, origin.device)
    d = directions.double()
    hd = problem.hessian(origin.double(), "reverse")(d)
    return ((d * hd).sum(-1) / d.pow(2).sum(-1)).detach().cpu()


def auto_ranges(
    kappa: torch.Tensor, norms: torch.Tensor, rise: float, origin_norms: torch.Tensor
) -> torch.Tensor:
    """r = √(2·rise / (|κ||d|²)) per replica and axis (R, k): the coordinate at which
    ½|κ||d|²r² = ``rise``, clipped to [:data:`AUTO_RANGE_MIN`, |θ₀|/|d|] (``norms`` |d|
    (R, k), ``origin_norms`` |θ₀| (R,))."""
    norms = norms.double().cpu()
    curvature = kappa.abs().double() * norms.pow(2)
    r = torch.sqrt(2.0 * rise / curvature.clamp_min(torch.finfo(torch.float64).tiny))
    top = (origin_norms.double().cpu().unsqueeze(-1) / norms).clamp_min(AUTO_RANGE_MIN)
    return torch.minimum(r.nan_to_num(torch.inf), top).clamp_min(AUTO_RANGE_MIN)


def reach_of(ranges: Sequence[Sequence[float]] | torch.Tensor, replicas: int) -> torch.Tensor:
    """r = max(|low|, |high|) of each axis (R, k), float64; ``ranges`` given as r (R, k)
    is returned as it is."""
    if isinstance(ranges, torch.Tensor):
        return ranges.double().cpu()
    r = torch.tensor([max(abs(lo), abs(hi)) for lo, hi in ranges], dtype=torch.float64)
    return r.expand(replicas, -1)


def critical_point_terms(
    model: Network,
    origin: torch.Tensor,
    directions: torch.Tensor,
    x: torch.Tensor,
    y: torch.Tensor,
    loss: str,
    ranges: Sequence[Sequence[float]] | torch.Tensor,
    curvature: np.ndarray,
    buffers: torch.Tensor | None = None,
    weight_decay: float = 0.0,
) -> dict[str, xr.Variable]:
    """Slope against curvature along each axis over its plotted range.

    With g = ∇J(θ₀) (full batch, float64) and r the largest |coordinate| of each axis
    (``ranges``: one [low, high] per axis shared by the replicas, or r itself (R, k)),
    the objective changes by about gᵀd·c + ½ dᵀHd·c²; the slice shows curvature, not a
    slope, where the linear term |gᵀd|·r ≤ 0.1 × the curvature term ½|κ||d|²r² (κ the
    curvature per |d|², ``curvature`` (R, k): the slices pass :func:`axis_curvature`).
    """
    problem = _problem(model, x, y, loss, weight_decay, buffers, origin.device)
    theta = origin.double()
    leaf = theta.detach().requires_grad_(True)
    with torch.enable_grad():
        (g,) = torch.autograd.grad(problem.loss_fn(leaf).sum(), leaf)
    reach = reach_of(ranges, origin.shape[0])
    d = directions.double()
    linear = (d @ g.unsqueeze(-1)).squeeze(-1).abs().cpu() * reach
    norm2 = d.norm(dim=-1).cpu().numpy() ** 2
    quadratic = 0.5 * np.abs(curvature) * norm2 * reach.numpy() ** 2
    dims = (REPLICA, "axis")
    return {
        "grad_norm": labelled(
            g.norm(dim=-1).cpu().numpy(),
            (REPLICA,),
            "full-batch gradient norm of the training objective at the origin",
        ),
        "linear_term": labelled(linear.numpy(), dims, "slope term |gᵀd|·r over the axis range"),
        "curvature_term": labelled(quadratic, dims, "curvature term ½|κ||d|²r² over the range"),
        "critical": labelled(
            linear.numpy() <= 0.1 * quadratic,
            dims,
            "slice shows curvature, not slope: linear term <= 0.1 x curvature term",
        ),
    }


def axis_grids(
    model: Network,
    origin: torch.Tensor,
    directions: torch.Tensor,
    data: Mapping[str, torch.Tensor],
    loss: str,
    ranges: Sequence[Sequence[float]] | str,
    resolution: int,
    objective: Objective,
    buffers: torch.Tensor | None,
    auto_rise: float,
) -> tuple[list[torch.Tensor], torch.Tensor, torch.Tensor, dict[str, xr.Variable]]:
    """Grids of the axes, the directions they step along, each axis's reach r (R, k) and
    extra variables: the objective's curvature κ along each axis (HVP, ``axis_curvature``).
    Fixed ``ranges``: the [low, high] grids, shared by the replicas.
    ``"auto"`` (a line): per replica r = √(2·rise/(|κ||d|²)) from the objective's
    curvature κ along d (:func:`auto_ranges`); the grid is then c/r ∈ [−1, 1], stepped
    along r·d, and the replica's coordinates c are stored as ``a_coordinate``."""
    kappa = axis_curvature(
        model, origin, directions, data["x_train"], data["y_train"], loss,
        objective.weight_decay, buffers,
    )  # fmt: skip
    extra = {
        "axis_curvature": labelled(
            kappa.numpy(),
            (REPLICA, "axis"),
            f"curvature dᵀHd/|d|² of the {objective.label} at the origin (HVP, float64)",
            loss_units(loss),
        )
    }
    dtype = origin.dtype
    if not isinstance(ranges, str):
        grids = [torch.linspace(lo, hi, resolution, dtype=dtype) for lo, hi in ranges]
        return grids, directions, reach_of(ranges, origin.shape[0]), extra
    reach = auto_ranges(kappa, directions.norm(dim=-1), auto_rise, origin.norm(dim=-1))
    unit = torch.linspace(-1.0, 1.0, resolution, dtype=dtype)
    extra["a_coordinate"] = labelled(
        (reach[:, :1] * unit.double()).numpy(),
        (REPLICA, "a"),
        "coordinate along direction a of each replica's grid (units of |d|)",
    )
    return [unit], directions * reach.to(directions).unsqueeze(-1), reach, extra
