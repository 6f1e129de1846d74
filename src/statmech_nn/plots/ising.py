"""2D Ising model thermodynamics against Kaufman, enumeration and Onsager (stage ising)."""

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import seaborn as sns
import xarray as xr
from matplotlib.lines import Line2D

from statmech_nn.plots.common import panels


def ising_thermodynamics(lattices: Sequence[xr.Dataset], style: Mapping) -> plt.Figure:
    """⟨e⟩, ⟨|m|⟩, c and χ per spin vs T, colour per L: simulations (points with binning
    errors), the exact finite-lattice curves (dashed: Kaufman's e and c for every L; dash-dot:
    enumeration of ⟨|m|⟩ and χ where L² is small enough), Onsager/Yang for the infinite
    lattice (solid black) and T_c (dotted); a legend names the colours and every line style.
    """
    fig, axes = panels(style, 2, 2)
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
