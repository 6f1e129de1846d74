"""Hessian spectra and curvature against depth (stage hessian)."""

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns
import xarray as xr
from matplotlib.lines import Line2D

from statmech_nn.dims import REPLICA as REPLICA_DIM
from statmech_nn.plots.common import labelled_handles, panel_grid

WIDEST = "widest hidden layer\n(units or channels)"  # the legend title of the colours


def hessian_spectrum(runs: Sequence[xr.Dataset], style: Mapping) -> plt.Figure:
    """Hessian eigenvalue densities, one panel per (data set, architecture).

    Bars: the dense spectrum (all eigenvalues of the analysed replicas, pooled)
    where the model was small enough; line: the SLQ density averaged over the
    replicas. Both integrate to 1; the density axis is logarithmic so the
    outliers next to the bulk at 0 stay visible.
    """
    fig, axes = panel_grid(len(runs), style)
    palette = sns.color_palette()
    for ds, ax in zip(runs, axes, strict=True):
        ok = ds["status"] == "ok"
        unit = ds["density"].attrs["units"]
        if "dense_eigenvalues" in ds:
            values = ds["dense_eigenvalues"].where(ok, drop=True).values.ravel()
            sns.histplot(
                x=values,
                bins=60,
                stat="density",
                color=palette[0],
                alpha=0.5,
                label="dense eigh",
                ax=ax,
            )
        density = ds["density"].where(ok, drop=True).mean(REPLICA_DIM)
        ax.plot(ds["lambda"], density, color=palette[1], label="SLQ")
        ax.set_yscale("log")
        top = float(density.max())
        if "dense_eigenvalues" in ds:
            top = max(top, max((p.get_height() for p in ax.patches), default=0.0))
        ax.set_ylim(max(top * 1e-6, 1e-12), top * 3)
        ax.set_title(f"{ds.attrs['dataset']} {ds.attrs['arch']}\n({_sizes(ds)})")
        ax.set_xlabel(f"Hessian eigenvalue λ ({ds['lambda'].attrs['units']})")
        ax.set_ylabel(f"density ({unit})")
    handles = labelled_handles(axes)  # a panel without the dense spectrum lacks its bars
    # below the panels: on the right it ran into the last panel's long title
    fig.legend(handles=list(handles.values()), loc="outside lower center", ncols=2, frameon=False)
    return fig


def _sizes(ds: xr.Dataset) -> str:
    """The Hessian's size and the training samples it averages: "P = …, n = … samples"."""
    n = f", n = {ds.attrs['n_samples']} samples" if "n_samples" in ds.attrs else ""
    return f"P = {ds.attrs['n_params']}{n}"


def curvature_vs_depth(runs: Sequence[xr.Dataset], style: Mapping) -> plt.Figure:
    """λmax, λmin and the mean curvature tr/P against depth, for H and its Gauss–Newton part G.

    One point per replica, lines through the replica means; colour is the widest
    hidden layer (units of an MLP, channels of a CNN), marker/line style the matrix (H,
    or G ⪰ 0: only H − G can curve down); the legend names them, the faint replica
    points and the zero line.
    """
    rows = []
    for ds in runs:
        ok = ds["status"] == "ok"
        quantities = {
            ("λmax", "H"): ds["lambda_extreme"].sel(which="max"),
            ("λmin", "H"): ds["lambda_extreme"].sel(which="min"),
            ("tr / P", "H"): ds["mean_curvature"],
        }
        if "ggn_lambda_extreme" in ds:
            quantities |= {
                ("λmax", "G"): ds["ggn_lambda_extreme"].sel(which="max"),
                ("λmin", "G"): ds["ggn_lambda_extreme"].sel(which="min"),
                ("tr / P", "G"): ds["ggn_trace_hutchinson"] / ds.attrs["n_params"],
            }
        for (quantity, matrix), da in quantities.items():
            for replica, value in zip(ds[REPLICA_DIM].values, da.where(ok).values, strict=True):
                rows.append(
                    {
                        "depth": ds.attrs["depth"],
                        WIDEST: ds.attrs["width"],
                        "dataset": ds.attrs["dataset"],
                        "replica": replica,
                        "quantity": quantity,
                        "matrix": matrix,
                        "value": value,
                    }
                )
    df = pd.DataFrame(rows).dropna(subset=["value"])
    unit = runs[0]["lambda_extreme"].attrs["units"]
    fig, axes = panel_grid(3, style)
    for ax, quantity in zip(axes, ("λmax", "λmin", "tr / P"), strict=True):
        part = df[df["quantity"] == quantity]
        sns.lineplot(
            data=part,
            x="depth",
            y="value",
            hue=WIDEST,
            style="matrix",
            markers=True,
            errorbar=None,
            palette="colorblind",
            ax=ax,
        )
        sns.scatterplot(
            data=part, x="depth", y="value", hue=WIDEST, palette="colorblind", s=10,
            alpha=0.5, legend=False, ax=ax,
        )  # fmt: skip
        ax.axhline(0.0, color="0.6", lw=0.8)
        ax.set_xlabel("hidden layers (depth)")
        ax.set_ylabel(f"{quantity} ({unit})")
        ax.xaxis.get_major_locator().set_params(integer=True)
    handles = labelled_handles(axes)  # hue (widest layer), style (matrix) of every panel, once
    for ax in axes:
        ax.get_legend().remove()
    handles["one replica"] = Line2D(
        [], [], color="grey", marker="o", ms=3, alpha=0.5, ls="", label="one replica"
    )
    handles["zero"] = Line2D([], [], color="0.6", lw=0.8, label="zero")
    samples = sorted({int(ds.attrs["n_samples"]) for ds in runs if "n_samples" in ds.attrs})
    if samples:  # a subsample's Hessian is not the training set's: λmin < 0 may be its own
        fig.suptitle(f"Hessian on n = {', '.join(map(str, samples))} training samples")
    fig.legend(handles=list(handles.values()), loc="outside right upper", frameon=False)
    return fig
