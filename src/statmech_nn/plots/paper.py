"""Figures of the paper study (after Böttcher & Wheeler, J. Stat. Mech. 2024).

Read the Datasets of :mod:`statmech_nn.landscape.synthetic_study`, never
recompute science. The classifiers' and the function approximator's figures
of the paper study are the stage figures (slices, hessian) on its files.
"""

from collections.abc import Mapping

import matplotlib.pyplot as plt
import numpy as np
import xarray as xr

from statmech_nn.plots.common import panels

_SLICE_LABELS = {
    "random": ("a along random d1 (|d1| = 1)", "b along random d2 (|d2| = 1)"),
    "hessian": ("a along the λmax eigenvector", "b along the λmin eigenvector"),
}


def paper_saddle_planes(ds: xr.Dataset, style: Mapping) -> plt.Figure:
    """Loss on a random plane and on the (λmax, λmin) plane through the saddle θ*.

    One row per variant (quadratic, quartic), one column per plane; a diverging
    colour scale centred on L(θ*) = 0 per panel (blue: below the saddle). The
    random plane shows the mean curvature tr H / N > 0 and looks like a minimum;
    the Hessian plane shows the saddle.
    """
    variants, slices = list(ds["variant"].values), list(ds["slice"].values)
    fig, axes = panels(style, len(variants), len(slices), scale=1.15)
    a, b = ds["a"].values, ds["b"].values
    for i, variant in enumerate(variants):
        for j, kind in enumerate(slices):
            ax = axes[i * len(slices) + j]
            z = ds["loss"].sel(variant=variant, slice=kind).values.T  # rows: b
            top = float(np.nanmax(np.abs(z))) or 1.0
            mesh = ax.pcolormesh(a, b, z, cmap="RdBu_r", vmin=-top, vmax=top, shading="auto")
            ax.contour(a, b, z, levels=[0.0], colors="k", linewidths=1.2)
            fig.colorbar(mesh, ax=ax, label="L − L(θ*)")
            ax.set_xlabel(_SLICE_LABELS.get(str(kind), ("a", "b"))[0])
            ax.set_ylabel(_SLICE_LABELS.get(str(kind), ("a", "b"))[1])
            gamma = float(ds["quartic"].sel(variant=variant))
            ax.set_title(f"{variant} (γ = {gamma:g}), {kind} plane", fontsize="small")
    fig.suptitle(
        f"N = {ds.attrs['n_params']}, {ds.attrs['n_negative']} negative eigenvalues, "
        f"tr H/N = {float(ds['trace_per_param']):.3g}",
        fontsize="small",
    )
    return fig


def paper_saddle_curvature(ds: xr.Dataset, style: Mapping) -> plt.Figure:
    """Projected curvatures of random directions against the known spectrum.

    Left: histogram of κ = δᵀHδ/|δ|² over M Gaussian directions (quadratic
    variant, exact by HVP) with tr H / N (dashed) and, in the text, the measured
    fraction with κ < 0 next to Imhof's exact P(Σλᵢzᵢ² < 0) ± the binomial error, and the
    fraction of random planes with a negative curvature next to its value from the spectrum.
    Right: the same κ on the scale of the spectrum (histogram of the eigenvalues,
    λmin and λmax marked): random directions sit in a narrow band about the mean.
    """
    fig, axes = panels(style, 1, 2, scale=1.15)
    kappa = ds["curvature"].sel(variant="quadratic").values
    mean = float(ds["trace_per_param"])
    lmin, lmax = float(ds["lambda_min"]), float(ds["lambda_max"])
    ax = axes[0]
    ax.hist(kappa, bins=50, color="C0", alpha=0.8, label="random δ (HVP)")
    ax.axvline(mean, color="k", ls="--", label="tr H / N")
    ax.axvline(0.0, color="0.5", lw=0.8)
    p, se = float(ds["fraction_negative_theory"]), float(ds["fraction_negative_stderr"])
    measured = float(ds["fraction_negative"].sel(variant="quadratic"))
    planes = float(ds["fraction_planes_negative"].sel(variant="quadratic"))
    planes_text = f"planes with κ < 0: {planes:.3f} measured"
    if "fraction_planes_negative_theory" in ds:
        pp = float(ds["fraction_planes_negative_theory"])
        se_p = float(
            np.hypot(
                ds["fraction_planes_negative_stderr"], ds["fraction_planes_negative_theory_stderr"]
            )
        )
        planes_text += f"\n{pp:.3f} ± {se_p:.3f} theory"
    ax.text(
        0.02,
        0.97,
        f"directions with κ < 0: {measured:.3f} measured\n{p:.3f} ± {se:.3f} theory\n"
        + planes_text,
        transform=ax.transAxes,
        va="top",
        fontsize="x-small",
    )
    ax.set_xlabel("projected curvature κ = δᵀHδ/|δ|²")
    ax.set_ylabel("directions")
    ax.legend(fontsize="x-small", loc="upper right")
    ax = axes[1]
    lam = ds["eigenvalue"].values
    bins = np.linspace(lmin, lmax, 80)
    ax.hist(lam, bins=bins, color="0.6", label="eigenvalues λᵢ")
    ax.hist(kappa, bins=bins, color="C0", alpha=0.8, label="κ of random δ")
    ax.axvline(lmin, color="C3", label=f"λmin = {lmin:.3g}")
    ax.axvline(lmax, color="C2", label=f"λmax = {lmax:.3g}")
    ax.axvline(mean, color="k", ls="--", label=f"tr H / N = {mean:.3g}")
    ax.set_yscale("log")
    ax.set_xlabel("curvature")
    ax.set_ylabel("count")
    ax.legend(fontsize="x-small", loc="upper left")
    fig.suptitle(
        f"N = {ds.attrs['n_params']}, M = {kappa.size} random directions", fontsize="small"
    )
    return fig


def paper_trace_estimators(ds: xr.Dataset, style: Mapping) -> plt.Figure:
    """Relative RMS error of the trace estimates against their cost, per variant.

    Loss values only (2m + 1 loss evaluations) and Hutchinson (m HVPs), root mean
    square over the trials of (estimate − tr H)/|tr H|, with the theoretical
    standard error (dashed) of each estimator; both fall as m^(−1/2).
    """
    variants = list(ds["variant"].values)
    fig, axes = panels(style, 1, len(variants), scale=1.15)
    trace = float(ds["trace"])
    cost = {"loss_values": "loss_evaluations", "hutchinson": "hvps"}
    labels = {"loss_values": "loss values (cost: evaluations)", "hutchinson": "Hutchinson (HVPs)"}
    for j, variant in enumerate(variants):
        ax = axes[j]
        for k, est in enumerate(ds["estimator"].values):
            err = (ds["estimate"].sel(variant=variant, estimator=est) - trace) / abs(trace)
            rms = np.sqrt((err**2).mean("trace_trial")).values
            x = ds[cost[str(est)]].sel(estimator=est).values
            ax.loglog(x, rms, "o-", color=f"C{k}", label=labels[str(est)])
            theory = ds["stderr_theory"].sel(estimator=est).values / abs(trace)
            ax.loglog(x, theory, "--", color=f"C{k}", lw=0.8)
        ax.set_xlabel("cost (loss evaluations or HVPs)")
        ax.set_ylabel("RMS of (estimate − tr H) / |tr H|")
        ax.set_title(f"{variant}, tr H = {trace:.4g}", fontsize="small")
        ax.legend(fontsize="x-small")
    fig.suptitle(
        f"{ds.sizes['trace_trial']} trials, fd step {ds.attrs['fd_step']:g}; dashed: theory",
        fontsize="small",
    )
    return fig
