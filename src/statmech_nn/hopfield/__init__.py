"""Hopfield network: Hebbian couplings, asynchronous zero-T and Glauber dynamics, capacity.

Kernels (tensors or arrays in and out): :mod:`.dynamics` (patterns, couplings,
energy, the asynchronous dynamics), :mod:`.capacity` (critical load and its
bootstrap error). Study assembly (config values in, labelled Dataset out):
:mod:`.study`. Notation in :mod:`.dynamics` and THEORY.md.
"""

from statmech_nn.hopfield.capacity import bootstrap_critical_load, critical_load
from statmech_nn.hopfield.dynamics import (
    Trajectory,
    asynchronous_dynamics,
    corrupt,
    energy,
    hebbian_couplings,
    random_patterns,
)
from statmech_nn.hopfield.study import START_KINDS, capacity_sweep, energy_descent

__all__ = [
    "random_patterns",
    "hebbian_couplings",
    "energy",
    "corrupt",
    "Trajectory",
    "asynchronous_dynamics",
    "critical_load",
    "bootstrap_critical_load",
    "START_KINDS",
    "capacity_sweep",
    "energy_descent",
]
