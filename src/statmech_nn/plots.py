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
    train and test in colour, data sets by line style. Diverged replicas are
    left out and counted in the panel title; where all diverged, their curves
    up to divergence are shown instead.
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


# --- Ising family: Hopfield networks, 2D Ising model, RBMs (issue 6) ---


def _panels(style: Mapping, rows: int, cols: int) -> tuple[plt.Figure, list[plt.Axes]]:
    fig, axes = plt.subplots(
        rows,
        cols,
        figsize=(cols * style["panel_width"] * 1.2, rows * style["panel_height"] * 1.2),
        squeeze=False,
        layout="constrained",
    )
    return fig, list(axes.flat)


def hopfield_capacity(ds: xr.Dataset, style: Mapping) -> plt.Figure:
    """Final retrieval overlap m vs load α = P/N per N (left) and the fraction of runs that
    retrieve (right), next to the AGS zero-T curve; AGS α_c (dotted) and the measured α_c(N)
    (ticks, values in the legend) are marked. Solid: stored start; dashed: corrupted start.
    """
    fig, (ax_m, ax_f) = _panels(style, 1, 2)
    colours = sns.color_palette(n_colors=ds.sizes["N"])
    alpha_c = float(ds["alpha_c_theory"])
    retrieval = ds["m_theory"].where(ds["m_theory"] > 0, drop=True)  # the branch up to α_c
    ax_m.plot(retrieval["alpha_theory"], retrieval, color="black", lw=1.5, label="AGS theory")
    for ax in (ax_m, ax_f):
        ax.axvline(alpha_c, color="black", ls=":", lw=1)
    for colour, n in zip(colours, ds["N"].values, strict=True):
        sub = ds.sel(N=n)
        found = bool(sub["alpha_c"].sel(start="stored").notnull())
        measured = float(sub["alpha_c"].sel(start="stored"))
        label = (
            f"N = {n}: $\\alpha_c$ = {measured:.3f} ({measured - alpha_c:+.3f})"
            if found
            else f"N = {n}: no $\\alpha_c$ in range"  # retrieving fraction stayed >= ½
        )
        for start, ls in (("stored", "-"), ("corrupted", "--")):
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
        ax_m.plot([measured], [0.02], marker="v", color=colour, ms=7, clip_on=False)
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
    return fig


def hopfield_energy(ds: xr.Dataset, style: Mapping) -> plt.Figure:
    """Energy per spin (left) and overlap with pattern 1 (right) vs time in sweeps, mean over
    trials with a band of one standard deviation; colour: temperature (0 = sign rule, else
    Glauber), solid: corrupted start, dashed: random start. Dotted: E/N of the stored pattern.
    """
    fig, (ax_e, ax_m) = _panels(style, 1, 2)
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
    ax_e.set_title(
        f"N = {ds.attrs['N']}, P = {ds.attrs['P']}; solid: corrupted, dashed: random start",
        fontsize="small",
    )
    ax_e.legend(fontsize="x-small")
    return fig


def ising_thermodynamics(lattices: Sequence[xr.Dataset], style: Mapping) -> plt.Figure:
    """⟨e⟩, ⟨|m|⟩, c and χ per spin vs T: simulations per L (points with binning errors),
    Onsager/Yang for the infinite lattice (solid) and exact enumeration for L = 4 (dashed)."""
    fig, axes = _panels(style, 2, 2)
    lattices = sorted(lattices, key=lambda ds: ds.attrs["L"])
    colours = sns.color_palette(n_colors=len(lattices))
    labels = {
        "energy": "energy per spin $\\langle e \\rangle$ (J)",
        "abs_magnetisation": "$\\langle |m| \\rangle$",
        "specific_heat": "specific heat per spin $c$ ($k_B$)",
        "susceptibility": "susceptibility per spin $\\chi$ (1/J)",
    }
    theory = lattices[-1]
    for ax, name in zip(axes, labels, strict=True):
        for colour, ds in zip(colours, lattices, strict=True):
            ax.errorbar(
                ds["temperature"],
                ds[name],
                yerr=ds[f"{name}_err"],
                color=colour,
                marker="o",
                ms=3,
                lw=0,
                elinewidth=1,
                label=f"L = {ds.attrs['L']}",
            )
            if f"exact_{name}_theory" in ds:
                ax.plot(
                    ds["temperature_theory"],
                    ds[f"exact_{name}_theory"],
                    color=colour,
                    ls="--",
                    lw=1,
                    label=f"exact L = {ds.attrs['L']}",
                )
        if f"onsager_{name}" in theory:
            ax.plot(
                theory["temperature_theory"],
                theory[f"onsager_{name}"],
                color="black",
                lw=1,
                label="Onsager (L = ∞)",
            )
        ax.axvline(theory.attrs["T_c"], color="grey", ls=":", lw=1)
        ax.set(xlabel="temperature $T$ (J/$k_B$)", ylabel=labels[name])
    axes[2].set_ylim(0, None)
    axes[3].set_yscale("log")
    axes[0].legend(fontsize="x-small")
    return fig


def rbm_loglik(runs: Sequence[xr.Dataset], style: Mapping) -> plt.Figure:
    """Exact mean log-likelihood per epoch, one panel per data set, colour per method (mean
    over replicas, band: min to max); black: the optimum −H(data); dashed: the Ising
    distribution that generated the data (where enumerable)."""
    datasets = list(dict.fromkeys(ds.attrs["dataset"] for ds in runs))
    methods = list(dict.fromkeys(ds.attrs["method"] for ds in runs))
    colours = dict(zip(methods, sns.color_palette(n_colors=len(methods)), strict=True))
    fig, axes = _panels(style, 1, len(datasets))
    for ax, name in zip(axes, datasets, strict=True):
        ref = None
        for ds in (ds for ds in runs if ds.attrs["dataset"] == name):
            ll = ds["loglik"]
            colour = colours[ds.attrs["method"]]
            ax.plot(ds["epoch"], ll.mean("replica"), color=colour, lw=1.2, label=ds.attrs["method"])
            ax.fill_between(
                ds["epoch"], ll.min("replica"), ll.max("replica"), color=colour, alpha=0.2, lw=0
            )
            ref = ds
        ax.axhline(float(ref["best_loglik"]), color="black", lw=1, label="optimum $-H$(data)")
        if "ising_loglik" in ref:
            ax.axhline(float(ref["ising_loglik"]), color="black", ls="--", lw=1, label="Ising")
        if "temperature" in ref.attrs:
            name = f"{name} (T = {ref.attrs['temperature']:g})"
        ax.set(xlabel="epoch", ylabel="exact log-likelihood (nats/sample)", title=name)
    axes[0].legend(fontsize="x-small")
    return fig


# --- end Ising family ---
