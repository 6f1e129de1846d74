"""Teacher–student perceptron: learning curves and capacity (stage perceptron)."""

from collections.abc import Mapping

import matplotlib.pyplot as plt
import matplotlib.ticker
import seaborn as sns
import xarray as xr
from matplotlib.lines import Line2D


def perceptron_generalization(ds: xr.Dataset, style: Mapping) -> plt.Figure:
    """ε(α) (left, log–log) and teacher overlap R(α) (right) per student algorithm.

    Markers: simulation means ± one standard error over training sets. Lines:
    replica theory (N → ∞) of the same colour, drawn for the algorithms it
    describes (gibbs, bayes, hebb). Open circles on the right: the Gibbs
    students' mutual overlap q, which theory says equals R. The legend names colours,
    markers and lines.
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
    styles = [
        Line2D([], [], color="grey", marker="o", ms=3.5, ls="", label="simulation ± s.e."),
        Line2D([], [], color="grey", lw=1.2, label="replica theory, N → ∞"),
    ]
    handles = axes[1].get_legend_handles_labels()[0] + styles
    axes[1].legend(handles=handles, frameon=False, fontsize="small", loc="lower right")
    axes[0].set_title("lines: replica theory, N→∞", fontsize="small")
    axes[1].set_title(f"markers: simulation, N = {int(ds['N'])}", fontsize="small")
    sns.despine(fig)
    fig.tight_layout()
    return fig


def perceptron_capacity(ds: xr.Dataset, style: Mapping) -> plt.Figure:
    """Fraction of separable random-label problems vs α per N, Cover's curve and α_c = 2.

    Markers: LP results ± one binomial standard error; lines: Cover's exact
    P_sep(P, N) at every P, same colour per N; dashed: Gardner's α_c(0); all in the legend.
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
    ax.axvline(alpha_c, color="0.3", ls="--", lw=1, label=r"Gardner $\alpha_c$ (N → ∞)")
    ax.text(alpha_c, 1.02, rf" $\alpha_c = {alpha_c:g}$", va="bottom", fontsize="small")
    ax.set_xlabel(r"load $\alpha = P/N$")
    ax.set_ylabel("fraction linearly separable")
    ax.set_ylim(-0.02, 1.1)
    cover = Line2D([], [], color="grey", lw=1.2, label="Cover's exact $P_{sep}$")
    handles, labels = ax.get_legend_handles_labels()
    markers = [h for h, label in zip(handles, labels, strict=True) if label.startswith("N =")]
    gardner = [h for h in handles if h not in markers]
    ax.legend(
        handles=[*markers, cover, *gardner],
        frameon=False,
        fontsize="small",
        title="markers: LP ± s.e.",
        title_fontsize="small",
    )
    sns.despine(fig)
    fig.tight_layout()
    return fig
