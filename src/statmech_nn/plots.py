"""Figures of the study: seaborn plots that read Datasets and never recompute science.

Every figure function takes Datasets (and the config's ``figures`` section for
sizes) and returns a matplotlib Figure; :func:`apply_style` and :func:`save`
give all figures the same look and formats.
"""

from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402
import xarray as xr  # noqa: E402

from statmech_nn.dims import REPLICA as REPLICA_DIM  # noqa: E402


def apply_style(style: Mapping) -> None:
    """seaborn context, style and palette from the config's ``figures`` section."""
    sns.set_theme(context=style["context"], style=style["style"], palette=style["palette"])
    plt.rcParams["pdf.fonttype"] = 42  # editable text in the vector PDF


def save(fig: plt.Figure, paths: Sequence[str | Path], style: Mapping) -> None:
    """Write ``fig`` to every path (format from the suffix) and close it."""
    for path in paths:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=style["dpi"], bbox_inches="tight", metadata=_metadata(path))
    plt.close(fig)


def _metadata(path: str | Path) -> dict:
    # No creation dates, so the same data give the same bytes.
    suffix = Path(path).suffix
    if suffix == ".pdf":
        return {"CreationDate": None, "ModDate": None}
    if suffix == ".svg":
        return {"Date": None}
    return {}


def training_curves(runs: Sequence[xr.Dataset], style: Mapping) -> plt.Figure:
    """Loss (top) and accuracy (bottom) per epoch, one column per architecture.

    Lines are the mean over healthy replicas, bands ± one standard deviation;
    train and test in colour, data sets by line style.
    """
    frames = []
    for ds in runs:
        ok = ds["status"] == "ok"
        for split in ("train", "test"):
            for metric in ("loss", "accuracy"):
                da = ds[f"{split}_{metric}"].where(ok, drop=True)
                df = da.to_dataframe(name="value").reset_index()[["replica", "epoch", "value"]]
                df = df.assign(
                    split=split, metric=metric, arch=ds.attrs["arch"], dataset=ds.attrs["dataset"]
                )
                frames.append(df)
    df = pd.concat(frames, ignore_index=True)
    archs = list(dict.fromkeys(df["arch"]))
    grid = sns.relplot(
        data=df,
        x="epoch",
        y="value",
        hue="split",
        style="dataset",
        row="metric",
        col="arch",
        col_order=archs,
        kind="line",
        errorbar="sd",
        facet_kws={"sharey": "row", "margin_titles": True},
        height=style["panel_height"],
        aspect=style["panel_width"] / style["panel_height"],
    )
    grid.set_titles(row_template="{row_name}", col_template="{col_name}")
    grid.set_axis_labels("epoch", "")
    for (metric, _), ax in grid.axes_dict.items():
        ax.set_ylabel("loss (nats)" if metric == "loss" else "accuracy")
    return grid.figure


def _panels(count: int, style: Mapping, columns: int = 3) -> tuple[plt.Figure, list]:
    cols = min(count, columns)
    rows = -(-count // cols)
    fig, axes = plt.subplots(
        rows,
        cols,
        figsize=(style["panel_width"] * cols, style["panel_height"] * rows),
        squeeze=False,
        constrained_layout=True,
    )
    for ax in axes.flat[count:]:
        ax.set_visible(False)
    return fig, list(axes.flat[:count])


def hessian_spectrum(runs: Sequence[xr.Dataset], style: Mapping) -> plt.Figure:
    """Hessian eigenvalue densities, one panel per (data set, architecture).

    Bars: the dense spectrum (all eigenvalues of the analysed replicas, pooled)
    where the model was small enough; line: the SLQ density averaged over the
    replicas. Both integrate to 1; the density axis is logarithmic so the
    outliers next to the bulk at 0 stay visible.
    """
    fig, axes = _panels(len(runs), style)
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
        ax.set_ylim(bottom=max(float(density.max()) * 1e-6, 1e-12))
        ax.set_title(f"{ds.attrs['dataset']} {ds.attrs['arch']} (P = {ds.attrs['n_params']})")
        ax.set_xlabel(f"Hessian eigenvalue λ ({ds['lambda'].attrs['units']})")
        ax.set_ylabel(f"density ({unit})")
    axes[0].legend(frameon=False)
    return fig


def curvature_vs_depth(runs: Sequence[xr.Dataset], style: Mapping) -> plt.Figure:
    """λmax, λmin and the mean curvature tr/P against depth, for H and its Gauss–Newton part G.

    One point per replica, lines through the replica means; colour is the
    width, marker/line style the matrix (H, or G ⪰ 0: only H − G can curve down).
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
                        "width": ds.attrs["width"],
                        "dataset": ds.attrs["dataset"],
                        "replica": replica,
                        "quantity": quantity,
                        "matrix": matrix,
                        "value": value,
                    }
                )
    df = pd.DataFrame(rows).dropna(subset=["value"])
    unit = runs[0]["lambda_extreme"].attrs["units"]
    fig, axes = _panels(3, style)
    for ax, quantity in zip(axes, ("λmax", "λmin", "tr / P"), strict=True):
        part = df[df["quantity"] == quantity]
        sns.lineplot(
            data=part,
            x="depth",
            y="value",
            hue="width",
            style="matrix",
            markers=True,
            errorbar=None,
            palette="colorblind",
            ax=ax,
        )
        sns.scatterplot(
            data=part, x="depth", y="value", hue="width", palette="colorblind", s=10,
            alpha=0.5, legend=False, ax=ax,
        )  # fmt: skip
        ax.axhline(0.0, color="0.6", lw=0.8)
        ax.set_xlabel("hidden layers (depth)")
        ax.set_ylabel(f"{quantity} ({unit})")
        ax.xaxis.get_major_locator().set_params(integer=True)
    handles, labels = axes[0].get_legend_handles_labels()
    for ax in axes:
        ax.get_legend().remove()
    fig.legend(handles, labels, loc="outside right upper", frameon=False)
    return fig
