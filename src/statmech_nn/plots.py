"""Figures of the study: seaborn plots that read Datasets and never recompute science.

Every figure function takes Datasets (and the config's ``figures`` section for
sizes) and returns a matplotlib Figure; :func:`apply_style` and :func:`save`
give all figures the same look and formats.
"""

from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib
import matplotlib.ticker

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402
import xarray as xr  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402

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
    return grid.figure


def perceptron_generalization(ds: xr.Dataset, style: Mapping) -> plt.Figure:
    """ε(α) (left, log–log) and teacher overlap R(α) (right) per student algorithm.

    Markers: simulation means ± one standard error over training sets. Lines:
    replica theory (N → ∞) of the same colour, drawn for the algorithms it
    describes (gibbs, bayes, hebb). Open circles on the right: the Gibbs
    students' mutual overlap q, which theory says equals R.
    """
    algorithms = [str(a) for a in ds["algorithm"].values]
    colours = dict(zip(algorithms, sns.color_palette(n_colors=len(algorithms)), strict=True))
    fig, axes = plt.subplots(
        1, 2, figsize=(2 * style["panel_width"] * 1.2, style["panel_height"] * 1.3)
    )
    for name, ax in zip(("generalization_error", "teacher_overlap"), axes, strict=True):
        for algorithm in algorithms:
            d = ds.sel(algorithm=algorithm)
            colour = colours[algorithm]
            theory = d[f"{name}_theory"]
            if not theory.isnull().all():
                ax.plot(d["alpha_theory"], theory, color=colour, lw=1.2)
            ax.errorbar(
                d["alpha"],
                d[name],
                yerr=d[f"{name}_stderr"],
                fmt="o",
                ms=3.5,
                capsize=2,
                color=colour,
                label=algorithm,
            )
        ax.set_xscale("log")
        ax.set_xlabel(r"load $\alpha = P/N$")
    if "gibbs" in algorithms:
        d = ds.sel(algorithm="gibbs")
        axes[1].errorbar(
            d["alpha"],
            d["student_overlap"],
            yerr=d["student_overlap_stderr"],
            fmt="o",
            mfc="none",
            ms=6,
            capsize=0,
            color=colours["gibbs"],
            label="gibbs q",
        )
    axes[0].set_yscale("log")
    axes[0].yaxis.set_major_formatter(matplotlib.ticker.FormatStrFormatter("%g"))
    axes[0].yaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    lowest = min(
        float(ds["generalization_error"].min()), float(ds["generalization_error_theory"].min())
    )
    axes[0].set_yticks([t for t in (0.01, 0.02, 0.05, 0.1, 0.2, 0.5) if t >= lowest / 2])
    axes[0].set_ylabel(r"generalization error $\varepsilon$")
    axes[1].set_ylabel(r"teacher overlap $R$")
    axes[1].set_ylim(0, 1.02)
    axes[1].legend(frameon=False, fontsize="small", loc="lower right")
    axes[0].set_title("lines: replica theory, N→∞", fontsize="small")
    axes[1].set_title(f"markers: simulation, N = {int(ds['N'])}", fontsize="small")
    sns.despine(fig)
    fig.tight_layout()
    return fig


def perceptron_capacity(ds: xr.Dataset, style: Mapping) -> plt.Figure:
    """Fraction of separable random-label problems vs α per N, Cover's curve and α_c = 2.

    Markers: LP results ± one binomial standard error; lines: Cover's exact
    P_sep(P, N) at every P, same colour per N; dashed: Gardner's α_c(0).
    """
    fig, ax = plt.subplots(figsize=(style["panel_width"] * 1.5, style["panel_height"] * 1.3))
    Ns = [int(n) for n in ds["N"].values]
    colours = sns.color_palette(n_colors=len(Ns))
    alpha_max = float(ds["alpha_effective"].max()) * 1.05
    for n, colour in zip(Ns, colours, strict=True):
        d = ds.sel(N=n)
        curve = d["cover_curve"].where(d["P"] / n <= alpha_max, drop=True)
        ax.plot(curve["P"] / n, curve, color=colour, lw=1.2)
        ax.errorbar(
            d["alpha_effective"],
            d["separable_fraction"],
            yerr=d["separable_fraction_stderr"],
            fmt="o",
            ms=3.5,
            capsize=2,
            color=colour,
            label=f"N = {n}",
        )
    alpha_c = float(ds["alpha_c"])
    ax.axvline(alpha_c, color="0.3", ls="--", lw=1)
    ax.text(alpha_c, 1.02, rf" $\alpha_c = {alpha_c:g}$", va="bottom", fontsize="small")
    ax.set_xlabel(r"load $\alpha = P/N$")
    ax.set_ylabel("fraction linearly separable")
    ax.set_ylim(-0.02, 1.1)
    ax.legend(frameon=False, fontsize="small", title="LP; lines: Cover", title_fontsize="small")
    sns.despine(fig)
    fig.tight_layout()
    return fig


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
    with its bootstrap error (triangles with horizontal bars, values in the legend) are
    marked. Solid: stored start; dashed: corrupted start; every style is in the legend.
    """
    fig, (ax_m, ax_f) = _panels(style, 1, 2)
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
        ],
        fontsize="x-small",
        loc="lower left",
    )
    return fig


def hopfield_energy(ds: xr.Dataset, style: Mapping) -> plt.Figure:
    """Energy per spin (left) and overlap with pattern 1 (right) vs time in sweeps, mean over
    trials with a band of one standard deviation; colour: temperature (0 = sign rule, else
    Glauber), solid: corrupted start, dashed: random start. Dotted: E/N of the stored pattern.
    The legend names the colours and every line style.
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
    ax_e.set_title(f"N = {ds.attrs['N']}, P = {ds.attrs['P']}", fontsize="small")
    styles = [
        Line2D([], [], color="grey", ls="-", label="corrupted start"),
        Line2D([], [], color="grey", ls="--", label="random start"),
        Line2D([], [], color="black", ls=":", label="$E/N$ of the stored pattern"),
    ]
    ax_e.legend(handles=ax_e.get_legend_handles_labels()[0] + styles, fontsize="x-small")
    return fig


def ising_thermodynamics(lattices: Sequence[xr.Dataset], style: Mapping) -> plt.Figure:
    """⟨e⟩, ⟨|m|⟩, c and χ per spin vs T, colour per L: simulations (points with binning
    errors), the exact finite-lattice curves (dashed: Kaufman's e and c for every L; dash-dot:
    enumeration of ⟨|m|⟩ and χ where L² is small enough), Onsager/Yang for the infinite
    lattice (solid black) and T_c (dotted); a legend names the colours and every line style.
    """
    fig, axes = _panels(style, 2, 2)
    lattices = sorted(lattices, key=lambda ds: ds.attrs["L"])
    colours = sns.color_palette(n_colors=len(lattices))
    labels = {
        "energy": "energy per spin $\\langle e \\rangle$ (J)",
        "abs_magnetisation": "$\\langle |m| \\rangle$",
        "specific_heat": "specific heat per spin $c$ ($k_B$)",
        "susceptibility": "susceptibility per spin $\\chi$ (1/J)",
    }
    exact_styles = {"kaufman": "--", "exact": "-."}
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
            )
            for source, ls in exact_styles.items():
                if f"{source}_{name}_theory" in ds:
                    curve = ds[f"{source}_{name}_theory"]
                    ax.plot(ds["temperature_theory"], curve, color=colour, ls=ls, lw=1)
                    break  # Kaufman where it exists, enumeration otherwise
        if f"onsager_{name}" in theory:
            ax.plot(theory["temperature_theory"], theory[f"onsager_{name}"], color="black", lw=1)
        ax.axvline(theory.attrs["T_c"], color="grey", ls=":", lw=1)
        ax.set(xlabel="temperature $T$ (J/$k_B$)", ylabel=labels[name])
    axes[2].set_ylim(0, None)
    axes[3].set_yscale("log")
    handles = [
        Line2D([], [], color=colour, marker="o", ms=3, lw=0, label=f"L = {ds.attrs['L']}")
        for colour, ds in zip(colours, lattices, strict=True)
    ] + [
        Line2D([], [], color="grey", marker="o", ms=3, lw=0, label="Metropolis ± binning error"),
        Line2D([], [], color="grey", ls="--", lw=1, label="exact L×L (Kaufman): e, c"),
        Line2D([], [], color="grey", ls="-.", lw=1, label="exact L×L (enumeration): |m|, χ"),
        Line2D([], [], color="black", lw=1, label="Onsager / Yang (L = ∞)"),
        Line2D([], [], color="grey", ls=":", lw=1, label="$T_c$"),
    ]
    fig.legend(handles=handles, loc="outside right center", fontsize="x-small")
    return fig


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
    fig, axes = _panels(style, 1, len(datasets))
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
                    label="run ending below its start or the uniform model",
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
    fig.legend(
        handles=list(styles.values()), loc="outside lower center", ncols=4, fontsize="x-small"
    )
    return fig


# --- end Ising family ---


# ---------------------------------------------------------------- loss-landscape slices


def _slice_groups(slices: Sequence[xr.Dataset]) -> dict[str, dict[str, xr.Dataset]]:
    """Slice Datasets grouped by "dataset / arch", then by direction name (file order)."""
    groups: dict[str, dict[str, xr.Dataset]] = {}
    for ds in slices:
        row = f"{ds.attrs['dataset']} / {ds.attrs['arch']}"
        groups.setdefault(row, {})[ds.attrs["direction"]] = ds
    return groups


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

    One row per data set and architecture, one column per plane in ``names``.
    A diverging colour scale centred on zero, equal on both sides (symmetric
    logarithmic beyond a small linear band, so a shallow dip below L(θ*) stays
    visible next to a steep rise: the colour bar says so), shows loss below the
    trained point in blue: the random plane looks like a minimum (all red), the
    plane of the λmax and λmin eigenvectors shows the saddle when λmin < 0. Thin
    contours at quantiles of the values; the bold contour is L = L(θ*). The title
    gives the second-difference curvatures at the centre and flags a replica whose
    gradient is not small against the curvature over the range (a slope, not a
    critical point); the axes give each direction's length |d|. PCA planes show
    the training trajectory.
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
            ax.plot(0, 0, marker="+", color="k", markersize=8)
            if "trajectory" in ds:
                traj = ds["trajectory"].isel(replica=0)
                ax.plot(traj.sel(axis="a"), traj.sel(axis="b"), "o-", color="k", ms=2, lw=0.8)
            kappa = ds["centre_curvature"].isel(replica=0).values
            title = f"{name}: κa = {kappa[0]:.3g}, κb = {kappa[1]:.3g}"
            if "critical" in ds and not bool(ds["critical"].isel(replica=0).all()):
                title += "\nslope ≥ 0.1 × curvature: not a critical point"
            ax.set_title(title, fontsize="small")
            ax.set_xlabel(_axis_label(ds, "a"))
            ax.set_ylabel(f"{label}\n{_axis_label(ds, 'b')}" if col == 0 else _axis_label(ds, "b"))
            unit = ds["train_loss"].attrs.get("units", "1")
            fig.colorbar(
                mesh,
                ax=ax,
                label=f"L − L(θ*) ({unit}), symlog, linear ±{band:.1g}",
                shrink=0.9,
            )
    return fig


def slices_1d(slices: Sequence[xr.Dataset], names: Sequence[str], style: Mapping) -> plt.Figure:
    """Training and test loss along lines through the trained points, every replica.

    One row per data set and architecture, one column per line in ``names``
    (random, Hessian eigenvector or replica-to-replica segment).
    """
    groups = _slice_groups(slices)
    frames = []
    for label, by_name in groups.items():
        for name in names:
            ds = by_name[name]
            for split in ("train", "test"):
                df = ds[f"{split}_loss"].to_dataframe(name="loss").reset_index()
                frames.append(df.assign(split=split, row=label, direction=name))
    df = pd.concat(frames, ignore_index=True)
    grid = sns.relplot(
        data=df,
        x="a",
        y="loss",
        hue="replica",
        style="split",
        row="row",
        col="direction",
        col_order=list(names),
        kind="line",
        palette="colorblind",
        estimator=None,
        units=None,
        facet_kws={"sharex": False, "sharey": False, "margin_titles": True},
        height=style["panel_height"],
        aspect=style["panel_width"] / style["panel_height"],
    )
    grid.set_titles(row_template="{row_name}", col_template="{col_name}")
    first = next(iter(groups.values()))
    unit = first[names[0]]["train_loss"].attrs.get("units", "1")
    for (_, name), ax in grid.axes_dict.items():
        ax.set_xlabel(_axis_label(first[name], "a"))
        ax.set_ylabel(f"loss ({unit})")
    return grid.figure


def projected_curvature(curvature: Sequence[xr.Dataset], style: Mapping) -> plt.Figure:
    """Histogram of random-projection curvatures κ = δᵀHδ/|δ|², with tr H / P, λmin, λmax.

    One panel per data set and architecture, all sliced replicas pooled. Lines:
    mean κ (solid), tr H / P from the Hessian stage (dashed, when present),
    λmin (red) and λmax (marked at the right edge when off scale); the text
    gives the fractions of random directions and random planes with negative
    curvature.
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
        ax.axvline(kappa.mean(), color="C0", lw=1.5, label="mean κ")
        if "trace_per_param" in ds:
            ax.axvline(float(ds["trace_per_param"].mean()), color="k", ls="--", label="tr H / P")
        ax.axvline(lam_min, color="C3", lw=1.5, label="λmin")
        left, right = ax.get_xlim()
        ax.set_xlim(min(left, lam_min * 1.1), right)
        if lam_max <= ax.get_xlim()[1]:
            ax.axvline(lam_max, color="C2", lw=1.5, label="λmax")
        else:
            ax.annotate(
                f"λmax = {lam_max:.3g} →",
                xy=(1.0, 0.9),
                xycoords="axes fraction",
                ha="right",
                color="C2",
                fontsize="small",
            )
        ax.text(
            0.02,
            0.97,
            f"κ < 0: {float(ds['fraction_negative'].mean()):.0%} of directions\n"
            f"planes with κ < 0: {float(ds['fraction_planes_negative'].mean()):.0%}",
            transform=ax.transAxes,
            va="top",
            fontsize="x-small",
        )
        unit = ds["curvature"].attrs.get("units", "1")
        ax.set_xlabel(f"projected curvature κ ({unit})")
        ax.set_title(f"{ds.attrs['dataset']} / {ds.attrs['arch']}", fontsize="small")
    axes[0, -1].legend(fontsize="x-small", loc="center right")
    return fig


def _panel_grid(count: int, style: Mapping, columns: int = 3) -> tuple[plt.Figure, list]:
    """``count`` panels in rows of at most ``columns``; spare axes hidden."""
    cols = max(1, min(count, columns))
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
    fig, axes = _panel_grid(len(runs), style)
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
    fig, axes = _panel_grid(3, style)
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


# ---------------------------------------------------------------- overlaps


def overlap_distributions(runs: Sequence[xr.Dataset], style: Mapping) -> plt.Figure:
    """P(q) over replica pairs, one panel per (data set, architecture), raw vs aligned.

    Aligned: the hidden units of b permuted to match a (weight matching); the
    perceptron has no hidden units, so its two histograms coincide.
    """
    fig, axes = _panel_grid(len(runs), style)
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


def overlap_vs_depth(runs: Sequence[xr.Dataset], style: Mapping) -> plt.Figure:
    """Mean overlap and mean barrier (raw and aligned) and basin count against depth.

    Points are pair means per architecture, colour the width, line style raw or
    aligned; error bars the standard deviation over pairs. One row per data set.
    """
    df, labels = _overlap_table(runs)
    datasets = list(dict.fromkeys(df["dataset"]))
    fig, axes = _panel_grid(3 * len(datasets), style)
    for row, dataset in enumerate(datasets):
        for col, quantity in enumerate(labels):
            ax = axes[3 * row + col]
            part = df[(df["dataset"] == dataset) & (df["quantity"] == quantity)]
            _overlap_lines(ax, part, x="depth", hue="width")
            ax.set_title(dataset)
            ax.set_xlabel("hidden layers (depth)")
            ax.set_ylabel(labels[quantity])
            ax.xaxis.get_major_locator().set_params(integer=True)
            if ax is not axes[0] and ax.get_legend() is not None:
                ax.get_legend().remove()
    return fig


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
    fig, axes = _panel_grid(3 * len(kinds), style)
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
            if ax.get_legend() is not None:
                ax.get_legend().remove()
    handles, names = axes[0].get_legend_handles_labels()
    fig.legend(handles, names, loc="outside right upper", frameon=False, fontsize="small")
    return fig
