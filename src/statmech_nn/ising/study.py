"""The Ising stage (config values in, labelled Dataset out): simulated thermodynamics with
binning errors, kept samples, and Onsager, Kaufman and enumeration references.
"""

from collections.abc import Sequence

import numpy as np
import torch
import xarray as xr

from statmech_nn.io import labelled
from statmech_nn.ising.exact import (
    MAX_ENUMERATED_SPINS,
    exact_thermodynamics,
    kaufman_thermodynamics,
)
from statmech_nn.ising.metropolis import binned_statistics, simulate
from statmech_nn.ising.onsager import (
    T_C,
    onsager_energy,
    onsager_magnetisation,
    onsager_specific_heat,
)
from statmech_nn.seeds import derive_seed

QUANTITIES = {
    "energy": ("energy per spin <e>", "J"),
    "abs_magnetisation": ("absolute magnetisation per spin <|m|>", "1"),
    "specific_heat": ("specific heat per spin c", "k_B"),
    "susceptibility": ("susceptibility per spin chi", "1/J"),
}
KAUFMAN_QUANTITIES = ("energy", "specific_heat")  # what the finite-lattice Z gives exactly


def thermodynamics(
    L: int,
    temperatures: Sequence[float],
    chains: int,
    burn_in: int,
    measurements: int,
    thin: int,
    bins: int,
    keep_samples: int,
    seed: int,
    theory_points: int = 300,
) -> xr.Dataset:
    """Simulated thermodynamics of the L×L torus with errors, samples and exact references.

    Holds ⟨e⟩, ⟨|m|⟩, c, χ and their binning errors per temperature, the kept
    configurations (for Boltzmann machines), Onsager's curves on a fine grid,
    the exact finite-lattice e and c (Kaufman) at the simulated temperatures and
    on the fine grid and, when L² <= MAX_ENUMERATED_SPINS, exact enumeration of
    all four quantities at the same points.
    """
    gen = torch.Generator().manual_seed(derive_seed(seed, "ising", L))
    temps = np.asarray(temperatures, dtype=np.float64)
    run = simulate(L, temps, chains, burn_in, measurements, thin, keep_samples, gen)
    stats = binned_statistics(run["e"], run["m"], torch.as_tensor(temps), L * L, bins)
    fine = np.linspace(temps.min(), temps.max(), theory_points)
    data = {
        "samples": labelled(
            run["samples"].numpy(), ("temperature", "sample", "row", "column"), "spin configuration"
        ),
        "acceptance": labelled(
            run["acceptance"].numpy(), ("temperature",), "Metropolis acceptance"
        ),
        "onsager_energy": labelled(
            onsager_energy(fine), ("temperature_theory",), "Onsager energy per spin", "J"
        ),
        "onsager_specific_heat": labelled(
            onsager_specific_heat(fine), ("temperature_theory",), "Onsager specific heat", "k_B"
        ),
        "onsager_abs_magnetisation": labelled(
            onsager_magnetisation(fine), ("temperature_theory",), "Yang spontaneous magnetisation"
        ),
    }
    for name, (long_name, units) in QUANTITIES.items():
        value, err = stats[name]
        data[name] = labelled(value.numpy(), ("temperature",), long_name, units)
        data[f"{name}_err"] = labelled(
            err.numpy(), ("temperature",), f"binning (jackknife) error of {long_name}", units
        )
    at_temps, on_grid = kaufman_thermodynamics(L, temps), kaufman_thermodynamics(L, fine)
    for name in KAUFMAN_QUANTITIES:
        long_name, units = QUANTITIES[name]
        data[f"kaufman_{name}"] = labelled(
            at_temps[name], ("temperature",), f"exact {long_name} (Kaufman, L x L torus)", units
        )
        data[f"kaufman_{name}_theory"] = labelled(
            on_grid[name],
            ("temperature_theory",),
            f"exact {long_name} (Kaufman, L x L torus)",
            units,
        )
    if L * L <= MAX_ENUMERATED_SPINS:
        at_temps, on_grid = exact_thermodynamics(L, temps), exact_thermodynamics(L, fine)
        for name, (long_name, units) in QUANTITIES.items():
            data[f"exact_{name}"] = labelled(
                at_temps[name], ("temperature",), f"exact {long_name} (enumeration)", units
            )
            data[f"exact_{name}_theory"] = labelled(
                on_grid[name], ("temperature_theory",), f"exact {long_name} (enumeration)", units
            )
    return xr.Dataset(
        data,
        coords={
            "temperature": ("temperature", temps, {"long_name": "temperature T", "units": "J/k_B"}),
            "temperature_theory": (
                "temperature_theory",
                fine,
                {"long_name": "temperature T (theory grid)", "units": "J/k_B"},
            ),
            "sample": ("sample", np.arange(run["samples"].shape[1]), {"long_name": "sample"}),
            "row": ("row", np.arange(L), {"long_name": "lattice row"}),
            "column": ("column", np.arange(L), {"long_name": "lattice column"}),
        },
        attrs={
            "L": L,
            "T_c": T_C,
            "chains": chains,
            "burn_in": burn_in,
            "measurements": measurements,
            "thin": thin,
            "bins": bins,
        },
    )
