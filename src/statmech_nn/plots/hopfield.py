"""Hopfield networks: capacity and energy descent (stage hopfield)."""

from collections.abc import Mapping

import matplotlib.pyplot as plt
import numpy as np
import seaborn as sns
import xarray as xr
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from statmech_nn.plots.common import panels


def hopfield_capacity(ds: xr.Dataset, style: Mapping) -> plt.Figure:
    """Final retrieval overlap m vs load α = P/N per N (left) and the fraction of runs that
    retrieve (right), next to the AGS zero-T curve; AGS α_c (dotted) and the measured α_c(N)
    with its bootstrap error (triangles with horizontal bars, values in the legend) are
    marked. Solid: stored start; dashed: corrupted start; every style is in the legend.
    """
    fig, (ax_m, ax_f) = panels(style, 1, 2)
    colours = sns.color_palette(n_colors=ds.sizes["N"])
    alpha_c = float(ds["alpha_c_theory"])
    retrieval = ds["m_theory"].where(ds["m_theory"] > 0, drop=True)  # the branch up to α_c
    ax_m.plot(retrieval["alpha_theory"], retrieval, color="black", lw=1.5, label="AGS theory")
    for ax in (ax_m, ax_f):
        ax.axvline(alpha_c, color="black", ls=":", lw=1)
    starts = {"stored": "-", "corrupted": "--"}
    for colour, n in zip(colours, ds["N"].values, strict=True):
        sub = ds.sel(N=n)
        measured = float(sub["alpha_c"].sel(start="stored"))
        error = float(sub["alpha_c_err"].sel(start="stored"))
        label = (
            f"N = {n}: $\\alpha_c$ = {measured:.3f} ± {error:.3f}"
            if np.isfinite(measured)
            else f"N = {n}: no $\\alpha_c$ in range"  # retrieving fraction stayed >= ½
        )
        for start, ls in starts.items():
            one = sub.sel(start=start)
            ax_m.errorbar(
                sub["load"],
                one["m_mean"],
                yerr=one["m_sem"],
                color=colour,
                ls=ls,
                marker="o",
                ms=3,
                lw=1,
                label=label if start == "stored" else None,
            )
            ax_f.plot(sub["load"], one["retrieval_fraction"], color=colour, ls=ls, marker="o", ms=3)
        ax_f.errorbar(
            [measured], [0.5], xerr=[error], color=colour, marker="v", ms=7, capsize=3, lw=1.2
        )
    ax_f.axhline(0.5, color="grey", lw=0.8)
    ax_m.text(alpha_c, 1.02, f" AGS $\\alpha_c$ = {alpha_c:.4f}", fontsize="small", va="bottom")
    ax_m.set(xlabel="load $\\alpha = P/N$", ylabel="final overlap $m$", ylim=(0, 1.08))
    threshold = ds.attrs["retrieval_threshold"]
    ax_f.set(
        xlabel="load $\\alpha = P/N$",
        ylabel=f"fraction of runs with $m \\geq$ {threshold}",
        ylim=(-0.03, 1.03),
    )
    ax_m.legend(fontsize="x-small", loc="lower left")
    ax_f.legend(
        handles=[
            *(
                Line2D([], [], color="grey", ls=ls, label=f"{start} start")
                for start, ls in starts.items()
            ),
            Line2D(
                [],
                [],
                color="grey",
                marker="v",
                ls="",
                label="measured $\\alpha_c$ ± bootstrap error",
            ),
            Line2D([], [], color="black", ls=":", label="AGS $\\alpha_c$"),
            Line2D([], [], color="grey", lw=0.8, label="½: retrieving fraction at $\\alpha_c$"),
        ],
        fontsize="x-small",
        loc="lower left",
    )
    return fig


def hopfield_energy(ds: xr.Dataset, style: Mapping) -> plt.Figure:
    """Energy per spin (left) and overlap with pattern 1 (right) vs time in sweeps, mean over
    trials with a band of one standard deviation; colour: temperature (0 = sign rule, else
    Glauber), solid: corrupted start, dashed: random start. Dotted: E/N of the stored pattern.
    The line is the mean over trials.
    The legend names the colours and every line style.
    """
    fig, (ax_e, ax_m) = panels(style, 1, 2)
    colours = sns.color_palette(n_colors=ds.sizes["temperature"])
    for colour, temp in zip(colours, ds["temperature"].values, strict=True):
        for start, ls in (("corrupted", "-"), ("random", "--")):
            for ax, name in ((ax_e, "energy"), (ax_m, "m")):
                da = ds[name].sel(temperature=temp, start=start)
                mean, sd = da.mean("trial"), da.std("trial")
                label = f"T = {temp:g}" if start == "corrupted" and name == "energy" else None
                ax.plot(ds["t"], mean, color=colour, ls=ls, lw=1.2, label=label)
                ax.fill_between(ds["t"], mean - sd, mean + sd, color=colour, alpha=0.15, lw=0)
    ax_e.axhline(float(ds["pattern_energy"].mean()), color="black", ls=":", lw=1)
    ax_e.set(xlabel="time (sweeps)", ylabel="energy per spin $E/N$")
    ax_m.set(xlabel="time (sweeps)", ylabel="overlap $m$ with pattern 1")
    ax_e.set_title(f"N = {ds.attrs['N']}, P = {ds.attrs['P']}", fontsize="small")
    styles = [
        Line2D([], [], color="grey", ls="-", label="corrupted start"),
        Line2D([], [], color="grey", ls="--", label="random start"),
        Line2D([], [], color="black", ls=":", label="$E/N$ of the stored pattern"),
        Patch(color="grey", alpha=0.15, lw=0, label="band: ± 1 sd over trials"),
    ]
    ax_e.legend(handles=ax_e.get_legend_handles_labels()[0] + styles, fontsize="x-small")
    return fig
