"""Projected curvature along directions (Böttcher & Wheeler, J. Stat. Mech. 2024).

κ(δ) = δᵀHδ / |δ|², exactly by Hessian-vector products or by finite differences
[L(θ+hu) − 2L(θ) + L(θ−hu)] / h² with u = δ/|δ|. For δ ~ N(0, I_P),
E[δᵀHδ] = tr H and E[κ] = tr H / P: random slices show the mean curvature.
The loss is the training objective L + (wd/2)‖θ‖² (:mod:`statmech_nn.objective`),
whose Hessian is ∇²L + wd·I, as in the Hessian stage.
"""

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
import xarray as xr

from statmech_nn.dims import REPLICA
from statmech_nn.hessian.operators import retained_graph_matmat
from statmech_nn.io import labelled
from statmech_nn.landscape.budget import chunk_size, memory_per_point
from statmech_nn.losses import loss_units, per_sample_loss
from statmech_nn.nets import Network
from statmech_nn.objective import Objective

LossFn = Callable[[torch.Tensor], torch.Tensor]


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
    (..., P), ``directions`` (..., M, P). Exact: δᵀHδ by reverse-over-reverse HVPs
    through one retained gradient graph (each direction one backward pass; the Hessian
    of Σ loss over leading dims is block-diagonal, so every θ gets its own H).
    Finite differences: [L(θ+hu) − 2L(θ) + L(θ−hu)] / h² with u = δ/|δ|,
    error O(h²) plus rounding O(ε L / h²), ``chunk`` directions per loss evaluation.
    """

    def total(th: torch.Tensor) -> torch.Tensor:
        return loss_fn(th).sum()

    hv = retained_graph_matmat(total, theta)(directions)
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


def model_loss(
    model: Network, x: torch.Tensor, y: torch.Tensor, loss: str, weight_decay: float = 0.0
) -> LossFn:
    """The mean training loss as a function of parameters (..., P), plus (wd/2)‖θ‖² with
    ``weight_decay`` (the training objective)."""
    objective = Objective(loss, weight_decay)
    return lambda theta: objective.value(
        per_sample_loss(model.forward(theta, x), y, loss).mean(-1), theta
    )


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
    trace_stderr: torch.Tensor | None = None,
    weight_decay: float = 0.0,
) -> xr.Dataset:
    """Curvature seen by random projections at trained points θ (replica, P), in float64.

    For M Gaussian directions δ ~ N(0, I_P) per replica: δᵀHδ (mean tr H,
    variance 2 tr H²) and κ = δᵀHδ / |δ|² (the unit-norm view, mean tr H / P),
    exactly and by finite differences with step ``fd_step``; the two-dimensional
    curvatures of the M // 2 random planes span(δ₂ᵢ, δ₂ᵢ₊₁); and the same along
    the Hessian's extreme eigenvectors ``hessian_vectors`` (replica, 2, P),
    order (max, min), whose Rayleigh quotients are λmax and λmin. ``trace``
    (replica,) is tr H from the Hessian stage, stored next to the means, with its
    standard error ``trace_stderr`` (zero for an exact trace): the z-score
    (mean κ − tr H/P) / √(sem_κ² + (se_tr/P)²) says whether random slices see the
    mean curvature within their errors (|z| ≲ 2). ``weight_decay``: H is the Hessian of
    the objective L + (wd/2)‖θ‖².
    """
    dt = torch.float64
    theta, x, y = theta.to(device, dt), x.to(device, dt), y.to(device)
    fn = model_loss(model, x, y, loss, weight_decay)
    gen = torch.Generator().manual_seed(seed % 2**63)  # drawn on the CPU: the same on any device
    deltas = torch.randn(*theta.shape[:-1], n_directions, theta.shape[-1], generator=gen, dtype=dt)
    deltas, hessian_vectors = deltas.to(device), hessian_vectors.to(device, dt)
    # the finite differences evaluate ``chunk`` directions at once; the HVPs hold one
    # gradient graph (about four copies of the activations) whatever the directions
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
        "lambda_max": labelled(
            hess.curvature[..., 0], dr, "κ along the λmax eigenvector (λmax on the same data)"
        ),
        "lambda_min": labelled(
            hess.curvature[..., 1], dr, "κ along the λmin eigenvector (λmin on the same data)"
        ),
    }
    if trace is not None:
        trace = torch.as_tensor(trace, dtype=dt, device=device)
        se = torch.zeros_like(trace) if trace_stderr is None else torch.as_tensor(trace_stderr)
        se = se.to(trace)
        data["trace"] = labelled(trace, dr, "Hessian trace tr H (Hessian stage)")
        data["trace_stderr"] = labelled(se, dr, "standard error of trace (0: exact)")
        data["trace_per_param"] = labelled(trace / n_params, dr, "mean curvature tr H / P")
        data["trace_per_param_stderr"] = labelled(se / n_params, dr, "standard error of tr H / P")
        spread = torch.sqrt(k_sem**2 + (se / n_params) ** 2)
        z = (k_mean - trace / n_params) / spread
        z_label = "z-score of mean projected curvature against tr H / P"
        data["z_mean_curvature"] = labelled(z, dr, z_label)
    for name, var in data.items():  # curvatures are losses per squared (dimensionless) parameter
        if not name.startswith(("fraction", "z_")):
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
        attrs={
            "n_params": n_params,
            "fd_step": fd_step,
            "loss": loss,
            **Objective(loss, weight_decay).attrs(),
        },
    )


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
