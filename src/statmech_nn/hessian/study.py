"""The Hessian stage: config section ``hessian`` -> curvature of every replica -> xarray.

Assembles the kernels of :mod:`~statmech_nn.hessian.operators`,
:mod:`~statmech_nn.hessian.eigen` and :mod:`~statmech_nn.hessian.traces` for the
training objective of a network (:class:`LossProblem`) at each trained replica: the
data loss plus the L2 term training added, J = L + (wd/2)‖θ‖² (wd the training file's
``weight_decay`` attr; :mod:`statmech_nn.objective`), so that H = ∇²L + wd·I is the
Hessian of the function training minimised.
"""

import logging
import time

import numpy as np
import torch
import xarray as xr

from statmech_nn.dims import EIGEN, PARAM, REPLICA
from statmech_nn.hessian.eigen import (
    dense_eigenpairs,
    eigenpairs,
    extreme_eigenpairs,
    negative_fraction,
)
from statmech_nn.hessian.operators import chunked, dense_hessian, hvp_sample_chunk
from statmech_nn.hessian.problem import LossProblem, stored_buffers
from statmech_nn.hessian.traces import TraceEstimate, hutchinson_trace, loss_value_trace, slq
from statmech_nn.io import labelled
from statmech_nn.losses import loss_units, targets
from statmech_nn.nets import input_shape_of, network_from_attrs
from statmech_nn.objective import Objective
from statmech_nn.seeds import derive_seed
from statmech_nn.train import resolve_device

log = logging.getLogger("statmech_nn")


COMPUTATIONS = (
    "extreme",
    "top_k",
    "bottom_k",
    "hutchinson",
    "slq",
    "dense",
    "ggn_extreme",
    "ggn_hutchinson",
)


WHICH = ("max", "min")


_RANK = {"long_name": "signed rank: +i the i-th largest, -i the i-th smallest", "units": "1"}


_R, _W = (REPLICA,), (REPLICA, "which")


# name -> (dims, long_name, units: "L" the loss's unit, "1/L" its inverse, "1")
VARIABLES: dict[str, tuple[tuple[str, ...], str, str]] = {
    "lambda_extreme": (_W, "extreme Hessian eigenvalue (max, min)", "L"),
    "residual_extreme": (_W, "residual norm |Hv - lambda v| of lambda_extreme", "L"),
    "eigenvectors": ((*_W, PARAM), "unit eigenvector of lambda_extreme", "1"),
    "eigenvalues": ((REPLICA, EIGEN), "top-k and bottom-k Hessian eigenvalues", "L"),
    "residuals": ((REPLICA, EIGEN), "residual norm |Hv - lambda v| of eigenvalues", "L"),
    "trace_hutchinson": (_R, "tr H by Hutchinson's estimator (Rademacher probes)", "L"),
    "trace_hutchinson_stderr": (_R, "standard error of trace_hutchinson", "L"),
    "trace_loss_values": (_R, "tr H from loss values (second differences, Gaussian)", "L"),
    "trace_loss_values_stderr": (_R, "standard error of trace_loss_values", "L"),
    "mean_curvature": (_R, "mean curvature tr H / P (Hutchinson)", "L"),
    "mean_curvature_stderr": (_R, "standard error of mean_curvature", "L"),
    "density": ((REPLICA, "lambda"), "eigenvalue density (SLQ, Gaussian broadening)", "1/L"),
    "slq_nodes": ((REPLICA, "probe", "node"), "Lanczos Ritz values (SLQ nodes)", "L"),
    "slq_weights": ((REPLICA, "probe", "node"), "Gauss quadrature weights (SLQ)", "1"),
    "slq_mean": (_R, "mean of the SLQ density (estimates tr H / P)", "L"),
    "slq_mean_stderr": (_R, "standard error of slq_mean", "L"),
    "negative_fraction_slq": (_R, "fraction of eigenvalues below -tau lambda_max (SLQ)", "1"),
    "dense_eigenvalues": ((REPLICA, "eigen_index"), "Hessian eigenvalues (dense), ascending", "L"),
    "trace_dense": (_R, "tr H (dense)", "L"),
    "negative_fraction": (_R, "fraction of eigenvalues below -tau lambda_max (dense)", "1"),
    "ggn_lambda_extreme": (_W, "extreme Gauss-Newton eigenvalue (max, min)", "L"),
    "ggn_residual_extreme": (_W, "residual norm |Gv - lambda v| of ggn_lambda_extreme", "L"),
    "ggn_trace_hutchinson": (_R, "tr G by Hutchinson's estimator (Rademacher probes)", "L"),
    "ggn_trace_hutchinson_stderr": (_R, "standard error of ggn_trace_hutchinson", "L"),
    "hvp_count": ((REPLICA, "computation"), "Hessian- or Gauss-Newton-vector products", "1"),
    "converged_extreme": (_W, "lambda_extreme converged: residual <= tol |lambda|", "1"),
    "converged": ((REPLICA, EIGEN), "eigenvalues converged: residual <= tol |lambda|", "1"),
    "ggn_converged_extreme": (
        _W,
        "ggn_lambda_extreme converged: residual <= ggn_tol |lambda|",
        "1",
    ),
}


def converged_flags(results: dict, cfg: dict) -> dict[str, np.ndarray]:
    """Which eigenpairs meet their tolerance: ‖Av − λv‖ ≤ tol·|λ| (a relative error bound on
    λ: an eigenvalue near 0 whose residual is not small against it is flagged, dense or not)."""
    pairs = {
        "converged_extreme": ("lambda_extreme", "residual_extreme", cfg["tol"]),
        "converged": ("eigenvalues", "residuals", cfg["tol"]),
        "ggn_converged_extreme": ("ggn_lambda_extreme", "ggn_residual_extreme", cfg["ggn_tol"]),
    }
    out = {}
    for flag, (values, residuals, tol) in pairs.items():
        if values in results:
            lam, res = np.asarray(results[values]), np.asarray(results[residuals])
            with np.errstate(invalid="ignore"):
                out[flag] = np.nan_to_num(res, nan=np.inf) <= tol * np.abs(lam)
    return out


def training_subset(data: xr.Dataset, samples: int | None, seed: int) -> tuple[np.ndarray, ...]:
    """The training set, or a fixed random subset of ``samples`` of it (sorted indices)."""
    x, y = data["x_train"].values, data["y_train"].values
    if samples is None or samples >= len(y):
        return x, y
    gen = torch.Generator().manual_seed(derive_seed(seed, "samples"))
    idx = torch.randperm(len(y), generator=gen)[:samples].sort().values.numpy()
    return x[idx], y[idx]


def eigenpairs_per_replica(
    problem: LossProblem,
    theta: torch.Tensor,
    cfg: dict,
    seeds: list[int],
    dense: torch.Tensor | None = None,
) -> dict[str, np.ndarray]:
    """Extreme, top-k and bottom-k eigenpairs of H (and G's extremes) for each row of ``theta``.

    From the dense Hessians ``dense (R, P, P)`` when given (exact, and the only
    way through an exactly singular end such as a linear model's null space);
    otherwise by Lanczos. ARPACK drives a single operator, so this is a loop over
    replicas (R small); products as ``cfg["hvp"]`` says (:func:`hessian_matmat`).
    """
    n, (r_count, dtype) = problem.model.n_params, (theta.shape[0], theta.dtype)
    k = min(cfg["k"], n - 1)
    kw = {"tol": cfg["tol"], "ncv": cfg["ncv"], "maxiter": cfg["maxiter"], "device": theta.device}
    out = {
        "lambda_extreme": np.full((r_count, 2), np.nan),
        "residual_extreme": np.full((r_count, 2), np.nan),
        "eigenvectors": np.full((r_count, 2, n), np.nan),
        "eigenvalues": np.full((r_count, 2 * k), np.nan),
        "residuals": np.full((r_count, 2 * k), np.nan),
        "hvps": np.zeros((r_count, 4), dtype=np.int64),  # extreme, top, bottom, ggn
    }
    ggn_kw = kw | {"tol": cfg["ggn_tol"]}
    if cfg["ggn"]:
        out |= {"ggn_lambda_extreme": np.full((r_count, 2), np.nan)}
        out |= {"ggn_residual_extreme": np.full((r_count, 2), np.nan)}
    for i, seed in enumerate(seeds):
        start = time.perf_counter()
        if dense is not None:
            ext, top, bottom = dense_eigenpairs(dense[i], k)
        else:
            h = problem.replica(i).hessian(theta[i], cfg["hvp"])
            ext = extreme_eigenpairs(h, n, dtype, seed=seed, **kw)
            lam_max, lam_min = np.nan_to_num(ext.values.tolist())  # NaN (unconverged): no shift
            top = eigenpairs(h, n, k, "top", dtype, seed=seed + 2, shift=lam_min, **kw)
            bottom = eigenpairs(h, n, k, "bottom", dtype, seed=seed + 3, shift=lam_max, **kw)
        out["lambda_extreme"][i], out["residual_extreme"][i] = ext.values, ext.residuals
        out["eigenvectors"][i] = ext.vectors.cpu()
        out["eigenvalues"][i] = torch.cat([top.values, bottom.values]).cpu()
        out["residuals"][i] = torch.cat([top.residuals, bottom.residuals]).cpu()
        out["hvps"][i, :3] = ext.hvps, top.hvps, bottom.hvps
        if cfg["ggn"]:
            gmat = problem.replica(i).ggn(theta[i], cfg["hvp"])
            g = extreme_eigenpairs(gmat, n, dtype, seed=seed + 4, **ggn_kw)
            out["ggn_lambda_extreme"][i], out["ggn_residual_extreme"][i] = g.values, g.residuals
            out["hvps"][i, 3] = g.hvps
        log.info(
            "replica %d: lambda = %s, %s HVPs, %.1f s",
            i, ext.values.tolist(), out["hvps"][i].tolist(), time.perf_counter() - start,
        )  # fmt: skip
    return out


def stochastic_estimates(
    problem: LossProblem, theta: torch.Tensor, cfg: dict, seed: int, extremes: np.ndarray
) -> tuple[dict[str, torch.Tensor], torch.Tensor, float]:
    """Traces, SLQ densities (and tr G) of every replica of ``theta (R, P)`` at once.

    The density grid spans the replicas' extreme eigenvalues (``extremes (R, 2)``,
    or the SLQ nodes where those are NaN) ± 5σ, σ = ``density_sigma`` × that span.
    Returns the estimates, the grid and σ.
    """
    (r_count, n), dtype, dev = theta.shape, theta.dtype, theta.device
    batch = problem.batch_size(cfg["memory_mb"], theta.element_size())
    per_replica = max(1, batch // r_count)
    hmat = chunked(problem.hessian(theta, cfg["hvp"]), per_replica)
    kw = {"seed": seed, "dtype": dtype, "device": dev}
    probes = cfg["trace_probes"]
    clock = _Clock()
    hutch = hutchinson_trace(hmat, (r_count, n), probes, chunk_size=per_replica, **kw)
    clock.lap("Hutchinson trace")
    by_loss = _loss_value_trace(problem, theta, probes, cfg["fd_step"], seed)
    clock.lap("loss-value trace")
    quad = slq(hmat, (r_count, n), cfg["slq_probes"], cfg["slq_steps"], **kw)
    clock.lap("SLQ")
    lo = np.nanmin(np.r_[extremes[:, 1], quad.nodes.min().item()])
    hi = np.nanmax(np.r_[extremes[:, 0], quad.nodes.max().item()])
    sigma = cfg["density_sigma"] * max(hi - lo, np.finfo(float).eps)
    grid = torch.linspace(lo - 5 * sigma, hi + 5 * sigma, cfg["density_points"], dtype=dtype)
    mean = quad.moment_mean()
    below = quad.nodes < -cfg["tau"] * quad.nodes.amax((-2, -1), keepdim=True)
    out = {
        "trace_hutchinson": hutch.mean,
        "trace_hutchinson_stderr": hutch.stderr,
        "trace_loss_values": by_loss.mean,
        "trace_loss_values_stderr": by_loss.stderr,
        "mean_curvature": hutch.mean / n,
        "mean_curvature_stderr": hutch.stderr / n,
        "density": quad.density(grid.to(dev), sigma),
        "slq_nodes": quad.nodes,
        "slq_weights": quad.weights,
        "slq_mean": mean.mean,
        "slq_mean_stderr": mean.stderr,
        "negative_fraction_slq": (quad.weights * below).sum(-1).mean(-1),
    }
    if cfg["ggn"]:
        gmat = chunked(problem.ggn(theta, cfg["hvp"]), per_replica)
        g = hutchinson_trace(gmat, (r_count, n), probes, chunk_size=per_replica, **kw)
        out |= {"ggn_trace_hutchinson": g.mean, "ggn_trace_hutchinson_stderr": g.stderr}
        clock.lap("Gauss-Newton trace")
    return out, grid, sigma


def _loss_value_trace(
    problem: LossProblem, theta: torch.Tensor, probes: int, step: float, seed: int
) -> TraceEstimate:
    """:func:`loss_value_trace` of every replica; with running statistics (one set per
    replica, which a loss of θ alone cannot tell apart) replica by replica, replica r
    with the seed derived from (seed, r)."""
    if problem.buffers is None:
        return loss_value_trace(problem.loss_fn, theta, probes, step, seed=seed)
    parts = [
        loss_value_trace(
            problem.replica(r).loss_fn, theta[r], probes, step,
            seed=derive_seed(seed, "loss-value trace", r) % 2**63,
        )
        for r in range(theta.shape[0])
    ]  # fmt: skip
    return TraceEstimate.of(torch.stack([p.samples for p in parts]))


class _Clock:
    """Logs the wall time of each stage (the rule's log shows where time goes)."""

    def __init__(self) -> None:
        self.last = time.perf_counter()

    def lap(self, what: str) -> None:
        now = time.perf_counter()
        log.info("%s: %.1f s", what, now - self.last)
        self.last = now


def hessian_study(
    data: xr.Dataset, trained: xr.Dataset, cfg: dict, seed: int, device: str = "cpu"
) -> xr.Dataset:
    """Curvature of the training objective at every healthy replica's final parameters.

    ``data`` holds ``x_train``/``y_train``, ``trained`` the ``params (replica,
    param)``, ``status`` and attrs ``arch``/``loss`` (and ``weight_decay``, the objective's
    L2 term, 0 when absent) of the train stage; ``cfg``
    is the config's ``hessian`` section; its first ``cfg["replicas"]`` replicas
    (all when None) are analysed. Variables are listed in :data:`VARIABLES`;
    diverged replicas get NaN (and zero HVP counts).
    """
    dev, dtype = resolve_device(device), getattr(torch, cfg["dtype"])
    trained = trained.isel({REPLICA: slice(0, cfg["replicas"])})
    x, y = training_subset(data, cfg["samples"], seed)
    model = network_from_attrs(
        trained.attrs, input_shape_of(data.attrs, x.shape[1]), int(data.attrs["n_classes"])
    )
    model.bind_data(torch.as_tensor(data["x_train"].values).to(dev, dtype))
    n, n_rep = model.n_params, trained.sizes[REPLICA]
    ok = np.flatnonzero(trained["status"].values == "ok")
    theta = torch.as_tensor(trained["params"].values[ok]).to(dev, dtype)
    bn = cfg.get("bn_statistics", "recompute")
    buffers = stored_buffers(trained, model, bn)
    itemsize = theta.element_size()
    objective = Objective.of(trained.attrs)
    problem = LossProblem(
        model,
        torch.as_tensor(x).to(dev, dtype),
        targets(y, dtype, dev),
        trained.attrs["loss"],
        None if buffers is None else buffers[ok].to(dev, dtype),
        hvp_sample_chunk(n, len(y), model.activations_per_sample, itemsize, cfg["memory_mb"]),
        objective.weight_decay,
    )
    seeds = [derive_seed(seed, "replica", int(r)) % 2**31 for r in ok]

    dense = None
    if n <= cfg["dense_max_params"]:
        clock = _Clock()
        chunk = max(1, problem.batch_size(cfg["memory_mb"], theta.element_size()) // len(ok))
        dense = dense_hessian(problem.loss_fn, theta, chunk_size=chunk, aux=problem.buffers)
        spectrum = torch.linalg.eigvalsh(dense)
        clock.lap("dense Hessians and spectra")
    results: dict[str, object] = eigenpairs_per_replica(problem, theta, cfg, seeds, dense)
    lanczos_hvps = results.pop("hvps")
    estimates, grid, sigma = stochastic_estimates(
        problem, theta, cfg, seed, results["lambda_extreme"]
    )
    if dense is not None:
        estimates |= {
            "dense_eigenvalues": spectrum,
            "trace_dense": spectrum.sum(-1),
            "negative_fraction": negative_fraction(spectrum, cfg["tau"]),
        }
    results |= {k: v.detach().cpu().numpy() for k, v in estimates.items()}

    hvps = np.zeros((len(ok), len(COMPUTATIONS)), dtype=np.int64)
    hvps[:, [0, 1, 2, 6]] = lanczos_hvps
    hvps[:, 3] = cfg["trace_probes"]
    hvps[:, 4] = cfg["slq_probes"] * estimates["slq_nodes"].shape[-1]
    hvps[:, 5] = n if "dense_eigenvalues" in estimates else 0
    hvps[:, 7] = cfg["trace_probes"] if cfg["ggn"] else 0
    results["hvp_count"] = hvps
    results |= converged_flags(results, cfg)

    unit = loss_units(problem.loss)
    units = {"L": unit, "1/L": "1" if unit == "1" else f"1/{unit}", "1": "1"}
    variables = {}
    for name, values in results.items():
        dims, long_name, u = VARIABLES[name]
        fill = {"i": 0, "b": False}.get(values.dtype.kind, np.nan)
        full = np.full((n_rep, *values.shape[1:]), fill, dtype=values.dtype)
        full[ok] = values
        variables[name] = labelled(full, dims, long_name, units[u])
    variables["status"] = labelled(trained["status"].values, (REPLICA,), "training outcome")
    k = results["eigenvalues"].shape[-1] // 2
    coords = {
        REPLICA: trained[REPLICA].values,
        "which": np.array(WHICH, dtype=object),
        EIGEN: ((EIGEN,), np.r_[np.arange(1, k + 1), -np.arange(1, k + 1)], _RANK),
        PARAM: np.arange(n),
        "param_tensor": (PARAM, np.array(model.param_tensor, dtype=object)),
        "lambda": ("lambda", grid.numpy(), {"long_name": "eigenvalue", "units": unit}),
        "computation": np.array(COMPUTATIONS, dtype=object),
        "probe": np.arange(results["slq_nodes"].shape[1]),
        "node": np.arange(results["slq_nodes"].shape[2]),
    }
    if "dense_eigenvalues" in results:
        coords["eigen_index"] = np.arange(n)
    return xr.Dataset(
        variables,
        coords=coords,
        attrs={
            **model.describe(),
            "dataset": trained.attrs.get("dataset", ""),
            "loss": problem.loss,
            **objective.attrs(),
            "n_samples": len(y),
            "dtype": cfg["dtype"],
            "tau": cfg["tau"],
            "density_sigma": sigma,
            "eigenpairs_from": "lanczos" if dense is None else "dense eigh",
            "bn_statistics": bn if model.n_buffers else "none",
            "sample_chunk": problem.sample_chunk,
        },
    )
