"""Hopfield studies (config values in, labelled Dataset out): the capacity sweep against
the AGS theory and energy descent along zero-T and Glauber dynamics.
"""

from collections.abc import Sequence

import numpy as np
import torch
import xarray as xr

from statmech_nn import theory
from statmech_nn.hopfield.capacity import bootstrap_critical_load, critical_load
from statmech_nn.hopfield.dynamics import (
    asynchronous_dynamics,
    corrupt,
    energy,
    hebbian_couplings,
    random_patterns,
)
from statmech_nn.io import labelled
from statmech_nn.seeds import derive_seed

START_KINDS = ("stored", "corrupted")


def _integer_dtype(n: int, n_patterns: int) -> torch.dtype:
    # |N h_i| <= N P, and float32 holds integers exactly below 2**24.
    return torch.float32 if n * (n_patterns + 1) < 2**24 else torch.float64


def capacity_sweep(
    N: Sequence[int],
    alpha: Sequence[float],
    trials: int,
    flip_fraction: float,
    max_sweeps: int,
    retrieval_threshold: float,
    seed: int,
    bootstrap_resamples: int = 1000,
    theory_points: int = 400,
    memory_mb: float = 512.0,
) -> xr.Dataset:
    """Retrieval overlap after zero-T asynchronous dynamics, per N and load α = P/N.

    For each N, ``trials`` independent pattern sets are drawn; load α stores the
    first P = round(α N) patterns of each set (so curves are smooth in α). Runs
    start at pattern 1 ("stored") and at pattern 1 with a fraction
    ``flip_fraction`` of its spins flipped ("corrupted"), and stop at a fixed
    point (or after ``max_sweeps``). A run retrieves when m >= ``retrieval_threshold``;
    the measured α_c(N) is where the fraction retrieving first falls below ½, with a
    bootstrap error over trials (``bootstrap_resamples`` resamples).
    The AGS zero-T curve and its α_c are included. Loads are simulated together
    in groups whose coupling matrices fit in ``memory_mb``.
    """
    alpha_grid = np.asarray(alpha, dtype=np.float64)
    if np.any(np.diff(alpha_grid) <= 0) or np.any(alpha_grid <= 0):
        raise ValueError("capacity_sweep: alpha must be positive and strictly increasing")
    n_alpha, n_start = len(alpha_grid), len(START_KINDS)
    shape = (len(N), n_alpha, n_start, trials)
    m_final = np.empty(shape)
    to_fixed = np.empty(shape, dtype=np.int64)
    load = np.empty((len(N), n_alpha))
    for i, n in enumerate(N):
        n = int(n)
        gen = torch.Generator().manual_seed(derive_seed(seed, "capacity", n))
        p = np.maximum(np.rint(alpha_grid * n).astype(np.int64), 1)
        load[i] = p / n
        dtype = _integer_dtype(n, int(p.max()))
        patterns = random_patterns(trials, int(p.max()), n, gen, dtype=dtype)
        stored = patterns[:, 0]
        per_load = trials * n * n * torch.finfo(dtype).bits // 8
        group = max(1, int(memory_mb * 2**20 // per_load) - 1)
        running = torch.zeros(trials, n, n, dtype=dtype)  # Σ_μ ξ^μ ξ^μᵀ over patterns so far
        p_done = 0
        for g0 in range(0, n_alpha, group):
            loads = range(g0, min(g0 + group, n_alpha))
            n_loads = len(loads)
            couplings = torch.empty(n_loads, trials, n, n, dtype=dtype)
            for j, a in enumerate(loads):  # cumulative: each pattern enters the sum once
                new = patterns[:, p_done : p[a]]
                running.baddbmm_(new.transpose(1, 2), new)
                p_done = int(p[a])
                couplings[j] = running
                couplings[j].diagonal(dim1=-2, dim2=-1).zero_()
            # runs ordered (load, start, trial); run uses coupling set (load, trial)
            coupling_set = (
                torch.arange(n_loads)[:, None, None] * trials + torch.arange(trials)
            ).expand(n_loads, n_start, trials)
            starts = stored.expand(n_loads, n_start, trials, n).clone()
            starts[:, 1] = corrupt(starts[:, 1], flip_fraction, gen)
            traj = asynchronous_dynamics(
                couplings.reshape(-1, n, n),
                starts.reshape(-1, n),
                stored.repeat(n_loads, 1),
                max_sweeps=max_sweeps,
                generator=gen,
                coupling_set=coupling_set.reshape(-1),
                scale=1.0 / n,
            )
            m_final[i, loads] = traj.overlap[:, -1].reshape(n_loads, n_start, trials).numpy()
            to_fixed[i, loads] = traj.sweeps_to_fixed_point.reshape(n_loads, n_start, trials)
    retrieved = m_final >= retrieval_threshold
    fraction = retrieved.mean(axis=-1)
    by_start = np.moveaxis(retrieved, 1, -2)  # (N, start, alpha, trial)
    alpha_c = np.stack([critical_load(load[i], fraction[i].T) for i in range(len(N))])
    rng = np.random.default_rng(derive_seed(seed, "capacity_bootstrap"))
    alpha_c_err = np.stack(
        [
            bootstrap_critical_load(load[i], by_start[i], bootstrap_resamples, rng)
            for i in range(len(N))
        ]
    )
    alpha_c_theory, m_c_theory = theory.ags_critical_point()
    alpha_theory = np.linspace(alpha_grid[0] / 4, max(alpha_grid[-1], 0.2), theory_points)
    dims = ("N", "alpha", "start", "trial")
    sem = m_final.std(-1, ddof=1) / np.sqrt(trials) if trials > 1 else np.zeros(shape[:-1])
    return xr.Dataset(
        {
            "m": labelled(m_final, dims, "retrieval overlap at the end of the dynamics"),
            "sweeps_to_fixed_point": labelled(
                to_fixed, dims, "sweeps with flips before a fixed point (-1: none reached)"
            ),
            "load": labelled(load, ("N", "alpha"), "realised load P/N"),
            "m_mean": labelled(m_final.mean(-1), dims[:-1], "mean retrieval overlap"),
            "m_sem": labelled(sem, dims[:-1], "standard error of the mean retrieval overlap"),
            "retrieval_fraction": labelled(
                fraction, dims[:-1], f"fraction of runs with m >= {retrieval_threshold}"
            ),
            "alpha_c": labelled(
                alpha_c, ("N", "start"), "measured capacity: load where half the runs retrieve"
            ),
            "alpha_c_err": labelled(
                alpha_c_err, ("N", "start"), "bootstrap standard error of alpha_c over trials"
            ),
            "m_theory": labelled(
                theory.ags_retrieval_overlap(alpha_theory),
                ("alpha_theory",),
                "AGS zero-T replica-symmetric retrieval overlap",
            ),
            "alpha_c_theory": labelled(alpha_c_theory, (), "AGS zero-T capacity alpha_c"),
            "m_c_theory": labelled(m_c_theory, (), "AGS retrieval overlap at alpha_c"),
        },
        coords={
            "N": ("N", np.asarray(N, dtype=np.int64), {"long_name": "neurons", "units": "1"}),
            "alpha": ("alpha", alpha_grid, {"long_name": "nominal load P/N", "units": "1"}),
            "start": ("start", list(START_KINDS), {"long_name": "start state"}),
            "trial": ("trial", np.arange(trials), {"long_name": "trial", "units": "1"}),
            "alpha_theory": (
                "alpha_theory",
                alpha_theory,
                {"long_name": "load P/N (theory grid)", "units": "1"},
            ),
        },
        attrs={
            "flip_fraction": flip_fraction,
            "retrieval_threshold": retrieval_threshold,
            "max_sweeps": max_sweeps,
            "bootstrap_resamples": bootstrap_resamples,
        },
    )


def energy_descent(
    N: int,
    alpha: float,
    temperatures: Sequence[float],
    trials: int,
    sweeps: int,
    records_per_sweep: int,
    flip_fraction: float,
    seed: int,
) -> xr.Dataset:
    """Energy per spin and overlap along asynchronous dynamics at several temperatures.

    Each trial is one network of N neurons storing P = round(α N) patterns; runs
    start from a uniformly random state ("random") and from pattern 1 with a
    fraction ``flip_fraction`` flipped ("corrupted"), at every temperature.
    T = 0 is the sign rule (E never increases), T > 0 Glauber dynamics. E/N of
    the stored pattern itself is kept as a reference.
    """
    gen = torch.Generator().manual_seed(derive_seed(seed, "energy_descent"))
    p = max(round(alpha * N), 1)
    n_temp, start_kinds = len(temperatures), ("random", "corrupted")
    dtype = _integer_dtype(N, p)
    patterns = random_patterns(trials, p, N, gen, dtype=dtype)
    couplings = hebbian_couplings(patterns, normalise=False)
    stored = patterns[:, 0]
    random_start = (2 * torch.randint(0, 2, (n_temp, trials, N), generator=gen) - 1).to(dtype)
    corrupted = corrupt(stored.expand(n_temp, trials, N), flip_fraction, gen)
    starts = torch.stack([random_start, corrupted], dim=1)  # (temperature, start, trial, N)
    temp = torch.as_tensor(temperatures, dtype=torch.float64).repeat_interleave(2 * trials)
    traj = asynchronous_dynamics(
        couplings,
        starts.reshape(-1, N),
        stored,
        temperature=temp,
        max_sweeps=sweeps,
        generator=gen,
        coupling_set=torch.arange(trials).repeat(2 * n_temp),
        scale=1.0 / N,
        records_per_sweep=records_per_sweep,
    )
    shape = (n_temp, 2, trials, -1)
    pattern_energy = energy(couplings.double(), stored.double()) / N**2
    dims = ("temperature", "start", "trial", "t")
    return xr.Dataset(
        {
            "energy": labelled(traj.energy.reshape(shape).numpy(), dims, "energy per spin E/N"),
            "m": labelled(traj.overlap.reshape(shape).numpy(), dims, "overlap with pattern 1"),
            "flips": labelled(
                traj.flips.reshape(shape).numpy(), dims[:-1] + ("sweep",), "spins flipped per sweep"
            ),
            "pattern_energy": labelled(
                pattern_energy.numpy(), ("trial",), "energy per spin of the stored pattern 1"
            ),
        },
        coords={
            "temperature": (
                "temperature",
                np.asarray(temperatures, dtype=np.float64),
                {"long_name": "temperature T (0: sign rule, >0: Glauber)", "units": "1"},
            ),
            "start": ("start", list(start_kinds), {"long_name": "start state"}),
            "trial": ("trial", np.arange(trials), {"long_name": "trial", "units": "1"}),
            "t": ("t", traj.time.numpy(), {"long_name": "time", "units": "sweeps"}),
            "sweep": ("sweep", np.arange(1, sweeps + 1), {"long_name": "sweep", "units": "1"}),
        },
        attrs={"N": N, "P": p, "alpha": p / N, "flip_fraction": flip_fraction},
    )
