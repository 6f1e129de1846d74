"""Restricted Boltzmann machines: exact log-likelihood during training (stage boltzmann)."""

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import seaborn as sns
import xarray as xr
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from statmech_nn.plots.common import panels


def rbm_loglik(runs: Sequence[xr.Dataset], style: Mapping) -> plt.Figure:
    """Exact mean log-likelihood per epoch, one panel per data set, colour per method (mean
    over replicas, band: min to max). References: the optimum −H(data) (bars and stripes:
    solid; Ising samples: the memorisation bound, dotted), −H(p) of the Ising distribution
    that generated the data (dashed), the uniform model −n_v ln 2 (dash-dot). Runs flagged in
    their file (ending below their start or the uniform model) are marked × at their end and
    counted in the panel title; every line style is in the legend."""
    datasets = list(dict.fromkeys(ds.attrs["dataset"] for ds in runs))
    methods = list(dict.fromkeys(ds.attrs["method"] for ds in runs))
    colours = dict(zip(methods, sns.color_palette(n_colors=len(methods)), strict=True))
    fig, axes = panels(style, 1, len(datasets))
    styles = {}  # label -> legend handle, in order of first use
    for ax, name in zip(axes, datasets, strict=True):
        ref, flagged = None, 0
        for ds in (ds for ds in runs if ds.attrs["dataset"] == name):
            ll, colour = ds["loglik"], colours[ds.attrs["method"]]
            label = f"{ds.attrs['method']}" + (
                f"-{ds.attrs['k']}" if "negative_samples" in ds else ""
            )
            ax.plot(ds["epoch"], ll.mean("replica"), color=colour, lw=1.2)
            styles.setdefault(label, Line2D([], [], color=colour, lw=1.2, label=label))
            ax.fill_between(
                ds["epoch"], ll.min("replica"), ll.max("replica"), color=colour, alpha=0.2, lw=0
            )
            bad = (ds["below_start"] | ds["below_uniform"]).values
            if "collapsed" in ds:  # files from before the flag existed lack it
                bad |= ds["collapsed"].values
            ends = ll.isel(epoch=-1).values[bad]
            ax.plot(np.full(ends.shape, ds["epoch"][-1]), ends, "x", color=colour, ms=8, mew=2)
            flagged += int(bad.sum())
            ref = ds
        ising = "ising_neg_entropy" in ref
        references = [
            (
                "best_loglik",
                "-" if not ising else ":",
                "black",
                "memorisation bound $-H$(sample)" if ising else "optimum $-H$(data)",
            ),
            ("ising_neg_entropy", "--", "black", "Ising model $-H(p)$ (best expected)"),
            ("uniform_loglik", "-.", "grey", "uniform model $-n_v \\ln 2$"),
        ]
        for var, ls, colour, label in references:
            if var in ref:
                ax.axhline(float(ref[var]), color=colour, ls=ls, lw=1)
                styles.setdefault(label, Line2D([], [], color=colour, ls=ls, lw=1, label=label))
        if flagged:
            styles.setdefault(
                "flagged",
                Line2D(
                    [],
                    [],
                    color="grey",
                    marker="x",
                    ls="",
                    mew=2,
                    label="flagged run: ends below its start or the uniform model, "
                    "or > 0.2 nat below its peak",
                ),
            )
        title = (
            name if "temperature" not in ref.attrs else f"{name} (T = {ref.attrs['temperature']:g})"
        )
        ax.set(
            xlabel="epoch",
            ylabel="exact log-likelihood (nats/sample)",
            title=title + (f"\n{flagged} run(s) flagged" if flagged else ""),
        )
    styles["band"] = Patch(color="grey", alpha=0.2, lw=0, label="band: lowest to highest replica")
    fig.legend(
        handles=list(styles.values()), loc="outside lower center", ncols=4, fontsize="x-small"
    )
    return fig
