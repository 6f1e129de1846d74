"""2D Ising model on an L×L torus (J = k_B = 1): Metropolis sampling and exact references.

Kernels (tensors in and out): :mod:`.metropolis` (lattice observables,
checkerboard Metropolis, binned estimates with jackknife errors), :mod:`.exact`
(the finite torus exactly: enumeration of all 2^N states, Kaufman's partition
function), :mod:`.onsager` (the infinite lattice: Onsager, Yang). Study assembly
(config values in, labelled Dataset out): :mod:`.study`. Conventions in
:mod:`.metropolis` and THEORY.md.
"""

from statmech_nn.ising.exact import (
    MAX_ENUMERATED_SPINS,
    all_states,
    density_of_states,
    exact_entropy,
    exact_log_probability,
    exact_thermodynamics,
    kaufman_log_partition,
    kaufman_thermodynamics,
)
from statmech_nn.ising.metropolis import (
    binned_statistics,
    block_energy_per_spin,
    block_neighbour_sums,
    energy_per_spin,
    from_blocks,
    magnetisation_per_spin,
    metropolis_sweep,
    neighbour_sum,
    simulate,
    to_blocks,
)
from statmech_nn.ising.onsager import (
    T_C,
    onsager_energy,
    onsager_magnetisation,
    onsager_specific_heat,
)
from statmech_nn.ising.study import KAUFMAN_QUANTITIES, QUANTITIES, thermodynamics

__all__ = [
    "neighbour_sum",
    "energy_per_spin",
    "magnetisation_per_spin",
    "to_blocks",
    "from_blocks",
    "block_neighbour_sums",
    "block_energy_per_spin",
    "metropolis_sweep",
    "simulate",
    "binned_statistics",
    "MAX_ENUMERATED_SPINS",
    "all_states",
    "density_of_states",
    "exact_thermodynamics",
    "exact_log_probability",
    "exact_entropy",
    "kaufman_log_partition",
    "kaufman_thermodynamics",
    "T_C",
    "onsager_energy",
    "onsager_specific_heat",
    "onsager_magnetisation",
    "QUANTITIES",
    "KAUFMAN_QUANTITIES",
    "thermodynamics",
]
