"""Training curves of the replicas (stage train)."""

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns
import xarray as xr
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from statmech_nn.plots.common import legend_with


def training_curves(runs: Sequence[xr.Dataset], style: Mapping) -> plt.Figure:
    """Loss (top) and accuracy (bottom) per epoch, one column per architecture.

    Lines are the mean over healthy replicas, bands ± one standard deviation;
    train and test in colour, data sets by line style, all named in the legend.
    Diverged replicas are left out and counted in the panel title; where all
    diverged, their curves up to divergence are shown instead.
    """
    frames = []
    for ds in runs:
        ok = ds["status"] == "ok"
        n_bad = int((~ok).sum())
        arch = ds.attrs["arch"] + (f" ({n_bad} diverged)" if n_bad else "")
        keep = ok if ok.any() else xr.ones_like(ok)
        for split in ("train", "test"):
            for metric in ("loss", "accuracy"):
                da = ds[f"{split}_{metric}"].where(keep, drop=True)
                df = da.to_dataframe(name="value").reset_index()[["replica", "epoch", "value"]]
                df = df.assign(split=split, metric=metric, arch=arch, dataset=ds.attrs["dataset"])
                frames.append(df)
    df = pd.concat(frames, ignore_index=True)
    archs = list(dict.fromkeys(df["arch"]))  # the config's order
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
    band = Patch(color="grey", alpha=0.25, lw=0, label="band: ± 1 sd over replicas")
    legend_with(grid, [Line2D([], [], color="grey", label="line: mean over replicas"), band])
    return grid.figure
