"""Studies of the synthetic saddle (config section ``paper``) -> labelled Datasets.

After Böttcher & Wheeler (J. Stat. Mech. 2024): on a loss whose Hessian
spectrum is known exactly, random planes show the mean curvature tr H / N
while Hessian-direction planes show λmax and λmin; the fraction of random
directions with negative curvature is compared with P(Σ λᵢ zᵢ² < 0)
(:func:`.synthetic.negative_probability`); and the trace is estimated from loss
values only and by Hutchinson's HVP estimator against the exact Σ λᵢ.
"""

from collections.abc import Mapping

import numpy as np
import torch
import xarray as xr

from statmech_nn.dims import EIGEN
from statmech_nn.hessian.traces import hutchinson_trace, loss_value_trace, running_estimates
from statmech_nn.io import labelled
from statmech_nn.landscape.curvature import plane_curvatures, projected_curvatures
from statmech_nn.landscape.directions import random_directions
from statmech_nn.landscape.synthetic import (
    SyntheticSaddle,
    binomial_stderr,
    make_saddle,
    negative_probability,
    plane_losses,
    plane_negative_probability,
)
from statmech_nn.seeds import derive_seed

VARIANT, SLICE, TRIAL, PLANE, PROBES, ESTIMATOR = (
    "variant",
    "slice",
    "trial",
    "plane",
    "probes",
    "estimator",
)
ESTIMATORS = ("loss_values", "hutchinson")


class _FlatParameters:
    """The one-tensor parameter layout of a synthetic loss, for the direction kernels."""

    def __init__(self, n: int):
        self.shapes = {"theta": (1, n)}


def saddles(cfg: Mapping, seed: int) -> dict[str, SyntheticSaddle]:
    """The quadratic saddle (γ = 0) and its non-quadratic variant (γ = ``quartic``),
    sharing one spectrum and one basis (config ``paper.saddle``)."""
    base = make_saddle(
        cfg["n_params"],
        cfg["n_negative"],
        tuple(cfg["negative"]),
        tuple(cfg["positive"]),
        0.0,
        derive_seed(seed, "basis"),
    )
    quartic = SyntheticSaddle(base.eigenvalues, base.basis, base.centre, float(cfg["quartic"]))
    return {"quadratic": base, "quartic": quartic}


def _planes(s: SyntheticSaddle, cfg: Mapping, gen: torch.Generator):
    """Loss grids on a random and on the Hessian (λmax, λmin) plane through θ*: (2, n, n)."""
    n = s.n_params
    rand = random_directions(_FlatParameters(n), s.centre, 2, "unit", "normalise", gen)
    hess = torch.stack([s.eigenvector("max"), s.eigenvector("min")])
    a = torch.linspace(-cfg["plane_range"], cfg["plane_range"], cfg["resolution"]).double()
    grids = [plane_losses(s.loss, s.centre, *d.unbind(0), a, a) for d in (rand, hess)]
    return a, torch.stack(grids)


def saddle_study(cfg: Mapping, seed: int) -> xr.Dataset:
    """Planes and projected curvatures of the synthetic saddle, quadratic and quartic.

    Variables: ``loss (variant, slice, a, b)`` on unit-direction planes;
    ``curvature`` and ``curvature_fd (variant, trial)``, κ = δᵀHδ/|δ|² for
    Gaussian δ (exact by HVP, and by central differences with ``fd_step``);
    ``plane_curvature (variant, plane, eigen2d)``; the known ``eigenvalue (eigen)``,
    ``trace``, ``lambda_min``, ``lambda_max``; ``fraction_negative`` (measured, per
    variant) next to ``fraction_negative_theory`` (Imhof) and its binomial error; the
    same for planes: ``fraction_planes_negative`` (M/2 planes of pairs of the directions)
    next to ``fraction_planes_negative_theory`` (:func:`.synthetic.plane_negative_probability`,
    with its own standard error) and the binomial error of the measured fraction.
    """
    n_dir = int(cfg["directions"])
    models = saddles(cfg, seed)
    lam = models["quadratic"].eigenvalues
    gen = torch.Generator().manual_seed(derive_seed(seed, "directions"))
    deltas = torch.randn(n_dir, lam.numel(), generator=gen, dtype=torch.float64)
    losses, kappa, kappa_fd, planes, frac, frac_planes = [], [], [], [], [], []
    for s in models.values():
        a, grid = _planes(s, cfg, torch.Generator().manual_seed(derive_seed(seed, "plane")))
        losses.append(grid)
        pc = projected_curvatures(s.loss, s.centre, deltas, float(cfg["fd_step"]))
        kappa.append(pc.curvature)
        kappa_fd.append(pc.curvature_fd)
        m2 = n_dir // 2 * 2
        ev = plane_curvatures(
            deltas[0:m2:2], deltas[1:m2:2], pc.hessian_times[0:m2:2], pc.hessian_times[1:m2:2]
        )
        planes.append(ev)
        frac.append((pc.curvature < 0).double().mean())
        frac_planes.append((ev[:, 0] < 0).double().mean())
    p = negative_probability(lam)
    p_planes, se_planes = plane_negative_probability(
        lam, int(cfg["plane_theory_samples"]), derive_seed(seed, "plane_theory")
    )
    n = lam.numel()
    v, sl, e2 = (VARIANT,), (VARIANT, SLICE, "a", "b"), (VARIANT, PLANE, "eigen2d")
    data = {
        "loss": labelled(torch.stack(losses), sl, "loss on the plane θ* + a·d1 + b·d2, |d| = 1"),
        "curvature": labelled(torch.stack(kappa), (VARIANT, TRIAL), "κ = δᵀHδ/|δ|² (HVP)"),
        "curvature_fd": labelled(
            torch.stack(kappa_fd), (VARIANT, TRIAL), "κ by central differences"
        ),
        "plane_curvature": labelled(
            torch.stack(planes), e2, "eigenvalues of H projected on a random plane"
        ),
        "eigenvalue": labelled(lam, (EIGEN,), "Hessian eigenvalue at θ* (exact)"),
        "trace": labelled(lam.sum(), (), "tr H (exact)"),
        "trace_per_param": labelled(lam.sum() / n, (), "mean curvature tr H / N"),
        "lambda_min": labelled(lam.min(), (), "smallest Hessian eigenvalue λmin"),
        "lambda_max": labelled(lam.max(), (), "largest Hessian eigenvalue λmax"),
        "fraction_negative": labelled(
            torch.stack(frac), v, "fraction of random directions with κ < 0 (measured)"
        ),
        "fraction_negative_theory": labelled(
            p, (), "P(Σ λᵢ zᵢ² < 0), z ~ N(0, I) (Imhof 1961, exact to 1e-10)"
        ),
        "fraction_negative_stderr": labelled(
            binomial_stderr(p, n_dir), (), "binomial standard error √(p(1−p)/M) of the fraction"
        ),
        "fraction_planes_negative": labelled(
            torch.stack(frac_planes), v, "fraction of random planes with a negative curvature"
        ),
        "fraction_planes_negative_theory": labelled(
            p_planes, (), "P(H on a random plane is not positive definite), from the spectrum"
        ),
        "fraction_planes_negative_theory_stderr": labelled(
            se_planes, (), "standard error of that value (average over the first direction)"
        ),
        "fraction_planes_negative_stderr": labelled(
            binomial_stderr(p_planes, n_dir // 2),
            (),
            "binomial standard error of the measured fraction of planes √(p(1−p)/(M/2))",
        ),
    }
    return xr.Dataset(
        data,
        coords={
            VARIANT: list(models),
            SLICE: ["random", "hessian"],
            "a": a.numpy(),
            "b": a.numpy(),
            TRIAL: np.arange(n_dir),
            PLANE: np.arange(n_dir // 2),
            "eigen2d": ["min", "max"],
            EIGEN: np.arange(n),
            "quartic": (VARIANT, [float(s.quartic) for s in models.values()]),
        },
        attrs={"n_params": n, "n_negative": int((lam < 0).sum()), "fd_step": cfg["fd_step"]},
    )


def trace_study(saddle_cfg: Mapping, cfg: Mapping, seed: int) -> xr.Dataset:
    """Trace estimates against the exact tr H = Σ λᵢ as the number of probes m grows.

    For each variant and each of ``trials`` independent runs: the loss-value
    estimate (Gaussian δ, central second differences with step ``fd_step``,
    2m + 1 loss values) and Hutchinson's (Rademacher z, m HVPs), nested in m.
    The theoretical standard errors are √(2 tr H²/m) and
    √(2(‖H‖_F² − Σ H_ii²)/m) (Hutchinson 1990; THEORY.md).
    """
    probes = torch.tensor(sorted(set(int(p) for p in cfg["probes"])))
    m, trials = int(probes.max()), int(cfg["trials"])
    models = saddles(saddle_cfg, seed)
    estimates = []
    for s in models.values():
        per_trial = []
        for t in range(trials):
            key = derive_seed(seed, "trace", t)
            lv = loss_value_trace(s.loss, s.centre, m, float(cfg["fd_step"]), seed=key)
            hu = hutchinson_trace(s.matmat, (s.n_params,), m, seed=key)
            per_trial.append(torch.stack([running_estimates(e.samples, probes) for e in (lv, hu)]))
        estimates.append(torch.stack(per_trial, 1))  # (estimator, trial, probes)
    lam = models["quadratic"].eigenvalues
    diag = models["quadratic"].hessian().diagonal()
    var_lv = 2 * (lam**2).sum()
    var_hu = 2 * ((lam**2).sum() - (diag**2).sum())
    se = torch.stack([var_lv, var_hu])[:, None].sqrt() / probes.double().sqrt()
    dims = (VARIANT, ESTIMATOR, "trace_trial", PROBES)
    return xr.Dataset(
        {
            "estimate": labelled(torch.stack(estimates), dims, "trace estimate from m probes"),
            "trace": labelled(lam.sum(), (), "tr H (exact)"),
            "stderr_theory": labelled(
                se, (ESTIMATOR, PROBES), "theoretical standard error of the estimate"
            ),
            "loss_evaluations": labelled(
                torch.stack([2 * probes + 1, 0 * probes]),
                (ESTIMATOR, PROBES),
                "loss evaluations used",
            ),
            "hvps": labelled(
                torch.stack([0 * probes, probes]), (ESTIMATOR, PROBES), "Hessian-vector products"
            ),
        },
        coords={
            VARIANT: list(models),
            ESTIMATOR: list(ESTIMATORS),
            "trace_trial": np.arange(trials),
            PROBES: probes.numpy(),
        },
        attrs={"n_params": int(lam.numel()), "fd_step": cfg["fd_step"]},
    )
