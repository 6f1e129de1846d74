"""Loss-landscape slices and projected curvatures (stage slices)."""

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import seaborn as sns
import xarray as xr
from matplotlib.lines import Line2D
from matplotlib.ticker import MaxNLocator

from statmech_nn.plots.common import labelled_handles


def _slice_groups(slices: Sequence[xr.Dataset]) -> dict[str, dict[str, xr.Dataset]]:
    """Slice Datasets grouped by "dataset / arch", then by direction name (file order)."""
    groups: dict[str, dict[str, xr.Dataset]] = {}
    for ds in slices:
        row = f"{ds.attrs['dataset']} / {ds.attrs['arch']}"
        groups.setdefault(row, {})[ds.attrs["direction"]] = ds
    return groups


def _delta_label(ds: xr.Dataset) -> str:
    """The plotted difference: the training objective J where the file's weight decay adds
    an L2 term to the loss L, else L, minus its value at θ*."""
    if float(ds.attrs.get("weight_decay", 0.0)):
        return "training objective J − J(θ*)"
    return "L − L(θ*)"


def _axis_label(ds: xr.Dataset, axis: str) -> str:
    kind = str(ds["axis_kind"].sel(axis=axis).values)
    name = {
        "random": "random direction",
        "hessian_max": "λmax eigenvector",
        "hessian_min": "λmin eigenvector",
        "pca1": "1st trajectory PC",
        "pca2": "2nd trajectory PC",
        "segment": "t (replica → next replica)",
    }[kind]
    if kind == "segment":
        return name
    norm = float(ds["direction_norm"].isel(replica=0).sel(axis=axis))
    return f"{axis} along {name}\n(units of |d| = {norm:.3g})"


def slices_random_vs_hessian(
    slices: Sequence[xr.Dataset], names: Sequence[str], style: Mapping
) -> plt.Figure:
    """Heat maps of L − L(θ*) on planes through the trained point, first replica.

    One row per data set and architecture (named in each panel's title), one column per
    plane in ``names``. A diverging colour scale centred on zero, equal on both sides (symmetric
    logarithmic beyond a small linear band, so a shallow dip below L(θ*) stays
    visible next to a steep rise: the colour bar says so), shows loss below the
    trained point in blue: the random plane looks like a minimum (all red), the
    plane of the λmax and λmin eigenvectors shows the saddle when λmin < 0. Thin
    contours at quantiles of the values; the bold contour is L = L(θ*). The title
    gives the curvatures along the axes at the centre (exact where the file stores
    ``axis_curvature``, else second differences) and flags a replica whose
    gradient is not small against the curvature over the range (a slope, not a
    critical point); the axes give each direction's length |d|. PCA planes show
    the training trajectory. A legend names the marker and every line style.
    """
    from matplotlib.colors import SymLogNorm

    groups = _slice_groups(slices)
    fig, axes = plt.subplots(
        len(groups),
        len(names),
        figsize=(
            style["panel_width"] * len(names) * 1.15,
            style["panel_height"] * len(groups) * 1.1,
        ),
        squeeze=False,
        constrained_layout=True,
    )
    legend = {
        "centre": Line2D([], [], color="k", marker="+", ms=8, ls="", label="θ* (replica 0)"),
        "quantiles": Line2D([], [], color="k", lw=0.4, alpha=0.6, label="contours at quantiles"),
    }
    for row, (label, by_name) in enumerate(groups.items()):
        for col, name in enumerate(names):
            ds, ax = by_name[name], axes[row, col]
            loss = ds["train_loss"].isel(replica=0)
            centre = loss.sel(a=0, b=0, method="nearest")
            delta = (loss - centre).transpose("b", "a").values
            lo, hi = float(delta.min()), float(delta.max())
            reach = max(abs(lo), abs(hi), 1e-12)
            nonzero = np.abs(delta[np.abs(delta) > 0])
            band = float(np.quantile(nonzero, 0.1)) if nonzero.size else reach * 1e-3
            band = min(max(band, reach * 1e-6), reach * 0.1)
            norm = SymLogNorm(linthresh=band, vmin=-reach, vmax=reach, base=10)
            mesh = ax.pcolormesh(ds.a, ds.b, delta, cmap="RdBu_r", norm=norm, shading="auto")
            levels = np.unique(np.quantile(delta, np.linspace(0.05, 0.95, 8)))
            ax.contour(ds.a, ds.b, delta, levels=levels, colors="k", linewidths=0.4, alpha=0.6)
            if lo < 0 < hi:
                ax.contour(ds.a, ds.b, delta, levels=[0.0], colors="k", linewidths=1.2)
                legend["zero"] = Line2D([], [], color="k", lw=1.2, label="L = L(θ*)")
            ax.plot(0, 0, marker="+", color="k", markersize=8)
            if "trajectory" in ds:
                traj = ds["trajectory"].isel(replica=0)
                ax.plot(traj.sel(axis="a"), traj.sel(axis="b"), "o-", color="k", ms=2, lw=0.8)
                legend["trajectory"] = Line2D(
                    [], [], color="k", marker="o", ms=2, lw=0.8, label="training trajectory"
                )
            # the exact curvature along the axis (HVP) where the file has it: a float32 grid's
            # second difference cannot resolve the flat λmin axis
            name_k = "axis_curvature" if "axis_curvature" in ds else "centre_curvature"
            kappa = ds[name_k].isel(replica=0).values
            # the pair heads every panel: a long architecture name beside the axis label
            # ran into the row above
            title = f"{label}\n{name}: κa = {kappa[0]:.3g}, κb = {kappa[1]:.3g}"
            if "critical" in ds and not bool(ds["critical"].isel(replica=0).all()):
                title += "\nslope ≥ 0.1 × curvature: not a critical point"
            ax.set_title(title, fontsize="small")
            ax.set_xlabel(_axis_label(ds, "a"))
            ax.set_ylabel(_axis_label(ds, "b"))
            unit = ds["train_loss"].attrs.get("units", "1")
            fig.colorbar(
                mesh,
                ax=ax,
                label=f"{_delta_label(ds)} ({unit})\nsymlog, linear ±{band:.1g}",
                shrink=0.9,
            )
    fig.legend(
        handles=list(legend.values()), loc="outside lower center", ncols=4, fontsize="x-small"
    )
    return fig


def _line_x(ds: xr.Dataset) -> tuple[np.ndarray, str]:
    """x values of a line and their label: the coordinate in units of |d|, or, on a line
    with per-replica ranges (``ranges: auto``), in units of each replica's own range r."""
    if ds.attrs.get("ranges") != "auto":
        return ds["a"].values, _axis_label(ds, "a")
    r = ds["axis_range"].sel(axis="a").values * ds["direction_norm"].sel(axis="a").values
    kind = _axis_label(ds, "a").split("\n")[0].removeprefix("a along ")
    low, high = f"{r.min():.2g}", f"{r.max():.2g}"
    spread = low if low == high else f"{low}–{high}"
    return ds["a"].values, f"{kind}, in units of r\n(|Δθ| at ±1: r = {spread} per replica)"


def slices_1d(slices: Sequence[xr.Dataset], names: Sequence[str], style: Mapping) -> plt.Figure:
    """L − L(θ*) along lines through the trained points, every replica, each at its own scale.

    One row per data set and architecture, one column per line in ``names`` (random,
    Hessian eigenvector or replica-to-replica segment). Training loss (solid; the training
    objective where the file's weight decay adds an L2 term) and test loss (dashed), each
    minus its value at the replica's trained point, so replicas whose losses differ share
    one y scale per panel. A line with curvature-chosen ranges (``ranges: auto``) is drawn
    against c/r, r each replica's own range, with the rise ``auto_rise`` its curvature
    term reaches at ±1 dotted.
    """
    groups = _slice_groups(slices)
    fig, axes = plt.subplots(
        len(groups),
        len(names),
        figsize=(style["panel_width"] * len(names), style["panel_height"] * 1.25 * len(groups)),
        squeeze=False,
        constrained_layout=True,
    )
    legend: dict[str, Line2D] = {}
    for row, (label, by_name) in enumerate(groups.items()):
        for col, name in enumerate(names):
            ds, ax = by_name[name], axes[row, col]
            x, xlabel = _line_x(ds)
            centre = int(np.argmin(np.abs(ds["a"].values)))
            for i, replica in enumerate(ds["replica"].values):
                colour = f"C{i % 10}"
                for split, ls in (("train", "-"), ("test", "--")):
                    loss = ds[f"{split}_loss"].sel(replica=replica).values
                    ax.plot(x, loss - loss[centre], color=colour, ls=ls, lw=1.0)
                legend.setdefault(
                    f"replica {replica}",
                    Line2D([], [], color=colour, lw=2, label=f"replica {replica}"),
                )
            if ds.attrs.get("ranges") == "auto":
                rise = float(ds.attrs["auto_rise"])
                ax.axhline(rise, color="k", ls=":", lw=0.8)
                legend["rise"] = Line2D([], [], color="k", ls=":", lw=0.8, label="auto_rise")
            ax.axhline(0.0, color="0.6", lw=0.5)
            ax.set_title(f"{label}: {name}" if len(groups) > 1 else name, fontsize="small")
            ax.set_xlabel(xlabel)
            unit = ds["train_loss"].attrs.get("units", "1")
            ax.set_ylabel(f"{_delta_label(ds)} ({unit})" if col == 0 else "")
    penalised = any(float(ds.attrs.get("weight_decay", 0.0)) for ds in slices)
    train = "training objective J = L + (wd/2)|θ|²" if penalised else "training loss L"
    legend["train"] = Line2D([], [], color="k", ls="-", label=train)
    legend["test"] = Line2D([], [], color="k", ls="--", label="test loss L")
    fig.legend(
        handles=list(legend.values()), loc="outside lower center", ncols=6, fontsize="x-small"
    )
    return fig


def projected_curvature(curvature: Sequence[xr.Dataset], style: Mapping) -> plt.Figure:
    """Histogram of random-projection curvatures κ = δᵀHδ/|δ|², with tr H / P, λmin, λmax.

    One panel per data set and architecture, all sliced replicas pooled. Lines:
    mean κ (solid), tr H / P from the Hessian stage (dashed, when present), and the
    curvature along the Hessian stage's λmin (red) and λmax eigenvectors (λmax named in
    the text when off scale), measured on the same data as κ: λmin and λmax themselves
    where the Hessian stage used those samples too; a rug marks every κ. The text
    gives the fractions of random directions and random planes with negative
    curvature. One legend names the lines of every panel.
    """
    fig, axes = plt.subplots(
        1,
        len(curvature),
        figsize=(style["panel_width"] * len(curvature), style["panel_height"] * 1.2),
        squeeze=False,
        constrained_layout=True,
    )
    for ax, ds in zip(axes[0], curvature, strict=True):
        kappa = ds["curvature"].values.ravel()
        lam_min = float(ds["lambda_min"].mean())
        lam_max = float(ds["lambda_max"].mean())
        sns.histplot(x=kappa, ax=ax, stat="density", color="C0", label="random δ")
        # a rug marks every κ: for P ~ 10⁶ their spread (√(2 tr H²)/P) is far narrower than
        # the distance to λmin, and the bars alone are too thin to see
        sns.rugplot(x=kappa, ax=ax, color="C0", height=0.04, lw=0.5)
        ax.axvline(kappa.mean(), color="C0", lw=1.5, label="mean κ")
        if "trace_per_param" in ds:
            ax.axvline(float(ds["trace_per_param"].mean()), color="k", ls="--", label="tr H / P")
        ax.axvline(lam_min, color="C3", lw=1.5, label="κ along the λmin eigenvector")
        left, right = ax.get_xlim()
        ax.set_xlim(min(left, lam_min * 1.1), right)
        off_scale = ""
        if lam_max <= ax.get_xlim()[1]:
            ax.axvline(lam_max, color="C2", lw=1.5, label="κ along the λmax eigenvector")
        else:  # far right of the bulk: named in the text block, clear of the bars
            off_scale = f"\nλmax = {lam_max:.3g} (off scale, right)"
        ax.text(
            0.02,
            0.97,
            f"κ < 0: {float(ds['fraction_negative'].mean()):.0%} of directions\n"
            f"planes with κ < 0: {float(ds['fraction_planes_negative'].mean()):.0%}"
            f"{off_scale}",
            transform=ax.transAxes,
            va="top",
            fontsize="x-small",
            bbox={"facecolor": "white", "alpha": 0.85, "edgecolor": "none", "pad": 1},
            zorder=5,  # over the lines it may cross
        )
        ax.set_ylim(0, ax.get_ylim()[1] * 1.4)  # headroom: the text block above the bars
        unit = ds["curvature"].attrs.get("units", "1")
        ax.set_xlabel(f"projected curvature κ ({unit})")
        ax.xaxis.set_major_locator(MaxNLocator(nbins=3))  # long labels of small κ overlapped
        ax.set_title(f"{ds.attrs['dataset']} / {ds.attrs['arch']}", fontsize="small")
    handles = labelled_handles(axes[0])  # every line any panel drew, once
    fig.legend(handles=list(handles.values()), loc="outside right center", fontsize="x-small")
    return fig
