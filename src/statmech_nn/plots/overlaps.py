"""Replica overlaps, barriers and basins (stage overlaps)."""

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import matplotlib.ticker
import pandas as pd
import seaborn as sns
import xarray as xr
from matplotlib.lines import Line2D

from statmech_nn.plots.common import labelled_handles, panel_grid


def overlap_distributions(runs: Sequence[xr.Dataset], style: Mapping) -> plt.Figure:
    """P(q) over replica pairs, one panel per (data set, architecture), raw vs aligned.

    Aligned: the hidden units of b permuted to match a (weight matching); the
    perceptron has no hidden units, so its two histograms coincide.
    """
    fig, axes = panel_grid(len(runs), style)
    for ds, ax in zip(runs, axes, strict=True):
        df = ds["q_pair"].to_dataframe().reset_index()
        sns.histplot(
            data=df,
            x="q_pair",
            hue="alignment",
            hue_order=["raw", "aligned"],
            stat="density",
            common_norm=False,
            element="step",
            bins=20,
            ax=ax,
        )
        ax.set_title(f"{ds.attrs['dataset']} {ds.attrs['arch']} ({ds.sizes['replica']} replicas)")
        ax.set_xlabel("overlap q (1)")
        ax.set_ylabel("P(q) (1)")
    return fig


def _overlap_table(runs: Sequence[xr.Dataset]) -> tuple[pd.DataFrame, dict[str, str]]:
    """Long table of the overlap files: one row per (run, quantity, alignment, pair).

    Columns: dataset, kind (of data set), n_train, arch, depth, width, quantity
    (q, barrier or basins: one row per run, aligned), alignment, value; and the
    axis label of each quantity.
    """
    rows = []
    for ds in runs:
        common = {
            "dataset": ds.attrs["dataset"],
            "kind": ds.attrs.get("data_kind", ds.attrs["dataset"]),
            "n_train": ds.attrs.get("n_train", 0),
            "arch": ds.attrs["arch"],
            "depth": ds.attrs["depth"],
            "width": ds.attrs["width"],
        }
        for alignment in ds["alignment"].values:
            for quantity, name in (("q", "q_pair"), ("barrier", "barrier")):
                for value in ds[name].sel(alignment=alignment).values:
                    rows.append(
                        common | {"quantity": quantity, "alignment": alignment, "value": value}
                    )
        rows.append(
            common | {"quantity": "basins", "alignment": "aligned", "value": int(ds["n_basins"])}
        )
    unit = runs[0]["barrier"].attrs["units"]
    labels = {
        "q": "mean overlap q (1)",
        "barrier": f"mean barrier B ({unit})",
        "basins": "basins among replicas (1)",
    }
    return pd.DataFrame(rows), labels


def _overlap_lines(ax, part: pd.DataFrame, x: str, hue: str, hue_order=None) -> None:
    """Pair means of one overlap quantity against ``x``: raw and aligned, sd error bars."""
    sns.lineplot(
        data=part,
        x=x,
        y="value",
        hue=hue,
        hue_order=hue_order,
        style="alignment",
        style_order=["raw", "aligned"],
        markers=True,
        errorbar="sd",
        err_style="bars",
        palette="colorblind",
        ax=ax,
    )


def _overlap_legend(
    fig: plt.Figure, axes: Sequence[plt.Axes], extra: Mapping | None = None
) -> None:
    """One legend for every panel: colours and line styles seaborn drew, the error bar, and
    ``extra`` handles (label -> artist) of panels drawn otherwise, under a heading."""
    handles = labelled_handles(axes)
    for ax in axes:
        if ax.get_legend() is not None:
            ax.get_legend().remove()
    handles["sd"] = Line2D(
        [], [], color="grey", marker="|", ms=8, ls="", label="error bar: ± 1 sd over pairs"
    )
    if extra:
        handles["heading"] = Line2D([], [], ls="", label="basins by threshold")
        handles |= dict(extra)
    fig.legend(
        handles=list(handles.values()), loc="outside right upper", frameon=False, fontsize="small"
    )


def overlap_vs_depth(runs: Sequence[xr.Dataset], style: Mapping) -> plt.Figure:
    """Mean overlap and mean barrier (raw and aligned), basin count against depth, and the
    basin count against the barrier threshold.

    Points are pair means per architecture, colour the width (hidden units, or channels of
    a CNN; one colour per width in the first three panels), line style raw or aligned; error
    bars the standard deviation over pairs. The third panel counts basins at the configured
    threshold (``barrier_threshold``); the fourth counts them at every threshold of the
    overlap files (``n_basins_by_threshold``: replicas joined when their aligned barrier is
    below it), one line per architecture, so a depth trend can be told from an artefact of
    one cut. One row per data set.
    """
    df, labels = _overlap_table(runs)
    datasets = list(dict.fromkeys(df["dataset"]))
    widths = sorted(df["width"].unique())  # one colour per width in every panel
    cut = runs[0].attrs.get("barrier_threshold")
    if cut is not None:
        labels = labels | {"basins": f"basins at barrier < {float(cut):g} {_barrier_unit(runs)}"}
    fig, axes = panel_grid(4 * len(datasets), style, columns=4)
    for row, dataset in enumerate(datasets):
        for col, quantity in enumerate(labels):
            ax = axes[4 * row + col]
            part = df[(df["dataset"] == dataset) & (df["quantity"] == quantity)]
            _overlap_lines(ax, part, x="depth", hue="width", hue_order=widths)
            ax.set_title(dataset)
            ax.set_xlabel("hidden layers (depth)")
            ax.set_ylabel(labels[quantity])
            ax.xaxis.get_major_locator().set_params(integer=True)
        _basins_by_threshold(axes[4 * row + 3], [r for r in runs if r.attrs["dataset"] == dataset])
    lines = [ax for i, ax in enumerate(axes) if i % 4 != 3]
    _overlap_legend(fig, lines, extra=labelled_handles(axes[3:4]))
    return fig


def _barrier_unit(runs: Sequence[xr.Dataset]) -> str:
    return runs[0]["barrier"].attrs["units"]


def _basins_by_threshold(ax: plt.Axes, runs: Sequence[xr.Dataset]) -> None:
    """Basins against the barrier threshold (log scale), one line per architecture, darker
    for deeper networks; the configured threshold dotted."""
    runs = sorted(runs, key=lambda r: (r.attrs["depth"], r.attrs["width"]))
    shades = sns.color_palette("viridis_r", len(runs))
    for ds, colour in zip(runs, shades, strict=True):
        counts = ds["n_basins_by_threshold"]
        ax.step(counts["threshold"], counts, where="post", color=colour, label=ds.attrs["arch"])
    cut = runs[0].attrs.get("barrier_threshold")
    if cut is not None:
        ax.axvline(float(cut), color="grey", ls=":", lw=1, label=f"threshold {float(cut):g}")
    ax.set_xscale("log")
    ax.set_title(runs[0].attrs["dataset"])
    ax.set_xlabel(f"barrier threshold ({_barrier_unit(runs)})")
    ax.set_ylabel("basins among replicas (1)")


def overlap_vs_train_size(runs: Sequence[xr.Dataset], style: Mapping) -> plt.Figure:
    """Mean overlap, mean barrier (raw and aligned) and basin count against training-set size.

    One row per kind of data set (entries of one kind that differ in size form
    the sweep); x the number of training samples n (log scale), one line per
    architecture, line style raw or aligned; error bars the standard deviation
    over replica pairs.
    """
    df, labels = _overlap_table(runs)
    kinds = list(dict.fromkeys(df["kind"]))
    archs = list(dict.fromkeys(df.sort_values(["depth", "width"])["arch"]))
    fig, axes = panel_grid(3 * len(kinds), style)
    for row, kind in enumerate(kinds):
        for col, quantity in enumerate(labels):
            ax = axes[3 * row + col]
            part = df[(df["kind"] == kind) & (df["quantity"] == quantity)]
            _overlap_lines(ax, part, x="n_train", hue="arch", hue_order=archs)
            ax.set_xscale("log")
            sizes = sorted(part["n_train"].unique())
            ax.set_xticks(sizes, [str(n) for n in sizes])
            ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
            ax.set_title(kind)
            ax.set_xlabel("training samples n (1)")
            ax.set_ylabel(labels[quantity])
    _overlap_legend(fig, axes)
    return fig
